/*
 * arena.h — a bump allocator over the caller's bytes, for a library's
 * short-lived blocks (yajl's parser state) that would
 * otherwise be a malloc() each, or worse: h2o's pool gives a block over
 * 1 KiB its own malloc() and free().
 *
 * The three functions have the shapes of yajl's yajl_alloc_funcs, so a
 * caller hands them over as they are:
 *
 *     max_align_t bytes[PB_ARENA_YAJL_BYTES / sizeof(max_align_t)];
 *     pb_arena arena;
 *     pb_arena_init(&arena, bytes, sizeof(bytes), pool);
 *     yajl_alloc_funcs funcs = {pb_arena_malloc, pb_arena_realloc, pb_arena_free, &arena};
 *
 * Blocks are carved from `bytes` in order; once they are used up, blocks
 * come from `overflow` (a request pool, released with it) or, when that is
 * NULL, from malloc() (given back by pb_arena_free(), as yajl does before its
 * handle goes). Nothing carved from `bytes` is ever freed: the arena is good
 * for one parse or one generated text, and must outlive every block of it;
 * pb_arena_init() starts it over. Like malloc(), every block is aligned for
 * any type. pb_arena_malloc() returns NULL only when malloc() does (a pool
 * aborts instead).
 */
#ifndef PB_ARENA_H
#define PB_ARENA_H

#include <stddef.h>

#include "common/pool.h"

/* Room for the blocks of one yajl parser, its lexer's 2 KiB buffer included. */
#define PB_ARENA_YAJL_BYTES 4096

typedef struct pb_arena {
    unsigned char *bytes;
    size_t size, used;
    pb_pool *overflow;
} pb_arena;

/* `bytes` must be aligned as max_align_t (an array of it is). */
void pb_arena_init(pb_arena *arena, void *bytes, size_t size, pb_pool *overflow);

void *pb_arena_malloc(void *arena, size_t size);
void *pb_arena_realloc(void *arena, void *ptr, size_t size);
void pb_arena_free(void *arena, void *ptr);

#endif
