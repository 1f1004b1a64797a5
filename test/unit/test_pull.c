/* test_pull.c — the pull's input lines, the answers it decodes and the order it binds in (src/pull/). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/codes.h"
#include "pull/answer.h"
#include "pull/group.h"
#include "pull/input.h"
#include "pull/tags.h"

static pb_pool pool;
static pb_api_config api;

static int setup(void **state)
{
    pb_pool_init(&pool);
    pb_api_config_defaults(&api);
    return 0;
}

static int teardown(void **state)
{
    pb_pool_clear(&pool);
    return 0;
}

static const char *parse(pb_pull_kind kind, const char *text, pb_pull_item *item)
{
    return pb_pull_input_parse(kind, &api, text, strlen(text), &pool, item);
}

static void assert_str(pb_str s, const char *expected)
{
    assert_int_equal(s.len, strlen(expected));
    assert_memory_equal(s.base, expected, s.len);
}

static void plain_account_line_is_the_whole_line_type_zero(void **state)
{
    pb_pull_item item;
    assert_null(parse(PB_PULL_BY_ACCOUNT, "jane doe@example.com\r", &item));
    assert_str(item.account.name, "jane doe@example.com");
    assert_int_equal(item.account.type, 0);
}

static void ndjson_account_line_takes_type_as_integer_or_digits(void **state)
{
    pb_pull_item item;
    assert_null(parse(PB_PULL_BY_ACCOUNT, "{\"account\":\"13800000000\",\"account_type\":1,\"x\":[1]}", &item));
    assert_str(item.account.name, "13800000000");
    assert_int_equal(item.account.type, 1);
    assert_null(parse(PB_PULL_BY_ACCOUNT, "{\"account\":\"a\\u00e9\",\"account_type\":\"2001\"}", &item));
    assert_str(item.account.name, "a\xc3\xa9");
    assert_int_equal(item.account.type, 2001);
}

static void bad_account_lines_say_what_is_wrong(void **state)
{
    pb_pull_item item;
    assert_string_equal(parse(PB_PULL_BY_ACCOUNT, "{\"account\":", &item), "not valid JSON");
    assert_string_equal(parse(PB_PULL_BY_ACCOUNT, "{\"token\":\"t\"}", &item), "missing account");
    assert_string_equal(parse(PB_PULL_BY_ACCOUNT, "{\"account\":7}", &item), "account is not a string");
    assert_string_equal(parse(PB_PULL_BY_ACCOUNT, "{\"account\":\"a\",\"account_type\":1.5}", &item),
                        "account_type is not an integer in 0..2147483647");
    assert_string_equal(parse(PB_PULL_BY_ACCOUNT, "{\"account\":\"a\",\"account_type\":2147483648}", &item),
                        "account_type is not an integer in 0..2147483647");
    assert_non_null(parse(PB_PULL_BY_ACCOUNT, "{\"account\":\"a\\u0000b\"}", &item));
    assert_non_null(parse(PB_PULL_BY_ACCOUNT, "{\"account\":\"\"}", &item));
    assert_non_null(parse(PB_PULL_BY_ACCOUNT, "tab\there", &item));
    assert_non_null(parse(PB_PULL_BY_ACCOUNT, "\xff\xfe", &item));
}

static void token_lines_follow_the_token_rule(void **state)
{
    pb_pull_item item;
    assert_null(parse(PB_PULL_BY_TOKEN, "0123abc_-:\r", &item));
    assert_str(item.token, "0123abc_-:");
    assert_non_null(parse(PB_PULL_BY_TOKEN, "with space", &item));
    char long_token[300];
    memset(long_token, 'x', sizeof(long_token) - 1);
    long_token[sizeof(long_token) - 1] = '\0';
    assert_non_null(parse(PB_PULL_BY_TOKEN, long_token, &item));
}

static const char *decode(pb_pull_kind kind, const char *body, const pb_pull_item *sent, size_t n, pb_pull_answer *out)
{
    return pb_pull_answer_parse(kind, body, strlen(body), sent, n, &pool, out);
}

static void answer_by_account_reads_lists_and_with_info(void **state)
{
    pb_pull_item sent[2] = {{.account = {PB_STR_LIT("a"), 0}}, {.account = {PB_STR_LIT("b"), 1}}};
    pb_pull_answer answer;
    assert_null(decode(PB_PULL_BY_ACCOUNT,
                       "{\"retCode\":1008026,\"errMsg\":\"x\",\"result\":[\"0\",\"10110008\"],\"account_tokens\":["
                       "{\"account\":\"a\",\"token_list\":[\"t1\",\"t2\"],\"token_info\":[{\"token\":\"t1\","
                       "\"platform\":\"ios\",\"bind_time\":5,\"last_bind_time\":9},{\"token\":\"t2\"}]},"
                       "{\"account\":\"b\",\"account_type\":1,\"token_list\":[]}]}",
                       sent, 2, &answer));
    assert_int_equal(answer.code, PB_ERR_PARTIAL);
    assert_int_equal(answer.entries[0].n, 2);
    assert_str(answer.entries[0].bindings[0].token, "t1");
    assert_str(answer.entries[0].bindings[0].platform, "ios");
    assert_int_equal(answer.entries[0].bindings[0].bind_time, 5);
    assert_int_equal(answer.entries[0].bindings[0].last_bind_time, 9);
    assert_int_equal(answer.entries[0].bindings[1].bind_time, 0);
    assert_int_equal(answer.entries[1].code, PB_ERR_NO_BINDING);
    assert_int_equal(answer.entries[1].n, 0);
}

static void answer_by_token_takes_ret_code_and_platform(void **state)
{
    pb_pull_item sent[1] = {{.token = PB_STR_LIT("t")}};
    pb_pull_answer answer;
    assert_null(decode(PB_PULL_BY_TOKEN,
                       "{\"ret_code\":0,\"result\":[\"0\"],\"token_accounts\":[{\"token\":\"t\",\"platform\":\"android\","
                       "\"account_list\":[{\"account\":\"x\",\"bind_time\":3},{\"account\":\"y\",\"account_type\":2}]}]}",
                       sent, 1, &answer));
    assert_int_equal(answer.entries[0].n, 2);
    assert_str(answer.entries[0].bindings[1].account.name, "y");
    assert_int_equal(answer.entries[0].bindings[1].account.type, 2);
    assert_str(answer.entries[0].bindings[1].platform, "android");
    assert_int_equal(answer.entries[0].bindings[0].bind_time, 3);
}

static void answer_is_decoded_strictly(void **state)
{
    pb_pull_item sent[1] = {{.account = {PB_STR_LIT("a"), 0}}};
    pb_pull_answer answer;
    assert_non_null(decode(PB_PULL_BY_ACCOUNT, "[]", sent, 1, &answer));
    assert_non_null(decode(PB_PULL_BY_ACCOUNT, "{\"errMsg\":\"ok\"}", sent, 1, &answer));
    assert_non_null(decode(PB_PULL_BY_ACCOUNT, "{\"retCode\":0,\"ret_code\":4}", sent, 1, &answer));
    assert_non_null(decode(PB_PULL_BY_ACCOUNT, "{\"retCode\":0,\"result\":[\"0\"],\"account_tokens\":[]}", sent, 1,
                           &answer));
    assert_non_null(decode(PB_PULL_BY_ACCOUNT,
                           "{\"retCode\":0,\"result\":[\"0\"],\"account_tokens\":[{\"account\":\"b\",\"token_list\":[]}]}",
                           sent, 1, &answer));
    assert_non_null(decode(PB_PULL_BY_ACCOUNT,
                           "{\"retCode\":0,\"result\":[0],\"account_tokens\":[{\"account\":\"a\",\"token_list\":[]}]}",
                           sent, 1, &answer));
    /* A request-level error has no entries to check. */
    assert_null(decode(PB_PULL_BY_ACCOUNT, "{\"retCode\":1008003,\"result\":[]}", sent, 1, &answer));
    assert_int_equal(answer.code, PB_ERR_AUTH);
    assert_null(answer.entries);
}

