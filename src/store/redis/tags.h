/*
 * store/redis/tags.h — tags on the Redis backend: the key layout of tags,
 * the write machine's steps (tag_write.c, tag_settle.c, run by the write
 * protocol's carriers: apply_machine.h) and the reads (tag_read.c). Private
 * to store/redis/. docs/design.md, "Tags (Redis)", walks through the
 * protocol and its failure cases; tag_scripts.c holds the scripts.
 *
 * Keys (P the namespace, A the access id):
 *   P:tags:{A}         hash: TAG -> "gen|leases|lease_time|count|count_stamp",
 *                      the app's tags (HLEN: its distinct tags) and each one's
 *                      gen, the seq it took when made
 *   P:tagnames:{A}     sorted set: the same names, score 0, for pages in byte
 *                      order (BYLEX); changed with the hash by the same scripts
 *   P:tgrave:{A}       sorted set: "gen|TAG" of deleted tags, scored by when:
 *                      their pairs are freed in the background (tag_graves.c)
 *   P:tt:{A:TOKEN}     hash: the token's tags, the source of truth: "t" TAG ->
 *                      "seq|gen|time", and "v" = the version each change bumps
 *   P:tx:{A:TAG}:GEN   sorted set: the tag's index, member = token, score = the
 *                      pair's seq; a member counts only when its record agrees
 *   P:tm:{A:TAG}:GEN   hash: marks, TOKEN -> "n|best version|its seq|time" for
 *                      pairs whose writers are in flight (or died), "" = a counter
 */
#ifndef PB_STORE_REDIS_TAGS_H
#define PB_STORE_REDIS_TAGS_H

#include "store/redis/apply_machine.h"

/* Writers and marks older than this are dead (every store call ends within 4 s). */
#define PB_REDIS_TAG_STALE_S 30

/* Readies `cmd` with args[0..n-1] (kept, not copied); a script's args start "EVALSHA", sha1. */
void pb_redis_cmd_strs(pb_redis_cmd *cmd, pb_pool *pool, unsigned slot, bool write, const pb_redis_script *script,
                       const pb_str *args, size_t n);

/* An argument list growing in a pool. */
typedef struct pb_redis_args {
    pb_pool *pool;
    pb_str *v;
    size_t n;
} pb_redis_args;

static inline void pb_redis_args_add(pb_redis_args *args, pb_str s)
{
    args->v = pb_pool_grow(args->pool, args->v, args->n, sizeof(*args->v));
    args->v[args->n++] = s;
}

/* Starts an EVALSHA of `script` on `n_keys` keys (added next) into `args`. */
void pb_redis_args_script(pb_redis_args *args, const pb_redis_script *script, unsigned n_keys);

/* The "gen|…" of a tags hash value, or of a token's pair; false when malformed. */
bool pb_redis_tag_gen_parse(const char *text, size_t len, uint64_t *gen);

/* A token's pair as its record keeps it ("seq|gen|time"); false when malformed. */
bool pb_redis_tag_pair_parse(const char *text, size_t len, uint64_t *seq, uint64_t *gen, int64_t *time);

/*
 * One step of freeing deleted tags' pairs (tag_graves.c): for each of the
 * `n` apps, the oldest grave's next tokens. Returns the pairs (and empty
 * graves) freed: 0 when there was nothing to do.
 */
size_t pb_redis_tag_graves_step(pb_redis_session *session, const uint64_t *apps, size_t n, int64_t now, pb_pool *pool);

/* ---- The write machine (tag_write.c, tag_settle.c) ---- */

/* One tag the request touches. */
typedef struct pb_redis_tag_ref {
    pb_str tag;
    uint64_t gen;   /* 0: no such tag (or not read) */
    bool read;      /* gen is known */
    bool leased;    /* this writer holds a lease on it (tag_release gives it back) */
    bool marked;    /* a tag_mark was sent for it */
    pb_str seen;    /* for tag_release: "count|stamp" of its settle, or "-" */
    size_t cmd;     /* its command in the current round */
} pb_redis_tag_ref;

/* One change of one token's pair: a quad of tag_change. */
typedef struct pb_redis_tag_op {
    char kind;     /* 'a' add or refresh, 'r' remove */
    size_t ref;    /* into refs */
    uint64_t seq;  /* an add's seq, if new */
    size_t pair;   /* the request's item it comes from (for `at`) */
    pb_str state;  /* what the record holds after the change: seq, or "" */
} pb_redis_tag_op;

/* One token the request names, with what its record held and what changes. */
typedef struct pb_redis_tag_token {
    pb_str token;
    size_t n_entries;
    size_t *entry_refs; /* the record's pairs: their tags (into refs) */
    uint64_t *entry_gens;
    pb_redis_tag_op *ops;
    size_t n_ops, undo_from;
    bool read, changed, unknown, kept, over;
    uint64_t version;
    size_t over_op;
    size_t cmd;
} pb_redis_tag_token;

typedef enum pb_redis_tag_step {
    PB_REDIS_TAG_BEGIN,  /* the app's tags (gens, leases) and the tokens' records */
    PB_REDIS_TAG_GENS,   /* the gens of the records' other tags */
    PB_REDIS_TAG_MARK,   /* marks and reservations on the tags */
    PB_REDIS_TAG_CHANGE, /* the token scripts */
    PB_REDIS_TAG_UNDO,   /* a token refused under a race: the others' adds taken back */
    PB_REDIS_TAG_SETTLE, /* the indexes set to what the records say */
} pb_redis_tag_step;

struct pb_redis_tagger {
    pb_tag_write *write;
    pb_redis_tag_step step;
    pb_redis_tag_ref *refs;
    size_t n_refs, n_request_refs;
    pb_redis_tag_token *tokens;
    size_t n_tokens;
    uint64_t last_seq; /* tag_begin's: the request's seqs end there */
    uint64_t n_seqs;
};

/* A machine (apply_machine.h) for one tag request of app `access_id`. */
pb_redis_applier *pb_redis_tag_applier_new(pb_redis_session *session, pb_redis_conn *map, pb_pool *pool,
                                           uint64_t access_id, pb_tag_write *write);

/* The tag steps' halves, called by the machine in its PB_REDIS_STEP_TAG. */
bool pb_redis_tag_prepare(pb_redis_applier *a);
void pb_redis_tag_judge(pb_redis_applier *a);

/*
 * A round of one script per tag on its index and marks (KEYS), ARGV now, then
 * what `add` appends for each op on that tag: for every token, or when
 * `settling` only on the tags marked and of the tokens whose change's outcome
 * is known. Sets each ref's cmd (SIZE_MAX: none); false, opening no round,
 * when no tag has one.
 */
typedef void pb_redis_tag_op_args(pb_redis_applier *a, pb_redis_args *args, const pb_redis_tag_token *tok,
                                  const pb_redis_tag_op *op);
bool pb_redis_tag_round_per_tag(pb_redis_applier *a, const pb_redis_script *script, bool settling,
                                 pb_redis_tag_op_args *add);

/* tag_settle.c: the change, undo and settle steps, and the end (releases, then the machine's final round). */
bool pb_redis_tag_change_prepare(pb_redis_applier *a, bool undo);
void pb_redis_tag_change_judge(pb_redis_applier *a, bool undo);
bool pb_redis_tag_settle_prepare(pb_redis_applier *a);
void pb_redis_tag_settle_judge(pb_redis_applier *a);
void pb_redis_tag_finish(pb_redis_applier *a);

#endif
