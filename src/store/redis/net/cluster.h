/*
 * store/redis/net/cluster.h — talking to one Redis server or a Redis Cluster
 * through hiredis, which speaks the protocol but knows nothing of clusters.
 * store/redis/net/ is a cluster client that knows nothing of pushbind (it
 * includes only common/): the slot map and blocking connections here, the
 * same batches without waiting in async_cluster.h, hiredis on h2o's loop in
 * h2o_adapter.h, the slot rule in slot.h.
 *
 * A pb_redis_conn is one thread's set of connections (one per node, opened
 * when first needed and reopened after a failure) plus its own copy of the
 * slot map. It is never shared between threads, so nothing here locks.
 *
 * A node that fails is left alone for a second by this thread (requests
 * needing it answer an error at once), so a host that vanished costs one
 * timeout, not one per request.
 *
 * Commands are run in batches: pb_redis_run() sends every command of a batch
 * to the node that owns its slot, pipelined per node, all nodes written before
 * any is read, then follows redirects:
 *   MOVED     the map is stale: reload it (CLUSTER SLOTS) and resend;
 *   ASK       resend that one command once to the node named, after ASKING;
 *   NOSCRIPT  the node has not seen the script: resend it as EVAL.
 * A command is resent only when it cannot have run (a redirect, a refused
 * connection). One whose reply was lost after it was sent is never resent: it
 * may have run, and the caller must treat its outcome as unknown.
 *
 * A command may also name its node instead of a slot (WAIT, which speaks of
 * the writes sent before it on the same connection): it is sent once, in the
 * first round, on the connection the node has then, and never resent. Each
 * command sent is stamped with where it went (node, the node's connection
 * epoch, the conn's send counter), so that a caller can tell which writes a
 * WAIT covers: those sent before it on the same node, in the same epoch.
 */
#ifndef PB_STORE_REDIS_NET_CLUSTER_H
#define PB_STORE_REDIS_NET_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "common/pool.h"

/*
 * How often a batch is resent after redirects, by either runner. A slot
 * being migrated costs one MOVED and one ASK; a failover one refused
 * connection and one reload.
 */
#define PB_REDIS_MAX_ROUNDS 5
/*
 * After a node fails (refused, timed out, reset), a thread leaves it alone
 * for a while: a host that is gone would otherwise cost a full timeout on
 * every request, stalling the event loop. Failovers take longer than this.
 */
#define PB_REDIS_DOWN_MS 1000
/* In pb_redis_conn.slot_node: no node serves the slot (yet). */
#define PB_REDIS_NO_NODE UINT16_MAX

/* Where the data lives: fixed for the life of a store, shared by its sessions. */
typedef struct pb_redis_target {
    bool cluster;        /* redis-cluster:// (slot map) or redis:// (one server owns every slot) */
    size_t n_seeds;
    char **seed_hosts;   /* malloc'ed */
    uint16_t *seed_ports;
    unsigned timeout_ms; /* connect and per-reply timeout */
} pb_redis_target;

/* A Lua script run by EVALSHA, with its body at hand for EVAL on NOSCRIPT. */
typedef struct pb_redis_script {
    const char *body;
    char sha1[41];
} pb_redis_script;

/*
 * One command of a batch. The caller fills slot, argc, argv, argvlen (all
 * living until the batch is released) and, for a script, `script` with
 * argv[0] = "EVALSHA" and argv[1] = its sha1. `write` marks commands that
 * change data (they are never resent after an unknown outcome); `to_node`,
 * when not -1, is the node (an index into the conn's nodes) to send it to
 * whatever its slot.
 *
 * After pb_redis_run(): `reply` is the node's answer (possibly an error
 * reply) or NULL when none came; `sent` tells whether the command may have
 * reached a node (a NULL reply with sent == false certainly did not run),
 * and when it did, node/epoch/stamp say where and when it went last.
 */
typedef struct pb_redis_cmd {
    unsigned slot;
    int argc;
    const char **argv;
    size_t *argvlen;
    const pb_redis_script *script;
    bool write;
    int to_node; /* -1 (pb_redis_cmd_init()'s default): the owner of `slot` */
    redisReply *reply;
    bool sent;
    int node;       /* the node it was sent to */
    uint32_t epoch; /* that node's epoch then */
    uint64_t stamp; /* the conn's send counter then: later commands have larger stamps */
    /* Private to pb_redis_run() and pb_redis_arun(). */
    int ask_node;
    struct pb_redis_abatch *batch;
} pb_redis_cmd;

