/*
 * store/redis/app_records.h — the app list in two rounds, shared by `app
 * list` (app_records.c, blocking) and the loop's APPS lookup
 * (lookup_loop.c). Private to store/redis/.
 *
 * The first round is the SMEMBERS of the apps set. From its reply, the
 * second: one pb_redis_app_cmd() per listed id, ids increasing, into *round
 * from `pool` (0, or PB_STORE_EIO with round->n 0). From the second's
 * replies, the apps that have a record, in that order, into *apps from
 * `pool` (0 or PB_STORE_EIO).
 */
#ifndef PB_STORE_REDIS_APP_RECORDS_H
#define PB_STORE_REDIS_APP_RECORDS_H

#include "store/redis/handles.h"

typedef struct pb_redis_app_round {
    uint64_t *ids;
    pb_redis_cmd *cmds; /* cmds[i] reads the record of ids[i] */
    size_t n;
} pb_redis_app_round;

void pb_redis_apps_members_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store);
int pb_redis_apps_records_cmds(pb_redis_conn *conn, const pb_redis_cmd *members, pb_pool *pool,
                               const pb_redis_store *store, pb_redis_app_round *round);
int pb_redis_apps_records_parse(pb_redis_conn *conn, const pb_redis_app_round *round, pb_pool *pool,
                                pb_app_info **apps, size_t *n_apps);

#endif
