/* The PostgreSQL backend's URL, its statements' parameters and the decoding of their rows, tags' included (no server). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/postgres/store_state.h"

static void schema_is_taken_out_of_the_url(void **state)
{
    char *conninfo, schema[PB_PG_SCHEMA_MAX + 1];
    assert_null(pb_pg_url_parse("postgresql://u@h:5/db?pushbind_schema=dep-1.a&sslmode=disable", &conninfo, schema));
    assert_string_equal(conninfo, "postgresql://u@h:5/db?sslmode=disable");
    assert_string_equal(schema, "dep-1.a");
    free(conninfo);
    assert_null(pb_pg_url_parse("postgres://h1,h2/db?target_session_attrs=read-write&pushbind_schema=x", &conninfo,
                                schema));
    assert_string_equal(conninfo, "postgres://h1,h2/db?target_session_attrs=read-write");
    assert_string_equal(schema, "x");
    free(conninfo);
    assert_null(pb_pg_url_parse("postgresql://h/db?pushbind_schema=only", &conninfo, schema));
    assert_string_equal(conninfo, "postgresql://h/db");
    free(conninfo);
}

static void schema_defaults_to_pushbind(void **state)
{
    char *conninfo, schema[PB_PG_SCHEMA_MAX + 1];
    assert_null(pb_pg_url_parse("postgresql://h/db", &conninfo, schema));
    assert_string_equal(conninfo, "postgresql://h/db");
    assert_string_equal(schema, "pushbind");
    free(conninfo);
}

static void bad_schemas_and_schemes_are_refused(void **state)
{
    char *conninfo, schema[PB_PG_SCHEMA_MAX + 1];
    assert_non_null(pb_pg_url_parse("redis://h:1", &conninfo, schema));
    assert_non_null(pb_pg_url_parse("postgresql://h/db?pushbind_schema=", &conninfo, schema));
    assert_non_null(pb_pg_url_parse("postgresql://h/db?pushbind_schema=a\"b", &conninfo, schema));
    assert_non_null(pb_pg_url_parse("postgresql://h/db?pushbind_schema=a&pushbind_schema=b", &conninfo, schema));
    char long_url[200] = "postgresql://h/db?pushbind_schema=";
    memset(long_url + strlen(long_url), 'x', 64);
    assert_non_null(pb_pg_url_parse(long_url, &conninfo, schema));
    assert_null(conninfo);
}

/* The value of `key` in the connection string `conninfo`, read back by libpq (static storage), or NULL. */
static const char *conninfo_value(const char *conninfo, const char *key)
{
    static char value[512];
    PQconninfoOption *params = PQconninfoParse(conninfo, NULL);
    assert_non_null(params);
    const char *found = NULL;
    for (PQconninfoOption *p = params; p->keyword != NULL; p++)
        if (strcmp(p->keyword, key) == 0 && p->val != NULL) {
            snprintf(value, sizeof(value), "%s", p->val);
            found = value;
        }
    PQconninfoFree(params);
    return found;
}

static void sessions_ask_for_read_committed_and_a_client_check_keeping_the_urls_parameters(void **state)
{
    char *conninfo, error[256];
    unsetenv("PGOPTIONS");
    assert_null(pb_pg_conninfo("postgresql://u:p%27w%5Cd@h1:5,h2:6/db?sslmode=disable&options=-c%20search_path%3Dx",
                               &conninfo, error, sizeof(error)));
    assert_string_equal(conninfo_value(conninfo, "user"), "u");
    assert_string_equal(conninfo_value(conninfo, "password"), "p'w\\d");
    assert_string_equal(conninfo_value(conninfo, "host"), "h1,h2");
    assert_string_equal(conninfo_value(conninfo, "port"), "5,6");
    assert_string_equal(conninfo_value(conninfo, "dbname"), "db");
    assert_string_equal(conninfo_value(conninfo, "sslmode"), "disable");
    /* theirs between: the check of the client is theirs to change, the isolation not */
    assert_string_equal(conninfo_value(conninfo, "options"),
                        "-c client_connection_check_interval=1s -c search_path=x "
                        "-c default_transaction_isolation=read\\ committed");
    free(conninfo);
    assert_null(pb_pg_conninfo("postgres://h/db", &conninfo, error, sizeof(error)));
    assert_string_equal(conninfo_value(conninfo, "options"),
                        "-c client_connection_check_interval=1s -c default_transaction_isolation=read\\ committed");
    free(conninfo);
}

