/*
 * The Redis backend's lookups (store/redis/lookup.h) reading replies of the
 * test's own making: the rows of docs/design.md's "Failure cases and why each
 * is safe" that are about reads. A node that gave no reply fails the lookup
 * (1008004); it never reads as "no such app" or "no bindings".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "redis_replies.h"
#include "store/redis/account_types.h"
#include "store/redis/app_records.h"
#include "store/redis/keyspace.h"
#include "store/redis/lookup.h"

#define ACCESS_ID 1500001048

typedef struct fixture {
    pb_redis_store store;
    pb_redis_conn conn; /* where a parse leaves its message */
    char *seed_host;
    uint16_t seed_port;
    pb_pool pool;
} fixture;

static int setup(void **state)
{
    fixture *x = calloc(1, sizeof(*x));
    x->seed_host = "127.0.0.1";
    x->seed_port = 1; /* never connected to */
    x->store.target = (pb_redis_target){.n_seeds = 1, .seed_hosts = &x->seed_host, .seed_ports = &x->seed_port,
                                        .timeout_ms = 2000};
    x->store.prefix = "pb";
    assert_int_equal(pb_redis_conn_init(&x->conn, &x->store.target), 0);
    pb_pool_init(&x->pool);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture *x = *state;
    pb_pool_clear(&x->pool);
    pb_redis_conn_free(&x->conn);
    free(x);
    return 0;
}

/* Authentication's node down: 1008004, not 1008003 — the app's existence is unknown, not denied. */
static void secret_without_a_reply_is_an_error_not_an_unknown_app(void **state)
{
    fixture *x = *state;
    pb_redis_cmd cmd;
    pb_str secret, keys;
    pb_redis_secret_cmd(&cmd, &x->pool, &x->store, ACCESS_ID);
    assert_int_equal(pb_redis_secret_parse(&x->conn, &cmd, &x->pool, &secret, &keys), PB_STORE_EIO);
    assert_string_not_equal(x->conn.error, "");
}

/* What "no such app" is: the record answered, without a secret. */
static void secret_of_an_app_without_a_record_is_not_found(void **state)
{
    fixture *x = *state;
    pb_redis_cmd cmd;
    pb_str secret, keys;
    pb_redis_secret_cmd(&cmd, &x->pool, &x->store, ACCESS_ID);
    cmd.reply = reply_new(REDIS_REPLY_NIL);
    assert_int_equal(pb_redis_secret_parse(&x->conn, &cmd, &x->pool, &secret, &keys), PB_STORE_ENOTFOUND);
    pb_redis_release(&cmd, 1);
}

/* A query by token whose node is down: 1008004, not an empty list. */
static void accounts_of_a_token_without_a_reply_fail_the_query(void **state)
{
    fixture *x = *state;
    pb_str token = PB_STR_LIT("tok");
    pb_redis_read how = pb_redis_read_of(&x->store, false);
    pb_redis_cmd cmd;
    pb_account_list out;
    pb_redis_accounts_cmds(&cmd, &x->pool, &x->store, ACCESS_ID, &token, 1, &how);
    assert_int_equal(pb_redis_accounts_parse(&x->conn, &x->store, &cmd, 1, &how, &x->pool, &out), PB_STORE_EIO);
}

/* A query by account whose tokens' node is down in the second round: 1008004, not fewer tokens. */
static void tokens_of_an_account_without_their_confirmation_fail_the_query(void **state)
{
    fixture *x = *state;
    pb_account alice = {PB_STR_LIT("alice"), 0};
    pb_redis_read how = pb_redis_read_of(&x->store, false);
    pb_redis_cmd index;
    pb_redis_candidates found;
    pb_token_list out;
    pb_redis_tokens_cmds(&index, &x->pool, &x->store, ACCESS_ID, &alice, 1);
    pb_str member = pb_redis_index_member(&x->pool, 7, PB_STR_LIT("tok"));
    index.reply = r_array(2, r_str(member.base, member.len), r_str("7", 1));
    assert_int_equal(pb_redis_tokens_checks(&x->conn, &x->store, ACCESS_ID, &alice, &index, 1, &how, &x->pool, &found),
                     0);
    assert_int_equal(found.n, 1);
    /* found.checks[0] got no reply */
    assert_int_equal(pb_redis_tokens_parse(&x->conn, &x->store, &index, 1, &found, &how, &x->pool, &out), PB_STORE_EIO);
    pb_redis_release(&index, 1);
}

