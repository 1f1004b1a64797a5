/*
 * fuzz_store.c — libFuzzer target: a sequence of store changes, applied to
 * the LMDB store and to a small in-memory model of store.h's contract. After
 * every pb_store_apply() the two must agree on each change's outcome
 * (including limit refusals) and on every list: the accounts of each token
 * and the tokens of each account, in both apps, in the same order.
 *
 * Names come from small alphabets (4 tokens, 4 account names under 2 types)
 * and the limits are 3 and 3, so that inputs hit the binding limits, rebind
 * what is bound and cross apps often.
 *
 * Input: a stream of batches. A batch is one byte
 *   bits 0–2: change kind (mod 5) + 1, bit 3: app, bits 4–5: changes - 1 (mod 3)
 * then per change one byte (bits 0–1: token, bits 2–4: number of accounts,
 * mod 5) and one byte per account (bits 0–2: account).
 *
 * The store lives in a directory under $TMPDIR (or /dev/shm when it exists,
 * where fsync costs nothing), opened once per process and emptied at the
 * start of every input by removing and re-adding the apps.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_store: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define N_APPS 2
#define N_TOKENS 4
#define N_ACCOUNTS 8 /* 4 names x 2 types */
#define MAX_PER_TOKEN 3
#define MAX_PER_ACCOUNT 3
#define MAX_CHANGES 3
#define MAX_LISTED 4
#define MAX_BINDINGS (N_APPS * N_TOKENS * N_ACCOUNTS)

static const uint64_t app_ids[N_APPS] = {1500001048u, 1500001049u};
static const char *const token_names[N_TOKENS] = {"tok-a", "tok-b", "tok-c", "tok-d"};
static const char *const account_names[N_ACCOUNTS / 2] = {"alice", "bob", "13800000000", "x@y.z"};

static pb_account account_at(int i)
{
    return (pb_account){pb_str_from_cstr(account_names[i / 2]), (uint32_t)(i % 2)};
}

/* ---- the model: every binding, oldest first ---------------------------- */

typedef struct binding {
    int app, token, account;
} binding;

typedef struct model {
    binding b[MAX_BINDINGS];
    size_t n;
} model;

static bool model_bound(const model *m, int app, int token, int account)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->b[i].app == app && m->b[i].token == token && m->b[i].account == account)
            return true;
    return false;
}

static size_t model_count(const model *m, int app, int token, int account)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->b[i].app == app && (token < 0 || m->b[i].token == token) && (account < 0 || m->b[i].account == account))
            n++;
    return n;
}

/* Removes the bindings of `app` matching token (or any, < 0) and account (or any), keeping the order. */
static void model_unbind(model *m, int app, int token, int account)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->n; i++) {
        const binding *b = &m->b[i];
        if (b->app == app && (token < 0 || b->token == token) && (account < 0 || b->account == account))
            continue;
        m->b[kept++] = *b;
    }
    m->n = kept;
}

/* store.h: a change that would exceed a limit is refused whole (PB_CHANGE_OVER_LIMIT). */
static pb_change_outcome model_apply(model *m, int app, pb_change_kind kind, int token, const int *accounts, size_t n)
{
    size_t added = 0;
    if (kind == PB_CHANGE_APPEND || kind == PB_CHANGE_OVERWRITE) {
        for (size_t i = 0; i < n; i++) {
            if (model_bound(m, app, token, accounts[i]))
                continue;
            if (model_count(m, app, -1, accounts[i]) + 1 > MAX_PER_ACCOUNT)
                return PB_CHANGE_OVER_LIMIT;
            added++;
        }
    }
    switch (kind) {
    case PB_CHANGE_APPEND:
        if (added != 0 && model_count(m, app, token, -1) + added > MAX_PER_TOKEN)
            return PB_CHANGE_OVER_LIMIT;
        break;
    case PB_CHANGE_OVERWRITE:
        if (n > MAX_PER_TOKEN)
            return PB_CHANGE_OVER_LIMIT;
        for (int a = 0; a < N_ACCOUNTS; a++) {
            bool listed = false;
            for (size_t i = 0; i < n; i++)
                listed |= accounts[i] == a;
            if (!listed)
                model_unbind(m, app, token, a);
        }
        break;
    case PB_CHANGE_REMOVE:
        for (size_t i = 0; i < n; i++)
            model_unbind(m, app, token, accounts[i]);
        return PB_CHANGE_OK;
    case PB_CHANGE_CLEAR_TOKEN:
        model_unbind(m, app, token, -1);
        return PB_CHANGE_OK;
    case PB_CHANGE_CLEAR_ACCOUNT:
        model_unbind(m, app, -1, accounts[0]);
        return PB_CHANGE_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (!model_bound(m, app, token, accounts[i]))
            m->b[m->n++] = (binding){app, token, accounts[i]};
    return PB_CHANGE_OK;
}

/* ---- the store --------------------------------------------------------- */

typedef struct harness {
    char dir[256];
    pb_store *store;
    pb_store_session *session;
} harness;

static harness h;

static void remove_dir(void)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/data.mdb", h.dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", h.dir);
    unlink(path);
    rmdir(h.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(h.dir, sizeof(h.dir), "%s/pushbind-fuzz-store-%d", base, (int)getpid());
    pb_store_config config = {
        .data_dir = h.dir,
        .map_size = 64u * 1024 * 1024,
        .limits = {.max_accounts_per_token = MAX_PER_TOKEN, .max_tokens_per_account = MAX_PER_ACCOUNT},
    };
    char *err = NULL;
    h.store = pb_store_open(&config, &err);
    if (h.store == NULL) {
        fprintf(stderr, "fuzz_store: cannot open a store in %s: %s\n", h.dir, err ? err : "?");
        exit(1);
    }
    h.session = pb_store_session_open(h.store);
    CHECK(h.session != NULL);
    atexit(remove_dir);
    return 0;
}

