/* test_metrics.c — shards, observations and the Prometheus text (metrics/metrics.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

static char *render(pb_metrics *metrics, const pb_metrics_app *apps, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    pb_metrics_render(metrics, apps, n, out);
    fclose(out);
    return text;
}

static void observations_without_a_shard_are_ignored(void **state)
{
    pb_metrics_thread_detach();
    pb_metrics_observe_request(PB_ENDPOINT_QUERY, 1, 0, 10);
    pb_metrics_observe_commit_batch(3);
    pb_metrics *metrics = pb_metrics_new();
    char *text = render(metrics, NULL, 0);
    assert_null(strstr(text, "pushbind_requests_total{"));
    assert_non_null(strstr(text, "pushbind_store_commit_batch_size_count 0\n"));
    free(text);
    pb_metrics_free(metrics);
}

static void requests_are_counted_by_endpoint_operator_type_and_code(void **state)
{
    pb_metrics *metrics = pb_metrics_new();
    assert_int_equal(pb_metrics_thread_attach(metrics), 0);
    pb_metrics_observe_request(PB_ENDPOINT_BATCHOPERATE, 2, 0, 150);
    pb_metrics_observe_request(PB_ENDPOINT_BATCHOPERATE, 2, 0, 150);
    pb_metrics_observe_request(PB_ENDPOINT_QUERY, 9, 1008003, 3000000);
    pb_metrics_observe_request(PB_ENDPOINT_QUERY, 1, 12345, 1);
    char *text = render(metrics, NULL, 0);
    assert_non_null(strstr(text, "pushbind_requests_total{endpoint=\"batchoperate\",operator_type=\"2\",code=\"0\"} 2\n"));
    assert_non_null(strstr(text, "pushbind_requests_total{endpoint=\"query\",operator_type=\"none\",code=\"1008003\"} 1\n"));
    assert_non_null(strstr(text, "pushbind_requests_total{endpoint=\"query\",operator_type=\"1\",code=\"other\"} 1\n"));
    /* 150 µs lands in the 0.00025 bucket; 3 s only in +Inf. */
    assert_non_null(strstr(text, "pushbind_request_duration_seconds_bucket{endpoint=\"batchoperate\",le=\"0.0001\"} 0\n"));
    assert_non_null(strstr(text, "pushbind_request_duration_seconds_bucket{endpoint=\"batchoperate\",le=\"0.00025\"} 2\n"));
    assert_non_null(strstr(text, "pushbind_request_duration_seconds_bucket{endpoint=\"query\",le=\"2.5\"} 1\n"));
    assert_non_null(strstr(text, "pushbind_request_duration_seconds_bucket{endpoint=\"query\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(text, "pushbind_request_duration_seconds_sum{endpoint=\"batchoperate\"} 0.0003\n"));
    free(text);
    pb_metrics_thread_detach();
    pb_metrics_free(metrics);
}

static void commit_batch_sizes_fill_a_histogram(void **state)
{
    pb_metrics *metrics = pb_metrics_new();
    assert_int_equal(pb_metrics_thread_attach(metrics), 0);
    pb_metrics_observe_commit_batch(1);
    pb_metrics_observe_commit_batch(5);
    pb_metrics_observe_commit_batch(5000);
    char *text = render(metrics, NULL, 0);
    assert_non_null(strstr(text, "pushbind_store_commit_batch_size_bucket{le=\"1\"} 1\n"));
    assert_non_null(strstr(text, "pushbind_store_commit_batch_size_bucket{le=\"8\"} 2\n"));
    assert_non_null(strstr(text, "pushbind_store_commit_batch_size_bucket{le=\"1024\"} 2\n"));
    assert_non_null(strstr(text, "pushbind_store_commit_batch_size_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "pushbind_store_commit_batch_size_sum 5006\n"));
    free(text);
    pb_metrics_thread_detach();
    pb_metrics_free(metrics);
}

struct thread_arg {
    pb_metrics *metrics;
    int n;
};

static void *observe_many(void *p)
{
    struct thread_arg *arg = p;
    if (pb_metrics_thread_attach(arg->metrics) != 0)
        return NULL;
    for (int i = 0; i < arg->n; i++) {
        pb_metrics_observe_request(PB_ENDPOINT_QUERY, 1, 0, 5);
        pb_metrics_connection_opened();
    }
    pb_metrics_connection_closed();
    pb_metrics_thread_detach();
    return NULL;
}

static void shards_of_every_thread_are_summed(void **state)
{
    pb_metrics *metrics = pb_metrics_new();
    pthread_t threads[4];
    struct thread_arg arg = {metrics, 10000};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, observe_many, &arg), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    pb_metrics_app apps[] = {{1500001048, 7}, {1500001049, 3}};
    char *text = render(metrics, apps, 2);
    assert_non_null(strstr(text, "pushbind_requests_total{endpoint=\"query\",operator_type=\"1\",code=\"0\"} 40000\n"));
    assert_non_null(strstr(text, "pushbind_connections_total 40000\n"));
    assert_non_null(strstr(text, "pushbind_open_connections 39996\n"));
    assert_non_null(strstr(text, "pushbind_apps 2\n"));
    assert_non_null(strstr(text, "pushbind_app_bindings{access_id=\"1500001049\"} 3\n"));
    assert_non_null(strstr(text, "pushbind_bindings 10\n"));
    free(text);
    pb_metrics_free(metrics);
}

static void attaching_past_the_limit_fails_and_records_nothing(void **state)
{
    pb_metrics *metrics = pb_metrics_new();
    for (int i = 0; i < PB_METRICS_MAX_THREADS; i++)
        assert_int_equal(pb_metrics_thread_attach(metrics), 0);
    pb_metrics_thread_detach();
    assert_int_equal(pb_metrics_thread_attach(metrics), -1);
    pb_metrics_observe_commit_batch(1);
    char *text = render(metrics, NULL, 0);
    assert_non_null(strstr(text, "pushbind_store_commit_batch_size_count 0\n"));
    free(text);
    pb_metrics_free(metrics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(observations_without_a_shard_are_ignored),
        cmocka_unit_test(requests_are_counted_by_endpoint_operator_type_and_code),
        cmocka_unit_test(commit_batch_sizes_fill_a_histogram),
        cmocka_unit_test(shards_of_every_thread_are_summed),
        cmocka_unit_test(attaching_past_the_limit_fails_and_records_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
