/*
 * store/redis/net/async_cluster.h — cluster.h's batches without waiting: one
 * event-loop thread's asynchronous connections, one per node, and its own
 * slot map. For store/redis/ (the backend) and its tests.
 *
 * A pb_redis_aconn belongs to one h2o event loop and its thread. Every
 * command of every batch in flight is pipelined on its node's one connection
 * (hiredis's async API, driven by the loop through h2o_adapter.h), and each batch's done()
 * runs from the loop once every command of it has a reply or has failed.
 *
 * The rules of pb_redis_run() hold, round by round: each round sends the
 * unanswered commands to the owners of their slots; MOVED reloads the map
 * (CLUSTER SLOTS, asked without waiting too), ASK resends to the node named,
 * NOSCRIPT resends as EVAL. A read whose connection died meanwhile (no reply:
 * the node failed, or gave no answer within the target's timeout_ms) is
 * resent once after the map is reloaded, so a failover that has already
 * happened costs a round trip, not an error; a write is never resent, nor
 * is a command sent to a named node (cluster.h's to_node: WAIT).
 *
 * A connection that dies fails every command pending on it (each of their
 * batches then finishes, with -1 unless the retry succeeds); the node is then
 * left alone for PB_REDIS_DOWN_MS, as cluster.c does, and the next command opens a
 * new connection.
 *
 * Every wait has a bound, so that a partition cannot hold a request: a
 * round's replies, a CLUSTER SLOTS answer (the next node is asked after it)
 * and a batch's wait for the map each take at most the target's timeout_ms;
 * and no round starts once the request has used timeout_ms since its first
 * batch (the deadline a batch struct keeps from one pb_redis_arun() to the
 * next). So a request is answered within twice timeout_ms.
 *
 * pb_redis_aconn_close() may only be called once no batch is
 * in flight: the caller's stop path runs the loop until its batches are done.
 */
#ifndef PB_STORE_REDIS_NET_ASYNC_CLUSTER_H
#define PB_STORE_REDIS_NET_ASYNC_CLUSTER_H

#include <h2o.h>

#include "store/redis/net/cluster.h"

typedef struct pb_redis_aconn pb_redis_aconn;

/* Called once per pb_redis_arun(): rc is 0 when every command got a reply (an error reply included), else -1. */
typedef void pb_redis_abatch_done(void *arg, int rc);

/* One batch in flight; the caller provides it and keeps it valid until done(). Fields are private. */
typedef struct pb_redis_abatch {
    pb_redis_aconn *conn;
    pb_redis_cmd *cmds;
    size_t n;
    size_t outstanding; /* commands sent in this round and not yet answered */
    int round;
    bool retried; /* lost reads were resent once already */
    int result;   /* what done() gets, when it is called from the loop later */
    pb_redis_abatch_done *done;
    void *arg;
    struct pb_redis_abatch *next_waiting; /* in the list of batches waiting for the map */
    h2o_timeout_entry_t timeout;
    uint64_t deadline_ms; /* no round starts after it (CLOCK_MONOTONIC); 0 until the request's first batch */
} pb_redis_abatch;

/* Opens (connecting nothing yet) the connections of `loop`'s thread to `target`. NULL when out of memory. */
pb_redis_aconn *pb_redis_aconn_open(const pb_redis_target *target, h2o_evloop_t *loop);

/* Closes every connection. No batch may be in flight. */
void pb_redis_aconn_close(pb_redis_aconn *conn);

/* What went wrong last ("" when nothing did). */
const char *pb_redis_aconn_error(const pb_redis_aconn *conn);

/* The conn whose error pb_redis_reply_failed() fills while reading a batch's replies. */
pb_redis_conn *pb_redis_aconn_map(pb_redis_aconn *conn);

/*
 * Runs `cmds` (see cluster.h for what the caller fills and what comes back)
 * and calls done(arg, rc) from the loop; never before this returns. Release
 * the replies with pb_redis_release() afterwards.
 *
 * `batch` starts zeroed for each request; the request's later batches reuse
 * it, and with it the deadline its first batch set.
 */
void pb_redis_arun(pb_redis_aconn *conn, pb_redis_abatch *batch, pb_redis_cmd *cmds, size_t n,
                   pb_redis_abatch_done *done, void *arg);

#endif
