/*
 * load.c — pb_lmdb_import_chunk(): many single-account appends in one
 * write transaction, decided in item order, written in key order.
 *
 * Random keys inserted one by one make every insert dirty a different page,
 * and a transaction writes every page it dirtied: a chunk of a million random
 * bindings would rewrite most of the store. Sorted by key, consecutive
 * inserts land on the same page and each page is written about once per
 * chunk. The outcomes stay those of the item order because they are decided
 * first, per token (in token order) and then per account (in account order),
 * from counts read before anything is written.
 *
 * The two passes agree with one-by-one appends except in one case: a token
 * refused as full in the first pass may have had room after all when an
 * earlier item of it is refused in the second pass (its account was full).
 * A chunk where both refusals occur is applied one item at a time instead.
 *
 * Where the time goes, for a migration of millions of lines: sorting (the
 * accounts side is sorted on a second thread), reading the items in key order
 * (at random in memory, so the loops prefetch and the writes gather blocks
 * first), LMDB's puts, and the disk. A chunk whose keys cannot be in the
 * database yet (an empty app, or keys after the last one) skips the lookups,
 * and one whose keys all sort last is appended. The key layout is described
 * in store/lmdb/keys.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/hugepages.h"
#include "common/writeback.h"
#include "store/lmdb/load.h"
#include "store/lmdb/internal.h"
#include "store/lmdb/tools.h"

/*
 * Below this many items a chunk runs on the calling thread alone: the helper
 * threads (the accounts sort, the gatherer, the writeback) pay off only when
 * there is much to do, and a chunk's commit costs milliseconds anyway.
 */
#define PARALLEL_MIN 256

/* How many sorted entries are judged between two advances of the chunk's meter. */
#define METER_STEP 65536

/* How often the disk is asked to write what the chunk has written so far (common/writeback.h). */
#define WRITEBACK_EVERY_MS 200

/* The two databases a binding is written to; each is one side of a chunk. */
enum side { TOKENS_SIDE, ACCOUNTS_SIDE };

/* An account of the token being decided: in the store, or the candidate of item `candidate`. */
struct bound_account {
    pb_account account;
    uint32_t candidate;
};

#define STORED UINT32_MAX

/*
 * A line binding what an earlier line of the chunk (`candidate`) is about to
 * bind. Pass 1 calls it present; if pass 2 refuses the candidate, the line
 * is refused alike (the account is as full when it comes).
 */
struct repeat {
    uint32_t item, candidate;
};

/* The state of one chunk. */
struct chunk {
    const pb_lmdb_store *store;
    pb_lmdb_import_meter *meter; /* the tool's: how far the chunk has come */
    MDB_txn *txn;
    MDB_cursor *cursors[2]; /* by side */
    uint64_t access_id;
    int64_t now; /* read once per chunk */
    const pb_import_item *items;
    size_t n;
    pb_import_outcome *outcomes;
    pb_import_entry *by_token, *by_account;
    size_t n_by_token, n_by_account;
    /*
     * Per side: `fresh` when no key of the chunk can be in the database yet
     * (the app has no keys there, or they all sort before the chunk's), so
     * nothing needs to be looked up; `append` when the chunk's keys also sort
     * after every key of the database, so every put is an append.
     */
    bool fresh[2], append[2];
    struct bound_account *bound; /* scratch: the accounts a token has, or is about to have */
    size_t bound_capacity;
    struct repeat *repeats; /* lines that repeat a candidate of the chunk */
    size_t n_repeats, repeats_capacity;
    uint64_t next_seq, created;
};

static int bound_reserve(struct chunk *c, size_t n)
{
    if (n <= c->bound_capacity)
        return 0;
    size_t capacity = n < 64 ? 64 : n * 2;
    struct bound_account *grown = realloc(c->bound, capacity * sizeof(*grown));
    if (grown == NULL)
        return ENOMEM;
    c->bound = grown;
    c->bound_capacity = capacity;
    return 0;
}

