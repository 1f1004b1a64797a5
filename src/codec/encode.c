/*
 * encode.c — typed responses to JSON, written directly.
 *
 * The two answers have a fixed shape, so the encoder writes their text itself
 * into a growing buffer in the pool: keys are literals with their quotes and
 * separators, and only strings from the request or the store go through the
 * escaper. Output is compact, '/' is not escaped, and strings are written as
 * they are given: they come from decoded requests or from the store, both
 * already checked to be UTF-8. Escapes are those yajl_gen writes (this
 * encoder replaced it): \" \\ \b \f \n \r \t, and \u00XX (upper-case hex) for
 * the other control characters.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"
#include "common/codes.h"

/* Room for the response before the buffer first grows: a small answer fits. */
#define OUTPUT_INITIAL_CAPACITY 512

/* The JSON text being written, in the pool. */
typedef struct output {
    pb_pool *pool;
    char *bytes;
    size_t len;
    size_t capacity;
} output;

static void output_open(output *out, pb_pool *pool)
{
    *out = (output){pool, pb_pool_alloc(pool, OUTPUT_INITIAL_CAPACITY), 0, OUTPUT_INITIAL_CAPACITY};
}

/* Makes room for `len` more bytes, doubling the buffer as often as needed. */
static void reserve(output *out, size_t len)
{
    if (out->capacity - out->len >= len)
        return;
    size_t capacity = out->capacity * 2;
    while (capacity - out->len < len)
        capacity *= 2;
    char *bigger = pb_pool_alloc(out->pool, capacity);
    memcpy(bigger, out->bytes, out->len);
    out->bytes = bigger;
    out->capacity = capacity;
}

static void put_raw(output *out, const char *s, size_t len)
{
    reserve(out, len);
    if (len != 0)
        memcpy(out->bytes + out->len, s, len);
    out->len += len;
}

/* A literal piece of the answer's frame: keys, brackets, separators. */
#define put_lit(out, s) put_raw((out), (s), sizeof(s) - 1)

static void put_char(output *out, char c)
{
    reserve(out, 1);
    out->bytes[out->len++] = c;
}

static void put_escape(output *out, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    size_t len = 2;
    switch (c) {
    case '"': escaped[1] = '"'; break;
    case '\\': escaped[1] = '\\'; break;
    case '\b': escaped[1] = 'b'; break;
    case '\f': escaped[1] = 'f'; break;
    case '\n': escaped[1] = 'n'; break;
    case '\r': escaped[1] = 'r'; break;
    case '\t': escaped[1] = 't'; break;
    default: len = 6;
    }
    put_raw(out, escaped, len);
}

