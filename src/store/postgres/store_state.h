/*
 * store/postgres/store_state.h — state shared by the PostgreSQL backend's files:
 * postgres.c (the URL, opening, sessions and the waiting calls), schema.c (the
 * tables and functions it installs), sql.c (each statement's text, its
 * parameters and the decoding of its rows), loop.c (connections on an event
 * loop, pipelined), watch.c (LISTEN for apps changing; the background
 * expiry and freeing of deleted tags) and tags.c (the tag requests' and
 * lookups' parameters and rows). Private to store/postgres/.
 *
 * Layout, in the schema the URL names (schema.c has the DDL):
 *
 *   meta(key, value)        'version' = the schema's version
 *   apps(id, created_at, secret)
 *   app_counts(app, shard, n)  an app's bindings count = sum(n); sharded by
 *                           backend pid so that writers do not queue on one row
 *   bindings(app, seq, bind_time, last_bind_time, atype, platform, token, account)
 *                           primary key (app, token, atype, account): the
 *                           accounts of a token; index (app, atype, account):
 *                           the tokens of an account. seq (one sequence) is
 *                           creation order in both directions. platform is
 *                           the token's, kept equal on all its rows (a token
 *                           with no binding has none).
 *
 *   tags(app, id, n, tag)   primary key (app, tag); unique index (id). One
 *                           row a tag: id (its gen) from tag_seq, new each
 *                           time the tag is made, n its tokens. A row with
 *                           n = 0 is no tag (it waits for tag_step()).
 *   tag_apps(app, n)        the app's distinct tags (rows with n > 0)
 *   tag_pairs(app, gen, seq, time, token)
 *                           primary key (app, token, gen): a token's tags;
 *                           index (gen, seq): a tag's tokens in the order
 *                           they got it. seq (tag_seq) orders both sides and
 *                           is where a page of tokens resumes; time is when
 *                           the pair was made or last re-added. A pair whose
 *                           gen no tags row has is dead (its tag was deleted
 *                           for every token) and is never read.
 *   tag_graves(gen, app)    deleted tags whose pairs tag_step() still frees
 *
 * Every query of a request is one statement (unnest() of array parameters
 * for any number of items), and a batch one call of apply_batch(): one round
 * trip either way.
 */
#ifndef PB_STORE_POSTGRES_STORE_STATE_H
#define PB_STORE_POSTGRES_STORE_STATE_H

#include <libpq-fe.h>
#include <pthread.h>

#include "store/postgres/postgres.h"

#define PB_PG_SCHEMA_VERSION 3
#define PB_PG_SCHEMA_MAX 63 /* PostgreSQL's NAMEDATALEN - 1 */
#define PB_PG_DEFAULT_SCHEMA "pushbind"
#define PB_PG_SCHEMA_PARAM "pushbind_schema"
#define PB_PG_TIMEOUT_MS 2000 /* a reply, or a connection, within this (as Redis's) */

/* The statements pushbind runs; sql.c has their texts. */
typedef enum pb_pg_stmt {
    PB_PG_SECRET,
    PB_PG_APP,
    PB_PG_APPS,
    PB_PG_PING,
    PB_PG_TOKENS_OF,
    PB_PG_TOKENS_OF_INFO,
    PB_PG_ACCOUNTS_OF,
    PB_PG_ACCOUNTS_OF_INFO,
    PB_PG_APPLY,
    PB_PG_APP_PUT,
    PB_PG_APP_REMOVE,
    PB_PG_EXPIRE_STEP,
    PB_PG_KEY_PUT,
    PB_PG_KEY_REVOKE,
    PB_PG_ACCOUNT_TYPES,
    PB_PG_TAG_APPLY,
    PB_PG_TAGS_OF,
    PB_PG_TAG_TOKENS,
    PB_PG_TAG_COUNTS,
    PB_PG_TAG_LIST,
    PB_PG_TAG_STEP,
    PB_PG_STMT_COUNT
} pb_pg_stmt;

#define PB_PG_MAX_PARAMS 13

/* One statement with its parameters (text format), built in a pool. */
typedef struct pb_pg_query {
    pb_pg_stmt stmt;
    const char *values[PB_PG_MAX_PARAMS];
    int n_values;
} pb_pg_query;

typedef struct pb_pg_watch pb_pg_watch; /* watch.c */

struct pb_pg_store {
    char *conninfo; /* the URL without pushbind_schema, with pushbind's session settings, for libpq */
    char schema[PB_PG_SCHEMA_MAX + 1];
    char quoted[2 * PB_PG_SCHEMA_MAX + 3]; /* as an identifier in SQL */
    char *sql[PB_PG_STMT_COUNT];           /* the statements' texts, with the schema */
    pb_store_limits limits;
    int64_t binding_ttl; /* seconds; 0: bindings never expire */
    pb_metrics *metrics;
    pthread_mutex_t lazy_lock; /* guards starting the watch */
    pb_pg_watch *watch;        /* LISTEN and the expiry, started by the first session bound to a loop */
};

typedef struct pb_pg_loop pb_pg_loop; /* loop.c */

struct pb_pg_session {
    pb_pg_store *store;
    PGconn *conn; /* the waiting calls' connection, opened on first use */
    pb_pool pool; /* scratch for one call, and the strings of the open view */
    bool view_open;
    char error[256];
    pb_pg_loop *loop; /* bound to an event loop: its connections; NULL otherwise */
};

