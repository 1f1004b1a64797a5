/*
 * writers.c — the event loops' writes, applied by threads of their own.
 *
 * A batch of changes is the Lua/WAIT protocol of apply.c: several dependent
 * round trips, then WAIT for ?wait=N replicas. Rather than a second,
 * callback-driven copy of that protocol, a loop queues the write here and a
 * writer thread runs pb_redis_apply() on its own blocking session, so the
 * protocol and its durability rule are the same code for the loops and for
 * the command line. The loop never waits: done() is called from the writer
 * thread once the write is durable (or failed), like the embedded backend's
 * writer thread does, and the caller hands the result back to its loop.
 *
 * Writes in flight at once are at most the number of threads; more wait in
 * the queue, in order.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/redis/internal.h"

typedef struct queued_write {
    struct queued_write *next;
    uint64_t access_id;
    const pb_change *changes;
    size_t n;
    pb_change_outcome *outcomes;
    pb_store_apply_done *done;
    void *arg;
} queued_write;

struct pb_redis_writers {
    pb_redis_store *store;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    queued_write *head, **tail;
    bool stopping;
    unsigned n_threads;
    pthread_t threads[];
};

static queued_write *take(pb_redis_writers *writers)
{
    pthread_mutex_lock(&writers->lock);
    while (writers->head == NULL && !writers->stopping)
        pthread_cond_wait(&writers->wake, &writers->lock);
    queued_write *write = writers->head;
    if (write != NULL && (writers->head = write->next) == NULL)
        writers->tail = &writers->head;
    pthread_mutex_unlock(&writers->lock);
    return write;
}

static void *writer_main(void *arg)
{
    pb_redis_writers *writers = arg;
    if (writers->store->metrics != NULL)
        pb_metrics_thread_attach(writers->store->metrics);
    pb_redis_session *session = pb_redis_session_open(writers->store);
    queued_write *write;
    while ((write = take(writers)) != NULL) {
        int rc = PB_STORE_EIO;
        if (session != NULL) {
            uint64_t started = pb_clock_ns();
            rc = pb_redis_apply(session, write->access_id, write->changes, write->n, write->outcomes);
            pb_metrics_observe_store_commit(pb_clock_ns() - started);
            pb_metrics_observe_commit_batch(1);
        }
        write->done(write->arg, rc); /* may free the record's pool */
    }
    pb_redis_session_close(session);
    pb_metrics_thread_detach();
    return NULL;
}

pb_redis_writers *pb_redis_writers_start(pb_redis_store *store, unsigned n)
{
    pb_redis_writers *writers = calloc(1, sizeof(*writers) + n * sizeof(pthread_t));
    if (writers == NULL)
        return NULL;
    writers->store = store;
    writers->tail = &writers->head;
    pthread_mutex_init(&writers->lock, NULL);
    pthread_cond_init(&writers->wake, NULL);
    for (; writers->n_threads < n; writers->n_threads++)
        if (pthread_create(&writers->threads[writers->n_threads], NULL, writer_main, writers) != 0)
            break;
    if (writers->n_threads == 0) {
        pb_redis_writers_stop(writers);
        return NULL;
    }
    return writers;
}

void pb_redis_writers_stop(pb_redis_writers *writers)
{
    if (writers == NULL)
        return;
    pthread_mutex_lock(&writers->lock);
    writers->stopping = true;
    pthread_cond_broadcast(&writers->wake);
    pthread_mutex_unlock(&writers->lock);
    for (unsigned i = 0; i < writers->n_threads; i++)
        pthread_join(writers->threads[i], NULL);
    pthread_mutex_destroy(&writers->lock);
    pthread_cond_destroy(&writers->wake);
    free(writers);
}

void pb_redis_writers_queue(pb_redis_writers *writers, uint64_t access_id, const pb_change *changes, size_t n,
                            pb_change_outcome *outcomes, pb_pool *pool, pb_store_apply_done *done, void *arg)
{
    queued_write *write = pb_pool_alloc(pool, sizeof(*write));
    *write = (queued_write){.access_id = access_id, .changes = changes, .n = n, .outcomes = outcomes,
                            .done = done, .arg = arg};
    pthread_mutex_lock(&writers->lock);
    *writers->tail = write;
    writers->tail = &write->next;
    pthread_cond_signal(&writers->wake);
    pthread_mutex_unlock(&writers->lock);
}
