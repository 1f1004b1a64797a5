/*
 * loop.c — a session bound to an event loop: lookups and batches go out on
 * the loop's own libpq connections, non-blocking and in pipeline mode, and
 * are answered from their results on the loop's thread.
 *
 * Each thread has PB_PG_READ_CONNECTIONS connections for lookups and
 * PB_PG_WRITE_CONNECTIONS for batches (a write that waits for a synchronous
 * standby must not hold up the reads queued behind it on one connection). A
 * request goes to the connection of its kind with the fewest in flight. Every
 * request is one prepared statement followed by a sync point: it is its own
 * transaction, and every request in flight on a connection is in one
 * pipeline. Results come back in order, so each connection keeps a FIFO of
 * the requests it sent.
 *
 * Failures. A connection is opened when a request needs it (PQconnectStart /
 * PQconnectPoll on the loop), and given PB_PG_TIMEOUT_MS to open, then as
 * long again for the SET and the prepares every connection begins with;
 * each request its reply likewise. A write waits until the prepares are
 * answered before it is sent (a lookup may go behind them): until then
 * nothing of it has left pushbind, so a connection that fails or times out
 * while opening leaves it unsent, and it is sent on another open connection
 * of the thread, or failed. A connection that fails, or whose request times
 * out, is closed with everything in flight: a lookup is sent again, once, on
 * a new connection (a multi-host URL with target_session_attrs=read-write
 * then finds the new primary); a batch whose COMMIT may have been sent
 * answers PB_STORE_EIO (outcome unknown) and is never sent again. PING is
 * never retried nor moved, so that a health check answers within the
 * timeouts.
 *
 * Secrets read lately are kept per thread (store/secret_cache.h, as on
 * Redis): trusted for PB_SECRET_TTL_MS, and not at all once the process's
 * apps epoch moved (watch.c: app_put() and app_remove() NOTIFY).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <h2o.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/postgres/store_state.h"
#include "store/secret_cache.h"

#define PB_PG_READ_CONNECTIONS 4
#define PB_PG_WRITE_CONNECTIONS 4
#define PB_PG_CONNECTIONS (PB_PG_READ_CONNECTIONS + PB_PG_WRITE_CONNECTIONS)

typedef struct aconn aconn;
typedef struct request request;

/* One request: from the caller's pool, which lives until its done() is called. */
struct request {
    request *next;
    pb_pg_loop *owner;
    pb_pg_query query;
    bool write;     /* never sent twice */
    bool retryable; /* a read other than PING, not yet retried */
    int statements; /* results to read before the sync point (the prepares send several) */
    int seen;       /* statements whose results were read */
    PGresult *result;
    h2o_timeout_entry_t timeout;
    uint64_t started_ns;
    /* what asked */
    pb_store_lookup *lookup;
    pb_pool *pool;
    pb_store_lookup_done *lookup_done;
    pb_change_outcome *outcomes;
    size_t n_changes;
    pb_store_apply_done *apply_done;
    pb_tag_write *tag_write;   /* a tag request, answered by apply_done */
    pb_tag_lookup *tag_lookup; /* a tag lookup, answered by tag_lookup_done */
    pb_tag_lookup_done *tag_lookup_done;
    void *arg;
    uint64_t epoch; /* SECRET: the apps epoch when it was asked */
};

/* CONN_PREPARING: connected, the prepares not answered yet; lookups may be sent behind them, writes wait. */
typedef enum conn_state { CONN_CLOSED, CONN_CONNECTING, CONN_PREPARING, CONN_READY } conn_state;

struct aconn {
    pb_pg_loop *owner;
    conn_state state;
    PGconn *pg;
    h2o_socket_t *sock; /* watches a duplicate of libpq's descriptor */
    request *sent, *sent_tail;       /* awaiting their results, in order */
    request *waiting, *waiting_tail; /* not sent yet: the connection is opening or preparing */
    size_t in_flight;
    request prepares; /* the SET and the PQsendPrepare()s every new connection begins with */
    h2o_timeout_entry_t connect_timeout;
    h2o_timeout_entry_t fail_soon; /* a failure found inside a caller's call, handled from the loop */
};

