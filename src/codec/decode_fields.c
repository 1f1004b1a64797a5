/*
 * decode_fields.c — where each value of a request body lands: the keys each
 * object knows, how a scalar is read into its typed field, how lists grow.
 *
 * The frame stack and its types are described in codec/decode.h; the yajl
 * callbacks that feed pb_decode_on_value() are in decode_parse.c.
 */
#include <string.h>

#include "codec/decode.h"

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

static pb_token_item *append_token(pb_pool *pool, pb_token_item_list *list)
{
    list->items = pb_pool_grow(pool, list->items, list->n, sizeof(*list->items));
    pb_token_item *item = &list->items[list->n++];
    *item = (pb_token_item){.token = empty, .is_string = false};
    return item;
}

static pb_account_item *append_account(pb_pool *pool, pb_account_item_list *list)
{
    list->items = pb_pool_grow(pool, list->items, list->n, sizeof(*list->items));
    pb_account_item *item = &list->items[list->n++];
    *item = (pb_account_item){.account = {.name = empty, .type = TYPE_NOT_GIVEN}, .well_typed = false};
    return item;
}

static pb_token_accounts_item *append_token_accounts(pb_pool *pool, pb_token_accounts_list *list)
{
    list->items = pb_pool_grow(pool, list->items, list->n, sizeof(*list->items));
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
    if (f.kind == FRAME_PAIR_OBJECT || f.kind == FRAME_PAIR_ARRAY) {
        d->pair_values = 0;
        d->pair_tag_ok = d->pair_token_ok = false;
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

static void read_integer(pb_integer_field *out, const value *v)
{
    *out = (pb_integer_field){PB_FIELD_ABSENT, 0};
    if (v->kind == VALUE_NULL)
        return;
    out->state = is_integer_text(v) && parse_int64(v->text, v->len, &out->value) ? PB_FIELD_PRESENT
                                                                                  : PB_FIELD_WRONG_TYPE;
}

/* A string field: its state and, when a string, its text. */
static void read_string(decoder *d, const value *v, pb_field_state *state, pb_str *out)
{
    *out = empty;
    *state = v->kind == VALUE_STRING ? PB_FIELD_PRESENT : v->kind == VALUE_NULL ? PB_FIELD_ABSENT : PB_FIELD_WRONG_TYPE;
    if (v->kind == VALUE_STRING)
        *out = keep_string(d, v);
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
        if (d->invalidate != NULL) {
            *d->invalidate = (pb_invalidate_list){0};
            return open_list(d, v, &d->invalidate->state,
                             (frame){.kind = FRAME_INVALIDATE_LIST, .u.invalidate = d->invalidate});
        }
        *d->token_list = (pb_token_item_list){0};
        return open_list(d, v, &d->token_list->state,
                         (frame){.kind = FRAME_TOKEN_LIST, .u.token_list = d->token_list});
    case KEY_TAG_LIST:
        *d->tag_list = (pb_token_item_list){0};
        return open_list(d, v, &d->tag_list->state, (frame){.kind = FRAME_TOKEN_LIST, .u.token_list = d->tag_list});
    case KEY_TAG_TOKEN_LIST:
        *d->tag_token_list = (pb_tag_pair_list){0};
        return open_list(d, v, &d->tag_token_list->state,
                         (frame){.kind = FRAME_PAIR_LIST, .u.pairs = d->tag_token_list});
    case KEY_SEQ:
        read_integer(d->seq, v);
        return skip(d, v);
    case KEY_LIMIT:
        read_integer(d->limit, v);
        return skip(d, v);
    case KEY_TAG:
        read_string(d, v, d->tag_state, d->tag);
        return skip(d, v);
    case KEY_CURSOR:
        read_string(d, v, d->cursor_state, d->cursor);
        return skip(d, v);
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

static int pair_field(decoder *d, pb_tag_pair_item *pair, known_key key, const value *v)
{
    pb_str text = v->kind == VALUE_STRING ? keep_string(d, v) : empty;
    if (key == KEY_TAG) {
        pair->tag = text;
        d->pair_tag_ok = v->kind == VALUE_STRING;
    } else if (key == KEY_TOKEN) {
        pair->token = text;
        d->pair_token_ok = v->kind == VALUE_STRING;
    }
    return skip(d, v);
}

static int invalidate_field(decoder *d, pb_invalidate_item *item, const value *v)
{
    switch (d->key) {
    case KEY_TOKEN:
        item->token = read_token(d, v);
        break;
    case KEY_INVALID_SINCE:
        read_integer(&item->invalid_since, v);
        break;
    case KEY_REASON:
        read_string(d, v, &item->reason_state, &item->reason);
        break;
    default:
        break;
    }
    return skip(d, v);
}

/* Every value, scalar or the start of a container, comes through here. */
int pb_decode_on_value(decoder *d, const value *v)
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
    case FRAME_PAIR_LIST: {
        pb_tag_pair_list *list = top->u.pairs;
        list->items = pb_pool_grow(d->pool, list->items, list->n, sizeof(*list->items));
        pb_tag_pair_item *pair = &list->items[list->n++];
        *pair = (pb_tag_pair_item){empty, empty, false};
        if (v->kind == VALUE_OBJECT || v->kind == VALUE_ARRAY)
            return push(d, (frame){.kind = v->kind == VALUE_OBJECT ? FRAME_PAIR_OBJECT : FRAME_PAIR_ARRAY,
                                   .u.pair = pair});
        return skip(d, v);
    }
    case FRAME_PAIR_OBJECT:
        return pair_field(d, top->u.pair, d->key, v);
    case FRAME_PAIR_ARRAY: {
        size_t index = d->pair_values++;
        return pair_field(d, top->u.pair, index == 0 ? KEY_TAG : index == 1 ? KEY_TOKEN : KEY_UNKNOWN, v);
    }
    case FRAME_INVALIDATE_LIST: {
        pb_invalidate_list *list = top->u.invalidate;
        list->items = pb_pool_grow(d->pool, list->items, list->n, sizeof(*list->items));
        pb_invalidate_item *item = &list->items[list->n++];
        *item = (pb_invalidate_item){.token = {empty, false}, .reason = empty};
        if (v->kind != VALUE_OBJECT)
            return skip(d, v);
        item->is_object = true;
        return push(d, (frame){.kind = FRAME_INVALIDATE_ITEM, .u.invalidate_item = item});
    }
    case FRAME_INVALIDATE_ITEM:
        return invalidate_field(d, top->u.invalidate_item, v);
    case FRAME_SKIP:
        break;
    }
    return skip(d, v);
}

/* The key `name` means in an object of kind `kind` (codec/decode.h). */
known_key pb_decode_key_for(const decoder *d, frame_kind kind, pb_str name)
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
        if (d->tag_list != NULL && pb_str_eq(name, PB_STR_LIT("tag_list")))
            return KEY_TAG_LIST;
        if (d->tag_token_list != NULL && pb_str_eq(name, PB_STR_LIT("tag_token_list")))
            return KEY_TAG_TOKEN_LIST;
        if (d->seq != NULL && pb_str_eq(name, PB_STR_LIT("seq")))
            return KEY_SEQ;
        if (d->tag != NULL && pb_str_eq(name, PB_STR_LIT("tag")))
            return KEY_TAG;
        if (d->cursor != NULL && pb_str_eq(name, PB_STR_LIT("cursor")))
            return KEY_CURSOR;
        if (d->limit != NULL && pb_str_eq(name, PB_STR_LIT("limit")))
            return KEY_LIMIT;
        return KEY_UNKNOWN;
    case FRAME_PAIR_OBJECT:
        if (pb_str_eq(name, PB_STR_LIT("tag")))
            return KEY_TAG;
        if (pb_str_eq(name, PB_STR_LIT("token")))
            return KEY_TOKEN;
        return KEY_UNKNOWN;
    case FRAME_INVALIDATE_ITEM:
        if (pb_str_eq(name, PB_STR_LIT("token")))
            return KEY_TOKEN;
        if (pb_str_eq(name, PB_STR_LIT("invalid_since")))
            return KEY_INVALID_SINCE;
        if (pb_str_eq(name, PB_STR_LIT("reason")))
            return KEY_REASON;
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
