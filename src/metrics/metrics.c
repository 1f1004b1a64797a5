/*
 * metrics.c — per-thread shards of atomic counters, summed and printed at
 * scrape time.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/codes.h"
#include "metrics/metrics.h"

/* Upper bounds (seconds) of the latency buckets: 50 µs to 2.5 s. */
static const double latency_bounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5};
#define LATENCY_BUCKETS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

/* Upper bounds of the commit batch-size buckets. */
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define BATCH_BUCKETS (sizeof(batch_bounds) / sizeof(batch_bounds[0]))

/* The ret_codes counted one by one; any other lands in "other". */
static const int known_codes[] = {PB_OK,        PB_ERR_PARSE,   PB_ERR_MISSING, PB_ERR_AUTH,
                                  PB_ERR_STORE, PB_ERR_TOKEN,   PB_ERR_PARAM,   PB_ERR_PARTIAL,
                                  PB_ERR_TOTAL, PB_ERR_RATE};
#define CODE_SLOTS (sizeof(known_codes) / sizeof(known_codes[0]) + 1)

/* operator_type 1–10 (the tag endpoint has ten), and slot 0 for absent or invalid. */
#define OPERATOR_SLOTS 11

/* The invalidation reasons counted one by one; any other lands in "other". */
static const char *const known_reasons[] = {"Unregistered",           "BadDeviceToken", "ExpiredToken",
                                            "DeviceTokenNotForTopic", "NotRegistered",  "InvalidRegistration"};
#define REASON_SLOTS (sizeof(known_reasons) / sizeof(known_reasons[0]) + 1)
static const char *const invalidation_outcomes[PB_INVALIDATION_OUTCOMES] = {"removed", "kept", "refused"};


typedef _Atomic uint64_t counter;

/* Buckets are kept non-cumulative (one add per observation) and summed up when printed. */
typedef struct histogram {
    counter buckets[LATENCY_BUCKETS + 1]; /* the last is +Inf; big enough for both bucket sets */
    counter count;
    counter sum; /* nanoseconds, or items for the batch-size histogram */
} histogram;

/* One thread's counts; aligned so two threads never share a cache line. */
typedef struct shard {
    _Alignas(64) counter requests[PB_API_ENDPOINTS][OPERATOR_SLOTS][CODE_SLOTS];
    histogram request_seconds[PB_API_ENDPOINTS];
    histogram commit_seconds;
    histogram lookup_seconds;
    histogram commit_batch;
    counter connections_opened;
    counter connections_closed;
    counter bindings_expired;
    counter auth_failures[PB_AUTH_FAILURES];
    counter invalidations[REASON_SLOTS][PB_INVALIDATION_OUTCOMES];
} shard;

struct pb_metrics {
    _Atomic unsigned n_shards;
    shard *shards[PB_METRICS_MAX_THREADS];
};

/* The calling thread's shard: the one piece of thread state, see metrics.h. */
static _Thread_local shard *thread_shard;

pb_metrics *pb_metrics_new(void)
{
    return calloc(1, sizeof(pb_metrics));
}

void pb_metrics_free(pb_metrics *metrics)
{
    if (metrics == NULL)
        return;
    unsigned n = atomic_load(&metrics->n_shards);
    for (unsigned i = 0; i < n && i < PB_METRICS_MAX_THREADS; i++)
        free(metrics->shards[i]);
    free(metrics);
}

int pb_metrics_thread_attach(pb_metrics *metrics)
{
    shard *s = aligned_alloc(64, sizeof(shard));
    if (s == NULL)
        return -1;
    memset(s, 0, sizeof(*s));
    unsigned slot = atomic_fetch_add(&metrics->n_shards, 1);
    if (slot >= PB_METRICS_MAX_THREADS) {
        atomic_fetch_sub(&metrics->n_shards, 1);
        free(s);
        return -1;
    }
    /* Published before the slot can be read: a scrape reads n_shards, then the slots below it. */
    atomic_store_explicit((_Atomic(shard *) *)&metrics->shards[slot], s, memory_order_release);
    thread_shard = s;
    return 0;
}

void pb_metrics_thread_detach(void)
{
    thread_shard = NULL;
}

