/*
 * writer.c — the embedded store's writer thread: every binding change
 * goes through it, so that one commit (one fsync) makes many requests
 * durable.
 *
 * Callers queue a write and either wait (pb_store_apply) or go on with other
 * work (pb_store_apply_start). The writer takes everything queued (up to
 * PB_LMDB_GROUP_MAX writes), commits it as one group, calls each write's
 * done(), and starts again. There is no timer: the writes that arrive while a
 * group is being committed form the next group, so a lone write is committed
 * at once and a busy server gets bigger groups by itself.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/lmdb/internal.h"

/* take_group()'s wait when bindings never expire: until a write comes. */
#define WAIT_FOREVER UINT_MAX

/* How long the background expiry rests after a pass over the whole store that found nothing left. */
#define SWEEP_REST_MS 1000

/*
 * Takes up to PB_LMDB_GROUP_MAX writes off the queue, waiting up to `wait_ms`
 * for one. NULL with *idle set when none came; NULL once stopping with
 * nothing left.
 */
static pb_lmdb_write *take_group(struct pb_lmdb_writer *writer, unsigned wait_ms, bool *idle)
{
    *idle = false;
    pthread_mutex_lock(&writer->lock);
    if (wait_ms == WAIT_FOREVER) {
        while (writer->queue == NULL && !writer->stopping)
            pthread_cond_wait(&writer->wake, &writer->lock);
    } else if (wait_ms != 0) {
        struct timespec deadline = pb_clock_deadline_ms(wait_ms);
        while (writer->queue == NULL && !writer->stopping &&
               pthread_cond_timedwait(&writer->wake, &writer->lock, &deadline) != ETIMEDOUT)
            ;
    }
    if (writer->queue == NULL && !writer->stopping) {
        pthread_mutex_unlock(&writer->lock);
        *idle = true;
        return NULL;
    }
    pb_lmdb_write *group = writer->queue, *last = group;
    for (int n = 1; last != NULL && last->next != NULL && n < PB_LMDB_GROUP_MAX; n++)
        last = last->next;
    if (last != NULL) {
        writer->queue = last->next;
        if (writer->queue == NULL)
            writer->queue_tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&writer->lock);
    return group;
}

/*
 * Deleted tags' pairs are freed whenever nothing is queued, one bounded step
 * at a time (tag_apply.c), before anything else the writer does while idle.
 * With a binding TTL the writer deletes expired bindings whenever nothing is
 * queued, one bounded step at a time (expiry.c), and checks the queue between
 * steps: writes wait for one step at most.
 */
static void *writer_main(void *arg)
{
    pb_lmdb_store *store = arg;
    struct pb_lmdb_writer *writer = &store->writer;
    unsigned wait_ms = store->binding_ttl > 0 ? 0 : WAIT_FOREVER;
    pb_lmdb_write *group;
    bool idle;
    if (writer->metrics != NULL)
        pb_metrics_thread_attach(writer->metrics);
    while ((group = take_group(writer, atomic_load(&writer->graves) ? 0 : wait_ms, &idle)) != NULL || idle) {
        if (idle && atomic_load(&writer->graves)) {
            bool more;
            int rc = pb_lmdb_grave_step(writer->session, &more);
            atomic_store(&writer->graves, rc == 0 && more);
            continue;
        }
        if (idle) {
            uint64_t expired;
            writer->sweep.wrapped = false;
            int rc = pb_lmdb_sweep_step(writer->session, &writer->sweep, &expired);
            pb_metrics_count_expired(expired);
            wait_ms = rc != 0 || (writer->sweep.wrapped && expired == 0) ? SWEEP_REST_MS : 0;
            continue;
        }
        pb_lmdb_commit_group(store->writer.session, group);
        while (group != NULL) {
            pb_lmdb_write *next = group->next; /* done() may free the record */
            group->done(group->arg, group->result);
            group = next;
        }
    }
    pb_metrics_thread_detach();
    return NULL;
}

