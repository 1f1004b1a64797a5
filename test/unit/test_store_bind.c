/*
 * test_store_bind.c — the embedded store's binding changes against store.h's
 * contract and docs/API.md's batchoperate rules: append, overwrite, remove,
 * the clears, the limits, and how changes of one apply see each other.
 */
#include "store_test.h"

static void append_binds_accounts_in_list_order(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "c,a,b"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "c,a,b");
    assert_string_equal(tokens_of(f, "a"), "t1");
}

static void append_keeps_existing_binding_in_place(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "c,a"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,b,c");
    /* Re-binding a to t1 must not move t1 after t2 in a's list either. */
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
}

static void overwrite_replaces_accounts_keeping_order_of_kept_ones(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b,c"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t1", "e,b,d,a"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,b,e,d");
    assert_string_equal(tokens_of(f, "c"), "");
    assert_string_equal(tokens_of(f, "e"), "t1");
}

static void remove_requires_matching_type(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,a/1,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_REMOVE, "t1", "a/2"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,a/1,b");
    assert_int_equal(apply1(f, PB_CHANGE_REMOVE, "t1", "a/1,zz"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,b");
    assert_string_equal(tokens_of(f, "a/1"), "");
    assert_string_equal(tokens_of(f, "a"), "t1");
}

static void clear_token_unbinds_both_sides(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_TOKEN, "t1", ""), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "");
    assert_string_equal(tokens_of(f, "a"), "t2");
    assert_string_equal(tokens_of(f, "b"), "");
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_TOKEN, "never-bound", ""), PB_CHANGE_OK);
}

static void clear_account_unbinds_both_sides(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a/1,a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_ACCOUNT, "ignored", "a"), PB_CHANGE_OK);
    assert_string_equal(tokens_of(f, "a"), "");
    assert_string_equal(accounts_of(f, "t1"), "b");
    assert_string_equal(accounts_of(f, "t2"), "a/1");
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_ACCOUNT, "", "never-bound"), PB_CHANGE_OK);
}

static void token_limit_fails_whole_change_and_changes_nothing(void **state)
{
    struct fixture *f = *state; /* 3 accounts per token */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "c,d"), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t1", "a,c,d,e"), PB_CHANGE_OVER_LIMIT);
    assert_string_equal(accounts_of(f, "t1"), "a,b");
    assert_string_equal(tokens_of(f, "c"), "");
    assert_string_equal(tokens_of(f, "d"), "");
    /* Exactly at the limit is allowed. */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "b,c"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,b,c");
}

static void account_limit_fails_whole_change_and_changes_nothing(void **state)
{
    struct fixture *f = *state; /* 2 tokens per account */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t3", "b,a"), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t3", "b,a"), PB_CHANGE_OVER_LIMIT);
    assert_string_equal(accounts_of(f, "t3"), "");
    assert_string_equal(tokens_of(f, "b"), "");
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
    /* An account already bound to the token does not count again. */
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t2", "b,a"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t2"), "a,b");
}

static void failed_change_does_not_undo_earlier_changes_in_same_apply(void **state)
{
    struct fixture *f = *state; /* 3 accounts per token */
    pb_change changes[] = {
        make_change(f, PB_CHANGE_APPEND, "t1", "a,b"),
        make_change(f, PB_CHANGE_APPEND, "t1", "c,d"), /* 4 > 3 */
        make_change(f, PB_CHANGE_APPEND, "t2", "d"),
        make_change(f, PB_CHANGE_REMOVE, "t1", "a"),
    };
    pb_change_outcome outcomes[4] = {-1, -1, -1, -1};
    assert_int_equal(pb_store_apply(f->session, APP, changes, 4, outcomes), 0);
    assert_int_equal(outcomes[0], PB_CHANGE_OK);
    assert_int_equal(outcomes[1], PB_CHANGE_OVER_LIMIT);
    assert_int_equal(outcomes[2], PB_CHANGE_OK);
    assert_int_equal(outcomes[3], PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "b");
    assert_string_equal(accounts_of(f, "t2"), "d");
    assert_string_equal(tokens_of(f, "c"), "");
    assert_string_equal(tokens_of(f, "d"), "t2");
}

static void later_change_sees_earlier_one_in_same_apply(void **state)
{
    struct fixture *f = *state;
    pb_change changes[] = {
        make_change(f, PB_CHANGE_APPEND, "t1", "a"),
        make_change(f, PB_CHANGE_APPEND, "t2", "a"),
        make_change(f, PB_CHANGE_APPEND, "t1", "b,a"),
    };
    pb_change_outcome outcomes[3];
    assert_int_equal(pb_store_apply(f->session, APP, changes, 3, outcomes), 0);
    assert_string_equal(accounts_of(f, "t1"), "a,b");
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
}

