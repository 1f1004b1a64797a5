/*
 * test_store_read.c — the embedded store's reads: lookups answer in input
 * order, a view is a snapshot, sessions on several threads share one store,
 * and a ping answers.
 */
#include "store_test.h"

#include <pthread.h>

static void lookup_answers_each_item_in_input_order(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "b,a"), PB_CHANGE_OK);
    pb_str tokens[] = {PB_STR_LIT("t2"), PB_STR_LIT("nope"), PB_STR_LIT("t1")};
    pb_account_list lists[3];
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    assert_int_equal(pb_store_accounts_of(view, APP, tokens, 3, false, &f->pool, lists), 0);
    assert_int_equal(lists[0].n, 2);
    assert_true(pb_str_eq(lists[0].accounts[0].name, PB_STR_LIT("b")));
    assert_true(pb_str_eq(lists[0].accounts[1].name, PB_STR_LIT("a")));
    assert_int_equal(lists[1].n, 0);
    assert_int_equal(lists[2].n, 1);
    assert_true(pb_str_eq(lists[2].accounts[0].name, PB_STR_LIT("a")));
    pb_store_view_end(view);
}

static void view_is_a_snapshot(void **state)
{
    struct fixture *f = *state;
    pb_store_session *reader = pb_store_session_open(f->store);
    assert_non_null(reader);
    pb_store_view *view = pb_store_view_begin(reader);
    assert_non_null(view);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    pb_str token = PB_STR_LIT("t1");
    pb_account_list list;
    assert_int_equal(pb_store_accounts_of(view, APP, &token, 1, false, &f->pool, &list), 0);
    assert_int_equal(list.n, 0);
    pb_store_view_end(view);
    /* A view begun after apply() returned sees it (same reused read txn). */
    view = pb_store_view_begin(reader);
    assert_non_null(view);
    assert_int_equal(pb_store_accounts_of(view, APP, &token, 1, false, &f->pool, &list), 0);
    assert_int_equal(list.n, 1);
    pb_store_view_end(view);
    pb_store_session_close(reader);
}

/*
 * h2o's pool keeps freed chunks in a thread-local list that is lost when the
 * thread exits, so the pool is cleared by the main thread after the join.
 */
struct worker {
    pb_store *store;
    int no;
    int failures;
    pb_pool pool;
};

/* Binds token "w<no>-<i>" to account "w<no>" 20 times, reading after each. */
static void *bind_on_own_session(void *arg)
{
    struct worker *w = arg;
    pb_store_session *session = pb_store_session_open(w->store);
    if (session == NULL) {
        w->failures++;
        return NULL;
    }
    char name[16], token[32];
    snprintf(name, sizeof(name), "w%d", w->no);
    pb_account account = {pb_str_from_cstr(name), 0};
    for (int i = 0; i < 20; i++) {
        snprintf(token, sizeof(token), "w%d-%02d", w->no, i);
        pb_change change = {.kind = PB_CHANGE_APPEND, .token = pb_str_from_cstr(token), .accounts = &account, .n_accounts = 1};
        pb_change_outcome outcome;
        pb_token_list list;
        w->failures += pb_store_apply(session, APP, &change, 1, &outcome) != 0 || outcome != PB_CHANGE_OK;
        pb_store_view *view = pb_store_view_begin(session);
        w->failures += view == NULL || pb_store_tokens_of(view, APP, &account, 1, false, &w->pool, &list) != 0 ||
                       list.n != (size_t)i + 1 || !pb_str_eq(list.tokens[i], pb_str_from_cstr(token));
        if (view != NULL)
            pb_store_view_end(view);
    }
    pb_store_session_close(session);
    return NULL;
}

static void sessions_on_several_threads_share_one_store(void **state)
{
    struct fixture *f = *state;
    struct worker workers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct worker){f->store, i, 0, {0}};
        pb_pool_init(&workers[i].pool);
        assert_int_equal(pthread_create(&threads[i], NULL, bind_on_own_session, &workers[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        pb_pool_clear(&workers[i].pool);
        assert_int_equal(workers[i].failures, 0);
    }
    assert_string_equal(accounts_of(f, "w3-19"), "w3");
    struct app_rows rows;
    assert_string_equal(list_apps(f, &rows), "1500001048:80;");
}

static void ping_answers(void **state)
{
    struct fixture *f = *state;
    pb_store_lookup ping = {.kind = PB_LOOKUP_PING, .result = -99}, done = {.result = -99};
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup_start(f->session, &ping, &pool, keep_lookup, &done); /* the embedded store answers at once */
    assert_int_equal(done.result, 0);
    assert_string_equal(pb_store_session_error(f->session), "");
    pb_pool_clear(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(lookup_answers_each_item_in_input_order),
        TEST(view_is_a_snapshot),
        TEST(sessions_on_several_threads_share_one_store),
        TEST(ping_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
