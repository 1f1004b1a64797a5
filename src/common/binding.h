/*
 * The two things pushbind binds: accounts and device tokens.
 *
 * An account is a name plus a type; the same name under two types is two
 * different accounts (TPNS: 0 unspecified, 1 phone, 2 e-mail, 1000+ social
 * logins, 2001+ custom). A token is an opaque printable string.
 */
#ifndef PB_BINDING_H
#define PB_BINDING_H

#include <stdint.h>

#include "common/str.h"

/* docs/API.md: account_type is an integer 0–2147483647. */
#define PB_ACCOUNT_TYPE_MAX 2147483647u

/*
 * Reads an account_type written as a decimal integer, as JSON writes one
 * ("-0" is 0): true, and *type set, when it is one in 0..PB_ACCOUNT_TYPE_MAX.
 * The one rule for the API's JSON and the import's NDJSON and CSV alike.
 */
static inline bool pb_account_type_parse(const char *text, size_t len, uint32_t *type)
{
    size_t i = len > 0 && text[0] == '-' ? 1 : 0;
    uint64_t value = 0;
    if (i == len)
        return false;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        value = value * 10 + (uint64_t)(text[i] - '0');
        if (value > PB_ACCOUNT_TYPE_MAX)
            return false;
    }
    if (text[0] == '-' && value != 0)
        return false;
    *type = (uint32_t)value;
    return true;
}

typedef struct pb_account {
    pb_str name;
    uint32_t type;
} pb_account;

static inline bool pb_account_eq(const pb_account *a, const pb_account *b)
{
    return a->type == b->type && pb_str_eq(a->name, b->name);
}

/* SPEC: platform is android or ios; a token remembers the latest one given. */
typedef enum pb_platform {
    PB_PLATFORM_NONE = 0, /* never given */
    PB_PLATFORM_ANDROID = 1,
    PB_PLATFORM_IOS = 2,
} pb_platform;

/* When a binding was first made and last confirmed (op 1 / op 2 / import), Unix seconds. */
typedef struct pb_binding_times {
    int64_t bind_time;
    int64_t last_bind_time;
} pb_binding_times;

/* The tokens bound to one account, oldest binding first. */
typedef struct pb_token_list {
    pb_str *tokens;
    pb_binding_times *times; /* times[i] is tokens[i]'s binding; NULL unless the lookup asked for info */
    pb_platform *platforms;  /* platforms[i] is tokens[i]'s platform; NULL unless the lookup asked for info */
    size_t n;
} pb_token_list;

/* The accounts bound to one token, oldest binding first. */
typedef struct pb_account_list {
    pb_account *accounts;
    pb_binding_times *times; /* times[i] is accounts[i]'s binding; NULL unless the lookup asked for info */
    pb_platform platform;    /* the token's; PB_PLATFORM_NONE unless asked for info (or never given) */
    size_t n;
} pb_account_list;

/* "android" or "ios"; NULL for PB_PLATFORM_NONE (or anything else). */
static inline const char *pb_platform_name(pb_platform platform)
{
    return platform == PB_PLATFORM_ANDROID ? "android" : platform == PB_PLATFORM_IOS ? "ios" : NULL;
}

#endif
