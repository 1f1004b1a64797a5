/*
 * encode.c — typed responses to JSON, with yajl's generator.
 *
 * yajl_gen hands its output to a print callback that appends to a growing
 * buffer in the pool; the generator's own memory comes from an arena in the
 * caller's frame (common/arena.h), so the encoder leaves nothing to free.
 * Output is compact, '/' is not escaped, and strings are written as they are
 * given: they come from decoded requests or from the store, both already
 * checked to be UTF-8.
 *
 * yajl_gen calls can fail only when called out of order (a bug here, which
 * the tests would show) or with yajl_gen_validate_utf8, which is off; so their
 * statuses are not checked one by one.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "codec/codec.h"
#include "common/arena.h"
#include "common/codes.h"

/* Room for the response before the buffer first grows: a small answer fits. */
#define OUTPUT_INITIAL_CAPACITY 512

/* The JSON text being written, in the pool, and the generator's own memory. */
typedef struct output {
    pb_pool *pool;
    char *bytes;
    size_t len;
    size_t capacity;
    pb_arena arena; /* the generator's own memory, in `arena_bytes` */
    max_align_t arena_bytes[PB_ARENA_YAJL_BYTES / sizeof(max_align_t)];
} output;

/*
 * The slow path of output_append(): doubles the buffer until `len` more bytes
 * fit, then appends. Not inlined, or its registers would cost every call.
 */
__attribute__((noinline)) static void output_grow_and_append(output *out, const char *s, size_t len)
{
    size_t capacity = out->capacity * 2;
    while (capacity - out->len < len)
        capacity *= 2;
    char *bigger = pb_pool_alloc(out->pool, capacity);
    memcpy(bigger, out->bytes, out->len);
    out->bytes = bigger;
    out->capacity = capacity;
    memcpy(out->bytes + out->len, s, len);
    out->len += len;
}

/*
 * yajl_gen's print callback, called about 70 times for a one-account answer,
 * most calls with one byte (a quote, a colon, a comma, a bracket): those are
 * stored without a call to memcpy(), and the growing is apart, so that the
 * common path needs no stack frame (a third of the callback's cost when the
 * two were one function).
 */
static void output_append(void *ctx, const char *s, size_t len)
{
    output *out = ctx;
    if (out->capacity - out->len < len) {
        output_grow_and_append(out, s, len);
        return;
    }
    char *at = out->bytes + out->len;
    out->len += len;
    if (len == 1)
        *at = *s;
    else
        memcpy(at, s, len);
}

/* A compact generator writing into `out`. */
static yajl_gen gen_open(pb_pool *pool, output *out)
{
    out->pool = pool;
    out->bytes = pb_pool_alloc(pool, OUTPUT_INITIAL_CAPACITY);
    out->len = 0;
    out->capacity = OUTPUT_INITIAL_CAPACITY;
    pb_arena_init(&out->arena, out->arena_bytes, sizeof(out->arena_bytes), pool);
    yajl_alloc_funcs funcs = {pb_arena_malloc, pb_arena_realloc, pb_arena_free, &out->arena};
    yajl_gen gen = yajl_gen_alloc(&funcs); /* never NULL: the pool aborts instead */
    yajl_gen_config(gen, yajl_gen_print_callback, output_append, out);
    /* yajl's defaults, spelled out because the wire format depends on them */
    yajl_gen_config(gen, yajl_gen_beautify, 0);
    yajl_gen_config(gen, yajl_gen_escape_solidus, 0);
    yajl_gen_config(gen, yajl_gen_validate_utf8, 0);
    return gen;
}

static pb_str gen_close(yajl_gen gen, const output *out)
{
    yajl_gen_free(gen);
    return (pb_str){out->bytes, out->len};
}

static void gen_str(yajl_gen gen, pb_str s)
{
    yajl_gen_string(gen, (const unsigned char *)(s.base != NULL ? s.base : ""), s.len);
}

static void gen_cstr(yajl_gen gen, const char *s)
{
    yajl_gen_string(gen, (const unsigned char *)s, strlen(s));
}

/*
 * Digits written here rather than by yajl_gen_integer(), whose sprintf() cost
 * more than the rest of a one-account answer's numbers together.
 */
static void gen_integer(yajl_gen gen, int64_t value)
{
    char digits[PB_DECIMAL_MAX];
    yajl_gen_number(gen, digits, (size_t)(pb_put_i64(digits, value) - digits));
}

/* An item code as TPNS sends it in `result`: a decimal string ("0", "1008007"). */
static void gen_code_string(yajl_gen gen, int code)
{
    char digits[PB_DECIMAL_MAX];
    yajl_gen_string(gen, (const unsigned char *)digits, (size_t)(pb_put_i64(digits, code) - digits));
}

/* {"account":"...","account_type":N}, the type only when not 0. Leaves the object open. */
static void gen_account_fields(yajl_gen gen, const pb_account *account)
{
    gen_cstr(gen, "account");
    gen_str(gen, account->name);
    if (account->type != 0) {
        gen_cstr(gen, "account_type");
        gen_integer(gen, account->type);
    }
}