static void pgoptions_is_kept_when_the_url_has_no_options(void **state)
{
    char *conninfo, error[256];
    setenv("PGOPTIONS", "-c work_mem=8MB", 1);
    assert_null(pb_pg_conninfo("postgresql://h/db", &conninfo, error, sizeof(error)));
    assert_string_equal(conninfo_value(conninfo, "options"), "-c client_connection_check_interval=1s -c work_mem=8MB "
                                                             "-c default_transaction_isolation=read\\ committed");
    free(conninfo);
    assert_null(pb_pg_conninfo("postgresql://h/db?options=-c%20lock_timeout%3D5s", &conninfo, error, sizeof(error)));
    assert_string_equal(conninfo_value(conninfo, "options"), "-c client_connection_check_interval=1s -c lock_timeout=5s "
                                                             "-c default_transaction_isolation=read\\ committed");
    free(conninfo);
    unsetenv("PGOPTIONS");
}

static void a_url_libpq_cannot_read_is_refused_with_its_reason(void **state)
{
    char *conninfo, error[256];
    assert_ptr_equal(pb_pg_conninfo("postgresql://h/db?no_such_parameter=1", &conninfo, error, sizeof(error)), error);
    assert_null(conninfo);
    assert_non_null(strstr(error, "no_such_parameter"));
}

static pb_pg_store test_store(void)
{
    pb_pg_store store = {.limits = {32, 100}, .binding_ttl = 0};
    return store;
}

static void batch_arrays_escape_quotes_and_backslashes(void **state)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_pg_store store = test_store();
    pb_account accounts[] = {{PB_STR_LIT("a\"b"), 0}, {PB_STR_LIT("c\\d"), 2}};
    pb_binding_times times[] = {{10, 20}, {30, 40}};
    pb_change changes[] = {
        {.kind = PB_CHANGE_APPEND, .token = PB_STR_LIT("t,1"), .accounts = accounts, .n_accounts = 2,
         .platform = PB_PLATFORM_IOS, .times = times},
        {.kind = PB_CHANGE_CLEAR_ACCOUNT, .accounts = accounts, .n_accounts = 1},
    };
    pb_pg_query q;
    pb_pg_apply_query(&q, &store, 15, changes, 2, &pool);
    assert_int_equal(q.stmt, PB_PG_APPLY);
    assert_int_equal(q.n_values, 13);
    assert_string_equal(q.values[0], "15");
    assert_string_equal(q.values[2], "0");
    assert_string_equal(q.values[3], "32");
    assert_string_equal(q.values[4], "100");
    assert_string_equal(q.values[5], "{1,5}");
    assert_string_equal(q.values[6], "{\"t,1\",\"\"}");
    assert_string_equal(q.values[7], "{2,0}");
    assert_string_equal(q.values[8], "{2,1}");
    assert_string_equal(q.values[9], "{0,2,0}");
    assert_string_equal(q.values[10], "{\"a\\\"b\",\"c\\\\d\",\"a\\\"b\"}");
    assert_string_equal(q.values[11], "{10,30,NULL}");
    assert_string_equal(q.values[12], "{20,40,NULL}");
    pb_pool_clear(&pool);
}

static void empty_lists_are_empty_arrays(void **state)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_pg_store store = test_store();
    pb_store_lookup lookup = {.kind = PB_LOOKUP_ACCOUNTS_OF, .access_id = 7, .tokens = NULL, .n = 0};
    pb_pg_query q;
    pb_pg_lookup_query(&q, &store, &lookup, &pool);
    assert_int_equal(q.stmt, PB_PG_ACCOUNTS_OF);
    assert_string_equal(q.values[1], "{}");
    pb_pool_clear(&pool);
}

