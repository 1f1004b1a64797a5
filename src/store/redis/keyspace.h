/*
 * store/redis/keyspace.h — how the Redis backend lays apps and bindings out
 * in Redis (the twin of store/lmdb/keys.h), and the builders of its keys,
 * members and one-key commands. Private to store/redis/.
 *
 * Key layout (P is the namespace, "pushbind" unless the URL names another;
 * A the access id in decimal; {…} is the Redis Cluster hash tag, so each key
 * lives on the node of its own tag and an app spreads over the whole cluster):
 *
 *   P:apps                  set of access ids (for `app list`)
 *   P:apps-changed          the channel `app add` and `app remove` PUBLISH an
 *                           access id on (apps_watch.c)
 *   P:app:{A}               hash: secret, created (Unix seconds), bindings (a count),
 *                           untracked (batches written without a TTL), indexed
 *                           (the untracked of the last expiry backfill: backfill.c),
 *                           and "key:NAME" per named key = its record
 *                           (store/app_keys.h): the secret's lookup reads them
 *                           all with one HGETALL, `app remove` deletes them with
 *                           the hash
 *   P:seq:{A}               counter: the last binding sequence number handed out
 *   P:types:{A}             set of the account types the app has bound (decimal),
 *                           added by begin_batch; P:types-indexed marks a
 *                           namespace whose older bindings' types were recorded
 *                           (account_types.c)
 *   P:t:{A:TOKEN}           the token's record, the source of truth: sorted set,
 *                           member = account member, score = the binding's seq
 *   P:ti:{A:TOKEN}          the token's details, changed with its record by the
 *                           same script: hash, field = account member, value =
 *                           "BIND|LAST" (bind_time, last_bind_time, decimal);
 *                           field "p" = the platform (1 android, 2 ios), when
 *                           one was given; deleted with the last binding
 *   P:a:{A:TYPE:NAME}       the account's index: sorted set, member = index
 *                           member, score = the same seq
 *   P:exp:{A:N}             with --binding-ttl, the expiry index, shard N
 *                           (0 … PB_REDIS_EXPIRY_SHARDS-1, by the token record's
 *                           slot): sorted set, member = token, score = a time
 *                           at or before the token's earliest last_bind_time
 *                           (sweeper.c says when it may be later)
 *
 *   P:tags:{A}, P:tgrave:{A}, P:tt:{A:TOKEN}, P:tx:{A:TAG}:GEN, P:tm:{A:TAG}:GEN
 *                           tags: see store/redis/tags.h
 *
 *   account member          account_type as 4 bytes big-endian, then the name
 *   index member            seq as 8 bytes big-endian, then the token
 *
 * A binding is (account, token, seq). It exists when the token's record holds
 * the account with score seq. The account's index holds "seq|token" for every
 * binding of the account, and perhaps for a few that are being written or
 * whose writer died: an answer by account shows an index member only when the
 * token's record confirms it with the same seq. The seq in the member makes
 * every index member belong to exactly one attempt to bind, so a writer may
 * always delete the members it wrote without touching anyone else's.
 * Ordering by seq keeps binding-creation order in both lists.
 *
 * Everything built here is allocated from the `pool` given.
 */
#ifndef PB_STORE_REDIS_KEYSPACE_H
#define PB_STORE_REDIS_KEYSPACE_H

#include "store/redis/handles.h"

#define PB_REDIS_ACCOUNT_MEMBER_HEAD 4 /* account_type, big-endian */
#define PB_REDIS_INDEX_MEMBER_HEAD 8   /* seq, big-endian */
#define PB_REDIS_EXPIRY_SHARDS 16      /* expiry index keys per app, spread over the cluster by their tags */

/* ---- Keys ---- */

pb_str pb_redis_apps_key(pb_pool *pool, const pb_redis_store *store);
pb_str pb_redis_apps_channel(pb_pool *pool, const pb_redis_store *store);
/* "P:kind:{A}": kind "app" (the app's record) or "seq" (its counter). */
pb_str pb_redis_app_key(pb_pool *pool, const pb_redis_store *store, const char *kind, uint64_t access_id);
pb_str pb_redis_token_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, pb_str token);
pb_str pb_redis_times_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, pb_str token);
pb_str pb_redis_account_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                            const pb_account *account);
pb_str pb_redis_expiry_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, unsigned shard);
unsigned pb_redis_expiry_shard(pb_str token_key); /* which expiry index a token's entry is in */
/* Tags (store/redis/tags.h has their layout): "P:tt:{A:TOKEN}", and "P:KIND:{A:TAG}:GEN" (kind "tx" or "tm"). */
pb_str pb_redis_token_tags_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, pb_str token);
pb_str pb_redis_tag_key(pb_pool *pool, const pb_redis_store *store, const char *kind, uint64_t access_id, pb_str tag,
                        uint64_t gen);

/* The slot of a key built above. */
unsigned pb_redis_slot_of(pb_str key);

/* ---- Members and values ---- */

pb_str pb_redis_account_member(pb_pool *pool, const pb_account *account);
pb_str pb_redis_index_member(pb_pool *pool, uint64_t seq, pb_str token);

/* Reads an account member back; false when it is malformed. The name points into `member`. */
bool pb_redis_account_parse(pb_str member, pb_account *account);

/* Reads an index member back; false when it is malformed. The token points into `member`. */
bool pb_redis_index_parse(pb_str member, uint64_t *seq, pb_str *token);

/* Reads "BIND|LAST" (a details hash value); false when malformed. */
bool pb_redis_times_parse(const char *text, size_t len, pb_binding_times *times);

/* Whether a binding last confirmed at `last` has expired at `now`. */
static inline bool pb_redis_expired(const pb_redis_store *store, int64_t last, int64_t now)
{
    return store->binding_ttl > 0 && last + store->binding_ttl <= now;
}

/* `value` in decimal. */
pb_str pb_redis_decimal(pb_pool *pool, uint64_t value);

/* Parses a decimal score or count as Redis prints it; false when it is not one. */
bool pb_redis_parse_u64(const char *text, size_t len, uint64_t *value);

/* Reads one member of a set of numbers; false skips the member. */
typedef bool pb_redis_member_parse(const char *text, size_t len, uint64_t *value);

/*
 * The members of a set of numbers (an SMEMBERS reply), as `parse` reads
 * them, increasing, into *values from `pool`; a member it refuses is
 * skipped. Returns 0, or PB_STORE_EIO (*n 0) when the reply failed or is not
 * a set, with conn->error naming `what`.
 */
int pb_redis_set_parse(pb_redis_conn *conn, const redisReply *set, const char *what, pb_redis_member_parse *parse,
                       pb_pool *pool, uint64_t **values, size_t *n);

/* ---- One-key commands ---- */

/* VERB key …: argv[0] and argv[1] set, argc in all; the caller sets the rest with pb_redis_cmd_arg(). */
void pb_redis_cmd_key(pb_redis_cmd *cmd, pb_pool *pool, bool write, int argc, const char *verb, pb_str key);

/* EVALSHA sha1 1 key …: argv[0..3] set (a script on two keys sets argv[2] "2" and argv[4]); a write. */
void pb_redis_cmd_script(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_script *script, int argc, pb_str key);

/* ZRANGE key 0 -1 [WITHSCORES]. */
void pb_redis_cmd_zrange(pb_redis_cmd *cmd, pb_pool *pool, pb_str key, bool with_scores);

#endif
