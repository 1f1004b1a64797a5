/*
 * decode.c — request bodies to typed requests, with yajl's streaming parser.
 *
 * yajl calls back once per JSON token. The decoder keeps a stack of frames,
 * one per open container, each saying what that container is: the top-level
 * object, an account list, one account element, and so on. A value lands
 * where the innermost frame and the last key read say. A container nobody
 * asked for becomes a SKIP frame and everything inside it is ignored, which is
 * how unknown fields are skipped at any depth.
 *
 * The decoder judges JSON types only. Whether a token is printable, an account
 * short enough, a list within its limit, is the endpoint's business.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "codec/codec.h"
#include "codec/yajl_alloc.h"
#include "common/codes.h"
#include "common/utf8.h"

/* What an open container is. */
typedef enum frame_kind {
    FRAME_ROOT,                /* the top-level object */
    FRAME_ACCOUNT_LIST,        /* an array of {"account", "account_type"} */
    FRAME_ACCOUNT,             /* one object of an account list */
    FRAME_TOKEN_LIST,          /* an array of token strings */
    FRAME_TOKEN_ACCOUNTS,      /* batchoperate's token_accounts array */
    FRAME_TOKEN_ACCOUNTS_ITEM, /* one object of it */
    FRAME_SKIP                 /* a container nobody asked for */
} frame_kind;

/* The keys the decoder knows; which ones count depends on the object. */
typedef enum known_key {
    KEY_UNKNOWN,
    KEY_OPERATOR_TYPE,
    KEY_PLATFORM,
    KEY_ACCOUNT_LIST,
    KEY_TOKEN_LIST,
    KEY_TOKEN_ACCOUNTS,
    KEY_ACCOUNT,
    KEY_ACCOUNT_TYPE,
    KEY_TOKEN,
    KEY_WITH_INFO
} known_key;

/*
 * An open container and what it fills. A frame may point at an element of a
 * growing list: that is safe because a list only grows between its elements,
 * never while one of them is open.
 */
typedef struct frame {
    frame_kind kind;
    union {
        pb_account_item_list *account_list;
        pb_account_item *account;
        pb_token_item_list *token_list;
        pb_token_accounts_list *token_accounts;
        pb_token_accounts_item *token_accounts_item;
    } u;
} frame;

typedef enum value_kind {
    VALUE_NULL,
    VALUE_BOOL,
    VALUE_NUMBER,
    VALUE_STRING,
    VALUE_OBJECT, /* the start of one */
    VALUE_ARRAY   /* the start of one */
} value_kind;

/* One value as yajl reported it. `text` is yajl's and lives only during the callback. */
typedef struct value {
    value_kind kind;
    const char *text; /* VALUE_NUMBER: the number as written; VALUE_STRING: unescaped bytes */
    size_t len;
} value;

typedef struct decoder {
    pb_pool *pool;
    uintptr_t body_begin; /* strings found in [body_begin, body_end) are kept in place */
    uintptr_t body_end;

    /* Where the top-level fields go; NULL for a field the request does not have. */
    pb_operator_type *operator_type;
    pb_default_account_type *account_type;
    pb_field_state *with_info_state; /* and with_info: query only */
    bool *with_info;
    pb_field_state *platform_state;
    pb_str *platform;
    pb_account_item_list *account_list;
    pb_token_item_list *token_list;
    pb_token_accounts_list *token_accounts;

    frame stack[PB_JSON_MAX_DEPTH];
    size_t depth; /* open containers */
    known_key key; /* the last key read; yajl always reports a key before its value */

    /*
     * The account element being read (they never nest): whether its last
     * "account" was a string and its last "account_type" acceptable.
     */
    bool account_is_string;
    bool account_type_ok;
} decoder;

static const pb_str empty = {"", 0};

/*
 * An account element's type while the body is parsed, until it is known
 * whether it had one of its own: the top-level account_type may come after
 * the lists. Above PB_ACCOUNT_TYPE_MAX, so no sent type can look like it.
 */
#define TYPE_NOT_GIVEN UINT32_MAX

/*
 * Reads a JSON number as written into *out. Returns false when it is not an
 * integer literal (it has a fraction or an exponent) or does not fit int64_t.
 * yajl has already checked the grammar: an optional '-', then digits.
 */
