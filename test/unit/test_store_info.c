/*
 * test_store_info.c — the embedded store's bind times, platforms and expiry
 * against store.h's contract. Given times stand in for the clock: a binding
 * "made" long ago is expired at once, so nothing here sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "store/lmdb/internal.h" /* pb_lmdb_sweep_step, PB_LMDB_SWEEP_KEYS */
#include "store/store.h"
#include "tmpdir.h"

#define APP 1500001048u
#define TTL 3600

struct fixture {
    char dir[64];
    pb_store *store;
    pb_store_session *session;
    pb_metrics *metrics; /* where the store's writer counts what its own sweep deletes */
    pb_pool pool;
};

static int setup_with(void **state, int64_t ttl, uint32_t accounts_per_token)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/pushbind-info-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->metrics = pb_metrics_new();
    assert_non_null(f->metrics);
    pb_store_config config = {.data_dir = f->dir,
                              .map_size = 64u << 20,
                              .limits = {accounts_per_token, 100},
                              .binding_ttl_seconds = ttl,
                              .metrics = f->metrics};
    char *err = NULL;
    f->store = pb_store_open(&config, &err);
    assert_non_null(f->store);
    f->session = pb_store_session_open(f->store);
    bool created;
    assert_int_equal(pb_store_app_put(f->session, APP, PB_STR_LIT("secret"), &created), 0);
    pb_pool_init(&f->pool);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0, 32);
}

static int setup_ttl(void **state)
{
    return setup_with(state, TTL, 2);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pb_store_session_close(f->session);
    pb_store_close(f->store);
    pb_metrics_free(f->metrics);
    pb_pool_clear(&f->pool);
    pb_test_remove_dir(f->dir);
    free(f);
    return 0;
}

static pb_account account(const char *name)
{
    return (pb_account){pb_str_from_cstr(name), 0};
}

/* Applies one change of `kind` binding `names` (NULL-terminated) to `token`. */
static pb_change_outcome apply(struct fixture *f, pb_change_kind kind, const char *token, pb_platform platform,
                               const pb_binding_times *times, const char *const *names)
{
    pb_account accounts[8];
    size_t n = 0;
    while (names != NULL && names[n] != NULL)
        accounts[n] = account(names[n]), n++;
    pb_change change = {.kind = kind, .token = pb_str_from_cstr(token), .accounts = accounts, .n_accounts = n,
                        .platform = platform, .times = times};
    pb_change_outcome outcome;
    assert_int_equal(pb_store_apply(f->session, APP, &change, 1, &outcome), 0);
    return outcome;
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static pb_account_list accounts_of(struct fixture *f, const char *token, bool with_info)
{
    pb_str t = pb_str_from_cstr(token);
    pb_account_list list;
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_int_equal(pb_store_accounts_of(view, APP, &t, 1, with_info, &f->pool, &list), 0);
    pb_store_view_end(view); /* the strings stay readable: nothing writes meanwhile */
    return list;
}

static pb_token_list tokens_of(struct fixture *f, const char *name, bool with_info)
{
    pb_account a = account(name);
    pb_token_list list;
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_int_equal(pb_store_tokens_of(view, APP, &a, 1, with_info, &f->pool, &list), 0);
    pb_store_view_end(view);
    return list;
}

static void new_bindings_get_now_and_rebinds_refresh_last_bind_time(void **state)
{
    struct fixture *f = *state;
    int64_t before = time(NULL);
    assert_int_equal(apply(f, PB_CHANGE_APPEND, "t", PB_PLATFORM_NONE, NULL, NAMES("a", "b")), PB_CHANGE_OK);
    pb_account_list list = accounts_of(f, "t", true);
    assert_int_equal(list.n, 2);
    assert_true(list.times[0].bind_time >= before && list.times[0].bind_time <= time(NULL));
    assert_int_equal(list.times[0].last_bind_time, list.times[0].bind_time);
    assert_int_equal(list.platform, PB_PLATFORM_NONE);

    /* given times: the later last_bind_time and the earlier bind_time win, and nothing moves */
    pb_binding_times old[] = {{100, 200}};
    assert_int_equal(apply(f, PB_CHANGE_APPEND, "t", PB_PLATFORM_NONE, old, NAMES("b")), PB_CHANGE_OK);
    list = accounts_of(f, "t", true);
    assert_true(pb_str_eq(list.accounts[0].name, PB_STR_LIT("a")) && pb_str_eq(list.accounts[1].name, PB_STR_LIT("b")));
    assert_int_equal(list.times[1].bind_time, 100);
    assert_true(list.times[1].last_bind_time >= before);

    /* an overwrite naming a bound pair confirms it too */
    pb_binding_times later[] = {{50, 4000000000LL}};
    assert_int_equal(apply(f, PB_CHANGE_OVERWRITE, "t", PB_PLATFORM_NONE, later, NAMES("a")), PB_CHANGE_OK);
    pb_token_list tokens = tokens_of(f, "a", true);
    assert_int_equal(tokens.n, 1);
    assert_int_equal(tokens.times[0].bind_time, 50);
    assert_int_equal(tokens.times[0].last_bind_time, 4000000000LL);

    /* without info nothing extra is read or returned */
    assert_null(accounts_of(f, "t", false).times);
    tokens = tokens_of(f, "a", false);
    assert_null(tokens.times);
    assert_null(tokens.platforms);
}

static void platform_is_set_kept_and_forgotten(void **state)
{
    struct fixture *f = *state;
    apply(f, PB_CHANGE_APPEND, "t", PB_PLATFORM_IOS, NULL, NAMES("a"));
    apply(f, PB_CHANGE_APPEND, "t", PB_PLATFORM_NONE, NULL, NAMES("b"));
    assert_int_equal(accounts_of(f, "t", true).platform, PB_PLATFORM_IOS);
    assert_int_equal(tokens_of(f, "b", true).platforms[0], PB_PLATFORM_IOS);
    apply(f, PB_CHANGE_APPEND, "t", PB_PLATFORM_ANDROID, NULL, NAMES("c"));
    assert_int_equal(tokens_of(f, "a", true).platforms[0], PB_PLATFORM_ANDROID);
    apply(f, PB_CHANGE_REMOVE, "t", PB_PLATFORM_IOS, NULL, NAMES("a"));
    assert_int_equal(accounts_of(f, "t", true).platform, PB_PLATFORM_ANDROID);
    apply(f, PB_CHANGE_CLEAR_TOKEN, "t", PB_PLATFORM_NONE, NULL, NULL);
    apply(f, PB_CHANGE_APPEND, "t", PB_PLATFORM_NONE, NULL, NAMES("a"));
    assert_int_equal(accounts_of(f, "t", true).platform, PB_PLATFORM_NONE);
}

static void expired_bindings_are_gone_for_reads_and_limits(void **state)
{
    struct fixture *f = *state;
    int64_t now = time(NULL);
    pb_binding_times stale[] = {{now - 2 * TTL, now - TTL}, {now - 2 * TTL, now - TTL}};
    assert_int_equal(apply(f, PB_CHANGE_APPEND, "t", PB_PLATFORM_NONE, stale, NAMES("a", "b")), PB_CHANGE_OK);
    assert_int_equal(accounts_of(f, "t", true).n, 0);
    assert_int_equal(tokens_of(f, "a", false).n, 0);

    /* the limit is 2 accounts per token: the stale ones do not count */
    assert_int_equal(apply(f, PB_CHANGE_APPEND, "t", PB_PLATFORM_NONE, NULL, NAMES("c", "a")), PB_CHANGE_OK);
    pb_account_list list = accounts_of(f, "t", true);
    assert_int_equal(list.n, 2);
    assert_true(pb_str_eq(list.accounts[0].name, PB_STR_LIT("c")));
    assert_true(pb_str_eq(list.accounts[1].name, PB_STR_LIT("a"))); /* anew, at the end */
    assert_true(list.times[1].bind_time >= now);

    /* one second short of the TTL is still alive */
    pb_binding_times fresh[] = {{now - TTL + 60, now - TTL + 60}};
    assert_int_equal(apply(f, PB_CHANGE_APPEND, "u", PB_PLATFORM_NONE, fresh, NAMES("d")), PB_CHANGE_OK);
    assert_int_equal(tokens_of(f, "d", true).n, 1);
}

static void remember_app(void *arg, const pb_app_info *app)
{
    *(pb_app_info *)arg = *app;
}

/* What the store's writer thread has deleted in its own idle sweeps, read from its metrics. */
static uint64_t expired_by_writer(struct fixture *f)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    pb_metrics_render(f->metrics, NULL, 0, out);
    fclose(out);
    const char *line = strstr(text, "\npushbind_bindings_expired_total ");
    assert_non_null(line);
    uint64_t expired = strtoull(line + strlen("\npushbind_bindings_expired_total "), NULL, 10);
    free(text);
    return expired;
}

