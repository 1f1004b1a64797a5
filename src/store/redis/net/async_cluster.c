/* store/redis/net/async_cluster.c — batches pipelined on one loop's connections (see async_cluster.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "store/redis/net/async_cluster.h"
#include "store/redis/net/h2o_adapter.h"
#include "store/redis/net/slot.h"

struct pb_redis_aconn {
    pb_redis_conn map; /* the nodes, the slot map, the last error; its blocking contexts stay unused */
    h2o_evloop_t *loop;
    redisAsyncContext **acs; /* per node of map.nodes: its connection, or NULL */
    size_t n_acs;
    h2o_timeout_t reply_timeout; /* a round's replies come within the target's timeout_ms */
    h2o_timeout_t soon;          /* 0 ms: a done() that must not run inside pb_redis_arun() */
    bool loading;                /* a CLUSTER SLOTS is on its way */
    size_t load_node;            /* the node it was asked of */
    h2o_timeout_entry_t load_timer; /* its answer comes within timeout_ms, or the next node is asked */
    pb_redis_abatch *waiting;    /* batches waiting for the map, newest first */
};

static void round_run(pb_redis_abatch *batch);
static void on_load_timeout(h2o_timeout_entry_t *entry);

static void set_error(pb_redis_aconn *conn, const char *what, const char *host, unsigned port, const char *why)
{
    snprintf(conn->map.error, sizeof(conn->map.error), "%s %s:%u: %s", what, host, port, why);
}

pb_redis_aconn *pb_redis_aconn_open(const pb_redis_target *target, h2o_evloop_t *loop)
{
    pb_redis_aconn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return NULL;
    if (pb_redis_conn_init(&conn->map, target) != 0) {
        free(conn);
        return NULL;
    }
    conn->loop = loop;
    h2o_timeout_init(loop, &conn->reply_timeout, target->timeout_ms);
    h2o_timeout_init(loop, &conn->soon, 0);
    conn->load_timer.cb = on_load_timeout;
    return conn;
}

void pb_redis_aconn_close(pb_redis_aconn *conn)
{
    if (conn == NULL)
        return;
    for (size_t i = 0; i < conn->n_acs; i++) {
        redisAsyncContext *ac = conn->acs[i];
        conn->acs[i] = NULL; /* before the free: its callbacks look here */
        if (ac != NULL)
            redisAsyncFree(ac);
    }
    if (h2o_timeout_is_linked(&conn->load_timer))
        h2o_timeout_unlink(&conn->load_timer);
    h2o_timeout_dispose(conn->loop, &conn->reply_timeout);
    h2o_timeout_dispose(conn->loop, &conn->soon);
    free(conn->acs);
    pb_redis_conn_free(&conn->map);
    free(conn);
}

const char *pb_redis_aconn_error(const pb_redis_aconn *conn)
{
    return conn->map.error;
}

pb_redis_conn *pb_redis_aconn_map(pb_redis_aconn *conn)
{
    return &conn->map;
}

/* ---- Connections ------------------------------------------------------ */

static int index_of(const pb_redis_aconn *conn, const redisAsyncContext *ac)
{
    for (size_t i = 0; i < conn->n_acs; i++)
        if (conn->acs[i] == ac)
            return (int)i;
    return -1;
}

/*
 * Forgets a connection hiredis is freeing, or one that gave no answer in time.
 * A node that could not be reached (or hung) is left alone for a while; one
 * whose open connection broke (a restart, a failover, an idle timeout) may be
 * reconnected at once: a dead server refuses the next connection quickly.
 */
static void node_lost(pb_redis_aconn *conn, const redisAsyncContext *ac, bool leave_alone, const char *why)
{
    int i = index_of(conn, ac);
    if (i < 0)
        return;
    pb_redis_node *node = &conn->map.nodes[i];
    set_error(conn, "connection to", node->host, node->port, why);
    conn->acs[i] = NULL;
    node->epoch++; /* what was sent on it is no longer covered by a WAIT sent later */
    if (leave_alone)
        node->down_until_ms = pb_clock_ms() + PB_REDIS_DOWN_MS;
    conn->map.map_ready = false; /* a failover may have moved its slots */
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK)
        node_lost(ac->data, ac, true, ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    node_lost(ac->data, ac, false, status == REDIS_OK ? "closed" : ac->errstr);
}

