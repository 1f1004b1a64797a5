#include <stdalign.h>
#include <stdbool.h>
#include <string.h>

#include "codec/yajl_alloc.h"

/*
 * realloc must copy, so it must know the old size: each block carries it in
 * a header the size of max_align_t, which keeps the block as aligned as the
 * pool made it.
 */
typedef union block_header {
    size_t size;
    max_align_t align;
} block_header;

/* `size` rounded up so that the next block stays aligned. */
static size_t block_span(size_t size)
{
    return sizeof(block_header) + (size + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t);
}

static void *arena_malloc(void *ctx, size_t size)
{
    pb_yajl_arena *arena = ctx;
    block_header *header;
    size_t span = block_span(size);
    if (span <= sizeof(arena->bytes) - arena->used) {
        header = (block_header *)(arena->bytes + arena->used);
        arena->used += span;
    } else {
        header = pb_pool_alloc(arena->pool, sizeof(*header) + size);
    }
    header->size = size;
    return header + 1;
}

/* Whether `header` is the arena's newest block, which can grow in place. */
static bool is_newest(const pb_yajl_arena *arena, const block_header *header)
{
    const unsigned char *at = (const unsigned char *)header;
    return at >= arena->bytes && at < arena->bytes + arena->used &&
           at + block_span(header->size) == arena->bytes + arena->used;
}

static void *arena_realloc(void *ctx, void *ptr, size_t size)
{
    pb_yajl_arena *arena = ctx;
    if (ptr == NULL)
        return arena_malloc(ctx, size);
    block_header *old = (block_header *)ptr - 1;
    if (size <= old->size)
        return ptr;
    if (is_newest(arena, old)) {
        size_t start = (size_t)((unsigned char *)old - arena->bytes);
        if (block_span(size) <= sizeof(arena->bytes) - start) {
            arena->used = start + block_span(size);
            old->size = size;
            return ptr;
        }
    }
    void *bigger = arena_malloc(ctx, size);
    memcpy(bigger, ptr, old->size);
    return bigger;
}

static void arena_free(void *ctx, void *ptr)
{
    /* The arena goes with its caller's frame, the pool when the request ends. */
}

yajl_alloc_funcs pb_yajl_arena_funcs(pb_yajl_arena *arena, pb_pool *pool)
{
    arena->pool = pool;
    arena->used = 0;
    return (yajl_alloc_funcs){arena_malloc, arena_realloc, arena_free, arena};
}