static bool item_fits(const pb_lmdb_store *store, const pb_import_item *item)
{
    return pb_lmdb_token_fits(store, item->token) && pb_lmdb_account_fits(store, &item->account);
}

/* The key `item` has on `side`, built in buf (PB_LMDB_KEY_BUF bytes). */
static MDB_val side_key(const struct chunk *c, enum side side, const pb_import_item *item, unsigned char *buf)
{
    if (side == TOKENS_SIDE)
        return (MDB_val){token_key(buf, c->access_id, item->token), buf};
    return (MDB_val){account_key(buf, c->access_id, &item->account), buf};
}

/*
 * Reads the accounts bound to the token of `key` into c->bound (pointing into
 * the map: valid while nothing is written). Returns 0 or an LMDB error.
 */
static int read_token_accounts(struct chunk *c, MDB_val *key, size_t *count)
{
    MDB_val dup;
    int rc = pb_lmdb_seek_dups(c->cursors[TOKENS_SIDE], key, &dup, count);
    if (rc != 0 || (rc = bound_reserve(c, *count)) != 0)
        return rc;
    for (size_t i = 0; i < *count; i++) {
        uint64_t seq;
        if (i != 0 && (rc = mdb_cursor_get(c->cursors[TOKENS_SIDE], key, &dup, MDB_NEXT_DUP)) != 0)
            return rc;
        if (!account_dup_parse(dup.mv_data, dup.mv_size, &seq, NULL, &c->bound[i].account))
            return MDB_CORRUPTED;
        c->bound[i].candidate = STORED;
    }
    return 0;
}

static const struct bound_account *find_bound(const struct bound_account *list, size_t n, const pb_account *account)
{
    for (size_t i = 0; i < n; i++)
        if (pb_account_eq(&list[i].account, account))
            return &list[i];
    return NULL;
}

static int repeat_add(struct chunk *c, uint32_t item, uint32_t candidate)
{
    if (c->n_repeats == c->repeats_capacity) {
        size_t capacity = c->repeats_capacity == 0 ? 64 : c->repeats_capacity * 2;
        struct repeat *grown = realloc(c->repeats, capacity * sizeof(*grown));
        if (grown == NULL)
            return ENOMEM;
        c->repeats = grown;
        c->repeats_capacity = capacity;
    }
    c->repeats[c->n_repeats++] = (struct repeat){item, candidate};
    return 0;
}

/* Enters `stage`, whose steps are `total` (none: 0). */
static void meter_enter(pb_lmdb_import_meter *meter, pb_import_stage stage, uint64_t total)
{
    atomic_store_explicit(&meter->done, 0, memory_order_relaxed);
    atomic_store_explicit(&meter->total, total, memory_order_relaxed);
    atomic_store_explicit(&meter->stage, stage, memory_order_relaxed);
}

/*
 * Sets c->fresh[side] and c->append[side] from the database's last key and
 * the first key of the app, given the chunk's smallest key on that side.
 */
static int probe_side(struct chunk *c, enum side side, const pb_import_entry *smallest)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF], prefix[PB_LMDB_ID_LEN];
    MDB_val first = side_key(c, side, &c->items[smallest->index], kbuf), last, dup;
    MDB_cursor *cursor = c->cursors[side];
    int rc = mdb_cursor_get(cursor, &last, &dup, MDB_LAST);
    if (rc == MDB_NOTFOUND) {
        c->fresh[side] = c->append[side] = true;
        return 0;
    }
    if (rc != 0)
        return rc;
    c->append[side] = mdb_cmp(c->txn, mdb_cursor_dbi(cursor), &last, &first) < 0;
    if (c->append[side]) {
        c->fresh[side] = true;
        return 0;
    }
    be64_put(prefix, c->access_id);
    MDB_val at = {sizeof(prefix), prefix};
    rc = mdb_cursor_get(cursor, &at, &dup, MDB_SET_RANGE);
    c->fresh[side] = rc == MDB_NOTFOUND || at.mv_size < sizeof(prefix) || memcmp(at.mv_data, prefix, sizeof(prefix)) != 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Pass 1, one token's items in item order: present, token full, or a candidate (BOUND). */
