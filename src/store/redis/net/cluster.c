/* store/redis/net/cluster.c — connections, the slot map and blocking batches (see cluster.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "store/redis/net/cluster.h"
#include "store/redis/net/slot.h"

static void set_error(pb_redis_conn *conn, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void set_error(pb_redis_conn *conn, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(conn->error, sizeof(conn->error), format, args);
    va_end(args);
}

int pb_redis_conn_init(pb_redis_conn *conn, const pb_redis_target *target)
{
    memset(conn, 0, sizeof(*conn));
    conn->target = target;
    conn->slot_node = malloc(PB_REDIS_SLOTS * sizeof(*conn->slot_node));
    return conn->slot_node == NULL ? -1 : 0;
}

static void node_disconnect(pb_redis_node *node)
{
    if (node->ctx != NULL)
        redisFree(node->ctx);
    node->ctx = NULL;
    node->epoch++;
}

/* Drops a node that failed, leaves it alone for PB_REDIS_DOWN_MS, and marks the map stale. */
static void node_failed(pb_redis_conn *conn, pb_redis_node *node)
{
    node_disconnect(node);
    node->down_until_ms = pb_clock_ms() + PB_REDIS_DOWN_MS;
    conn->map_ready = false;
}

void pb_redis_conn_free(pb_redis_conn *conn)
{
    for (size_t i = 0; i < conn->n_nodes; i++) {
        node_disconnect(&conn->nodes[i]);
        free(conn->nodes[i].host);
    }
    free(conn->nodes);
    free(conn->used);
    free(conn->slot_node);
    memset(conn, 0, sizeof(*conn));
}

int pb_redis_node_index(pb_redis_conn *conn, const char *host, uint16_t port)
{
    for (size_t i = 0; i < conn->n_nodes; i++)
        if (conn->nodes[i].port == port && strcmp(conn->nodes[i].host, host) == 0)
            return (int)i;
    if (conn->n_nodes >= PB_REDIS_NO_NODE)
        return -1;
    if (conn->n_nodes == conn->cap_nodes) {
        size_t cap = conn->cap_nodes == 0 ? 8 : conn->cap_nodes * 2;
        pb_redis_node *grown = realloc(conn->nodes, cap * sizeof(*grown));
        if (grown == NULL)
            return -1;
        conn->nodes = grown;
        bool *used = realloc(conn->used, cap * sizeof(*used));
        if (used == NULL)
            return -1;
        conn->used = used;
        conn->cap_nodes = cap;
    }
    char *copy = strdup(host);
    if (copy == NULL)
        return -1;
    conn->nodes[conn->n_nodes] = (pb_redis_node){.host = copy, .port = port};
    return (int)conn->n_nodes++;
}

/* Connects node `i` when it is not. Returns its context or NULL (conn->error set). */
static redisContext *node_connect(pb_redis_conn *conn, int i)
{
    pb_redis_node *node = &conn->nodes[i];
    if (node->ctx != NULL)
        return node->ctx;
    if (node->down_until_ms > pb_clock_ms()) {
        set_error(conn, "%s:%u failed less than %d ms ago", node->host, node->port, PB_REDIS_DOWN_MS);
        return NULL;
    }
    unsigned ms = conn->target->timeout_ms;
    struct timeval timeout = {ms / 1000, (ms % 1000) * 1000};
    redisContext *ctx = redisConnectWithTimeout(node->host, node->port, timeout);
    if (ctx == NULL || ctx->err != 0) {
        set_error(conn, "connecting to %s:%u: %s", node->host, node->port, ctx != NULL ? ctx->errstr : "out of memory");
        if (ctx != NULL)
            redisFree(ctx);
        node_failed(conn, node);
        return NULL;
    }
    if (redisSetTimeout(ctx, timeout) != REDIS_OK || redisEnableKeepAlive(ctx) != REDIS_OK) {
        set_error(conn, "configuring the connection to %s:%u", node->host, node->port);
        redisFree(ctx);
        return NULL;
    }
    node->ctx = ctx;
    return ctx;
}

