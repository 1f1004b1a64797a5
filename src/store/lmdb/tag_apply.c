/*
 * tag_apply.c — the embedded store's tag writes, in the group commit (apply.c):
 * one tag request in its write's child transaction, whole or not at all,
 * and the background step that frees the pairs of deleted tags. The layout
 * is in store/lmdb/keys.h, "Tags".
 */
#include <errno.h>
#include <stdlib.h>

#include "store/lmdb/apply.h"

/* Longest tag in bytes: 50 characters of up to 4 bytes (api/validate.c keeps tags to that). */
#define TAG_BYTES_MAX 200

/* One of a token's pairs, copied out of the map so it survives the writes that follow. */
struct held_pair {
    struct tag_pair pair;
    uint64_t gen; /* its tag's: the tag_tokens key of its mirror */
    char tag[TAG_BYTES_MAX];
};

struct tag_record {
    uint64_t gen, count;
};

/*
 * The record of the tag last read or written, written back when another
 * tag's is needed and when the request ends (flush_record()): ops 7 and 8
 * name one tag for up to 500 tokens, whose record would otherwise be read
 * and rewritten for each of them.
 */
struct cached_record {
    bool held, exists, dirty;
    size_t tag_len;
    char tag[TAG_BYTES_MAX];
    struct tag_record record;
};

/* A tag request under way: the write's scope, the token it last loaded, the record it last used. */
struct tag_scope {
    struct txn_scope *batch;
    pb_tag_write *write;
    struct held_pair *held;
    size_t n_held, cap_held;
    struct cached_record cached;
};

static bool cached_is(const struct tag_scope *ts, pb_str tag)
{
    return ts->cached.held && pb_str_eq((pb_str){ts->cached.tag, ts->cached.tag_len}, tag);
}

