/*
 * fuzz_import_line.c — libFuzzer target for one line of an import file
 * (import/line.c): yajl with its arena allocator for NDJSON, the CSV
 * reader, then the API's validation, as `pushbind import` runs them.
 *
 * Input: one byte choosing the format (low bit: CSV), then the line. Besides
 * "no crash, no leak, no undefined behaviour", it checks the contract of
 * pb_import_line_parse(): a refused line gives a reason; in an accepted one,
 * a token or account that is a string has readable bytes lying in the line or
 * in the parsed line's own buffers, and validation judges both with its codes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate.h"
#include "import/import.h"
#include "common/codes.h"

#define CHECK(cond)        \
    do {                   \
        if (!(cond))       \
            abort();       \
    } while (0)

static bool within(const void *start, size_t len, pb_str s)
{
    const char *base = start;
    return s.base >= base && s.base + s.len <= base + len;
}

static void check_field(pb_str s, const char *text, size_t len, const char *buf)
{
    CHECK(s.len <= PB_IMPORT_FIELD_MAX);
    CHECK(s.len == 0 || within(text, len, s) || within(buf, PB_IMPORT_FIELD_MAX, s));
    volatile char sink = 0;
    for (size_t i = 0; i < s.len; i++) /* every byte readable, for ASan */
        sink ^= s.base[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    pb_import_format format = data[0] & 1 ? PB_IMPORT_CSV : PB_IMPORT_NDJSON;
    size_t len = size - 1;
    char *text = malloc(len + 1); /* its own allocation, so ASan sees reads past the line */
    CHECK(text != NULL);
    memcpy(text, data + 1, len);
    pb_import_line *line = malloc(sizeof(*line));
    CHECK(line != NULL);
    const char *reason = pb_import_line_parse(format, text, len, line);
    if (reason == NULL) {
        if (line->token.is_string) /* else validation refuses it, as the API would */
            check_field(line->token.token, text, len, line->token_buf);
        if (line->account.well_typed)
            check_field(line->account.account.name, text, len, line->account_buf);
        CHECK(line->account.account.type <= PB_ACCOUNT_TYPE_MAX);
        pb_api_config config;
        pb_api_config_defaults(&config);
        int code = pb_validate_token(&config, &line->token);
        CHECK(code == PB_OK || code == PB_ERR_TOKEN);
        code = pb_validate_account(&config, &line->account);
        CHECK(code == PB_OK || code == PB_ERR_PARAM);
    } else {
        CHECK(reason[0] != '\0');
    }
    free(line);
    free(text);
    return 0;
}
