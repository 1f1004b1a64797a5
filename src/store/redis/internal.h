/*
 * store/redis/internal.h — state shared by the Redis backend's files:
 * redis.c (opening, sessions, views, key building), read.c (lookups and the
 * app secret), apply*.c (binding changes), apps.c (apps, for the command line
 * and the app list a metrics scrape reads)
 * and scripts.c (the Lua scripts); cluster.c and slot.c speak to the servers.
 * Private to store/redis/.
 *
 * Key layout (P is the namespace, "pushbind" unless the URL names another;
 * A the access id in decimal; {…} is the Redis Cluster hash tag, so each key
 * lives on the node of its own tag and an app spreads over the whole cluster):
 *
 *   P:apps                  set of access ids (for `app list`)
 *   P:app:{A}               hash: secret, created (Unix seconds), bindings (a count),
 *                           untracked (batches written without a TTL), indexed
 *                           (the untracked of the last expiry backfill: backfill.c)
 *   P:seq:{A}               counter: the last binding sequence number handed out
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
 *                           (expiry.c says when it may be later)
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

#include <pthread.h>

#include "store/redis/backend.h"
#include "store/redis/cluster.h"

#define PB_REDIS_DEFAULT_NAMESPACE "pushbind"
#define PB_REDIS_DEFAULT_TIMEOUT_MS 2000
#define PB_REDIS_ACCOUNT_MEMBER_HEAD 4 /* account_type, big-endian */
#define PB_REDIS_INDEX_MEMBER_HEAD 8   /* seq, big-endian */
#define PB_REDIS_EXPIRY_SHARDS 16      /* expiry index keys per app, spread over the cluster by their tags */

/* The scripts every session runs; bodies and contracts in scripts.c. */
typedef struct pb_redis_scripts {
    pb_redis_script begin_batch; /* app exists? then reserve seqs */
    pb_redis_script reserve;     /* add an index member within the account limit */
    pb_redis_script change;      /* change a token's record and details atomically */
    pb_redis_script rescore;     /* move or drop expiry index entries unless a writer moved them */
    pb_redis_script app_put;     /* create or update an app */
    pb_redis_script mark_indexed; /* an app's tokens all have expiry index entries (backfill.c) */
} pb_redis_scripts;

typedef struct pb_redis_apps_watch pb_redis_apps_watch; /* apps_watch.c */
typedef struct pb_redis_aconn pb_redis_aconn;           /* async_cluster.h */
typedef struct pb_redis_secret_cache pb_redis_secret_cache; /* read_async.c */
typedef struct pb_redis_sweeper pb_redis_sweeper;           /* expiry.c */

struct pb_redis_store {
    pb_redis_target target;
    char *prefix; /* the namespace, malloc'ed */
    pb_store_limits limits;
    int64_t binding_ttl;    /* seconds; 0: bindings never expire */
    unsigned wait_replicas; /* WAIT for this many replicas after each batch (0: don't) */
    bool wait_all;          /* ?wait=all: WAIT for every replica the slot map lists for the node written */
    pb_redis_scripts scripts;
    pb_metrics *metrics;
    pthread_mutex_t lazy_lock;   /* guards starting the two below */
    pb_redis_apps_watch *watch;  /* started by the first session bound to a loop */
    pb_redis_sweeper *sweeper;   /* likewise, with a binding TTL */
};

/* Whether batches wait for replicas before they are acknowledged (?wait=N with N > 0, or ?wait=all). */
static inline bool pb_redis_waits(const struct pb_redis_store *store)
{
    return store->wait_replicas != 0 || store->wait_all;
}

struct pb_redis_view {
    pb_redis_session *session;
};

struct pb_redis_session {
    pb_redis_store *store;
    pb_redis_conn conn;
    pb_pool pool; /* scratch for one call, and the strings of the open view */
    bool view_open;
    pb_redis_view view;
    /* Bound to an event loop (pb_redis_session_attach_loop()): */
    pb_redis_aconn *aconn;          /* the loop's connections for lookups; NULL when not bound */
    pb_redis_aconn *wconn;          /* and for writes (apply.c): WAIT holds them up */
    pb_redis_secret_cache *secrets; /* apps' secrets read lately by this thread */
};

/* ---- Lookups, built and read by read.c, carried by pb_redis_run() or pb_redis_arun() ---- */

