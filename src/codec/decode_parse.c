/*
 * decode_parse.c — one run of yajl's streaming parser over a request body:
 * the callbacks that turn yajl's tokens into values for decode_fields.c, and
 * the checks yajl does not make itself (escaped surrogates).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "codec/decode.h"
#include "common/arena.h"
#include "common/codes.h"
#include "common/utf8.h"

/* yajl's callbacks: each returns 0 to cancel the parse, which becomes PB_ERR_PARSE. */

static int on_null(void *ctx)
{
    return pb_decode_on_value(ctx, &(value){.kind = VALUE_NULL});
}

/* A boolean's `len` is its value, so that with_info can tell true from false. */
static int on_boolean(void *ctx, int boolean)
{
    return pb_decode_on_value(ctx, &(value){.kind = VALUE_BOOL, .len = boolean != 0});
}

static int on_number(void *ctx, const char *text, size_t len)
{
    return pb_decode_on_value(ctx, &(value){.kind = VALUE_NUMBER, .text = text, .len = len});
}

static int on_string(void *ctx, const unsigned char *text, size_t len)
{
    if (!pb_utf8_is_valid((const char *)text, len))
        return 0;
    return pb_decode_on_value(ctx, &(value){.kind = VALUE_STRING, .text = (const char *)text, .len = len});
}

static int on_start_map(void *ctx)
{
    return pb_decode_on_value(ctx, &(value){.kind = VALUE_OBJECT});
}

static int on_start_array(void *ctx)
{
    return pb_decode_on_value(ctx, &(value){.kind = VALUE_ARRAY});
}

static int on_map_key(void *ctx, const unsigned char *text, size_t len)
{
    decoder *d = ctx;
    if (!pb_utf8_is_valid((const char *)text, len))
        return 0;
    d->key = pb_decode_key_for(d, d->stack[d->depth - 1].kind, (pb_str){(const char *)text, len});
    return 1;
}

/* The end of an object or an array: yajl has checked that they match. */
static int on_end(void *ctx)
{
    decoder *d = ctx;
    frame *closed = &d->stack[--d->depth];
    if (closed->kind == FRAME_ACCOUNT)
        closed->u.account->well_typed = d->account_is_string && d->account_type_ok;
    if (closed->kind == FRAME_PAIR_OBJECT || closed->kind == FRAME_PAIR_ARRAY)
        closed->u.pair->well_formed = d->pair_tag_ok && d->pair_token_ok &&
                                      (closed->kind == FRAME_PAIR_OBJECT || d->pair_values == 2);
    return 1;
}

/* Integers and doubles come through yajl_number as text, so that no number is too big for yajl. */
static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

static bool hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned digit = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
        if (digit == 16)
            return false;
        v = v * 16 + digit;
    }
    *out = v;
    return true;
}

/*
 * Whether every \u escape in the body names a Unicode character: a high
 * surrogate (D800–DBFF) must be followed at once by an escaped low one
 * (DC00–DFFF), and a low one may not stand alone. yajl does not check this: it
 * turns a lone high surrogate into '?' and pairs it with any escape that
 * follows, so "\ud800\u0041" would decode as U+10041, the same account as
 * "\ud800\udc41". Escapes only occur inside strings (a backslash elsewhere
 * is a parse error anyway), and each is skipped whole, so every backslash
 * this finds starts an escape. Malformed escapes are left for yajl to refuse.
 */
static bool unicode_escapes_are_valid(const char *body, size_t len)
{
    const char *p = body, *end = body + len;
    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (end - p < 2)
            return true;
        unsigned unit, low;
        if (p[1] != 'u' || end - p < 6 || !hex4(p + 2, &unit)) {
            p += 2;
            continue;
        }
        p += 6;
        if (unit >= 0xDC00 && unit <= 0xDFFF)
            return false;
        if (unit < 0xD800 || unit > 0xDBFF)
            continue;
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &low) || low < 0xDC00 || low > 0xDFFF)
            return false;
        p += 6;
    }
    return true;
}

/*
 * Runs the parse with the fields `d` points at. yajl's defaults are what the
 * contract needs: UTF-8 checked, no comments, no trailing garbage, one value.
 */
int pb_decode_run(decoder *d, pb_pool *pool, const char *body, size_t len)
{
    d->pool = pool;
    d->body_begin = (uintptr_t)body;
    d->body_end = (uintptr_t)body + len;
    d->depth = 0;
    d->key = KEY_UNKNOWN;
    if (len == 0 || !unicode_escapes_are_valid(body, len))
        return PB_ERR_PARSE;

    max_align_t bytes[PB_ARENA_YAJL_BYTES / sizeof(max_align_t)];
    pb_arena arena;
    pb_arena_init(&arena, bytes, sizeof(bytes), pool);
    yajl_alloc_funcs funcs = {pb_arena_malloc, pb_arena_realloc, pb_arena_free, &arena};
    yajl_handle parser = yajl_alloc(&callbacks, &funcs, d); /* never NULL: the pool aborts instead */
    yajl_status status = yajl_parse(parser, (const unsigned char *)body, len);
    if (status == yajl_status_ok)
        status = yajl_complete_parse(parser);
    yajl_free(parser);
    return status == yajl_status_ok ? PB_OK : PB_ERR_PARSE;
}
