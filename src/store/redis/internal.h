/*
 * store/redis/internal.h — state shared by the Redis backend's files:
 * redis.c (opening, sessions, views, key building), read.c (lookups and the
 * app secret), apply.c (binding changes), apps.c (apps, for the command line)
 * and scripts.c (the Lua scripts); cluster.c and slot.c speak to the servers.
 * Private to store/redis/.
 *
 * Key layout (P is the namespace, "pushbind" unless the URL names another;
 * A the access id in decimal; {…} is the Redis Cluster hash tag, so each key
 * lives on the node of its own tag and an app spreads over the whole cluster):
 *
 *   P:apps                  set of access ids (for `app list`)
 *   P:app:{A}               hash: secret, created (Unix seconds), bindings (a count)
 *   P:seq:{A}               counter: the last binding sequence number handed out
 *   P:t:{A:TOKEN}           the token's record, the source of truth: sorted set,
 *                           member = account member, score = the binding's seq
 *   P:a:{A:TYPE:NAME}       the account's index: sorted set, member = index
 *                           member, score = the same seq
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
 * Ordering by seq keeps binding-creation order in both lists. docs/design.md
 * explains the write protocol and each failure case.
 */
#ifndef PB_STORE_REDIS_INTERNAL_H
#define PB_STORE_REDIS_INTERNAL_H

#include "store/redis/backend.h"
#include "store/redis/cluster.h"

#define PB_REDIS_DEFAULT_NAMESPACE "pushbind"
#define PB_REDIS_DEFAULT_TIMEOUT_MS 2000
#define PB_REDIS_ACCOUNT_MEMBER_HEAD 4 /* account_type, big-endian */
#define PB_REDIS_INDEX_MEMBER_HEAD 8   /* seq, big-endian */

/* The scripts every session runs; bodies and contracts in scripts.c. */
typedef struct pb_redis_scripts {
    pb_redis_script begin_batch; /* app exists? then reserve seqs */
    pb_redis_script reserve;     /* add an index member within the account limit */
    pb_redis_script change;      /* change a token's record atomically */
    pb_redis_script app_put;     /* create or update an app */
} pb_redis_scripts;

struct pb_redis_store {
    pb_redis_target target;
    char *prefix; /* the namespace, malloc'ed */
    pb_store_limits limits;
    unsigned wait_replicas; /* WAIT for this many replicas after each batch (0: don't) */
    pb_redis_scripts scripts;
};

struct pb_redis_view {
    pb_redis_session *session;
};

struct pb_redis_session {
    pb_redis_store *store;
    pb_redis_conn conn;
    pb_pool pool; /* scratch for one call, and the strings of the open view */
    bool view_open;
    pb_redis_view view;
};

/* Fills in each script's body and SHA1. */
void pb_redis_scripts_init(pb_redis_scripts *scripts);

/* ---- Keys and members, built in `pool` ---- */

pb_str pb_redis_token_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, pb_str token);
pb_str pb_redis_account_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                            const pb_account *account);
pb_str pb_redis_app_key(pb_pool *pool, const pb_redis_store *store, const char *kind, uint64_t access_id);
pb_str pb_redis_account_member(pb_pool *pool, const pb_account *account);
pb_str pb_redis_index_member(pb_pool *pool, uint64_t seq, pb_str token);

/* Reads an account member back; false when it is malformed. The name points into `member`. */
bool pb_redis_account_parse(pb_str member, pb_account *account);

/* Reads an index member back; false when it is malformed. The token points into `member`. */
bool pb_redis_index_parse(pb_str member, uint64_t *seq, pb_str *token);

/* The slot of a key built above. */
unsigned pb_redis_slot_of(pb_str key);

/* `value` in decimal, in `pool`. */
pb_str pb_redis_decimal(pb_pool *pool, uint64_t value);

/* Parses a decimal score or count as Redis prints it; false when it is not one. */
bool pb_redis_parse_u64(const char *text, size_t len, uint64_t *value);

#endif