/* A result as the server would send it: text columns, NULL where `null`. */
static PGresult *result_of(int rows, int cols, const char *const *cells)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[8];
    memset(attrs, 0, sizeof(attrs));
    for (int c = 0; c < cols; c++)
        attrs[c].name = (char *)"c";
    assert_true(PQsetResultAttrs(res, cols, attrs));
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            const char *v = cells[r * cols + c];
            assert_true(PQsetvalue(res, r, c, (char *)v, v != NULL ? (int)strlen(v) : -1));
        }
    return res;
}

static void token_rows_are_grouped_by_input_account(void **state)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_account accounts[] = {{PB_STR_LIT("a"), 0}, {PB_STR_LIT("b"), 0}, {PB_STR_LIT("c"), 0}};
    pb_store_lookup lookup = {.kind = PB_LOOKUP_TOKENS_OF, .accounts = accounts, .n = 3, .with_info = true};
    const char *cells[] = {"1", "t1", "10", "11", "1", "1", "t2", "12", "13", "2", "3", "t3", "14", "15", "0"};
    PGresult *res = result_of(3, 5, cells);
    pb_pg_lookup_decode(&lookup, res, &pool);
    PQclear(res);
    assert_int_equal(lookup.result, PB_STORE_OK);
    assert_int_equal(lookup.token_lists[0].n, 2);
    assert_int_equal(lookup.token_lists[1].n, 0);
    assert_int_equal(lookup.token_lists[2].n, 1);
    assert_true(pb_str_eq(lookup.token_lists[0].tokens[1], PB_STR_LIT("t2")));
    assert_int_equal(lookup.token_lists[0].times[1].bind_time, 12);
    assert_int_equal(lookup.token_lists[0].times[1].last_bind_time, 13);
    assert_int_equal(lookup.token_lists[0].platforms[0], PB_PLATFORM_ANDROID);
    assert_int_equal(lookup.token_lists[0].platforms[1], PB_PLATFORM_IOS);
    assert_int_equal(lookup.token_lists[2].platforms[0], PB_PLATFORM_NONE);
    pb_pool_clear(&pool);
}

static void account_rows_out_of_range_fail(void **state)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_str tokens[] = {PB_STR_LIT("t")};
    pb_store_lookup lookup = {.kind = PB_LOOKUP_ACCOUNTS_OF, .tokens = tokens, .n = 1};
    const char *cells[] = {"2", "0", "a"};
    PGresult *res = result_of(1, 3, cells);
    pb_pg_lookup_decode(&lookup, res, &pool);
    PQclear(res);
    assert_int_equal(lookup.result, PB_STORE_EIO);
    pb_pool_clear(&pool);
}

static void batch_answer_is_read(void **state)
{
    pb_change_outcome outcomes[3];
    const char *ok[] = {"{0,1,2,5}"};
    PGresult *res = result_of(1, 1, ok);
    assert_int_equal(pb_pg_apply_decode(res, 3, outcomes), PB_STORE_OK);
    PQclear(res);
    assert_int_equal(outcomes[0], PB_CHANGE_OK);
    assert_int_equal(outcomes[1], PB_CHANGE_OVER_LIMIT);
    assert_int_equal(outcomes[2], PB_CHANGE_FAILED);
    const char *missing[] = {NULL};
    res = result_of(1, 1, missing);
    assert_int_equal(pb_pg_apply_decode(res, 3, outcomes), PB_STORE_ENOTFOUND);
    PQclear(res);
    const char *short_answer[] = {"{0}"};
    res = result_of(1, 1, short_answer);
    assert_int_equal(pb_pg_apply_decode(res, 3, outcomes), PB_STORE_EIO);
    PQclear(res);
    assert_int_equal(pb_pg_apply_decode(NULL, 3, outcomes), PB_STORE_EIO);
}

