/* test_import_line.c — NDJSON and CSV lines into bindings (import/line.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "import/import.h"

static const char *parse(pb_import_format format, const char *text, pb_import_line *line)
{
    return pb_import_line_parse(format, text, strlen(text), line);
}

static void assert_binding(const pb_import_line *line, const char *token, const char *account, uint32_t type)
{
    assert_true(line->token.is_string);
    assert_true(line->account.well_typed);
    assert_int_equal(line->token.token.len, strlen(token));
    assert_memory_equal(line->token.token.base, token, strlen(token));
    assert_int_equal(line->account.account.name.len, strlen(account));
    assert_memory_equal(line->account.account.name.base, account, strlen(account));
    assert_int_equal(line->account.account.type, type);
}

static void ndjson_reads_the_three_fields_in_any_order(void **state)
{
    pb_import_line line;
    assert_null(parse(PB_IMPORT_NDJSON, "{\"account_type\":7,\"account\":\"al\\\"ice\",\"token\":\"t1\"}", &line));
    assert_binding(&line, "t1", "al\"ice", 7);
}

static void ndjson_type_is_optional_and_null_means_zero(void **state)
{
    pb_import_line line;
    assert_null(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\"}", &line));
    assert_binding(&line, "t", "a", 0);
    assert_null(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\",\"account_type\":null}\r", &line));
    assert_binding(&line, "t", "a", 0);
}

static void ndjson_ignores_unknown_keys_at_any_depth(void **state)
{
    pb_import_line line;
    assert_null(parse(PB_IMPORT_NDJSON,
                      "{\"x\":{\"token\":\"no\"},\"token\":\"t\",\"y\":[1,{\"account\":\"no\"}],\"account\":\"a\"}", &line));
    assert_binding(&line, "t", "a", 0);
}

static void ndjson_shape_errors_are_named(void **state)
{
    pb_import_line line;
    assert_string_equal(parse(PB_IMPORT_NDJSON, "[1]", &line), "not a JSON object");
    assert_string_equal(parse(PB_IMPORT_NDJSON, "\"t\"", &line), "not a JSON object");
    assert_string_equal(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\"", &line), "not valid JSON");
    assert_string_equal(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\"} {}", &line), "not valid JSON");
    assert_string_equal(parse(PB_IMPORT_NDJSON, "{\"account\":\"a\"}", &line), "missing token");
    assert_string_equal(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\"}", &line), "missing account");
    assert_string_equal(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\",\"account_type\":1.5}", &line),
                        "account_type is not an integer in 0..2147483647");
    assert_string_equal(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\",\"account_type\":2147483648}",
                              &line),
                        "account_type is not an integer in 0..2147483647");
}

static void ndjson_wrong_types_reach_validation_as_invalid(void **state)
{
    pb_import_line line;
    assert_null(parse(PB_IMPORT_NDJSON, "{\"token\":5,\"account\":\"a\"}", &line));
    assert_false(line.token.is_string);
    assert_null(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":{\"n\":1}}", &line));
    assert_false(line.account.well_typed);
}

static void csv_reads_two_or_three_fields_with_quotes(void **state)
{
    pb_import_line line;
    assert_null(parse(PB_IMPORT_CSV, "t1,alice", &line));
    assert_binding(&line, "t1", "alice", 0);
    assert_null(parse(PB_IMPORT_CSV, "t1,\"smith, \"\"j\"\"\",1000\r", &line));
    assert_binding(&line, "t1", "smith, \"j\"", 1000);
    assert_null(parse(PB_IMPORT_CSV, "t1,,2", &line));
    assert_binding(&line, "t1", "", 2); /* the empty account is refused by validation */
}

static void csv_shape_errors_are_named(void **state)
{
    pb_import_line line;
    assert_string_equal(parse(PB_IMPORT_CSV, "t1", &line), "missing account");
    assert_string_equal(parse(PB_IMPORT_CSV, "t1,a,1,1,2,ios,x", &line), "more than six fields");
    assert_string_equal(parse(PB_IMPORT_CSV, "t1,\"a", &line), "unbalanced quote");
    assert_string_equal(parse(PB_IMPORT_CSV, "t1,\"a\"b", &line), "unbalanced quote");
    assert_string_equal(parse(PB_IMPORT_CSV, "t1,a,", &line), "account_type is not an integer in 0..2147483647");
    assert_string_equal(parse(PB_IMPORT_CSV, "t1,a,-1", &line), "account_type is not an integer in 0..2147483647");
    assert_string_equal(parse(PB_IMPORT_CSV, "t1,a,-", &line), "account_type is not an integer in 0..2147483647");
    assert_string_equal(parse(PB_IMPORT_CSV, "t1,a,2147483648", &line), "account_type is not an integer in 0..2147483647");
}

/* One rule with the API's decoder: an integer as JSON writes it, "-0" included. */
static void account_type_follows_the_apis_rule(void **state)
{
    (void)state;
    pb_import_line line;
    assert_null(parse(PB_IMPORT_CSV, "t1,a,-0", &line));
    assert_int_equal(line.account.account.type, 0);
    assert_null(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\",\"account_type\":-0}", &line));
    assert_int_equal(line.account.account.type, 0);
    assert_null(parse(PB_IMPORT_CSV, "t1,a,2147483647", &line));
    assert_int_equal(line.account.account.type, 2147483647u);
    assert_null(parse(PB_IMPORT_CSV, "t1,a,000000000000000000007", &line));
    assert_int_equal(line.account.account.type, 7);
}

