/*
 * upgrade.c — a data directory written by an earlier layout, rewritten in
 * place to this one at open (store/lmdb/keys.h, meta "layout").
 *
 * Layout 1 (pushbind before bind times; no meta "layout") wrote each tokens
 * dup as seq | account_type | name. Layout 2 puts last_bind_time | bind_time
 * | platform after the seq. Nothing else differs: the accounts side, the
 * apps and their counts, the seq counter stay as they are. A binding keeps
 * its seq, so every list keeps its order; it gets the upgrade's time as both
 * of its times (the old layout never recorded one) and no platform.
 *
 * Bounded transactions, not one. LMDB refuses a write transaction that
 * dirties more than 128K pages (MDB_TXN_FULL: 512 MiB of 4 KiB pages), and
 * rewriting every tokens dup dirties every page of the tokens database: 10M
 * bindings are well over 1 GiB of them, so one transaction cannot hold the
 * upgrade of a store of that size. Each transaction here rewrites whole
 * tokens keys, PB_LMDB_UPGRADE_BATCH bindings or a little more (at most a few
 * thousand pages), and records in meta "upgrade" the last key it rewrote, in
 * the same commit. An old dup and a new one cannot be told apart by their
 * bytes, so that key is what says how far the upgrade went: every key up to
 * it is new, every key after it old. A crash between two commits leaves a
 * store whose next open (no "layout", an "upgrade") goes on after that key;
 * the last transaction records "layout" and deletes "upgrade". Two processes
 * opening the same directory at once take turns, each transaction reading
 * the progress its predecessor committed, and both see the end.
 *
 * A store part-way through is readable by no pushbind until an open finishes
 * it: an earlier binary would misread the new dups, which is why the upgrade
 * runs before the store opens for anything else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/lmdb/internal.h"
#include "store/lmdb/upgrade.h"

/* Bindings one upgrade transaction rewrites (rounded up to a whole key). */
#define PB_LMDB_UPGRADE_BATCH 100000

/* The old tokens dup: seq | account_type | name. */
#define OLD_DUP_HEAD (PB_LMDB_SEQ_LEN + PB_LMDB_TYPE_LEN)

static MDB_val meta_key(const char *name)
{
    return (MDB_val){strlen(name), (void *)name};
}

/* A key's old dups, copied out of the map before the key is rewritten. */
struct dups {
    unsigned char *bytes;
    size_t len, capacity;
    size_t *ends; /* dup i is bytes[ends[i-1]..ends[i]) */
    size_t n, n_capacity;
};

static int dups_add(struct dups *d, const MDB_val *dup)
{
    if (d->len + dup->mv_size > d->capacity) {
        size_t capacity = d->capacity == 0 ? 64 * 1024 : d->capacity;
        while (capacity < d->len + dup->mv_size)
            capacity *= 2;
        unsigned char *bytes = realloc(d->bytes, capacity);
        if (bytes == NULL)
            return ENOMEM;
        d->bytes = bytes;
        d->capacity = capacity;
    }
    if (d->n == d->n_capacity) {
        size_t n = d->n_capacity == 0 ? 1024 : 2 * d->n_capacity;
        size_t *ends = realloc(d->ends, n * sizeof(*ends));
        if (ends == NULL)
            return ENOMEM;
        d->ends = ends;
        d->n_capacity = n;
    }
    memcpy(d->bytes + d->len, dup->mv_data, dup->mv_size);
    d->len += dup->mv_size;
    d->ends[d->n++] = d->len;
    return 0;
}

/* Positions `cursor` on the first key after key[0..len-1] (len 0: the first key). */
static int next_key(MDB_cursor *cursor, const unsigned char *key, size_t len, MDB_val *k, MDB_val *v)
{
    if (len == 0)
        return mdb_cursor_get(cursor, k, v, MDB_FIRST);
    *k = (MDB_val){len, (void *)key};
    int rc = mdb_cursor_get(cursor, k, v, MDB_SET_RANGE);
    if (rc == 0 && k->mv_size == len && memcmp(k->mv_data, key, len) == 0)
        rc = mdb_cursor_get(cursor, k, v, MDB_NEXT_NODUP);
    return rc;
}

/* Rewrites the old dups of key[0..len-1], held in *d, in the new shape. */
static int rewrite_key(pb_lmdb_store *store, MDB_txn *txn, const unsigned char *key, size_t len,
                       const struct dups *d, uint32_t now)
{
    MDB_val k = {len, (void *)key};
    int rc = mdb_del(txn, store->tokens, &k, NULL);
    struct binding_info info = {now, now, PB_PLATFORM_NONE};
    for (size_t i = 0, start = 0; rc == 0 && i < d->n; start = d->ends[i++]) {
        const unsigned char *old = d->bytes + start;
        size_t size = d->ends[i] - start;
        if (size <= OLD_DUP_HEAD)
            return MDB_CORRUPTED;
        pb_account account = {{(const char *)old + OLD_DUP_HEAD, size - OLD_DUP_HEAD}, be32_get(old + PB_LMDB_SEQ_LEN)};
        if (PB_LMDB_ACCOUNT_DUP_HEAD + account.name.len > store->max_key)
            return MDB_BAD_VALSIZE; /* a name the old layout had room for and this one has not */
        unsigned char buf[PB_LMDB_KEY_BUF];
        MDB_val dup = {account_dup(buf, be64_get(old), &info, &account), buf};
        rc = mdb_put(txn, store->tokens, &k, &dup, 0);
    }
    return rc;
}

