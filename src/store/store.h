/*
 * store.h — where apps and bindings live.
 *
 * This header is the whole contract between the service and a storage
 * backend. The embedded backend (store/lmdb/, LMDB on local disk) is the
 * default; the Redis backend (store/redis/, one server or a Redis Cluster)
 * is chosen by pb_store_config.url. store/store.c dispatches between them.
 * No backend type appears here, and the store speaks its own language: its
 * outcomes are the enums and PB_STORE_E* codes below, never TPNS codes (api/
 * maps them). The operator's tools that only the embedded backend has are in
 * store/lmdb/tools.h.
 *
 * Objects and threads
 * -------------------
 *   pb_store          one per process; opened once, shared by every thread.
 *   pb_store_session  one per thread that talks to the store; never shared
 *                     between threads at the same time.
 *   pb_store_view     a consistent, read-only snapshot taken from a session.
 *                     At most one view is open per session. Strings returned
 *                     through a view stay valid until pb_store_view_end().
 *
 * Errors
 * ------
 * Functions return 0 on success or a negative PB_STORE_E* value. None of them
 * aborts on bad input or on a failing disk; the message for the last error of
 * a session is kept for logs (pb_store_session_error()).
 *
 * Durability
 * ----------
 * pb_store_apply() returns only after its changes are durable (fsynced, for
 * the embedded backend; as the Redis configuration and the URL's ?wait=N
 * make them, for Redis), and a view begun after it returns sees them; the
 * same holds when pb_store_apply_start() calls its done().
 *
 * Snapshots
 * ---------
 * The embedded backend's view is one MVCC snapshot. Redis has none across
 * keys: each lookup is atomic per token or account, and a binding is seen
 * whole or not at all.
 *
 * Writes and threads
 * ------------------
 * The embedded backend commits writes on one writer thread of its own: the
 * writes queued while it commits go together into its next transaction (group
 * commit), so one fsync makes a whole group durable. pb_store_apply_start()
 * queues without waiting, for callers that must not block (an event loop);
 * pb_store_apply() queues and waits. The Redis backend, in a session bound
 * to an event loop (pb_store_session_attach_loop()), sends both
 * pb_store_apply_start() and pb_store_lookup_start() on the loop's
 * connections and answers from their replies, on the loop's thread; in a
 * session without a loop it applies and reads on the calling thread,
 * waiting, and calls done() before it returns.
 *
 * Callbacks
 * ---------
 * The one rule for both pb_store_lookup_start() and pb_store_apply_start():
 * done() is called exactly once, either before the call returns (always for
 * the embedded backend's reads and for any backend without a loop; for a
 * loop-bound networked backend when it answers without the network, such as
 * a secret from its cache or a refusal) or later. A lookup's done() runs on
 * the session's thread; an apply's done() may run on another thread (the
 * embedded backend's writer) and must only hand the result over. So a caller
 * sets up everything done() needs before it starts the call, and touches
 * nothing of the request after the call returns unless it knows done() has
 * not run.
 */
#ifndef PB_STORE_H
#define PB_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/binding.h"
#include "common/pool.h"

typedef struct pb_metrics pb_metrics;

enum {
    PB_STORE_OK = 0,
    PB_STORE_ENOTFOUND = -1, /* no such app */
    PB_STORE_EIO = -2,       /* the backend failed (pb_store_apply() says what may have changed) */
    PB_STORE_EINVAL = -3,    /* a configuration or argument the backend cannot take */
};

typedef struct pb_store pb_store;
typedef struct pb_store_session pb_store_session;
typedef struct pb_store_view pb_store_view;

/*
 * How many bindings one token or one account may hold. A change that would
 * exceed either limit fails as a whole (PB_CHANGE_OVER_LIMIT) and changes
 * nothing. The store is where the limits live: the API reads them back with
 * pb_store_limits_of() rather than keeping a copy.
 */
typedef struct pb_store_limits {
    uint32_t max_accounts_per_token; /* docs/API.md: 32 by default */
    uint32_t max_tokens_per_account; /* docs/API.md: 100 by default */
} pb_store_limits;

#define PB_DEFAULT_MAX_ACCOUNTS_PER_TOKEN 32
#define PB_DEFAULT_MAX_TOKENS_PER_ACCOUNT 100

