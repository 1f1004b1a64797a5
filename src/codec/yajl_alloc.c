#include <stddef.h>
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

static void *pool_malloc(void *ctx, size_t size)
{
    block_header *header = pb_pool_alloc(ctx, sizeof(*header) + size);
    header->size = size;
    return header + 1;
}

static void *pool_realloc(void *ctx, void *ptr, size_t size)
{
    if (ptr == NULL)
        return pool_malloc(ctx, size);
    block_header *old = (block_header *)ptr - 1;
    if (size <= old->size)
        return ptr;
    void *bigger = pool_malloc(ctx, size);
    memcpy(bigger, ptr, old->size);
    return bigger;
}

static void pool_free(void *ctx, void *ptr)
{
    /* The pool releases everything when the request ends. */
}

yajl_alloc_funcs pb_yajl_pool_funcs(pb_pool *pool)
{
    return (yajl_alloc_funcs){pool_malloc, pool_realloc, pool_free, pool};
}