static void reset_store(void)
{
    for (int a = 0; a < N_APPS; a++) {
        uint64_t removed;
        bool created;
        int rc = pb_store_app_remove(h.session, app_ids[a], &removed);
        CHECK(rc == PB_STORE_OK || rc == PB_STORE_ENOTFOUND);
        CHECK(pb_store_app_put(h.session, app_ids[a], PB_STR_LIT("0123456789abcdef0123456789abcdef"), &created) ==
              PB_STORE_OK);
    }
}

/* Every list of both apps, store against model. */
static void compare(const model *m)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_view *view = pb_store_view_begin(h.session);
    CHECK(view != NULL);
    pb_str tokens[N_TOKENS];
    pb_account accounts[N_ACCOUNTS];
    for (int t = 0; t < N_TOKENS; t++)
        tokens[t] = pb_str_from_cstr(token_names[t]);
    for (int a = 0; a < N_ACCOUNTS; a++)
        accounts[a] = account_at(a);
    for (int app = 0; app < N_APPS; app++) {
        pb_account_list by_token[N_TOKENS];
        pb_token_list by_account[N_ACCOUNTS];
        CHECK(pb_store_accounts_of(view, app_ids[app], tokens, N_TOKENS, false, &pool, by_token) == PB_STORE_OK);
        CHECK(pb_store_tokens_of(view, app_ids[app], accounts, N_ACCOUNTS, false, &pool, by_account) == PB_STORE_OK);
        for (int t = 0; t < N_TOKENS; t++) {
            size_t k = 0;
            for (size_t i = 0; i < m->n; i++) {
                if (m->b[i].app != app || m->b[i].token != t)
                    continue;
                CHECK(k < by_token[t].n);
                pb_account want = account_at(m->b[i].account);
                CHECK(pb_account_eq(&by_token[t].accounts[k], &want));
                k++;
            }
            CHECK(k == by_token[t].n);
        }
        for (int a = 0; a < N_ACCOUNTS; a++) {
            size_t k = 0;
            for (size_t i = 0; i < m->n; i++) {
                if (m->b[i].app != app || m->b[i].account != a)
                    continue;
                CHECK(k < by_account[a].n);
                CHECK(pb_str_eq(by_account[a].tokens[k], tokens[m->b[i].token]));
                k++;
            }
            CHECK(k == by_account[a].n);
        }
    }
    pb_store_view_end(view);
    pb_pool_clear(&pool);
}

/* Reads one batch from the input; returns its size in bytes, 0 at the end. */
static size_t run_batch(model *m, const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t used = 1;
    pb_change_kind kind = (pb_change_kind)(data[0] % 8 % 5 + 1);
    int app = (data[0] >> 3) & 1;
    size_t n_changes = (size_t)((data[0] >> 4) & 3) % MAX_CHANGES + 1;

    pb_change changes[MAX_CHANGES];
    pb_account listed[MAX_CHANGES][MAX_LISTED];
    int listed_idx[MAX_CHANGES][MAX_LISTED];
    int tokens[MAX_CHANGES];
    size_t n = 0;
    for (; n < n_changes && used < size; n++) {
        uint8_t head = data[used++];
        size_t want = (size_t)((head >> 2) & 7) % (MAX_LISTED + 1), k = 0;
        tokens[n] = head & 3;
        for (size_t i = 0; i < want && used < size; i++) {
            int a = data[used++] & 7;
            bool seen = false; /* store.h: `accounts` holds no duplicates */
            for (size_t j = 0; j < k; j++)
                seen |= listed_idx[n][j] == a;
            if (!seen) {
                listed_idx[n][k] = a;
                listed[n][k++] = account_at(a);
            }
        }
        if (kind == PB_CHANGE_CLEAR_ACCOUNT && k != 1) { /* store.h: exactly one account */
            listed_idx[n][0] = tokens[n] * 2 + (k & 1);
            listed[n][0] = account_at(listed_idx[n][0]);
            k = 1;
        }
        changes[n] = (pb_change){.kind = kind, .token = pb_str_from_cstr(token_names[tokens[n]]), .accounts = listed[n],
                                 .n_accounts = k};
    }

    pb_change_outcome outcomes[MAX_CHANGES];
    CHECK(pb_store_apply(h.session, app_ids[app], changes, n, outcomes) == PB_STORE_OK);
    for (size_t i = 0; i < n; i++)
        CHECK(outcomes[i] == model_apply(m, app, kind, tokens[i], listed_idx[i], changes[i].n_accounts));
    compare(m);
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    model m = {.n = 0};
    reset_store();
    for (size_t used; (used = run_batch(&m, data, size)) != 0;) {
        data += used;
        size -= used;
    }
    return 0;
}
