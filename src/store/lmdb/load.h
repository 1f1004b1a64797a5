/*
 * store/lmdb/load.h — the pieces of the bulk import (load.c, which
 * decides a chunk's outcomes): a chunk's items sorted by one side's key in
 * the order LMDB keeps keys (load_sort.c), and one side's new
 * bindings written in that order (load_write.c). Private to store/lmdb/.
 *
 * Sorted by key, the items are read at random in memory: in a chunk of
 * millions each such read is a cache miss. So an entry carries the first 16
 * bytes of its key, and most comparisons never reach the item; and the loops
 * over sorted entries fetch the items they will read ahead of time.
 */
#ifndef PB_STORE_LMDB_IMPORT_H
#define PB_STORE_LMDB_IMPORT_H

#include <lmdb.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "store/lmdb/keys.h"
#include "store/lmdb/tools.h"

/* One item in a sort by key: (type, name) for accounts, (0, token) for tokens. */
typedef struct pb_import_entry {
    uint64_t head[2]; /* bytes 0–15, big-endian, zero-padded */
    uint32_t len;
    uint32_t type;
    uint32_t index;   /* into items: ties keep item order */
    uint32_t outcome; /* pb_import_outcome, as decided so far; PB_IMPORT_BOUND at first */
} pb_import_entry;

#define PB_IMPORT_ENTRY_HEAD 16

/* Where the sorted bytes of entries are: the token or the account name of their item. */
typedef struct pb_import_sort_context {
    const pb_import_item *items;
    bool by_account;
} pb_import_sort_context;

/* The entry of items[index], whose sorted bytes are `bytes`. */
static inline pb_import_entry pb_import_entry_of(pb_str bytes, uint32_t type, size_t index)
{
    unsigned char head[PB_IMPORT_ENTRY_HEAD] = {0};
    memcpy(head, bytes.base, bytes.len < PB_IMPORT_ENTRY_HEAD ? bytes.len : PB_IMPORT_ENTRY_HEAD);
    return (pb_import_entry){{be64_get(head), be64_get(head + 8)}, (uint32_t)bytes.len, type, (uint32_t)index,
                             PB_IMPORT_BOUND};
}

static inline const char *pb_import_entry_bytes(const pb_import_sort_context *ctx, const pb_import_entry *e)
{
    const pb_import_item *item = &ctx->items[e->index];
    return ctx->by_account ? item->account.name.base : item->token.base;
}

/* Compares the bytes after the head up to the shorter length. */
static inline int pb_import_compare_tails(const pb_import_sort_context *ctx, const pb_import_entry *a,
                                          const pb_import_entry *b)
{
    uint32_t len = a->len < b->len ? a->len : b->len;
    if (len <= PB_IMPORT_ENTRY_HEAD)
        return 0;
    return memcmp(pb_import_entry_bytes(ctx, a) + PB_IMPORT_ENTRY_HEAD,
                  pb_import_entry_bytes(ctx, b) + PB_IMPORT_ENTRY_HEAD, len - PB_IMPORT_ENTRY_HEAD);
}

/* Whether two entries have the same key (they may be different items). */
static inline bool pb_import_same_key(const pb_import_sort_context *ctx, const pb_import_entry *a,
                                      const pb_import_entry *b)
{
    return a->type == b->type && a->len == b->len && a->head[0] == b->head[0] && a->head[1] == b->head[1] &&
           pb_import_compare_tails(ctx, a, b) == 0;
}

/*
 * Sorts entries[0..n-1] by key in LMDB's default order (bytes, then length),
 * then by item order. In place, on the calling thread; allocates nothing.
 */
void pb_import_sort(pb_import_entry *entries, size_t n, const pb_import_sort_context *ctx);

/*
 * How far ahead of a loop over sorted entries the items and their strings are
 * fetched: at entries[i], those of entries[i + PB_IMPORT_PREFETCH_ITEM] and
 * the strings of entries[i + PB_IMPORT_PREFETCH_TEXT] (whose item came
 * earlier). Loops that only gather keep many fetches in flight at once.
 */
#define PB_IMPORT_PREFETCH_ITEM 32
#define PB_IMPORT_PREFETCH_TEXT 16

static inline void pb_import_prefetch(const pb_import_item *items, const pb_import_entry *entries, size_t n, size_t i)
{
    if (i + PB_IMPORT_PREFETCH_ITEM < n)
        __builtin_prefetch(&items[entries[i + PB_IMPORT_PREFETCH_ITEM].index]);
    if (i + PB_IMPORT_PREFETCH_TEXT < n) {
        const pb_import_item *item = &items[entries[i + PB_IMPORT_PREFETCH_TEXT].index];
        __builtin_prefetch(item->token.base);
        __builtin_prefetch(item->account.name.base);
    }
}

/* No seq: the item is not bound by this chunk. */
#define PB_IMPORT_NOT_BOUND UINT64_MAX

/* One side of a chunk on its way to LMDB. */
typedef struct pb_import_side {
    MDB_cursor *cursor;          /* on the side's database, in the chunk's write transaction */
    bool account_side;           /* the accounts database; else the tokens database */
    bool append;                 /* every key sorts after the database's last one */
    uint64_t access_id;
    const pb_import_item *items;
    const uint64_t *seqs;        /* per item: its new binding's seq, or PB_IMPORT_NOT_BOUND */
    int64_t now;                 /* the time of a binding whose item gives none */
    _Atomic uint64_t *written;   /* advanced by the records put, a block at a time */
} pb_import_side;

/*
 * Puts the bindings of entries[0..n-1] (sorted by this side's key) whose item
 * has a seq, in entry order. With `parallel`, a second thread builds the keys
 * and dups while this one puts them (when it cannot start, this thread does
 * both). Returns 0, an LMDB error, or ENOMEM; the transaction is then to be
 * aborted.
 */
int pb_import_side_write(const pb_import_side *side, const pb_import_entry *entries, size_t n, bool parallel);

#endif
