/*
 * postgres.c — the PostgreSQL backend: opening a store from its URL,
 * sessions, and the calls that wait (the command line, and a session bound
 * to no loop). The loop's calls are in loop.c.
 *
 *   postgresql://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]…][/DATABASE][?PARAM=VALUE&…]
 *
 * is a libpq connection URI (postgres:// too): every parameter libpq knows
 * works (target_session_attrs=read-write, sslmode, …), plus pushbind's own
 * pushbind_schema=NAME, taken out before libpq sees the URI: the schema
 * (namespace) that holds the deployment's tables, "pushbind" by default, so
 * that several deployments can share one database. Every connection adds
 * pushbind's session settings to the URI's options= (pb_pg_conninfo()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "store/app_keys.h"
#include "store/postgres/store_state.h"

bool pb_pg_url_is(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

static bool schema_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}

const char *pb_pg_url_parse(const char *url, char **conninfo, char *schema)
{
    *conninfo = NULL;
    if (!pb_pg_url_is(url))
        return "the URL must start with postgresql:// or postgres://";
    strcpy(schema, PB_PG_DEFAULT_SCHEMA);
    char *out = malloc(strlen(url) + 1);
    if (out == NULL)
        return "out of memory";
    const char *query = strchr(url, '?');
    size_t head = query != NULL ? (size_t)(query - url) : strlen(url);
    memcpy(out, url, head);
    size_t len = head;
    bool found = false;
    /* each PARAM=VALUE of the query, copied unless it is pushbind's */
    for (const char *p = query != NULL ? query + 1 : NULL; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&');
        size_t n = amp != NULL ? (size_t)(amp - p) : strlen(p);
        size_t key = sizeof(PB_PG_SCHEMA_PARAM) - 1;
        if (n > key && strncmp(p, PB_PG_SCHEMA_PARAM "=", key + 1) == 0) {
            size_t value = n - key - 1;
            if (found || value == 0 || value > PB_PG_SCHEMA_MAX) {
                free(out);
                return "pushbind_schema= takes one name of 1 to 63 letters, digits, '_', '-' or '.'";
            }
            for (size_t i = 0; i < value; i++)
                if (!schema_char(p[key + 1 + i])) {
                    free(out);
                    return "pushbind_schema= takes one name of 1 to 63 letters, digits, '_', '-' or '.'";
                }
            memcpy(schema, p + key + 1, value);
            schema[value] = '\0';
            found = true;
        } else if (n != 0) {
            out[len] = len == head ? '?' : '&';
            len++;
            memcpy(out + len, p, n);
            len += n;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    out[len] = '\0';
    *conninfo = out;
    return NULL;
}

/*
 * What every session of the store asks for at connect (libpq's `options`: a
 * backend's command line). The isolation goes last, so that no one's option
 * overrides it: the functions take their locks inside one statement and must
 * read, after the wait, what was committed meanwhile (design.md, "Tags
 * (PostgreSQL)"), which a database's or role's default of repeatable read
 * would prevent. The check of the client goes first, so that the URL's own
 * value wins: with it a backend whose request pushbind gave up on (and whose
 * connection it closed) ends within a second, rolling back, instead of
 * running to its end with its locks held.
 */
#define PB_PG_OPTIONS_FIRST "-c client_connection_check_interval=1s"
#define PB_PG_OPTIONS_LAST "-c default_transaction_isolation=read\\ committed"

/* Appends ` key='value'` to `out`, quoted as a libpq connection string wants. */
static void conninfo_append(char *out, size_t *len, const char *key, const char *value)
{
    *len += (size_t)sprintf(out + *len, "%s%s='", *len > 0 ? " " : "", key);
    for (const char *v = value; *v != '\0'; v++) {
        if (*v == '\'' || *v == '\\')
            out[(*len)++] = '\\';
        out[(*len)++] = *v;
    }
    out[(*len)++] = '\'';
    out[*len] = '\0';
}

const char *pb_pg_conninfo(const char *uri, char **conninfo, char *error, size_t error_size)
{
    *conninfo = NULL;
    char *parse_error = NULL;
    PQconninfoOption *params = PQconninfoParse(uri, &parse_error);
    if (params == NULL) {
        snprintf(error, error_size, "%s", parse_error != NULL ? parse_error : "out of memory");
        size_t len = strlen(error);
        while (len > 0 && error[len - 1] == '\n')
            error[--len] = '\0';
        PQfreemem(parse_error);
        return error;
    }
    const char *theirs = getenv("PGOPTIONS"); /* libpq's when the URL has none */
    if (theirs == NULL)
        theirs = "";
    size_t size = 1;
    for (PQconninfoOption *p = params; p->keyword != NULL; p++) {
        if (strcmp(p->keyword, "options") == 0 && p->val != NULL)
            theirs = p->val;
        else if (p->val != NULL)
            size += strlen(p->keyword) + 2 * strlen(p->val) + 4;
    }
    char *options = NULL;
    if (asprintf(&options, "%s %s%s%s", PB_PG_OPTIONS_FIRST, theirs, *theirs != '\0' ? " " : "", PB_PG_OPTIONS_LAST) < 0) {
        PQconninfoFree(params);
        return "out of memory";
    }
    size += strlen("options") + 2 * strlen(options) + 4;
    char *out = malloc(size);
    if (out != NULL) {
        size_t len = 0;
        out[0] = '\0';
        for (PQconninfoOption *p = params; p->keyword != NULL; p++)
            if (p->val != NULL && strcmp(p->keyword, "options") != 0)
                conninfo_append(out, &len, p->keyword, p->val);
        conninfo_append(out, &len, "options", options);
    }
    free(options);
    PQconninfoFree(params);
    *conninfo = out;
    return out != NULL ? NULL : "out of memory";
}

void pb_pg_finish(PGconn *conn, bool in_flight)
{
    /* SO_LINGER 0: close() resets the connection, dropping what is still unsent */
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    if (in_flight && conn != NULL && PQsocket(conn) >= 0)
        (void)setsockopt(PQsocket(conn), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    PQfinish(conn);
}

/* A connection that answers, or NULL with the reason in `error`. */
static PGconn *connect_waiting(const char *conninfo, char *error, size_t error_size)
{
    PGconn *conn = PQconnectdb(conninfo);
    if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
        return conn;
    snprintf(error, error_size, "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory");
    size_t len = strlen(error);
    while (len > 0 && (error[len - 1] == '\n' || error[len - 1] == ' '))
        error[--len] = '\0';
    PQfinish(conn);
    return NULL;
}

pb_pg_store *pb_pg_open(const pb_store_config *config, char **err)
{
    char error[512] = "";
    const char *what = NULL;
    PGconn *conn = NULL;
    pb_pg_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        what = "out of memory";
        goto fail;
    }
    pthread_mutex_init(&store->lazy_lock, NULL);
    store->limits = config->limits;
    store->metrics = config->metrics;
    store->binding_ttl = config->binding_ttl_seconds > 0 ? config->binding_ttl_seconds : 0;
    char *uri = NULL;
    if ((what = pb_pg_url_parse(config->url, &uri, store->schema)) == NULL)
        what = pb_pg_conninfo(uri, &store->conninfo, error, sizeof(error));
    free(uri);
    if (what != NULL)
        goto fail;
    snprintf(store->quoted, sizeof(store->quoted), "\"%s\"", store->schema); /* its characters need no escape */
    if (!pb_pg_sql_init(store)) {
        what = "out of memory";
        goto fail;
    }
    /* Fail now, with a message, rather than on the first request; and leave the schema ready. */
    if ((conn = connect_waiting(store->conninfo, error, sizeof(error))) == NULL ||
        (what = pb_pg_schema_ensure(conn, store->quoted, error, sizeof(error))) != NULL) {
        what = error;
        goto fail;
    }
    PQfinish(conn);
    return store;

fail:
    if (err != NULL && asprintf(err, "%s: %s", config->url, what) < 0)
        *err = NULL;
    PQfinish(conn);
    pb_pg_close(store);
    return NULL;
}

void pb_pg_close(pb_pg_store *store)
{
    if (store == NULL)
        return;
    pb_pg_watch_stop(store->watch);
    pthread_mutex_destroy(&store->lazy_lock);
    pb_pg_sql_free(store);
    free(store->conninfo);
    free(store);
}

pb_pg_session *pb_pg_session_open(pb_pg_store *store)
{
    pb_pg_session *session = calloc(1, sizeof(*session));
    if (session == NULL)
        return NULL;
    session->store = store;
    pb_pool_init(&session->pool);
    return session;
}

void pb_pg_session_close(pb_pg_session *session)
{
    if (session == NULL)
        return;
    PQfinish(session->conn);
    pb_pool_clear(&session->pool);
    free(session);
}

const char *pb_pg_session_error(const pb_pg_session *session)
{
    return session->error;
}

/*
 * Runs `query` on the session's connection, waiting; connects (again) first
 * when there is none or it broke. NULL (the reason in session->error) when
 * the statement failed; else its result, which the caller PQclear()s.
 */
static PGresult *run_waiting(pb_pg_session *session, const pb_pg_query *query)
{
    const pb_pg_store *store = session->store;
    session->error[0] = '\0';
    if (session->conn != NULL && PQstatus(session->conn) != CONNECTION_OK) {
        PQfinish(session->conn);
        session->conn = NULL;
    }
    if (session->conn == NULL &&
        (session->conn = connect_waiting(store->conninfo, session->error, sizeof(session->error))) == NULL)
        return NULL;
    PGresult *res = PQexecParams(session->conn, store->sql[query->stmt], query->n_values, NULL, query->values, NULL,
                                 NULL, 0);
    if (res != NULL && pb_pg_result_ok(res))
        return res;
    snprintf(session->error, sizeof(session->error), "%s",
             res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(session->conn));
    PQclear(res);
    return NULL;
}

int pb_pg_ping(pb_pg_session *session)
{
    pb_pg_query query = {.stmt = PB_PG_PING};
    PGresult *res = run_waiting(session, &query);
    PQclear(res);
    return res != NULL ? PB_STORE_OK : PB_STORE_EIO;
}

pb_pg_session *pb_pg_view_begin(pb_pg_session *session)
{
    if (session->view_open) {
        snprintf(session->error, sizeof(session->error), "view begin: a view is already open");
        return NULL;
    }
    session->view_open = true;
    return session;
}

void pb_pg_view_end(pb_pg_session *session)
{
    if (!session->view_open)
        return;
    session->view_open = false;
    pb_pool_clear(&session->pool);
}

/* A lookup, waiting: its query, its result decoded into `pool`. */
static void lookup_waiting(pb_pg_session *session, pb_store_lookup *lookup, pb_pool *pool)
{
    pb_pg_query query;
    pb_pg_lookup_query(&query, session->store, lookup, pool);
    PGresult *res = run_waiting(session, &query);
    pb_pg_lookup_decode(lookup, res, pool);
    PQclear(res);
}

int pb_pg_app_secret(pb_pg_session *view, uint64_t access_id, pb_str *secret, pb_str *keys)
{
    pb_store_lookup lookup = {.kind = PB_LOOKUP_SECRET, .access_id = access_id};
    lookup_waiting(view, &lookup, &view->pool);
    *secret = lookup.secret;
    if (keys != NULL)
        *keys = lookup.keys;
    return lookup.result;
}

int pb_pg_app_of(pb_pg_session *view, uint64_t access_id, pb_app_info *app)
{
    pb_store_lookup lookup = {.kind = PB_LOOKUP_APP, .access_id = access_id};
    lookup_waiting(view, &lookup, &view->pool);
    if (lookup.result == PB_STORE_OK)
        *app = lookup.app;
    return lookup.result;
}

int pb_pg_account_types(pb_pg_session *view, uint64_t access_id, size_t max, pb_pool *pool, uint32_t **types,
                        size_t *n)
{
    pb_store_lookup lookup = {.kind = PB_LOOKUP_TYPES, .access_id = access_id, .n = max};
    lookup_waiting(view, &lookup, pool);
    if (lookup.result == PB_STORE_OK) {
        *types = lookup.types;
        *n = lookup.n_types;
    }
    return lookup.result;
}

int pb_pg_tokens_of(pb_pg_session *view, uint64_t access_id, const pb_account *accounts, size_t n, bool with_info,
                    pb_pool *pool, pb_token_list *out)
{
    pb_store_lookup lookup = {
        .kind = PB_LOOKUP_TOKENS_OF, .access_id = access_id, .accounts = accounts, .n = n, .with_info = with_info};
    lookup_waiting(view, &lookup, pool);
    if (lookup.result == PB_STORE_OK)
        memcpy(out, lookup.token_lists, n * sizeof(*out));
    return lookup.result;
}

int pb_pg_accounts_of(pb_pg_session *view, uint64_t access_id, const pb_str *tokens, size_t n, bool with_info,
                      pb_pool *pool, pb_account_list *out)
{
    pb_store_lookup lookup = {
        .kind = PB_LOOKUP_ACCOUNTS_OF, .access_id = access_id, .tokens = tokens, .n = n, .with_info = with_info};
    lookup_waiting(view, &lookup, pool);
    if (lookup.result == PB_STORE_OK)
        memcpy(out, lookup.account_lists, n * sizeof(*out));
    return lookup.result;
}

int pb_pg_apply(pb_pg_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                pb_change_outcome *outcomes)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_pg_query query;
    pb_pg_apply_query(&query, session->store, access_id, changes, n, &pool);
    PGresult *res = run_waiting(session, &query);
    int rc = pb_pg_apply_decode(res, n, outcomes);
    PQclear(res);
    pb_pool_clear(&pool);
    return rc;
}

