/*
 * The endpoints' rules, end to end below HTTP, along the server's path: JSON
 * request → plan → the call of a real embedded store (in a temporary
 * directory) → merge → JSON answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "codec/codec.h"
#include "common/codes.h"

#define APP 1500001048u
#define OTHER_APP 1500001049u

typedef struct fixture {
    char dir[64];
    pb_store *store;
    pb_store_session *session;
    pb_api_config config;
    pb_pool pool;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/pushbind-api-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    pb_store_config config = {.data_dir = f->dir, .map_size = 64u << 20, .limits = {4, 3}};
    f->store = pb_store_open(&config, NULL);
    assert_non_null(f->store);
    f->session = pb_store_session_open(f->store);
    bool created;
    assert_int_equal(pb_store_app_put(f->session, APP, PB_STR_LIT("secret-key-0123456789"), &created), 0);
    assert_int_equal(pb_store_app_put(f->session, OTHER_APP, PB_STR_LIT("secret-key-9876543210"), &created), 0);
    pb_api_config_defaults(&f->config);
    pb_pool_init(&f->pool);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pb_pool_clear(&f->pool);
    pb_store_session_close(f->session);
    pb_store_close(f->store);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", f->dir);
    assert_int_equal(system(command), 0);
    free(f);
    return 0;
}

/* Returns `json` (not NUL-terminated) as a NUL-terminated string in the pool. */
static const char *text_of(fixture *f, pb_str json)
{
    char *text = pb_pool_alloc(&f->pool, json.len + 1);
    memcpy(text, json.base, json.len);
    text[json.len] = '\0';
    return text;
}

/* Lets the test wait for pb_store_apply_start(), which finishes on the store's writer thread. */
typedef struct batch_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int result;
} batch_wait;

static void batch_applied(void *arg, int result)
{
    batch_wait *wait = arg;
    pthread_mutex_lock(&wait->lock);
    wait->result = result;
    wait->done = true;
    pthread_cond_signal(&wait->cond);
    pthread_mutex_unlock(&wait->lock);
}

/*
 * Runs a batchoperate for `app` as the server does (decode → plan → the
 * store's write, skipped when no item is valid → merge → encode) and returns
 * its JSON answer.
 */
static const char *batch_as(fixture *f, uint64_t app, const char *json)
{
    pb_batch_request request;
    pb_batch_response response = {.code = PB_ERR_PARSE};
    pb_batch_plan plan;
    if (pb_decode_batch(&f->pool, json, strlen(json), &request) == PB_OK) {
        response.code = pb_api_batch_plan(&f->config, pb_store_limits_of(f->session), app, &request, &f->pool, &plan);
        batch_wait wait = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, PB_STORE_OK};
        if (response.code == PB_OK && plan.n_changes != 0) {
            pb_store_apply_start(f->session, plan.access_id, plan.changes, plan.n_changes, plan.outcomes, &f->pool,
                                 batch_applied, &wait);
            pthread_mutex_lock(&wait.lock);
            while (!wait.done)
                pthread_cond_wait(&wait.cond, &wait.lock);
            pthread_mutex_unlock(&wait.lock);
        }
        if (response.code == PB_OK)
            pb_api_batch_merge(&plan, wait.result, &response);
    }
    return text_of(f, pb_encode_batch(&f->pool, &response));
}

static const char *batch(fixture *f, const char *json)
{
    return batch_as(f, APP, json);
}

/* A query's plan and, once its lookup is done, its answer: encoded inside the lookup's done(), as the server does. */
typedef struct query_call {
    fixture *f;
    pb_query_plan plan;
    const char *answer;
} query_call;

static void answer_query(query_call *call)
{
    pb_query_response response;
    pb_api_query_merge(&call->plan, &response);
    call->answer = text_of(call->f, pb_encode_query(&call->f->pool, &response));
}

static void query_looked_up(void *arg, pb_store_lookup *lookup)
{
    answer_query(arg);
}

