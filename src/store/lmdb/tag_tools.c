/*
 * tag_tools.c — tags for the operator's tools (store/lmdb/tools.h): tag
 * lines imported as op 9 would add them, and every pair exported.
 */

#include "common/clock.h"
#include "store/lmdb/apply.h"

static pb_import_outcome import_outcome(pb_tag_outcome outcome)
{
    switch (outcome) {
    case PB_TAG_OVER_TOKEN_LIMIT: return PB_IMPORT_TAG_TOKEN_FULL;
    case PB_TAG_OVER_APP_LIMIT: return PB_IMPORT_TAG_APP_FULL;
    case PB_TAG_NO_SPACE: return PB_IMPORT_TAG_NO_SPACE;
    default: return PB_IMPORT_BOUND;
    }
}

/* Each item in a child of `batch`'s transaction, undone alone at a limit. */
static int import_items(struct txn_scope *batch, const pb_import_item *items, size_t n, uint32_t per_token,
                        uint32_t per_app, pb_import_outcome *outcomes)
{
    MDB_txn *parent = batch->txn;
    for (size_t i = 0; i < n; i++) {
        pb_tag_write write = {.kind = PB_TAG_ADD, .tags = &items[i].account.name, .tokens = &items[i].token, .n = 1,
                              .max_tags_per_token = per_token, .max_tags_per_app = per_app};
        uint64_t seq = batch->next_seq;
        int rc = mdb_txn_begin(mdb_txn_env(parent), parent, 0, &batch->txn);
        if (rc != 0)
            return rc;
        rc = pb_lmdb_apply_tags(batch, &write);
        if (rc != 0 || write.outcome != PB_TAG_OK) {
            mdb_txn_abort(batch->txn);
            batch->next_seq = seq;
        } else {
            rc = mdb_txn_commit(batch->txn);
        }
        batch->txn = parent;
        if (rc != 0)
            return rc;
        outcomes[i] = import_outcome(write.outcome);
    }
    return 0;
}

int pb_lmdb_import_tags(pb_lmdb_tool *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                        uint32_t max_tags_per_token, uint32_t max_tags_per_app, pb_import_outcome *outcomes)
{
    pb_lmdb_session *session = tool->session;
    unsigned char app_buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    pb_lmdb_space space = {0};
    struct txn_scope batch = {.store = session->store, .access_id = access_id, .now = pb_clock_unix_s(),
                              .space = &space};
    int rc = pb_lmdb_txn_start(session, 0, &batch.txn);
    if (rc != 0)
        goto fail;
    if ((rc = pb_lmdb_app_read(session->store, batch.txn, access_id, app_buf, &app)) == MDB_NOTFOUND) {
        pb_lmdb_txn_done(session, batch.txn, false);
        return PB_STORE_ENOTFOUND;
    }
    uint64_t first_seq = 0;
    if (rc == 0 && (rc = pb_lmdb_seq_read(session->store, batch.txn, &first_seq)) == 0) {
        batch.next_seq = first_seq;
        rc = import_items(&batch, items, n, max_tags_per_token, max_tags_per_app, outcomes);
    }
    if (rc == 0 && batch.next_seq != first_seq)
        rc = pb_lmdb_seq_write(session->store, batch.txn, batch.next_seq);
    if (rc != 0) {
        pb_lmdb_txn_done(session, batch.txn, false);
        goto fail;
    }
    if ((rc = pb_lmdb_txn_done(session, batch.txn, true)) == 0)
        return 0;
fail:
    pb_lmdb_set_error(session, "import tags", rc);
    return PB_STORE_EIO;
}

/* Whether `pair` of the token is live: its tag's record exists and the pair is of its gen (keys.h). */
static int pair_live(const pb_lmdb_store *store, MDB_txn *txn, uint64_t access_id, const struct tag_pair *pair,
                     bool *live)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    MDB_val key = {tag_key(buf, access_id, pair->tag), buf}, value;
    int rc = mdb_get(txn, store->tags, &key, &value);
    *live = rc == 0 && value.mv_size == 16 && tag_pair_live(pair, be64_get(value.mv_data));
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int pb_lmdb_export_tags(pb_lmdb_tool *tool, uint64_t access_id, pb_lmdb_export_tag_visit *visit, void *arg)
{
    pb_lmdb_session *session = tool->session;
    unsigned char prefix[PB_LMDB_ID_LEN], app_buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    MDB_cursor *cursor = NULL;
    MDB_txn *txn;
    be64_put(prefix, access_id);
    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn), result = PB_STORE_EIO;
    if (rc != 0)
        goto fail;
    if ((rc = pb_lmdb_app_read(session->store, txn, access_id, app_buf, &app)) == MDB_NOTFOUND) {
        pb_lmdb_txn_done(session, txn, false);
        return PB_STORE_ENOTFOUND;
    }
    MDB_val key = {sizeof(prefix), prefix}, dup;
    if (rc == 0 && (rc = mdb_cursor_open(txn, session->store->token_tags, &cursor)) == 0)
        rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_RANGE);
    for (result = 0; rc == 0 && result == 0; rc = mdb_cursor_get(cursor, &key, &dup, MDB_NEXT)) {
        struct tag_pair pair;
        bool live;
        if (key.mv_size <= PB_LMDB_ID_LEN || memcmp(key.mv_data, prefix, PB_LMDB_ID_LEN) != 0)
            break;
        if (!tag_pair_parse(dup.mv_data, dup.mv_size, &pair))
            rc = MDB_CORRUPTED;
        if (rc == 0 && (rc = pair_live(session->store, txn, access_id, &pair, &live)) == 0 && live)
            result = visit(arg, (pb_str){(const char *)key.mv_data + PB_LMDB_ID_LEN, key.mv_size - PB_LMDB_ID_LEN},
                           pair.tag);
        if (rc != 0)
            break;
    }
    if (cursor != NULL)
        mdb_cursor_close(cursor);
    pb_lmdb_txn_done(session, txn, false);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return result;
fail:
    pb_lmdb_set_error(session, "export tags", rc);
    return PB_STORE_EIO;
}
