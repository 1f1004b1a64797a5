/*
 * worker.h — one event loop's state: its h2o context, store session and
 * access-log buffer, the blocks its requests keep while they wait for the
 * store, and the queue through which other threads hand it work. Internal
 * to the HTTP layer.
 *
 * A handler finds its worker through the h2o context it runs on (pb_worker
 * embeds it). Everything here runs on the loop's own thread but
 * pb_worker_post().
 */
#ifndef PB_WORKER_H
#define PB_WORKER_H

#include <h2o.h>

#include "http/logbuffer.h"
#include "http/ratelimit.h"
#include "http/throttle.h"
#include "http/server.h"
#include "metrics/metrics.h"

/*
 * The block each request that waits for the store keeps its state in
 * (exchange.h): one size for every handler, checked against each handler's
 * state at compile time. Closed blocks are kept for the next requests (at
 * most PB_EXCHANGE_SPARES a worker), so that a request pays no malloc() and
 * free() for its state.
 */
#define PB_EXCHANGE_BYTES 1024
#define PB_EXCHANGE_SPARES 64

typedef struct pb_worker {
    h2o_context_t h2o_ctx;
    const pb_server_config *config;
    pb_store_session *session;
    pb_rate_limiter *rate_limiter; /* shared by all workers; NULL: no rate limit */
    pb_throttle *throttle;         /* shared by all workers; NULL: failures are not throttled */
    pb_metrics *metrics;           /* the registry; this thread observes into its own shard */
    /* Messages from other threads (the embedded store's writer) come to the loop through these. */
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    size_t exchanges;                   /* requests waiting for the store (exchange.h) */
    h2o_mem_recycle_t spare_exchanges;  /* closed exchanges' blocks, PB_EXCHANGE_BYTES each */
    pb_log_buffer log; /* this loop's access-log lines; last, for its size */
} pb_worker;

/* The worker whose loop runs `req`. */
static inline pb_worker *pb_worker_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(pb_worker, h2o_ctx, req->conn->ctx);
}

/*
 * Work handed to a worker's loop from any thread: on_loop(message) runs
 * there. Embed it in what the work needs, zeroed (h2o requires a new
 * message's link to be zero), and set on_loop before posting.
 */
typedef struct pb_worker_message pb_worker_message;
struct pb_worker_message {
    h2o_multithread_message_t super;
    void (*on_loop)(pb_worker_message *message);
};

/*
 * Hands `message` to the worker's loop. Any thread, the loop's own too (it
 * then runs on the loop's next turn, not inside this call). The worker must
 * stay attached until the message has run.
 */
void pb_worker_post(pb_worker *worker, pb_worker_message *message);

/*
 * Makes a worker whose h2o context is initialised ready for requests: its
 * message queue and its spare blocks. Call on the thread that runs the
 * worker's loop: h2o 2.2.5 reads the queue's pipe into a buffer recycled
 * through the creating thread's thread-local allocator, so a queue created
 * on another thread would share that allocator with every loop, unlocked.
 */
void pb_worker_attach(pb_worker *worker);

/*
 * Undoes pb_worker_attach(), on the same thread, once `exchanges` is 0 (a
 * write still in the store would answer through the queue this frees), and
 * frees the spare blocks.
 */
void pb_worker_detach(pb_worker *worker);

#endif