/*
 * Runs a query for `app` as the server does (decode → plan → the store's
 * lookup, skipped when no item is valid → merge → encode) and returns its
 * JSON answer.
 */
static const char *query_as(fixture *f, uint64_t app, const char *json)
{
    pb_query_request request;
    query_call call = {.f = f};
    pb_query_response response = {.code = PB_ERR_PARSE};
    if (pb_decode_query(&f->pool, json, strlen(json), &request) == PB_OK) {
        response.code = pb_api_query_plan(&f->config, app, &request, &f->pool, &call.plan);
        if (response.code == PB_OK && call.plan.lookup.n != 0)
            pb_store_lookup_start(f->session, &call.plan.lookup, &f->pool, query_looked_up, &call);
        else if (response.code == PB_OK)
            answer_query(&call);
        if (response.code == PB_OK) {
            assert_non_null(call.answer); /* the embedded store answers before pb_store_lookup_start() returns */
            return call.answer;
        }
    }
    return text_of(f, pb_encode_query(&f->pool, &response));
}

static const char *query(fixture *f, const char *json)
{
    return query_as(f, APP, json);
}

static const char *accounts_of(fixture *f, const char *token)
{
    char json[512];
    snprintf(json, sizeof(json), "{\"operator_type\":2,\"token_list\":[\"%s\"]}", token);
    return query(f, json);
}

static void spec_overwrite_then_query_by_token_gives_reference_sample(void **state)
{
    fixture *f = *state;
    assert_string_equal(
        batch(f, "{\"operator_type\": 2, \"platform\": \"android\", \"token_accounts\": ["
                 "{\"token\": \"token1\", \"account_list\": [{\"account\": \"926@126.com\"}, {\"account\": \"1527000000\"}]},"
                 "{\"token\": \"token2\", \"account_list\": [{\"account\": \"926@163.com\"}, {\"account\": \"1527000001\"}]}]}"),
        "{\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\",\"0\"]}");
    assert_string_equal(query(f, "{\"operator_type\": 2, \"token_list\": [\"token1\", \"token2\"]}"),
                        "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\",\"0\"],\"token_accounts\":["
                        "{\"token\":\"token1\",\"account_list\":[{\"account\":\"926@126.com\"},{\"account\":\"1527000000\"}]},"
                        "{\"token\":\"token2\",\"account_list\":[{\"account\":\"926@163.com\"},{\"account\":\"1527000001\"}]}]}");
}

static void query_by_account_answers_every_item_in_input_order(void **state)
{
    fixture *f = *state;
    batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t1\",\"account_list\":[{\"account\":\"13800000000\",\"account_type\":1}]}]}");
    assert_string_equal(
        query(f, "{\"operator_type\":1,\"account_list\":[{\"account\":\"nobody\"},{\"account\":\"13800000000\",\"account_type\":1},"
                 "{\"account\":\"13800000000\"},{\"account\":7},\"bare\"]}"),
        "{\"retCode\":1008026,\"errMsg\":\"batch op, partly error\",\"ret_code\":1008026,\"err_msg\":\"batch op, partly error\",\"result\":[\"10110008\",\"0\",\"10110008\",\"1008007\",\"1008007\"],"
        "\"account_tokens\":[{\"account\":\"nobody\",\"token_list\":[]},"
        "{\"account\":\"13800000000\",\"account_type\":1,\"token_list\":[\"t1\"]},"
        "{\"account\":\"13800000000\",\"token_list\":[]},{\"account\":\"\",\"token_list\":[]},{\"account\":\"\",\"token_list\":[]}]}");
}

