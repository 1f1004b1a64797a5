/*
 * store/redis/apply_machine.h — pb_store_apply() for the Redis backend as a
 * machine of rounds, shared by its two carriers. Private to store/redis/.
 *
 * The write protocol (apply_machine.c says it whole, docs/design.md walks
 * through its failure cases) is a sequence of steps. Each step prepares one
 * batch of commands (a round), a carrier runs it, and the step judges the
 * replies and picks the next step:
 *
 *   pb_redis_applier *a = pb_redis_applier_new(...);
 *   while (pb_redis_applier_next(a, &cmds, &n)) {
 *       run cmds[0..n-1];            (pb_redis_run() or pb_redis_arun())
 *       pb_redis_applier_judge(a);
 *   }
 *   rc = pb_redis_applier_end(a);
 *
 * apply_carriers.c holds the two carriers: the blocking loop above on the
 * session's conn, and a chain of pb_redis_arun() callbacks on the write
 * connections of a session bound to an event loop. Everything the machine
 * keeps lives in the pool it is given, which must last until
 * pb_redis_applier_end(). The machine itself does no I/O: a test can hand it
 * replies of its own making (test/unit/test_redis_apply.c).
 *
 * apply_machine.c is the machine (rounds, the order of steps, clear account,
 * the batch's WAITs); apply_wave.c the steps of a wave of independent
 * changes (read, purge, reserve, change).
 */
#ifndef PB_STORE_REDIS_APPLY_MACHINE_H
#define PB_STORE_REDIS_APPLY_MACHINE_H

#include "store/redis/keyspace.h"

typedef struct pb_redis_applier pb_redis_applier;

/*
 * A machine for one batch: `n` changes of app `access_id`, outcomes[i] for
 * changes[i] (all valid until the end). `map` is the carrier's conn: its
 * slot map says where a command will go, its error what went wrong.
 */
pb_redis_applier *pb_redis_applier_new(pb_redis_session *session, pb_redis_conn *map, pb_pool *pool,
                                       uint64_t access_id, const pb_change *changes, size_t n,
                                       pb_change_outcome *outcomes);

/* The next round to run (true), or false once the batch is over. */
bool pb_redis_applier_next(pb_redis_applier *a, pb_redis_cmd **cmds, size_t *n);

/* Judges the round pb_redis_applier_next() gave, once the carrier ran it, and releases its replies. */
void pb_redis_applier_judge(pb_redis_applier *a);

/* What pb_store_apply() returns for the batch; counts its expired bindings when it succeeded. */
int pb_redis_applier_end(pb_redis_applier *a);

/* ---- Between apply_machine.c and apply_wave.c ---- */

typedef enum pb_redis_step {
    PB_REDIS_STEP_READ,         /* a wave's records and index sizes (and, first, begin_batch) */
    PB_REDIS_STEP_PURGE_READ,   /* the full accounts' indexes, when expired bindings may make room */
    PB_REDIS_STEP_PURGE_EXPIRE, /* their tokens' expired bindings deleted; then READ again */
    PB_REDIS_STEP_RESERVE,      /* index members for the new bindings */
    PB_REDIS_STEP_CHANGE,       /* the change scripts */
    PB_REDIS_STEP_CLEAR_READ,   /* clear account: its index */
    PB_REDIS_STEP_CLEAR_CHANGE, /* clear account: each binding it names, removed */
    PB_REDIS_STEP_FINAL,        /* the last cleanup, the count, the WAITs */
    PB_REDIS_STEP_WAIT,         /* WAITs the final round could not foresee */
    PB_REDIS_STEP_TAG,          /* a tag request's steps (tags.h) */
    PB_REDIS_STEP_END,
} pb_redis_step;

/* A change's new bindings: the accounts to reserve and add. */
typedef struct pb_redis_additions {
    size_t n;
    pb_str *keys;          /* the accounts' index keys */
    pb_str *members;       /* account members (the token's record) */
    pb_str *index_members; /* "seq|token" (the accounts' indexes) */
    pb_str *times;         /* "BIND|LAST" given, or "" for now */
    uint64_t *seqs;
} pb_redis_additions;