static int decide_token(struct chunk *c, pb_import_entry *run, size_t n)
{
    size_t count = 0;
    int rc = 0;
    if (!c->fresh[TOKENS_SIDE]) {
        unsigned char buf[PB_LMDB_KEY_BUF];
        MDB_val key = side_key(c, TOKENS_SIDE, &c->items[run[0].index], buf);
        if ((rc = read_token_accounts(c, &key, &count)) != 0)
            return rc;
    }
    if (n == 1 && count == 0) /* the common case, decided without reading the item */
        return 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const pb_account *account = &c->items[run[i].index].account;
        const struct bound_account *listed = find_bound(c->bound, count, account);
        if (listed != NULL) {
            run[i].outcome = PB_IMPORT_PRESENT;
            if (listed->candidate != STORED)
                rc = repeat_add(c, run[i].index, listed->candidate);
        } else if (count >= c->store->limits.max_accounts_per_token) {
            run[i].outcome = PB_IMPORT_TOKEN_FULL;
        } else if ((rc = bound_reserve(c, count + 1)) == 0) {
            c->bound[count++] = (struct bound_account){*account, run[i].index};
        }
    }
    return rc;
}

/* Pass 2, one account's candidates in item order: room left, or account full. */
static int decide_account(struct chunk *c, pb_import_entry *run, size_t n)
{
    size_t count = 0, first = 0;
    int rc = 0;
    while (first < n && run[first].outcome != PB_IMPORT_BOUND)
        first++;
    if (first == n) /* no candidate (a re-run of an import): nothing to count */
        return 0;
    if (!c->fresh[ACCOUNTS_SIDE]) {
        unsigned char buf[PB_LMDB_KEY_BUF];
        MDB_val key = side_key(c, ACCOUNTS_SIDE, &c->items[run[first].index], buf), dup;
        if ((rc = pb_lmdb_seek_dups(c->cursors[ACCOUNTS_SIDE], &key, &dup, &count)) != 0)
            return rc;
    }
    for (size_t i = first; i < n; i++) {
        if (run[i].outcome != PB_IMPORT_BOUND)
            continue;
        if (count >= c->store->limits.max_tokens_per_account)
            c->outcomes[run[i].index] = run[i].outcome = PB_IMPORT_ACCOUNT_FULL;
        else
            count++;
    }
    return rc;
}

/* Runs `decide` over each run of equal keys in sorted `entries`. */
static int for_each_key(struct chunk *c, pb_import_entry *entries, size_t n, bool by_account,
                        int (*decide)(struct chunk *c, pb_import_entry *run, size_t n))
{
    pb_import_sort_context ctx = {c->items, by_account};
    int rc = 0;
    size_t metered = 0;
    for (size_t first = 0, end; rc == 0 && first < n; first = end) {
        for (end = first + 1; end < n && pb_import_same_key(&ctx, &entries[first], &entries[end]); end++)
            ;
        pb_import_prefetch(c->items, entries, n, end);
        rc = decide(c, &entries[first], end - first);
        if (end - metered >= METER_STEP) {
            atomic_fetch_add_explicit(&c->meter->done, end - metered, memory_order_relaxed);
            metered = end;
        }
    }
    atomic_fetch_add_explicit(&c->meter->done, n - metered, memory_order_relaxed);
    return rc;
}

/*
 * The accounts side is sorted on a thread of its own while the calling
 * thread sorts and decides the tokens side: the sorts are most of the CPU a
 * chunk costs before it writes. Every item that fits is sorted, since which
 * are candidates is known only after pass 1.
 */
