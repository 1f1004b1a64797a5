/*
 * space.c — how full the embedded store is, and the reserve that keeps
 * unbinds working when it is full.
 *
 * LMDB never writes a page in place: deleting a binding copies every page on
 * the path from the root to its leaf, and the old pages become free only once
 * the transaction has committed. So a map that binds have filled to the last
 * page cannot take a delete either (MDB_MAP_FULL), and the store could no
 * longer be emptied. Binds therefore stop short of the map by a reserve, and
 * deletes may use all of it. docs/design.md argues the reserve's size and how
 * room is counted.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include "common/clock.h"
#include "store/lmdb/internal.h"

/* At most one "store full" line per this many nanoseconds. */
#define FULL_LOG_INTERVAL_NS 1000000000ull

/* LMDB's free list is database 0; its keys are txnids, its records page lists led by their length. */
#define FREE_DBI 0

/* What a node costs a page beyond its key and data: LMDB's node header and its slot in the page's index. */
#define NODE_COST 10

uint64_t pb_lmdb_reserve_for(uint64_t map_size)
{
    uint64_t reserve = map_size / 100 * PB_LMDB_RESERVE_PERCENT;
    if (reserve < PB_LMDB_RESERVE_MIN)
        reserve = PB_LMDB_RESERVE_MIN;
    return reserve < map_size / 2 ? reserve : map_size / 2;
}

uint64_t pb_lmdb_binding_bytes(size_t token_len, size_t account_len)
{
    size_t tokens_side = PB_LMDB_TOKEN_OVERHEAD + token_len + PB_LMDB_ACCOUNT_DUP_HEAD + account_len;
    size_t accounts_side = PB_LMDB_ACCOUNT_OVERHEAD + account_len + PB_LMDB_SEQ_LEN + token_len;
    return tokens_side + accounts_side + 4 * NODE_COST;
}

static uint64_t page_size(const pb_lmdb_store *store)
{
    MDB_stat stat;
    return mdb_env_stat(store->env, &stat) == 0 ? stat.ms_psize : 4096;
}

/*
 * The pages LMDB can still hand out after the snapshot `read_txn` sees: those
 * past the file's last page up to the end of the map, and those on the free
 * list (counted as `mdb_stat -f` does). The pages the last commit freed are
 * counted too, though the next write transaction cannot reuse them yet (the
 * previous meta page still points at them): the one after can, and the
 * reserve covers the lag (docs/design.md). *map is the map in bytes, *psize
 * the page size.
 */
static int room_of(const pb_lmdb_store *store, MDB_txn *read_txn, uint64_t *room, uint64_t *map, uint64_t *psize)
{
    MDB_envinfo info;
    MDB_cursor *cursor;
    MDB_val key, data;
    int rc = mdb_env_info(store->env, &info);
    if (rc != 0)
        return rc;
    *map = info.me_mapsize;
    *psize = page_size(store);
    uint64_t pages = *map / *psize;
    *room = pages > info.me_last_pgno + 1 ? pages - (info.me_last_pgno + 1) : 0;
    if ((rc = mdb_cursor_open(read_txn, FREE_DBI, &cursor)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) == 0) {
        size_t count;
        if (data.mv_size < sizeof(count)) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(&count, data.mv_data, sizeof(count));
        *room += count;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
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

/*
 * What a transaction starting from the last commit can use, read in a read
 * transaction of its own: a write transaction may not open a cursor on the
 * free list. The writer is the only one, so that snapshot is the one the
 * write transaction started from.
 */
static int measure(const pb_lmdb_store *store, pb_lmdb_space *space)
{
    MDB_txn *read_txn;
    int rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &read_txn);
    if (rc != 0)
        return rc;
    rc = room_of(store, read_txn, &space->room, &space->map, &space->psize);
    mdb_txn_abort(read_txn);
    space->measured = rc == 0;
    return rc;
}

int pb_lmdb_space_check(const pb_lmdb_store *store, pb_lmdb_space *space, uint64_t grown, bool *room)
{
    *room = true;
    if (grown == 0)
        return 0;
    int rc = space->measured ? 0 : measure(store, space);
    if (rc != 0)
        return rc;
    uint64_t reserve = pb_lmdb_reserve_for(space->map), psize = space->psize;
    /* Bytes, not pages, so that small binds add up: half again for the slack splits leave in pages. */
    uint64_t after = space->charged + grown + grown / 2;
    uint64_t need = (after + psize - 1) / psize + (reserve + psize - 1) / psize;
    if (!space->refuse_binds && need <= space->room) {
        space->charged = after;
        return 0;
    }
    *room = false;
    uint64_t taken = space->charged / psize;
    uint64_t left = space->room > taken ? space->room - taken : 0;
    log_full(store, left * psize < space->map ? space->map - left * psize : 0, space->map, reserve);
    return 0;
}

int pb_lmdb_space_of(pb_lmdb_session *session, pb_store_space *space)
{
    pb_lmdb_store *store = session->store;
    uint64_t room, map, psize;
    MDB_txn *txn;
    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    rc = room_of(store, txn, &room, &map, &psize);
    pb_lmdb_txn_done(session, txn, false);
    if (rc != 0)
        goto fail;
    uint64_t free_bytes = room * psize < map ? room * psize : map;
    *space = (pb_store_space){map - free_bytes, map, pb_lmdb_reserve_for(map)};
    return 0;

fail:
    pb_lmdb_set_error(session, "space", rc);
    return PB_STORE_EIO;
}