static void query_by_token_marks_invalid_tokens(void **state)
{
    fixture *f = *state;
    assert_string_equal(query(f, "{\"operator_type\":2,\"token_list\":[\"has space\",5,\"\"]}"),
                        "{\"retCode\":1008027,\"errMsg\":\"batch op, total error\",\"ret_code\":1008027,\"err_msg\":\"batch op, total error\",\"result\":[\"1008006\",\"1008006\",\"1008006\"],"
                        "\"token_accounts\":[{\"token\":\"has space\",\"account_list\":[]},{\"token\":\"\",\"account_list\":[]},"
                        "{\"token\":\"\",\"account_list\":[]}]}");
}

static void query_request_level_errors(void **state)
{
    fixture *f = *state;
    assert_string_equal(query(f, "{\"account_list\":[{\"account\":\"a\"}]}"),
                        "{\"retCode\":1008002,\"errMsg\":\"missing parameter\",\"ret_code\":1008002,\"err_msg\":\"missing parameter\",\"result\":[]}");
    assert_string_equal(query(f, "{\"operator_type\":1,\"account_list\":[]}"),
                        "{\"retCode\":1008002,\"errMsg\":\"missing parameter\",\"ret_code\":1008002,\"err_msg\":\"missing parameter\",\"result\":[]}");
    assert_string_equal(query(f, "{\"operator_type\":3,\"token_list\":[\"a\"]}"),
                        "{\"retCode\":1008007,\"errMsg\":\"invalid parameter\",\"ret_code\":1008007,\"err_msg\":\"invalid parameter\",\"result\":[]}");
    assert_string_equal(query(f, "{\"operator_type\":2,\"token_list\":\"t1\"}"),
                        "{\"retCode\":1008007,\"errMsg\":\"invalid parameter\",\"ret_code\":1008007,\"err_msg\":\"invalid parameter\",\"result\":[]}");
    f->config.max_query_items = 2;
    assert_string_equal(query(f, "{\"operator_type\":2,\"token_list\":[\"a\",\"b\",\"c\"]}"),
                        "{\"retCode\":1008007,\"errMsg\":\"invalid parameter\",\"ret_code\":1008007,\"err_msg\":\"invalid parameter\",\"result\":[]}");
}

static void query_ignores_the_other_operations_list(void **state)
{
    fixture *f = *state;
    assert_string_equal(query(f, "{\"operator_type\":2,\"token_list\":[\"t9\"],\"account_list\":\"garbage\"}"),
                        "{\"retCode\":1008027,\"errMsg\":\"batch op, total error\",\"ret_code\":1008027,\"err_msg\":\"batch op, total error\",\"result\":[\"10110008\"],"
                        "\"token_accounts\":[{\"token\":\"t9\",\"account_list\":[]}]}");
}

static void append_keeps_order_and_ignores_repeats(void **state)
{
    fixture *f = *state;
    batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t\",\"account_list\":[{\"account\":\"b\"},{\"account\":\"a\"},{\"account\":\"b\"}]}]}");
    batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t\",\"account_list\":[{\"account\":\"c\"},{\"account\":\"b\"}]}]}");
    assert_string_equal(accounts_of(f, "t"),
                        "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\"],\"token_accounts\":[{\"token\":\"t\",\"account_list\":"
                        "[{\"account\":\"b\"},{\"account\":\"a\"},{\"account\":\"c\"}]}]}");
}

static void batch_items_fail_alone(void **state)
{
    fixture *f = *state;
    assert_string_equal(
        batch(f, "{\"operator_type\":1,\"token_accounts\":["
                 "{\"token\":\"ok1\",\"account_list\":[{\"account\":\"a\"}]},"
                 "{\"token\":\"bad token\",\"account_list\":[{\"account\":\"a\"}]},"
                 "{\"token\":\"ok2\",\"account_list\":[]},"
                 "{\"token\":\"ok3\",\"account_list\":[{\"account\":\"a\"},{\"account\":\"\"}]},"
                 "\"not an object\","
                 "{\"account_list\":[{\"account\":\"a\"}]}]}"),
        "{\"ret_code\":1008026,\"err_msg\":\"batch op, partly error\",\"result\":[\"0\",\"1008006\",\"1008007\",\"1008007\",\"1008007\",\"1008006\"]}");
    /* ok3 named a bad account, so even its good account "a" was not bound. */
    assert_string_equal(query(f, "{\"operator_type\":1,\"account_list\":[{\"account\":\"a\"}]}"),
                        "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\"],\"account_tokens\":[{\"account\":\"a\",\"token_list\":[\"ok1\"]}]}");
}

