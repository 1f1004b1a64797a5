/*
 * store/redis/scripts.h — the Lua scripts every session of the Redis backend
 * runs; their bodies and contracts are in scripts.c. Private to store/redis/.
 */
#ifndef PB_STORE_REDIS_SCRIPTS_H
#define PB_STORE_REDIS_SCRIPTS_H

#include "store/redis/net/cluster.h"

typedef struct pb_redis_scripts {
    pb_redis_script begin_batch;  /* app exists? then reserve seqs */
    pb_redis_script reserve;      /* add an index member within the account limit */
    pb_redis_script change;       /* change a token's record and details atomically */
    pb_redis_script rescore;      /* move or drop expiry index entries unless a writer moved them */
    pb_redis_script app_put;      /* create or update an app */
    pb_redis_script key_put;      /* add a named key to an app */
    pb_redis_script mark_indexed; /* an app's tokens all have expiry index entries (backfill.c) */
} pb_redis_scripts;

/* Fills in each script's body and SHA1. */
void pb_redis_scripts_init(pb_redis_scripts *scripts);

#endif