/* A by-account line answered with `tokens` (NULL-terminated). */
static pb_pull_line answered(const char *account, const char **tokens, const int64_t *times)
{
    pb_pull_entry *e = pb_pool_alloc(&pool, sizeof(*e));
    *e = (pb_pull_entry){.code = PB_OK};
    while (tokens[e->n] != NULL)
        e->n++;
    e->bindings = pb_pool_alloc(&pool, e->n * sizeof(*e->bindings));
    for (size_t i = 0; i < e->n; i++)
        e->bindings[i] = (pb_pull_binding){.token = pb_str_from_cstr(tokens[i]),
                                           .account = {pb_str_from_cstr(account), 0},
                                           .bind_time = times != NULL ? times[i] : 0};
    return (pb_pull_line){.item = {.account = {pb_str_from_cstr(account), 0}}, .entry = e};
}

static void group_by_account_orders_tokens_to_keep_every_chain(void **state)
{
    /* c: t0; a: t1 t3 t0; b: t1 t2 — t0 appears first but must come after t1 and t3. */
    pb_pull_line lines[3] = {answered("c", (const char *[]){"t0", NULL}, NULL),
                             answered("a", (const char *[]){"t1", "t3", "t0", NULL}, NULL),
                             answered("b", (const char *[]){"t1", "t2", NULL}, NULL)};
    pb_pull_changes changes;
    pb_pull_group(PB_PULL_BY_ACCOUNT, lines, 3, &pool, &changes);
    assert_int_equal(changes.n, 4);
    const char *order[] = {"t1", "t3", "t0", "t2"};
    for (size_t i = 0; i < 4; i++)
        assert_str(changes.changes[i].token, order[i]);
    assert_int_equal(changes.changes[2].n_accounts, 2);
    assert_str(changes.changes[2].accounts[0].name, "c");
    assert_str(changes.changes[2].accounts[1].name, "a");
    assert_int_equal(changes.n_lines[2], 2);
    assert_int_equal(changes.pairs, 6);
}