static void limit_exceeded_fails_the_item_and_changes_nothing(void **state)
{
    fixture *f = *state; /* the fixture allows 4 accounts per token, 3 tokens per account */
    assert_string_equal(
        batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t\",\"account_list\":["
                 "{\"account\":\"1\"},{\"account\":\"2\"},{\"account\":\"3\"},{\"account\":\"4\"},{\"account\":\"5\"}]}]}"),
        "{\"ret_code\":1008027,\"err_msg\":\"batch op, total error\",\"result\":[\"1008007\"]}");
    assert_string_equal(accounts_of(f, "t"),
                        "{\"retCode\":1008027,\"errMsg\":\"batch op, total error\",\"ret_code\":1008027,\"err_msg\":\"batch op, total error\",\"result\":[\"10110008\"],"
                        "\"token_accounts\":[{\"token\":\"t\",\"account_list\":[]}]}");
    /* Repeats do not count against the limit. */
    assert_string_equal(
        batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t\",\"account_list\":["
                 "{\"account\":\"1\"},{\"account\":\"2\"},{\"account\":\"1\"},{\"account\":\"3\"},{\"account\":\"4\"},{\"account\":\"4\"}]}]}"),
        "{\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\"]}");
    /* Account "1" may have 3 tokens: the fourth fails, the others stay. */
    assert_string_equal(
        batch(f, "{\"operator_type\":1,\"token_accounts\":["
                 "{\"token\":\"u\",\"account_list\":[{\"account\":\"1\"}]},{\"token\":\"v\",\"account_list\":[{\"account\":\"1\"}]},"
                 "{\"token\":\"w\",\"account_list\":[{\"account\":\"1\"}]}]}"),
        "{\"ret_code\":1008026,\"err_msg\":\"batch op, partly error\",\"result\":[\"0\",\"0\",\"1008007\"]}");
}

static void one_account_per_type_mode_replaces_by_type(void **state)
{
    fixture *f = *state;
    f->config.one_account_per_type = true;
    batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t\",\"account_list\":["
             "{\"account\":\"a\"},{\"account\":\"p\",\"account_type\":1},{\"account\":\"b\"}]}]}");
    assert_string_equal(accounts_of(f, "t"),
                        "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\"],\"token_accounts\":[{\"token\":\"t\",\"account_list\":"
                        "[{\"account\":\"p\",\"account_type\":1},{\"account\":\"b\"}]}]}");
    batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t\",\"account_list\":[{\"account\":\"c\"}]}]}");
    assert_string_equal(accounts_of(f, "t"),
                        "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\"],\"token_accounts\":[{\"token\":\"t\",\"account_list\":"
                        "[{\"account\":\"c\"}]}]}");
}