typedef struct pb_redis_node {
    char *host; /* malloc'ed */
    uint16_t port;
    redisContext *ctx; /* NULL until connected, and after a failure */
    uint32_t epoch;    /* connections dropped so far: commands of one epoch went on one connection */
    uint64_t down_until_ms; /* CLOCK_MONOTONIC: no connection attempt before then */
    unsigned replicas;      /* replicas CLUSTER SLOTS listed for the slots it serves (0 for a replica) */
} pb_redis_node;

typedef struct pb_redis_conn {
    const pb_redis_target *target;
    pb_redis_node *nodes;
    size_t n_nodes, cap_nodes;
    uint16_t *slot_node; /* PB_REDIS_SLOTS entries: index into nodes */
    bool *used;          /* cap_nodes entries: the nodes a round of pb_redis_run() wrote to */
    bool map_ready;
    uint64_t sends; /* commands sent so far, to stamp them */
    char error[200];
} pb_redis_conn;

/* Prepares `conn` for `target` (connects nothing yet). Returns 0 or -1 (out of memory). */
int pb_redis_conn_init(pb_redis_conn *conn, const pb_redis_target *target);

/* Closes every connection and frees what the conn holds. */
void pb_redis_conn_free(pb_redis_conn *conn);

/*
 * Runs the batch (see the top of this file). Returns 0 when every command got
 * a reply — an error reply included — or -1 when some did not (conn->error
 * says why). Either way, release the replies with pb_redis_release().
 */
int pb_redis_run(pb_redis_conn *conn, pb_redis_cmd *cmds, size_t n);

/* Frees the replies of a batch and readies it to be run again. */
void pb_redis_release(pb_redis_cmd *cmds, size_t n);

/*
 * Calls `visit` with a connection to every primary in turn (the slot map's
 * owners; the one server outside a cluster). Stops at the first non-zero
 * return. Returns 0, the visitor's code, or -1 when a primary is unreachable.
 */
int pb_redis_each_primary(pb_redis_conn *conn, int (*visit)(void *arg, redisContext *ctx), void *arg);

/* Room for a SCAN cursor as text (Redis's are decimal 64-bit numbers) and its NUL. */
#define PB_REDIS_SCAN_CURSOR 24

/*
 * One page of a visitor's walk of its primary: SCAN `cursor` MATCH
 * match[0..match_len-1] COUNT `count`. Returns the reply, whose
 * element[1] is the page's keys, and moves `cursor` on (to "0" after the
 * last page); NULL when the primary answered no SCAN page (the context's
 * err says whether it was unreachable). The caller frees the reply.
 */
redisReply *pb_redis_scan_page(redisContext *ctx, char cursor[PB_REDIS_SCAN_CURSOR], const char *match,
                               size_t match_len, unsigned count);

/* ---- The slot map's pieces, shared with the asynchronous runner (async_cluster.c) ---- */

/* The index of node host:port in conn->nodes, added when new; -1 when out of memory. */
int pb_redis_node_index(pb_redis_conn *conn, const char *host, uint16_t port);

/*
 * Adds the seeds to the nodes. Outside a cluster the one server then owns
 * every slot and the map is ready: returns 1. Returns 0 when the map must be
 * read from a node (CLUSTER SLOTS), -1 when out of memory.
 */
int pb_redis_map_seeds(pb_redis_conn *conn);

/* Reads one CLUSTER SLOTS answer, got from `asked_host`, into the map. Returns 0 or -1. */
int pb_redis_load_slots(pb_redis_conn *conn, const redisReply *reply, const char *asked_host);

/*
 * The node `cmd` goes to: its named node (to_node), the node an ASK named,
 * or its slot's owner; -1 when none is known.
 */
int pb_redis_route(const pb_redis_conn *conn, const pb_redis_cmd *cmd);

/*
 * Looks at a reply that came back. Returns true when the command must be
 * resent (a redirect or an unknown script), adjusting the command or the map;
 * the reply is then freed.
 */
bool pb_redis_must_resend(pb_redis_conn *conn, pb_redis_cmd *cmd);

/* Readies `cmd` for `argc` arguments allocated from `pool`; set them with pb_redis_cmd_arg(). */
void pb_redis_cmd_init(pb_redis_cmd *cmd, pb_pool *pool, unsigned slot, bool write, int argc);

/* Sets argument `i` to the bytes [base, base + len), which must outlive the batch. */
static inline void pb_redis_cmd_arg(pb_redis_cmd *cmd, int i, const void *base, size_t len)
{
    cmd->argv[i] = base;
    cmd->argvlen[i] = len;
}

/* Whether `reply` is an error reply, or missing; a message for conn->error when it is. */
bool pb_redis_reply_failed(pb_redis_conn *conn, const redisReply *reply, const char *what);

#endif
