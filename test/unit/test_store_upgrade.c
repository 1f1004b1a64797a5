/*
 * test_store_upgrade.c — a data directory of layout 1 (before bind times),
 * written here with LMDB directly as that pushbind wrote it, upgraded in
 * place by pb_store_open() (store/lmdb/upgrade.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/lmdb/internal.h" /* the key layout, to write the old one */
#include "store/store.h"
#include "tmpdir.h"

#define APP 1500001048u
#define SECRET "1452fcebae9f3115ba794fb0fff2fd73"

struct fixture {
    char dir[64];
    MDB_env *env; /* the raw environment while the old store is written */
    MDB_txn *txn;
    MDB_dbi apps, meta, tokens, accounts;
    uint64_t seq;
    pb_store *store;
    pb_store_session *session;
    pb_pool pool;
};

static void raw_open(struct fixture *f)
{
    assert_int_equal(mdb_env_create(&f->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(f->env, 4), 0);
    assert_int_equal(mdb_env_set_mapsize(f->env, 256u << 20), 0);
    assert_int_equal(mdb_env_open(f->env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &f->txn), 0);
    assert_int_equal(mdb_dbi_open(f->txn, "apps", MDB_CREATE, &f->apps), 0);
    assert_int_equal(mdb_dbi_open(f->txn, "meta", MDB_CREATE, &f->meta), 0);
    assert_int_equal(mdb_dbi_open(f->txn, "tokens", MDB_CREATE | MDB_DUPSORT, &f->tokens), 0);
    assert_int_equal(mdb_dbi_open(f->txn, "accounts", MDB_CREATE | MDB_DUPSORT, &f->accounts), 0);
}

static void raw_close(struct fixture *f, uint64_t bindings)
{
    unsigned char app[PB_LMDB_APP_HEAD + sizeof(SECRET) - 1], id[8], seq[8];
    be64_put(app, 1700000000u);
    be64_put(app + 8, bindings);
    be32_put(app + 16, sizeof(SECRET) - 1);
    memcpy(app + PB_LMDB_APP_HEAD, SECRET, sizeof(SECRET) - 1);
    be64_put(id, APP);
    be64_put(seq, f->seq);
    MDB_val k = {8, id}, v = {sizeof(app), app}, seq_key = {3, "seq"}, seq_value = {8, seq};
    assert_int_equal(mdb_put(f->txn, f->apps, &k, &v, 0), 0);
    assert_int_equal(mdb_put(f->txn, f->meta, &seq_key, &seq_value, 0), 0);
    assert_int_equal(mdb_txn_commit(f->txn), 0);
    mdb_env_close(f->env);
    f->env = NULL;
}

/* A binding as layout 1 wrote it: tokens dup seq | account_type | name; accounts dup seq | token. */
static void old_bind(struct fixture *f, const char *token, const char *name, uint32_t type)
{
    pb_account account = {pb_str_from_cstr(name), type};
    unsigned char tkey[PB_LMDB_KEY_BUF], akey[PB_LMDB_KEY_BUF], tdup[PB_LMDB_KEY_BUF], adup[PB_LMDB_KEY_BUF];
    uint64_t seq = f->seq++;
    size_t tkey_len = token_key(tkey, APP, pb_str_from_cstr(token));
    size_t akey_len = account_key(akey, APP, &account);
    be64_put(tdup, seq);
    be32_put(tdup + 8, type);
    size_t tdup_len = bytes_put(tdup, 12, name, strlen(name));
    size_t adup_len = token_dup(adup, seq, pb_str_from_cstr(token));
    MDB_val k1 = {tkey_len, tkey}, d1 = {tdup_len, tdup}, k2 = {akey_len, akey}, d2 = {adup_len, adup};
    assert_int_equal(mdb_put(f->txn, f->tokens, &k1, &d1, 0), 0);
    assert_int_equal(mdb_put(f->txn, f->accounts, &k2, &d2, 0), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/pushbind-upgrade-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->seq = 1;
    pb_pool_init(&f->pool);
    raw_open(f);
    *state = f;
    return 0;
}

static void open_store(struct fixture *f)
{
    pb_store_config config = {.data_dir = f->dir, .map_size = 256u << 20, .limits = {32, 100}};
    char *err = NULL;
    f->store = pb_store_open(&config, &err);
    if (f->store == NULL)
        fail_msg("pb_store_open: %s", err != NULL ? err : "?");
    f->session = pb_store_session_open(f->store);
    assert_non_null(f->session);
}

static void close_store(struct fixture *f)
{
    pb_store_session_close(f->session);
    pb_store_close(f->store);
    f->session = NULL;
    f->store = NULL;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->store != NULL)
        close_store(f);
    pb_pool_clear(&f->pool);
    pb_test_remove_dir(f->dir);
    free(f);
    return 0;
}

static pb_account_list accounts_of(struct fixture *f, const char *token)
{
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    pb_str t = pb_str_from_cstr(token);
    pb_account_list list;
    assert_int_equal(pb_store_accounts_of(view, APP, &t, 1, true, &f->pool, &list), 0);
    /* The strings die with the view: keep copies in the pool. */
    for (size_t i = 0; i < list.n; i++)
        list.accounts[i].name = pb_pool_strdup(&f->pool, list.accounts[i].name);
    pb_store_view_end(view);
    return list;
}

static void assert_account(pb_account_list list, size_t i, const char *name, uint32_t type)
{
    assert_true(i < list.n);
    assert_int_equal(list.accounts[i].name.len, strlen(name));
    assert_memory_equal(list.accounts[i].name.base, name, strlen(name));
    assert_int_equal(list.accounts[i].type, type);
}

static uint64_t app_bindings;

static void remember_app(void *arg, const pb_app_info *app)
{
    (void)arg;
    app_bindings = app->bindings;
}

/* meta "layout" and "upgrade" as the store left them, read with LMDB directly. */
static void assert_layout_recorded(struct fixture *f)
{
    raw_open(f);
    MDB_val layout = {6, "layout"}, upgrade = {7, "upgrade"}, v;
    assert_int_equal(mdb_get(f->txn, f->meta, &layout, &v), 0);
    assert_int_equal(v.mv_size, 1);
    assert_int_equal(*(unsigned char *)v.mv_data, PB_LMDB_LAYOUT);
    assert_int_equal(mdb_get(f->txn, f->meta, &upgrade, &v), MDB_NOTFOUND);
    mdb_txn_abort(f->txn);
    mdb_env_close(f->env);
    f->env = NULL;
}

static void an_old_store_is_upgraded_keeping_every_binding_and_its_order(void **state)
{
    struct fixture *f = *state;
    old_bind(f, "t1", "a", 0);
    old_bind(f, "t1", "b", 1);
    old_bind(f, "t2", "a", 0);
    old_bind(f, "t0", "c", 0);
    old_bind(f, "t0", "a", 0);
    raw_close(f, 5);
    int64_t before = time(NULL);
    open_store(f);
    int64_t after = time(NULL);

    pb_account_list t0 = accounts_of(f, "t0"), t1 = accounts_of(f, "t1");
    assert_int_equal(t0.n, 2);
    assert_account(t0, 0, "c", 0);
    assert_account(t0, 1, "a", 0);
    assert_int_equal(t1.n, 2);
    assert_account(t1, 0, "a", 0);
    assert_account(t1, 1, "b", 1);
    assert_int_equal(t1.platform, PB_PLATFORM_NONE);
    for (size_t i = 0; i < t1.n; i++) {
        assert_true(t1.times[i].bind_time >= before && t1.times[i].bind_time <= after);
        assert_int_equal(t1.times[i].last_bind_time, t1.times[i].bind_time);
    }
    pb_store_view *view = pb_store_view_begin(f->session);
    pb_account a = {PB_STR_LIT("a"), 0};
    pb_token_list tokens;
    assert_int_equal(pb_store_tokens_of(view, APP, &a, 1, true, &f->pool, &tokens), 0);
    assert_int_equal(tokens.n, 3);
    const char *order[] = {"t1", "t2", "t0"};
    for (size_t i = 0; i < 3; i++)
        assert_memory_equal(tokens.tokens[i].base, order[i], 2);
    pb_store_view_end(view);

    /* And it is a working store of this layout: a bind appends after the old ones. */
    pb_account d = {PB_STR_LIT("d"), 0};
    pb_change change = {.kind = PB_CHANGE_APPEND, .token = PB_STR_LIT("t1"), .accounts = &d, .n_accounts = 1};
    pb_change_outcome outcome;
    assert_int_equal(pb_store_apply(f->session, APP, &change, 1, &outcome), 0);
    assert_int_equal(outcome, PB_CHANGE_OK);
    assert_account(accounts_of(f, "t1"), 2, "d", 0);
    assert_int_equal(pb_store_app_list(f->session, remember_app, NULL), 0);
    assert_int_equal(app_bindings, 6);
    close_store(f);
    assert_layout_recorded(f);
}

static void an_interrupted_upgrade_goes_on_after_its_last_key(void **state)
{
    struct fixture *f = *state;
    /* t1 was rewritten (and recorded) before the crash, t2 not yet. */
    unsigned char key[PB_LMDB_KEY_BUF], dup[PB_LMDB_KEY_BUF];
    struct binding_info info = {200, 100, PB_PLATFORM_IOS};
    pb_account a = {PB_STR_LIT("a"), 0};
    MDB_val k = {token_key(key, APP, PB_STR_LIT("t1")), key}, d = {account_dup(dup, f->seq, &info, &a), dup};
    assert_int_equal(mdb_put(f->txn, f->tokens, &k, &d, 0), 0);
    unsigned char adup[PB_LMDB_KEY_BUF], akey[PB_LMDB_KEY_BUF];
    MDB_val ak = {account_key(akey, APP, &a), akey}, ad = {token_dup(adup, f->seq++, PB_STR_LIT("t1")), adup};
    assert_int_equal(mdb_put(f->txn, f->accounts, &ak, &ad, 0), 0);
    MDB_val upgrade = {7, "upgrade"};
    assert_int_equal(mdb_put(f->txn, f->meta, &upgrade, &k, 0), 0);
    old_bind(f, "t2", "a", 0);
    old_bind(f, "t2", "bb", 7);
    raw_close(f, 3);
    open_store(f);

    pb_account_list t1 = accounts_of(f, "t1"), t2 = accounts_of(f, "t2");
    assert_int_equal(t1.n, 1);
    assert_int_equal(t1.times[0].bind_time, 100);
    assert_int_equal(t1.times[0].last_bind_time, 200);
    assert_int_equal(t1.platform, PB_PLATFORM_IOS);
    assert_int_equal(t2.n, 2);
    assert_account(t2, 0, "a", 0);
    assert_account(t2, 1, "bb", 7);
    assert_true(t2.times[1].bind_time > 200);
    close_store(f);
    assert_layout_recorded(f);
}

/* More bindings than one upgrade transaction takes (PB_LMDB_UPGRADE_BATCH, 100000). */
#define MANY_TOKENS 26000
#define ACCOUNTS_EACH 4

static void an_upgrade_larger_than_a_transaction_rewrites_every_key(void **state)
{
    struct fixture *f = *state;
    char token[32], name[32];
    for (unsigned t = 0; t < MANY_TOKENS; t++)
        for (unsigned i = 0; i < ACCOUNTS_EACH; i++) {
            snprintf(token, sizeof(token), "tok-%05u", t);
            snprintf(name, sizeof(name), "acct-%u-%u", t, ACCOUNTS_EACH - i);
            old_bind(f, token, name, i);
        }
    raw_close(f, MANY_TOKENS * ACCOUNTS_EACH);
    open_store(f);
    const unsigned probes[] = {0, 1, 24999, 25000, 25001, MANY_TOKENS - 1};
    for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
        snprintf(token, sizeof(token), "tok-%05u", probes[p]);
        pb_account_list list = accounts_of(f, token);
        assert_int_equal(list.n, ACCOUNTS_EACH);
        for (unsigned i = 0; i < ACCOUNTS_EACH; i++) {
            snprintf(name, sizeof(name), "acct-%u-%u", probes[p], ACCOUNTS_EACH - i);
            assert_account(list, i, name, i);
            assert_true(list.times[i].bind_time > 0);
        }
    }
    close_store(f);
    /* Every dup has the new shape: its name is where layout 2 puts it. */
    raw_open(f);
    MDB_cursor *cursor;
    MDB_val k, d;
    uint64_t n = 0;
    assert_int_equal(mdb_cursor_open(f->txn, f->tokens, &cursor), 0);
    for (int rc = mdb_cursor_get(cursor, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &d, MDB_NEXT)) {
        uint64_t seq;
        pb_account account;
        struct binding_info info;
        assert_true(account_dup_parse(d.mv_data, d.mv_size, &seq, &info, &account));
        assert_memory_equal(account.name.base, "acct-", 5);
        n++;
    }
    assert_int_equal(n, MANY_TOKENS * ACCOUNTS_EACH);
    mdb_cursor_close(cursor);
    mdb_txn_abort(f->txn);
    mdb_env_close(f->env);
    f->env = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_old_store_is_upgraded_keeping_every_binding_and_its_order, setup, teardown),
        cmocka_unit_test_setup_teardown(an_interrupted_upgrade_goes_on_after_its_last_key, setup, teardown),
        cmocka_unit_test_setup_teardown(an_upgrade_larger_than_a_transaction_rewrites_every_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