static void *sort_accounts(void *arg)
{
    struct chunk *c = arg;
    c->n_by_account = 0;
    for (size_t i = 0; i < c->n; i++) {
        const pb_import_item *item = &c->items[i];
        if (item_fits(c->store, item))
            c->by_account[c->n_by_account++] = pb_import_entry_of(item->account.name, item->account.type, i);
    }
    pb_import_sort_context ctx = {c->items, true};
    pb_import_sort(c->by_account, c->n_by_account, &ctx);
    return NULL;
}

/*
 * The fallback: each item decided and written before the next, as a run of
 * single appends would. Only reads were made before it, so nothing to undo.
 */
static int apply_in_item_order(struct chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const pb_import_item *item = &c->items[i];
        if (c->outcomes[i] == PB_IMPORT_TOO_LONG)
            continue;
        unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
        MDB_val key = side_key(c, TOKENS_SIDE, item, kbuf), dup;
        size_t accounts_of_token, tokens_of_account;
        int rc = read_token_accounts(c, &key, &accounts_of_token);
        if (rc != 0)
            return rc;
        if (find_bound(c->bound, accounts_of_token, &item->account) != NULL) {
            c->outcomes[i] = PB_IMPORT_PRESENT;
            continue;
        }
        if (accounts_of_token >= c->store->limits.max_accounts_per_token) {
            c->outcomes[i] = PB_IMPORT_TOKEN_FULL;
            continue;
        }
        key = side_key(c, ACCOUNTS_SIDE, item, kbuf);
        if ((rc = pb_lmdb_seek_dups(c->cursors[ACCOUNTS_SIDE], &key, &dup, &tokens_of_account)) != 0)
            return rc;
        if (tokens_of_account >= c->store->limits.max_tokens_per_account) {
            c->outcomes[i] = PB_IMPORT_ACCOUNT_FULL;
            continue;
        }
        /* MDB_SET_KEY pointed key into the map: each put gets its key rebuilt. */
        key = side_key(c, TOKENS_SIDE, item, kbuf);
        struct binding_info info = import_info(&item->times, item->platform, c->now);
        dup = (MDB_val){account_dup(dbuf, c->next_seq, &info, &item->account), dbuf};
        if ((rc = mdb_cursor_put(c->cursors[TOKENS_SIDE], &key, &dup, 0)) != 0)
            return rc;
        key = side_key(c, ACCOUNTS_SIDE, item, kbuf);
        dup = (MDB_val){token_dup(dbuf, c->next_seq, item->token), dbuf};
        if ((rc = mdb_cursor_put(c->cursors[ACCOUNTS_SIDE], &key, &dup, 0)) != 0)
            return rc;
        c->outcomes[i] = PB_IMPORT_BOUND;
        c->next_seq++;
        c->created++;
    }
    return 0;
}

