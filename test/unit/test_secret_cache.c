/*
 * A thread's apps' secrets read lately (store/secret_cache.h), as both the
 * Redis and the PostgreSQL backends keep them: what is kept (a secret and
 * its named keys, "no such app", never a failure), and what makes an entry
 * untrusted (another apps epoch, the TTL, another app in its slot).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "store/secret_cache.h"

#define ACCESS_ID 1500001048
#define EPOCH 3

typedef struct fixture {
    pb_secret_cache *cache;
    pb_pool pool;
} fixture;

static int setup(void **state)
{
    fixture *x = calloc(1, sizeof(*x));
    x->cache = pb_secret_cache_new();
    assert_non_null(x->cache);
    pb_pool_init(&x->pool);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture *x = *state;
    pb_pool_clear(&x->pool);
    pb_secret_cache_free(x->cache);
    free(x);
    return 0;
}

static void assert_str_is(pb_str got, const char *want)
{
    assert_int_equal(got.len, strlen(want));
    assert_memory_equal(got.base, want, got.len);
}

/* Asks for `access_id` at `epoch`; returns whether the cache answered, with *rc, *secret and *keys. */
static bool ask(fixture *x, uint64_t access_id, uint64_t epoch, int *rc, pb_str *secret, pb_str *keys)
{
    *rc = -1;
    *secret = *keys = (pb_str){NULL, 0};
    return pb_secret_cached(x->cache, access_id, epoch, &x->pool, rc, secret, keys);
}

static void a_secret_read_is_answered_with_its_keys_from_copies(void **state)
{
    fixture *x = *state;
    char secret[] = "s3cret", keys[] = "\x04name\x03rec";
    pb_secret_remember(x->cache, ACCESS_ID, EPOCH, PB_STORE_OK, (pb_str){secret, strlen(secret)},
                       (pb_str){keys, strlen(keys)});
    memset(secret, 'x', strlen(secret)); /* the caller's strings live in its pool */
    memset(keys, 'x', strlen(keys));
    int rc;
    pb_str got_secret, got_keys;
    assert_true(ask(x, ACCESS_ID, EPOCH, &rc, &got_secret, &got_keys));
    assert_int_equal(rc, PB_STORE_OK);
    assert_str_is(got_secret, "s3cret");
    assert_str_is(got_keys, "\x04name\x03rec");
}

static void an_app_without_named_keys_is_answered_without_keys(void **state)
{
    fixture *x = *state;
    pb_secret_remember(x->cache, ACCESS_ID, EPOCH, PB_STORE_OK, PB_STR_LIT("s3cret"), (pb_str){NULL, 0});
    int rc;
    pb_str secret, keys;
    assert_true(ask(x, ACCESS_ID, EPOCH, &rc, &secret, &keys));
    assert_str_is(secret, "s3cret");
    assert_null(keys.base);
    assert_int_equal(keys.len, 0);
}

/* A refusal for an unknown app is kept as the secret is: 1008003 again, without a read. */
static void no_such_app_is_kept(void **state)
{
    fixture *x = *state;
    pb_secret_remember(x->cache, ACCESS_ID, EPOCH, PB_STORE_ENOTFOUND, (pb_str){NULL, 0}, (pb_str){NULL, 0});
    int rc;
    pb_str secret, keys;
    assert_true(ask(x, ACCESS_ID, EPOCH, &rc, &secret, &keys));
    assert_int_equal(rc, PB_STORE_ENOTFOUND);
}

/* A store that did not answer is asked again by the next request. */
static void a_failed_read_is_not_kept(void **state)
{
    fixture *x = *state;
    pb_secret_remember(x->cache, ACCESS_ID, EPOCH, PB_STORE_EIO, (pb_str){NULL, 0}, (pb_str){NULL, 0});
    int rc;
    pb_str secret, keys;
    assert_false(ask(x, ACCESS_ID, EPOCH, &rc, &secret, &keys));
}

/* `app add`, `app remove`, `key add`, `key revoke` moved the epoch: what was read before is read again. */
static void another_apps_epoch_drops_the_entry(void **state)
{
    fixture *x = *state;
    pb_secret_remember(x->cache, ACCESS_ID, EPOCH, PB_STORE_OK, PB_STR_LIT("s3cret"), (pb_str){NULL, 0});
    int rc;
    pb_str secret, keys;
    assert_false(ask(x, ACCESS_ID, EPOCH + 1, &rc, &secret, &keys));
}

static void an_entry_expires_after_the_ttl(void **state)
{
    fixture *x = *state;
    pb_secret_remember(x->cache, ACCESS_ID, EPOCH, PB_STORE_OK, PB_STR_LIT("s3cret"), (pb_str){NULL, 0});
    int rc;
    pb_str secret, keys;
    assert_true(ask(x, ACCESS_ID, EPOCH, &rc, &secret, &keys));
    struct timespec ttl = {PB_SECRET_TTL_MS / 1000, PB_SECRET_TTL_MS % 1000 * 1000000L + 1000000L};
    nanosleep(&ttl, NULL);
    assert_false(ask(x, ACCESS_ID, EPOCH, &rc, &secret, &keys));
}

/* Apps that share a slot replace each other; neither is ever answered with the other's secret. */
static void each_app_is_answered_only_with_its_own_secret(void **state)
{
    fixture *x = *state;
    int rc;
    pb_str secret, keys;
    for (uint64_t id = ACCESS_ID; id < ACCESS_ID + 1024; id++)
        pb_secret_remember(x->cache, id, EPOCH, PB_STORE_OK, (pb_str){(char *)&id, sizeof(id)}, (pb_str){NULL, 0});
    size_t answered = 0;
    for (uint64_t id = ACCESS_ID; id < ACCESS_ID + 1024; id++) {
        if (!ask(x, id, EPOCH, &rc, &secret, &keys))
            continue;
        answered++;
        assert_int_equal(secret.len, sizeof(id));
        assert_memory_equal(secret.base, &id, sizeof(id));
    }
    assert_in_range(answered, 1, 256); /* 256 slots: most were replaced, some kept */
    assert_false(ask(x, ACCESS_ID + 5000, EPOCH, &rc, &secret, &keys));
}

/* A session not bound to a loop has no cache. */
static void no_cache_keeps_nothing(void **state)
{
    (void)state;
    pb_pool pool;
    pb_pool_init(&pool);
    pb_secret_remember(NULL, ACCESS_ID, EPOCH, PB_STORE_OK, PB_STR_LIT("s3cret"), (pb_str){NULL, 0});
    int rc = -1;
    pb_str secret, keys;
    assert_false(pb_secret_cached(NULL, ACCESS_ID, EPOCH, &pool, &rc, &secret, &keys));
    pb_secret_cache_free(NULL);
    pb_pool_clear(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_secret_read_is_answered_with_its_keys_from_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(an_app_without_named_keys_is_answered_without_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(no_such_app_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_read_is_not_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(another_apps_epoch_drops_the_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(an_entry_expires_after_the_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(each_app_is_answered_only_with_its_own_secret, setup, teardown),
        cmocka_unit_test(no_cache_keeps_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
