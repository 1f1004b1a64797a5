#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

/*
 * realloc must copy, so it must know the old size: each block carries it in
 * a header the size of max_align_t, which keeps the block aligned.
 */
typedef union block_header {
    size_t size;
    max_align_t align;
} block_header;

/* The bytes a block of `size` takes in the arena, header included, so that the next stays aligned. */
static size_t block_span(size_t size)
{
    return sizeof(block_header) + (size + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t);
}

static bool in_arena(const pb_arena *arena, const void *p)
{
    return (uintptr_t)p >= (uintptr_t)arena->bytes && (uintptr_t)p < (uintptr_t)arena->bytes + arena->size;
}

void pb_arena_init(pb_arena *arena, void *bytes, size_t size, pb_pool *overflow)
{
    *arena = (pb_arena){bytes, size, 0, overflow};
}

void *pb_arena_malloc(void *ctx, size_t size)
{
    pb_arena *arena = ctx;
    block_header *header;
    size_t span = block_span(size);
    if (span <= arena->size - arena->used) {
        header = (block_header *)(arena->bytes + arena->used);
        arena->used += span;
    } else if (arena->overflow != NULL) {
        header = pb_pool_alloc(arena->overflow, sizeof(*header) + size);
    } else if ((header = malloc(sizeof(*header) + size)) == NULL) {
        return NULL;
    }
    header->size = size;
    return header + 1;
}

void *pb_arena_realloc(void *ctx, void *ptr, size_t size)
{
    pb_arena *arena = ctx;
    if (ptr == NULL)
        return pb_arena_malloc(ctx, size);
    block_header *old = (block_header *)ptr - 1;
    if (size <= old->size)
        return ptr;
    if (in_arena(arena, old)) {
        size_t start = (size_t)((unsigned char *)old - arena->bytes);
        /* The newest block grows in place while the arena has room. */
        if (start + block_span(old->size) == arena->used && block_span(size) <= arena->size - start) {
            arena->used = start + block_span(size);
            old->size = size;
            return ptr;
        }
    } else if (arena->overflow == NULL) {
        block_header *bigger = realloc(old, sizeof(*bigger) + size);
        if (bigger == NULL)
            return NULL;
        bigger->size = size;
        return bigger + 1;
    }
    void *bigger = pb_arena_malloc(ctx, size);
    if (bigger != NULL)
        memcpy(bigger, ptr, old->size);
    return bigger;
}

void pb_arena_free(void *ctx, void *ptr)
{
    pb_arena *arena = ctx;
    if (ptr != NULL && !in_arena(arena, ptr) && arena->overflow == NULL)
        free((block_header *)ptr - 1);
}
