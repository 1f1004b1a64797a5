/*
 * Per-app rate limiting; see ratelimit.h.
 *
 * Generic cell rate algorithm: each app keeps one number, the theoretical
 * arrival time (tat) of its next request if it sent exactly at the rate. A
 * request at `now` conforms when tat - now <= tolerance, where the tolerance
 * is (burst - 1) intervals; it then moves tat one interval later. This is a
 * token bucket of size `burst` without floating point or a refill step.
 */
#include <pthread.h>
#include <stdlib.h>

#include "http/ratelimit.h"

typedef struct app_budget {
    uint64_t access_id;
    uint64_t tat_ns;
    struct app_budget *next;
} app_budget;

typedef struct stripe {
    pthread_mutex_t lock;
    app_budget *apps;
} __attribute__((aligned(64))) stripe; /* one cache line each: threads on different stripes do not share lines */

struct pb_rate_limiter {
    uint64_t interval_ns;
    uint64_t tolerance_ns;
    stripe stripes[PB_RATE_STRIPES];
};

pb_rate_limiter *pb_rate_limiter_new(uint32_t rate, uint32_t burst)
{
    pb_rate_limiter *limiter;
    if (rate == 0 || burst == 0 || posix_memalign((void **)&limiter, 64, sizeof(*limiter)) != 0)
        return NULL;
    limiter->interval_ns = 1000000000ull / rate;
    limiter->tolerance_ns = limiter->interval_ns * (burst - 1);
    for (size_t i = 0; i < PB_RATE_STRIPES; i++) {
        pthread_mutex_init(&limiter->stripes[i].lock, NULL);
        limiter->stripes[i].apps = NULL;
    }
    return limiter;
}

void pb_rate_limiter_free(pb_rate_limiter *limiter)
{
    if (limiter == NULL)
        return;
    for (size_t i = 0; i < PB_RATE_STRIPES; i++) {
        for (app_budget *app = limiter->stripes[i].apps, *next; app != NULL; app = next) {
            next = app->next;
            free(app);
        }
        pthread_mutex_destroy(&limiter->stripes[i].lock);
    }
    free(limiter);
}

/* AccessIds are often consecutive; a multiplicative hash spreads them over the stripes. */
static stripe *stripe_of(pb_rate_limiter *limiter, uint64_t access_id)
{
    return &limiter->stripes[(access_id * 0x9E3779B97F4A7C15ull) >> 58];
}

/* The app's budget in `s` (locked), created on first use; NULL when out of memory. */
static app_budget *budget_of(stripe *s, uint64_t access_id, uint64_t now_ns)
{
    for (app_budget *app = s->apps; app != NULL; app = app->next)
        if (app->access_id == access_id)
            return app;
    app_budget *app = malloc(sizeof(*app));
    if (app == NULL)
        return NULL;
    *app = (app_budget){.access_id = access_id, .tat_ns = now_ns, .next = s->apps};
    s->apps = app;
    return app;
}

bool pb_rate_limiter_allow(pb_rate_limiter *limiter, uint64_t access_id, uint64_t now_ns)
{
    stripe *s = stripe_of(limiter, access_id);
    bool allowed = true;
    pthread_mutex_lock(&s->lock);
    app_budget *app = budget_of(s, access_id, now_ns);
    if (app != NULL) {
        uint64_t tat = app->tat_ns > now_ns ? app->tat_ns : now_ns;
        allowed = tat - now_ns <= limiter->tolerance_ns;
        if (allowed)
            app->tat_ns = tat + limiter->interval_ns;
    }
    pthread_mutex_unlock(&s->lock);
    return allowed;
}