/* One index member awaiting confirmation by its token's record. */
typedef struct pb_redis_candidate {
    size_t account; /* which input account */
    uint64_t seq;
    pb_str token;
} pb_redis_candidate;

/*
 * The second round of a lookup by account: checks[k] confirms candidates[k];
 * with details, checks[n + k] reads its times and its token's platform.
 */
typedef struct pb_redis_candidates {
    pb_redis_candidate *candidates;
    pb_redis_cmd *checks;
    size_t n, n_checks;
} pb_redis_candidates;

/*
 * What a list lookup reads besides the lists: details (times and platform:
 * for with_info, and with a TTL to hide what has expired) and the clock that
 * judges expiry.
 */
typedef struct pb_redis_read {
    bool details, with_info;
    int64_t now;
} pb_redis_read;

/* What `with_info` asks of a lookup on `store`, the clock read now. */
pb_redis_read pb_redis_read_of(const pb_redis_store *store, bool with_info);

/* HGET of the app's secret; the parse returns what pb_redis_app_secret() does, the secret in `pool`. */
void pb_redis_secret_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store, uint64_t access_id);
int pb_redis_secret_parse(pb_redis_conn *conn, const pb_redis_cmd *cmd, pb_pool *pool, pb_str *secret);

/* HMGET of the app's created time and count; the parse returns what pb_redis_app_of() does. */
void pb_redis_app_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store, uint64_t access_id);
int pb_redis_app_parse(pb_redis_conn *conn, const pb_redis_cmd *cmd, uint64_t access_id, pb_app_info *app);

/*
 * The app list (apps.c: pb_redis_app_list(), and the loop's APPS lookup), in
 * two rounds. The first is the SMEMBERS of the apps set. From its reply, the
 * second: one pb_redis_app_cmd() per listed id, ids increasing, into *round
 * from `pool` (0, or PB_STORE_EIO with round->n 0). From the second's
 * replies, the apps that have a record, in that order, into *apps from
 * `pool` (0 or PB_STORE_EIO).
 */
typedef struct pb_redis_app_round {
    uint64_t *ids;
    pb_redis_cmd *cmds; /* cmds[i] reads the record of ids[i] */
    size_t n;
} pb_redis_app_round;

void pb_redis_apps_members_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store);
int pb_redis_apps_records_cmds(pb_redis_conn *conn, const pb_redis_cmd *members, pb_pool *pool,
                               const pb_redis_store *store, pb_redis_app_round *round);
int pb_redis_apps_records_parse(pb_redis_conn *conn, const pb_redis_app_round *round, pb_pool *pool,
                                pb_app_info **apps, size_t *n_apps);

/*
 * By token: one command per token, two with details (cmds has n * (1 +
 * details) room); the parse fills out[0..n-1] from `pool` (0 or PB_STORE_EIO).
 */
void pb_redis_accounts_cmds(pb_redis_cmd *cmds, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                            const pb_str *tokens, size_t n, const pb_redis_read *how);
int pb_redis_accounts_parse(pb_redis_conn *conn, const pb_redis_store *store, const pb_redis_cmd *cmds, size_t n,
                            const pb_redis_read *how, pb_pool *pool, pb_account_list *out);

/* By account: the indexes (first round), their checks (second round), then the lists. */
void pb_redis_tokens_cmds(pb_redis_cmd *cmds, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                          const pb_account *accounts, size_t n);
int pb_redis_tokens_checks(pb_redis_conn *conn, const pb_redis_store *store, uint64_t access_id,
                           const pb_account *accounts, const pb_redis_cmd *cmds, size_t n, const pb_redis_read *how,
                           pb_pool *pool, pb_redis_candidates *out);
int pb_redis_tokens_parse(pb_redis_conn *conn, const pb_redis_store *store, const pb_redis_cmd *cmds, size_t n,
                          const pb_redis_candidates *found, const pb_redis_read *how, pb_pool *pool,
                          pb_token_list *out);

/*
 * The secret cache of a session bound to a loop (read_async.c): whether app
 * `access_id`'s secret was read lately (true: *rc and, when 0, *secret in
 * `pool`); and remembering one read when the apps epoch was `epoch`.
 * Without a loop, nothing is cached.
 */
bool pb_redis_secret_cached(pb_redis_session *session, uint64_t access_id, pb_pool *pool, int *rc, pb_str *secret);
void pb_redis_secret_remember(pb_redis_session *session, uint64_t access_id, uint64_t epoch, int rc, pb_str secret);