int pb_redis_load_slots(pb_redis_conn *conn, const redisReply *reply, const char *asked_host)
{
    if (reply->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i < PB_REDIS_SLOTS; i++)
        conn->slot_node[i] = PB_REDIS_NO_NODE;
    for (size_t i = 0; i < conn->n_nodes; i++)
        conn->nodes[i].replicas = 0;
    for (size_t r = 0; r < reply->elements; r++) {
        const redisReply *range = reply->element[r];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 || range->element[0]->type != REDIS_REPLY_INTEGER ||
            range->element[1]->type != REDIS_REPLY_INTEGER || range->element[2]->type != REDIS_REPLY_ARRAY ||
            range->element[2]->elements < 2)
            return -1;
        const redisReply *primary = range->element[2];
        if (primary->element[0]->type != REDIS_REPLY_STRING || primary->element[1]->type != REDIS_REPLY_INTEGER)
            return -1;
        long long first = range->element[0]->integer, last = range->element[1]->integer;
        long long port = primary->element[1]->integer;
        if (first < 0 || last >= PB_REDIS_SLOTS || first > last || port <= 0 || port > 65535)
            return -1;
        /* An empty host means "the node you asked" (Redis 7 cluster-preferred-endpoint-type). */
        const char *host = primary->element[0]->len != 0 ? primary->element[0]->str : asked_host;
        int node = pb_redis_node_index(conn, host, (uint16_t)port);
        if (node < 0)
            return -1;
        for (long long s = first; s <= last; s++)
            conn->slot_node[s] = (uint16_t)node;
        /* Redis lists a range's replicas after its primary, leaving out those the cluster has failed. */
        conn->nodes[node].replicas = (unsigned)(range->elements - 3);
    }
    return 0;
}

int pb_redis_map_seeds(pb_redis_conn *conn)
{
    const pb_redis_target *target = conn->target;
    for (size_t s = 0; s < target->n_seeds; s++)
        if (pb_redis_node_index(conn, target->seed_hosts[s], target->seed_ports[s]) < 0) {
            set_error(conn, "out of memory");
            return -1;
        }
    if (target->cluster)
        return 0;
    for (size_t i = 0; i < PB_REDIS_SLOTS; i++)
        conn->slot_node[i] = 0;
    conn->map_ready = true;
    return 1;
}

/*
 * Loads the slot map from the first node that answers: the nodes already
 * known (they follow failovers) before the seeds. Outside a cluster the one
 * server owns every slot.
 */
static int refresh_map(pb_redis_conn *conn)
{
    int seeded = pb_redis_map_seeds(conn);
    if (seeded != 0)
        return seeded > 0 ? 0 : -1;
    for (size_t i = 0; i < conn->n_nodes; i++) {
        redisContext *ctx = node_connect(conn, (int)i);
        if (ctx == NULL)
            continue;
        redisReply *reply = redisCommand(ctx, "CLUSTER SLOTS");
        if (reply == NULL) {
            set_error(conn, "CLUSTER SLOTS on %s:%u: %s", conn->nodes[i].host, conn->nodes[i].port, ctx->errstr);
            node_failed(conn, &conn->nodes[i]);
            continue;
        }
        char *host = strdup(conn->nodes[i].host); /* node_index() may move the nodes */
        int rc = host == NULL ? -1 : pb_redis_load_slots(conn, reply, host);
        free(host);
        freeReplyObject(reply);
        if (rc == 0) {
            conn->map_ready = true;
            return 0;
        }
        set_error(conn, "CLUSTER SLOTS: unexpected answer from %s:%u", conn->nodes[i].host, conn->nodes[i].port);
    }
    return -1;
}

void pb_redis_cmd_init(pb_redis_cmd *cmd, pb_pool *pool, unsigned slot, bool write, int argc)
{
    *cmd = (pb_redis_cmd){.slot = slot, .write = write, .argc = argc, .to_node = -1, .node = -1, .ask_node = -1};
    cmd->argv = pb_pool_alloc(pool, (size_t)argc * sizeof(*cmd->argv));
    cmd->argvlen = pb_pool_alloc(pool, (size_t)argc * sizeof(*cmd->argvlen));
}