typedef struct pb_store_config {
    const char *data_dir;   /* created (mode 0700) when missing */
    uint64_t map_size;      /* bytes of address space to reserve; the data may grow to this */
    pb_store_limits limits;
    int64_t binding_ttl_seconds; /* 0: bindings never expire */
    /*
     * Redis instead of the embedded store, when not NULL (data_dir and
     * map_size are then unused): "redis://HOST:PORT" or
     * "redis-cluster://HOST:PORT[,HOST:PORT…]", each optionally followed by
     * "/NAMESPACE" and "?wait=N" (see store/redis/redis.c).
     */
    const char *url;
    /*
     * Where the embedded backend's writer thread reports commit timings and
     * group sizes (metrics/metrics.h); NULL reports nothing. Must outlive the
     * store.
     */
    pb_metrics *metrics;
} pb_store_config;

/*
 * Opens (creating when needed) the store in config->data_dir. On failure
 * returns NULL and, when `err` is not NULL, points *err at a malloc'ed message
 * the caller frees.
 */
pb_store *pb_store_open(const pb_store_config *config, char **err);

/* Closes the store. Every session must have been closed first. */
void pb_store_close(pb_store *store);

/* Opens a session for the calling thread; NULL when out of resources. */
pb_store_session *pb_store_session_open(pb_store *store);
void pb_store_session_close(pb_store_session *session);

/*
 * Binds the session to the calling thread's event loop: `loop` is an
 * h2o_evloop_t * (no h2o type in this header), run by this thread. A
 * networked backend then never waits for the network in
 * pb_store_lookup_start() or pb_store_apply_start(): it sends on its own
 * connections, watched by the loop, and calls back from the loop; when it
 * can answer without the network (a secret it has cached, a request it
 * refuses at once) it calls done() before the call returns, as the embedded
 * backend always does, so a caller must be ready for both (see "Callbacks"
 * below). Returns 0 or PB_STORE_EIO (the session still works, waiting). The embedded backend, bound, lets the views of one
 * turn of the loop share a snapshot while nothing is committed meanwhile: the
 * loop must call pb_store_session_turn_done() at the end of every turn,
 * before it waits for events again, so that no snapshot is held while it
 * waits.
 *
 * pb_store_session_detach_loop() undoes it, on the loop's thread, once no
 * lookup or write is in flight and before the loop is destroyed: it closes the
 * session's connections on the loop.
 */
int pb_store_session_attach_loop(pb_store_session *session, void *loop);
void pb_store_session_detach_loop(pb_store_session *session);
void pb_store_session_turn_done(pb_store_session *session);

/* A human-readable message for the session's last failure ("" when none). */
const char *pb_store_session_error(const pb_store_session *session);

/* The limits the store was opened with. */
const pb_store_limits *pb_store_limits_of(const pb_store_session *session);

/* ---- Reading ---------------------------------------------------------- */

/* Begins a snapshot. NULL on failure (PB_STORE_EIO). */
pb_store_view *pb_store_view_begin(pb_store_session *session);

/* Ends the snapshot; every string obtained through it becomes invalid. */
void pb_store_view_end(pb_store_view *view);

/*
 * Looks up the secret key of app `access_id`. Returns 0 and sets *secret, or
 * PB_STORE_ENOTFOUND, or PB_STORE_EIO.
 */
int pb_store_app_secret(pb_store_view *view, uint64_t access_id, pb_str *secret);

/* What the store records of an app besides its secret. */
typedef struct pb_app_info {
    uint64_t access_id;
    int64_t created_at; /* Unix seconds */
    uint64_t bindings;  /* account–token pairs, as the app's record counts them */
} pb_app_info;

/*
 * Reads app `access_id`'s record into *app (no secret). Returns 0,
 * PB_STORE_ENOTFOUND, or PB_STORE_EIO. The count is the one each change
 * keeps up to date in the record, so this costs one read, not a pass over
 * the bindings.
 */
int pb_store_app_of(pb_store_view *view, uint64_t access_id, pb_app_info *app);

