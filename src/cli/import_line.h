/*
 * import_line.h — one line of an import file into a binding.
 *
 * Two formats, one binding a line:
 *   NDJSON  {"token":"…","account":"…","account_type":N}   (account_type optional, default 0;
 *                                                         other keys ignored)
 *   CSV     token,account[,account_type]                 (RFC 4180 quoting: "a,b" and "a""b")
 *
 * Parsing judges the shape only (types, a field present). The values are
 * judged afterwards by the API's own rules (api/validate.h), so a line is
 * accepted exactly when the same binding would be accepted over HTTP.
 */
#ifndef PB_IMPORT_LINE_H
#define PB_IMPORT_LINE_H

#include <stdbool.h>
#include <stddef.h>

#include "api/messages.h"

typedef enum pb_import_format {
    PB_IMPORT_NDJSON,
    PB_IMPORT_CSV,
} pb_import_format;

/*
 * Room for a field: longer ones are cut here and then fail validation, since
 * no limit the flags allow reaches it.
 */
#define PB_IMPORT_FIELD_MAX 1024

/*
 * Room for yajl's own memory while it parses one line: its handle, stack and
 * buffers take about 2.5 KiB for a usual line, so a line costs no malloc.
 * What does not fit (deep nesting, long escaped strings) comes from malloc
 * and is freed before the parse returns.
 */
#define PB_IMPORT_ARENA_BYTES 8192

/*
 * A parsed line. A field written in the line as it is (no quotes or escapes
 * to resolve) points into the parsed text; one that had them points into the
 * struct's own buffers. Either way token and account live as long as both
 * the text and the struct, until the next parse. The struct needs no setup
 * and holds nothing to free; it is large (about 10 KiB), so reuse one.
 */
typedef struct pb_import_line {
    pb_token_item token;
    pb_account_item account;
    char token_buf[PB_IMPORT_FIELD_MAX];
    char account_buf[PB_IMPORT_FIELD_MAX];
    size_t arena_used; /* yajl's memory during a parse (import_line.c) */
    max_align_t arena[PB_IMPORT_ARENA_BYTES / sizeof(max_align_t)];
} pb_import_line;

/*
 * Parses `text` (one line without its newline; a trailing CR is ignored).
 * Returns NULL on success, or a short reason ("not a JSON object",
 * "missing token", …) naming what is wrong with the line's shape.
 * Thread-safe: it touches nothing but `text` and `line`.
 */
const char *pb_import_line_parse(pb_import_format format, const char *text, size_t len, pb_import_line *line);

/* Whether a CSV line is the header "token,account[,account_type]" (any case). */
bool pb_import_line_is_csv_header(const char *text, size_t len);

#endif