struct pb_pg_loop {
    pb_pg_session *session;
    h2o_evloop_t *loop;
    h2o_timeout_t reply_timeout;
    h2o_timeout_t soon; /* 0 ms */
    aconn conns[PB_PG_CONNECTIONS];
    pb_secret_cache *secrets;
};

static void conn_fail(aconn *c);
static void assign(aconn *c, request *r);
static void on_readable(h2o_socket_t *sock, const char *err);

/* ---- Answering ---- */

/* Answers `r` from `res` (NULL: failed) and calls its done(). */
static void finish(request *r, PGresult *res)
{
    if (r->lookup != NULL) {
        pb_pg_lookup_decode(r->lookup, res, r->pool);
        if (r->lookup->kind == PB_LOOKUP_SECRET)
            pb_secret_remember(r->owner->secrets, r->lookup->access_id, r->epoch, r->lookup->result, r->lookup->secret,
                               r->lookup->keys);
        r->lookup_done(r->arg, r->lookup);
        return;
    }
    if (r->tag_lookup != NULL) {
        pb_pg_tag_lookup_decode(r->tag_lookup, res, r->pool);
        r->tag_lookup_done(r->arg, r->tag_lookup);
        return;
    }
    int rc = r->tag_write != NULL ? pb_pg_tag_apply_decode(res, r->tag_write)
                                  : pb_pg_apply_decode(res, r->n_changes, r->outcomes);
    pb_metrics_observe_store_commit(pb_clock_ns() - r->started_ns);
    pb_metrics_observe_commit_batch(1);
    r->apply_done(r->arg, rc);
}

/* ---- Connections ---- */