/* Node i's connection, opened when it has none; NULL (error set) when it cannot be. */
static redisAsyncContext *node_ac(pb_redis_aconn *conn, int i)
{
    if ((size_t)i >= conn->n_acs) {
        size_t n = conn->map.n_nodes;
        redisAsyncContext **grown = realloc(conn->acs, n * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        memset(grown + conn->n_acs, 0, (n - conn->n_acs) * sizeof(*grown));
        conn->acs = grown;
        conn->n_acs = n;
    }
    if (conn->acs[i] != NULL)
        return conn->acs[i];
    pb_redis_node *node = &conn->map.nodes[i];
    if (node->down_until_ms > pb_clock_ms()) {
        set_error(conn, "node", node->host, node->port, "failed less than a second ago");
        return NULL;
    }
    conn->acs[i] = pb_redis_async_connect(conn->loop, node->host, node->port, on_connect, on_disconnect, conn);
    if (conn->acs[i] == NULL) {
        set_error(conn, "connecting to", node->host, node->port, "cannot start");
        node->down_until_ms = pb_clock_ms() + PB_REDIS_DOWN_MS;
    }
    return conn->acs[i];
}

/* hiredis frees a reply when its callback returns: a batch keeps a copy freeReplyObject() can free. */
static redisReply *reply_copy(const redisReply *reply)
{
    redisReply *copy = calloc(1, sizeof(*copy));
    if (copy == NULL)
        return NULL;
    copy->type = reply->type;
    copy->integer = reply->integer;
    if (reply->str != NULL) {
        if ((copy->str = malloc(reply->len + 1)) == NULL)
            goto fail;
        memcpy(copy->str, reply->str, reply->len);
        copy->str[reply->len] = '\0';
        copy->len = reply->len;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements != 0) {
        if ((copy->element = calloc(reply->elements, sizeof(*copy->element))) == NULL)
            goto fail;
        copy->elements = reply->elements;
        for (size_t i = 0; i < reply->elements; i++)
            if ((copy->element[i] = reply_copy(reply->element[i])) == NULL)
                goto fail;
    }
    return copy;
fail:
    freeReplyObject(copy);
    return NULL;
}

/* ---- The slot map ----------------------------------------------------- */

static void finish_later(pb_redis_abatch *batch);
static void finish_now(pb_redis_abatch *batch, int rc);

/* Starts (or finishes, when nobody answers) the waiting batches. */
static void map_settled(pb_redis_aconn *conn)
{
    pb_redis_abatch *batch = conn->waiting;
    conn->waiting = NULL;
    while (batch != NULL) {
        pb_redis_abatch *next = batch->next_waiting;
        if (h2o_timeout_is_linked(&batch->timeout))
            h2o_timeout_unlink(&batch->timeout);
        if (conn->map.map_ready) {
            round_run(batch);
        } else {
            batch->result = -1;
            finish_later(batch);
        }
        batch = next;
    }
}

static void load_from(pb_redis_aconn *conn, size_t first);

static void on_slots(redisAsyncContext *ac, void *reply, void *privdata)
{
    pb_redis_aconn *conn = ac->data;
    size_t i = (size_t)(uintptr_t)privdata;
    if (h2o_timeout_is_linked(&conn->load_timer))
        h2o_timeout_unlink(&conn->load_timer);
    if (reply != NULL) {
        char *host = strdup(conn->map.nodes[i].host); /* adding nodes may move them */
        if (host != NULL && pb_redis_load_slots(&conn->map, reply, host) == 0) {
            free(host);
            conn->loading = false;
            conn->map.map_ready = true;
            map_settled(conn);
            return;
        }
        free(host);
    }
    load_from(conn, i + 1);
}

/* Asks the first node from `first` on that can be asked; the nodes known (they follow failovers) first. */
static void load_from(pb_redis_aconn *conn, size_t first)
{
    for (size_t i = first; i < conn->map.n_nodes; i++) {
        redisAsyncContext *ac = node_ac(conn, (int)i);
        if (ac != NULL && redisAsyncCommand(ac, on_slots, (void *)(uintptr_t)i, "CLUSTER SLOTS") == REDIS_OK) {
            conn->load_node = i;
            h2o_timeout_link(conn->loop, &conn->reply_timeout, &conn->load_timer);
            return;
        }
    }
    conn->loading = false;
    map_settled(conn);
}

/*
 * The node asked for the map gave no answer in time (unreachable: its connect
 * or its reply lost in a partition): it is given up like a node whose reply
 * timed out, which answers on_slots() with no reply, and the next node is asked.
 */
static void on_load_timeout(h2o_timeout_entry_t *entry)
{
    pb_redis_aconn *conn = H2O_STRUCT_FROM_MEMBER(pb_redis_aconn, load_timer, entry);
    redisAsyncContext *ac = conn->load_node < conn->n_acs ? conn->acs[conn->load_node] : NULL;
    if (ac == NULL) {
        load_from(conn, conn->load_node + 1);
        return;
    }
    node_lost(conn, ac, true, "no answer to CLUSTER SLOTS in time");
    redisAsyncFree(ac); /* on_slots() runs now, with no reply, and asks the next node */
}

/* A batch waited timeout_ms for the map in vain: it fails alone, the load goes on for the others. */
static void on_map_wait_timeout(h2o_timeout_entry_t *entry)
{
    pb_redis_abatch *batch = H2O_STRUCT_FROM_MEMBER(pb_redis_abatch, timeout, entry);
    pb_redis_aconn *conn = batch->conn;
    for (pb_redis_abatch **p = &conn->waiting; *p != NULL; p = &(*p)->next_waiting)
        if (*p == batch) {
            *p = batch->next_waiting;
            break;
        }
    snprintf(conn->map.error, sizeof(conn->map.error), "no slot map within %u ms", conn->map.target->timeout_ms);
    batch->result = -1;
    finish_now(batch, -1);
}

static void wait_for_map(pb_redis_abatch *batch)
{
    pb_redis_aconn *conn = batch->conn;
    batch->next_waiting = conn->waiting;
    conn->waiting = batch;
    batch->timeout.cb = on_map_wait_timeout;
    h2o_timeout_link(conn->loop, &conn->reply_timeout, &batch->timeout);
    if (conn->loading)
        return;
    int seeded = pb_redis_map_seeds(&conn->map);
    if (seeded != 0) {
        map_settled(conn); /* one server, or out of memory */
        return;
    }
    conn->loading = true;
    load_from(conn, 0);
}

/* ---- Batches ---------------------------------------------------------- */

static void finish_now(pb_redis_abatch *batch, int rc)
{
    if (h2o_timeout_is_linked(&batch->timeout))
        h2o_timeout_unlink(&batch->timeout);
    batch->done(batch->arg, rc);
}

static void on_finish_later(h2o_timeout_entry_t *entry)
{
    pb_redis_abatch *batch = H2O_STRUCT_FROM_MEMBER(pb_redis_abatch, timeout, entry);
    finish_now(batch, batch->result);
}

/* Finishes the batch with batch->result from the loop, so that done() never runs inside pb_redis_arun(). */
static void finish_later(pb_redis_abatch *batch)
{
    if (h2o_timeout_is_linked(&batch->timeout))
        h2o_timeout_unlink(&batch->timeout);
    batch->timeout.cb = on_finish_later;
    h2o_timeout_link(batch->conn->loop, &batch->conn->soon, &batch->timeout);
}

/* Every command of the round is answered or lost: resend what must be, or finish. */
static void round_done(pb_redis_abatch *batch, bool inside_run)
{
    pb_redis_aconn *conn = batch->conn;
    if (h2o_timeout_is_linked(&batch->timeout))
        h2o_timeout_unlink(&batch->timeout);
    bool again = false, lost = false, retry = false;
    for (size_t i = 0; i < batch->n; i++) {
        pb_redis_cmd *cmd = &batch->cmds[i];
        if (cmd->reply != NULL) {
            again |= cmd->to_node < 0 && pb_redis_must_resend(&conn->map, cmd);
        } else if (cmd->to_node >= 0) {
            lost = true; /* sent once, or not at all */
        } else if (cmd->sent && !cmd->write && !batch->retried) {
            cmd->sent = false; /* a read may run twice */
            retry = again = true;
        } else if (cmd->sent) {
            lost = true;
        } else {
            again = true; /* never sent: no owner or no connection */
        }
    }
    if (retry) {
        batch->retried = true;
        conn->map.map_ready = false;
    }
    if (!again || ++batch->round >= PB_REDIS_MAX_ROUNDS) {
        batch->result = again || lost ? -1 : 0;
        if (inside_run)
            finish_later(batch);
        else
            finish_now(batch, batch->result);
        return;
    }
    round_run(batch);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    pb_redis_cmd *cmd = privdata;
    pb_redis_abatch *batch = cmd->batch;
    if (reply != NULL)
        cmd->reply = reply_copy(reply); /* NULL when out of memory: lost, like a broken connection */
    else
        node_lost(batch->conn, ac, false, ac->err != 0 ? ac->errstr : "closed");
    if (--batch->outstanding == 0)
        round_done(batch, false);
}

/* No reply within timeout_ms: the nodes this round waits for are given up, which fails their commands. */
static void on_reply_timeout(h2o_timeout_entry_t *entry)
{
    pb_redis_abatch *batch = H2O_STRUCT_FROM_MEMBER(pb_redis_abatch, timeout, entry);
    pb_redis_aconn *conn = batch->conn;
    batch->outstanding++; /* the batch lives until this returns: its done() waits for the count */
    for (size_t i = 0; i < batch->n; i++) {
        pb_redis_cmd *cmd = &batch->cmds[i];
        if (!cmd->sent || cmd->reply != NULL || cmd->node < 0 || (size_t)cmd->node >= conn->n_acs ||
            conn->acs[cmd->node] == NULL)
            continue;
        redisAsyncContext *ac = conn->acs[cmd->node];
        node_lost(conn, ac, true, "no reply in time");
        redisAsyncFree(ac); /* its pending callbacks run now, with no reply */
    }
    if (--batch->outstanding == 0)
        round_done(batch, false);
}

/* Sends the unanswered commands of one round to their nodes. */
static void round_run(pb_redis_abatch *batch)
{
    pb_redis_aconn *conn = batch->conn;
    if (pb_clock_ms() >= batch->deadline_ms) {
        char why[sizeof(conn->map.error)];
        snprintf(why, sizeof(why), "%s", conn->map.error[0] != '\0' ? conn->map.error : "gave up");
        snprintf(conn->map.error, sizeof(conn->map.error), "no answer within %u ms (%.160s)",
                 conn->map.target->timeout_ms, why);
        batch->result = -1;
        finish_later(batch);
        return;
    }
    if (!conn->map.map_ready) {
        wait_for_map(batch);
        return;
    }
    batch->outstanding = 1; /* held while sending, so that no reply finishes the round meanwhile */
    for (size_t i = 0; i < batch->n; i++) {
        pb_redis_cmd *cmd = &batch->cmds[i];
        if (cmd->reply != NULL || cmd->sent || (cmd->to_node >= 0 && batch->round > 0))
            continue;
        cmd->node = pb_redis_route(&conn->map, cmd);
        redisAsyncContext *ac = cmd->node >= 0 ? node_ac(conn, cmd->node) : NULL;
        if (ac == NULL) {
            conn->map.map_ready = false; /* a failover may have moved the slot */
            continue;
        }
        if (cmd->ask_node >= 0)
            redisAsyncCommand(ac, NULL, NULL, "ASKING");
        cmd->batch = batch;
        if (redisAsyncCommandArgv(ac, on_reply, cmd, cmd->argc, cmd->argv, cmd->argvlen) != REDIS_OK)
            continue;
        cmd->sent = true;
        cmd->epoch = conn->map.nodes[cmd->node].epoch;
        cmd->stamp = ++conn->map.sends;
        batch->outstanding++;
    }
    if (batch->outstanding > 1) {
        batch->timeout.cb = on_reply_timeout;
        h2o_timeout_link(conn->loop, &conn->reply_timeout, &batch->timeout);
    }
    if (--batch->outstanding == 0)
        round_done(batch, true);
}

void pb_redis_arun(pb_redis_aconn *conn, pb_redis_abatch *batch, pb_redis_cmd *cmds, size_t n,
                   pb_redis_abatch_done *done, void *arg)
{
    uint64_t deadline = batch->deadline_ms != 0 ? batch->deadline_ms : pb_clock_ms() + conn->map.target->timeout_ms;
    *batch = (pb_redis_abatch){.conn = conn, .cmds = cmds, .n = n, .done = done, .arg = arg, .deadline_ms = deadline};
    for (size_t i = 0; i < n; i++)
        cmds[i].batch = batch;
    if (n == 0) {
        finish_later(batch);
        return;
    }
    round_run(batch);
}
