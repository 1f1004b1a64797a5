/*
 * store/redis/lookup.h — the Redis backend's lookups (an app's secret and
 * record, bindings by token and by account) as commands to send and replies
 * to read, shared by their two carriers: the blocking calls of lookup.c
 * (pb_redis_run()) and the loop's lookups of lookup_loop.c (pb_redis_arun()).
 * Private to store/redis/.
 *
 * Each *_cmd(s) function builds commands in `pool`; each parse reads their
 * replies once a carrier ran them, returning 0 or a PB_STORE_* code (the
 * message in conn->error), what it fills in `pool`.
 */
#ifndef PB_STORE_REDIS_LOOKUP_H
#define PB_STORE_REDIS_LOOKUP_H

#include "store/redis/handles.h"

/* One index member awaiting confirmation by its token's record. */
typedef struct pb_redis_candidate {
    size_t account; /* which input account */
    uint64_t seq;
    pb_str token;
} pb_redis_candidate;

/*
 * The second round of a lookup by account: checks[k] confirms candidates[k];
 * with details, checks[n + k] reads its times and its token's platform.
 */
typedef struct pb_redis_candidates {
    pb_redis_candidate *candidates;
    pb_redis_cmd *checks;
    size_t n, n_checks;
} pb_redis_candidates;

/*
 * What a list lookup reads besides the lists: details (times and platform:
 * for with_info, and with a TTL to hide what has expired) and the clock that
 * judges expiry.
 */
typedef struct pb_redis_read {
    bool details, with_info;
    int64_t now;
} pb_redis_read;

/* What `with_info` asks of a lookup on `store`, the clock read now. */
pb_redis_read pb_redis_read_of(const pb_redis_store *store, bool with_info);

/* HGETALL of the app's record: its secret and named keys; the parse returns what pb_redis_app_secret() does. */
void pb_redis_secret_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store, uint64_t access_id);
int pb_redis_secret_parse(pb_redis_conn *conn, const pb_redis_cmd *cmd, pb_pool *pool, pb_str *secret, pb_str *keys);

/* HMGET of the app's created time and count; the parse returns what pb_redis_app_of() does. */
void pb_redis_app_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store, uint64_t access_id);
int pb_redis_app_parse(pb_redis_conn *conn, const pb_redis_cmd *cmd, uint64_t access_id, pb_app_info *app);

/*
 * By token: one command per token, two with details (cmds has n * (1 +
 * details) room); the parse fills out[0..n-1] (0 or PB_STORE_EIO).
 */
void pb_redis_accounts_cmds(pb_redis_cmd *cmds, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                            const pb_str *tokens, size_t n, const pb_redis_read *how);
int pb_redis_accounts_parse(pb_redis_conn *conn, const pb_redis_store *store, const pb_redis_cmd *cmds, size_t n,
                            const pb_redis_read *how, pb_pool *pool, pb_account_list *out);

/* By account: the indexes (first round), their checks (second round), then the lists. */
void pb_redis_tokens_cmds(pb_redis_cmd *cmds, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                          const pb_account *accounts, size_t n);
int pb_redis_tokens_checks(pb_redis_conn *conn, const pb_redis_store *store, uint64_t access_id,
                           const pb_account *accounts, const pb_redis_cmd *cmds, size_t n, const pb_redis_read *how,
                           pb_pool *pool, pb_redis_candidates *out);
int pb_redis_tokens_parse(pb_redis_conn *conn, const pb_redis_store *store, const pb_redis_cmd *cmds, size_t n,
                          const pb_redis_candidates *found, const pb_redis_read *how, pb_pool *pool,
                          pb_token_list *out);

#endif