static void add(counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void observe(histogram *h, const double *bounds, size_t n_bounds, double value, uint64_t sum_units)
{
    size_t i = 0;
    while (i < n_bounds && value > bounds[i])
        i++;
    add(&h->buckets[i], 1);
    add(&h->count, 1);
    add(&h->sum, sum_units);
}

static size_t code_slot(int code)
{
    for (size_t i = 0; i < CODE_SLOTS - 1; i++)
        if (known_codes[i] == code)
            return i;
    return CODE_SLOTS - 1;
}

void pb_metrics_observe_request(pb_endpoint endpoint, int64_t operator_type, int code, uint64_t micros)
{
    shard *s = thread_shard;
    if (s == NULL || endpoint >= PB_API_ENDPOINTS)
        return;
    int64_t ops = endpoint == PB_ENDPOINT_TAG ? 10 : endpoint == PB_ENDPOINT_TAG_QUERY ? 4 : 5; /* the endpoint's */
    size_t op = operator_type >= 1 && operator_type <= ops ? (size_t)operator_type : 0;
    add(&s->requests[endpoint][op][code_slot(code)], 1);
    observe(&s->request_seconds[endpoint], latency_bounds, LATENCY_BUCKETS, (double)micros / 1e6, micros * 1000);
}

void pb_metrics_observe_store_commit(uint64_t nanos)
{
    if (thread_shard != NULL)
        observe(&thread_shard->commit_seconds, latency_bounds, LATENCY_BUCKETS, (double)nanos / 1e9, nanos);
}

void pb_metrics_observe_store_lookup(uint64_t nanos)
{
    if (thread_shard != NULL)
        observe(&thread_shard->lookup_seconds, latency_bounds, LATENCY_BUCKETS, (double)nanos / 1e9, nanos);
}

void pb_metrics_observe_commit_batch(size_t requests)
{
    if (thread_shard != NULL)
        observe(&thread_shard->commit_batch, batch_bounds, BATCH_BUCKETS, (double)requests, requests);
}

void pb_metrics_count_expired(uint64_t bindings)
{
    if (thread_shard != NULL && bindings != 0)
        add(&thread_shard->bindings_expired, bindings);
}

const char *pb_auth_failure_name(pb_auth_failure reason)
{
    static const char *const names[PB_AUTH_FAILURES] = {
        [PB_AUTH_FAILURE_NONE] = "-",
        [PB_AUTH_FAILURE_MISSING] = "missing",
        [PB_AUTH_FAILURE_UNKNOWN_APP] = "unknown_app",
        [PB_AUTH_FAILURE_WRONG_KEY] = "wrong_key",
        [PB_AUTH_FAILURE_READ_ONLY] = "read_only",
        [PB_AUTH_FAILURE_THROTTLED] = "throttled",
    };
    return (unsigned)reason < PB_AUTH_FAILURES ? names[reason] : "-";
}

void pb_metrics_count_auth_failure(pb_auth_failure reason)
{
    if (thread_shard != NULL && reason > PB_AUTH_FAILURE_NONE && reason < PB_AUTH_FAILURES)
        add(&thread_shard->auth_failures[reason], 1);
}

void pb_metrics_count_invalidation(pb_str reason, pb_invalidation_outcome outcome)
{
    size_t slot = 0;
    while (slot < REASON_SLOTS - 1 && !(strlen(known_reasons[slot]) == reason.len &&
                                         strncasecmp(known_reasons[slot], reason.base, reason.len) == 0))
        slot++;
    if (thread_shard != NULL && (unsigned)outcome < PB_INVALIDATION_OUTCOMES)
        add(&thread_shard->invalidations[slot][outcome], 1);
}

void pb_metrics_connection_opened(void)
{
    if (thread_shard != NULL)
        add(&thread_shard->connections_opened, 1);
}

void pb_metrics_connection_closed(void)
{
    if (thread_shard != NULL)
        add(&thread_shard->connections_closed, 1);
}

/* ---- Scrape ------------------------------------------------------------ */

static uint64_t load(const counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Calls back with each attached shard. */
#define FOR_EACH_SHARD(metrics, s)                                                                                 \
    for (unsigned i_ = 0, n_ = atomic_load(&(metrics)->n_shards); i_ < n_ && i_ < PB_METRICS_MAX_THREADS; i_++)    \
        for (const shard *s = atomic_load_explicit((_Atomic(shard *) *)&(metrics)->shards[i_], memory_order_acquire); \
             s != NULL; s = NULL)

typedef struct histogram_sum {
    uint64_t buckets[LATENCY_BUCKETS + 1];
    uint64_t count, sum;
} histogram_sum;

/* Sums the histogram found at byte `offset` in every shard. */
static void sum_histogram(pb_metrics *metrics, size_t offset, histogram_sum *out)
{
    memset(out, 0, sizeof(*out));
    FOR_EACH_SHARD(metrics, s)
    {
        const histogram *h = (const histogram *)((const char *)s + offset);
        for (size_t b = 0; b <= LATENCY_BUCKETS; b++)
            out->buckets[b] += load(&h->buckets[b]);
        out->count += load(&h->count);
        out->sum += load(&h->sum);
    }
}

static void print_header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Prints one histogram's series; `labels` is "" or `key="value",`; `scale` turns the sum into its unit. */
static void print_histogram(FILE *out, const char *name, const char *labels, const histogram_sum *h,
                            const double *bounds, size_t n_bounds, double scale)
{
    uint64_t cumulative = 0;
    for (size_t b = 0; b < n_bounds; b++) {
        cumulative += h->buckets[b];
        fprintf(out, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[b], (unsigned long long)cumulative);
    }
    fprintf(out, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)h->count);
    size_t len = labels[0] != '\0' ? strlen(labels) - 1 : 0; /* without the trailing comma */
    fprintf(out, "%s_sum%s%.*s%s %.9g\n", name, len ? "{" : "", (int)len, labels, len ? "}" : "",
            (double)h->sum * scale);
    fprintf(out, "%s_count%s%.*s%s %llu\n", name, len ? "{" : "", (int)len, labels, len ? "}" : "",
            (unsigned long long)h->count);
}

static void render_requests(pb_metrics *metrics, FILE *out)
{
    print_header(out, "pushbind_requests_total", "counter",
                 "API requests answered, by endpoint, operator_type and TPNS ret_code.");
    for (size_t e = 0; e < PB_API_ENDPOINTS; e++)
        for (size_t op = 0; op < OPERATOR_SLOTS; op++)
            for (size_t c = 0; c < CODE_SLOTS; c++) {
                uint64_t total = 0;
                FOR_EACH_SHARD(metrics, s)
                total += load(&s->requests[e][op][c]);
                if (total == 0)
                    continue;
                char op_label[8], code_label[16];
                snprintf(op_label, sizeof(op_label), op == 0 ? "none" : "%zu", op);
                if (c == CODE_SLOTS - 1)
                    snprintf(code_label, sizeof(code_label), "other");
                else
                    snprintf(code_label, sizeof(code_label), "%d", known_codes[c]);
                fprintf(out, "pushbind_requests_total{endpoint=\"%s\",operator_type=\"%s\",code=\"%s\"} %llu\n",
                        pb_endpoint_name((pb_endpoint)e), op_label, code_label, (unsigned long long)total);
            }
    print_header(out, "pushbind_request_duration_seconds", "histogram",
                 "Time from the request's handler start to its answer, by endpoint.");
    for (size_t e = 0; e < PB_API_ENDPOINTS; e++) {
        histogram_sum h;
        char labels[48];
        sum_histogram(metrics, offsetof(shard, request_seconds) + e * sizeof(histogram), &h);
        snprintf(labels, sizeof(labels), "endpoint=\"%s\",", pb_endpoint_name((pb_endpoint)e));
        print_histogram(out, "pushbind_request_duration_seconds", labels, &h, latency_bounds, LATENCY_BUCKETS, 1e-9);
    }
}

static void render_store(pb_metrics *metrics, FILE *out)
{
    histogram_sum h;
    print_header(out, "pushbind_store_commit_duration_seconds", "histogram",
                 "Time to commit one store write transaction (durable on return).");
    sum_histogram(metrics, offsetof(shard, commit_seconds), &h);
    print_histogram(out, "pushbind_store_commit_duration_seconds", "", &h, latency_bounds, LATENCY_BUCKETS, 1e-9);
    print_header(out, "pushbind_store_lookup_duration_seconds", "histogram",
                 "Time to look up the items of one query in the store.");
    sum_histogram(metrics, offsetof(shard, lookup_seconds), &h);
    print_histogram(out, "pushbind_store_lookup_duration_seconds", "", &h, latency_bounds, LATENCY_BUCKETS, 1e-9);
    print_header(out, "pushbind_store_commit_batch_size", "histogram",
                 "Write requests carried by one store commit (group commit).");
    sum_histogram(metrics, offsetof(shard, commit_batch), &h);
    print_histogram(out, "pushbind_store_commit_batch_size", "", &h, batch_bounds, BATCH_BUCKETS, 1.0);
    uint64_t expired = 0;
    FOR_EACH_SHARD(metrics, s)
    expired += load(&s->bindings_expired);
    print_header(out, "pushbind_bindings_expired_total", "counter",
                 "Bindings deleted because their last_bind_time was older than --binding-ttl.");
    fprintf(out, "pushbind_bindings_expired_total %llu\n", (unsigned long long)expired);
    print_header(out, "pushbind_token_invalidations_total", "counter",
                 "Tokens reported dead to /pushbind/v1/token/invalidate, by reason and outcome.");
    for (size_t r = 0; r < REASON_SLOTS; r++)
        for (size_t o = 0; o < PB_INVALIDATION_OUTCOMES; o++) {
            uint64_t total = 0;
            FOR_EACH_SHARD(metrics, s)
            total += load(&s->invalidations[r][o]);
            if (total != 0)
                fprintf(out, "pushbind_token_invalidations_total{reason=\"%s\",outcome=\"%s\"} %llu\n",
                        r < REASON_SLOTS - 1 ? known_reasons[r] : "other", invalidation_outcomes[o],
                        (unsigned long long)total);
        }
}

void pb_metrics_render(pb_metrics *metrics, const pb_metrics_app *apps, size_t n_apps, FILE *out)
{
    render_requests(metrics, out);
    render_store(metrics, out);

    uint64_t opened = 0, closed = 0, bindings = 0;
    FOR_EACH_SHARD(metrics, s)
    {
        opened += load(&s->connections_opened);
        closed += load(&s->connections_closed);
    }
    print_header(out, "pushbind_connections_total", "counter", "Client connections accepted.");
    fprintf(out, "pushbind_connections_total %llu\n", (unsigned long long)opened);
    print_header(out, "pushbind_open_connections", "gauge", "Client connections open now.");
    fprintf(out, "pushbind_open_connections %llu\n", (unsigned long long)(opened > closed ? opened - closed : 0));

    print_header(out, "pushbind_auth_failures_total", "counter",
                 "Requests that failed authentication, by reason (see the access log's auth field).");
    for (int reason = PB_AUTH_FAILURE_NONE + 1; reason < PB_AUTH_FAILURES; reason++) {
        uint64_t failures = 0;
        FOR_EACH_SHARD(metrics, s)
        failures += load(&s->auth_failures[reason]);
        fprintf(out, "pushbind_auth_failures_total{reason=\"%s\"} %llu\n",
                pb_auth_failure_name((pb_auth_failure)reason), (unsigned long long)failures);
    }
    print_header(out, "pushbind_apps", "gauge", "Apps in the store.");
    fprintf(out, "pushbind_apps %zu\n", n_apps);
    print_header(out, "pushbind_app_bindings", "gauge", "Account-token bindings held by each app.");
    for (size_t i = 0; i < n_apps; i++) {
        fprintf(out, "pushbind_app_bindings{access_id=\"%llu\"} %llu\n", (unsigned long long)apps[i].access_id,
                (unsigned long long)apps[i].bindings);
        bindings += apps[i].bindings;
    }
    print_header(out, "pushbind_bindings", "gauge", "Account-token bindings held by all apps.");
    fprintf(out, "pushbind_bindings %llu\n", (unsigned long long)bindings);
}
