/*
 * bench/load.c — the benchmark's data set, made the same way for pushbind and
 * for Redis: ACCOUNTS accounts, each bound to TOKENS_PER_ACCOUNT tokens.
 *
 *   bench_load store DIR ACCESS_ID SECRET ACCOUNTS   fills a pushbind data directory
 *   bench_load resp ACCOUNTS                         prints Redis commands (SADD) for
 *                                                    `redis-cli --pipe`
 *
 * Account i is "%012d" (the key form redis-benchmark's -r gives), its tokens
 * are 40 hex digits derived from (i, j). The store is filled through the
 * public store API (pb_store_apply_start), in many small writes that the
 * store commits in groups: a load through HTTP
 * would take minutes at 10 million bindings, and the HTTP write path is
 * measured on its own by the durable-binds scenario.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "store/store.h"

#define TOKENS_PER_ACCOUNT 2
#define TOKEN_LEN 40
#define ACCOUNT_LEN 12

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static void make_token(char *out, uint64_t account, unsigned j)
{
    uint64_t a = mix(account * TOKENS_PER_ACCOUNT + j), b = mix(a);
    snprintf(out, TOKEN_LEN + 1, "%016" PRIx64 "%016" PRIx64 "%08x", a, b, (unsigned)(account * TOKENS_PER_ACCOUNT + j));
}

static int print_resp(uint64_t accounts)
{
    char token[TOKEN_LEN + 1];
    for (uint64_t i = 0; i < accounts; i++) {
        printf("*%d\r\n$4\r\nSADD\r\n$%d\r\n%012" PRIu64 "\r\n", 2 + TOKENS_PER_ACCOUNT, ACCOUNT_LEN, i);
        for (unsigned j = 0; j < TOKENS_PER_ACCOUNT; j++) {
            make_token(token, i, j);
            printf("$%d\r\n%s\r\n", TOKEN_LEN, token);
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * The loader queues many small writes (pb_store_apply_start) and lets the
 * store group them, exactly as the server does with concurrent requests;
 * WINDOW writes are in flight at a time, each in a slot of its own.
 */
enum { ACCOUNTS_PER_WRITE = 50, CHANGES_PER_WRITE = ACCOUNTS_PER_WRITE * TOKENS_PER_ACCOUNT, WINDOW = 1024 };

struct slot {
    char names[ACCOUNTS_PER_WRITE][ACCOUNT_LEN + 1];
    char tokens[CHANGES_PER_WRITE][TOKEN_LEN + 1];
    pb_account accounts[ACCOUNTS_PER_WRITE];
    pb_change changes[CHANGES_PER_WRITE];
    pb_change_outcome outcomes[CHANGES_PER_WRITE];
    size_t n;
    pb_pool pool;
};

struct progress {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t finished;
    int failed;
};

static void write_done(void *arg, int result)
{
    struct progress *progress = arg;
    pthread_mutex_lock(&progress->lock);
    progress->finished++;
    progress->failed |= result != PB_STORE_OK;
    pthread_cond_signal(&progress->cond);
    pthread_mutex_unlock(&progress->lock);
}

/* Waits until at most `in_flight` of the `queued` writes are unfinished; returns whether all went well. */
static bool wait_until(struct progress *progress, uint64_t queued, uint64_t in_flight)
{
    pthread_mutex_lock(&progress->lock);
    while (progress->finished + in_flight < queued)
        pthread_cond_wait(&progress->cond, &progress->lock);
    bool ok = !progress->failed;
    pthread_mutex_unlock(&progress->lock);
    return ok;
}

static void fill_slot(struct slot *slot, uint64_t first, uint64_t accounts)
{
    slot->n = 0;
    for (uint64_t i = first; i < accounts && i < first + ACCOUNTS_PER_WRITE; i++) {
        size_t k = (size_t)(i - first);
        snprintf(slot->names[k], sizeof(slot->names[k]), "%012" PRIu64, i % 1000000000000u);
        slot->accounts[k] = (pb_account){{slot->names[k], ACCOUNT_LEN}, 0};
        for (unsigned j = 0; j < TOKENS_PER_ACCOUNT; j++, slot->n++) {
            make_token(slot->tokens[slot->n], i, j);
            slot->changes[slot->n] =
                (pb_change){.kind = PB_CHANGE_APPEND, .token = {slot->tokens[slot->n], TOKEN_LEN},
                            .accounts = &slot->accounts[k], .n_accounts = 1};
        }
    }
}

static int fill_store(const char *dir, uint64_t access_id, const char *secret, uint64_t accounts)
{
    pb_store_config config = {
        .data_dir = dir,
        .map_size = (uint64_t)64 << 30,
        .limits = {PB_DEFAULT_MAX_ACCOUNTS_PER_TOKEN, PB_DEFAULT_MAX_TOKENS_PER_ACCOUNT},
    };
    struct progress progress = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    struct slot *slots = calloc(WINDOW, sizeof(*slots));
    char *err = NULL;
    pb_store *store = pb_store_open(&config, &err);
    if (store == NULL || slots == NULL) {
        fprintf(stderr, "bench_load: %s\n", err != NULL ? err : "cannot open the store");
        return 1;
    }
    pb_store_session *session = pb_store_session_open(store);
    bool created;
    bool ok = session != NULL && pb_store_app_put(session, access_id, pb_str_from_cstr(secret), &created) == 0;
    for (size_t i = 0; i < WINDOW; i++)
        pb_pool_init(&slots[i].pool);

    uint64_t queued = 0;
    for (uint64_t first = 0; ok && first < accounts; first += ACCOUNTS_PER_WRITE, queued++) {
        struct slot *slot = &slots[queued % WINDOW];
        ok = wait_until(&progress, queued, WINDOW - 1); /* writes finish in queue order: this slot's did */
        pb_pool_clear(&slot->pool);
        fill_slot(slot, first, accounts);
        pb_store_apply_start(session, access_id, slot->changes, slot->n, slot->outcomes, &slot->pool, write_done,
                             &progress);
    }
    ok = wait_until(&progress, queued, 0) && ok;
    for (size_t i = 0; i < WINDOW; i++) {
        for (size_t c = 0; ok && c < slots[i].n; c++)
            ok = slots[i].outcomes[c] == PB_CHANGE_OK;
        pb_pool_clear(&slots[i].pool);
    }
    if (!ok)
        fprintf(stderr, "bench_load: loading failed\n");
    pb_store_session_close(session);
    pb_store_close(store);
    free(slots);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "store") == 0)
        return fill_store(argv[2], strtoull(argv[3], NULL, 10), argv[4], strtoull(argv[5], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "resp") == 0)
        return print_resp(strtoull(argv[2], NULL, 10));
    fprintf(stderr, "usage: bench_load store DIR ACCESS_ID SECRET ACCOUNTS | bench_load resp ACCOUNTS\n");
    return 2;
}
