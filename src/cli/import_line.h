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
 * A parsed line. token and account point into the struct's own buffers
 * (escapes resolved), so they live as long as it and until the next parse.
 */
typedef struct pb_import_line {
    pb_token_item token;
    pb_account_item account;
    char token_buf[PB_IMPORT_FIELD_MAX];
    char account_buf[PB_IMPORT_FIELD_MAX];
} pb_import_line;

/*
 * Parses `text` (one line without its newline; a trailing CR is ignored).
 * Returns NULL on success, or a short reason ("not a JSON object",
 * "missing token", …) naming what is wrong with the line's shape.
 */
const char *pb_import_line_parse(pb_import_format format, const char *text, size_t len, pb_import_line *line);

/* Whether a CSV line is the header "token,account[,account_type]" (any case). */
bool pb_import_line_is_csv_header(const char *text, size_t len);

#endif
