/*
 * test_import_chunk.c — the embedded store's bulk load (store/lmdb_import.c)
 * against a model of one-by-one appends: every outcome and every list,
 * oldest binding first, must be what the same lines sent as single APPENDs
 * would give. Random lines over few tokens and accounts hit the duplicates and
 * both limits; the scenarios cover each way the store may look beforehand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/lmdb/internal.h" /* a tool over the fixture's session */
#include "store/store.h"

#define APP 1500001048u
#define LOWER_APP 1500001047u
#define HIGHER_APP 1500001049u
#define SECRET "1452fcebae9f3115ba794fb0fff2fd73"

#define N_TOKENS 40
#define N_ACCOUNTS 24
#define MAX_LIST 64

/* Names: half share a prefix longer than the 16 bytes the sort compares first. */
static char token_names[N_TOKENS][48];
static char account_names[N_ACCOUNTS][48];

static pb_str token_str(int t)
{
    return pb_str_from_cstr(token_names[t]);
}

static pb_account account_of(int a)
{
    return (pb_account){pb_str_from_cstr(account_names[a]), (uint32_t)(a % 3)};
}

static void names_init(void)
{
    for (int t = 0; t < N_TOKENS; t++)
        snprintf(token_names[t], sizeof(token_names[t]), t % 2 ? "t%d" : "token-with-a-shared-prefix-%02d", t);
    for (int a = 0; a < N_ACCOUNTS; a++)
        snprintf(account_names[a], sizeof(account_names[a]), a % 2 ? "a%d" : "account-with-a-shared-prefix-%d", a / 3);
}

/* What single appends would have made: each list in binding order. */
struct model {
    int accounts_of[N_TOKENS][MAX_LIST], n_accounts_of[N_TOKENS];
    int tokens_of[N_ACCOUNTS][MAX_LIST], n_tokens_of[N_ACCOUNTS];
    pb_store_limits limits;
};

static pb_import_outcome model_append(struct model *m, int t, int a)
{
    for (int i = 0; i < m->n_accounts_of[t]; i++)
        if (m->accounts_of[t][i] == a)
            return PB_IMPORT_PRESENT;
    if ((uint32_t)m->n_accounts_of[t] >= m->limits.max_accounts_per_token)
        return PB_IMPORT_TOKEN_FULL;
    if ((uint32_t)m->n_tokens_of[a] >= m->limits.max_tokens_per_account)
        return PB_IMPORT_ACCOUNT_FULL;
    m->accounts_of[t][m->n_accounts_of[t]++] = a;
    m->tokens_of[a][m->n_tokens_of[a]++] = t;
    return PB_IMPORT_BOUND;
}

struct fixture {
    char dir[64];
    pb_store *store;
    pb_store_session *session;
    struct model model;
};

static struct fixture *fixture_new(uint32_t accounts_per_token, uint32_t tokens_per_account)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/pushbind-import-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->model.limits = (pb_store_limits){accounts_per_token, tokens_per_account};
    pb_store_config config = {.data_dir = f->dir, .map_size = 64u << 20, .limits = f->model.limits};
    char *err = NULL;
    f->store = pb_store_open(&config, &err);
    if (f->store == NULL)
        fail_msg("pb_store_open: %s", err != NULL ? err : "?");
    f->session = pb_store_session_open(f->store);
    assert_non_null(f->session);
    bool created;
    assert_int_equal(pb_store_app_put(f->session, APP, PB_STR_LIT(SECRET), &created), 0);
    return f;
}

static void fixture_free(struct fixture *f)
{
    pb_store_session_close(f->session);
    pb_store_close(f->store);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", f->dir);
    assert_int_equal(system(command), 0);
    free(f);
}

/* Imports `n` random lines in one chunk and checks each outcome against the model. */
static void import_random(struct fixture *f, size_t n, unsigned *seed)
{
    pb_import_item *items = calloc(n + 1, sizeof(*items));
    pb_import_outcome *outcomes = calloc(n + 1, sizeof(*outcomes));
    int *tokens = calloc(n + 1, sizeof(*tokens)), *accounts = calloc(n + 1, sizeof(*accounts));
    assert_true(items != NULL && outcomes != NULL && tokens != NULL && accounts != NULL);
    for (size_t i = 0; i < n; i++) {
        tokens[i] = rand_r(seed) % N_TOKENS;
        accounts[i] = rand_r(seed) % N_ACCOUNTS;
        items[i] = (pb_import_item){.token = token_str(tokens[i]), .account = account_of(accounts[i])};
    }
    assert_int_equal(pb_lmdb_import_chunk(&(pb_lmdb_tool){.session = pb_store_session_lmdb(f->session)}, APP, items, n, outcomes), 0);
    for (size_t i = 0; i < n; i++) {
        pb_import_outcome want = model_append(&f->model, tokens[i], accounts[i]);
        if (outcomes[i] != want)
            fail_msg("line %zu (%s, %s): outcome %d, single appends give %d", i, token_names[tokens[i]],
                     account_names[accounts[i]], outcomes[i], want);
    }
    free(items);
    free(outcomes);
    free(tokens);
    free(accounts);
}