static void push(request **head, request **tail, request *r)
{
    r->next = NULL;
    if (*tail != NULL)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

static void unwatch(aconn *c)
{
    if (c->sock != NULL) {
        h2o_socket_read_stop(c->sock);
        h2o_socket_close(c->sock);
        c->sock = NULL;
    }
}

/* Whether libpq's connection is up: the prepares sent, answered or not. */
static bool connected(const aconn *c)
{
    return c->state == CONN_PREPARING || c->state == CONN_READY;
}

/* Watches libpq's current descriptor (it changes while a multi-host connection tries each host). */
static bool watch(aconn *c)
{
    unwatch(c);
    int fd = fcntl(PQsocket(c->pg), F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return false;
    c->sock = h2o_evloop_socket_create(c->owner->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    c->sock->data = c;
    return true;
}

static void on_fail_soon(h2o_timeout_entry_t *entry)
{
    conn_fail(H2O_STRUCT_FROM_MEMBER(aconn, fail_soon, entry));
}

/* A failure found inside a caller's call: handled from the loop, so done() never runs before the call returns. */
static void fail_soon(aconn *c)
{
    if (!h2o_timeout_is_linked(&c->fail_soon))
        h2o_timeout_link(c->owner->loop, &c->owner->soon, &c->fail_soon);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    aconn *c = sock->data;
    if (err != NULL) {
        conn_fail(c);
        return;
    }
    int rc = PQflush(c->pg);
    if (rc < 0)
        conn_fail(c);
    else if (rc > 0)
        h2o_socket_notify_write(c->sock, on_writable);
}

/* Hands libpq's output to the socket; the rest when it is writable. False when the connection failed. */
static bool flush(aconn *c)
{
    int rc = PQflush(c->pg);
    if (rc > 0 && !h2o_socket_is_writing(c->sock))
        h2o_socket_notify_write(c->sock, on_writable);
    return rc >= 0;
}

static void on_reply_timeout(h2o_timeout_entry_t *entry)
{
    request *r = H2O_STRUCT_FROM_MEMBER(request, timeout, entry);
    for (int i = 0; i < PB_PG_CONNECTIONS; i++) {
        aconn *c = &r->owner->conns[i];
        for (request *s = c->sent; s != NULL; s = s->next)
            if (s == r) {
                conn_fail(c);
                return;
            }
    }
}

/* Sends `r` on the open connection: its statement, then a sync point. */
static bool send_request(aconn *c, request *r)
{
    const pb_pg_query *q = &r->query;
    if (!PQsendQueryPrepared(c->pg, pb_pg_stmt_name(q->stmt), q->n_values, q->values, NULL, NULL, 0) ||
        !PQpipelineSync(c->pg))
        return false;
    r->statements = 1;
    r->seen = 0;
    r->result = NULL;
    push(&c->sent, &c->sent_tail, r);
    r->timeout = (h2o_timeout_entry_t){.cb = on_reply_timeout};
    h2o_timeout_link(c->owner->loop, &c->owner->reply_timeout, &r->timeout);
    return true;
}

/* Whether the connection takes `r` now: open, or preparing and `r` a lookup (which may go behind the prepares). */
static bool takes_now(const aconn *c, const request *r)
{
    return c->state == CONN_READY || (c->state == CONN_PREPARING && !r->write);
}

/* Sends what waited and the connection takes now; false when that failed (the rest stays waiting). */
static bool send_waiting(aconn *c)
{
    request *r = c->waiting, *kept = NULL, *kept_tail = NULL;
    c->waiting = c->waiting_tail = NULL;
    bool ok = true;
    while (r != NULL) {
        request *next = r->next;
        if (!ok || !takes_now(c, r) || !(ok = send_request(c, r)))
            push(&kept, &kept_tail, r); /* not sent */
        r = next;
    }
    c->waiting = kept;
    c->waiting_tail = kept_tail;
    return ok && flush(c);
}

/* The connection is connected: prepare every statement; the lookups that waited go behind the prepares. */
static void on_connected(aconn *c)
{
    const pb_pg_store *store = c->owner->session->store;
    c->state = CONN_PREPARING;
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg) || !watch(c)) {
        conn_fail(c);
        return;
    }
    h2o_socket_read_start(c->sock, on_readable);
    /*
     * Every statement's best plan is the same whatever its parameters (index
     * lookups by equality), so plan once per connection: a custom plan would be
     * made again at each execution, and planning cost more than executing.
     * The same holds for the statements inside apply_batch().
     */
    if (!PQsendQueryParams(c->pg, "SET plan_cache_mode = force_generic_plan", 0, NULL, NULL, NULL, NULL, 0)) {
        conn_fail(c);
        return;
    }
    for (int i = 0; i < PB_PG_STMT_COUNT; i++)
        if (!PQsendPrepare(c->pg, pb_pg_stmt_name((pb_pg_stmt)i), store->sql[i], 0, NULL)) {
            conn_fail(c);
            return;
        }
    if (!PQpipelineSync(c->pg)) {
        conn_fail(c);
        return;
    }
    c->prepares = (request){.owner = c->owner, .statements = PB_PG_STMT_COUNT + 1};
    c->prepares.timeout = (h2o_timeout_entry_t){.cb = on_reply_timeout};
    push(&c->sent, &c->sent_tail, &c->prepares);
    h2o_timeout_link(c->owner->loop, &c->owner->reply_timeout, &c->prepares.timeout);
    if (!send_waiting(c))
        conn_fail(c);
}

static void on_connect_io(h2o_socket_t *sock, const char *err);

/* One step of opening: PQconnectPoll, then wait for what it asks. */
static void connect_step(aconn *c, PostgresPollingStatusType status)
{
    if (status == PGRES_POLLING_OK) {
        h2o_timeout_unlink(&c->connect_timeout);
        on_connected(c);
        return;
    }
    if (status == PGRES_POLLING_FAILED || !watch(c)) {
        conn_fail(c);
        return;
    }
    if (status == PGRES_POLLING_READING)
        h2o_socket_read_start(c->sock, on_connect_io);
    else
        h2o_socket_notify_write(c->sock, on_connect_io);
}

static void on_connect_io(h2o_socket_t *sock, const char *err)
{
    aconn *c = sock->data;
    connect_step(c, PQconnectPoll(c->pg));
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    conn_fail(H2O_STRUCT_FROM_MEMBER(aconn, connect_timeout, entry));
}

/* Starts opening the connection; a failure to start is handled from the loop. */
static void start_connect(aconn *c)
{
    c->state = CONN_CONNECTING;
    c->pg = PQconnectStart(c->owner->session->store->conninfo);
    c->connect_timeout = (h2o_timeout_entry_t){.cb = on_connect_timeout};
    h2o_timeout_link(c->owner->loop, &c->owner->reply_timeout, &c->connect_timeout);
    if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD || !watch(c)) {
        fail_soon(c);
        return;
    }
    /* libpq: poll as if PGRES_POLLING_WRITING had been returned */
    h2o_socket_notify_write(c->sock, on_connect_io);
}

