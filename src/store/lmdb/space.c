/*
 * space.c — how full the embedded store is, and the reserve that keeps
 * unbinds working when it is full.
 *
 * LMDB never writes a page in place: deleting a binding copies every page on
 * the path from the root to its leaf, and the old pages become free only once
 * the transaction has committed. So a map that binds have filled to the last
 * page cannot take a delete either (MDB_MAP_FULL), and the store could no
 * longer be emptied. Binds therefore stop short of the map by a reserve, and
 * deletes may use all of it. docs/design.md argues the reserve's size.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include "common/clock.h"
#include "store/lmdb/internal.h"

/* At most one "store full" line per this many nanoseconds. */
#define FULL_LOG_INTERVAL_NS 1000000000ull

uint64_t pb_lmdb_reserve_for(uint64_t map_size)
{
    uint64_t reserve = map_size / 100 * PB_LMDB_RESERVE_PERCENT;
    if (reserve < PB_LMDB_RESERVE_MIN)
        reserve = PB_LMDB_RESERVE_MIN;
    return reserve < map_size / 2 ? reserve : map_size / 2;
}

/*
 * Database handles are indexes into the environment's table, 0 being the free
 * list and 1 the main database, and mdb_stat() refuses the first index past
 * the end with EINVAL: walking them counts every database, those opened after
 * this was written included. The two meta pages come on top.
 */
int pb_lmdb_pages_used(MDB_txn *txn, uint64_t *pages)
{
    MDB_stat stat;
    int rc;
    *pages = 2;
    for (MDB_dbi dbi = 0; (rc = mdb_stat(txn, dbi, &stat)) == 0; dbi++)
        *pages += stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages;
    return rc == EINVAL ? 0 : rc;
}

static uint64_t page_size(const pb_lmdb_store *store)
{
    MDB_stat stat;
    return mdb_env_stat(store->env, &stat) == 0 ? stat.ms_psize : 4096;
}

static uint64_t map_size(const pb_lmdb_store *store)
{
    MDB_envinfo info;
    return mdb_env_info(store->env, &info) == 0 ? info.me_mapsize : 0;
}

/* The "store full" line on stderr, at most once a second whatever the rate of refusals. */
static void log_full(const pb_lmdb_store *store, uint64_t used, uint64_t capacity, uint64_t reserve)
{
    /* The stamp is the one field of the store a write path changes: it is not the store's state. */
    _Atomic uint64_t *logged = (_Atomic uint64_t *)&store->full_logged_ns;
    uint64_t now = pb_clock_ns(), last = atomic_load_explicit(logged, memory_order_relaxed);
    if (last != 0 && now - last < FULL_LOG_INTERVAL_NS)
        return;
    if (!atomic_compare_exchange_strong(logged, &last, now))
        return;
    fprintf(stderr,
            "pushbind: store full: binds refused (1008004) to keep %.1f MiB free for unbinds; "
            "%.1f MiB of the %.1f MiB map in use; raise --map-size-mib\n",
            reserve / 1048576.0, used / 1048576.0, capacity / 1048576.0);
}

int pb_lmdb_space_check(const pb_lmdb_store *store, MDB_txn *txn, uint64_t pages_before, bool *room)
{
    uint64_t pages;
    int rc = pb_lmdb_pages_used(txn, &pages);
    *room = true;
    if (rc != 0 || pages <= pages_before)
        return rc;
    uint64_t used = pages * page_size(store), capacity = map_size(store), reserve = pb_lmdb_reserve_for(capacity);
    if (used + reserve <= capacity)
        return 0;
    *room = false;
    log_full(store, used, capacity, reserve);
    return 0;
}

int pb_lmdb_space_of(pb_lmdb_session *session, pb_store_space *space)
{
    pb_lmdb_store *store = session->store;
    uint64_t pages;
    MDB_txn *txn;
    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    rc = pb_lmdb_pages_used(txn, &pages);
    pb_lmdb_txn_done(session, txn, false);
    if (rc != 0)
        goto fail;
    uint64_t capacity = map_size(store);
    *space = (pb_store_space){pages * page_size(store), capacity, pb_lmdb_reserve_for(capacity)};
    return 0;

fail:
    pb_lmdb_set_error(session, "space", rc);
    return PB_STORE_EIO;
}