/* Every list in the store, both ways, is the model's, in the same order. */
static void assert_store_is_model(struct fixture *f)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    pb_str tokens[N_TOKENS];
    pb_account accounts[N_ACCOUNTS];
    pb_account_list by_token[N_TOKENS];
    pb_token_list by_account[N_ACCOUNTS];
    for (int t = 0; t < N_TOKENS; t++)
        tokens[t] = token_str(t);
    for (int a = 0; a < N_ACCOUNTS; a++)
        accounts[a] = account_of(a);
    assert_int_equal(pb_store_accounts_of(view, APP, tokens, N_TOKENS, false, &pool, by_token), 0);
    assert_int_equal(pb_store_tokens_of(view, APP, accounts, N_ACCOUNTS, false, &pool, by_account), 0);
    for (int t = 0; t < N_TOKENS; t++) {
        assert_int_equal(by_token[t].n, f->model.n_accounts_of[t]);
        for (size_t i = 0; i < by_token[t].n; i++) {
            pb_account want = account_of(f->model.accounts_of[t][i]);
            assert_true(pb_account_eq(&by_token[t].accounts[i], &want));
        }
    }
    for (int a = 0; a < N_ACCOUNTS; a++) {
        assert_int_equal(by_account[a].n, f->model.n_tokens_of[a]);
        for (size_t i = 0; i < by_account[a].n; i++)
            assert_true(pb_str_eq(by_account[a].tokens[i], token_str(f->model.tokens_of[a][i])));
    }
    pb_store_view_end(view);
    pb_pool_clear(&pool);
}

/* Gives app `other` one binding on every token and account, through the API path. */
static void fill_other_app(struct fixture *f, uint64_t other)
{
    bool created;
    assert_int_equal(pb_store_app_put(f->session, other, PB_STR_LIT(SECRET), &created), 0);
    for (int t = 0; t < N_TOKENS; t++) {
        pb_account account = account_of(t % N_ACCOUNTS);
        pb_change change = {.kind = PB_CHANGE_APPEND, .token = token_str(t), .accounts = &account, .n_accounts = 1};
        pb_change_outcome outcome;
        assert_int_equal(pb_store_apply(f->session, other, &change, 1, &outcome), 0);
        assert_int_equal(outcome, 0);
    }
}

/* Chunks of several sizes (the smallest sorted without the helper thread), checked after each. */
static void import_chunks(struct fixture *f, unsigned seed)
{
    static const size_t sizes[] = {400, 3, 250, 1, 600};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        import_random(f, sizes[i], &seed);
        assert_store_is_model(f);
    }
}

/* An empty store: every key of the first chunk is appended. */
static void chunks_into_an_empty_store_match_single_appends(void **state)
{
    (void)state;
    static const pb_store_limits limits[] = {{3, 100}, {32, 4}, {3, 4}}; /* token limit, account limit, both */
    for (unsigned seed = 1; seed <= 10; seed++) {
        for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
            struct fixture *f = fixture_new(limits[i].max_accounts_per_token, limits[i].max_tokens_per_account);
            import_chunks(f, seed * 100 + (unsigned)i);
            fixture_free(f);
        }
    }
}

/* A later app holds keys after the chunk's: the app is empty, but nothing can be appended. */
static void chunks_before_another_apps_keys_match_single_appends(void **state)
{
    (void)state;
    static const pb_store_limits limits[] = {{3, 100}, {32, 4}, {3, 4}};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct fixture *f = fixture_new(limits[i].max_accounts_per_token, limits[i].max_tokens_per_account);
        fill_other_app(f, HIGHER_APP);
        import_chunks(f, 11 + (unsigned)i);
        fixture_free(f);
    }
}

/* An earlier app holds keys before the chunk's: the first chunk is appended after them. */
static void chunks_after_another_apps_keys_match_single_appends(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(3, 4);
    fill_other_app(f, LOWER_APP);
    import_chunks(f, 21);
    fixture_free(f);
}

/* Another app's bindings on the same tokens and accounts are neither counted nor changed. */
static void an_import_leaves_other_apps_alone(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(3, 4);
    fill_other_app(f, HIGHER_APP);
    unsigned seed = 31;
    import_random(f, 500, &seed);
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    for (int t = 0; t < N_TOKENS; t++) {
        pb_str token = token_str(t);
        pb_account_list list;
        pb_account want = account_of(t % N_ACCOUNTS);
        assert_int_equal(pb_store_accounts_of(view, HIGHER_APP, &token, 1, false, &pool, &list), 0);
        assert_int_equal(list.n, 1);
        assert_true(pb_account_eq(&list.accounts[0], &want));
    }
    pb_store_view_end(view);
    pb_pool_clear(&pool);
    fixture_free(f);
}

int main(void)
{
    names_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chunks_into_an_empty_store_match_single_appends),
        cmocka_unit_test(chunks_before_another_apps_keys_match_single_appends),
        cmocka_unit_test(chunks_after_another_apps_keys_match_single_appends),
        cmocka_unit_test(an_import_leaves_other_apps_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