static void unbind_operations(void **state)
{
    fixture *f = *state;
    batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t1\",\"account_list\":[{\"account\":\"a\"},{\"account\":\"a\",\"account_type\":2},{\"account\":\"b\"}]},"
             "{\"token\":\"t2\",\"account_list\":[{\"account\":\"b\"}]}]}");
    /* op 3 needs name and type to match */
    assert_string_equal(batch(f, "{\"operator_type\":3,\"token_accounts\":[{\"token\":\"t1\",\"account_list\":[{\"account\":\"a\",\"account_type\":2},{\"account\":\"zz\"}]}]}"),
                        "{\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\"]}");
    assert_string_equal(accounts_of(f, "t1"),
                        "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\"],\"token_accounts\":[{\"token\":\"t1\",\"account_list\":"
                        "[{\"account\":\"a\"},{\"account\":\"b\"}]}]}");
    /* op 5 clears account b everywhere */
    assert_string_equal(batch(f, "{\"operator_type\":5,\"account_list\":[{\"account\":\"b\"},{\"account\":\"\"}]}"),
                        "{\"ret_code\":1008026,\"err_msg\":\"batch op, partly error\",\"result\":[\"0\",\"1008007\"]}");
    assert_string_equal(query(f, "{\"operator_type\":1,\"account_list\":[{\"account\":\"b\"}]}"),
                        "{\"retCode\":1008027,\"errMsg\":\"batch op, total error\",\"ret_code\":1008027,\"err_msg\":\"batch op, total error\",\"result\":[\"10110008\"],"
                        "\"account_tokens\":[{\"account\":\"b\",\"token_list\":[]}]}");
    /* op 4 clears token t1 */
    assert_string_equal(batch(f, "{\"operator_type\":4,\"token_list\":[\"t1\",\"never-bound\"]}"),
                        "{\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\",\"0\"]}");
    assert_string_equal(query(f, "{\"operator_type\":1,\"account_list\":[{\"account\":\"a\"}]}"),
                        "{\"retCode\":1008027,\"errMsg\":\"batch op, total error\",\"ret_code\":1008027,\"err_msg\":\"batch op, total error\",\"result\":[\"10110008\"],"
                        "\"account_tokens\":[{\"account\":\"a\",\"token_list\":[]}]}");
}

static void batch_request_level_errors_change_nothing(void **state)
{
    fixture *f = *state;
    const char *bind = "{\"operator_type\":1,\"platform\":\"windows\",\"token_accounts\":[{\"token\":\"t\",\"account_list\":[{\"account\":\"a\"}]}]}";
    assert_string_equal(batch(f, bind), "{\"ret_code\":1008007,\"err_msg\":\"invalid parameter\",\"result\":[]}");
    assert_string_equal(batch(f, "{\"operator_type\":6,\"token_list\":[\"t\"]}"),
                        "{\"ret_code\":1008007,\"err_msg\":\"invalid parameter\",\"result\":[]}");
    assert_string_equal(batch(f, "{\"operator_type\":\"one\",\"token_list\":[\"t\"]}"),
                        "{\"ret_code\":1008007,\"err_msg\":\"invalid parameter\",\"result\":[]}");
    assert_string_equal(batch(f, "{\"operator_type\":\"5\",\"account_type\":-1,\"account_list\":[{\"account\":\"a\"}]}"),
                        "{\"ret_code\":1008007,\"err_msg\":\"invalid parameter\",\"result\":[]}");
    assert_string_equal(batch(f, "{\"operator_type\":4}"), "{\"ret_code\":1008002,\"err_msg\":\"missing parameter\",\"result\":[]}");
    assert_string_equal(batch(f, "{\"operator_type\":4,\"token_list\":null}"),
                        "{\"ret_code\":1008002,\"err_msg\":\"missing parameter\",\"result\":[]}");
    f->config.max_batch_items = 1;
    assert_string_equal(batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t\",\"account_list\":[{\"account\":\"a\"}]},"
                                 "{\"token\":\"u\",\"account_list\":[{\"account\":\"a\"}]}]}"),
                        "{\"ret_code\":1008007,\"err_msg\":\"invalid parameter\",\"result\":[]}");
    assert_string_equal(accounts_of(f, "t"),
                        "{\"retCode\":1008027,\"errMsg\":\"batch op, total error\",\"ret_code\":1008027,\"err_msg\":\"batch op, total error\",\"result\":[\"10110008\"],"
                        "\"token_accounts\":[{\"token\":\"t\",\"account_list\":[]}]}");
}

