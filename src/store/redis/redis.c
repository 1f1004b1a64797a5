/*
 * store/redis/redis.c — the Redis backend: opening a store from its URL,
 * sessions (and binding them to an event loop), views, PING. The key layout
 * is in keyspace.h.
 *
 *   redis://HOST:PORT[/NAMESPACE][?wait=N]
 *   redis-cluster://HOST:PORT[,HOST:PORT…][/NAMESPACE][?wait=N|all]
 *
 * NAMESPACE (letters, digits, '_', '-', '.') prefixes every key, so several
 * deployments can share one Redis. wait=N makes every batch wait until N
 * replicas of each node it wrote have its writes (Redis WAIT) before it is
 * acknowledged; wait=all until every replica the slot map lists for that
 * node has them (docs/design.md: only that survives a partition that leaves
 * a primary and one of its replicas on the minority side).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis/account_types.h"
#include "store/redis/apps_watch.h"
#include "store/redis/handles.h"
#include "store/redis/net/async_cluster.h"
#include "store/redis/sweeper.h"

#define PB_REDIS_MAX_SEEDS 64
#define PB_REDIS_NAMESPACE_MAX 64
#define PB_REDIS_WAIT_MAX 16

static void target_free(pb_redis_target *target)
{
    for (size_t i = 0; i < target->n_seeds; i++)
        free(target->seed_hosts[i]);
    free(target->seed_hosts);
    free(target->seed_ports);
    memset(target, 0, sizeof(*target));
}

/* Parses one "HOST:PORT" or "[IPV6]:PORT" of [start, end) into the seed list. */
static int add_seed(pb_redis_target *target, const char *start, const char *end)
{
    const char *colon = NULL;
    for (const char *p = start; p < end; p++)
        if (*p == ':')
            colon = p;
    if (colon == NULL || colon == start || colon + 1 == end || end - colon > 6)
        return -1;
    const char *host_start = start, *host_end = colon;
    if (*start == '[') {
        if (colon[-1] != ']')
            return -1;
        host_start++;
        host_end--;
    }
    unsigned long port = 0;
    for (const char *p = colon + 1; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (host_end <= host_start || port == 0 || port > 65535 || target->n_seeds == PB_REDIS_MAX_SEEDS)
        return -1;
    char *host = strndup(host_start, (size_t)(host_end - host_start));
    if (host == NULL)
        return -1;
    target->seed_hosts[target->n_seeds] = host;
    target->seed_ports[target->n_seeds++] = (uint16_t)port;
    return 0;
}

static bool namespace_is_valid(const char *start, size_t len)
{
    if (len == 0 || len > PB_REDIS_NAMESPACE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = start[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return false;
    }
    return true;
}

/* Parses config->url into `store`. Returns NULL or what is wrong with it. */
static const char *parse_url(pb_redis_store *store, const char *url)
{
    const char *rest;
    if (strncmp(url, "redis://", 8) == 0) {
        rest = url + 8;
    } else if (strncmp(url, "redis-cluster://", 16) == 0) {
        rest = url + 16;
        store->target.cluster = true;
    } else {
        return "the URL must start with redis:// or redis-cluster://";
    }
    store->target.seed_hosts = calloc(PB_REDIS_MAX_SEEDS, sizeof(char *));
    store->target.seed_ports = calloc(PB_REDIS_MAX_SEEDS, sizeof(uint16_t));
    if (store->target.seed_hosts == NULL || store->target.seed_ports == NULL)
        return "out of memory";
    const char *hosts_end = rest + strcspn(rest, "/?");
    for (const char *p = rest; p < hosts_end;) {
        const char *comma = memchr(p, ',', (size_t)(hosts_end - p));
        const char *end = comma != NULL ? comma : hosts_end;
        if (add_seed(&store->target, p, end) != 0)
            return "expected HOST:PORT[,HOST:PORT…] after the scheme";
        p = comma != NULL ? comma + 1 : hosts_end;
    }
    if (store->target.n_seeds == 0)
        return "expected HOST:PORT after the scheme";
    if (!store->target.cluster && store->target.n_seeds != 1)
        return "redis:// takes one HOST:PORT (use redis-cluster:// for a cluster)";

    const char *ns = PB_REDIS_DEFAULT_NAMESPACE, *query = strchr(hosts_end, '?');
    size_t ns_len = strlen(ns);
    if (*hosts_end == '/') {
        ns = hosts_end + 1;
        ns_len = query != NULL ? (size_t)(query - ns) : strlen(ns);
        if (!namespace_is_valid(ns, ns_len))
            return "the namespace after '/' must be 1 to 64 letters, digits, '_', '-' or '.'";
    }
    if (query != NULL && strcmp(query, "?wait=all") == 0) {
        if (!store->target.cluster)
            return "?wait=all needs redis-cluster:// (a single server's replicas are in no slot map): give ?wait=N";
        store->wait_all = true;
    } else if (query != NULL) {
        char *end;
        if (strncmp(query, "?wait=", 6) != 0 || query[6] < '0' || query[6] > '9')
            return "the only options are ?wait=N and ?wait=all";
        errno = 0;
        unsigned long wait = strtoul(query + 6, &end, 10);
        if (errno != 0 || *end != '\0' || wait > PB_REDIS_WAIT_MAX)
            return "?wait=N takes N from 0 to 16";
        store->wait_replicas = (unsigned)wait;
    }
    if ((store->prefix = strndup(ns, ns_len)) == NULL)
        return "out of memory";
    return NULL;
}

static int ping_node(void *arg, redisContext *ctx)
{
    redisReply *reply = redisCommand(ctx, "PING");
    int rc = reply != NULL && reply->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (reply != NULL)
        freeReplyObject(reply);
    return rc;
}

pb_redis_store *pb_redis_open(const pb_store_config *config, char **err)
{
    const char *what = NULL;
    pb_redis_conn conn = {0};
    pb_redis_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        what = "out of memory";
        goto fail;
    }
    pthread_mutex_init(&store->lazy_lock, NULL);
    store->limits = config->limits;
    store->metrics = config->metrics;
    store->binding_ttl = config->binding_ttl_seconds > 0 ? config->binding_ttl_seconds : 0;
    store->target.timeout_ms = PB_REDIS_DEFAULT_TIMEOUT_MS;
    if ((what = parse_url(store, config->url)) != NULL)
        goto fail;
    pb_redis_scripts_init(&store->scripts);
    /* Fail now, with a message, rather than on the first request. */
    if (pb_redis_conn_init(&conn, &store->target) != 0) {
        what = "out of memory";
        goto fail;
    }
    if (pb_redis_each_primary(&conn, ping_node, NULL) != 0) {
        what = conn.error[0] != '\0' ? conn.error : "a node does not answer PING";
        goto fail;
    }
    if (pb_redis_types_backfill(&conn, store) != 0) {
        what = conn.error;
        goto fail;
    }
    pb_redis_conn_free(&conn);
    return store;

fail:
    if (err != NULL && asprintf(err, "%s: %s", config->url, what) < 0)
        *err = NULL;
    pb_redis_conn_free(&conn);
    pb_redis_close(store);
    return NULL;
}

void pb_redis_close(pb_redis_store *store)
{
    if (store == NULL)
        return;
    pb_redis_sweeper_stop(store->sweeper);
    pb_redis_apps_watch_stop(store->watch);
    pthread_mutex_destroy(&store->lazy_lock);
    target_free(&store->target);
    free(store->prefix);
    free(store);
}

pb_redis_session *pb_redis_session_open(pb_redis_store *store)
{
    pb_redis_session *session = calloc(1, sizeof(*session));
    if (session == NULL)
        return NULL;
    if (pb_redis_conn_init(&session->conn, &store->target) != 0) {
        free(session);
        return NULL;
    }
    session->store = store;
    session->view.session = session;
    pb_pool_init(&session->pool);
    return session;
}

void pb_redis_session_close(pb_redis_session *session)
{
    if (session == NULL)
        return;
    pb_redis_conn_free(&session->conn);
    pb_pool_clear(&session->pool);
    free(session);
}

const char *pb_redis_session_error(const pb_redis_session *session)
{
    return session->conn.error;
}

int pb_redis_ping(pb_redis_session *session)
{
    session->conn.error[0] = '\0';
    return pb_redis_each_primary(&session->conn, ping_node, NULL) == 0 ? 0 : PB_STORE_EIO;
}

/*
 * Redis has no snapshot across keys: a view is a handle whose strings live in
 * the session's pool until it ends. Each key is read atomically; docs/design.md
 * says why answers stay correct without a snapshot.
 */
pb_redis_view *pb_redis_view_begin(pb_redis_session *session)
{
    if (session->view_open) {
        snprintf(session->conn.error, sizeof(session->conn.error), "view begin: a view is already open");
        return NULL;
    }
    session->view_open = true;
    session->conn.error[0] = '\0';
    return &session->view;
}

void pb_redis_view_end(pb_redis_view *view)
{
    pb_redis_session *session = view->session;
    if (!session->view_open)
        return;
    session->view_open = false;
    pb_pool_clear(&session->pool);
}

/* ---- Sessions bound to an event loop ---------------------------------- */

/* Lazily, once per store: the apps watch and the sweeper the loops' sessions share. */
static int start_shared(pb_redis_store *store)
{
    int rc = 0;
    pthread_mutex_lock(&store->lazy_lock);
    if (store->watch == NULL)
        store->watch = pb_redis_apps_watch_start(store);
    if (store->sweeper == NULL)
        store->sweeper = pb_redis_sweeper_start(store);
    if (store->watch == NULL || store->sweeper == NULL)
        rc = -1;
    pthread_mutex_unlock(&store->lazy_lock);
    return rc;
}

int pb_redis_session_attach_loop(pb_redis_session *session, void *loop)
{
    if (start_shared(session->store) != 0)
        return PB_STORE_EIO;
    session->secrets = pb_secret_cache_new();
    session->aconn = pb_redis_aconn_open(&session->store->target, loop);
    session->wconn = pb_redis_aconn_open(&session->store->target, loop);
    if (session->secrets == NULL || session->aconn == NULL || session->wconn == NULL) {
        pb_redis_session_detach_loop(session);
        return PB_STORE_EIO;
    }
    return 0;
}

void pb_redis_session_detach_loop(pb_redis_session *session)
{
    pb_redis_aconn_close(session->aconn);
    pb_redis_aconn_close(session->wconn);
    session->aconn = session->wconn = NULL;
    pb_secret_cache_free(session->secrets);
    session->secrets = NULL;
}

bool pb_redis_session_bound(const pb_redis_session *session)
{
    return session->aconn != NULL;
}
