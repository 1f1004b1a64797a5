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
    /* Tags (tag_scripts.c): */
    pb_redis_script tag_begin;   /* the app's tags: exist? gens, leases, the distinct-tags limit, deletes */
    pb_redis_script tag_mark;    /* a tag's pairs about to change: marked, adds reserved in its index */
    pb_redis_script tag_change;  /* a token's tags (and, invalidating, its bindings) changed atomically */
    pb_redis_script tag_settle;  /* a tag's index set to what the records said, marks dropped */
    pb_redis_script tag_release; /* leases given back; a tag left empty leaves the app */
    pb_redis_script tag_forget;  /* a token's pair of a deleted tag's gen, freed (tag_graves.c) */
    pb_redis_script tag_page;    /* a page of the app's tags in byte order, with their gens (reads only) */
} pb_redis_scripts;

/* Fills in each script's body and SHA1. */
void pb_redis_scripts_init(pb_redis_scripts *scripts);

/* Fills in `script` from `body` (kept, not copied) and its SHA1. */
void pb_redis_script_init(pb_redis_script *script, const char *body);

/* The tag scripts' part of pb_redis_scripts_init() (tag_scripts.c). */
void pb_redis_tag_scripts_init(pb_redis_scripts *scripts);

#endif
