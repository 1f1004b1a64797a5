/*
 * watch.c — one thread per process for what the loops' sessions share: a
 * connection that LISTENs on "SCHEMA.apps", where app_put() and app_remove()
 * NOTIFY the access id they changed; the bounded steps that free the pairs of
 * deleted tags (tag_step(): one a second, and one each turn while a grave is
 * left, so a million pairs go in about ten seconds of short transactions);
 * and, with a binding TTL, the bounded steps that delete expired bindings.
 *
 * Each notification moves the process's apps epoch, and every thread's
 * secret cache (store/secret_cache.h, kept by loop.c) drops what it holds
 * when it sees the epoch move. So does a lost connection, and so does each
 * LISTEN that takes effect: notifications may have been missed while none
 * was in place. The thread reconnects once a second after a failure.
 */
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/postgres/store_state.h"

#define PB_PG_WATCH_RETRY_MS 1000
#define PB_PG_EXPIRY_EVERY_MS 1000 /* one expiry step a second */
#define PB_PG_EXPIRY_PAGES "256"   /* table pages one step reads: a bounded step */
#define PB_PG_TAG_STEP_EVERY_MS 1000
#define PB_PG_TAG_STEP_PAIRS "10000" /* pairs one step frees */

struct pb_pg_watch {
    pb_pg_store *store;
    pthread_t thread;
    _Atomic uint64_t epoch;
    _Atomic bool stopping;
};

uint64_t pb_pg_apps_epoch(const pb_pg_watch *watch)
{
    return watch != NULL ? atomic_load(&((pb_pg_watch *)watch)->epoch) : 0;
}

static PGconn *listen_connect(pb_pg_watch *watch)
{
    PGconn *conn = PQconnectdb(watch->store->conninfo);
    char sql[PB_PG_SCHEMA_MAX + 32];
    snprintf(sql, sizeof(sql), "LISTEN \"%s.apps\"", watch->store->schema);
    PGresult *res = PQstatus(conn) == CONNECTION_OK ? PQexec(conn, sql) : NULL;
    bool ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* One bounded step of the background expiry on `conn`. */
static void expire_step(pb_pg_watch *watch, PGconn *conn)
{
    char cutoff[PB_DECIMAL_MAX + 1];
    *pb_put_i64(cutoff, pb_pg_cutoff(watch->store, pb_clock_unix_s())) = '\0';
    const char *values[2] = {cutoff, PB_PG_EXPIRY_PAGES};
    PGresult *res = PQexecParams(conn, watch->store->sql[PB_PG_EXPIRE_STEP], 2, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        pb_metrics_count_expired(strtoull(PQgetvalue(res, 0, 0), NULL, 10));
    PQclear(res);
}

/* One bounded step of freeing deleted tags on `conn`: whether a grave was there (another step may be due). */
static bool tag_step(pb_pg_watch *watch, PGconn *conn)
{
    const char *values[1] = {PB_PG_TAG_STEP_PAIRS};
    PGresult *res = PQexecParams(conn, watch->store->sql[PB_PG_TAG_STEP], 1, NULL, values, NULL, NULL, 0);
    bool grave = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                 strtoll(PQgetvalue(res, 0, 0), NULL, 10) >= 0;
    PQclear(res);
    return grave;
}

static void *watch_main(void *arg)
{
    pb_pg_watch *watch = arg;
    PGconn *conn = NULL;
    uint64_t next_expiry = 0, next_tag_step = 0;
    bool listening = false;
    while (!atomic_load(&watch->stopping)) {
        if (conn == NULL && (conn = listen_connect(watch)) == NULL) {
            atomic_fetch_add(&watch->epoch, 1);
            for (int slept = 0; slept < PB_PG_WATCH_RETRY_MS && !atomic_load(&watch->stopping); slept += 50)
                poll(NULL, 0, 50);
            continue;
        }
        if (!listening) {
            /* what was cached before the LISTEN took effect may have missed a notification */
            atomic_fetch_add(&watch->epoch, 1);
            listening = true;
        }
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        poll(&pfd, 1, 100);
        bool lost = PQconsumeInput(conn) == 0;
        PGnotify *note;
        while ((note = PQnotifies(conn)) != NULL) {
            atomic_fetch_add(&watch->epoch, 1);
            PQfreemem(note);
        }
        if (!lost && watch->store->binding_ttl > 0 && pb_clock_ns() >= next_expiry) {
            expire_step(watch, conn);
            next_expiry = pb_clock_ns() + PB_PG_EXPIRY_EVERY_MS * 1000000ull;
        }
        if (!lost && pb_clock_ns() >= next_tag_step)
            next_tag_step = tag_step(watch, conn) ? 0 : pb_clock_ns() + PB_PG_TAG_STEP_EVERY_MS * 1000000ull;
        if (lost || PQstatus(conn) != CONNECTION_OK) {
            PQfinish(conn);
            conn = NULL;
            listening = false;
            atomic_fetch_add(&watch->epoch, 1);
        }
    }
    PQfinish(conn);
    return NULL;
}

pb_pg_watch *pb_pg_watch_start(pb_pg_store *store)
{
    pb_pg_watch *watch = calloc(1, sizeof(*watch));
    if (watch == NULL)
        return NULL;
    watch->store = store;
    atomic_init(&watch->epoch, 1);
    atomic_init(&watch->stopping, false);
    if (pthread_create(&watch->thread, NULL, watch_main, watch) != 0) {
        free(watch);
        return NULL;
    }
    return watch;
}

void pb_pg_watch_stop(pb_pg_watch *watch)
{
    if (watch == NULL)
        return;
    atomic_store(&watch->stopping, true);
    pthread_join(watch->thread, NULL);
    free(watch);
}
