/*
 * load_sort.c — pb_import_sort(): the bulk import's sort by key.
 */
#include "store/lmdb/load.h"

/* LMDB's default order (bytes, then length), then item order. Zero padding
 * keeps the byte order because no valid token or account holds a NUL. */
static inline int compare_entries(const pb_import_entry *a, const pb_import_entry *b,
                                  const pb_import_sort_context *ctx)
{
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    for (int i = 0; i < 2; i++)
        if (a->head[i] != b->head[i])
            return a->head[i] < b->head[i] ? -1 : 1;
    if (a->index == b->index) /* an entry against itself (the pivot): spares reading its item */
        return 0;
    int c = pb_import_compare_tails(ctx, a, b);
    if (c != 0)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Below this many entries a partition is finished by insertion sort. */
#define SORT_SMALL 16

static inline void swap_entries(pb_import_entry *a, pb_import_entry *b)
{
    pb_import_entry t = *a;
    *a = *b;
    *b = t;
}

/*
 * Quicksort (median of three, Hoare partition, recursion on the smaller side)
 * with the comparison inlined and entries moved as values: qsort() spends most
 * of a large chunk's time in calls and memmove of 32-byte elements. Entries
 * are all distinct (the index breaks ties), which the partition relies on.
 */
void pb_import_sort(pb_import_entry *a, size_t n, const pb_import_sort_context *ctx)
{
    while (n > SORT_SMALL) {
        size_t mid = n / 2;
        if (compare_entries(&a[mid], &a[0], ctx) < 0)
            swap_entries(&a[mid], &a[0]);
        if (compare_entries(&a[n - 1], &a[0], ctx) < 0)
            swap_entries(&a[n - 1], &a[0]);
        if (compare_entries(&a[n - 1], &a[mid], ctx) < 0)
            swap_entries(&a[n - 1], &a[mid]);
        pb_import_entry pivot = a[mid];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (compare_entries(&a[i], &pivot, ctx) < 0)
                i++;
            while (compare_entries(&pivot, &a[j], ctx) < 0)
                j--;
            if (i >= j)
                break;
            swap_entries(&a[i++], &a[j--]);
        }
        size_t left = j + 1; /* a[0..j] <= pivot <= a[j+1..n-1] */
        if (left < n - left) {
            pb_import_sort(a, left, ctx);
            a += left;
            n -= left;
        } else {
            pb_import_sort(a + left, n - left, ctx);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        pb_import_entry e = a[i];
        size_t j = i;
        for (; j > 0 && compare_entries(&e, &a[j - 1], ctx) < 0; j--)
            a[j] = a[j - 1];
        a[j] = e;
    }
}
