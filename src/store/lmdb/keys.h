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
 *   keys      key   access_id (8) | key name
 *             value a named key's record (store/app_keys.h): role (1) |
 *                   created_at (8) | expires_at (8) | secret
 *             An app's keys are one range after its id: the secret's lookup
 *             reads them in the same snapshot, and `app remove` deletes the
 *             range. (No database before named keys: opening creates it.)
 *
 *   meta      key   "seq"
 *             value the next binding sequence number (8). One counter for the
 *             whole store, advanced in the write transaction for each new
 *             binding; a binding keeps its seq for life.
 *             key   "layout"
 *             value PB_LMDB_LAYOUT (1 byte): the version of this layout. A
 *             store with bindings and no "layout" predates bind times (layout
 *             1) and is upgraded at open (store/lmdb/upgrade.c).
 *             key   "upgrade"
 *             value the last tokens key an interrupted upgrade rewrote; only
 *             while an upgrade is under way.
 *
 *   tokens    key   access_id (8) | token                         MDB_DUPSORT
 *             dup   seq (8) | last_bind_time (4) | bind_time (4) | platform (1) |
 *                   account_type (4) | account name
 *
 *   accounts  key   access_id (8) | account_type (4) | account name  MDB_DUPSORT
 *             dup   seq (8) | token
 *
 * A binding is written twice, once per side, under the same seq. The accounts
 * side's dup holds what rebuilds the tokens side's key; the tokens side's dup
 * holds what rebuilds the accounts side's key and dup exactly. So an unbind
 * found from the token deletes its mirror with mdb_del(key, dup), and one
 * found from the account finds its mirror by seq (MDB_GET_BOTH_RANGE on the
 * 8-byte prefix: seqs are unique, so the first dup at or after it is it).
 *
 * Times and platform live on the tokens side only, 9 bytes per binding: the
 * goal is bytes per binding, and the by-token read (the hot one for a push
 * sender routing a token) then gets them from the dups it reads anyway.
 * Times are unsigned 32-bit Unix seconds (until 2106). The platform is the
 * token's, repeated in each of its dups (at most max_accounts_per_token of
 * them, rewritten together when it changes), so it costs one byte per binding
 * instead of a record per token, and goes with the token's last binding. A
 * re-bind rewrites its dup in place (MDB_CURRENT: same size, same seq, so it
 * sorts where it was): the binding keeps its place.
 *
 * Dups sort by their leading seq, so a token's accounts (and an account's
 * tokens) come out oldest binding first with no sorting; the variable-length
 * tail after the fixed fields needs no length prefix because LMDB keeps each
 * key's and dup's size. Every key starts with access_id, so one app's data is
 * a contiguous key range: apps cannot see each other's keys, and removing an
 * app is one range walk per database.
 *
 * LMDB caps keys and DUPSORT values at mdb_env_get_maxkeysize() (511 bytes
 * here). A token fits when 8 + its length does (its key and its accounts-side
 * dup); an account when 25 + its name's length does (its tokens-side dup).
 *
 * Tags (tag_apply.c writes them, tag_lookup.c reads them)
 * ----
 *   tags        key   access_id (8) | tag
 *               value gen (8) | count (8)
 *               key   access_id (8) alone (sorts before the app's tags)
 *               value distinct tags of the app (8)
 *   tag_tokens  key   access_id (8) | gen (8)                     MDB_DUPSORT
 *               dup   seq (8) | token
 *   token_tags  key   access_id (8) | token                       MDB_DUPSORT
 *               dup   seq (8) | time (4) | tag
 *   tag_graves  key   access_id (8) | gen (8)
 *               value empty: a deleted tag whose pairs are still being freed
 *
 * A tag's `gen` is the seq it took when it was created, so one tag name that
 * is deleted and made again gets a new tag_tokens key, and every pair of the
 * tag as it is now has a seq above its gen: a pair whose seq is below its
 * tag's gen (or whose tag has no record) belongs to a deleted tag. So the
 * token side needs no gen of its own (8 bytes a pair saved). A pair is written on
 * both sides under one seq from the same counter as bindings: a tag's tokens
 * come out in the order they got the tag and a token's tags in the order
 * they were added, and a page of tokens resumes after the last seq it gave,
 * which stays put while pairs come and go. `time` is when the pair was made
 * or last re-added (re-adding rewrites the dup with the same seq: it does not
 * move); token invalidation compares it. Per-tag counts and the app's number
 * of distinct tags are in `tags`, so counts and limits need no scan.
 *
 * Deleting a tag for every token (delete_all_device) deletes its `tags`
 * record and writes a grave in one commit: every read checks a pair's seq
 * against the tag's record, so the tag is gone at once. The writer frees the
 * grave's pairs, both sides, in bounded steps while no write is queued
 * (pb_lmdb_grave_step()). A token dup whose seq is below its tag's gen is
 * dead: a write that touches the token deletes its dead dups first, so
 * that the per-token limit counts live tags only.
 *
 * These databases were added without a layout change: a store from before
 * them opens with them empty, and nothing else moved.
 */
#ifndef PB_STORE_LMDB_KEYS_H
#define PB_STORE_LMDB_KEYS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/binding.h"

/* This layout's version, in meta "layout". 2: tokens dups carry bind times and platform. */
#define PB_LMDB_LAYOUT 2

/* Room for any key or dup LMDB accepts (maxkeysize is 511 in default builds). */
#define PB_LMDB_KEY_BUF 512

#define PB_LMDB_ID_LEN 8
#define PB_LMDB_SEQ_LEN 8
#define PB_LMDB_TYPE_LEN 4
/* In a tokens dup after seq: last_bind_time (4), bind_time (4), platform (1). */
#define PB_LMDB_INFO_LEN 9
#define PB_LMDB_ACCOUNT_DUP_HEAD (PB_LMDB_SEQ_LEN + PB_LMDB_INFO_LEN + PB_LMDB_TYPE_LEN)
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

/* What a tokens dup says about its binding besides the account. */
struct binding_info {
    uint32_t last_bind_time;
    uint32_t bind_time;
    pb_platform platform;
};

/* Unix seconds as stored: clamped to 0..UINT32_MAX. */
static inline uint32_t stored_time(int64_t t)
{
    return t < 0 ? 0 : t > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/* tokens dup: seq | last_bind_time | bind_time | platform | account_type | name. */
static inline size_t account_dup(unsigned char *buf, uint64_t seq, const struct binding_info *info,
                                 const pb_account *account)
{
    be64_put(buf, seq);
    be32_put(buf + PB_LMDB_SEQ_LEN, info->last_bind_time);
    be32_put(buf + PB_LMDB_SEQ_LEN + 4, info->bind_time);
    buf[PB_LMDB_SEQ_LEN + 8] = (unsigned char)info->platform;
    be32_put(buf + PB_LMDB_SEQ_LEN + PB_LMDB_INFO_LEN, account->type);
    return bytes_put(buf, PB_LMDB_ACCOUNT_DUP_HEAD, account->name.base, account->name.len);
}

/* accounts dup: seq | token. */
static inline size_t token_dup(unsigned char *buf, uint64_t seq, pb_str token)
{
    be64_put(buf, seq);
    return bytes_put(buf, PB_LMDB_SEQ_LEN, token.base, token.len);
}

/*
 * Reads a tokens dup; the name points into `dup`; `info` may be NULL. False
 * when it is too short or its platform is unknown.
 */
static inline bool account_dup_parse(const void *dup, size_t size, uint64_t *seq, struct binding_info *info,
                                     pb_account *account)
{
    const unsigned char *p = dup;
    if (size <= PB_LMDB_ACCOUNT_DUP_HEAD || p[PB_LMDB_SEQ_LEN + 8] > PB_PLATFORM_IOS)
        return false;
    *seq = be64_get(p);
    if (info != NULL)
        *info = (struct binding_info){be32_get(p + PB_LMDB_SEQ_LEN), be32_get(p + PB_LMDB_SEQ_LEN + 4),
                                      (pb_platform)p[PB_LMDB_SEQ_LEN + 8]};
    account->type = be32_get(p + PB_LMDB_SEQ_LEN + PB_LMDB_INFO_LEN);
    account->name = (pb_str){(const char *)p + PB_LMDB_ACCOUNT_DUP_HEAD, size - PB_LMDB_ACCOUNT_DUP_HEAD};
    return true;
}

/* The info of an imported binding: the line's times, else `now`. */
static inline struct binding_info import_info(const pb_binding_times *times, pb_platform platform, int64_t now)
{
    int64_t last = times->last_bind_time != 0 ? times->last_bind_time : now;
    int64_t bind = times->bind_time != 0 ? times->bind_time : last;
    return (struct binding_info){stored_time(last), stored_time(bind < last ? bind : last), platform};
}

/* Whether a binding last confirmed at `last` is gone under `ttl` (0: never) at `now`. */
static inline bool binding_expired(uint32_t last, int64_t ttl, int64_t now)
{
    return ttl > 0 && (int64_t)last + ttl <= now;
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

/* In a token_tags dup before the tag: seq, time. */
#define PB_LMDB_TAG_DUP_HEAD (PB_LMDB_SEQ_LEN + 4)
#define PB_LMDB_GEN_KEY_LEN (PB_LMDB_ID_LEN + 8)

/* tags key: access_id | tag. */
static inline size_t tag_key(unsigned char *buf, uint64_t access_id, pb_str tag)
{
    be64_put(buf, access_id);
    return bytes_put(buf, PB_LMDB_ID_LEN, tag.base, tag.len);
}

/* tag_tokens and tag_graves key: access_id | gen. */
static inline size_t gen_key(unsigned char *buf, uint64_t access_id, uint64_t gen)
{
    be64_put(buf, access_id);
    be64_put(buf + PB_LMDB_ID_LEN, gen);
    return PB_LMDB_GEN_KEY_LEN;
}

/* One pair as a token_tags dup says it; the tag points into the dup. */
struct tag_pair {
    uint64_t seq;
    uint32_t time;
    pb_str tag;
};

/* Whether a pair belongs to its tag as the tag is now (gen: the tag's record's). */
static inline bool tag_pair_live(const struct tag_pair *pair, uint64_t gen)
{
    return pair->seq > gen;
}

static inline size_t tag_pair_dup(unsigned char *buf, const struct tag_pair *pair)
{
    be64_put(buf, pair->seq);
    be32_put(buf + PB_LMDB_SEQ_LEN, pair->time);
    return bytes_put(buf, PB_LMDB_TAG_DUP_HEAD, pair->tag.base, pair->tag.len);
}

static inline bool tag_pair_parse(const void *dup, size_t size, struct tag_pair *pair)
{
    const unsigned char *p = dup;
    if (size <= PB_LMDB_TAG_DUP_HEAD)
        return false;
    *pair = (struct tag_pair){be64_get(p), be32_get(p + PB_LMDB_SEQ_LEN),
                              {(const char *)p + PB_LMDB_TAG_DUP_HEAD, size - PB_LMDB_TAG_DUP_HEAD}};
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