int pb_pg_app_put(pb_pg_session *session, uint64_t access_id, pb_str secret, bool *created)
{
    char id[PB_DECIMAL_MAX + 1], now[PB_DECIMAL_MAX + 1];
    *pb_put_u64(id, access_id) = '\0';
    *pb_put_i64(now, pb_clock_unix_s()) = '\0';
    char *text = strndup(secret.base, secret.len);
    if (text == NULL)
        return PB_STORE_EIO;
    pb_pg_query query = {.stmt = PB_PG_APP_PUT, .values = {id, text, now}, .n_values = 3};
    PGresult *res = run_waiting(session, &query);
    free(text);
    if (res == NULL)
        return PB_STORE_EIO;
    *created = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return PB_STORE_OK;
}

int pb_pg_app_remove(pb_pg_session *session, uint64_t access_id, uint64_t *bindings_removed)
{
    char id[PB_DECIMAL_MAX + 1];
    *pb_put_u64(id, access_id) = '\0';
    pb_pg_query query = {.stmt = PB_PG_APP_REMOVE, .values = {id}, .n_values = 1};
    PGresult *res = run_waiting(session, &query);
    if (res == NULL)
        return PB_STORE_EIO;
    int rc = PQgetisnull(res, 0, 0) ? PB_STORE_ENOTFOUND : PB_STORE_OK;
    if (rc == PB_STORE_OK)
        *bindings_removed = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

int pb_pg_app_list(pb_pg_session *session, void (*visit)(void *arg, const pb_app_info *app), void *arg)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup lookup = {.kind = PB_LOOKUP_APPS};
    lookup_waiting(session, &lookup, &pool);
    for (size_t i = 0; lookup.result == PB_STORE_OK && i < lookup.n_apps; i++)
        visit(arg, &lookup.apps[i]);
    pb_pool_clear(&pool);
    return lookup.result;
}