/* Pass 1 on the calling thread, the accounts sort beside it, then pass 2. */
static int decide(struct chunk *c)
{
    pthread_t sorter;
    bool sorting = c->n >= PARALLEL_MIN && pthread_create(&sorter, NULL, sort_accounts, c) == 0;
    for (size_t i = 0; i < c->n; i++) {
        const pb_import_item *item = &c->items[i];
        c->outcomes[i] = item_fits(c->store, item) ? PB_IMPORT_BOUND : PB_IMPORT_TOO_LONG;
        if (c->outcomes[i] == PB_IMPORT_BOUND)
            c->by_token[c->n_by_token++] = pb_import_entry_of(item->token, 0, i);
    }
    pb_import_sort_context ctx = {c->items, false};
    pb_import_sort(c->by_token, c->n_by_token, &ctx);
    /* Both sides hold the items that fit; the accounts side may still be sorting. */
    meter_enter(c->meter, PB_IMPORT_CHECKING, 2 * (uint64_t)c->n_by_token);
    int rc = c->n_by_token == 0 ? 0 : probe_side(c, TOKENS_SIDE, &c->by_token[0]);
    if (rc == 0)
        rc = for_each_key(c, c->by_token, c->n_by_token, false, decide_token);
    for (size_t i = 0; i < c->n_by_token; i++)
        c->outcomes[c->by_token[i].index] = c->by_token[i].outcome;
    if (sorting)
        pthread_join(sorter, NULL);
    else
        sort_accounts(c);
    if (rc != 0 || c->n_by_account == 0)
        return rc;
    for (size_t i = 0; i < c->n_by_account; i++) {
        if (i + PB_IMPORT_PREFETCH_ITEM < c->n_by_account)
            __builtin_prefetch(&c->outcomes[c->by_account[i + PB_IMPORT_PREFETCH_ITEM].index]);
        c->by_account[i].outcome = c->outcomes[c->by_account[i].index];
    }
    if ((rc = probe_side(c, ACCOUNTS_SIDE, &c->by_account[0])) != 0 ||
        (rc = for_each_key(c, c->by_account, c->n_by_account, true, decide_account)) != 0)
        return rc;
    for (size_t i = 0; i < c->n_repeats; i++)
        if (c->outcomes[c->repeats[i].candidate] != PB_IMPORT_BOUND)
            c->outcomes[c->repeats[i].item] = c->outcomes[c->repeats[i].candidate];
    return 0;
}

/* The two passes, then the writes in token order and in account order. */
static int apply_sorted(struct chunk *c)
{
    int rc = decide(c);
    if (rc != 0)
        return rc;
    uint64_t *seqs = malloc((c->n == 0 ? 1 : c->n) * sizeof(*seqs));
    if (seqs == NULL)
        return ENOMEM;
    pb_want_huge_pages(seqs, c->n * sizeof(*seqs));
    bool token_full = false, account_full = false;
    for (size_t i = 0; i < c->n; i++) {
        token_full |= c->outcomes[i] == PB_IMPORT_TOKEN_FULL;
        account_full |= c->outcomes[i] == PB_IMPORT_ACCOUNT_FULL;
        seqs[i] = c->outcomes[i] == PB_IMPORT_BOUND ? c->next_seq + c->created++ : PB_IMPORT_NOT_BOUND;
    }
    if (token_full && account_full) {
        free(seqs);
        c->created = 0;
        return apply_in_item_order(c);
    }
    bool parallel = c->n >= PARALLEL_MIN;
    pb_writeback writeback;
    int fd;
    bool flushing = parallel && mdb_env_get_fd(c->store->env, &fd) == 0 &&
                    pb_writeback_start(&writeback, fd, WRITEBACK_EVERY_MS);
    meter_enter(c->meter, PB_IMPORT_WRITING, 2 * c->created);
    pb_import_side tokens = {c->cursors[TOKENS_SIDE], false, c->append[TOKENS_SIDE], c->access_id, c->items, seqs,
                             c->now, &c->meter->done};
    pb_import_side accounts = {c->cursors[ACCOUNTS_SIDE], true, c->append[ACCOUNTS_SIDE], c->access_id, c->items,
                               seqs, c->now, &c->meter->done};
    rc = pb_import_side_write(&tokens, c->by_token, c->n_by_token, parallel);
    if (rc == 0)
        rc = pb_import_side_write(&accounts, c->by_account, c->n_by_account, parallel);
    if (flushing)
        pb_writeback_stop(&writeback);
    c->next_seq += c->created;
    free(seqs);
    return rc;
}

/* The bytes the chunk's new bindings added, for the reserve. */
static uint64_t grown_bytes(const struct chunk *c)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->outcomes[i] == PB_IMPORT_BOUND)
            bytes += pb_lmdb_binding_bytes(c->items[i].token.len, c->items[i].account.name.len);
    return bytes;
}