static void tag_requests_send_what_their_kind_reads(void **state)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_pg_store store = test_store();
    pb_str tags[] = {PB_STR_LIT("vip"), PB_STR_LIT("level:\"3\"")}, tokens[] = {PB_STR_LIT("t1"), PB_STR_LIT("t2")};
    pb_tag_write add = {.kind = PB_TAG_ADD, .tags = tags, .tokens = tokens, .n = 2, .platform = PB_PLATFORM_IOS,
                        .max_tags_per_token = 100, .max_tags_per_app = 10000};
    pb_pg_query q;
    pb_pg_tag_apply_query(&q, &store, 15, &add, &pool);
    assert_int_equal(q.stmt, PB_PG_TAG_APPLY);
    assert_int_equal(q.n_values, 13);
    assert_string_equal(q.values[5], "1");
    assert_string_equal(q.values[6], "{\"vip\",\"level:\\\"3\\\"\"}");
    assert_string_equal(q.values[7], "{\"t1\",\"t2\"}");
    assert_string_equal(q.values[8], "f");
    assert_string_equal(q.values[9], "2");
    assert_string_equal(q.values[10], "{}");
    assert_string_equal(q.values[11], "100");
    assert_string_equal(q.values[12], "10000");
    int64_t since[] = {100, 200};
    bool kept[2];
    pb_tag_write invalidate = {.kind = PB_TAG_INVALIDATE, .tokens = tokens, .n = 2, .invalid_since = since,
                               .kept = kept};
    pb_pg_tag_apply_query(&q, &store, 15, &invalidate, &pool);
    assert_string_equal(q.values[6], "{}");
    assert_string_equal(q.values[7], "{\"t1\",\"t2\"}");
    assert_string_equal(q.values[10], "{100,200}");
    pb_tag_write clear = {.kind = PB_TAG_CLEAR_TOKEN, .tokens = tokens, .n = 0};
    pb_pg_tag_apply_query(&q, &store, 15, &clear, &pool);
    assert_string_equal(q.values[6], "{}");
    assert_string_equal(q.values[7], "{\"t1\"}");
    pb_tag_write delete_all = {.kind = PB_TAG_DELETE_ALL, .tags = tags, .n = 1};
    pb_pg_tag_apply_query(&q, &store, 15, &delete_all, &pool);
    assert_string_equal(q.values[6], "{\"vip\"}");
    assert_string_equal(q.values[7], "{}");
    pb_pool_clear(&pool);
}

static int tag_answer(pb_tag_write *write, const char *answer)
{
    const char *cells[] = {answer};
    PGresult *res = result_of(1, 1, cells);
    int rc = pb_pg_tag_apply_decode(res, write);
    PQclear(res);
    return rc;
}

static void tag_answers_are_read(void **state)
{
    bool kept[2] = {false, true};
    pb_tag_write invalidate = {.kind = PB_TAG_INVALIDATE, .n = 2, .kept = kept};
    assert_int_equal(tag_answer(&invalidate, "{0,0,0,1,0}"), PB_STORE_OK);
    assert_int_equal(invalidate.outcome, PB_TAG_OK);
    assert_true(kept[0]);
    assert_false(kept[1]);
    assert_int_equal(tag_answer(&invalidate, "{0,0,0,1}"), PB_STORE_EIO);     /* a flag short */
    assert_int_equal(tag_answer(&invalidate, "{0,0,0,1,0,1}"), PB_STORE_EIO); /* one too many */
    pb_tag_write add = {.kind = PB_TAG_ADD, .n = 9};
    assert_int_equal(tag_answer(&add, "{1,4,0}"), PB_STORE_OK);
    assert_int_equal(add.outcome, PB_TAG_OVER_TOKEN_LIMIT);
    assert_int_equal(add.at, 4);
    assert_int_equal(tag_answer(&add, "{2,7,0}"), PB_STORE_OK);
    assert_int_equal(add.outcome, PB_TAG_OVER_APP_LIMIT);
    assert_int_equal(add.at, 7);
    assert_int_equal(tag_answer(&add, NULL), PB_STORE_ENOTFOUND);
    assert_int_equal(tag_answer(&add, "{0,0}"), PB_STORE_EIO);
    assert_int_equal(pb_pg_tag_apply_decode(NULL, &add), PB_STORE_EIO);
}

