/*
 * yajl_alloc.h — yajl's memory for one parse or one generated text
 * (codec-internal).
 *
 * Blocks come from an arena on the caller's stack first and from the request
 * pool once it is full, so no path, error paths included, has anything to
 * free: the arena goes with the caller's frame and the pool releases the rest
 * when the request ends. The arena must outlive the yajl handle, and nothing
 * yajl allocated may be kept past it (the decoder copies what it keeps from
 * yajl's buffers into the pool).
 *
 * Why an arena: yajl asks for a handful of small blocks and, at the end of
 * every parse, a 2 KiB lexer buffer it writes a byte of. h2o's pool gives a
 * block past 1 KiB its own malloc() and free(), which cost more than the rest
 * of yajl's allocations together.
 */
#ifndef PB_YAJL_ALLOC_H
#define PB_YAJL_ALLOC_H

#include <stddef.h>

#include <yajl/yajl_common.h>

#include "common/pool.h"

/* Room for a parser's or a generator's blocks, the lexer's buffer included. */
#define PB_YAJL_ARENA_BYTES 4096

typedef struct pb_yajl_arena {
    pb_pool *pool;
    size_t used;
    _Alignas(max_align_t) unsigned char bytes[PB_YAJL_ARENA_BYTES];
} pb_yajl_arena;

/* Allocation functions for yajl_alloc() / yajl_gen_alloc() from `arena`, then `pool`. */
yajl_alloc_funcs pb_yajl_arena_funcs(pb_yajl_arena *arena, pb_pool *pool);

#endif
