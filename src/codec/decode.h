/*
 * codec/decode.h — the request decoder's state and the pieces its files share.
 * Private to codec/.
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
 *
 * decode.c holds the two entry points (which fields each request has, what a
 * refused body leaves), decode_parse.c yajl's run and callbacks (what the
 * parse refuses), decode_fields.c where each value lands (the keys each
 * object knows and how each value is read).
 */
#ifndef PB_CODEC_DECODE_H
#define PB_CODEC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* What an open container is. */
typedef enum frame_kind {
    FRAME_ROOT,                /* the top-level object */
    FRAME_ACCOUNT_LIST,        /* an array of {"account", "account_type"} */
    FRAME_ACCOUNT,             /* one object of an account list */
    FRAME_TOKEN_LIST,          /* an array of token strings */
    FRAME_TOKEN_ACCOUNTS,      /* batchoperate's token_accounts array */
    FRAME_TOKEN_ACCOUNTS_ITEM, /* one object of it */
    FRAME_PAIR_LIST,           /* the tag endpoint's tag_token_list */
    FRAME_PAIR_OBJECT,         /* one pair as {"tag", "token"} */
    FRAME_PAIR_ARRAY,          /* one pair as ["tag", "token"] */
    FRAME_INVALIDATE_LIST,     /* invalidate's token_list of objects */
    FRAME_INVALIDATE_ITEM,     /* one object of it */
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
    KEY_WITH_INFO,
    KEY_TAG_LIST,
    KEY_TAG_TOKEN_LIST,
    KEY_SEQ,
    KEY_TAG,
    KEY_CURSOR,
    KEY_LIMIT,
    KEY_INVALID_SINCE,
    KEY_REASON
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
        pb_tag_pair_list *pairs;
        pb_tag_pair_item *pair;
        pb_invalidate_list *invalidate;
        pb_invalidate_item *invalidate_item;
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
    /* The tag endpoints' (pb_tag_request). */
    pb_token_item_list *tag_list;
    pb_tag_pair_list *tag_token_list;
    pb_integer_field *seq;
    pb_integer_field *limit;
    pb_field_state *tag_state;
    pb_str *tag;
    pb_field_state *cursor_state;
    pb_str *cursor;
    pb_invalidate_list *invalidate; /* when set, token_list holds objects */

    frame stack[PB_JSON_MAX_DEPTH];
    size_t depth; /* open containers */
    known_key key; /* the last key read; yajl always reports a key before its value */

    /*
     * The account element being read (they never nest): whether its last
     * "account" was a string and its last "account_type" acceptable.
     */
    bool account_is_string;
    bool account_type_ok;
    /* The pair being read (they never nest): values seen, and whether its tag and token were strings. */
    size_t pair_values;
    bool pair_tag_ok, pair_token_ok;
} decoder;

static const pb_str empty = {"", 0};

/*
 * An account element's type while the body is parsed, until it is known
 * whether it had one of its own: the top-level account_type may come after
 * the lists. Above PB_ACCOUNT_TYPE_MAX, so no sent type can look like it.
 */
#define TYPE_NOT_GIVEN UINT32_MAX

/*
 * Runs the parse of `body` with the fields `d` points at (the other members
 * of `d` are set here). Returns PB_OK, or PB_ERR_PARSE when the body is empty,
 * has an escaped surrogate that is not half of a pair, is not UTF-8 JSON, is
 * not one object, or nests deeper than PB_JSON_MAX_DEPTH. The fields filled
 * before a refusal stay as they were left: the caller empties the request.
 * (decode_parse.c)
 */
int pb_decode_run(decoder *d, pb_pool *pool, const char *body, size_t len);

/*
 * Puts `v` where the innermost frame and the last key read say, opening a
 * frame for a container. Returns 1, or 0 to cancel the parse: the top-level
 * value is not an object, or a container would nest deeper than
 * PB_JSON_MAX_DEPTH. (decode_fields.c)
 */
int pb_decode_on_value(decoder *d, const value *v);

/*
 * The key `name` means in an object of kind `kind`: KEY_UNKNOWN for a key
 * that object does not have, or that the request being decoded has no field
 * for. (decode_fields.c)
 */
known_key pb_decode_key_for(const decoder *d, frame_kind kind, pb_str name);

#endif