/* "bind_time":N,"last_bind_time":N into an open object, when the lookup gave times. */
static void gen_times(yajl_gen gen, const pb_binding_times *times, size_t i)
{
    if (times == NULL)
        return;
    gen_cstr(gen, "bind_time");
    gen_integer(gen, times[i].bind_time);
    gen_cstr(gen, "last_bind_time");
    gen_integer(gen, times[i].last_bind_time);
}

/* "platform":"android" into an open object, when the platform is known. */
static void gen_platform(yajl_gen gen, pb_platform platform)
{
    const char *name = pb_platform_name(platform);
    if (name == NULL)
        return;
    gen_cstr(gen, "platform");
    gen_cstr(gen, name);
}

/* Extension: one object per token, in token_list's order, with its platform and the binding's times. */
static void gen_token_info(yajl_gen gen, const pb_token_list *tokens)
{
    gen_cstr(gen, "token_info");
    yajl_gen_array_open(gen);
    for (size_t j = 0; j < tokens->n; j++) {
        yajl_gen_map_open(gen);
        gen_cstr(gen, "token");
        gen_str(gen, tokens->tokens[j]);
        if (tokens->platforms != NULL)
            gen_platform(gen, tokens->platforms[j]);
        gen_times(gen, tokens->times, j);
        yajl_gen_map_close(gen);
    }
    yajl_gen_array_close(gen);
}

static void gen_account_tokens(yajl_gen gen, const pb_account_tokens *entries, size_t n, bool with_info)
{
    gen_cstr(gen, "account_tokens");
    yajl_gen_array_open(gen);
    for (size_t i = 0; i < n; i++) {
        yajl_gen_map_open(gen);
        gen_account_fields(gen, &entries[i].account);
        gen_cstr(gen, "token_list");
        yajl_gen_array_open(gen);
        for (size_t j = 0; j < entries[i].tokens.n; j++)
            gen_str(gen, entries[i].tokens.tokens[j]);
        yajl_gen_array_close(gen);
        if (with_info)
            gen_token_info(gen, &entries[i].tokens);
        yajl_gen_map_close(gen);
    }
    yajl_gen_array_close(gen);
}

static void gen_token_accounts(yajl_gen gen, const pb_token_accounts *entries, size_t n, bool with_info)
{
    gen_cstr(gen, "token_accounts");
    yajl_gen_array_open(gen);
    for (size_t i = 0; i < n; i++) {
        yajl_gen_map_open(gen);
        gen_cstr(gen, "token");
        gen_str(gen, entries[i].token);
        if (with_info)
            gen_platform(gen, entries[i].accounts.platform);
        gen_cstr(gen, "account_list");
        yajl_gen_array_open(gen);
        for (size_t j = 0; j < entries[i].accounts.n; j++) {
            yajl_gen_map_open(gen);
            gen_account_fields(gen, &entries[i].accounts.accounts[j]);
            if (with_info)
                gen_times(gen, entries[i].accounts.times, j);
            yajl_gen_map_close(gen);
        }
        yajl_gen_array_close(gen);
        yajl_gen_map_close(gen);
    }
    yajl_gen_array_close(gen);
}

/* The top-level code and its message, under the key names of the endpoint (TPNS spells them two ways). */
static void gen_code_and_message(yajl_gen gen, const char *code_key, const char *message_key, int code)
{
    gen_cstr(gen, code_key);
    gen_integer(gen, code);
    gen_cstr(gen, message_key);
    gen_cstr(gen, pb_code_message(code));
}

pb_str pb_encode_query(pb_pool *pool, const pb_query_response *response)
{
    output out;
    yajl_gen gen = gen_open(pool, &out);
    bool by_account = response->operator_type == 1;
    size_t n = response->n;
    /* An answer without its entries can only say what went wrong: encode it as request-level. */
    if (by_account ? response->by_account == NULL : response->by_token == NULL)
        n = 0;

    yajl_gen_map_open(gen);
    /* Published clients read the snake_case pair on this endpoint too: without it a failure reads as 0. */
    gen_code_and_message(gen, "retCode", "errMsg", response->code);
    gen_code_and_message(gen, "ret_code", "err_msg", response->code);
    gen_cstr(gen, "result");
    yajl_gen_array_open(gen);
    for (size_t i = 0; i < n; i++)
        gen_code_string(gen, by_account ? response->by_account[i].code : response->by_token[i].code);
    yajl_gen_array_close(gen);
    if (n != 0) {
        if (by_account)
            gen_account_tokens(gen, response->by_account, n, response->with_info);
        else
            gen_token_accounts(gen, response->by_token, n, response->with_info);
    }
    yajl_gen_map_close(gen);
    return gen_close(gen, &out);
}

pb_str pb_encode_batch(pb_pool *pool, const pb_batch_response *response)
{
    output out;
    yajl_gen gen = gen_open(pool, &out);
    size_t n = response->item_codes != NULL ? response->n : 0;

    yajl_gen_map_open(gen);
    gen_code_and_message(gen, "ret_code", "err_msg", response->code);
    gen_cstr(gen, "result");
    yajl_gen_array_open(gen);
    for (size_t i = 0; i < n; i++)
        gen_code_string(gen, response->item_codes[i]);
    yajl_gen_array_close(gen);
    yajl_gen_map_close(gen);
    return gen_close(gen, &out);
}
