/*
 * lmdb_import.c — pb_lmdb_import_chunk(): many single-account appends in one
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
 * The key layout is described in store/lmdb_keys.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/hugepages.h"
#include "store/lmdb_internal.h"
#include "store/lmdb_tools.h"

/*
 * One item in a sort by key: (type, name) for accounts, (0, token) for
 * tokens. The first 16 bytes of the key travel in the entry, so that most
 * comparisons never reach the item (a cache miss each).
 */
struct sort_entry {
    uint64_t head[2]; /* bytes 0–15, big-endian, zero-padded */
    uint32_t len;
    uint32_t type;
    uint32_t index; /* into items: ties keep item order */
    uint32_t unused;
};

#define ENTRY_HEAD_BYTES 16

/* Where the sorted bytes of an entry are: the token or the account name of its item. */
struct sort_context {
    const pb_import_item *items;
    bool by_account;
};

static const char *entry_bytes(const struct sort_context *ctx, const struct sort_entry *e)
{
    const pb_import_item *item = &ctx->items[e->index];
    return ctx->by_account ? item->account.name.base : item->token.base;
}

/* The bytes of two entries compare equal up to their shorter length. */
static int compare_tails(const struct sort_context *ctx, const struct sort_entry *a, const struct sort_entry *b)
{
    uint32_t len = a->len < b->len ? a->len : b->len;
    if (len <= ENTRY_HEAD_BYTES)
        return 0;
    return memcmp(entry_bytes(ctx, a) + ENTRY_HEAD_BYTES, entry_bytes(ctx, b) + ENTRY_HEAD_BYTES,
                  len - ENTRY_HEAD_BYTES);
}

/* LMDB's default order (bytes, then length), then item order. Zero padding
 * keeps the byte order because no valid token or account holds a NUL. */
