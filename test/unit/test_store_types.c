/*
 * test_store_types.c — the embedded store's account types of an app
 * (pb_store_account_types(), PB_LOOKUP_TYPES): one per type in increasing
 * order, never another app's, derived from the accounts' keys.
 */
#include "store_test.h"

/* The app's types as "0,7,1005" ("" when none), at most `max` (0: all), read in a fresh view. */
static const char *types_at_most(struct fixture *f, uint64_t app, size_t max)
{
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    uint32_t *types = NULL;
    size_t n = 99;
    assert_int_equal(pb_store_account_types(view, app, max, &f->pool, &types, &n), 0);
    pb_store_view_end(view);
    char *text = pb_pool_alloc(&f->pool, n * 12 + 1);
    size_t len = 0;
    text[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%s%u", i == 0 ? "" : ",", types[i]);
    return text;
}

static const char *types_of(struct fixture *f, uint64_t app)
{
    return types_at_most(f, app, 0);
}

static void an_app_without_bindings_uses_no_type(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(types_of(f, APP), "");
}

static void types_come_once_each_in_increasing_order(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a/1005,b/1005,c/7"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a/1005,a/1002,z"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t3", "max/2147483647"), PB_CHANGE_OK);
    assert_string_equal(types_of(f, APP), "0,7,1002,1005,2147483647");
}

static void at_most_max_types_come_the_smallest(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a/9,a/3,a/5,a/1"), PB_CHANGE_OK);
    assert_string_equal(types_at_most(f, APP, 2), "1,3");
    assert_string_equal(types_at_most(f, APP, 4), "1,3,5,9");
    assert_string_equal(types_at_most(f, APP, 5), "1,3,5,9");
}

static void another_apps_types_are_not_the_apps(void **state)
{
    struct fixture *f = *state;
    create_app(f, OTHER_APP);
    create_app(f, APP - 1);
    assert_int_equal(apply_to(f, APP - 1, PB_CHANGE_APPEND, "t", "a/3"), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_APPEND, "t", "a/4,a/0"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t", "a/5"), PB_CHANGE_OK);
    assert_string_equal(types_of(f, APP - 1), "3");
    assert_string_equal(types_of(f, APP), "5");
    assert_string_equal(types_of(f, OTHER_APP), "0,4");
}

/* The embedded store reads the types from the accounts themselves: a type left without accounts goes. */
static void a_type_whose_accounts_are_all_unbound_goes(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a/1,b/2,c/3"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_REMOVE, "t1", "b/2"), PB_CHANGE_OK);
    assert_string_equal(types_of(f, APP), "1,3");
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_TOKEN, "t1", ""), PB_CHANGE_OK);
    assert_string_equal(types_of(f, APP), "");
}

static void the_types_lookup_answers_at_once_with_the_same(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a/1005,a"), PB_CHANGE_OK);
    pb_store_lookup types = {.kind = PB_LOOKUP_TYPES, .access_id = APP, .result = -99}, done = {.result = -99};
    pb_store_lookup_start(f->session, &types, &f->pool, keep_lookup, &done);
    assert_int_equal(done.result, 0);
    assert_int_equal(done.n_types, 2);
    assert_int_equal(done.types[0], 0);
    assert_int_equal(done.types[1], 1005);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(an_app_without_bindings_uses_no_type),
        TEST(types_come_once_each_in_increasing_order),
        TEST(at_most_max_types_come_the_smallest),
        TEST(another_apps_types_are_not_the_apps),
        TEST(a_type_whose_accounts_are_all_unbound_goes),
        TEST(the_types_lookup_answers_at_once_with_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