int pb_lmdb_writer_start(pb_lmdb_store *store)
{
    struct pb_lmdb_writer *writer = &store->writer;
    int rc;
    if ((writer->session = pb_lmdb_session_open(store)) == NULL)
        return ENOMEM;
    atomic_store(&writer->graves, true); /* a grave left by the last run: the first step finds out */
    if ((rc = pthread_mutex_init(&writer->lock, NULL)) != 0)
        goto fail_session;
    if ((rc = pthread_cond_init(&writer->wake, NULL)) != 0)
        goto fail_lock;
    /*
     * The thread blocks every signal, so that a process taking SIGTERM with
     * sigwait() (the server) never has it delivered here.
     */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    rc = pthread_create(&writer->thread, NULL, writer_main, store);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc != 0)
        goto fail_cond;
    return 0;

fail_cond:
    pthread_cond_destroy(&writer->wake);
fail_lock:
    pthread_mutex_destroy(&writer->lock);
fail_session:
    pb_lmdb_session_close(writer->session);
    return rc;
}

void pb_lmdb_writer_stop(pb_lmdb_store *store)
{
    struct pb_lmdb_writer *writer = &store->writer;
    pthread_mutex_lock(&writer->lock);
    writer->stopping = true;
    pthread_cond_signal(&writer->wake);
    pthread_mutex_unlock(&writer->lock);
    pthread_join(writer->thread, NULL);
    pthread_cond_destroy(&writer->wake);
    pthread_mutex_destroy(&writer->lock);
    pb_lmdb_session_close(writer->session);
}

static void enqueue(struct pb_lmdb_writer *writer, pb_lmdb_write *write)
{
    pthread_mutex_lock(&writer->lock);
    if (writer->queue_tail != NULL)
        writer->queue_tail->next = write;
    else
        writer->queue = write;
    writer->queue_tail = write;
    pthread_cond_signal(&writer->wake);
    pthread_mutex_unlock(&writer->lock);
}

void pb_lmdb_apply_start(pb_lmdb_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                          pb_change_outcome *outcomes, pb_pool *pool, pb_store_apply_done *done, void *arg)
{
    pb_lmdb_write *write = pb_pool_alloc(pool, sizeof(*write));
    *write = (pb_lmdb_write){access_id, changes, n, outcomes, done, arg, PB_STORE_EIO, 0, "", NULL, NULL};
    enqueue(&session->store->writer, write);
}

void pb_lmdb_tag_apply_start(pb_lmdb_session *session, uint64_t access_id, pb_tag_write *tags, pb_pool *pool,
                             pb_store_apply_done *done, void *arg)
{
    pb_lmdb_write *write = pb_pool_alloc(pool, sizeof(*write));
    *write = (pb_lmdb_write){access_id, NULL, 0, NULL, done, arg, PB_STORE_EIO, 0, "", NULL, tags};
    enqueue(&session->store->writer, write);
}

/* What pb_store_apply() waits on. */
struct apply_wait {
    pthread_mutex_t lock;
    pthread_cond_t finished_cond;
    bool finished;
};

static void apply_finished(void *arg, int result)
{
    struct apply_wait *wait = arg;
    pthread_mutex_lock(&wait->lock);
    wait->finished = true;
    pthread_cond_signal(&wait->finished_cond);
    pthread_mutex_unlock(&wait->lock);
}

/* Queues `write` and waits for it. It is on the caller's stack: the writer lets go of it before calling done(). */
static int apply_waiting(pb_lmdb_session *session, pb_lmdb_write *write)
{
    struct apply_wait wait = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    write->done = apply_finished;
    write->arg = &wait;
    pb_lmdb_turn_done(session); /* a kept snapshot would hold off a remap the writer may need */
    enqueue(&session->store->writer, write);
    pthread_mutex_lock(&wait.lock);
    while (!wait.finished)
        pthread_cond_wait(&wait.finished_cond, &wait.lock);
    pthread_mutex_unlock(&wait.lock);
    if (write->result == PB_STORE_EIO)
        snprintf(session->error, sizeof(session->error), "%s", write->error);
    return write->result;
}

int pb_lmdb_apply(pb_lmdb_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                  pb_change_outcome *outcomes)
{
    pb_lmdb_write write = {access_id, changes, n, outcomes, NULL, NULL, PB_STORE_EIO, 0, "", NULL, NULL};
    return apply_waiting(session, &write);
}

int pb_lmdb_tag_apply(pb_lmdb_session *session, uint64_t access_id, pb_tag_write *tags)
{
    pb_lmdb_write write = {access_id, NULL, 0, NULL, NULL, NULL, PB_STORE_EIO, 0, "", NULL, tags};
    return apply_waiting(session, &write);
}