/* ---- Apps changing (apps_watch.c): one SUBSCRIBE per process ---- */

/* The channel `app add` and `app remove` PUBLISH an access id on, in `pool`. */
pb_str pb_redis_apps_channel(pb_pool *pool, const pb_redis_store *store);

/* Tells the processes listening that app `access_id` changed; a failure is only noted (the TTL bounds it). */
void pb_redis_apps_publish(pb_redis_session *session, uint64_t access_id);

/* Starts the thread that listens; NULL when it cannot. */
pb_redis_apps_watch *pb_redis_apps_watch_start(pb_redis_store *store);
void pb_redis_apps_watch_stop(pb_redis_apps_watch *watch);

/*
 * Changes whenever an app may have changed (a message came, or the listening
 * connection was lost and messages may have been missed); 0 without a watch.
 */
uint64_t pb_redis_apps_epoch(const pb_redis_apps_watch *watch);

/* ---- Expiry (expiry.c) ---- */

/* Whether a binding last confirmed at `last` has expired at `now`. */
static inline bool pb_redis_expired(const pb_redis_store *store, int64_t last, int64_t now)
{
    return store->binding_ttl > 0 && last + store->binding_ttl <= now;
}

/* Reads "BIND|LAST" (a details hash value); false when malformed. */
bool pb_redis_times_parse(const char *text, size_t len, pb_binding_times *times);

/*
 * The two halves of pb_redis_expire_tokens(), for a caller that carries the
 * rounds itself (apply.c): the change script's 'e' mode on each of `n`
 * tokens into cmds[0..n-1]; then, from their replies, earliest[] (when not
 * NULL, as below) and the round that follows (*cleanup from `pool`: the
 * index members of what went and the count's HINCRBY). The judge counts the
 * bindings deleted in pushbind_bindings_expired_total and returns them.
 */
void pb_redis_expire_cmds(pb_redis_cmd *cmds, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                          const pb_str *tokens, size_t n, int64_t now);
size_t pb_redis_expire_judge(pb_redis_conn *conn, const pb_redis_store *store, uint64_t access_id,
                             const pb_str *tokens, const pb_redis_cmd *cmds, size_t n, pb_pool *pool,
                             int64_t *earliest, pb_redis_cmd **cleanup, size_t *n_cleanup);

/*
 * Deletes the expired bindings of `n` tokens of app `access_id` (the change
 * script's 'e' mode), then their account index members and their count, in
 * two pipelined rounds; counted in pushbind_bindings_expired_total. When
 * `earliest` is not NULL, earliest[i] gets token i's earliest last_bind_time
 * left (0: no binding left; -1: its script failed). Returns the bindings
 * deleted. Uses the session's connection and `pool`.
 */
uint64_t pb_redis_expire_tokens(pb_redis_session *session, uint64_t access_id, const pb_str *tokens, size_t n,
                                int64_t now, pb_pool *pool, int64_t *earliest);

/*
 * For each of `n` apps whose token records may lack expiry index entries
 * (written without a TTL since its last walk), walks its token records on
 * every primary with `scanner`'s connections (SCAN, a page at a time),
 * deletes their expired bindings and gives every token left an entry, with
 * `session`'s; then marks the app walked unless a batch without a TTL came
 * meanwhile (backfill.c). stop(stop_arg) is asked between pages; a stopped
 * walk starts over next time. Returns the entries added.
 */
size_t pb_redis_backfill(pb_redis_session *session, pb_redis_session *scanner, const uint64_t *apps, size_t n,
                         int64_t now, bool (*stop)(void *arg), void *stop_arg);

/* Starts the thread that deletes expired bindings in the background; NULL when it cannot. */
pb_redis_sweeper *pb_redis_sweeper_start(pb_redis_store *store);
void pb_redis_sweeper_stop(pb_redis_sweeper *sweeper);

/* Fills in each script's body and SHA1. */
void pb_redis_scripts_init(pb_redis_scripts *scripts);

/* ---- Keys and members, built in `pool` ---- */

pb_str pb_redis_token_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, pb_str token);
pb_str pb_redis_times_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, pb_str token);
pb_str pb_redis_expiry_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, unsigned shard);
unsigned pb_redis_expiry_shard(pb_str token_key); /* which expiry index a token's entry is in */
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
