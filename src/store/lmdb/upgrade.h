/*
 * store/lmdb/upgrade.h — a data directory from an earlier key layout brought
 * to this one in place (upgrade.c says how, and why in bounded steps).
 * Private to store/lmdb/.
 */
#ifndef PB_STORE_LMDB_UPGRADE_H
#define PB_STORE_LMDB_UPGRADE_H

#include <stdint.h>

#include "store/lmdb/internal.h"

/*
 * Whether the store needs pb_lmdb_upgrade(): it has bindings and no meta
 * "layout", or an upgrade that was interrupted. Reads in `txn`. Returns 1
 * (needs it), 0 (does not), or an LMDB error.
 */
int pb_lmdb_upgrade_needed(pb_lmdb_store *store, MDB_txn *txn);

/*
 * Rewrites every layout 1 tokens dup (seq | account_type | name) of `store`
 * in the layout 2 shape, with bind_time = last_bind_time = `now` (Unix
 * seconds) and no platform, keeping each seq (so every list's order), then
 * records layout 2 in meta. One line on stderr first. Runs in bounded write
 * transactions, each recording how far it went, so an interrupted upgrade is
 * finished by the next call, and every commit leaves a store this call can
 * go on with. The databases must be open (store->meta, store->tokens) and
 * no other transaction of this process live. Returns 0 or an LMDB error
 * (MDB_BAD_VALSIZE: an account name too long for layout 2's dups;
 * MDB_MAP_FULL: the map has no room for 9 more bytes a binding).
 */
int pb_lmdb_upgrade(pb_lmdb_store *store, int64_t now);

#endif