static inline int compare_entries(const struct sort_entry *a, const struct sort_entry *b,
                                  const struct sort_context *ctx)
{
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    for (int i = 0; i < 2; i++)
        if (a->head[i] != b->head[i])
            return a->head[i] < b->head[i] ? -1 : 1;
    int c = compare_tails(ctx, a, b);
    if (c != 0)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Below this many entries a partition is finished by insertion sort. */
#define SORT_SMALL 16

static inline void swap_entries(struct sort_entry *a, struct sort_entry *b)
{
    struct sort_entry t = *a;
    *a = *b;
    *b = t;
}

/*
 * Quicksort (median of three, Hoare partition, recursion on the smaller side)
 * with the comparison inlined and entries moved as values: qsort() spends most
 * of a large chunk's time in calls and memmove of 32-byte elements. Entries
 * are all distinct (the index breaks ties), which the partition relies on.
 */
static void sort_entries(struct sort_entry *a, size_t n, const struct sort_context *ctx)
{
    while (n > SORT_SMALL) {
        size_t mid = n / 2;
        if (compare_entries(&a[mid], &a[0], ctx) < 0)
            swap_entries(&a[mid], &a[0]);
        if (compare_entries(&a[n - 1], &a[0], ctx) < 0)
            swap_entries(&a[n - 1], &a[0]);
        if (compare_entries(&a[n - 1], &a[mid], ctx) < 0)
            swap_entries(&a[n - 1], &a[mid]);
        struct sort_entry pivot = a[mid];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (compare_entries(&a[i], &pivot, ctx) < 0)
                i++;
            while (compare_entries(&pivot, &a[j], ctx) < 0)
                j--;
            if (i >= j)
                break;
            swap_entries(&a[i++], &a[j--]);
        }
        size_t left = j + 1; /* a[0..j] <= pivot <= a[j+1..n-1] */
        if (left < n - left) {
            sort_entries(a, left, ctx);
            a += left;
            n -= left;
        } else {
            sort_entries(a + left, n - left, ctx);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        struct sort_entry e = a[i];
        size_t j = i;
        for (; j > 0 && compare_entries(&e, &a[j - 1], ctx) < 0; j--)
            a[j] = a[j - 1];
        a[j] = e;
    }
}

static struct sort_entry entry_of(pb_str bytes, uint32_t type, size_t index)
{
    unsigned char head[ENTRY_HEAD_BYTES] = {0};
    memcpy(head, bytes.base, bytes.len < ENTRY_HEAD_BYTES ? bytes.len : ENTRY_HEAD_BYTES);
    return (struct sort_entry){{be64_get(head), be64_get(head + 8)}, (uint32_t)bytes.len, type, (uint32_t)index, 0};
}

static bool same_key(const struct sort_context *ctx, const struct sort_entry *a, const struct sort_entry *b)
{
    return a->type == b->type && a->len == b->len && a->head[0] == b->head[0] && a->head[1] == b->head[1] &&
           compare_tails(ctx, a, b) == 0;
}

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
    MDB_txn *txn;
    MDB_cursor *tokens, *accounts;
    uint64_t access_id;
    const pb_import_item *items;
    size_t n;
    pb_import_outcome *outcomes;
    struct sort_entry *by_token, *by_account;
    size_t n_by_account;
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

/*
 * Reads the accounts bound to the token of `key` into c->bound (pointing into
 * the map: valid while nothing is written). Returns 0 or an LMDB error.
 */
static int read_token_accounts(struct chunk *c, MDB_val *key, size_t *count)
{
    MDB_val dup;
    int rc = pb_lmdb_seek_dups(c->tokens, key, &dup, count);
    if (rc != 0 || (rc = bound_reserve(c, *count)) != 0)
        return rc;
    for (size_t i = 0; i < *count; i++) {
        uint64_t seq;
        if (i != 0 && (rc = mdb_cursor_get(c->tokens, key, &dup, MDB_NEXT_DUP)) != 0)
            return rc;
        if (!account_dup_parse(dup.mv_data, dup.mv_size, &seq, &c->bound[i].account))
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

/* Pass 1, one token's items in item order: present, token full, or a candidate (BOUND). */
static int decide_token(struct chunk *c, size_t first, size_t end)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    const pb_import_item *head = &c->items[c->by_token[first].index];
    MDB_val key = {token_key(buf, c->access_id, head->token), buf};
    size_t count;
    int rc = read_token_accounts(c, &key, &count);
    for (size_t i = first; rc == 0 && i < end; i++) {
        size_t index = c->by_token[i].index;
        const pb_account *account = &c->items[index].account;
        const struct bound_account *listed = find_bound(c->bound, count, account);
        if (listed != NULL) {
            c->outcomes[index] = PB_IMPORT_PRESENT;
            if (listed->candidate != STORED)
                rc = repeat_add(c, (uint32_t)index, listed->candidate);
        } else if (count >= c->store->limits.max_accounts_per_token) {
            c->outcomes[index] = PB_IMPORT_TOKEN_FULL;
        } else if ((rc = bound_reserve(c, count + 1)) == 0) {
            c->bound[count++] = (struct bound_account){*account, (uint32_t)index};
            c->outcomes[index] = PB_IMPORT_BOUND;
            c->by_account[c->n_by_account++] = entry_of(account->name, account->type, index);
        }
    }
    return rc;
}

/* Pass 2, one account's candidates in item order: room left, or account full. */
static int decide_account(struct chunk *c, size_t first, size_t end)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    MDB_val key = {account_key(buf, c->access_id, &c->items[c->by_account[first].index].account), buf}, dup;
    size_t count;
    int rc = pb_lmdb_seek_dups(c->accounts, &key, &dup, &count);
    for (size_t i = first; rc == 0 && i < end; i++) {
        size_t index = c->by_account[i].index;
        if (count >= c->store->limits.max_tokens_per_account)
            c->outcomes[index] = PB_IMPORT_ACCOUNT_FULL;
        else
            count++;
    }
    return rc;
}

/*
 * How far ahead of the loops over sorted entries the items and their strings
 * are fetched: in key order they are read at random, and each read would
 * otherwise be a cache miss the loop waits for.
 */
#define PREFETCH_ITEM 16
#define PREFETCH_TEXT 8

static inline void prefetch_ahead(const pb_import_item *items, const struct sort_entry *entries, size_t n, size_t i)
{
    if (i + PREFETCH_ITEM < n)
        __builtin_prefetch(&items[entries[i + PREFETCH_ITEM].index]);
    if (i + PREFETCH_TEXT < n) {
        const pb_import_item *item = &items[entries[i + PREFETCH_TEXT].index];
        __builtin_prefetch(item->token.base);
        __builtin_prefetch(item->account.name.base);
    }
}

/* Sorts `entries` and runs `decide` over each run of equal keys. */
static int for_each_key(struct chunk *c, struct sort_entry *entries, size_t n, bool by_account,
                        int (*decide)(struct chunk *c, size_t first, size_t end))
{
    struct sort_context ctx = {c->items, by_account};
    sort_entries(entries, n, &ctx);
    int rc = 0;
    for (size_t first = 0, end; rc == 0 && first < n; first = end) {
        for (end = first + 1; end < n && same_key(&ctx, &entries[first], &entries[end]); end++)
            ;
        prefetch_ahead(c->items, entries, n, end);
        rc = decide(c, first, end);
    }
    return rc;
}

/* Writes one side of a binding; `flags` as for mdb_cursor_put(). */
static int put_side(struct chunk *c, bool account_side, const pb_import_item *item, uint64_t seq, unsigned flags)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    MDB_val key, dup;
    if (account_side) {
        key = (MDB_val){account_key(kbuf, c->access_id, &item->account), kbuf};
        dup = (MDB_val){token_dup(dbuf, seq, item->token), dbuf};
    } else {
        key = (MDB_val){token_key(kbuf, c->access_id, item->token), kbuf};
        dup = (MDB_val){account_dup(dbuf, seq, &item->account), dbuf};
    }
    return mdb_cursor_put(account_side ? c->accounts : c->tokens, &key, &dup, flags);
}

