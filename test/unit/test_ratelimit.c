/* The per-app rate limiter (http/ratelimit.c), on a clock the tests set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "http/ratelimit.h"

#define SECOND 1000000000ull
#define APP 1500001048u
#define T0 (1000 * SECOND) /* any monotonic reading */

static unsigned allowed_in_a_row(pb_rate_limiter *limiter, uint64_t app, uint64_t now, unsigned tries)
{
    unsigned n = 0;
    for (unsigned i = 0; i < tries; i++)
        n += pb_rate_limiter_allow(limiter, app, now);
    return n;
}

static void idle_app_gets_its_burst_then_is_refused(void **state)
{
    pb_rate_limiter *limiter = pb_rate_limiter_new(10, 4);
    assert_non_null(limiter);
    assert_int_equal(allowed_in_a_row(limiter, APP, T0, 100), 4);
    pb_rate_limiter_free(limiter);
}

static void budget_refills_one_request_per_interval(void **state)
{
    pb_rate_limiter *limiter = pb_rate_limiter_new(10, 4); /* one every 100 ms */
    allowed_in_a_row(limiter, APP, T0, 4);
    assert_false(pb_rate_limiter_allow(limiter, APP, T0 + SECOND / 10 - 1));
    assert_true(pb_rate_limiter_allow(limiter, APP, T0 + SECOND / 10));
    assert_false(pb_rate_limiter_allow(limiter, APP, T0 + SECOND / 10));
    /* A long quiet spell gives back the burst, not more. */
    assert_int_equal(allowed_in_a_row(limiter, APP, T0 + 60 * SECOND, 100), 4);
    pb_rate_limiter_free(limiter);
}

static void steady_rate_is_served_whole(void **state)
{
    pb_rate_limiter *limiter = pb_rate_limiter_new(10, 1);
    for (uint64_t i = 0; i < 1000; i++)
        assert_true(pb_rate_limiter_allow(limiter, APP, T0 + i * (SECOND / 10)));
    pb_rate_limiter_free(limiter);
}

static void refused_requests_spend_nothing(void **state)
{
    pb_rate_limiter *limiter = pb_rate_limiter_new(1, 1);
    assert_true(pb_rate_limiter_allow(limiter, APP, T0));
    assert_int_equal(allowed_in_a_row(limiter, APP, T0 + SECOND / 2, 1000), 0);
    assert_true(pb_rate_limiter_allow(limiter, APP, T0 + SECOND));
    pb_rate_limiter_free(limiter);
}

static void apps_have_separate_budgets(void **state)
{
    pb_rate_limiter *limiter = pb_rate_limiter_new(5, 2);
    for (uint64_t app = 1; app <= 1000; app++) /* many apps, all stripes, long chains */
        assert_int_equal(allowed_in_a_row(limiter, app, T0, 3), 2);
    assert_false(pb_rate_limiter_allow(limiter, 500, T0));
    pb_rate_limiter_free(limiter);
}

static void zero_rate_or_burst_is_refused(void **state)
{
    assert_null(pb_rate_limiter_new(0, 1));
    assert_null(pb_rate_limiter_new(1, 0));
}

struct race {
    pb_rate_limiter *limiter;
    atomic_uint allowed;
};

static void *spend(void *arg)
{
    struct race *race = arg;
    for (int i = 0; i < 20000; i++)
        if (pb_rate_limiter_allow(race->limiter, APP + (unsigned)(i % 2), T0))
            atomic_fetch_add(&race->allowed, 1);
    return NULL;
}

static void threads_share_one_budget_per_app(void **state)
{
    struct race race = {.limiter = pb_rate_limiter_new(100, 50)};
    atomic_init(&race.allowed, 0);
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, spend, &race), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(atomic_load(&race.allowed), 2 * 50); /* the burst of each of the two apps, once */
    pb_rate_limiter_free(race.limiter);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_app_gets_its_burst_then_is_refused),
        cmocka_unit_test(budget_refills_one_request_per_interval),
        cmocka_unit_test(steady_rate_is_served_whole),
        cmocka_unit_test(refused_requests_spend_nothing),
        cmocka_unit_test(apps_have_separate_budgets),
        cmocka_unit_test(zero_rate_or_burst_is_refused),
        cmocka_unit_test(threads_share_one_budget_per_app),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
