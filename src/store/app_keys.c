/* store/app_keys.c — named keys' records and packed lists (see app_keys.h and store.h). */
#include <stdio.h>
#include <string.h>

#include "store/app_keys.h"

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

bool pb_store_key_name_valid(pb_str name)
{
    if (name.len == 0 || name.len > PB_KEY_NAME_MAX)
        return false;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.base[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '@' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool pb_key_check(const pb_app_key *key, char *error, size_t error_size)
{
    const char *why = NULL;
    if (!pb_store_key_name_valid(key->name))
        why = "key name: 1 to 64 of A-Z a-z 0-9 . _ @ -";
    else if (key->secret.len == 0 || key->secret.len > PB_KEY_SECRET_MAX)
        why = "key secret: 1 to 128 bytes";
    else if (key->role != PB_KEY_READ && key->role != PB_KEY_WRITE)
        why = "key role: read or write";
    if (why != NULL)
        snprintf(error, error_size, "%s", why);
    return why == NULL;
}

size_t pb_key_record_build(unsigned char *out, const pb_app_key *key)
{
    out[0] = (unsigned char)key->role;
    put_be64(out + 1, (uint64_t)key->created_at);
    put_be64(out + 9, (uint64_t)key->expires_at);
    size_t len = key->secret.len > PB_KEY_SECRET_MAX ? PB_KEY_SECRET_MAX : key->secret.len;
    if (len != 0)
        memcpy(out + PB_KEY_RECORD_HEAD, key->secret.base, len);
    return PB_KEY_RECORD_HEAD + len;
}

bool pb_key_record_parse(const unsigned char *record, size_t len, pb_app_key *key)
{
    if (len < PB_KEY_RECORD_HEAD || len > PB_KEY_RECORD_MAX || (record[0] != PB_KEY_READ && record[0] != PB_KEY_WRITE))
        return false;
    key->role = (pb_key_role)record[0];
    key->created_at = (int64_t)get_be64(record + 1);
    key->expires_at = (int64_t)get_be64(record + 9);
    key->secret = (pb_str){(const char *)record + PB_KEY_RECORD_HEAD, len - PB_KEY_RECORD_HEAD};
    return true;
}

void pb_keys_pack(pb_pool *pool, pb_str *packed, pb_str name, pb_str record)
{
    if (name.len == 0 || name.len > PB_KEY_NAME_MAX || record.len > PB_KEY_RECORD_MAX)
        return;
    size_t len = packed->len + 2 + name.len + record.len;
    char *out = pb_pool_alloc(pool, len);
    if (packed->len != 0)
        memcpy(out, packed->base, packed->len);
    char *p = out + packed->len;
    *p++ = (char)name.len;
    memcpy(p, name.base, name.len);
    p += name.len;
    *p++ = (char)record.len;
    memcpy(p, record.base, record.len);
    *packed = (pb_str){out, len};
}

bool pb_store_keys_next(pb_str *packed, pb_app_key *key)
{
    const unsigned char *p = (const unsigned char *)packed->base;
    size_t left = packed->len;
    if (left < 2 || p[0] == 0 || left < 2u + p[0])
        return false;
    size_t name_len = p[0], record_len = p[1 + name_len];
    if (left < 2 + name_len + record_len || !pb_key_record_parse(p + 2 + name_len, record_len, key))
        return false;
    key->name = (pb_str){(const char *)p + 1, name_len};
    packed->base += 2 + name_len + record_len;
    packed->len -= 2 + name_len + record_len;
    return true;
}
