/*
 * test_store_space.c — the embedded store's reserve (store/lmdb/space.c): a
 * store that binds have filled can still be emptied, by every kind of unbind
 * and by `app remove`, and binds work again once there is room.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define APP 1500001048u
#define SECRET "1452fcebae9f3115ba794fb0fff2fd73"
#define MIB (1024u * 1024u)
#define ACCOUNTS 16 /* per token: each bind adds 16 bindings of ~100-byte accounts */

struct fixture {
    char dir[64];
    pb_store *store;
    pb_store_session *session;
    int tokens; /* tok-0 … tok-(tokens-1) are bound */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/pushbind-space-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    pb_store_config config = {.data_dir = f->dir, .map_size = 2 * MIB, .limits = {32, 100}};
    f->store = pb_store_open(&config, NULL);
    assert_non_null(f->store);
    f->session = pb_store_session_open(f->store);
    bool created;
    assert_int_equal(pb_store_app_put(f->session, APP, PB_STR_LIT(SECRET), &created), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[96];
    pb_store_session_close(f->session);
    pb_store_close(f->store);
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static pb_account account_of(char *buf, int token_no, int j)
{
    int len = sprintf(buf, "%0100d", token_no * ACCOUNTS + j);
    return (pb_account){.name = {buf, (size_t)len}};
}

static pb_str token_of(char *buf, int token_no)
{
    return (pb_str){buf, (size_t)sprintf(buf, "tok-%05d", token_no)};
}

/* Applies one change of `kind` to token `token_no` (its ACCOUNTS accounts, or `n` of them) and returns its outcome. */
static pb_change_outcome apply(struct fixture *f, pb_change_kind kind, int token_no, size_t n)
{
    char names[ACCOUNTS][104], token[32];
    pb_account accounts[ACCOUNTS];
    for (int j = 0; j < ACCOUNTS; j++)
        accounts[j] = account_of(names[j], token_no, j);
    pb_change change = {.kind = kind, .token = token_of(token, token_no), .accounts = accounts, .n_accounts = n};
    pb_change_outcome outcome = -1;
    int rc = pb_store_apply(f->session, APP, &change, 1, &outcome);
    if (rc != PB_STORE_OK)
        fail_msg("pb_store_apply: %d (%s)", rc, pb_store_session_error(f->session));
    return outcome;
}

/* Binds new tokens until the store refuses one; returns how many it took. */
static int fill(struct fixture *f)
{
    int taken = 0;
    for (;; taken++) {
        assert_true(taken < 10000);
        pb_change_outcome outcome = apply(f, PB_CHANGE_APPEND, f->tokens, ACCOUNTS);
        if (outcome == PB_CHANGE_NO_SPACE)
            return taken;
        assert_int_equal(outcome, PB_CHANGE_OK);
        f->tokens++;
    }
}

static size_t bound_to(struct fixture *f, int token_no)
{
    char token[32];
    pb_str t = token_of(token, token_no);
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    pb_account_list list;
    assert_int_equal(pb_store_accounts_of(view, APP, &t, 1, false, &pool, &list), 0);
    size_t n = list.n;
    pb_store_view_end(view);
    pb_pool_clear(&pool);
    return n;
}

static pb_store_space space_of(struct fixture *f)
{
    pb_store_space space;
    assert_int_equal(pb_store_space_of(f->session, &space), PB_STORE_OK);
    return space;
}

static void binds_stop_at_the_reserve(void **state)
{
    struct fixture *f = *state;
    pb_store_space empty = space_of(f);
    assert_int_equal(empty.capacity_bytes, 2 * MIB);
    assert_int_equal(empty.reserve_bytes, 1 * MIB);
    assert_true(fill(f) > 10);
    pb_store_space full = space_of(f);
    assert_true(full.size_bytes > empty.size_bytes);
    assert_true(full.size_bytes <= full.capacity_bytes - full.reserve_bytes);
    assert_int_equal(bound_to(f, f->tokens), 0); /* the refused bind left nothing */
    /* Re-sending what is bound grows nothing, so it is never refused. */
    assert_int_equal(apply(f, PB_CHANGE_APPEND, 0, ACCOUNTS), PB_CHANGE_OK);
    assert_int_equal(apply(f, PB_CHANGE_OVERWRITE, 0, ACCOUNTS), PB_CHANGE_OK);
}

static void every_unbind_succeeds_on_a_full_store_then_binds_fit_again(void **state)
{
    struct fixture *f = *state;
    fill(f);
    assert_int_equal(apply(f, PB_CHANGE_REMOVE, 0, ACCOUNTS), PB_CHANGE_OK);
    assert_int_equal(apply(f, PB_CHANGE_CLEAR_TOKEN, 1, 0), PB_CHANGE_OK);
    char name[104];
    pb_account account = account_of(name, 2, 0);
    pb_change clear = {.kind = PB_CHANGE_CLEAR_ACCOUNT, .accounts = &account, .n_accounts = 1};
    pb_change_outcome outcome = -1;
    assert_int_equal(pb_store_apply(f->session, APP, &clear, 1, &outcome), PB_STORE_OK);
    assert_int_equal(outcome, PB_CHANGE_OK);
    assert_int_equal(bound_to(f, 0), 0);
    assert_int_equal(bound_to(f, 1), 0);
    assert_int_equal(bound_to(f, 2), ACCOUNTS - 1);
    /* Shrinking by overwrite is an unbind too. */
    assert_int_equal(apply(f, PB_CHANGE_OVERWRITE, 3, 1), PB_CHANGE_OK);
    assert_int_equal(bound_to(f, 3), 1);

    assert_int_equal(apply(f, PB_CHANGE_APPEND, f->tokens, ACCOUNTS), PB_CHANGE_OK);
    assert_int_equal(bound_to(f, f->tokens), ACCOUNTS);
}

static void app_remove_succeeds_on_a_full_store(void **state)
{
    struct fixture *f = *state;
    fill(f);
    pb_store_space full = space_of(f);
    uint64_t removed = 0;
    assert_int_equal(pb_store_app_remove(f->session, APP, &removed), PB_STORE_OK);
    assert_int_equal(removed, (uint64_t)f->tokens * ACCOUNTS);
    assert_true(space_of(f).size_bytes < full.size_bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(binds_stop_at_the_reserve, setup, teardown),
        cmocka_unit_test_setup_teardown(every_unbind_succeeds_on_a_full_store_then_binds_fit_again, setup, teardown),
        cmocka_unit_test_setup_teardown(app_remove_succeeds_on_a_full_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
