/*
 * yajl_alloc.h — yajl's memory from the request pool (codec-internal).
 *
 * With these functions yajl's own allocations (parser, generator, buffers)
 * come from the pool too, so no path, error paths included, has anything to
 * free: the pool releases it all when the request ends.
 */
#ifndef PB_YAJL_ALLOC_H
#define PB_YAJL_ALLOC_H

#include <yajl/yajl_common.h>

#include "common/pool.h"

/* Allocation functions for yajl_alloc() / yajl_gen_alloc() backed by `pool`. */
yajl_alloc_funcs pb_yajl_pool_funcs(pb_pool *pool);

#endif
