/*
 * pb_pool: the per-request memory pool.
 *
 * Everything a request needs (decoded lists, store results, the encoded
 * answer) is allocated here and released at once when the request ends; code
 * that takes a pb_pool never frees what it allocated from it. The pool is
 * h2o's: in the server it is the request's own `req->pool`, in tests and
 * command-line tools a pool the caller initialises and clears.
 */
#ifndef PB_POOL_H
#define PB_POOL_H

#define H2O_USE_LIBUV 0
#include <h2o/memory.h>

#include "common/str.h"

typedef h2o_mem_pool_t pb_pool;

static inline void pb_pool_init(pb_pool *pool)
{
    h2o_mem_init_pool(pool);
}

/* Releases everything allocated from the pool; the pool can be reused. */
static inline void pb_pool_clear(pb_pool *pool)
{
    h2o_mem_clear_pool(pool);
}

/* Never returns NULL: h2o aborts the process when memory is exhausted. */
static inline void *pb_pool_alloc(pb_pool *pool, size_t size)
{
    return h2o_mem_alloc_pool(pool, size == 0 ? 1 : size);
}

/* Copies `s` into the pool. */
static inline pb_str pb_pool_strdup(pb_pool *pool, pb_str s)
{
    char *copy = pb_pool_alloc(pool, s.len);
    if (s.len != 0)
        memcpy(copy, s.base, s.len);
    return (pb_str){copy, s.len};
}

#endif