/* Whether the database's last key sorts before the key `item` has on this side. */
static int after_last_key(struct chunk *c, bool account_side, const pb_import_item *item, bool *after)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF];
    MDB_val first = account_side ? (MDB_val){account_key(kbuf, c->access_id, &item->account), kbuf}
                                 : (MDB_val){token_key(kbuf, c->access_id, item->token), kbuf};
    MDB_val last, dup;
    int rc = mdb_cursor_get(account_side ? c->accounts : c->tokens, &last, &dup, MDB_LAST);
    *after = rc == MDB_NOTFOUND;
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    int cmp = memcmp(last.mv_data, first.mv_data, last.mv_size < first.mv_size ? last.mv_size : first.mv_size);
    *after = cmp < 0 || (cmp == 0 && last.mv_size < first.mv_size);
    return 0;
}

/*
 * Writes one side's new bindings in key order. When the first new key sorts
 * after every key already in the database (a migration into a new store, or
 * into the app with the highest AccessId), every put is an append, and LMDB is
 * told so (MDB_APPEND; MDB_APPENDDUP for a key's further dups, whose seqs
 * rise): it then skips the search and fills pages instead of splitting them.
 */
static int write_side(struct chunk *c, const struct sort_entry *entries, size_t n, bool account_side,
                      const uint64_t *seqs)
{
    struct sort_context ctx = {c->items, account_side};
    const struct sort_entry *previous = NULL;
    bool append = false;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t index = entries[i].index;
        prefetch_ahead(c->items, entries, n, i);
        if (c->outcomes[index] != PB_IMPORT_BOUND)
            continue;
        if (previous == NULL && (rc = after_last_key(c, account_side, &c->items[index], &append)) != 0)
            break;
        unsigned flags = !append ? 0 : previous != NULL && same_key(&ctx, previous, &entries[i]) ? MDB_APPENDDUP
                                                                                                  : MDB_APPEND;
        rc = put_side(c, account_side, &c->items[index], seqs[index], flags);
        previous = &entries[i];
    }
    return rc;
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
        unsigned char buf[PB_LMDB_KEY_BUF];
        MDB_val key = {token_key(buf, c->access_id, item->token), buf}, dup;
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
        key = (MDB_val){account_key(buf, c->access_id, &item->account), buf};
        if ((rc = pb_lmdb_seek_dups(c->accounts, &key, &dup, &tokens_of_account)) != 0)
            return rc;
        if (tokens_of_account >= c->store->limits.max_tokens_per_account) {
            c->outcomes[i] = PB_IMPORT_ACCOUNT_FULL;
            continue;
        }
        if ((rc = put_side(c, false, item, c->next_seq, 0)) != 0 || (rc = put_side(c, true, item, c->next_seq, 0)) != 0)
            return rc;
        c->outcomes[i] = PB_IMPORT_BOUND;
        c->next_seq++;
        c->created++;
    }
    return 0;
}