/*
 * For each of the `n` accounts, the tokens bound to it in app `access_id`,
 * oldest binding first, into out[0..n-1] (an account with none gets n = 0).
 * With `with_info`, out[i].times and out[i].platforms say when each binding
 * was made and last confirmed and each token's platform; without it they are
 * NULL and a backend may skip those reads. Expired bindings (see
 * binding_ttl_seconds) are never returned. Arrays are allocated from `pool`;
 * strings live until the view ends. Returns 0 or PB_STORE_EIO.
 */
int pb_store_tokens_of(pb_store_view *view, uint64_t access_id, const pb_account *accounts, size_t n,
                       bool with_info, pb_pool *pool, pb_token_list *out);

/*
 * The same, by token: the accounts bound to each of `n` tokens; with
 * `with_info`, out[i].times per account and out[i].platform for the token.
 */
int pb_store_accounts_of(pb_store_view *view, uint64_t access_id, const pb_str *tokens, size_t n,
                         bool with_info, pb_pool *pool, pb_account_list *out);

/*
 * The account types app `access_id` uses, in increasing order, into
 * *types (from `pool`) and *n: every type under which one of its accounts
 * is bound, and perhaps a few more (a type whose binds were refused or have
 * been unbound since: a superset, never a subset). A name's accounts under
 * every type are then the point reads of those types × the name, not a
 * scan. At most `max` (0: no limit): the smallest ones, so *n == max says
 * there may be more, and an app with very many types costs a caller that
 * only needs to know it no more than `max` of them. How each backend knows
 * them, and what that costs, is in docs/design.md ("Finding a name under
 * every type"). Returns 0 or PB_STORE_EIO.
 */
int pb_store_account_types(pb_store_view *view, uint64_t access_id, size_t max, pb_pool *pool, uint32_t **types,
                           size_t *n);

/* ---- Reading without waiting ------------------------------------------ */

typedef enum pb_lookup_kind {
    PB_LOOKUP_SECRET = 0,      /* the app's secret (pb_store_app_secret()) */
    PB_LOOKUP_TOKENS_OF = 1,   /* pb_store_tokens_of() of accounts[0..n-1] */
    PB_LOOKUP_ACCOUNTS_OF = 2, /* pb_store_accounts_of() of tokens[0..n-1] */
    PB_LOOKUP_APP = 3,         /* the app's record (pb_store_app_of()) */
    PB_LOOKUP_PING = 4,        /* whether the store answers; no input */
    PB_LOOKUP_APPS = 5,        /* every app's record (pb_store_app_list()); no input */
    PB_LOOKUP_TYPES = 6,       /* the account types the app uses (pb_store_account_types()), at most n */
} pb_lookup_kind;

/*
 * One read that does not wait: the caller fills the inputs, the backend the
 * outputs, before calling done().
 */
typedef struct pb_store_lookup {
    pb_lookup_kind kind;
    uint64_t access_id;
    const pb_account *accounts; /* TOKENS_OF */
    const pb_str *tokens;       /* ACCOUNTS_OF */
    size_t n;
    bool with_info;             /* list lookups: times and platforms too (see pb_store_tokens_of()) */
    bool fresh;                 /* SECRET: read the store, not a secret this thread cached (the answer replaces it) */
    /* outputs */
    int result;                     /* what the synchronous call would return */
    bool cached;                    /* SECRET: answered from this thread's cache, which may lag the store */
    pb_str secret;                  /* SECRET, when result is 0 */
    pb_str keys;                    /* SECRET, when result is 0: the app's named keys, packed (pb_store_keys_next()) */
    pb_app_info app;                /* APP, when result is 0 */
    pb_token_list *token_lists;     /* TOKENS_OF: n lists, from `pool` */
    pb_account_list *account_lists; /* ACCOUNTS_OF: n lists, from `pool` */
    pb_app_info *apps;              /* APPS: n_apps records, from `pool` */
    size_t n_apps;
    uint32_t *types;                /* TYPES: n_types account types in increasing order, from `pool` */
    size_t n_types;
} pb_store_lookup;

/* Called once per pb_store_lookup_start(), on the session's thread. */
typedef void pb_store_lookup_done(void *arg, pb_store_lookup *lookup);