/*
 * The connection of a kind (batches or lookups) with the fewest in flight:
 * of all of them (never NULL), or, with `open_besides`, of those open other
 * than it (NULL when none is).
 */
static aconn *least_busy(pb_pg_loop *l, bool write, const aconn *open_besides)
{
    int first = write ? PB_PG_READ_CONNECTIONS : 0, end = write ? PB_PG_CONNECTIONS : PB_PG_READ_CONNECTIONS;
    aconn *best = NULL;
    for (int i = first; i < end; i++) {
        aconn *o = &l->conns[i];
        if (open_besides != NULL && (o == open_besides || o->state != CONN_READY))
            continue;
        if (best == NULL || o->in_flight < best->in_flight)
            best = o;
    }
    return best;
}

static bool is_ping(const request *r)
{
    return r->lookup != NULL && r->lookup->kind == PB_LOOKUP_PING;
}

/*
 * Closes the connection. What it had sent: lookups go again once (on a new
 * connection), the rest fail. What waited, never sent: on a new connection
 * when this one had opened and prepared; else (the store cannot be reached,
 * or not in time) on another open connection of the thread when there is
 * one and it is not PING, else failed.
 */
static void conn_fail(aconn *c)
{
    bool had_opened = c->state == CONN_READY;
    request *sent = c->sent, *waiting = c->waiting;
    if (c->prepares.owner != NULL && h2o_timeout_is_linked(&c->prepares.timeout))
        h2o_timeout_unlink(&c->prepares.timeout);
    if (h2o_timeout_is_linked(&c->connect_timeout))
        h2o_timeout_unlink(&c->connect_timeout);
    if (h2o_timeout_is_linked(&c->fail_soon))
        h2o_timeout_unlink(&c->fail_soon);
    unwatch(c);
    pb_pg_finish(c->pg, sent != NULL);
    c->pg = NULL;
    c->state = CONN_CLOSED;
    c->sent = c->sent_tail = c->waiting = c->waiting_tail = NULL;
    c->in_flight = 0;
    /* requests to go again are queued first, then the connection opens, then the rest are answered */
    request *again = NULL, *again_tail = NULL, *failed = NULL, *failed_tail = NULL;
    for (request *r = sent, *next; r != NULL; r = next) {
        next = r->next;
        if (r == &c->prepares)
            continue;
        if (h2o_timeout_is_linked(&r->timeout))
            h2o_timeout_unlink(&r->timeout);
        PQclear(r->result);
        r->result = NULL;
        if (r->retryable) {
            r->retryable = false;
            push(&again, &again_tail, r);
        } else {
            push(&failed, &failed_tail, r);
        }
    }
    request *unsent = NULL, *unsent_tail = NULL;
    for (request *r = waiting, *next; r != NULL; r = next) {
        next = r->next;
        if (had_opened)
            push(&again, &again_tail, r);
        else
            push(&unsent, &unsent_tail, r);
    }
    c->prepares.owner = NULL;
    if (again != NULL) {
        c->waiting = again;
        c->waiting_tail = again_tail;
        for (request *r = again; r != NULL; r = r->next)
            c->in_flight++;
        start_connect(c);
    }
    for (request *r = unsent, *next; r != NULL; r = next) {
        next = r->next;
        aconn *other = is_ping(r) ? NULL : least_busy(c->owner, r->write, c);
        if (other != NULL)
            assign(other, r);
        else
            finish(r, NULL);
    }
    for (request *r = failed, *next; r != NULL; r = next) {
        next = r->next;
        finish(r, NULL);
    }
}