/* Writes the cached record back (or deletes it: no token has the tag any more). */
static int flush_record(struct tag_scope *ts)
{
    struct cached_record *c = &ts->cached;
    if (!c->dirty)
        return 0;
    unsigned char buf[PB_LMDB_KEY_BUF], v[16];
    MDB_val key = {tag_key(buf, ts->batch->access_id, (pb_str){c->tag, c->tag_len}), buf};
    c->dirty = false;
    if (!c->exists) {
        int rc = mdb_del(ts->batch->txn, ts->batch->store->tags, &key, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    be64_put(v, c->record.gen);
    be64_put(v + 8, c->record.count);
    MDB_val value = {sizeof(v), v};
    return mdb_put(ts->batch->txn, ts->batch->store->tags, &key, &value, 0);
}

/* Makes `tag` the cached one, writing the previous one back; `tag` is at most TAG_BYTES_MAX bytes. */
static int cache_record(struct tag_scope *ts, pb_str tag, bool exists, const struct tag_record *record, bool dirty)
{
    int rc = cached_is(ts, tag) ? 0 : flush_record(ts);
    if (rc != 0)
        return rc;
    struct cached_record *c = &ts->cached;
    memmove(c->tag, tag.base, tag.len); /* memmove: `tag` may be the cached copy itself */
    c->tag_len = tag.len;
    c->held = true;
    c->exists = exists;
    c->dirty = dirty;
    if (exists)
        c->record = *record;
    return 0;
}

static int record_get(struct tag_scope *ts, pb_str tag, struct tag_record *record)
{
    if (cached_is(ts, tag)) {
        if (!ts->cached.exists)
            return MDB_NOTFOUND;
        *record = ts->cached.record;
        return 0;
    }
    unsigned char buf[PB_LMDB_KEY_BUF];
    MDB_val key = {tag_key(buf, ts->batch->access_id, tag), buf}, value;
    int rc = mdb_get(ts->batch->txn, ts->batch->store->tags, &key, &value);
    if (rc == 0 && value.mv_size != 16)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        *record = (struct tag_record){be64_get(value.mv_data), be64_get((unsigned char *)value.mv_data + 8)};
    if (rc == 0 || rc == MDB_NOTFOUND) {
        int cached = cache_record(ts, tag, rc == 0, record, false);
        rc = cached != 0 ? cached : rc;
    }
    return rc;
}

/* The app's distinct tags: the record keyed by its access_id alone. */
static int distinct_add(struct tag_scope *ts, int delta, uint64_t *now)
{
    unsigned char id[PB_LMDB_ID_LEN], count[8];
    be64_put(id, ts->batch->access_id);
    MDB_val key = {sizeof(id), id}, value;
    uint64_t n = 0;
    int rc = mdb_get(ts->batch->txn, ts->batch->store->tags, &key, &value);
    if (rc == 0 && value.mv_size == 8)
        n = be64_get(value.mv_data);
    else if (rc != MDB_NOTFOUND && rc != 0)
        return rc;
    n = delta < 0 && n == 0 ? 0 : n + (uint64_t)(int64_t)delta;
    if (now != NULL)
        *now = n;
    if (delta == 0)
        return 0;
    be64_put(count, n);
    value = (MDB_val){sizeof(count), count};
    return mdb_put(ts->batch->txn, ts->batch->store->tags, &key, &value, 0);
}

/* Sets the record, or deletes it (and counts one distinct tag less) when no token has the tag; written back by flush_record(). */
static int record_put(struct tag_scope *ts, pb_str tag, const struct tag_record *record)
{
    if (record->count == 0) {
        int rc = cache_record(ts, tag, false, NULL, true);
        return rc != 0 ? rc : distinct_add(ts, -1, NULL);
    }
    return cache_record(ts, tag, true, record, true);
}

/* Deletes one dup by its exact bytes. */
static int del_dup(struct tag_scope *ts, MDB_dbi dbi, const unsigned char *key, size_t key_len,
                   const unsigned char *dup, size_t dup_len)
{
    MDB_val k = {key_len, (void *)key}, d = {dup_len, (void *)dup};
    return mdb_del(ts->batch->txn, dbi, &k, &d);
}

/*
 * Loads `token`'s pairs into ts->held, oldest first, and deletes its dead
 * ones (those of deleted tags: keys.h), so that ts->held is its live tags.
 */
static int load_token(struct tag_scope *ts, pb_str token)
{
    const pb_lmdb_store *store = ts->batch->store;
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    size_t key_len = token_key(kbuf, ts->batch->access_id, token);
    MDB_cursor *cursor;
    ts->n_held = 0;
    int rc = mdb_cursor_open(ts->batch->txn, store->token_tags, &cursor);
    if (rc != 0)
        return rc;
    MDB_val key = {key_len, kbuf}, dup;
    for (rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get(cursor, &key, &dup, MDB_NEXT_DUP)) {
        struct tag_pair pair;
        if (!tag_pair_parse(dup.mv_data, dup.mv_size, &pair) || pair.tag.len > TAG_BYTES_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (ts->n_held == ts->cap_held) {
            size_t cap = ts->cap_held ? 2 * ts->cap_held : 16;
            struct held_pair *grown = realloc(ts->held, cap * sizeof(*grown));
            if (grown == NULL) {
                rc = ENOMEM;
                break;
            }
            ts->held = grown;
            ts->cap_held = cap;
        }
        struct held_pair *h = &ts->held[ts->n_held++];
        memcpy(h->tag, pair.tag.base, pair.tag.len);
        h->pair = pair; /* its tag points at h->tag once the array stops moving, below */
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_NOTFOUND)
        return rc;
    size_t live = 0;
    for (size_t i = 0; i < ts->n_held; i++) {
        struct held_pair *h = &ts->held[i];
        struct tag_record record;
        h->pair.tag.base = h->tag;
        rc = record_get(ts, h->pair.tag, &record);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
        if (rc == 0 && tag_pair_live(&h->pair, record.gen)) {
            h->gen = record.gen;
            ts->held[live] = *h;
            ts->held[live].pair.tag.base = ts->held[live].tag;
            live++;
            continue;
        }
        if ((rc = del_dup(ts, store->token_tags, kbuf, key_len, dbuf, tag_pair_dup(dbuf, &h->pair))) != 0)
            return rc;
    }
    ts->n_held = live;
    return 0;
}

static struct held_pair *held_tag(struct tag_scope *ts, pb_str tag)
{
    for (size_t i = 0; i < ts->n_held; i++)
        if (pb_str_eq(ts->held[i].pair.tag, tag))
            return &ts->held[i];
    return NULL;
}

/* Deletes both sides of a live pair of `token` and counts its tag down. */
static int remove_held(struct tag_scope *ts, pb_str token, const struct held_pair *h)
{
    const pb_lmdb_store *store = ts->batch->store;
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    struct tag_record record;
    int rc = del_dup(ts, store->token_tags, kbuf, token_key(kbuf, ts->batch->access_id, token), dbuf,
                     tag_pair_dup(dbuf, &h->pair));
    if (rc == 0)
        rc = del_dup(ts, store->tag_tokens, kbuf, gen_key(kbuf, ts->batch->access_id, h->gen), dbuf,
                     token_dup(dbuf, h->pair.seq, token));
    if (rc == 0)
        rc = record_get(ts, h->pair.tag, &record);
    if (rc != 0)
        return rc;
    record.count = record.count > 0 ? record.count - 1 : 0;
    return record_put(ts, h->pair.tag, &record);
}

/* Pair `at` (tag, token): adds it, or refreshes its time when it is there. Stops at a limit (write->outcome). */
static int add_pair(struct tag_scope *ts, size_t at, pb_str tag, pb_str token)
{
    struct txn_scope *batch = ts->batch;
    pb_tag_write *write = ts->write;
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    struct tag_record record;
    int rc = record_get(ts, tag, &record);
    if (rc == MDB_NOTFOUND) {
        uint64_t distinct;
        if ((rc = distinct_add(ts, 0, &distinct)) != 0)
            return rc;
        if (distinct >= write->max_tags_per_app) {
            write->outcome = PB_TAG_OVER_APP_LIMIT;
            write->at = at;
            return 0;
        }
        if ((rc = distinct_add(ts, 1, NULL)) != 0)
            return rc;
        record = (struct tag_record){batch->next_seq++, 0};
    } else if (rc != 0) {
        return rc;
    }
    if ((rc = load_token(ts, token)) != 0)
        return rc;
    size_t key_len = token_key(kbuf, batch->access_id, token);
    MDB_val key = {key_len, kbuf}, dup;
    struct held_pair *h = held_tag(ts, tag);
    if (h != NULL) { /* same seq, so the rewritten dup sorts where it was */
        if ((rc = del_dup(ts, batch->store->token_tags, kbuf, key_len, dbuf, tag_pair_dup(dbuf, &h->pair))) != 0)
            return rc;
        h->pair.time = stored_time(batch->now);
        dup = (MDB_val){tag_pair_dup(dbuf, &h->pair), dbuf};
        return mdb_put(batch->txn, batch->store->token_tags, &key, &dup, 0);
    }
    if (ts->n_held >= write->max_tags_per_token) {
        write->outcome = PB_TAG_OVER_TOKEN_LIMIT;
        write->at = at;
        return 0;
    }
    struct tag_pair pair = {batch->next_seq++, stored_time(batch->now), tag};
    dup = (MDB_val){tag_pair_dup(dbuf, &pair), dbuf};
    if ((rc = mdb_put(batch->txn, batch->store->token_tags, &key, &dup, 0)) != 0)
        return rc;
    /* The new seq is the highest yet: the dup goes last, and appending fills pages instead of splitting them. */
    key = (MDB_val){gen_key(kbuf, batch->access_id, record.gen), kbuf};
    dup = (MDB_val){token_dup(dbuf, pair.seq, token), dbuf};
    if ((rc = mdb_put(batch->txn, batch->store->tag_tokens, &key, &dup, MDB_APPENDDUP)) != 0)
        return rc;
    batch->grown += pb_lmdb_binding_bytes(token.len, tag.len);
    record.count++;
    return record_put(ts, tag, &record);
}

static int remove_pair(struct tag_scope *ts, pb_str tag, pb_str token)
{
    int rc = load_token(ts, token);
    const struct held_pair *h = rc == 0 ? held_tag(ts, tag) : NULL;
    return rc != 0 || h == NULL ? rc : remove_held(ts, token, h);
}

/* Removes the live pairs of `token` that `keep` does not keep (NULL: every one). */
static int clear_token(struct tag_scope *ts, pb_str token, bool (*keep)(const struct tag_scope *, pb_str))
{
    int rc = load_token(ts, token);
    /* remove_held() leaves ts->held alone, so walking it while deleting is safe */
    for (size_t i = 0; rc == 0 && i < ts->n_held; i++)
        if (keep == NULL || !keep(ts, ts->held[i].pair.tag))
            rc = remove_held(ts, token, &ts->held[i]);
    return rc;
}

static pb_str category_of(pb_str tag)
{
    const char *colon = memchr(tag.base, ':', tag.len);
    return (pb_str){tag.base, colon != NULL ? (size_t)(colon - tag.base) : tag.len};
}

/* REPLACE keeps a tag the request names again, and with by_category one outside its categories. */
static bool replace_keeps(const struct tag_scope *ts, pb_str tag)
{
    const pb_tag_write *write = ts->write;
    bool in_category = !write->by_category;
    for (size_t i = 0; i < write->n; i++) {
        if (pb_str_eq(write->tags[i], tag))
            return true;
        in_category |= pb_str_eq(category_of(write->tags[i]), category_of(tag));
    }
    return !in_category;
}

static int delete_everywhere(struct tag_scope *ts, pb_str tag)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF];
    struct tag_record record;
    int rc = record_get(ts, tag, &record);
    if (rc == MDB_NOTFOUND)
        return 0;
    MDB_val key = {gen_key(kbuf, ts->batch->access_id, record.gen), kbuf}, empty_value = {0, kbuf};
    if (rc == 0)
        rc = mdb_put(ts->batch->txn, ts->batch->store->tag_graves, &key, &empty_value, 0);
    record.count = 0;
    return rc != 0 ? rc : record_put(ts, tag, &record);
}

/* Whether one of `token`'s bindings or live tags was made or refreshed at or after `since`. */
static int refreshed_since(struct tag_scope *ts, pb_str token, int64_t since, bool *kept)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF];
    MDB_cursor *cursor;
    int rc = load_token(ts, token);
    *kept = false;
    for (size_t i = 0; rc == 0 && i < ts->n_held; i++)
        *kept |= (int64_t)ts->held[i].pair.time >= since;
    if (rc != 0 || *kept || (rc = mdb_cursor_open(ts->batch->txn, ts->batch->store->tokens, &cursor)) != 0)
        return rc;
    MDB_val key = {token_key(kbuf, ts->batch->access_id, token), kbuf}, dup;
    for (rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_KEY); rc == 0 && !*kept;
         rc = mdb_cursor_get(cursor, &key, &dup, MDB_NEXT_DUP)) {
        uint64_t seq;
        struct binding_info info;
        pb_account account;
        if (!account_dup_parse(dup.mv_data, dup.mv_size, &seq, &info, &account)) {
            rc = MDB_CORRUPTED;
            break;
        }
        *kept = (int64_t)info.last_bind_time >= since;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND || (rc == 0 && *kept) ? 0 : rc;
}

