/*
 * tag_lookup.c — the embedded store's tag reads in a view: a token's tags, a
 * tag's tokens by page, counts, the app's tags by page. Every pair is checked
 * against its tag's current gen (keys.h, "Tags"), so a tag deleted for every
 * token is gone from every read although its pairs are still being freed.
 * Strings point into the map, valid while the view lasts.
 */
#include <errno.h>

#include "store/lmdb/internal.h"

struct tag_reader {
    pb_lmdb_session *session;
    uint64_t access_id;
    MDB_cursor *cursor;
};

/* The tag's gen and count: 0, MDB_NOTFOUND or an LMDB error. */
static int read_record(struct tag_reader *r, pb_str tag, uint64_t *gen, uint64_t *count)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    if (tag.len == 0 || tag.len > r->session->store->max_key - PB_LMDB_ID_LEN)
        return MDB_NOTFOUND;
    MDB_val key = {tag_key(buf, r->access_id, tag), buf}, value;
    int rc = mdb_get(r->session->read_txn, r->session->store->tags, &key, &value);
    if (rc == 0 && value.mv_size != 16)
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        *gen = be64_get(value.mv_data);
        *count = be64_get((unsigned char *)value.mv_data + 8);
    }
    return rc;
}

static int tags_of(struct tag_reader *r, pb_str token, pb_pool *pool, pb_str_array *out)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    *out = (pb_str_array){0};
    if (!pb_lmdb_token_fits(r->session->store, token))
        return 0;
    MDB_val key = {token_key(buf, r->access_id, token), buf}, dup;
    size_t count;
    int rc = pb_lmdb_seek_dups(r->cursor, &key, &dup, &count);
    if (rc != 0 || count == 0)
        return rc;
    out->items = pb_pool_alloc(pool, count * sizeof(*out->items));
    for (; rc == 0; rc = mdb_cursor_get(r->cursor, &key, &dup, MDB_NEXT_DUP)) {
        struct tag_pair pair;
        uint64_t gen, n;
        if (!tag_pair_parse(dup.mv_data, dup.mv_size, &pair))
            return MDB_CORRUPTED;
        int found = read_record(r, pair.tag, &gen, &n);
        if (found != 0 && found != MDB_NOTFOUND)
            return found;
        if (found == 0 && tag_pair_live(&pair, gen) && out->n < count)
            out->items[out->n++] = pair.tag;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int tokens_of(struct tag_reader *r, pb_tag_lookup *lookup, pb_pool *pool)
{
    unsigned char buf[PB_LMDB_GEN_KEY_LEN], from[PB_LMDB_SEQ_LEN];
    uint64_t gen, count;
    pb_str_array *out = lookup->lists;
    lookup->next = 0;
    int rc = read_record(r, lookup->tags[0], &gen, &count);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    be64_put(from, lookup->after + 1); /* the first seq after the previous page's last */
    MDB_val key = {gen_key(buf, r->access_id, gen), buf}, dup = {sizeof(from), from};
    size_t room = lookup->limit < count ? lookup->limit : count;
    out->items = pb_pool_alloc(pool, (room != 0 ? room : 1) * sizeof(*out->items));
    uint64_t last = 0;
    for (rc = mdb_cursor_get(r->cursor, &key, &dup, MDB_GET_BOTH_RANGE); rc == 0;
         rc = mdb_cursor_get(r->cursor, &key, &dup, MDB_NEXT_DUP)) {
        uint64_t seq;
        pb_str token;
        if (!token_dup_parse(dup.mv_data, dup.mv_size, &seq, &token))
            return MDB_CORRUPTED;
        if (out->n == room) { /* the snapshot's count is exact: one more exists only past the limit */
            if (room == lookup->limit)
                lookup->next = last;
            return 0;
        }
        out->items[out->n++] = token;
        last = seq;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int app_tags(struct tag_reader *r, pb_tag_lookup *lookup, pb_pool *pool)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    pb_str_array *out = lookup->lists;
    pb_str after = lookup->after_tag;
    if (after.len > r->session->store->max_key - PB_LMDB_ID_LEN)
        after.len = r->session->store->max_key - PB_LMDB_ID_LEN;
    MDB_val key = {tag_key(buf, r->access_id, after), buf}, value;
    out->items = pb_pool_alloc(pool, (lookup->limit != 0 ? lookup->limit : 1) * sizeof(*out->items));
    lookup->counts = pb_pool_alloc(pool, (lookup->limit != 0 ? lookup->limit : 1) * sizeof(*lookup->counts));
    lookup->more = false;
    int rc;
    for (rc = mdb_cursor_get(r->cursor, &key, &value, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(r->cursor, &key, &value, MDB_NEXT)) {
        const unsigned char *k = key.mv_data;
        if (key.mv_size < PB_LMDB_ID_LEN || be64_get(k) != r->access_id)
            break;
        pb_str tag = {(const char *)k + PB_LMDB_ID_LEN, key.mv_size - PB_LMDB_ID_LEN};
        if (tag.len == 0 || pb_str_eq(tag, lookup->after_tag)) /* the app's count, or the last page's end */
            continue;
        if (value.mv_size != 16)
            return MDB_CORRUPTED;
        if (out->n == lookup->limit) {
            lookup->more = true;
            return 0;
        }
        lookup->counts[out->n] = be64_get((unsigned char *)value.mv_data + 8);
        out->items[out->n++] = tag;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int run(struct tag_reader *r, pb_tag_lookup *lookup, pb_pool *pool)
{
    const pb_lmdb_store *store = r->session->store;
    MDB_txn *txn = r->session->read_txn;
    int rc = 0;
    switch (lookup->kind) {
    case PB_TAG_LOOKUP_TAGS_OF:
        lookup->lists = pb_pool_alloc(pool, (lookup->n != 0 ? lookup->n : 1) * sizeof(*lookup->lists));
        if ((rc = mdb_cursor_open(txn, store->token_tags, &r->cursor)) != 0)
            return rc;
        for (size_t i = 0; rc == 0 && i < lookup->n; i++)
            rc = tags_of(r, lookup->tokens[i], pool, &lookup->lists[i]);
        break;
    case PB_TAG_LOOKUP_TOKENS_OF:
        lookup->lists = pb_pool_alloc(pool, sizeof(*lookup->lists));
        *lookup->lists = (pb_str_array){0};
        if ((rc = mdb_cursor_open(txn, store->tag_tokens, &r->cursor)) != 0)
            return rc;
        rc = tokens_of(r, lookup, pool);
        break;
    case PB_TAG_LOOKUP_COUNTS:
        lookup->counts = pb_pool_alloc(pool, (lookup->n != 0 ? lookup->n : 1) * sizeof(*lookup->counts));
        for (size_t i = 0; rc == 0 && i < lookup->n; i++) {
            uint64_t gen;
            lookup->counts[i] = 0;
            if ((rc = read_record(r, lookup->tags[i], &gen, &lookup->counts[i])) == MDB_NOTFOUND)
                rc = 0;
        }
        return rc;
    case PB_TAG_LOOKUP_TAGS:
        lookup->lists = pb_pool_alloc(pool, sizeof(*lookup->lists));
        *lookup->lists = (pb_str_array){0};
        if ((rc = mdb_cursor_open(txn, store->tags, &r->cursor)) != 0)
            return rc;
        rc = app_tags(r, lookup, pool);
        break;
    default:
        return EINVAL;
    }
    mdb_cursor_close(r->cursor);
    return rc;
}

int pb_lmdb_tag_lookup(pb_lmdb_view *view, pb_tag_lookup *lookup, pb_pool *pool)
{
    struct tag_reader r = {view->session, lookup->access_id, NULL};
    int rc = run(&r, lookup, pool);
    if (rc != 0) {
        pb_lmdb_set_error(view->session, "tag lookup", rc);
        return PB_STORE_EIO;
    }
    return 0;
}
