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

/*
 * Makes room for element `n` of a pool array that holds `n` elements of
 * `size` bytes and returns the array, moved when it had to grow. The
 * capacity is implied rather than stored: 4 up to 4 elements, then the next
 * power of two, so the array is full exactly when n is 0 or a power of two
 * of at least 4. A caller that empties the array (n back to 0) gets a fresh
 * one on its next element.
 */
static inline void *pb_pool_grow(pb_pool *pool, void *items, size_t n, size_t size)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return items;
    size_t capacity = n == 0 ? 4 : n * 2;
    void *bigger = pb_pool_alloc(pool, capacity * size);
    if (n != 0)
        memcpy(bigger, items, n * size);
    return bigger;
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