static int invalidate(struct tag_scope *ts)
{
    pb_tag_write *write = ts->write;
    for (size_t i = 0; i < write->n; i++) {
        int rc = refreshed_since(ts, write->tokens[i], write->invalid_since[i], &write->kept[i]);
        if (rc != 0 || write->kept[i])
            continue;
        pb_change clear = {.kind = PB_CHANGE_CLEAR_TOKEN, .token = write->tokens[i]};
        pb_change_outcome outcome;
        if ((rc = pb_lmdb_apply_change(ts->batch, &clear, &outcome)) != 0 ||
            (rc = clear_token(ts, write->tokens[i], NULL)) != 0)
            return rc;
    }
    return 0;
}

static int run(struct tag_scope *ts)
{
    pb_tag_write *write = ts->write;
    int rc = 0;
    switch (write->kind) {
    case PB_TAG_ADD:
        for (size_t i = 0; rc == 0 && i < write->n && write->outcome == PB_TAG_OK; i++)
            rc = add_pair(ts, i, write->tags[i], write->tokens[i]);
        return rc;
    case PB_TAG_REMOVE:
        for (size_t i = 0; rc == 0 && i < write->n; i++)
            rc = remove_pair(ts, write->tags[i], write->tokens[i]);
        return rc;
    case PB_TAG_CLEAR_TOKEN:
        return clear_token(ts, write->tokens[0], NULL);
    case PB_TAG_REPLACE:
        rc = clear_token(ts, write->tokens[0], replace_keeps);
        for (size_t i = 0; rc == 0 && i < write->n && write->outcome == PB_TAG_OK; i++)
            rc = add_pair(ts, i, write->tags[i], write->tokens[0]);
        return rc;
    case PB_TAG_DELETE_ALL:
        for (size_t i = 0; rc == 0 && i < write->n; i++)
            rc = delete_everywhere(ts, write->tags[i]);
        return rc;
    case PB_TAG_INVALIDATE:
        return invalidate(ts);
    }
    return EINVAL;
}