/* One change of a wave, between steps. */
typedef struct pb_redis_job {
    const pb_change *change;
    pb_change_outcome *outcome; /* PB_CHANGE_OK while the job goes on */
    bool going;
    size_t k;                       /* listed accounts */
    pb_str *members, *keys, *times; /* times: "BIND|LAST" given, or "" */
    bool purge;                     /* an account is full: its expired bindings may make room */
    bool vanished;                  /* an account it read as bound was unbound before its change: read again */
    pb_redis_additions adds;
    size_t at; /* where its commands start in the current step's batch */
} pb_redis_job;

/* Where a batch wrote: the latest write to one node, and whether a WAIT covered it. */
typedef struct pb_redis_written {
    int node;
    uint32_t epoch; /* the node's connection then */
    uint64_t stamp;
    bool lost;    /* written on two connections: the first one's writes can no longer be waited for */
    bool covered; /* a WAIT sent after the latest write, on its connection, was answered */
} pb_redis_written;

struct pb_redis_applier {
    pb_redis_session *session;
    const pb_redis_store *store;
    pb_redis_conn *map;
    pb_pool *pool;
    uint64_t access_id;
    const pb_change *changes;
    size_t n;
    pb_change_outcome *outcomes;
    int rc;
    pb_redis_step step;
    int64_t now; /* the batch's clock, read once */
    bool begun;  /* begin_batch was sent (it rides in the first round) */
    uint64_t wanted, next_seq;
    int64_t delta;    /* bindings created minus bindings removed */
    uint64_t expired; /* bindings the change scripts deleted by expiry */
    /* The wave: changes[at .. at + wave). */
    size_t at, wave;
    pb_redis_job *jobs;
    bool may_purge;
    uint64_t first_seq; /* next_seq when the wave was first judged: a re-read hands out the same seqs */
    unsigned rereads;   /* waves read again because an unbind ran between a read and its change */
    pb_str *purge_tokens;
    size_t n_purge;
    /* Clear account: changes[at]'s index key and member, the index members read and their bindings. */
    pb_str clear_key, clear_member;
    pb_str *clear_members, *clear_tokens;
    uint64_t *clear_seqs;
    size_t n_clear;
    /* Best-effort writes (cleanup, expiry index entries) that ride in the next round. */
    pb_redis_cmd *carry;
    size_t n_carry;
    /* The round being run: carried commands, begin_batch, then the step's own from step_at. */
    pb_redis_cmd *cmds;
    size_t n_cmds, begin_at, step_at;
    pb_redis_written *written;
    size_t n_written;
    struct pb_redis_tagger *tags; /* a tag request's machine (tags.h), instead of changes */
};

/* Opens a round with room for the step's `n` commands and returns where they go; a->n_cmds counts them. */
pb_redis_cmd *pb_redis_round_open(pb_redis_applier *a, size_t n);

/* Queues a best-effort command for the next round (a->pool holds it). */
pb_redis_cmd *pb_redis_carry(pb_redis_applier *a);

/* The change script on a token's record and details, ARGV 1-6 (mode, limit, now, ttl, platform, n) set. */
void pb_redis_cmd_change(pb_redis_cmd *cmd, const pb_redis_applier *a, pb_str token, int argc, char mode,
                         uint64_t limit, int64_t ttl, pb_platform platform, size_t n);

/* Deletes `member` from index `key` with the next round. */
void pb_redis_cleanup_add(pb_redis_applier *a, pb_str key, pb_str member);

/* A wave's steps (apply_wave.c): the wave starting at changes[a->at], then each step's two halves. */
size_t pb_redis_wave_end(const pb_change *changes, size_t n, bool ttl);
void pb_redis_wave_open(pb_redis_applier *a);
bool pb_redis_wave_read_prepare(pb_redis_applier *a);
void pb_redis_wave_read_judge(pb_redis_applier *a);
bool pb_redis_purge_read_prepare(pb_redis_applier *a);
void pb_redis_purge_read_judge(pb_redis_applier *a);
bool pb_redis_purge_expire_prepare(pb_redis_applier *a);
void pb_redis_purge_expire_judge(pb_redis_applier *a);
bool pb_redis_reserve_prepare(pb_redis_applier *a);
void pb_redis_reserve_judge(pb_redis_applier *a);
bool pb_redis_change_prepare(pb_redis_applier *a);
void pb_redis_change_judge(pb_redis_applier *a);

/* After a wave or a clear account: the next change's first step, or the final round. */
void pb_redis_applier_advance(pb_redis_applier *a);

#endif