/*
 * The read `lookup` names, without waiting for the store: done(arg, lookup)
 * is called when its outputs are filled (or lookup->result says it failed).
 * The twin of pb_store_apply_start(), for an event loop that must not block
 * in a network round trip.
 *
 * The embedded backend reads at once and calls done() before this returns.
 * A networked backend may do the same, or call done() later from the event
 * loop of the calling thread; either way done() runs on the session's
 * thread, and no view of the session may be open meanwhile.
 *
 * `lookup`, what its inputs point to, and `pool` must stay valid until done()
 * is called. The outputs' arrays are from `pool`. The secret is in `pool`
 * too, and done() of a SECRET lookup may start the request's next lookup.
 * The lists' strings are valid until done() returns (they may point into a
 * snapshot that ends then): copy what must live longer, or encode the answer
 * inside done(); done() of a list lookup starts no other lookup. An APP, an
 * APPS, a TYPES or a PING lookup holds no string, and its done() may start
 * another lookup.
 *
 * PING (for health checks) sets result to 0 when the store answers, else
 * PB_STORE_EIO. The embedded backend begins and ends a read transaction.
 * Redis PINGs every primary: the one server, or in a cluster each node that
 * owns slots in the session's slot map (read first when the session has
 * none); one primary that does not answer within the reply timeout (2 s)
 * makes the store unhealthy, as a slot it owns cannot be read or written.
 *
 * TYPES sets types[0..n_types-1] as pb_store_account_types() would, and
 * holds no string: its done() may start the request's next lookup (the
 * tokens of its names under those types).
 *
 * APPS (for a metrics scrape) sets apps[0..n_apps-1] to the records
 * pb_store_app_list() would visit, in the same increasing access_id order,
 * and result to 0; or result to PB_STORE_EIO, apps NULL and n_apps 0. It
 * costs one read per app. The embedded backend reads them in one read
 * transaction. Redis reads the apps set, then every app's record in one
 * pipelined round: an app added or removed meanwhile may be in the set and
 * not in its record, and is then left out, as `app list` leaves it out.
 */
void pb_store_lookup_start(pb_store_session *session, pb_store_lookup *lookup, pb_pool *pool,
                           pb_store_lookup_done *done, void *arg);

/* ---- Writing ---------------------------------------------------------- */

typedef enum pb_change_kind {
    PB_CHANGE_APPEND = 1,        /* bind `accounts` to `token`, keeping its others */
    PB_CHANGE_OVERWRITE = 2,     /* the token's accounts become exactly `accounts` */
    PB_CHANGE_REMOVE = 3,        /* unbind `accounts` from `token` */
    PB_CHANGE_CLEAR_TOKEN = 4,   /* unbind every account from `token` */
    PB_CHANGE_CLEAR_ACCOUNT = 5, /* unbind every token from accounts[0] */
} pb_change_kind;

/*
 * One item of a batch: applied atomically, all or nothing.
 *
 * `accounts` holds no duplicates (the caller removes them). For APPEND and
 * OVERWRITE, new bindings are created in the order of `accounts`; a binding
 * that already exists keeps its place in every list. For CLEAR_ACCOUNT,
 * `token` is ignored and n_accounts is 1.
 *
 * Times: a new binding gets bind_time = last_bind_time = now (the backend's
 * clock, read once per pb_store_apply() call), or the given times. Re-binding
 * a pair (APPEND or OVERWRITE naming it) sets its last_bind_time to now
 * (given: the later of the stored and the given one; bind_time the earlier)
 * without moving it. A change with platform != NONE sets the token's
 * platform; REMOVE and CLEAR_* never change it; a token that loses its last
 * binding forgets it.
 *
 * Expiry (binding_ttl_seconds > 0): a binding whose last_bind_time + ttl <=
 * now is gone for every read and limit, and a re-bind creates it anew; a
 * change deletes the expired bindings of what it touches first.
 */
typedef struct pb_change {
    pb_change_kind kind;
    pb_str token;
    const pb_account *accounts;
    size_t n_accounts;
    pb_platform platform;          /* APPEND / OVERWRITE: the token's platform from now on; NONE leaves it */
    const pb_binding_times *times; /* NULL: now. Else times[i] for accounts[i]: a binding copied from
                                      elsewhere (import, pull) keeps its times */
} pb_change;

