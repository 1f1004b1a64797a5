/*
 * store/lmdb/keys.h — how the embedded store (store/lmdb/) lays bindings out in
 * LMDB. Private to store/lmdb/.
 *
 * Key layout
 * ----------
 * Every integer is big-endian, so LMDB's default bytewise comparison orders
 * them numerically; every order the store promises comes from that.
 *
 *   apps      key   access_id (8)
 *             value created_at (8, two's complement) | bindings (8) |
 *                   secret_len (4) | secret (secret_len)
 *             Keys sort by access_id: listing apps in access_id order is a
 *             plain cursor walk.
 *
 *   meta      key   "seq"
 *             value the next binding sequence number (8). One counter for the
 *             whole store, advanced in the write transaction for each new
 *             binding; a binding keeps its seq for life.
 *
 *   tokens    key   access_id (8) | token                         MDB_DUPSORT
 *             dup   seq (8) | account_type (4) | account name
 *
 *   accounts  key   access_id (8) | account_type (4) | account name  MDB_DUPSORT
 *             dup   seq (8) | token
 *
 * A binding is written twice, once per side, under the same seq. Each side's
 * dup holds what is needed to rebuild the other side's key and dup exactly, so
 * an unbind found from either side deletes its mirror with mdb_del(key, dup).
 * Dups sort by their leading seq, so a token's accounts (and an account's
 * tokens) come out oldest binding first with no sorting; the variable-length
 * tail after the fixed fields needs no length prefix because LMDB keeps each
 * key's and dup's size. Every key starts with access_id, so one app's data is
 * a contiguous key range: apps cannot see each other's keys, and removing an
 * app is one range walk per database.
 *
 * LMDB caps keys and DUPSORT values at mdb_env_get_maxkeysize() (511 bytes
 * here). A token fits when 8 + its length does (its key and its accounts-side
 * dup); an account when 12 + its name's length does.
 */
#ifndef PB_STORE_LMDB_KEYS_H
#define PB_STORE_LMDB_KEYS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/binding.h"

/* Room for any key or dup LMDB accepts (maxkeysize is 511 in default builds). */
#define PB_LMDB_KEY_BUF 512

#define PB_LMDB_ID_LEN 8
#define PB_LMDB_SEQ_LEN 8
#define PB_LMDB_TYPE_LEN 4
/* Bytes before a token in its tokens key (access_id) and in its accounts dup
 * (seq); before an account name in its accounts key and its tokens dup. */
#define PB_LMDB_TOKEN_OVERHEAD PB_LMDB_ID_LEN
#define PB_LMDB_ACCOUNT_OVERHEAD (PB_LMDB_ID_LEN + PB_LMDB_TYPE_LEN)

/* apps value: the fixed part before the secret bytes. */
#define PB_LMDB_APP_HEAD 20

static inline void be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static inline uint64_t be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline void be32_put(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static inline uint32_t be32_get(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends `len` bytes at buf + off and returns the new length. */
static inline size_t bytes_put(unsigned char *buf, size_t off, const char *bytes, size_t len)
{
    if (len != 0)
        memcpy(buf + off, bytes, len);
    return off + len;
}

/* tokens key: access_id | token. The caller checked that it fits. */
static inline size_t token_key(unsigned char *buf, uint64_t access_id, pb_str token)
{
    be64_put(buf, access_id);
    return bytes_put(buf, PB_LMDB_ID_LEN, token.base, token.len);
}

/* accounts key: access_id | account_type | name. */
static inline size_t account_key(unsigned char *buf, uint64_t access_id, const pb_account *account)
{
    be64_put(buf, access_id);
    be32_put(buf + PB_LMDB_ID_LEN, account->type);
    return bytes_put(buf, PB_LMDB_ACCOUNT_OVERHEAD, account->name.base, account->name.len);
}

/* tokens dup: seq | account_type | name. */
static inline size_t account_dup(unsigned char *buf, uint64_t seq, const pb_account *account)
{
    be64_put(buf, seq);
    be32_put(buf + PB_LMDB_SEQ_LEN, account->type);
    return bytes_put(buf, PB_LMDB_SEQ_LEN + PB_LMDB_TYPE_LEN, account->name.base, account->name.len);
}

/* accounts dup: seq | token. */
static inline size_t token_dup(unsigned char *buf, uint64_t seq, pb_str token)
{
    be64_put(buf, seq);
    return bytes_put(buf, PB_LMDB_SEQ_LEN, token.base, token.len);
}

/* Reads a tokens dup; the name points into `dup`. False when it is too short. */
static inline bool account_dup_parse(const void *dup, size_t size, uint64_t *seq, pb_account *account)
{
    const unsigned char *p = dup;
    if (size <= PB_LMDB_SEQ_LEN + PB_LMDB_TYPE_LEN)
        return false;
    *seq = be64_get(p);
    account->type = be32_get(p + PB_LMDB_SEQ_LEN);
    account->name = (pb_str){(const char *)p + PB_LMDB_SEQ_LEN + PB_LMDB_TYPE_LEN,
                             size - PB_LMDB_SEQ_LEN - PB_LMDB_TYPE_LEN};
    return true;
}

/* Reads an accounts dup; the token points into `dup`. */
static inline bool token_dup_parse(const void *dup, size_t size, uint64_t *seq, pb_str *token)
{
    const unsigned char *p = dup;
    if (size <= PB_LMDB_SEQ_LEN)
        return false;
    *seq = be64_get(p);
    *token = (pb_str){(const char *)p + PB_LMDB_SEQ_LEN, size - PB_LMDB_SEQ_LEN};
    return true;
}

/* An apps value, decoded; the secret points into the value. */
struct app_record {
    int64_t created_at;
    uint64_t bindings;
    pb_str secret;
};

static inline bool app_record_parse(const void *value, size_t size, struct app_record *app)
{
    const unsigned char *p = value;
    if (size < PB_LMDB_APP_HEAD || size - PB_LMDB_APP_HEAD != be32_get(p + 16))
        return false;
    app->created_at = (int64_t)be64_get(p);
    app->bindings = be64_get(p + 8);
    app->secret = (pb_str){(const char *)p + PB_LMDB_APP_HEAD, size - PB_LMDB_APP_HEAD};
    return true;
}

/* Encodes `app` into buf, which has room for PB_LMDB_APP_HEAD + secret.len. */
static inline size_t app_record_build(unsigned char *buf, const struct app_record *app)
{
    be64_put(buf, (uint64_t)app->created_at);
    be64_put(buf + 8, app->bindings);
    be32_put(buf + 16, (uint32_t)app->secret.len);
    return bytes_put(buf, PB_LMDB_APP_HEAD, app->secret.base, app->secret.len);
}

#endif