/* The two passes, then the writes in token order and in account order. */
static int apply_sorted(struct chunk *c)
{
    size_t n_by_token = 0;
    bool token_full = false, account_full = false;
    for (size_t i = 0; i < c->n; i++) {
        const pb_import_item *item = &c->items[i];
        if (!pb_lmdb_token_fits(c->store, item->token) || !pb_lmdb_account_fits(c->store, &item->account))
            c->outcomes[i] = PB_IMPORT_TOO_LONG;
        else
            c->by_token[n_by_token++] = entry_of(item->token, 0, i);
    }
    int rc = for_each_key(c, c->by_token, n_by_token, false, decide_token);
    if (rc != 0)
        return rc;
    if ((rc = for_each_key(c, c->by_account, c->n_by_account, true, decide_account)) != 0)
        return rc;
    for (size_t i = 0; i < c->n_repeats; i++)
        if (c->outcomes[c->repeats[i].candidate] != PB_IMPORT_BOUND)
            c->outcomes[c->repeats[i].item] = c->outcomes[c->repeats[i].candidate];

    uint64_t *seqs = malloc((c->n == 0 ? 1 : c->n) * sizeof(*seqs));
    if (seqs == NULL)
        return ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        token_full |= c->outcomes[i] == PB_IMPORT_TOKEN_FULL;
        account_full |= c->outcomes[i] == PB_IMPORT_ACCOUNT_FULL;
        if (c->outcomes[i] == PB_IMPORT_BOUND)
            seqs[i] = c->next_seq + c->created++;
    }
    if (token_full && account_full) {
        free(seqs);
        c->created = 0;
        return apply_in_item_order(c);
    }
    rc = write_side(c, c->by_token, n_by_token, false, seqs);
    if (rc == 0)
        rc = write_side(c, c->by_account, c->n_by_account, true, seqs);
    c->next_seq += c->created;
    free(seqs);
    return rc;
}

int pb_lmdb_import_chunk(pb_lmdb_session *session, uint64_t access_id, const pb_import_item *items, size_t n,
                         pb_import_outcome *outcomes)
{
    pb_lmdb_store *store = session->store;
    unsigned char app_buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    struct chunk c = {.store = store, .access_id = access_id, .items = items, .n = n, .outcomes = outcomes};
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
    if (rc != 0 || (rc = pb_lmdb_seq_read(store, c.txn, &c.next_seq)) != 0 ||
        (rc = mdb_cursor_open(c.txn, store->tokens, &c.tokens)) != 0 ||
        (rc = mdb_cursor_open(c.txn, store->accounts, &c.accounts)) != 0)
        goto fail;
    what = "import: write";
    if ((rc = apply_sorted(&c)) != 0)
        goto fail;
    if (c.created != 0) {
        app.bindings += c.created;
        if ((rc = pb_lmdb_app_write(store, c.txn, access_id, &app)) != 0 ||
            (rc = pb_lmdb_seq_write(store, c.txn, c.next_seq)) != 0)
            goto fail;
    }
    what = "import: commit";
    rc = pb_lmdb_txn_done(session, c.txn, true); /* a write transaction's cursors end with it */
    c.txn = NULL;
    if (rc != 0)
        goto fail;
    free(c.by_token);
    free(c.by_account);
    free(c.bound);
    free(c.repeats);
    return 0;

fail:
    if (c.txn != NULL)
        pb_lmdb_txn_done(session, c.txn, false);
    free(c.by_token);
    free(c.by_account);
    free(c.bound);
    free(c.repeats);
    pb_lmdb_set_error(session, what, rc);
    return PB_STORE_EIO;
}