static void group_by_account_orders_a_tokens_accounts_by_bind_time(void **state)
{
    pb_pull_line lines[2] = {answered("x", (const char *[]){"t", NULL}, (int64_t[]){20}),
                             answered("y", (const char *[]){"t", NULL}, (int64_t[]){10})};
    pb_pull_changes changes;
    pb_pull_group(PB_PULL_BY_ACCOUNT, lines, 2, &pool, &changes);
    assert_int_equal(changes.n, 1);
    assert_str(changes.changes[0].accounts[0].name, "y");
    assert_str(changes.changes[0].accounts[1].name, "x");
}

static void group_survives_a_source_that_contradicts_itself(void **state)
{
    pb_pull_line lines[2] = {answered("a", (const char *[]){"t1", "t2", NULL}, NULL),
                             answered("b", (const char *[]){"t2", "t1", NULL}, NULL)};
    pb_pull_changes changes;
    pb_pull_group(PB_PULL_BY_ACCOUNT, lines, 2, &pool, &changes);
    assert_int_equal(changes.n, 2);
    assert_str(changes.changes[0].token, "t1");
    assert_str(changes.changes[1].token, "t2");
}

static void group_skips_failed_and_empty_lines(void **state)
{
    pb_pull_line lines[2] = {answered("a", (const char *[]){"t1", NULL}, NULL),
                             answered("b", (const char *[]){"t2", NULL}, NULL)};
    lines[0].failure = "refused";
    pb_pull_changes changes;
    pb_pull_group(PB_PULL_BY_ACCOUNT, lines, 2, &pool, &changes);
    assert_int_equal(changes.n, 1);
    assert_str(changes.changes[0].token, "t2");
    assert_int_equal(changes.lines_of[0][0], 1);
}

static void group_carries_the_sources_times_and_platform(void **state)
{
    pb_pull_line lines[3] = {answered("x", (const char *[]){"t", NULL}, (int64_t[]){20}),
                             answered("y", (const char *[]){"t", NULL}, (int64_t[]){10}),
                             answered("z", (const char *[]){"u", NULL}, NULL)};
    lines[0].entry->bindings[0].last_bind_time = 30;
    lines[1].entry->bindings[0].platform = PB_STR_LIT("IOS");
    pb_pull_changes changes;
    pb_pull_group(PB_PULL_BY_ACCOUNT, lines, 3, &pool, &changes);
    assert_int_equal(changes.n, 2);
    const pb_change *t = &changes.changes[0], *u = &changes.changes[1];
    assert_int_equal(t->platform, PB_PLATFORM_IOS);
    assert_non_null(t->times);
    /* y's last_bind_time was not given: now, as an import reads it. */
    assert_int_equal(t->times[0].bind_time, 10);
    assert_true(t->times[0].last_bind_time >= time(NULL) - 5);
    assert_int_equal(t->times[1].bind_time, 20);
    assert_int_equal(t->times[1].last_bind_time, 30);
    /* A source without times (TPNS): the store's own clock. */
    assert_null(u->times);
    assert_int_equal(u->platform, PB_PLATFORM_NONE);
}