static void apps_do_not_see_each_other(void **state)
{
    fixture *f = *state;
    batch_as(f, OTHER_APP, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t\",\"account_list\":[{\"account\":\"a\"}]}]}");
    assert_string_equal(accounts_of(f, "t"),
                        "{\"retCode\":1008027,\"errMsg\":\"batch op, total error\",\"ret_code\":1008027,\"err_msg\":\"batch op, total error\",\"result\":[\"10110008\"],"
                        "\"token_accounts\":[{\"token\":\"t\",\"account_list\":[]}]}");
    assert_string_equal(query_as(f, OTHER_APP, "{\"operator_type\":2,\"token_list\":[\"t\"]}"),
                        "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\"],\"token_accounts\":[{\"token\":\"t\",\"account_list\":"
                        "[{\"account\":\"a\"}]}]}");
}

static void batch_for_removed_app_is_auth_failure(void **state)
{
    fixture *f = *state;
    uint64_t removed;
    assert_int_equal(pb_store_app_remove(f->session, OTHER_APP, &removed), 0);
    assert_string_equal(batch_as(f, OTHER_APP, "{\"operator_type\":4,\"token_list\":[\"t\"]}"),
                        "{\"ret_code\":1008003,\"err_msg\":\"auth failure\",\"result\":[]}");
}

/* A find's plan and, once both lookups are done, its answer, as the server runs them (handle_find.c). */
typedef struct find_call {
    fixture *f;
    pb_find_plan plan;
    const char *answer;
} find_call;

static void answer_find(find_call *call, int code)
{
    pb_find_response response;
    pb_api_find_merge(&call->plan, code, &call->f->pool, &response);
    call->answer = text_of(call->f, pb_encode_find(&call->f->pool, &response));
}

static void find_tokens_read(void *arg, pb_store_lookup *lookup)
{
    answer_find(arg, PB_OK);
}

static void find_types_read(void *arg, pb_store_lookup *lookup)
{
    find_call *call = arg;
    int code = pb_api_find_reads(&call->f->config, &call->plan, &call->f->pool);
    if (code != PB_OK || call->plan.tokens.n == 0)
        answer_find(call, code);
    else
        pb_store_lookup_start(call->f->session, &call->plan.tokens, &call->f->pool, find_tokens_read, call);
}

/* The answer of POST /pushbind/v1/account/find for `json`, each Unix time (10 digits) written T. */
static const char *find(fixture *f, const char *json)
{
    pb_find_request request;
    find_call call = {.f = f};
    int code = PB_ERR_PARSE;
    if (pb_decode_query(&f->pool, json, strlen(json), &request) == PB_OK)
        code = pb_api_find_plan(&f->config, APP, &request, &f->pool, &call.plan);
    if (code == PB_OK && call.plan.n_names != 0)
        pb_store_lookup_start(f->session, &call.plan.types, &f->pool, find_types_read, &call);
    else
        answer_find(&call, code);
    assert_non_null(call.answer); /* the embedded store answers before pb_store_lookup_start() returns */
    char *text = pb_pool_alloc(&f->pool, strlen(call.answer) + 1), *out = text;
    for (const char *p = call.answer; *p != '\0';) {
        size_t digits = strspn(p, "0123456789");
        if (digits == 10) {
            *out++ = 'T';
            p += digits;
        } else {
            *out++ = *p++;
        }
    }
    *out = '\0';
    return text;
}