/* What pb_store_apply() did with one change. */
typedef enum pb_change_outcome {
    PB_CHANGE_OK = 0,     /* applied (unbinding what was not bound included: the end state is there) */
    PB_CHANGE_OVER_LIMIT, /* a limit would be exceeded; that change did nothing */
    PB_CHANGE_FAILED,     /* the backend failed for that change: the embedded backend did nothing;
                             with Redis it may or may not have been applied, never in part visible */
    PB_CHANGE_NO_SPACE,   /* a bind that would eat into the store's reserve (pb_store_space): that
                             change did nothing. Unbinds are never refused so. Embedded backend only. */
} pb_change_outcome;

/*
 * Applies `n` changes to app `access_id`, in order, each atomically; a later
 * change sees the earlier ones, and outcomes[i] says what became of
 * changes[i].
 *
 * Returns 0 once every change that reports PB_CHANGE_OK is durable;
 * PB_STORE_ENOTFOUND when the app does not exist (it may have been removed
 * since the request was authenticated), nothing changed; or PB_STORE_EIO when
 * the backend failed (embedded: nothing was changed; Redis: the batch could
 * not start, or its writes did not reach the replicas ?wait=N asks for). In
 * both error cases outcomes are unspecified and the caller answers a
 * request-level error.
 */
int pb_store_apply(pb_store_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                   pb_change_outcome *outcomes);

/* Called once per pb_store_apply_start() with what pb_store_apply() would return. */
typedef void pb_store_apply_done(void *arg, int result);

/*
 * pb_store_apply() without waiting: applies the changes like it, then calls
 * done(arg, result) once they are durable (or have failed). `changes` (with
 * the strings and accounts they point to), `outcomes` and `pool` must stay
 * valid until done() is called; the backend may take a small record from
 * `pool`. The embedded backend never blocks here: the disk work is its
 * writer thread's.
 *
 * done() may run on any thread: the embedded backend calls it from its
 * writer thread, and a backend that writes synchronously may call it before
 * pb_store_apply_start() returns (that is all such a backend has to do). So
 * done() should hand the result over (wake an event loop, signal a waiter)
 * and return quickly: the next group's commit waits for it.
 */
void pb_store_apply_start(pb_store_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                          pb_change_outcome *outcomes, pb_pool *pool, pb_store_apply_done *done, void *arg);

/* ---- Space ------------------------------------------------------------ */

/*
 * How full a store with a fixed capacity is (the embedded backend: its LMDB
 * map). Binds (APPEND, OVERWRITE, import) that would leave less than
 * reserve_bytes free are refused (PB_CHANGE_NO_SPACE); unbinds and
 * `app remove` run with the whole capacity, so that a full store can still
 * be emptied. docs/design.md says why the reserve is what it is.
 */
typedef struct pb_store_space {
    uint64_t size_bytes;     /* pages holding data, the free list's own pages included, × page size */
    uint64_t capacity_bytes; /* the most the data may grow to (the map size) */
    uint64_t reserve_bytes;  /* kept free for deletes: binds stop at capacity_bytes - reserve_bytes */
} pb_store_space;

/*
 * Fills *space from the last committed state. Returns 0; PB_STORE_EINVAL
 * when the backend has no capacity of its own (Redis: its maxmemory is
 * Redis's to report), *space untouched; or PB_STORE_EIO.
 */
int pb_store_space_of(pb_store_session *session, pb_store_space *space);

/* ---- Apps (command line) ---------------------------------------------- */

/*
 * Creates app `access_id` with `secret`, or replaces the secret of an existing
 * one. *created tells which. Returns 0 or PB_STORE_EIO.
 */
int pb_store_app_put(pb_store_session *session, uint64_t access_id, pb_str secret, bool *created);

/*
 * Removes app `access_id` and every binding it holds. *bindings_removed counts
 * the account–token pairs deleted. Returns 0, PB_STORE_ENOTFOUND or
 * PB_STORE_EIO.
 */
int pb_store_app_remove(pb_store_session *session, uint64_t access_id, uint64_t *bindings_removed);

/*
 * Calls `visit` for each app in increasing access_id order. Secrets are not
 * passed out. Returns 0 or PB_STORE_EIO.
 */
int pb_store_app_list(pb_store_session *session, void (*visit)(void *arg, const pb_app_info *app), void *arg);

/* ---- Named keys ------------------------------------------------------- */

