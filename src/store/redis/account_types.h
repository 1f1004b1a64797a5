/*
 * store/redis/account_types.h — the account types an app uses (P:types:{A}),
 * read by both lookup carriers and recorded for bindings written before the
 * sets existed (account_types.c says how). Private to store/redis/.
 */
#ifndef PB_STORE_REDIS_ACCOUNT_TYPES_H
#define PB_STORE_REDIS_ACCOUNT_TYPES_H

#include "store/redis/handles.h"

/*
 * SMEMBERS of the app's types; the parse sorts them into *types (from
 * `pool`), the `max` smallest (0: all): 0 or PB_STORE_EIO.
 */
void pb_redis_types_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store, uint64_t access_id);
int pb_redis_types_parse(pb_redis_conn *conn, const pb_redis_cmd *cmd, size_t max, pb_pool *pool, uint32_t **types,
                         size_t *n);

/*
 * Unless the namespace has its P:types-indexed mark: SCANs every primary for
 * the account indexes, adds each one's type to its app's set, then sets the
 * mark. Returns 0 (done now or before) or -1 (conn->error says why; the
 * mark is not set, so the next open tries again).
 */
int pb_redis_types_backfill(pb_redis_conn *conn, const pb_redis_store *store);

#endif
