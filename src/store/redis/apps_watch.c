/*
 * store/redis/apps_watch.c — one SUBSCRIBE connection per process, on the channel
 * "P:apps-changed" where `app add` and `app remove` PUBLISH the access id
 * they changed. Each message moves the process's apps epoch, and every
 * thread's secret cache (store/secret_cache.h) drops what it holds when it sees the
 * epoch move. So does a lost connection: messages may have been missed while
 * it was down. Redis Cluster forwards a PUBLISH to every node, so the
 * connection may be to any seed; the thread reconnects to the next one
 * after a failure, once a second.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/redis/apps_watch.h"
#include "store/redis/keyspace.h"

#define PB_REDIS_WATCH_RETRY_MS 1000

struct pb_redis_apps_watch {
    pb_redis_store *store;
    pthread_t thread;
    _Atomic uint64_t epoch;
    _Atomic bool stopping;
    pthread_mutex_t lock; /* guards ctx, which the stopping thread shuts down */
    redisContext *ctx;
    pb_pool pool; /* holds the channel */
    pb_str channel;
};

void pb_redis_apps_publish(pb_redis_session *session, uint64_t access_id)
{
    pb_pool *pool = &session->pool;
    pb_str channel = pb_redis_apps_channel(pool, session->store), id = pb_redis_decimal(pool, access_id);
    pb_redis_cmd cmd;
    pb_redis_cmd_init(&cmd, pool, pb_redis_slot_of(channel), false, 3);
    pb_redis_cmd_arg(&cmd, 0, "PUBLISH", 7);
    pb_redis_cmd_arg(&cmd, 1, channel.base, channel.len);
    pb_redis_cmd_arg(&cmd, 2, id.base, id.len);
    if (pb_redis_run(&session->conn, &cmd, 1) != 0 || pb_redis_reply_failed(&session->conn, cmd.reply, "PUBLISH"))
        fprintf(stderr, "pushbind: telling running servers that app %llu changed: %s (they notice within a second)\n",
                (unsigned long long)access_id, session->conn.error);
    pb_redis_release(&cmd, 1);
}

/* Sleeps `ms`, waking early when stopping. */
static void pause_ms(pb_redis_apps_watch *watch, unsigned ms)
{
    for (unsigned slept = 0; slept < ms && !atomic_load(&watch->stopping); slept += 50)
        usleep(50 * 1000);
}

/* Subscribed: every message moves the epoch, until the connection fails. */
static void listen_on(pb_redis_apps_watch *watch, redisContext *ctx)
{
    void *reply = NULL;
    while (redisGetReply(ctx, &reply) == REDIS_OK) {
        atomic_fetch_add(&watch->epoch, 1);
        freeReplyObject(reply);
        reply = NULL;
    }
}

static void *watch_main(void *arg)
{
    pb_redis_apps_watch *watch = arg;
    const pb_redis_target *target = &watch->store->target;
    unsigned ms = target->timeout_ms;
    struct timeval timeout = {ms / 1000, (ms % 1000) * 1000}, forever = {0, 0};
    for (size_t seed = 0; !atomic_load(&watch->stopping); seed = (seed + 1) % target->n_seeds) {
        redisContext *ctx = redisConnectWithTimeout(target->seed_hosts[seed], target->seed_ports[seed], timeout);
        redisReply *reply = NULL;
        if (ctx != NULL && ctx->err == 0)
            reply = redisCommand(ctx, "SUBSCRIBE %b", watch->channel.base, watch->channel.len);
        if (reply != NULL && redisSetTimeout(ctx, forever) == REDIS_OK) {
            pthread_mutex_lock(&watch->lock);
            watch->ctx = atomic_load(&watch->stopping) ? NULL : ctx;
            pthread_mutex_unlock(&watch->lock);
            atomic_fetch_add(&watch->epoch, 1); /* what changed while nobody listened */
            if (watch->ctx != NULL)
                listen_on(watch, ctx);
            pthread_mutex_lock(&watch->lock);
            watch->ctx = NULL;
            pthread_mutex_unlock(&watch->lock);
            atomic_fetch_add(&watch->epoch, 1);
        }
        if (reply != NULL)
            freeReplyObject(reply);
        if (ctx != NULL)
            redisFree(ctx);
        pause_ms(watch, PB_REDIS_WATCH_RETRY_MS);
    }
    return NULL;
}

pb_redis_apps_watch *pb_redis_apps_watch_start(pb_redis_store *store)
{
    pb_redis_apps_watch *watch = calloc(1, sizeof(*watch));
    if (watch == NULL)
        return NULL;
    watch->store = store;
    pb_pool_init(&watch->pool);
    watch->channel = pb_redis_apps_channel(&watch->pool, store);
    pthread_mutex_init(&watch->lock, NULL);
    if (pthread_create(&watch->thread, NULL, watch_main, watch) != 0) {
        pthread_mutex_destroy(&watch->lock);
        pb_pool_clear(&watch->pool);
        free(watch);
        return NULL;
    }
    return watch;
}

void pb_redis_apps_watch_stop(pb_redis_apps_watch *watch)
{
    if (watch == NULL)
        return;
    atomic_store(&watch->stopping, true);
    pthread_mutex_lock(&watch->lock);
    if (watch->ctx != NULL)
        shutdown(watch->ctx->fd, SHUT_RDWR); /* ends the blocking read */
    pthread_mutex_unlock(&watch->lock);
    pthread_join(watch->thread, NULL);
    pthread_mutex_destroy(&watch->lock);
    pb_pool_clear(&watch->pool);
    free(watch);
}

uint64_t pb_redis_apps_epoch(const pb_redis_apps_watch *watch)
{
    return watch == NULL ? 0 : atomic_load(&((pb_redis_apps_watch *)watch)->epoch);
}