/* Reads the results that have arrived, answering each request whose sync point came. */
static void read_results(aconn *c)
{
    while (c->sent != NULL && connected(c)) {
        request *r = c->sent;
        if (PQisBusy(c->pg))
            return;
        PGresult *res = PQgetResult(c->pg);
        if (r->seen < r->statements) {
            if (res == NULL) {
                r->seen++;
            } else if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
                PQclear(res);
                conn_fail(c);
                return;
            } else if (r->result == NULL && PQresultStatus(res) != PGRES_COMMAND_OK) {
                r->result = res; /* a prepare's result is kept only when it failed */
            } else if (r->result == NULL && r != &c->prepares) {
                r->result = res;
            } else {
                PQclear(res);
            }
            continue;
        }
        if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
            PQclear(res);
            conn_fail(c);
            return;
        }
        PQclear(res);
        c->sent = r->next;
        if (c->sent == NULL)
            c->sent_tail = NULL;
        h2o_timeout_unlink(&r->timeout);
        if (r == &c->prepares) {
            bool failed = r->result != NULL;
            PQclear(r->result);
            r->result = NULL;
            r->owner = NULL;
            if (failed) {
                conn_fail(c);
                return;
            }
            c->state = CONN_READY;
            if (!send_waiting(c)) {
                conn_fail(c);
                return;
            }
            continue;
        }
        c->in_flight--;
        PGresult *result = r->result;
        r->result = NULL;
        /* a server that went read-only (demoted) or is shutting down: find the primary again */
        const char *state = result != NULL ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
        bool reconnect = state != NULL && (strcmp(state, "25006") == 0 || strncmp(state, "57P", 3) == 0);
        finish(r, result);
        PQclear(result);
        if (reconnect && connected(c)) {
            conn_fail(c);
            return;
        }
    }
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    aconn *c = sock->data;
    if (err != NULL || !PQconsumeInput(c->pg) || !flush(c)) {
        conn_fail(c);
        return;
    }
    read_results(c);
    if (connected(c) && PQstatus(c->pg) == CONNECTION_BAD)
        conn_fail(c);
}

/* Hands `r` to `c`: sent when `c` takes it now, else waiting for `c` to open (which starts when it is closed). */
static void assign(aconn *c, request *r)
{
    c->in_flight++;
    if (takes_now(c, r)) {
        if (send_request(c, r) && flush(c))
            return;
        if (c->sent_tail != r) /* never queued: it was not sent */
            push(&c->waiting, &c->waiting_tail, r);
        fail_soon(c);
        return;
    }
    push(&c->waiting, &c->waiting_tail, r);
    if (c->state == CONN_CLOSED)
        start_connect(c);
}

static void submit(pb_pg_loop *l, request *r)
{
    r->owner = l;
    assign(least_busy(l, r->write, NULL), r);
}

/* ---- The store's calls ---- */