static void find_answers_each_name_under_every_type_in_type_order(void **state)
{
    fixture *f = *state;
    batch(f, "{\"operator_type\":1,\"platform\":\"ios\",\"token_accounts\":[{\"token\":\"t1\",\"account_list\":["
             "{\"account\":\"bob\",\"account_type\":1005},{\"account\":\"bob\"},{\"account\":\"amy\",\"account_type\":7}]}]}");
    batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t2\",\"account_list\":[{\"account\":\"bob\",\"account_type\":1005}]}]}");
    assert_string_equal(
        find(f, "{\"account_list\":[{\"account\":\"bob\"},{\"account\":\"nobody\"},{\"account\":7}]}"),
        "{\"ret_code\":1008026,\"err_msg\":\"batch op, partly error\",\"result\":[\"0\",\"10110008\",\"1008007\"],"
        "\"account_types\":[0,7,1005],\"found\":["
        "{\"account\":\"bob\",\"account_tokens\":["
        "{\"account\":\"bob\",\"token_list\":[\"t1\"],\"token_info\":[{\"token\":\"t1\",\"platform\":\"ios\","
        "\"bind_time\":T,\"last_bind_time\":T}]},"
        "{\"account\":\"bob\",\"account_type\":1005,\"token_list\":[\"t1\",\"t2\"],\"token_info\":["
        "{\"token\":\"t1\",\"platform\":\"ios\",\"bind_time\":T,\"last_bind_time\":T},"
        "{\"token\":\"t2\",\"bind_time\":T,\"last_bind_time\":T}]}]},"
        "{\"account\":\"nobody\",\"account_tokens\":[]},{\"account\":\"\",\"account_tokens\":[]}]}");
}

static void find_over_names_times_types_is_refused_naming_the_types(void **state)
{
    fixture *f = *state;
    f->config.max_query_items = 5;
    batch(f, "{\"operator_type\":1,\"token_accounts\":[{\"token\":\"t1\",\"account_list\":["
             "{\"account\":\"a\",\"account_type\":1},{\"account\":\"a\",\"account_type\":2}]}]}");
    assert_string_equal(find(f, "{\"account_list\":[{\"account\":\"a\"},{\"account\":\"b\"},{\"account\":\"c\"}]}"),
                        "{\"ret_code\":1008007,\"err_msg\":\"account_list: 3 names x 2 account types = 6 lookups: "
                        "the limit is 5 (max-query-items)\",\"result\":[],\"account_types\":[1,2]}");
    /* More types than one name may be read under: only one more than the limit is read, and named so. */
    f->config.max_query_items = 1;
    assert_string_equal(find(f, "{\"account_list\":[{\"account\":\"a\"}]}"),
                        "{\"ret_code\":1008007,\"err_msg\":\"account_list: the app uses more than 1 account types: "
                        "the limit is 1 lookups (max-query-items)\",\"result\":[],\"account_types\":[1,2]}");
    f->config.max_query_items = 5;
    assert_string_equal(find(f, "{\"account_list\":[]}"),
                        "{\"ret_code\":1008002,\"err_msg\":\"missing parameter\",\"result\":[]}");
    /* Without a valid name nothing is read, not even the types. */
    assert_string_equal(find(f, "{\"account_list\":[{\"account\":\"\"}]}"),
                        "{\"ret_code\":1008027,\"err_msg\":\"batch op, total error\",\"result\":[\"1008007\"],"
                        "\"found\":[{\"account\":\"\",\"account_tokens\":[]}]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(spec_overwrite_then_query_by_token_gives_reference_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(find_answers_each_name_under_every_type_in_type_order, setup, teardown),
        cmocka_unit_test_setup_teardown(find_over_names_times_types_is_refused_naming_the_types, setup, teardown),
        cmocka_unit_test_setup_teardown(query_by_account_answers_every_item_in_input_order, setup, teardown),
        cmocka_unit_test_setup_teardown(query_by_token_marks_invalid_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(query_request_level_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(query_ignores_the_other_operations_list, setup, teardown),
        cmocka_unit_test_setup_teardown(append_keeps_order_and_ignores_repeats, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_items_fail_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(limit_exceeded_fails_the_item_and_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(one_account_per_type_mode_replaces_by_type, setup, teardown),
        cmocka_unit_test_setup_teardown(unbind_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_request_level_errors_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(apps_do_not_see_each_other, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_for_removed_app_is_auth_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