static bool parse_int64(const char *s, size_t len, int64_t *out)
{
    bool negative = len > 0 && s[0] == '-';
    size_t i = negative ? 1 : 0;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t magnitude = 0;
    if (i == len)
        return false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned digit = (unsigned)(s[i] - '0');
        if (magnitude > (limit - digit) / 10)
            return false;
        magnitude = magnitude * 10 + digit;
    }
    if (!negative)
        *out = (int64_t)magnitude;
    else if (magnitude == limit)
        *out = INT64_MIN;
    else
        *out = -(int64_t)magnitude;
    return true;
}

/* The string, in place when yajl handed out a pointer into the body, else copied. */
static pb_str keep_string(decoder *d, const value *v)
{
    uintptr_t p = (uintptr_t)v->text;
    pb_str s = {v->text, v->len};
    if (p >= d->body_begin && p <= d->body_end && v->len <= d->body_end - p)
        return s;
    return pb_pool_strdup(d->pool, s);
}

/*
 * Makes room for element `n` of a pool array that holds `n` elements and
 * returns the array, moved when it had to grow. The capacity is implied
 * rather than stored: 4 up to 4 elements, then the next power of two, so the
 * array is full exactly when n is 0 or a power of two of at least 4.
 */
static void *grow(pb_pool *pool, void *items, size_t n, size_t size)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return items;
    size_t capacity = n == 0 ? 4 : n * 2;
    void *bigger = pb_pool_alloc(pool, capacity * size);
    if (n != 0)
        memcpy(bigger, items, n * size);
    return bigger;
}

static pb_token_item *append_token(pb_pool *pool, pb_token_item_list *list)
{
    list->items = grow(pool, list->items, list->n, sizeof(*list->items));
    pb_token_item *item = &list->items[list->n++];
    *item = (pb_token_item){.token = empty, .is_string = false};
    return item;
}

static pb_account_item *append_account(pb_pool *pool, pb_account_item_list *list)
{
    list->items = grow(pool, list->items, list->n, sizeof(*list->items));
    pb_account_item *item = &list->items[list->n++];
    *item = (pb_account_item){.account = {.name = empty, .type = TYPE_NOT_GIVEN}, .well_typed = false};
    return item;
}

static pb_token_accounts_item *append_token_accounts(pb_pool *pool, pb_token_accounts_list *list)
{
    list->items = grow(pool, list->items, list->n, sizeof(*list->items));
    pb_token_accounts_item *item = &list->items[list->n++];
    *item = (pb_token_accounts_item){.is_object = false, .token = {.token = empty, .is_string = false}};
    return item;
}

/* Fails (cancelling the parse) when the body nests deeper than PB_JSON_MAX_DEPTH. */
static int push(decoder *d, frame f)
{
    if (d->depth == PB_JSON_MAX_DEPTH)
        return 0;
    if (f.kind == FRAME_ACCOUNT) {
        d->account_is_string = false;
        d->account_type_ok = true; /* absent means type 0 */
    }
    d->stack[d->depth++] = f;
    return 1;
}

/* Skips `v`: nothing to do for a scalar, a SKIP frame for a container. */
static int skip(decoder *d, const value *v)
{
    if (v->kind == VALUE_OBJECT || v->kind == VALUE_ARRAY)
        return push(d, (frame){.kind = FRAME_SKIP});
    return 1;
}

/* A list field: an array opens `list_frame`; null is absent; anything else is the wrong type. */
static int open_list(decoder *d, const value *v, pb_field_state *state, frame list_frame)
{
    if (v->kind == VALUE_ARRAY) {
        *state = PB_FIELD_PRESENT;
        return push(d, list_frame);
    }
    *state = v->kind == VALUE_NULL ? PB_FIELD_ABSENT : PB_FIELD_WRONG_TYPE;
    return skip(d, v);
}

static pb_token_item read_token(decoder *d, const value *v)
{
    if (v->kind != VALUE_STRING)
        return (pb_token_item){.token = empty, .is_string = false};
    return (pb_token_item){.token = keep_string(d, v), .is_string = true};
}

/*
 * Whether `v` may stand for an integer: a JSON number, or a string of decimal
 * digits only, as form-driven PHP clients send integers ("1"). A sign, a
 * space or an empty string make the string just a string.
 */