static void account_types_come_sorted_and_a_malformed_member_is_skipped(void **state)
{
    fixture *x = *state;
    pb_redis_cmd cmd;
    uint32_t *types;
    size_t n;
    pb_redis_types_cmd(&cmd, &x->pool, &x->store, ACCESS_ID);
    assert_int_equal(cmd.argc, 2);
    assert_string_equal(cmd.argv[1], "pb:types:{1500001048}");
    cmd.reply = r_array(5, r_str("1005", 4), r_str("7", 1), r_str("x", 1), r_str("0", 1), r_str("2147483648", 10));
    assert_int_equal(pb_redis_types_parse(&x->conn, &cmd, 0, &x->pool, &types, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(types[0], 0);
    assert_int_equal(types[1], 7);
    assert_int_equal(types[2], 1005);
    /* At most 2: the smallest. */
    assert_int_equal(pb_redis_types_parse(&x->conn, &cmd, 2, &x->pool, &types, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(types[1], 7);
    pb_redis_release(&cmd, 1);
}

static void account_types_without_a_reply_fail_the_lookup(void **state)
{
    fixture *x = *state;
    pb_redis_cmd cmd;
    uint32_t *types;
    size_t n;
    pb_redis_types_cmd(&cmd, &x->pool, &x->store, ACCESS_ID);
    cmd.reply = r_error("LOADING Redis is loading the dataset in memory");
    assert_int_equal(pb_redis_types_parse(&x->conn, &cmd, 0, &x->pool, &types, &n), PB_STORE_EIO);
    pb_redis_release(&cmd, 1);
}

/* `app list`'s first round: the apps set's ids, increasing, a malformed member skipped. */
static void listed_apps_come_sorted_and_a_malformed_member_is_skipped(void **state)
{
    fixture *x = *state;
    pb_redis_cmd members;
    pb_redis_app_round round;
    pb_redis_apps_members_cmd(&members, &x->pool, &x->store);
    assert_string_equal(members.argv[1], "pb:apps");
    members.reply = r_array(4, r_str("1500001049", 10), r_str("x", 1), r_str("1500001048", 10), r_str("-1", 2));
    assert_int_equal(pb_redis_apps_records_cmds(&x->conn, &members, &x->pool, &x->store, &round), 0);
    assert_int_equal(round.n, 2);
    assert_int_equal(round.ids[0], 1500001048);
    assert_int_equal(round.ids[1], 1500001049);
    assert_string_equal(round.cmds[0].argv[1], "pb:app:{1500001048}");
    pb_redis_release(&members, 1);
}

static void an_apps_set_that_is_not_a_set_fails_the_list(void **state)
{
    fixture *x = *state;
    pb_redis_cmd members;
    pb_redis_app_round round;
    pb_redis_apps_members_cmd(&members, &x->pool, &x->store);
    members.reply = r_str("1500001048", 10);
    assert_int_equal(pb_redis_apps_records_cmds(&x->conn, &members, &x->pool, &x->store, &round), PB_STORE_EIO);
    assert_int_equal(round.n, 0);
    assert_string_equal(x->conn.error, "app list: not a set");
    pb_redis_release(&members, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(secret_without_a_reply_is_an_error_not_an_unknown_app, setup, teardown),
        cmocka_unit_test_setup_teardown(secret_of_an_app_without_a_record_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(accounts_of_a_token_without_a_reply_fail_the_query, setup, teardown),
        cmocka_unit_test_setup_teardown(tokens_of_an_account_without_their_confirmation_fail_the_query, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(account_types_come_sorted_and_a_malformed_member_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(account_types_without_a_reply_fail_the_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(listed_apps_come_sorted_and_a_malformed_member_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(an_apps_set_that_is_not_a_set_fails_the_list, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