/*
 * Besides its secret, an app may have named keys: other secrets of the same
 * AccessId, each with a role, an optional expiry, and revocable by name. A
 * PB_LOOKUP_SECRET brings them in the same read as the secret (lookup->keys),
 * packed; pb_store_keys_next() walks them. Revoking deletes the key; the
 * store never judges expiry (the caller compares expires_at with its clock).
 * `app remove` removes the app's keys.
 */
#define PB_KEY_NAME_MAX 64 /* a name is 1 to 64 of [A-Za-z0-9._@-] */
#define PB_KEY_SECRET_MAX 128
#define PB_KEYS_PER_APP 32 /* a signature is checked against each: the bound is the cost's */

typedef enum pb_key_role {
    PB_KEY_READ = 1,  /* queries and GET /pushbind/v1/app only */
    PB_KEY_WRITE = 2, /* everything the app's secret may do */
} pb_key_role;

typedef struct pb_app_key {
    pb_str name;
    pb_str secret; /* empty in pb_store_key_list() */
    pb_key_role role;
    int64_t created_at; /* Unix seconds */
    int64_t expires_at; /* Unix seconds; 0: never */
} pb_app_key;

/* Whether `name` follows the rule of PB_KEY_NAME_MAX. */
bool pb_store_key_name_valid(pb_str name);

/*
 * Reads the next key of a packed list into *key (its strings point into
 * `packed`) and advances *packed past it. Returns false at the end or when
 * the list is malformed.
 */
bool pb_store_keys_next(pb_str *packed, pb_app_key *key);

/*
 * Adds key `key` (name, secret, role, created_at, expires_at) to app
 * `access_id`. Returns 0; PB_STORE_ENOTFOUND when there is no such app;
 * PB_STORE_EINVAL when the name is taken, invalid, the secret too long, or
 * the app has PB_KEYS_PER_APP keys (the session's error says which); or
 * PB_STORE_EIO.
 */
int pb_store_key_put(pb_store_session *session, uint64_t access_id, const pb_app_key *key);

/* Deletes app `access_id`'s key `name`. Returns 0, PB_STORE_ENOTFOUND (no such app or key) or PB_STORE_EIO. */
int pb_store_key_revoke(pb_store_session *session, uint64_t access_id, pb_str name);

/*
 * Calls `visit` for each key of app `access_id`, without its secret (the
 * embedded store by name; Redis in its hash's order). Returns 0, PB_STORE_ENOTFOUND (no such app) or PB_STORE_EIO.
 */
int pb_store_key_list(pb_store_session *session, uint64_t access_id,
                      void (*visit)(void *arg, const pb_app_key *key), void *arg);

/* ---- Tags ------------------------------------------------------------- */

/*
 * Tags group an app's tokens (docs/API.md, "Tags"). A (tag, token) pair is
 * kept in the order it was made: a token's tags come out in the order they
 * were added, a tag's tokens in the order they got it, and re-adding a pair
 * refreshes its time without moving it. Tags have no account side and count
 * against no binding limit.
 */
typedef enum pb_tag_write_kind {
    PB_TAG_ADD = 1,         /* pairs (tags[i], tokens[i]), i < n: each token gets its tag */
    PB_TAG_REMOVE = 2,      /* pairs: each token loses its tag */
    PB_TAG_CLEAR_TOKEN = 3, /* tokens[0] loses every tag */
    PB_TAG_REPLACE = 4,     /* tokens[0]'s tags become tags[0..n-1]; with by_category only its tags whose
                               category (the text before the first ':') one of tags[] has are replaced */
    PB_TAG_DELETE_ALL = 5,  /* tags[0..n-1] leave every token */
    PB_TAG_INVALIDATE = 6,  /* tokens[0..n-1]: each loses its bindings, tags and platform unless one of
                               them was made or refreshed at or after invalid_since[i] */
} pb_tag_write_kind;

typedef enum pb_tag_outcome {
    PB_TAG_OK = 0,
    PB_TAG_OVER_TOKEN_LIMIT, /* pair `at` would give its token more than max_tags_per_token tags */
    PB_TAG_OVER_APP_LIMIT,   /* pair `at` would give the app more than max_tags_per_app distinct tags */
    PB_TAG_NO_SPACE,         /* the adds would eat into the store's reserve (pb_store_space) */
} pb_tag_outcome;

/*
 * One tag request: applied whole or not at all. Anything but PB_TAG_OK in
 * `outcome` means nothing of it was written.
 */