int pb_pg_key_put(pb_pg_session *session, uint64_t access_id, const pb_app_key *key)
{
    char id[PB_DECIMAL_MAX + 1], role[PB_DECIMAL_MAX + 1], created[PB_DECIMAL_MAX + 1], expires[PB_DECIMAL_MAX + 1],
        max[PB_DECIMAL_MAX + 1];
    if (!pb_key_check(key, session->error, sizeof(session->error)))
        return PB_STORE_EINVAL;
    *pb_put_u64(id, access_id) = '\0';
    *pb_put_i64(role, key->role) = '\0';
    *pb_put_i64(created, key->created_at) = '\0';
    *pb_put_i64(expires, key->expires_at) = '\0';
    *pb_put_i64(max, PB_KEYS_PER_APP) = '\0';
    char *name = strndup(key->name.base, key->name.len), *secret = strndup(key->secret.base, key->secret.len);
    int rc = PB_STORE_EIO;
    if (name != NULL && secret != NULL) {
        pb_pg_query query = {.stmt = PB_PG_KEY_PUT, .values = {id, name, role, created, expires, secret, max},
                             .n_values = 7};
        PGresult *res = run_waiting(session, &query);
        if (res != NULL) {
            long answer = strtol(PQgetvalue(res, 0, 0), NULL, 10);
            rc = answer == 1 ? PB_STORE_OK : answer == -1 ? PB_STORE_ENOTFOUND : PB_STORE_EINVAL;
            if (answer == -2)
                snprintf(session->error, sizeof(session->error), "the app has a key named %s already", name);
            else if (answer == -3)
                snprintf(session->error, sizeof(session->error), "the app has %d keys, the most it may",
                         PB_KEYS_PER_APP);
            PQclear(res);
        }
    }
    free(name);
    free(secret);
    return rc;
}