int pb_lmdb_import_chunk(pb_lmdb_tool *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                         pb_import_outcome *outcomes)
{
    pb_lmdb_session *session = tool->session;
    pb_lmdb_store *store = session->store;
    unsigned char app_buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    struct chunk c = {
        .store = store, .meter = &tool->meter, .access_id = access_id, .items = items, .n = n, .outcomes = outcomes, .now = pb_clock_unix_s()};
    const char *what = "import: out of memory";
    int rc = ENOMEM;

    if (n > UINT32_MAX)
        goto fail;
    c.by_token = malloc((n == 0 ? 1 : n) * sizeof(*c.by_token));
    c.by_account = malloc((n == 0 ? 1 : n) * sizeof(*c.by_account));
    if (c.by_token == NULL || c.by_account == NULL)
        goto fail;
    pb_want_huge_pages(c.by_token, n * sizeof(*c.by_token));
    pb_want_huge_pages(c.by_account, n * sizeof(*c.by_account));
    what = "import: begin";
    if ((rc = pb_lmdb_txn_start(session, 0, &c.txn)) != 0)
        goto fail;
    if ((rc = pb_lmdb_app_read(store, c.txn, access_id, app_buf, &app)) == MDB_NOTFOUND) {
        pb_lmdb_txn_done(session, c.txn, false);
        free(c.by_token);
        free(c.by_account);
        return PB_STORE_ENOTFOUND;
    }
    pb_lmdb_space space = {0};
    bool room;
    if (rc != 0 || (rc = pb_lmdb_seq_read(store, c.txn, &c.next_seq)) != 0 ||
        (rc = mdb_cursor_open(c.txn, store->tokens, &c.cursors[TOKENS_SIDE])) != 0 ||
        (rc = mdb_cursor_open(c.txn, store->accounts, &c.cursors[ACCOUNTS_SIDE])) != 0)
        goto fail;
    what = "import: write";
    meter_enter(c.meter, PB_IMPORT_SORTING, 0);
    if ((rc = apply_sorted(&c)) != 0)
        goto fail;
    if (c.created != 0) {
        app.bindings += c.created;
        if ((rc = pb_lmdb_app_write(store, c.txn, access_id, &app)) != 0 ||
            (rc = pb_lmdb_seq_write(store, c.txn, c.next_seq)) != 0)
            goto fail;
    }
    /* Binds stop short of the reserve that keeps unbinds working (space.c). */
    what = "import: store full, chunk not written (raise --map-size-mib)";
    if ((rc = pb_lmdb_space_check(store, &space, grown_bytes(&c), &room)) != 0)
        goto fail;
    if (!room) {
        rc = MDB_MAP_FULL;
        goto fail;
    }
    what = "import: commit";
    meter_enter(c.meter, PB_IMPORT_COMMITTING, 0);
    rc = pb_lmdb_txn_done(session, c.txn, true); /* a write transaction's cursors end with it */
    c.txn = NULL;
    if (rc != 0)
        goto fail;
    meter_enter(c.meter, PB_IMPORT_IDLE, 0);
    free(c.by_token);
    free(c.by_account);
    free(c.bound);
    free(c.repeats);
    return 0;

fail:
    if (c.txn != NULL)
        pb_lmdb_txn_done(session, c.txn, false);
    meter_enter(c.meter, PB_IMPORT_IDLE, 0);
    free(c.by_token);
    free(c.by_account);
    free(c.bound);
    free(c.repeats);
    pb_lmdb_set_error(session, what, rc);
    return PB_STORE_EIO;
}

pb_import_progress pb_lmdb_import_progress(const pb_lmdb_tool *tool)
{
    const pb_lmdb_import_meter *meter = &tool->meter;
    pb_import_progress progress = {atomic_load_explicit(&meter->stage, memory_order_relaxed),
                                   atomic_load_explicit(&meter->done, memory_order_relaxed),
                                   atomic_load_explicit(&meter->total, memory_order_relaxed)};
    if (progress.done > progress.total)
        progress.done = progress.total;
    return progress;
}