int pb_pg_session_attach_loop(pb_pg_session *session, void *loop)
{
    pb_pg_store *store = session->store;
    pthread_mutex_lock(&store->lazy_lock);
    if (store->watch == NULL)
        store->watch = pb_pg_watch_start(store);
    bool watched = store->watch != NULL;
    pthread_mutex_unlock(&store->lazy_lock);
    if (!watched) {
        snprintf(session->error, sizeof(session->error), "cannot start the thread that listens for apps changing");
        return PB_STORE_EIO;
    }
    pb_pg_loop *l = calloc(1, sizeof(*l));
    if (l == NULL || (l->secrets = pb_secret_cache_new()) == NULL) {
        free(l);
        return PB_STORE_EIO;
    }
    l->session = session;
    l->loop = loop;
    h2o_timeout_init(loop, &l->reply_timeout, PB_PG_TIMEOUT_MS);
    h2o_timeout_init(loop, &l->soon, 0);
    for (int i = 0; i < PB_PG_CONNECTIONS; i++) {
        l->conns[i].owner = l;
        l->conns[i].fail_soon = (h2o_timeout_entry_t){.cb = on_fail_soon};
    }
    session->loop = l;
    return PB_STORE_OK;
}

void pb_pg_session_detach_loop(pb_pg_session *session)
{
    pb_pg_loop *l = session->loop;
    if (l == NULL)
        return;
    for (int i = 0; i < PB_PG_CONNECTIONS; i++)
        conn_fail(&l->conns[i]); /* nothing is in flight: this only closes */
    pb_secret_cache_free(l->secrets);
    h2o_timeout_dispose(l->loop, &l->reply_timeout);
    h2o_timeout_dispose(l->loop, &l->soon);
    free(l);
    session->loop = NULL;
}

bool pb_pg_session_bound(const pb_pg_session *session)
{
    return session->loop != NULL;
}

void pb_pg_lookup_start(pb_pg_session *session, pb_store_lookup *lookup, pb_pool *pool, pb_store_lookup_done *done,
                        void *arg)
{
    pb_pg_loop *l = session->loop;
    if (lookup->kind == PB_LOOKUP_SECRET && !lookup->fresh &&
        pb_secret_cached(l->secrets, lookup->access_id, pb_pg_apps_epoch(session->store->watch), pool,
                         &lookup->result, &lookup->secret, &lookup->keys)) {
        lookup->cached = true;
        done(arg, lookup);
        return;
    }
    request *r = pb_pool_alloc(pool, sizeof(*r));
    *r = (request){.lookup = lookup, .pool = pool, .lookup_done = done, .arg = arg,
                   .retryable = lookup->kind != PB_LOOKUP_PING};
    if (lookup->kind == PB_LOOKUP_SECRET)
        r->epoch = pb_pg_apps_epoch(session->store->watch);
    pb_pg_lookup_query(&r->query, session->store, lookup, pool);
    submit(l, r);
}

void pb_pg_apply_start(pb_pg_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                       pb_change_outcome *outcomes, pb_pool *pool, pb_store_apply_done *done, void *arg)
{
    request *r = pb_pool_alloc(pool, sizeof(*r));
    *r = (request){.write = true, .outcomes = outcomes, .n_changes = n, .apply_done = done, .arg = arg,
                   .started_ns = pb_clock_ns()};
    pb_pg_apply_query(&r->query, session->store, access_id, changes, n, pool);
    submit(session->loop, r);
}

void pb_pg_tag_apply_start(pb_pg_session *session, uint64_t access_id, pb_tag_write *write, pb_pool *pool,
                           pb_store_apply_done *done, void *arg)
{
    request *r = pb_pool_alloc(pool, sizeof(*r));
    *r = (request){.write = true, .tag_write = write, .apply_done = done, .arg = arg, .started_ns = pb_clock_ns()};
    pb_pg_tag_apply_query(&r->query, session->store, access_id, write, pool);
    submit(session->loop, r);
}

void pb_pg_tag_lookup_start(pb_pg_session *session, pb_tag_lookup *lookup, pb_pool *pool, pb_tag_lookup_done *done,
                            void *arg)
{
    request *r = pb_pool_alloc(pool, sizeof(*r));
    *r = (request){.tag_lookup = lookup, .pool = pool, .tag_lookup_done = done, .arg = arg, .retryable = true};
    pb_pg_tag_lookup_query(&r->query, lookup, pool);
    submit(session->loop, r);
}
