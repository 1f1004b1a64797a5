/*
 * store/redis/sweeper.h — deleting expired bindings (--binding-ttl): the
 * change script's 'e' mode on a set of tokens, and the store's sweeper thread
 * that runs it on what the expiry index says is due (sweeper.c), after
 * walking apps written without a TTL (backfill.c). Private to store/redis/.
 */
#ifndef PB_STORE_REDIS_SWEEPER_H
#define PB_STORE_REDIS_SWEEPER_H

#include "store/redis/handles.h"

/*
 * The two halves of pb_redis_expire_tokens(), for a caller that carries the
 * rounds itself (apply_wave.c): the change script's 'e' mode on each of `n`
 * tokens into cmds[0..n-1]; then, from their replies, earliest[] (when not
 * NULL, as below) and the round that follows (*cleanup from `pool`: the
 * index members of what went and the count's HINCRBY). The judge counts the
 * bindings deleted in pushbind_bindings_expired_total and returns them.
 */
void pb_redis_expire_cmds(pb_redis_cmd *cmds, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                          const pb_str *tokens, size_t n, int64_t now);
size_t pb_redis_expire_judge(pb_redis_conn *conn, const pb_redis_store *store, uint64_t access_id,
                             const pb_str *tokens, const pb_redis_cmd *cmds, size_t n, pb_pool *pool,
                             int64_t *earliest, pb_redis_cmd **cleanup, size_t *n_cleanup);

/*
 * Deletes the expired bindings of `n` tokens of app `access_id` (the change
 * script's 'e' mode), then their account index members and their count, in
 * two pipelined rounds; counted in pushbind_bindings_expired_total. When
 * `earliest` is not NULL, earliest[i] gets token i's earliest last_bind_time
 * left (0: no binding left; -1: its script failed). Returns the bindings
 * deleted. Uses the session's connection and `pool`.
 */
uint64_t pb_redis_expire_tokens(pb_redis_session *session, uint64_t access_id, const pb_str *tokens, size_t n,
                                int64_t now, pb_pool *pool, int64_t *earliest);

/*
 * For each of `n` apps whose token records may lack expiry index entries
 * (written without a TTL since its last walk), walks its token records on
 * every primary with `scanner`'s connections (SCAN, a page at a time),
 * deletes their expired bindings and gives every token left an entry, with
 * `session`'s; then marks the app walked unless a batch without a TTL came
 * meanwhile (backfill.c). stop(stop_arg) is asked between pages; a stopped
 * walk starts over next time. Returns the entries added.
 */
size_t pb_redis_backfill(pb_redis_session *session, pb_redis_session *scanner, const uint64_t *apps, size_t n,
                         int64_t now, bool (*stop)(void *arg), void *stop_arg);

/*
 * Starts the thread that deletes, in the background, expired bindings (with
 * a TTL) and the pairs of deleted tags (tag_graves.c); NULL when it cannot.
 */
pb_redis_sweeper *pb_redis_sweeper_start(pb_redis_store *store);
void pb_redis_sweeper_stop(pb_redis_sweeper *sweeper);

#endif
