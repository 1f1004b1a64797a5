/*
 * store/lmdb/internal.h — state shared by the embedded store's source files:
 * env.c (opening the environment), session.c (sessions, views, the map
 * lock), queries.c (lookups), apps.c (apps), apply*.c (batches of binding
 * changes), writer.c (the group-commit writer thread), tools.c and load*.c
 * (the operator's tools). Private to store/lmdb/.
 */
#ifndef PB_STORE_LMDB_INTERNAL_H
#define PB_STORE_LMDB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <lmdb.h>

#include "store/lmdb/backend.h"
#include "store/lmdb/keys.h"
#include "store/lmdb/tools.h"

/*
 * Longest secret an app may have. A batch rewrites its app's record (the
 * bindings count) from a stack copy, because a pointer LMDB handed out in a
 * write transaction must not be the source of a put into the same record.
 * TPNS secrets are 32 characters.
 */
#define PB_STORE_SECRET_MAX 256

/*
 * One pb_store_apply_start() call on its way through the writer thread. The
 * record lives in the caller's pool; `next` chains the writer's queue.
 */
typedef struct pb_lmdb_write {
    uint64_t access_id;
    const pb_change *changes;
    size_t n;
    pb_change_outcome *outcomes;
    pb_store_apply_done *done;
    void *arg;
    int result;       /* what done() gets: 0 or a negative PB_STORE_E* */
    uint64_t expired; /* expired bindings the write met and deleted (counted once committed) */
    char error[160];  /* why, when result is PB_STORE_EIO */
    struct pb_lmdb_write *next;
    pb_tag_write *tags; /* a tag request (tag_apply.c) instead of `changes`; NULL for binding changes */
} pb_lmdb_write;

/*
 * Most writes one group commit takes. Bounds the transaction's dirty pages
 * (LMDB refuses more than 128K) and the latency of the last write in a group.
 */
#define PB_LMDB_GROUP_MAX 128

/* Token keys one background expiry step walks (expiry.c). */
#define PB_LMDB_SWEEP_KEYS 256

/* Where the background expiry stopped: the last tokens key it walked. */
struct pb_lmdb_sweep {
    unsigned char last[PB_LMDB_KEY_BUF];
    size_t last_len; /* 0: at the start */
    bool again;      /* `last` still has dups to walk: start at it, not after it */
    bool wrapped;    /* set when a step reached the end of the database */
};

/* The writer thread and its queue (writer.c). */
struct pb_lmdb_writer {
    pthread_t thread;
    pthread_mutex_t lock; /* guards queue, queue_tail and stopping */
    pthread_cond_t wake;
    pb_lmdb_write *queue, *queue_tail;
    bool stopping;
    pb_lmdb_session *session; /* used by the writer thread only */
    struct pb_lmdb_sweep sweep; /* the writer thread's, when bindings expire */
    pb_metrics *metrics;         /* NULL: the writer reports nothing */
    _Atomic bool graves;         /* deleted tags may still hold pairs to free (pb_lmdb_grave_step()) */
};

struct pb_lmdb_store {
    MDB_env *env;
    MDB_dbi apps, meta, tokens, accounts, keys;
    MDB_dbi tags, tag_tokens, token_tags, tag_graves; /* keys.h, "Tags" */
    pb_store_limits limits;
    int64_t binding_ttl; /* seconds; 0: bindings never expire */
    size_t max_key; /* mdb_env_get_maxkeysize(), at most PB_LMDB_KEY_BUF */
    /*
     * MDB_MAP_RESIZED (another process grew the file past our mapping) is cured
     * by remapping, which unmaps the memory every live transaction of this
     * process reads. So each transaction holds this lock shared, and a remap
     * holds it exclusive.
     */
    pthread_rwlock_t map_lock;
    struct pb_lmdb_writer writer;
    _Atomic uint64_t full_logged_ns; /* when "store full" was last logged (space.c); 0: never */
};

struct pb_lmdb_view {
    pb_lmdb_session *session;
};