typedef struct pb_tag_write {
    pb_tag_write_kind kind;
    const pb_str *tags;
    const pb_str *tokens;
    size_t n;
    bool by_category;             /* REPLACE */
    pb_platform platform;         /* ADD, REMOVE, CLEAR_TOKEN, REPLACE: not NONE, the tokens' platform from now on,
                                     as an APPEND of no account sets it (kept with the token's bindings) */
    const int64_t *invalid_since; /* INVALIDATE: n Unix times */
    uint32_t max_tags_per_token;
    uint32_t max_tags_per_app;
    /* outputs */
    pb_tag_outcome outcome;
    size_t at;  /* OVER_*: the index of the pair that broke the limit */
    bool *kept; /* INVALIDATE: n flags the caller allocates; kept[i]: tokens[i] was refreshed, nothing changed */
} pb_tag_write;

/*
 * REPLACE's rule, for the backends (store/tag_rules.c): whether a token's tag
 * `tag` stays, because `write` names it again or, with by_category, no tag
 * of `write` shares its category (the text before its first ':').
 */
bool pb_tag_replace_keeps(const pb_tag_write *write, pb_str tag);

/*
 * Applies `write` to app `access_id` like pb_store_apply_start() applies
 * changes (the same durability, threads and done() rules) and sets its
 * outputs. Every backend keeps tags. done() gets 0, PB_STORE_ENOTFOUND or
 * PB_STORE_EIO (nothing changed; on Redis, as for its binds, nothing
 * promised either way once a write was sent).
 * DELETE_ALL makes the tags gone for every read at once and durably; their
 * pairs' bytes are freed in the background in bounded steps.
 */
void pb_store_tag_apply_start(pb_store_session *session, uint64_t access_id, pb_tag_write *write, pb_pool *pool,
                              pb_store_apply_done *done, void *arg);

/*
 * The same write, waiting for it: for the tools (`pull`), on a thread with
 * no event loop, as pb_store_apply() is to pb_store_apply_start(). Returns
 * what done() would get.
 */
int pb_store_tag_apply(pb_store_session *session, uint64_t access_id, pb_tag_write *write);

typedef enum pb_tag_lookup_kind {
    PB_TAG_LOOKUP_TAGS_OF = 1,   /* each of tokens[0..n-1]'s tags, oldest first, into lists[] */
    PB_TAG_LOOKUP_TOKENS_OF = 2, /* tags[0]'s tokens after `after`, at most `limit`, into lists[0] */
    PB_TAG_LOOKUP_COUNTS = 3,    /* each of tags[0..n-1]'s token count into counts[] */
    PB_TAG_LOOKUP_TAGS = 4,      /* the app's tags after after_tag in byte order, at most `limit`, with counts */
} pb_tag_lookup_kind;

typedef struct pb_str_array {
    pb_str *items;
    size_t n;
} pb_str_array;

typedef struct pb_tag_lookup {
    pb_tag_lookup_kind kind;
    uint64_t access_id;
    const pb_str *tokens;
    const pb_str *tags;
    size_t n;
    uint64_t after;   /* TOKENS_OF: 0, or the `next` of the previous page */
    pb_str after_tag; /* TAGS: empty, or the last tag of the previous page */
    size_t limit;
    /* outputs, from `pool`; strings valid until done() returns */
    int result;          /* 0 or PB_STORE_EIO */
    pb_str_array *lists; /* TAGS_OF: n lists; TOKENS_OF and TAGS: one */
    uint64_t *counts;    /* COUNTS: n; TAGS: one per tag listed */
    uint64_t next;       /* TOKENS_OF: where the next page starts; 0 on the last page */
    bool more;           /* TAGS: a next page exists */
} pb_tag_lookup;

typedef void pb_tag_lookup_done(void *arg, pb_tag_lookup *lookup);

/*
 * The read `lookup` names, with pb_store_lookup_start()'s rules for a list
 * lookup. A page of TOKENS_OF read while tags change still holds every token
 * that had the tag for the whole read, exactly once across the pages.
 */
void pb_store_tag_lookup_start(pb_store_session *session, pb_tag_lookup *lookup, pb_pool *pool,
                               pb_tag_lookup_done *done, void *arg);

#endif