/* The bytes a JSON string cannot hold as they are: control characters, '"' and '\\'. */
static const bool needs_escape[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
    [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1,
    [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1,
    ['"'] = 1,  ['\\'] = 1,
};

/* A JSON string: runs that need no escape are copied whole. */
static void put_string(output *out, const char *s, size_t len)
{
    reserve(out, len + 2); /* the whole string when nothing needs escaping */
    out->bytes[out->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape[c])
            continue;
        put_raw(out, s + run, i - run);
        put_escape(out, c);
        run = i + 1;
    }
    put_raw(out, s + run, len - run);
    put_char(out, '"');
}

static void put_str(output *out, pb_str s)
{
    put_string(out, s.base, s.base != NULL ? s.len : 0);
}

/* Decimal digits of `v`, with its sign; `quoted` writes them as a JSON string. */
static void put_int(output *out, int64_t v, bool quoted)
{
    char digits[22]; /* '"', "-9223372036854775808", '"' */
    char *end = digits + sizeof(digits), *p = end;
    uint64_t magnitude = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    if (quoted)
        *--p = '"';
    do {
        *--p = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (v < 0)
        *--p = '-';
    if (quoted)
        *--p = '"';
    put_raw(out, p, (size_t)(end - p));
}

/* "account":"...","account_type":N, the type only when not 0. */
static void put_account_fields(output *out, const pb_account *account)
{
    put_lit(out, "\"account\":");
    put_str(out, account->name);
    if (account->type != 0) {
        put_lit(out, ",\"account_type\":");
        put_int(out, account->type, false);
    }
}

static void put_account_tokens(output *out, const pb_account_tokens *entries, size_t n)
{
    put_lit(out, ",\"account_tokens\":[");
    for (size_t i = 0; i < n; i++) {
        if (i != 0)
            put_char(out, ',');
        put_char(out, '{');
        put_account_fields(out, &entries[i].account);
        put_lit(out, ",\"token_list\":[");
        for (size_t j = 0; j < entries[i].tokens.n; j++) {
            if (j != 0)
                put_char(out, ',');
            put_str(out, entries[i].tokens.tokens[j]);
        }
        put_lit(out, "]}");
    }
    put_char(out, ']');
}

static void put_token_accounts(output *out, const pb_token_accounts *entries, size_t n)
{
    put_lit(out, ",\"token_accounts\":[");
    for (size_t i = 0; i < n; i++) {
        if (i != 0)
            put_char(out, ',');
        put_lit(out, "{\"token\":");
        put_str(out, entries[i].token);
        put_lit(out, ",\"account_list\":[");
        for (size_t j = 0; j < entries[i].accounts.n; j++) {
            if (j != 0)
                put_char(out, ',');
            put_char(out, '{');
            put_account_fields(out, &entries[i].accounts.accounts[j]);
            put_char(out, '}');
        }
        put_lit(out, "]}");
    }
    put_char(out, ']');
}

/*
 * {"<code key>":N,"<message key>":"...","result":[ — the top-level code and
 * its message, under the key names of the endpoint (TPNS spells them two
 * ways). Leaves the result list open.
 */
#define put_head(out, code_key, message_key, code) \
    put_head_((out), code_key, sizeof(code_key) - 1, message_key, sizeof(message_key) - 1, (code))

static void put_head_(output *out, const char *code_key, size_t code_key_len, const char *message_key,
                      size_t message_key_len, int code)
{
    put_raw(out, code_key, code_key_len);
    put_int(out, code, false);
    put_raw(out, message_key, message_key_len);
    const char *message = pb_code_message(code);
    put_string(out, message, strlen(message));
    put_lit(out, ",\"result\":[");
}

/* An item code as TPNS sends it in `result`: a decimal string ("0", "1008007"). */
static void put_item_code(output *out, size_t i, int code)
{
    if (i != 0)
        put_char(out, ',');
    put_int(out, code, true);
}

pb_str pb_encode_query(pb_pool *pool, const pb_query_response *response)
{
    output out;
    output_open(&out, pool);
    bool by_account = response->operator_type == 1;
    size_t n = response->n;
    /* An answer without its entries can only say what went wrong: encode it as request-level. */
    if (by_account ? response->by_account == NULL : response->by_token == NULL)
        n = 0;

    put_head(&out, "{\"retCode\":", ",\"errMsg\":", response->code);
    for (size_t i = 0; i < n; i++)
        put_item_code(&out, i, by_account ? response->by_account[i].code : response->by_token[i].code);
    put_char(&out, ']');
    if (n != 0) {
        if (by_account)
            put_account_tokens(&out, response->by_account, n);
        else
            put_token_accounts(&out, response->by_token, n);
    }
    put_char(&out, '}');
    return (pb_str){out.bytes, out.len};
}

pb_str pb_encode_batch(pb_pool *pool, const pb_batch_response *response)
{
    output out;
    output_open(&out, pool);
    size_t n = response->item_codes != NULL ? response->n : 0;

    put_head(&out, "{\"ret_code\":", ",\"err_msg\":", response->code);
    for (size_t i = 0; i < n; i++)
        put_item_code(&out, i, response->item_codes[i]);
    put_lit(&out, "]}");
    return (pb_str){out.bytes, out.len};
}