static bool is_integer_text(const value *v)
{
    if (v->kind == VALUE_NUMBER)
        return true;
    if (v->kind != VALUE_STRING || v->len == 0)
        return false;
    for (size_t i = 0; i < v->len; i++)
        if (v->text[i] < '0' || v->text[i] > '9')
            return false;
    return true;
}

static void read_operator_type(pb_operator_type *out, const value *v)
{
    *out = (pb_operator_type){PB_FIELD_ABSENT, 0};
    if (v->kind == VALUE_NULL)
        return;
    if (is_integer_text(v) && parse_int64(v->text, v->len, &out->value))
        out->state = PB_FIELD_PRESENT;
    else
        out->state = PB_FIELD_WRONG_TYPE;
}

/* False when "account_type" is not null and not an integer in 0..PB_ACCOUNT_TYPE_MAX. */
static bool read_account_type(const value *v, uint32_t *type)
{
    *type = 0;
    if (v->kind == VALUE_NULL)
        return true;
    return is_integer_text(v) && pb_account_type_parse(v->text, v->len, type);
}

static void read_default_account_type(pb_default_account_type *out, const value *v)
{
    *out = (pb_default_account_type){PB_FIELD_ABSENT, 0};
    if (v->kind == VALUE_NULL)
        return;
    out->state = read_account_type(v, &out->value) ? PB_FIELD_PRESENT : PB_FIELD_WRONG_TYPE;
}

/* true or 1 turn it on; false, 0 and null leave it off; anything else is the wrong type. */
static void read_with_info(decoder *d, const value *v)
{
    bool number = v->kind == VALUE_NUMBER && v->len == 1 && (v->text[0] == '0' || v->text[0] == '1');
    *d->with_info = (v->kind == VALUE_BOOL && v->len == 1) || (number && v->text[0] == '1');
    if (v->kind == VALUE_NULL)
        *d->with_info_state = PB_FIELD_ABSENT;
    else
        *d->with_info_state = v->kind == VALUE_BOOL || number ? PB_FIELD_PRESENT : PB_FIELD_WRONG_TYPE;
}

static int root_field(decoder *d, const value *v)
{
    switch (d->key) {
    case KEY_OPERATOR_TYPE:
        read_operator_type(d->operator_type, v);
        return skip(d, v);
    case KEY_ACCOUNT_TYPE:
        read_default_account_type(d->account_type, v);
        return skip(d, v);
    case KEY_WITH_INFO:
        read_with_info(d, v);
        return skip(d, v);
    case KEY_PLATFORM:
        *d->platform = empty;
        if (v->kind == VALUE_STRING) {
            *d->platform_state = PB_FIELD_PRESENT;
            *d->platform = keep_string(d, v);
        } else {
            *d->platform_state = v->kind == VALUE_NULL ? PB_FIELD_ABSENT : PB_FIELD_WRONG_TYPE;
        }
        return skip(d, v);
    case KEY_ACCOUNT_LIST:
        *d->account_list = (pb_account_item_list){0};
        return open_list(d, v, &d->account_list->state,
                         (frame){.kind = FRAME_ACCOUNT_LIST, .u.account_list = d->account_list});
    case KEY_TOKEN_LIST:
        *d->token_list = (pb_token_item_list){0};
        return open_list(d, v, &d->token_list->state,
                         (frame){.kind = FRAME_TOKEN_LIST, .u.token_list = d->token_list});
    case KEY_TOKEN_ACCOUNTS:
        *d->token_accounts = (pb_token_accounts_list){0};
        return open_list(d, v, &d->token_accounts->state,
                         (frame){.kind = FRAME_TOKEN_ACCOUNTS, .u.token_accounts = d->token_accounts});
    default:
        return skip(d, v);
    }
}

static int account_field(decoder *d, pb_account_item *item, const value *v)
{
    switch (d->key) {
    case KEY_ACCOUNT:
        d->account_is_string = v->kind == VALUE_STRING;
        item->account.name = d->account_is_string ? keep_string(d, v) : empty;
        break;
    case KEY_ACCOUNT_TYPE:
        d->account_type_ok = read_account_type(v, &item->account.type);
        if (v->kind == VALUE_NULL)
            item->account.type = TYPE_NOT_GIVEN;
        break;
    default:
        break;
    }
    return skip(d, v);
}