void pb_redis_release(pb_redis_cmd *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (cmds[i].reply != NULL)
            freeReplyObject(cmds[i].reply);
        cmds[i].reply = NULL;
        cmds[i].sent = false;
        cmds[i].ask_node = -1;
    }
}

static bool error_starts(const redisReply *reply, const char *prefix)
{
    size_t len = strlen(prefix);
    return reply->type == REDIS_REPLY_ERROR && reply->len >= len && memcmp(reply->str, prefix, len) == 0;
}

bool pb_redis_must_resend(pb_redis_conn *conn, pb_redis_cmd *cmd)
{
    redisReply *reply = cmd->reply;
    if (reply->type != REDIS_REPLY_ERROR)
        return false;
    if (error_starts(reply, "NOSCRIPT") && cmd->script != NULL) {
        cmd->argv[0] = "EVAL";
        cmd->argvlen[0] = 4;
        cmd->argv[1] = cmd->script->body;
        cmd->argvlen[1] = strlen(cmd->script->body);
    } else if (error_starts(reply, "MOVED ") || error_starts(reply, "ASK ")) {
        pb_redirect redirect;
        if (pb_redis_parse_redirect(reply->str, reply->len, &redirect) != 0)
            return false;
        if (redirect.kind == PB_REDIRECT_MOVED) {
            conn->map_ready = false;
        } else if ((cmd->ask_node = pb_redis_node_index(conn, redirect.host, redirect.port)) < 0) {
            return false;
        }
    } else if (error_starts(reply, "TRYAGAIN")) {
        /* A multi-key command during a migration; our commands take one key each. */
    } else {
        return false;
    }
    freeReplyObject(reply);
    cmd->reply = NULL;
    cmd->sent = false;
    return true;
}

int pb_redis_route(const pb_redis_conn *conn, const pb_redis_cmd *cmd)
{
    if (cmd->to_node >= 0)
        return (size_t)cmd->to_node < conn->n_nodes ? cmd->to_node : -1;
    if (cmd->ask_node >= 0)
        return cmd->ask_node;
    uint16_t owner = conn->slot_node[cmd->slot];
    return owner == PB_REDIS_NO_NODE ? -1 : owner;
}

/* Sends the unanswered commands of one round; marks the nodes used in `used`. */
static void send_round(pb_redis_conn *conn, pb_redis_cmd *cmds, size_t n, bool *used, int round)
{
    for (size_t i = 0; i < n; i++) {
        pb_redis_cmd *cmd = &cmds[i];
        if (cmd->reply != NULL || cmd->sent || (cmd->to_node >= 0 && round > 0))
            continue;
        cmd->node = pb_redis_route(conn, cmd);
        if (cmd->node < 0) {
            set_error(conn, "no node serves slot %u", cmd->slot);
            conn->map_ready = false;
            continue;
        }
        redisContext *ctx = node_connect(conn, cmd->node);
        if (ctx == NULL) {
            conn->map_ready = false; /* a failover may have moved the slot */
            continue;
        }
        if (cmd->ask_node >= 0)
            redisAppendCommand(ctx, "ASKING");
        redisAppendCommandArgv(ctx, cmd->argc, cmd->argv, cmd->argvlen);
        cmd->sent = true;
        cmd->epoch = conn->nodes[cmd->node].epoch;
        cmd->stamp = ++conn->sends;
        used[cmd->node] = true;
    }
    /* Every node gets its whole pipeline before any is read, so nodes work in parallel. */
    for (size_t i = 0; i < conn->n_nodes; i++) {
        int done = 0;
        while (used[i] && conn->nodes[i].ctx != NULL && !done)
            if (redisBufferWrite(conn->nodes[i].ctx, &done) != REDIS_OK)
                break;
    }
}