/* The request's platform given to each token it names, as an APPEND of no account gives it (apply_change.c). */
static int set_platform(struct tag_scope *ts)
{
    const pb_tag_write *write = ts->write;
    size_t n = write->kind == PB_TAG_CLEAR_TOKEN || write->kind == PB_TAG_REPLACE ? 1 : write->n;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && pb_str_eq(write->tokens[i], write->tokens[i - 1])) /* ops 1–4 repeat their one token */
            continue;
        pb_change set = {.kind = PB_CHANGE_APPEND, .token = write->tokens[i], .platform = write->platform};
        pb_change_outcome outcome;
        int rc = pb_lmdb_apply_change(ts->batch, &set, &outcome);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int pb_lmdb_apply_tags(struct txn_scope *batch, pb_tag_write *write)
{
    struct tag_scope ts = {.batch = batch, .write = write};
    write->outcome = PB_TAG_OK;
    batch->grown = 0;
    int rc = run(&ts);
    if (rc == 0 && write->outcome == PB_TAG_OK) /* else the request is undone whole */
        rc = flush_record(&ts);
    free(ts.held);
    if (rc == 0 && write->outcome == PB_TAG_OK && write->platform != PB_PLATFORM_NONE &&
        write->kind != PB_TAG_DELETE_ALL && write->kind != PB_TAG_INVALIDATE)
        rc = set_platform(&ts);
    if (rc == 0 && write->outcome == PB_TAG_OK && batch->grown != 0) {
        bool room;
        if ((rc = pb_lmdb_space_check(batch->store, batch->space, batch->grown, &room)) == 0 && !room)
            write->outcome = PB_TAG_NO_SPACE;
    }
    return rc;
}

