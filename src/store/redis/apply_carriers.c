/*
 * store/redis/apply_carriers.c — the write protocol's two carriers
 * (apply_machine.h): pb_redis_apply() runs each round on the session's
 * blocking conn, waiting; in a session bound to an event loop,
 * pb_redis_apply_start() runs them on the loop's write connections, each
 * round started from the previous one's done().
 *
 * The write connections are the loop's second pb_redis_aconn: WAIT holds a
 * Redis connection until replicas answer, and lookups must not queue behind
 * it. Every batch in flight on the loop is pipelined on them, so writes in
 * flight are bounded by memory, not by threads.
 */
#include <stdio.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/redis/net/async_cluster.h"
#include "store/redis/tags.h"

/* Runs machine `a` on the session's blocking conn, waiting for each round. */
static int run_waiting(pb_redis_session *session, pb_redis_applier *a)
{
    pb_redis_cmd *cmds;
    size_t n_cmds;
    while (pb_redis_applier_next(a, &cmds, &n_cmds)) {
        pb_redis_run(&session->conn, cmds, n_cmds);
        pb_redis_applier_judge(a);
    }
    int rc = pb_redis_applier_end(a);
    if (!session->view_open)
        pb_pool_clear(&session->pool);
    return rc;
}

int pb_redis_apply(pb_redis_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                   pb_change_outcome *outcomes)
{
    session->conn.error[0] = '\0';
    return run_waiting(session, pb_redis_applier_new(session, &session->conn, &session->pool, access_id, changes, n,
                                                     outcomes));
}

/* One batch on the loop; in the caller's pool, which lives until done(). */
typedef struct awrite {
    pb_redis_session *session;
    pb_redis_applier *applier;
    pb_redis_abatch batch;
    pb_store_apply_done *done;
    void *arg;
    uint64_t started_ns;
} awrite;

static void on_round(void *arg, int rc);

/* Sends the next round, or ends the batch: done() is called from the loop, never inside pb_redis_apply_start(). */
static void next_round(awrite *write)
{
    pb_redis_session *session = write->session;
    pb_redis_cmd *cmds;
    size_t n;
    if (pb_redis_applier_next(write->applier, &cmds, &n)) {
        pb_redis_arun(session->wconn, &write->batch, cmds, n, on_round, write);
        return;
    }
    int rc = pb_redis_applier_end(write->applier);
    if (rc == PB_STORE_EIO)
        snprintf(session->conn.error, sizeof(session->conn.error), "%s", pb_redis_aconn_error(session->wconn));
    /* A Redis write is its own "commit", observed as the embedded backend's writer observes its groups. */
    pb_metrics_observe_store_commit(pb_clock_ns() - write->started_ns);
    pb_metrics_observe_commit_batch(1);
    write->done(write->arg, rc); /* may free the pool `write` lives in */
}

static void on_round(void *arg, int rc)
{
    awrite *write = arg;
    (void)rc; /* each command's reply, or its absence, is what the step judges */
    pb_redis_applier_judge(write->applier);
    next_round(write);
}

/* Runs machine `a`, made on the loop's write connections' map, there. */
static void run_on_loop(pb_redis_session *session, pb_redis_applier *a, pb_pool *pool, pb_store_apply_done *done,
                        void *arg)
{
    awrite *write = pb_pool_alloc(pool, sizeof(*write));
    *write = (awrite){.session = session, .applier = a, .done = done, .arg = arg, .started_ns = pb_clock_ns()};
    /* The first round always exists (it checks the app), so done() comes from a reply's callback. */
    next_round(write);
}

void pb_redis_apply_start(pb_redis_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                          pb_change_outcome *outcomes, pb_pool *pool, pb_store_apply_done *done, void *arg)
{
    pb_redis_conn *map = pb_redis_aconn_map(session->wconn);
    run_on_loop(session, pb_redis_applier_new(session, map, pool, access_id, changes, n, outcomes), pool, done, arg);
}

int pb_redis_tag_apply(pb_redis_session *session, uint64_t access_id, pb_tag_write *write)
{
    session->conn.error[0] = '\0';
    return run_waiting(session, pb_redis_tag_applier_new(session, &session->conn, &session->pool, access_id, write));
}

void pb_redis_tag_apply_start(pb_redis_session *session, uint64_t access_id, pb_tag_write *write, pb_pool *pool,
                              pb_store_apply_done *done, void *arg)
{
    pb_redis_conn *map = pb_redis_aconn_map(session->wconn);
    run_on_loop(session, pb_redis_tag_applier_new(session, map, pool, access_id, write), pool, done, arg);
}