struct pb_lmdb_session {
    pb_lmdb_store *store;
    /*
     * Renewed by a view and reset after it, so that a view allocates nothing;
     * in a session on an event loop (keeps_snapshot), kept live after the view
     * for the next while nothing has been committed since (session.c).
     */
    MDB_txn *read_txn;
    MDB_cursor *tokens_cursor; /* renewed on its first use in read_txn's snapshot (view_cursor() in queries.c) */
    MDB_cursor *accounts_cursor;
    MDB_cursor *keys_cursor; /* an app's named keys, read with its secret */
    bool tokens_cursor_renewed, accounts_cursor_renewed, keys_cursor_renewed; /* in read_txn's current snapshot */
    bool view_open;
    bool snapshot_live; /* read_txn is renewed (and holds the map lock), a view open or not */
    bool keeps_snapshot; /* set while the session is bound to a loop, which ends each turn with pb_lmdb_turn_done() */
    pb_lmdb_view view;
    unsigned map_holds; /* shared holds of store->map_lock taken through this session */
    char error[160];
};

/* How far an import chunk has come (pb_import_progress), advanced by the chunk's threads. */
typedef struct pb_lmdb_import_meter {
    _Atomic int stage; /* pb_import_stage */
    _Atomic uint64_t done, total;
} pb_lmdb_import_meter;

/* What a pb_lmdb_tool is: the store opened on its own, one session, and its import's meter. */
struct pb_lmdb_tool {
    pb_lmdb_store *store;
    pb_lmdb_session *session;
    pb_lmdb_import_meter meter;
};

/* Keeps "<what>: <mdb_strerror(rc)>" as the session's last error (session.c). */
void pb_lmdb_set_error(pb_lmdb_session *session, const char *what, int rc);

/*
 * Begins a top-level transaction (flags 0 or MDB_RDONLY) and holds the map
 * lock shared until pb_lmdb_txn_done(). Follows a map grown by another
 * process once. Returns 0 or an LMDB error (nothing held).
 */
int pb_lmdb_txn_start(pb_lmdb_session *session, unsigned flags, MDB_txn **txn);

/* Commits (when `commit`) or aborts `txn`, then releases the map lock. */
int pb_lmdb_txn_done(pb_lmdb_session *session, MDB_txn *txn, bool commit);

/*
 * Reads app `access_id` in `txn`, copying its record into `buf` (room for
 * PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX) so *app survives later writes.
 * Returns 0, MDB_NOTFOUND or an LMDB error.
 */
int pb_lmdb_app_read(const pb_lmdb_store *store, MDB_txn *txn, uint64_t access_id, unsigned char *buf,
                     struct app_record *app);

/* Writes app `access_id`'s record. Returns 0 or an LMDB error. */
int pb_lmdb_app_write(const pb_lmdb_store *store, MDB_txn *txn, uint64_t access_id, const struct app_record *app);

/* Reads the next binding seq (1 in a new store). Returns 0 or an LMDB error. */
int pb_lmdb_seq_read(const pb_lmdb_store *store, MDB_txn *txn, uint64_t *seq);

/* Records `seq` as the next binding seq. Returns 0 or an LMDB error. */
int pb_lmdb_seq_write(const pb_lmdb_store *store, MDB_txn *txn, uint64_t seq);

/*
 * Applies the chain of writes starting at `writes` in one write transaction
 * and one commit: each write in a child transaction (so a write for a missing
 * app, or one that hits an LMDB error, is undone alone), each of its changes
 * in a grandchild (pb_store_apply()'s per-change atomicity). Sets every
 * write's result and outcomes; a failed commit makes every write that would
 * have changed something PB_STORE_EIO. Calls no done().
 */
void pb_lmdb_commit_group(pb_lmdb_session *session, pb_lmdb_write *writes);

/*
 * One background expiry step in its own write transaction: deletes the
 * expired bindings among the next PB_LMDB_SWEEP_KEYS token keys after
 * `sweep`'s position (both sides, and the apps' counts), commits, and sets
 * *expired to how many. Returns 0 or an LMDB error / ENOMEM (nothing
 * deleted). Writer thread only.
 */