int pb_lmdb_grave_step(pb_lmdb_session *session, bool *more)
{
    const pb_lmdb_store *store = session->store;
    unsigned char grave[PB_LMDB_GEN_KEY_LEN], kbuf[PB_LMDB_KEY_BUF];
    MDB_cursor *graves = NULL, *pairs = NULL, *tokens = NULL;
    MDB_txn *txn;
    *more = false;
    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, store->tag_graves, &graves)) != 0 ||
        (rc = mdb_cursor_open(txn, store->tag_tokens, &pairs)) != 0 ||
        (rc = mdb_cursor_open(txn, store->token_tags, &tokens)) != 0)
        goto done;
    MDB_val key, value;
    if ((rc = mdb_cursor_get(graves, &key, &value, MDB_FIRST)) != 0 || key.mv_size != sizeof(grave)) {
        rc = rc == 0 ? MDB_CORRUPTED : rc;
        goto done;
    }
    memcpy(grave, key.mv_data, sizeof(grave));
    *more = true;
    for (int n = 0; n < PB_LMDB_GRAVE_PAIRS; n++) {
        MDB_val pair_key = {sizeof(grave), grave}, dup, token_dup_val;
        uint64_t seq;
        pb_str token;
        if ((rc = mdb_cursor_get(pairs, &pair_key, &dup, MDB_SET_KEY)) == MDB_NOTFOUND) {
            rc = mdb_cursor_del(graves, 0);
            break;
        }
        if (rc == 0 && !token_dup_parse(dup.mv_data, dup.mv_size, &seq, &token))
            rc = MDB_CORRUPTED;
        if (rc != 0)
            goto done;
        memcpy(kbuf, grave, PB_LMDB_ID_LEN);
        memcpy(kbuf + PB_LMDB_ID_LEN, token.base, token.len);
        MDB_val token_key_val = {PB_LMDB_ID_LEN + token.len, kbuf};
        rc = pb_lmdb_seek_binding(tokens, &token_key_val, seq, &token_dup_val);
        if (rc == 0)
            rc = mdb_cursor_del(tokens, 0);
        if ((rc != 0 && rc != MDB_NOTFOUND) || (rc = mdb_cursor_del(pairs, 0)) != 0)
            goto done;
    }
done:
    if (graves != NULL)
        mdb_cursor_close(graves);
    if (pairs != NULL)
        mdb_cursor_close(pairs);
    if (tokens != NULL)
        mdb_cursor_close(tokens);
    if (rc == MDB_NOTFOUND && !*more)
        rc = 0;
    if (rc != 0) {
        pb_lmdb_txn_done(session, txn, false);
        return rc;
    }
    return pb_lmdb_txn_done(session, txn, true);
}