static void tag_rows_are_cut_into_lists_and_pages(void **state)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_str tokens[] = {PB_STR_LIT("a"), PB_STR_LIT("b"), PB_STR_LIT("c")};
    pb_tag_lookup tags_of = {.kind = PB_TAG_LOOKUP_TAGS_OF, .tokens = tokens, .n = 3};
    const char *rows[] = {"1", "vip", "1", "x:1", "3", "y"};
    PGresult *res = result_of(3, 2, rows);
    pb_pg_tag_lookup_decode(&tags_of, res, &pool);
    PQclear(res);
    assert_int_equal(tags_of.result, PB_STORE_OK);
    assert_int_equal(tags_of.lists[0].n, 2);
    assert_true(pb_str_eq(tags_of.lists[0].items[1], PB_STR_LIT("x:1")));
    assert_int_equal(tags_of.lists[1].n, 0);
    assert_int_equal(tags_of.lists[2].n, 1);
    const char *stray[] = {"4", "z"};
    res = result_of(1, 2, stray);
    pb_pg_tag_lookup_decode(&tags_of, res, &pool);
    PQclear(res);
    assert_int_equal(tags_of.result, PB_STORE_EIO);
    /* a page of 2 read as 3 rows: the third says there is more, and the page ends at the second's seq */
    pb_str tag = PB_STR_LIT("vip");
    pb_tag_lookup page = {.kind = PB_TAG_LOOKUP_TOKENS_OF, .tags = &tag, .limit = 2};
    const char *seqs[] = {"5", "t5", "9", "t9", "12", "t12"};
    res = result_of(3, 2, seqs);
    pb_pg_tag_lookup_decode(&page, res, &pool);
    PQclear(res);
    assert_int_equal(page.lists->n, 2);
    assert_int_equal(page.next, 9);
    res = result_of(2, 2, seqs);
    pb_pg_tag_lookup_decode(&page, res, &pool);
    PQclear(res);
    assert_int_equal(page.next, 0);
    pb_tag_lookup list = {.kind = PB_TAG_LOOKUP_TAGS, .limit = 1};
    const char *counted[] = {"a", "3", "b", "1"};
    res = result_of(2, 2, counted);
    pb_pg_tag_lookup_decode(&list, res, &pool);
    PQclear(res);
    assert_int_equal(list.lists->n, 1);
    assert_int_equal(list.counts[0], 3);
    assert_true(list.more);
    pb_pool_clear(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_is_taken_out_of_the_url),
        cmocka_unit_test(schema_defaults_to_pushbind),
        cmocka_unit_test(bad_schemas_and_schemes_are_refused),
        cmocka_unit_test(sessions_ask_for_read_committed_and_a_client_check_keeping_the_urls_parameters),
        cmocka_unit_test(pgoptions_is_kept_when_the_url_has_no_options),
        cmocka_unit_test(a_url_libpq_cannot_read_is_refused_with_its_reason),
        cmocka_unit_test(batch_arrays_escape_quotes_and_backslashes),
        cmocka_unit_test(empty_lists_are_empty_arrays),
        cmocka_unit_test(token_rows_are_grouped_by_input_account),
        cmocka_unit_test(account_rows_out_of_range_fail),
        cmocka_unit_test(batch_answer_is_read),
        cmocka_unit_test(tag_requests_send_what_their_kind_reads),
        cmocka_unit_test(tag_answers_are_read),
        cmocka_unit_test(tag_rows_are_cut_into_lists_and_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
