/*
 * load_write.c — pb_import_side_write(): one side of an import chunk
 * into LMDB, in key order.
 *
 * Bindings go to LMDB in blocks: a gatherer thread builds the keys and dups
 * of each block (reading the items at random, in key order) while the
 * calling thread puts the blocks before it, so that LMDB's thread never
 * waits for memory. A block's records fit in the L2 cache; GATHER_AHEAD
 * blocks are in flight.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "store/lmdb/load.h"

#define WRITE_BLOCK 512
#define GATHER_AHEAD 4

struct write_block {
    size_t count;
    MDB_val keys[WRITE_BLOCK], dups[WRITE_BLOCK];
    unsigned char bytes[WRITE_BLOCK * 2 * PB_LMDB_KEY_BUF];
};

/* One side's bindings on their way from the sorted entries to LMDB. */
struct gather {
    const pb_import_side *side;
    const pb_import_entry *entries;
    size_t n, next; /* entries[next..] are not gathered yet */
    struct write_block *blocks; /* GATHER_AHEAD of them, used in turn */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t filled, emptied; /* blocks so far; filled - emptied are waiting to be put */
    bool finished;          /* the gatherer has gathered every entry */
    bool stop;              /* the writer stopped putting */
};

/* Builds the records of the next entries into `block` until it is full. */
static void gather_block(struct gather *g, struct write_block *block)
{
    const pb_import_side *side = g->side;
    const pb_import_entry *entries = g->entries;
    size_t count = 0, used = 0;
    for (; g->next < g->n && count < WRITE_BLOCK; g->next++) {
        size_t i = g->next;
        if (i + PB_IMPORT_PREFETCH_ITEM < g->n)
            __builtin_prefetch(&side->seqs[entries[i + PB_IMPORT_PREFETCH_ITEM].index]);
        pb_import_prefetch(side->items, entries, g->n, i);
        uint64_t seq = side->seqs[entries[i].index];
        if (seq == PB_IMPORT_NOT_BOUND)
            continue;
        const pb_import_item *item = &side->items[entries[i].index];
        unsigned char *key = block->bytes + used; /* packed: the block stays small in cache */
        size_t key_len, dup_len;
        if (!side->account_side) {
            key_len = token_key(key, side->access_id, item->token);
            struct binding_info info = import_info(&item->times, item->platform, side->now);
            dup_len = account_dup(key + key_len, seq, &info, &item->account);
        } else {
            key_len = account_key(key, side->access_id, &item->account);
            dup_len = token_dup(key + key_len, seq, item->token);
        }
        block->keys[count] = (MDB_val){key_len, key};
        block->dups[count++] = (MDB_val){dup_len, key + key_len};
        used += key_len + dup_len;
    }
    block->count = count;
}

static void *gatherer_main(void *arg)
{
    struct gather *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop && g->next < g->n) {
        if (g->filled - g->emptied == GATHER_AHEAD) {
            pthread_cond_wait(&g->changed, &g->lock);
            continue;
        }
        struct write_block *block = &g->blocks[g->filled % GATHER_AHEAD];
        pthread_mutex_unlock(&g->lock);
        gather_block(g, block);
        pthread_mutex_lock(&g->lock);
        g->filled++;
        pthread_cond_broadcast(&g->changed);
    }
    g->finished = true;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* The next block to put, or NULL when every entry has been put. */
static struct write_block *next_full_block(struct gather *g, bool threaded)
{
    if (!threaded) {
        if (g->next == g->n)
            return NULL;
        gather_block(g, &g->blocks[0]);
        return &g->blocks[0];
    }
    pthread_mutex_lock(&g->lock);
    while (g->filled == g->emptied && !g->finished)
        pthread_cond_wait(&g->changed, &g->lock);
    struct write_block *block = g->filled == g->emptied ? NULL : &g->blocks[g->emptied % GATHER_AHEAD];
    pthread_mutex_unlock(&g->lock);
    return block;
}

static void block_done(struct gather *g, bool threaded)
{
    if (!threaded)
        return;
    pthread_mutex_lock(&g->lock);
    g->emptied++;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

static bool key_eq(const MDB_val *a, const void *b, size_t b_len)
{
    return a->mv_size == b_len && memcmp(a->mv_data, b, b_len) == 0;
}

/*
 * In append mode LMDB is told every put is an append (MDB_APPEND;
 * MDB_APPENDDUP for a key's further dups, whose seqs rise): it then skips the
 * search and fills pages instead of splitting them.
 */
int pb_import_side_write(const pb_import_side *side, const pb_import_entry *entries, size_t n, bool parallel)
{
    struct gather g = {.side = side, .entries = entries, .n = n};
    unsigned char last_key[PB_LMDB_KEY_BUF];
    size_t last_key_len = 0;
    if ((g.blocks = malloc(GATHER_AHEAD * sizeof(*g.blocks))) == NULL)
        return ENOMEM;
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.changed, NULL);
    pthread_t gatherer;
    bool threaded = parallel && pthread_create(&gatherer, NULL, gatherer_main, &g) == 0;
    int rc = 0;
    struct write_block *block;
    while (rc == 0 && (block = next_full_block(&g, threaded)) != NULL) {
        for (size_t i = 0; rc == 0 && i < block->count; i++) {
            bool same = i == 0 ? key_eq(&block->keys[0], last_key, last_key_len)
                               : key_eq(&block->keys[i], block->keys[i - 1].mv_data, block->keys[i - 1].mv_size);
            unsigned flags = !side->append ? 0 : same ? MDB_APPENDDUP : MDB_APPEND;
            rc = mdb_cursor_put(side->cursor, &block->keys[i], &block->dups[i], flags);
        }
        atomic_fetch_add_explicit(side->written, block->count, memory_order_relaxed);
        if (block->count != 0) {
            last_key_len = block->keys[block->count - 1].mv_size;
            memcpy(last_key, block->keys[block->count - 1].mv_data, last_key_len);
        }
        block_done(&g, threaded);
    }
    if (threaded) {
        pthread_mutex_lock(&g.lock);
        g.stop = true;
        pthread_cond_broadcast(&g.changed);
        pthread_mutex_unlock(&g.lock);
        pthread_join(gatherer, NULL);
    }
    pthread_cond_destroy(&g.changed);
    pthread_mutex_destroy(&g.lock);
    free(g.blocks);
    return rc;
}