static void times_and_platform_are_read_when_given(void **state)
{
    pb_import_line line;
    assert_null(parse(PB_IMPORT_NDJSON,
                      "{\"token\":\"t\",\"account\":\"a\",\"bind_time\":100,\"last_bind_time\":4294967295,"
                      "\"platform\":\"IOS\"}",
                      &line));
    assert_int_equal(line.times.bind_time, 100);
    assert_int_equal(line.times.last_bind_time, 4294967295LL);
    assert_int_equal(line.platform, PB_PLATFORM_IOS);
    assert_null(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\"}", &line));
    assert_int_equal(line.times.bind_time, 0);
    assert_int_equal(line.platform, PB_PLATFORM_NONE);
    assert_string_equal(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\",\"bind_time\":-1}", &line),
                        "bind_time / last_bind_time is not an integer in 0..4294967295");
    assert_string_equal(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\",\"last_bind_time\":4294967296}",
                              &line),
                        "bind_time / last_bind_time is not an integer in 0..4294967295");
    assert_string_equal(parse(PB_IMPORT_NDJSON, "{\"token\":\"t\",\"account\":\"a\",\"platform\":\"web\"}", &line),
                        "platform is not android or ios");

    assert_null(parse(PB_IMPORT_CSV, "t,a,1,100,200,android", &line));
    assert_binding(&line, "t", "a", 1);
    assert_int_equal(line.times.bind_time, 100);
    assert_int_equal(line.times.last_bind_time, 200);
    assert_int_equal(line.platform, PB_PLATFORM_ANDROID);
    assert_null(parse(PB_IMPORT_CSV, "t,a,1,,,", &line));
    assert_int_equal(line.times.last_bind_time, 0);
    assert_int_equal(line.platform, PB_PLATFORM_NONE);
    assert_string_equal(parse(PB_IMPORT_CSV, "t,a,1,1.5", &line),
                        "bind_time / last_bind_time is not an integer in 0..4294967295");
    assert_string_equal(parse(PB_IMPORT_CSV, "t,a,1,1,2,web", &line), "platform is not android or ios");
}

static void csv_header_is_recognised_in_any_case(void **state)
{
    assert_true(pb_import_line_is_csv_header("token,account,account_type", 26));
    assert_true(pb_import_line_is_csv_header("TOKEN,Account\r", 14));
    assert_false(pb_import_line_is_csv_header("token,alice", 11));
    assert_true(pb_import_line_is_csv_header("token,account,account_type,bind_time,last_bind_time,platform", 60));
    assert_true(pb_import_line_is_csv_header("token,account,account_type,bind_time", 36));
}

static void long_fields_are_cut_at_the_buffer(void **state)
{
    char text[3 * PB_IMPORT_FIELD_MAX];
    memset(text, 'x', sizeof(text));
    text[2 * PB_IMPORT_FIELD_MAX] = ',';
    text[sizeof(text) - 1] = '\0';
    pb_import_line line;
    assert_null(parse(PB_IMPORT_CSV, text, &line));
    assert_int_equal(line.token.token.len, PB_IMPORT_FIELD_MAX);
}

/* yajl's memory outgrows the line's arena: the parse must still be right, and free what it took. */
static void deep_nesting_and_long_escaped_strings_outgrow_the_arena(void **state)
{
    static char text[4 * PB_IMPORT_ARENA_BYTES];
    size_t n = 0, depth = 3000, escaped = 3000;
    n += (size_t)sprintf(text + n, "{\"x\":");
    for (size_t i = 0; i < depth; i++)
        text[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        text[n++] = ']';
    n += (size_t)sprintf(text + n, ",\"token\":\"t\",\"account\":\"");
    for (size_t i = 0; i < escaped; i++)
        n += (size_t)sprintf(text + n, "\\u0041");
    n += (size_t)sprintf(text + n, "\"}");
    pb_import_line line;
    assert_null(pb_import_line_parse(PB_IMPORT_NDJSON, text, n, &line));
    assert_int_equal(line.token.token.len, 1);
    assert_memory_equal(line.token.token.base, "t", 1);
    assert_int_equal(line.account.account.name.len, PB_IMPORT_FIELD_MAX);
    for (size_t i = 0; i < PB_IMPORT_FIELD_MAX; i++)
        assert_int_equal(line.account.account.name.base[i], 'A');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ndjson_reads_the_three_fields_in_any_order),
        cmocka_unit_test(ndjson_type_is_optional_and_null_means_zero),
        cmocka_unit_test(ndjson_ignores_unknown_keys_at_any_depth),
        cmocka_unit_test(ndjson_shape_errors_are_named),
        cmocka_unit_test(ndjson_wrong_types_reach_validation_as_invalid),
        cmocka_unit_test(csv_reads_two_or_three_fields_with_quotes),
        cmocka_unit_test(csv_shape_errors_are_named),
        cmocka_unit_test(account_type_follows_the_apis_rule),
        cmocka_unit_test(times_and_platform_are_read_when_given),
        cmocka_unit_test(csv_header_is_recognised_in_any_case),
        cmocka_unit_test(long_fields_are_cut_at_the_buffer),
        cmocka_unit_test(deep_nesting_and_long_escaped_strings_outgrow_the_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