static void same_name_different_type_are_different_accounts(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "13800000000/1,13800000000"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "13800000000/2"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "13800000000/1,13800000000");
    assert_string_equal(tokens_of(f, "13800000000"), "t1");
    assert_string_equal(tokens_of(f, "13800000000/1"), "t1");
    assert_string_equal(tokens_of(f, "13800000000/2"), "t2");
}

static void apps_are_isolated(void **state)
{
    struct fixture *f = *state;
    create_app(f, OTHER_APP);
    assert_int_equal(apply_to(f, APP, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_APPEND, "t1", "b"), PB_CHANGE_OK);
    assert_string_equal(accounts_in(f, APP, "t1"), "a");
    assert_string_equal(accounts_in(f, OTHER_APP, "t1"), "b");
    assert_string_equal(tokens_in(f, OTHER_APP, "a"), "");
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_CLEAR_TOKEN, "t1", ""), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_CLEAR_ACCOUNT, "", "a"), PB_CHANGE_OK);
    assert_string_equal(accounts_in(f, APP, "t1"), "a");
    assert_string_equal(tokens_in(f, APP, "a"), "t1");
}

/* docs/API.md: the overwrite example, then the query-by-token sample of the TPNS page. */
static void many_to_many_matches_spec_sample(void **state)
{
    struct fixture *f = *state;
    pb_change changes[] = {
        make_change(f, PB_CHANGE_OVERWRITE, "token1", "926@126.com,1527000000"),
        make_change(f, PB_CHANGE_OVERWRITE, "token2", "926@163.com,1527000001"),
    };
    pb_change_outcome outcomes[2];
    assert_int_equal(pb_store_apply(f->session, APP, changes, 2, outcomes), 0);
    assert_int_equal(outcomes[0], PB_CHANGE_OK);
    assert_int_equal(outcomes[1], PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "token1"), "926@126.com,1527000000");
    assert_string_equal(accounts_of(f, "token2"), "926@163.com,1527000001");

    /* The query page's by-account sample: token2 under both accounts. */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "token1", "account1"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "token2", "account1,account2"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "token3", "account2"), PB_CHANGE_OK);
    assert_string_equal(tokens_of(f, "account1"), "token1,token2");
    assert_string_equal(tokens_of(f, "account2"), "token2,token3");
}

static void apply_to_unknown_app_changes_nothing(void **state)
{
    struct fixture *f = *state;
    pb_change change = make_change(f, PB_CHANGE_APPEND, "t1", "a");
    pb_change_outcome outcome;
    assert_int_equal(pb_store_apply(f->session, 42, &change, 1, &outcome), PB_STORE_ENOTFOUND);
    create_app(f, 42);
    assert_string_equal(accounts_in(f, 42, "t1"), "");
    assert_string_equal(tokens_in(f, 42, "a"), "");
}

static void long_key_is_an_error_not_a_crash(void **state)
{
    struct fixture *f = *state;
    char token400[401], name400[401], huge[1001];
    memset(token400, 't', 400);
    token400[400] = '\0';
    memset(name400, 'n', 400);
    name400[400] = '\0';
    memset(huge, 'h', 1000);
    huge[1000] = '\0';

    assert_int_equal(apply1(f, PB_CHANGE_APPEND, token400, name400), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, token400), name400);
    assert_string_equal(tokens_of(f, name400), token400);

    assert_int_equal(apply1(f, PB_CHANGE_APPEND, huge, "a"), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", huge), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_ACCOUNT, "", huge), PB_CHANGE_OVER_LIMIT);
    assert_string_equal(accounts_of(f, "t1"), "");
    assert_string_equal(accounts_of(f, huge), "");
    assert_string_equal(tokens_of(f, huge), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(append_binds_accounts_in_list_order),
        TEST(append_keeps_existing_binding_in_place),
        TEST(overwrite_replaces_accounts_keeping_order_of_kept_ones),
        TEST(remove_requires_matching_type),
        TEST(clear_token_unbinds_both_sides),
        TEST(clear_account_unbinds_both_sides),
        TEST_LIMITS(token_limit_fails_whole_change_and_changes_nothing),
        TEST_LIMITS(account_limit_fails_whole_change_and_changes_nothing),
        TEST_LIMITS(failed_change_does_not_undo_earlier_changes_in_same_apply),
        TEST(later_change_sees_earlier_one_in_same_apply),
        TEST(same_name_different_type_are_different_accounts),
        TEST(apps_are_isolated),
        TEST(many_to_many_matches_spec_sample),
        TEST(apply_to_unknown_app_changes_nothing),
        TEST(long_key_is_an_error_not_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