static const char *decode_tags(const char *body, pb_pull_tag_target *targets, size_t n, pb_pull_tag_answer *out)
{
    return pb_pull_tag_answer_parse(body, strlen(body), &api, targets, n, &pool, out);
}

static void tag_answer_gives_each_token_its_tags_in_order(void **state)
{
    pb_pull_tag_target targets[] = {{.token = PB_STR_LIT("t1")}, {.token = PB_STR_LIT("t2")}};
    pb_pull_tag_answer answer;
    assert_null(decode_tags("{\"ret_code\":0,\"err_msg\":\"ok\",\"token_tags\":[{\"token\":\"t1\",\"tag_list\":"
                            "[\"vip\",\"level:3\"]},{\"token\":\"t2\",\"tag_list\":[]}]}",
                            targets, 2, &answer));
    assert_int_equal(answer.code, 0);
    assert_int_equal(targets[0].n_tags, 2);
    assert_str(targets[0].tags[0], "vip");
    assert_str(targets[0].tags[1], "level:3");
    assert_int_equal(targets[1].n_tags, 0);
    assert_null(targets[0].failure);
    /* A tag this store does not take fails its token alone. */
    pb_pull_tag_target one = {.token = PB_STR_LIT("t1")};
    assert_null(decode_tags("{\"ret_code\":0,\"token_tags\":[{\"token\":\"t1\",\"tag_list\":[\" lead\"]}]}",
                            &one, 1, &answer));
    assert_non_null(one.failure);
}

static void tag_answer_is_decoded_strictly_and_names_a_store_without_tags(void **state)
{
    pb_pull_tag_target t = {.token = PB_STR_LIT("t1")};
    pb_pull_tag_answer answer;
    assert_non_null(decode_tags("{\"ret_code\":0,\"token_tags\":[{\"token\":\"t9\",\"tag_list\":[]}]}", &t, 1,
                                &answer));
    assert_non_null(decode_tags("{\"ret_code\":0,\"token_tags\":[]}", &t, 1, &answer));
    assert_non_null(decode_tags("{\"ret_code\":0,\"token_tags\":[{\"token\":\"t1\",\"tag_list\":[7]}]}", &t, 1,
                                &answer));
    assert_non_null(decode_tags("{\"token_tags\":[]}", &t, 1, &answer));
    assert_non_null(decode_tags("[]", &t, 1, &answer));
    assert_null(decode_tags("{\"ret_code\":1008004,\"err_msg\":\"tags are not supported on this store\"}", &t, 1,
                            &answer));
    assert_true(answer.unsupported);
    assert_null(decode_tags("{\"ret_code\":1008004,\"err_msg\":\"internal error\"}", &t, 1, &answer));
    assert_false(answer.unsupported);
    assert_int_equal(answer.code, PB_ERR_STORE);
    assert_null(decode_tags("{\"retCode\":1008001,\"errMsg\":\"unknown path\"}", &t, 1, &answer));
    assert_int_equal(answer.code, 1008001);
}

static void tag_query_body_lists_the_tokens(void **state)
{
    pb_pull_tag_target targets[] = {{.token = PB_STR_LIT("t1")}, {.token = PB_STR_LIT("t\"2")}};
    pb_str body = pb_pull_tag_query_body(&pool, targets, 2);
    assert_str(body, "{\"operator_type\":1,\"token_list\":[\"t1\",\"t\\\"2\"]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(plain_account_line_is_the_whole_line_type_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(ndjson_account_line_takes_type_as_integer_or_digits, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_account_lines_say_what_is_wrong, setup, teardown),
        cmocka_unit_test_setup_teardown(token_lines_follow_the_token_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(answer_by_account_reads_lists_and_with_info, setup, teardown),
        cmocka_unit_test_setup_teardown(answer_by_token_takes_ret_code_and_platform, setup, teardown),
        cmocka_unit_test_setup_teardown(answer_is_decoded_strictly, setup, teardown),
        cmocka_unit_test_setup_teardown(group_by_account_orders_tokens_to_keep_every_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(group_by_account_orders_a_tokens_accounts_by_bind_time, setup, teardown),
        cmocka_unit_test_setup_teardown(group_survives_a_source_that_contradicts_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(group_skips_failed_and_empty_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(group_carries_the_sources_times_and_platform, setup, teardown),
        cmocka_unit_test_setup_teardown(tag_answer_gives_each_token_its_tags_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(tag_answer_is_decoded_strictly_and_names_a_store_without_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(tag_query_body_lists_the_tokens, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
