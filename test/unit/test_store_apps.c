/*
 * test_store_apps.c — the embedded store's apps: put, list with binding
 * counts, remove with their bindings, and the app and apps lookups.
 */
#include "store_test.h"

static void app_put_list_remove(void **state)
{
    struct fixture *f = *state;
    struct app_rows rows;
    bool created = true;
    pb_str secret;

    create_app(f, 7);
    assert_int_equal(pb_store_app_put(f->session, APP, PB_STR_LIT("new-secret"), &created), 0);
    assert_false(created);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_string_equal(list_apps(f, &rows), "7:0;1500001048:2;");

    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    assert_int_equal(pb_store_app_secret(view, APP, &secret), 0);
    assert_true(pb_str_eq(secret, PB_STR_LIT("new-secret")));
    assert_int_equal(pb_store_app_secret(view, 8, &secret), PB_STORE_ENOTFOUND);
    pb_store_view_end(view);

    uint64_t removed = 99;
    assert_int_equal(pb_store_app_remove(f->session, 7, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(pb_store_app_remove(f->session, 7, &removed), PB_STORE_ENOTFOUND);
    assert_string_equal(list_apps(f, &rows), "1500001048:2;");
}

static void app_list_counts_bindings(void **state)
{
    struct fixture *f = *state;
    struct app_rows rows;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b,c"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_string_equal(list_apps(f, &rows), "1500001048:4;");
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t1", "d"), PB_CHANGE_OK);
    assert_string_equal(list_apps(f, &rows), "1500001048:2;");
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_ACCOUNT, "", "a"), PB_CHANGE_OK);
    assert_string_equal(list_apps(f, &rows), "1500001048:1;");
}

static void app_put_rejects_oversized_secret(void **state)
{
    struct fixture *f = *state;
    char big[300];
    bool created;
    memset(big, 'x', sizeof(big));
    assert_int_equal(pb_store_app_put(f->session, 9, (pb_str){big, sizeof(big)}, &created), PB_STORE_EINVAL);
    assert_string_not_equal(pb_store_session_error(f->session), "");
}

static void app_remove_deletes_its_bindings_only(void **state)
{
    struct fixture *f = *state;
    struct app_rows rows;
    create_app(f, OTHER_APP);
    assert_int_equal(apply_to(f, APP, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, APP, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);

    uint64_t removed = 0;
    assert_int_equal(pb_store_app_remove(f->session, APP, &removed), 0);
    assert_int_equal(removed, 3);
    assert_string_equal(list_apps(f, &rows), "1500001049:1;");
    assert_string_equal(accounts_in(f, OTHER_APP, "t1"), "a");
    assert_string_equal(tokens_in(f, OTHER_APP, "a"), "t1");

    create_app(f, APP); /* comes back empty */
    assert_string_equal(accounts_in(f, APP, "t1"), "");
    assert_string_equal(tokens_in(f, APP, "a"), "");
}

static void app_lookup_reads_its_record(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    pb_store_lookup app = {.kind = PB_LOOKUP_APP, .access_id = APP}, done = {.result = -99};
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup_start(f->session, &app, &pool, keep_lookup, &done);
    assert_int_equal(done.result, 0);
    assert_int_equal(done.app.access_id, APP);
    assert_int_equal(done.app.bindings, 2);
    assert_true(done.app.created_at > 0);

    app = (pb_store_lookup){.kind = PB_LOOKUP_APP, .access_id = 8};
    pb_store_lookup_start(f->session, &app, &pool, keep_lookup, &done);
    assert_int_equal(done.result, PB_STORE_ENOTFOUND);
    pb_pool_clear(&pool);
}

static void apps_lookup_lists_every_app_with_its_count(void **state)
{
    struct fixture *f = *state;
    create_app(f, OTHER_APP);
    create_app(f, 7);
    assert_int_equal(apply_to(f, APP, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    pb_store_lookup apps = {.kind = PB_LOOKUP_APPS}, done = {.result = -99};
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup_start(f->session, &apps, &pool, keep_lookup, &done); /* the embedded store answers at once */
    assert_int_equal(done.result, 0);
    assert_int_equal(done.n_apps, 3);
    assert_int_equal(done.apps[0].access_id, 7); /* increasing access_id, as pb_store_app_list() */
    assert_int_equal(done.apps[0].bindings, 0);
    assert_int_equal(done.apps[1].access_id, APP);
    assert_int_equal(done.apps[1].bindings, 2);
    assert_int_equal(done.apps[2].access_id, OTHER_APP);
    assert_int_equal(done.apps[2].bindings, 1);
    assert_true(done.apps[2].created_at > 0);
    pb_pool_clear(&pool);
}

static void apps_lookup_of_an_empty_store_lists_nothing(void **state)
{
    struct fixture *f = *state;
    uint64_t removed;
    assert_int_equal(pb_store_app_remove(f->session, APP, &removed), 0);
    pb_store_lookup apps = {.kind = PB_LOOKUP_APPS}, done = {.result = -99};
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup_start(f->session, &apps, &pool, keep_lookup, &done);
    assert_int_equal(done.result, 0);
    assert_int_equal(done.n_apps, 0);
    pb_pool_clear(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(app_put_list_remove),
        TEST(app_list_counts_bindings),
        TEST(app_put_rejects_oversized_secret),
        TEST(app_remove_deletes_its_bindings_only),
        TEST(app_lookup_reads_its_record),
        TEST(apps_lookup_lists_every_app_with_its_count),
        TEST(apps_lookup_of_an_empty_store_lists_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