int pb_pg_key_revoke(pb_pg_session *session, uint64_t access_id, pb_str name)
{
    char id[PB_DECIMAL_MAX + 1], text[PB_KEY_NAME_MAX + 1];
    if (!pb_store_key_name_valid(name))
        return PB_STORE_ENOTFOUND;
    *pb_put_u64(id, access_id) = '\0';
    memcpy(text, name.base, name.len);
    text[name.len] = '\0';
    pb_pg_query query = {.stmt = PB_PG_KEY_REVOKE, .values = {id, text}, .n_values = 2};
    PGresult *res = run_waiting(session, &query);
    if (res == NULL)
        return PB_STORE_EIO;
    int rc = PQgetvalue(res, 0, 0)[0] == 't' ? PB_STORE_OK : PB_STORE_ENOTFOUND;
    PQclear(res);
    return rc;
}

int pb_pg_key_list(pb_pg_session *session, uint64_t access_id, void (*visit)(void *arg, const pb_app_key *key),
                   void *arg)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup lookup = {.kind = PB_LOOKUP_SECRET, .access_id = access_id};
    lookup_waiting(session, &lookup, &pool);
    pb_app_key key;
    for (pb_str packed = lookup.keys; lookup.result == PB_STORE_OK && pb_store_keys_next(&packed, &key);) {
        key.secret = (pb_str){NULL, 0};
        visit(arg, &key);
    }
    pb_pool_clear(&pool);
    return lookup.result;
}

int pb_pg_tag_apply(pb_pg_session *session, uint64_t access_id, pb_tag_write *write)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_pg_query query;
    pb_pg_tag_apply_query(&query, session->store, access_id, write, &pool);
    PGresult *res = run_waiting(session, &query);
    int rc = pb_pg_tag_apply_decode(res, write);
    PQclear(res);
    pb_pool_clear(&pool);
    return rc;
}

void pb_pg_tag_lookup(pb_pg_session *session, pb_tag_lookup *lookup, pb_pool *pool)
{
    pb_pg_query query;
    pb_pg_tag_lookup_query(&query, lookup, pool);
    PGresult *res = run_waiting(session, &query);
    pb_pg_tag_lookup_decode(lookup, res, pool);
    PQclear(res);
}