static void background_steps_delete_expired_bindings(void **state)
{
    struct fixture *f = *state;
    int64_t now = time(NULL);
    pb_binding_times stale[] = {{now - 2 * TTL, now - TTL}};
    char token[32];
    for (int i = 0; i < 300; i++) { /* more tokens than one step walks */
        snprintf(token, sizeof(token), "stale-%03d", i);
        apply(f, PB_CHANGE_APPEND, token, PB_PLATFORM_NONE, stale, NAMES("a"));
    }
    apply(f, PB_CHANGE_APPEND, "live", PB_PLATFORM_NONE, NULL, NAMES("a"));

    /*
     * The store's writer sweeps by itself whenever it is idle, so it and these steps share the
     * work: each step walks at most PB_LMDB_SWEEP_KEYS token keys, a pass ends within two, and
     * between them every stale binding is deleted exactly once and the live one never.
     */
    struct pb_lmdb_sweep sweep = {.last_len = 0};
    uint64_t expired, by_steps = 0;
    for (int step = 0; step < 4 && !sweep.wrapped; step++) {
        assert_int_equal(pb_lmdb_sweep_step(pb_store_session_lmdb(f->session), &sweep, &expired), 0);
        assert_true(expired <= PB_LMDB_SWEEP_KEYS);
        by_steps += expired;
    }
    assert_true(sweep.wrapped);
    /* the writer may still be finishing a step it began before the last of ours */
    for (int waited_ms = 0; by_steps + expired_by_writer(f) < 300 && waited_ms < 5000; waited_ms += 10)
        usleep(10 * 1000);
    assert_int_equal(by_steps + expired_by_writer(f), 300);

    pb_app_info app;
    assert_int_equal(pb_store_app_list(f->session, remember_app, &app), 0);
    assert_int_equal(app.bindings, 1);
    pb_token_list list = tokens_of(f, "a", false);
    assert_int_equal(list.n, 1);
    assert_true(pb_str_eq(list.tokens[0], PB_STR_LIT("live")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(new_bindings_get_now_and_rebinds_refresh_last_bind_time, setup, teardown),
        cmocka_unit_test_setup_teardown(platform_is_set_kept_and_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_bindings_are_gone_for_reads_and_limits, setup_ttl, teardown),
        cmocka_unit_test_setup_teardown(background_steps_delete_expired_bindings, setup_ttl, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