int pb_lmdb_sweep_step(pb_lmdb_session *session, struct pb_lmdb_sweep *sweep, uint64_t *expired);

/*
 * One background step freeing the pairs of deleted tags (tag_graves,
 * keys.h): deletes at most PB_LMDB_GRAVE_PAIRS pairs of the first grave in
 * its own write transaction, and the grave once it is empty. Returns 0 and
 * sets *more when graves remain, or an LMDB error (nothing deleted). Writer
 * thread only. (tag_apply.c)
 */
#define PB_LMDB_GRAVE_PAIRS 1024
int pb_lmdb_grave_step(pb_lmdb_session *session, bool *more);

/* Starts the writer thread of `store`. Returns 0 or an errno value. */
int pb_lmdb_writer_start(pb_lmdb_store *store);

/* Lets the writer finish what is queued, then joins it. */
void pb_lmdb_writer_stop(pb_lmdb_store *store);

/*
 * (apply_pair.c) Positions `tokens` (a cursor on the tokens database) on the dup of binding
 * `seq` under `key`, found by its seq prefix, into *dup. Returns 0,
 * MDB_NOTFOUND, or an LMDB error.
 */
int pb_lmdb_seek_binding(MDB_cursor *tokens, MDB_val *key, uint64_t seq, MDB_val *dup);

/*
 * The reserve binds leave free for deletes (space.c): 5 % of the map, at
 * least 1 MiB, at most half the map (maps under 2 MiB are for tests).
 * docs/design.md says why.
 */
#define PB_LMDB_RESERVE_PERCENT 5
#define PB_LMDB_RESERVE_MIN (1024 * 1024)

/* The reserve of a map of `map_size` bytes. */
uint64_t pb_lmdb_reserve_for(uint64_t map_size);

/*
 * What a group commit (or an import chunk) knows of its room, for the
 * reserve (space.c). Zero it before the transaction; pb_lmdb_space_check()
 * fills it on the first bind.
 */
typedef struct pb_lmdb_space {
    bool measured;     /* room, map and psize are read */
    bool refuse_binds; /* a commit with binds hit MDB_MAP_FULL: this run refuses every bind */
    uint64_t room;     /* pages LMDB could give the transaction when it began */
    uint64_t charged;  /* bytes its binds are counted to have taken since */
    uint64_t map, psize;
} pb_lmdb_space;

/* The bytes one new binding adds to both sides, nodes included. */
uint64_t pb_lmdb_binding_bytes(size_t token_len, size_t account_len);

/*
 * After a bind that added `grown` bytes (pb_lmdb_binding_bytes()
 * summed): *room is false when the transaction's binds so far, this one
 * included, would leave less than the reserve of the pages LMDB had free
 * when it began, or when `space` refuses every bind; it then says so on
 * stderr (at most once a second). A bind that grew nothing always has room.
 * On room, the bind's pages stay counted in `space`. Returns 0 or an LMDB
 * error.
 */
int pb_lmdb_space_check(const pb_lmdb_store *store, pb_lmdb_space *space, uint64_t grown, bool *room);

/* Whether a token's key and dup fit LMDB's size limit (and it is not empty). */
static inline bool pb_lmdb_token_fits(const pb_lmdb_store *store, pb_str token)
{
    return token.len != 0 && token.len <= store->max_key - PB_LMDB_TOKEN_OVERHEAD;
}

/* The same for an account. */
static inline bool pb_lmdb_account_fits(const pb_lmdb_store *store, const pb_account *account)
{
    return account->name.len != 0 && account->name.len <= store->max_key - PB_LMDB_ACCOUNT_DUP_HEAD;
}

/*
 * Positions `cursor` on `key` (its first dup in *first) and counts the key's
 * dups; *count is 0 when the key is absent. Returns 0 or an LMDB error.
 */
static inline int pb_lmdb_seek_dups(MDB_cursor *cursor, MDB_val *key, MDB_val *first, size_t *count)
{
    *count = 0;
    int rc = mdb_cursor_get(cursor, key, first, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    return mdb_cursor_count(cursor, count);
}

#endif