static int token_accounts_field(decoder *d, pb_token_accounts_item *item, const value *v)
{
    switch (d->key) {
    case KEY_TOKEN:
        item->token = read_token(d, v);
        return skip(d, v);
    case KEY_ACCOUNT_LIST:
        item->account_list = (pb_account_item_list){0};
        return open_list(d, v, &item->account_list.state,
                         (frame){.kind = FRAME_ACCOUNT_LIST, .u.account_list = &item->account_list});
    default:
        return skip(d, v);
    }
}

/* Every value, scalar or the start of a container, comes through here. */
static int on_value(decoder *d, const value *v)
{
    if (d->depth == 0) {
        /* The top-level value; yajl itself refuses a second one. */
        if (v->kind != VALUE_OBJECT)
            return 0;
        return push(d, (frame){.kind = FRAME_ROOT});
    }

    frame *top = &d->stack[d->depth - 1];
    switch (top->kind) {
    case FRAME_ROOT:
        return root_field(d, v);
    case FRAME_ACCOUNT:
        return account_field(d, top->u.account, v);
    case FRAME_TOKEN_ACCOUNTS_ITEM:
        return token_accounts_field(d, top->u.token_accounts_item, v);
    case FRAME_TOKEN_LIST:
        *append_token(d->pool, top->u.token_list) = read_token(d, v);
        return skip(d, v);
    case FRAME_ACCOUNT_LIST: {
        pb_account_item *item = append_account(d->pool, top->u.account_list);
        if (v->kind == VALUE_OBJECT)
            return push(d, (frame){.kind = FRAME_ACCOUNT, .u.account = item});
        return skip(d, v);
    }
    case FRAME_TOKEN_ACCOUNTS: {
        pb_token_accounts_item *item = append_token_accounts(d->pool, top->u.token_accounts);
        if (v->kind != VALUE_OBJECT)
            return skip(d, v);
        item->is_object = true;
        return push(d, (frame){.kind = FRAME_TOKEN_ACCOUNTS_ITEM, .u.token_accounts_item = item});
    }
    case FRAME_SKIP:
        break;
    }
    return skip(d, v);
}

static known_key key_for(const decoder *d, frame_kind kind, pb_str name)
{
    switch (kind) {
    case FRAME_ROOT:
        if (pb_str_eq(name, PB_STR_LIT("operator_type")))
            return KEY_OPERATOR_TYPE;
        if (pb_str_eq(name, PB_STR_LIT("account_type")))
            return KEY_ACCOUNT_TYPE;
        if (d->with_info != NULL && pb_str_eq(name, PB_STR_LIT("with_info")))
            return KEY_WITH_INFO;
        if (pb_str_eq(name, PB_STR_LIT("account_list")))
            return KEY_ACCOUNT_LIST;
        if (pb_str_eq(name, PB_STR_LIT("token_list")))
            return KEY_TOKEN_LIST;
        if (d->platform != NULL && pb_str_eq(name, PB_STR_LIT("platform")))
            return KEY_PLATFORM;
        if (d->token_accounts != NULL && pb_str_eq(name, PB_STR_LIT("token_accounts")))
            return KEY_TOKEN_ACCOUNTS;
        return KEY_UNKNOWN;
    case FRAME_ACCOUNT:
        if (pb_str_eq(name, PB_STR_LIT("account")))
            return KEY_ACCOUNT;
        if (pb_str_eq(name, PB_STR_LIT("account_type")))
            return KEY_ACCOUNT_TYPE;
        return KEY_UNKNOWN;
    case FRAME_TOKEN_ACCOUNTS_ITEM:
        if (pb_str_eq(name, PB_STR_LIT("token")))
            return KEY_TOKEN;
        if (pb_str_eq(name, PB_STR_LIT("account_list")))
            return KEY_ACCOUNT_LIST;
        return KEY_UNKNOWN;
    default:
        return KEY_UNKNOWN;
    }
}

/* yajl's callbacks: each returns 0 to cancel the parse, which becomes PB_ERR_PARSE. */

static int on_null(void *ctx)
{
    return on_value(ctx, &(value){.kind = VALUE_NULL});
}

/* A boolean's `len` is its value, so that with_info can tell true from false. */
static int on_boolean(void *ctx, int boolean)
{
    return on_value(ctx, &(value){.kind = VALUE_BOOL, .len = boolean != 0});
}