/*
 * One transaction: the keys after meta "upgrade", up to a batch, then the new
 * progress, or the layout when none were left (*finished). Another process
 * may have finished first: then nothing is written.
 */
static int upgrade_step(pb_lmdb_store *store, uint32_t now, struct dups *d, bool *finished)
{
    MDB_txn *txn;
    MDB_cursor *cursor = NULL;
    MDB_val key = meta_key("layout"), value;
    unsigned char last[PB_LMDB_KEY_BUF];
    size_t last_len = 0, rewritten = 0;
    int rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_get(txn, store->meta, &key, &value)) != MDB_NOTFOUND) {
        *finished = rc == 0;
        if (rc == 0 && (value.mv_size != 1 || *(unsigned char *)value.mv_data != PB_LMDB_LAYOUT))
            rc = MDB_VERSION_MISMATCH;
        goto done;
    }
    key = meta_key("upgrade");
    if ((rc = mdb_get(txn, store->meta, &key, &value)) == 0) {
        if (value.mv_size == 0 || value.mv_size > sizeof(last)) {
            rc = MDB_CORRUPTED;
            goto done;
        }
        memcpy(last, value.mv_data, value.mv_size);
        last_len = value.mv_size;
    } else if (rc != MDB_NOTFOUND) {
        goto done;
    }
    if ((rc = mdb_cursor_open(txn, store->tokens, &cursor)) != 0)
        goto done;
    MDB_val k, dup;
    rc = next_key(cursor, last, last_len, &k, &dup);
    while (rc == 0 && rewritten < PB_LMDB_UPGRADE_BATCH) {
        if (k.mv_size > sizeof(last)) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(last, k.mv_data, k.mv_size);
        last_len = k.mv_size;
        d->len = d->n = 0;
        do
            rc = dups_add(d, &dup);
        while (rc == 0 && (rc = mdb_cursor_get(cursor, &k, &dup, MDB_NEXT_DUP)) == 0);
        if (rc != MDB_NOTFOUND || (rc = rewrite_key(store, txn, last, last_len, d, now)) != 0)
            break;
        rewritten += d->n;
        /* The puts moved the cursor's page under it: find the next key afresh. */
        rc = next_key(cursor, last, last_len, &k, &dup);
    }
    if (rc == MDB_NOTFOUND) {
        unsigned char layout = PB_LMDB_LAYOUT;
        MDB_val layout_key = meta_key("layout"), layout_value = {1, &layout};
        key = meta_key("upgrade");
        rc = mdb_put(txn, store->meta, &layout_key, &layout_value, 0);
        if (rc == 0 && (rc = mdb_del(txn, store->meta, &key, NULL)) == MDB_NOTFOUND)
            rc = 0;
        *finished = rc == 0;
    } else if (rc == 0) {
        key = meta_key("upgrade");
        value = (MDB_val){last_len, last};
        rc = mdb_put(txn, store->meta, &key, &value, 0);
    }
done:
    if (cursor != NULL)
        mdb_cursor_close(cursor);
    if (rc == 0)
        return mdb_txn_commit(txn);
    mdb_txn_abort(txn);
    return rc;
}

int pb_lmdb_upgrade(pb_lmdb_store *store, int64_t now)
{
    MDB_txn *txn;
    MDB_stat stat;
    MDB_val key = meta_key("upgrade"), value;
    int rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_stat(txn, store->tokens, &stat);
    bool resuming = rc == 0 && mdb_get(txn, store->meta, &key, &value) == 0;
    mdb_txn_abort(txn);
    if (rc != 0)
        return rc;
    fprintf(stderr, "pushbind: upgrading the data directory to layout %d: %zu bindings%s…\n", PB_LMDB_LAYOUT,
            stat.ms_entries, resuming ? " (going on with an interrupted upgrade)" : "");
    struct dups d = {0};
    bool finished = false;
    while (rc == 0 && !finished)
        rc = upgrade_step(store, stored_time(now), &d, &finished);
    free(d.bytes);
    free(d.ends);
    return rc;
}

int pb_lmdb_upgrade_needed(pb_lmdb_store *store, MDB_txn *txn)
{
    MDB_val key = meta_key("upgrade"), value;
    MDB_stat stat;
    int rc = mdb_get(txn, store->meta, &key, &value);
    if (rc != MDB_NOTFOUND)
        return rc == 0 ? 1 : rc;
    if ((rc = mdb_stat(txn, store->tokens, &stat)) != 0)
        return rc;
    return stat.ms_entries != 0;
}