/* Reads the replies of one round, in the order each node got its commands. */
static void read_round(pb_redis_conn *conn, pb_redis_cmd *cmds, size_t n, bool *used)
{
    for (size_t i = 0; i < n; i++) {
        pb_redis_cmd *cmd = &cmds[i];
        if (!cmd->sent || cmd->reply != NULL || !used[cmd->node])
            continue;
        pb_redis_node *node = &conn->nodes[cmd->node];
        void *reply = NULL;
        if (node->ctx != NULL && cmd->ask_node >= 0 && redisGetReply(node->ctx, &reply) == REDIS_OK)
            freeReplyObject(reply); /* ASKING's +OK */
        reply = NULL;
        if (node->ctx == NULL || redisGetReply(node->ctx, &reply) != REDIS_OK) {
            if (node->ctx != NULL) {
                set_error(conn, "%s:%u: %s", node->host, node->port, node->ctx->errstr);
                node_failed(conn, node);
            }
            continue; /* sent, unanswered: never resent */
        }
        cmd->reply = reply;
        if (cmd->ask_node >= 0 && !error_starts(cmd->reply, "ASK ") && !error_starts(cmd->reply, "NOSCRIPT"))
            cmd->ask_node = -1;
    }
}

int pb_redis_run(pb_redis_conn *conn, pb_redis_cmd *cmds, size_t n)
{
    for (int round = 0; round < PB_REDIS_MAX_ROUNDS; round++) {
        if (!conn->map_ready && refresh_map(conn) != 0)
            return -1;
        /* Nodes are only added between rounds (map reloads, ASK), so `used` fits this round. */
        memset(conn->used, 0, conn->n_nodes * sizeof(*conn->used));
        send_round(conn, cmds, n, conn->used, round);
        read_round(conn, cmds, n, conn->used);

        bool again = false, lost = false;
        for (size_t i = 0; i < n; i++) {
            if (cmds[i].reply != NULL)
                again |= cmds[i].to_node < 0 && pb_redis_must_resend(conn, &cmds[i]);
            else if (cmds[i].sent || cmds[i].to_node >= 0)
                lost = true; /* a command sent to a named node is sent once */
            else
                again = true; /* never sent: no owner or no connection */
        }
        if (!again)
            return lost ? -1 : 0;
    }
    return -1;
}

int pb_redis_each_primary(pb_redis_conn *conn, int (*visit)(void *arg, redisContext *ctx), void *arg)
{
    if (!conn->map_ready && refresh_map(conn) != 0)
        return -1;
    size_t n = conn->n_nodes;
    bool *owner = calloc(n == 0 ? 1 : n, sizeof(*owner));
    if (owner == NULL) {
        set_error(conn, "out of memory");
        return -1;
    }
    for (size_t s = 0; s < PB_REDIS_SLOTS; s++)
        if (conn->slot_node[s] != PB_REDIS_NO_NODE)
            owner[conn->slot_node[s]] = true;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!owner[i])
            continue;
        redisContext *ctx = node_connect(conn, (int)i);
        rc = ctx == NULL ? -1 : visit(arg, ctx);
        if (rc != 0 && ctx != NULL && ctx->err != 0) {
            set_error(conn, "%s:%u: %s", conn->nodes[i].host, conn->nodes[i].port, ctx->errstr);
            node_failed(conn, &conn->nodes[i]);
        }
    }
    free(owner);
    return rc;
}

redisReply *pb_redis_scan_page(redisContext *ctx, char cursor[PB_REDIS_SCAN_CURSOR], const char *match,
                               size_t match_len, unsigned count)
{
    redisReply *page = redisCommand(ctx, "SCAN %s MATCH %b COUNT %u", cursor, match, match_len, count);
    if (page == NULL || page->type != REDIS_REPLY_ARRAY || page->elements != 2 ||
        page->element[0]->type != REDIS_REPLY_STRING || page->element[1]->type != REDIS_REPLY_ARRAY ||
        page->element[0]->len >= PB_REDIS_SCAN_CURSOR) {
        if (page != NULL)
            freeReplyObject(page);
        return NULL;
    }
    memcpy(cursor, page->element[0]->str, page->element[0]->len + 1);
    return page;
}

bool pb_redis_reply_failed(pb_redis_conn *conn, const redisReply *reply, const char *what)
{
    if (reply == NULL) {
        if (conn->error[0] == '\0')
            set_error(conn, "%s: no reply", what);
        return true;
    }
    if (reply->type != REDIS_REPLY_ERROR)
        return false;
    set_error(conn, "%s: %.*s", what, (int)(reply->len > 150 ? 150 : reply->len), reply->str);
    return true;
}
