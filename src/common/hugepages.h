/*
 * hugepages.h — asking for transparent huge pages for large arrays read at
 * random (the bulk import's chunk, read in key order). On 4 KiB pages nearly
 * every such read also misses the TLB. Where the kernel gives huge pages on
 * request only (transparent_hugepage=madvise, Debian's default) this asks;
 * elsewhere it does nothing. Advice only: it never fails the caller.
 */
#ifndef PB_HUGEPAGES_H
#define PB_HUGEPAGES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

static inline void pb_want_huge_pages(void *p, size_t len)
{
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)4095;
    madvise((void *)start, len + ((uintptr_t)p - start), MADV_HUGEPAGE);
}

#endif