static int on_number(void *ctx, const char *text, size_t len)
{
    return on_value(ctx, &(value){.kind = VALUE_NUMBER, .text = text, .len = len});
}

static int on_string(void *ctx, const unsigned char *text, size_t len)
{
    if (!pb_utf8_is_valid((const char *)text, len))
        return 0;
    return on_value(ctx, &(value){.kind = VALUE_STRING, .text = (const char *)text, .len = len});
}

static int on_start_map(void *ctx)
{
    return on_value(ctx, &(value){.kind = VALUE_OBJECT});
}

static int on_start_array(void *ctx)
{
    return on_value(ctx, &(value){.kind = VALUE_ARRAY});
}

static int on_map_key(void *ctx, const unsigned char *text, size_t len)
{
    decoder *d = ctx;
    if (!pb_utf8_is_valid((const char *)text, len))
        return 0;
    d->key = key_for(d, d->stack[d->depth - 1].kind, (pb_str){(const char *)text, len});
    return 1;
}

/* The end of an object or an array: yajl has checked that they match. */
static int on_end(void *ctx)
{
    decoder *d = ctx;
    frame *closed = &d->stack[--d->depth];
    if (closed->kind == FRAME_ACCOUNT)
        closed->u.account->well_typed = d->account_is_string && d->account_type_ok;
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
static int decode(decoder *d, pb_pool *pool, const char *body, size_t len)
{
    d->pool = pool;
    d->body_begin = (uintptr_t)body;
    d->body_end = (uintptr_t)body + len;
    d->depth = 0;
    d->key = KEY_UNKNOWN;
    if (len == 0 || !unicode_escapes_are_valid(body, len))
        return PB_ERR_PARSE;

    yajl_alloc_funcs funcs = pb_yajl_pool_funcs(pool);
    yajl_handle parser = yajl_alloc(&callbacks, &funcs, d); /* never NULL: the pool aborts instead */
    yajl_status status = yajl_parse(parser, (const unsigned char *)body, len);
    if (status == yajl_status_ok)
        status = yajl_complete_parse(parser);
    yajl_free(parser);
    return status == yajl_status_ok ? PB_OK : PB_ERR_PARSE;
}

/*
 * Gives the elements of `list` that have no type of their own the top-level
 * account_type, or 0 without one (or with an unacceptable one, which the
 * endpoint refuses anyway).
 */
static void apply_default_type(const pb_default_account_type *type, pb_account_item_list *list)
{
    uint32_t fallback = type->state == PB_FIELD_PRESENT ? type->value : 0;
    for (size_t i = 0; i < list->n; i++)
        if (list->items[i].account.type == TYPE_NOT_GIVEN)
            list->items[i].account.type = fallback;
}

static void query_init(pb_query_request *out)
{
    *out = (pb_query_request){0};
}

static void batch_init(pb_batch_request *out)
{
    *out = (pb_batch_request){0};
    out->platform = empty;
}

/* On PB_ERR_PARSE, *out is left as an empty request: all fields absent. */
int pb_decode_query(pb_pool *pool, const char *body, size_t len, pb_query_request *out)
{
    decoder d = {
        .operator_type = &out->operator_type,
        .account_type = &out->account_type,
        .with_info_state = &out->with_info_state,
        .with_info = &out->with_info,
        .account_list = &out->account_list,
        .token_list = &out->token_list,
    };
    query_init(out);
    int code = decode(&d, pool, body, len);
    if (code != PB_OK)
        query_init(out);
    else
        apply_default_type(&out->account_type, &out->account_list);
    return code;
}

int pb_decode_batch(pb_pool *pool, const char *body, size_t len, pb_batch_request *out)
{
    decoder d = {
        .operator_type = &out->operator_type,
        .account_type = &out->account_type,
        .platform_state = &out->platform_state,
        .platform = &out->platform,
        .account_list = &out->account_list,
        .token_list = &out->token_list,
        .token_accounts = &out->token_accounts,
    };
    batch_init(out);
    int code = decode(&d, pool, body, len);
    if (code != PB_OK) {
        batch_init(out);
        return code;
    }
    apply_default_type(&out->account_type, &out->account_list);
    for (size_t i = 0; i < out->token_accounts.n; i++)
        apply_default_type(&out->account_type, &out->token_accounts.items[i].account_list);
    return code;
}