/* ---- URL (postgres.c) ---- */

/*
 * Splits `url` into a libpq URI (*conninfo, malloc'ed) and the schema
 * (`schema`, PB_PG_SCHEMA_MAX + 1 bytes): pushbind_schema=NAME is taken out
 * of the query; NAME is 1 to 63 letters, digits, '_', '-' or '.', "pushbind"
 * when absent. Returns NULL or what is wrong with the URL.
 */
const char *pb_pg_url_parse(const char *url, char **conninfo, char *schema);

/*
 * The connection string every connection of the store opens with (*conninfo,
 * malloc'ed; key='value' pairs): the parameters of `uri` (a libpq URI, as
 * pb_pg_url_parse() leaves it), with `options` extended by the session
 * settings pushbind relies on (read committed; a check of the client every
 * second): the URI's own options, else PGOPTIONS's, are kept between them.
 * Returns NULL, or what is wrong (libpq's reading of the URI, in `error`).
 */
const char *pb_pg_conninfo(const char *uri, char **conninfo, char *error, size_t error_size);

/*
 * Closes `conn` (PQfinish; NULL is fine). With `in_flight` (requests were
 * given up on), by a reset: an orderly close queues its FIN behind the
 * pipelined requests the backend has not read yet, which a backend waiting
 * for a lock never reads, so it would never learn that its client left;
 * after a reset its next check of the client (every second) ends it,
 * rolling back and freeing its locks.
 */
void pb_pg_finish(PGconn *conn, bool in_flight);

/* ---- Schema (schema.c) ---- */

/*
 * Creates the schema `quoted_schema` names on `conn` when missing, or
 * upgrades it, under an advisory lock. Returns NULL, or a message (in
 * `error`) saying what failed, a newer schema included.
 */
const char *pb_pg_schema_ensure(PGconn *conn, const char *quoted_schema, char *error, size_t error_size);

/* ---- Statements (sql.c) ---- */

/* Fills store->sql[]; false when out of memory. */
bool pb_pg_sql_init(pb_pg_store *store);
void pb_pg_sql_free(pb_pg_store *store);

/* The statement's name when prepared ("pb1" …). */
const char *pb_pg_stmt_name(pb_pg_stmt stmt);

/* The cutoff of expiry now: a binding last confirmed at or before it has expired. */
int64_t pb_pg_cutoff(const pb_pg_store *store, int64_t now);

/* The query of a lookup (not PING, which has no parameters: stmt only). */
void pb_pg_lookup_query(pb_pg_query *query, const pb_pg_store *store, const pb_store_lookup *lookup, pb_pool *pool);

/*
 * Fills the lookup's outputs (and result) from its statement's result
 * (`res` NULL: the store failed). Strings are copied into `pool`.
 */
void pb_pg_lookup_decode(pb_store_lookup *lookup, const PGresult *res, pb_pool *pool);

/* The call of apply_batch() for these changes. */
void pb_pg_apply_query(pb_pg_query *query, const pb_pg_store *store, uint64_t access_id, const pb_change *changes,
                       size_t n, pb_pool *pool);

/* Reads apply_batch()'s answer into outcomes[0..n-1]: 0, PB_STORE_ENOTFOUND or PB_STORE_EIO. */
int pb_pg_apply_decode(const PGresult *res, size_t n, pb_change_outcome *outcomes);

/* Whether a statement's result succeeded. */
static inline bool pb_pg_result_ok(const PGresult *res)
{
    ExecStatusType status = PQresultStatus(res);
    return status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
}

/* Array literals and numbers in libpq's text format, in `pool`. */
const char *pb_pg_text_array(pb_pool *pool, const pb_str *items, size_t n);
const char *pb_pg_i64_array(pb_pool *pool, const int64_t *items, size_t n);
const char *pb_pg_decimal(pb_pool *pool, int64_t value);
const char *pb_pg_udecimal(pb_pool *pool, uint64_t value);

/* ---- Tags (tags.c) ---- */

/* The call of tag_apply() for `write`. */
void pb_pg_tag_apply_query(pb_pg_query *query, const pb_pg_store *store, uint64_t access_id,
                           const pb_tag_write *write, pb_pool *pool);

/* Reads tag_apply()'s answer into write's outputs: 0, PB_STORE_ENOTFOUND or PB_STORE_EIO. */
int pb_pg_tag_apply_decode(const PGresult *res, pb_tag_write *write);

/* The query of a tag lookup. */
void pb_pg_tag_lookup_query(pb_pg_query *query, const pb_tag_lookup *lookup, pb_pool *pool);

/* Fills the tag lookup's outputs (and result) from its statement's result (NULL: failed); strings into `pool`. */
void pb_pg_tag_lookup_decode(pb_tag_lookup *lookup, const PGresult *res, pb_pool *pool);

/* ---- Loop (loop.c) and watch (watch.c) ---- */

/* Process-wide: moves whenever an app may have changed (a NOTIFY, or the listener lost its connection). */
uint64_t pb_pg_apps_epoch(const pb_pg_watch *watch);
pb_pg_watch *pb_pg_watch_start(pb_pg_store *store);
void pb_pg_watch_stop(pb_pg_watch *watch);

#endif
