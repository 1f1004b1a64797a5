/*
 * test_store_commit.c — the embedded store's writes on their way to disk:
 * bindings survive a reopen, a group commit keeps its writes and changes
 * apart, and writes queued faster than they commit all finish durable.
 */
#include "store_test.h"

#include <pthread.h>

#include "store/lmdb/internal.h" /* pb_lmdb_commit_group, for the group commit tests */

static void bindings_survive_reopen(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    close_store(f);
    open_store(f);
    assert_string_equal(accounts_of(f, "t1"), "a,b");
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
    /* The sequence survived too: a new binding sorts after the old ones. */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t0", "a"), PB_CHANGE_OK);
    assert_string_equal(tokens_of(f, "a"), "t1,t2,t0");
}

/* A write record for pb_lmdb_commit_group(), chained after `prev` when given. */
static pb_lmdb_write *group_write(struct fixture *f, pb_lmdb_write *prev, uint64_t app, const pb_change *changes,
                                  size_t n)
{
    pb_lmdb_write *w = pb_pool_alloc(&f->pool, sizeof(*w));
    pb_change_outcome *outcomes = pb_pool_alloc(&f->pool, n * sizeof(*outcomes));
    for (size_t i = 0; i < n; i++)
        outcomes[i] = -1;
    *w = (pb_lmdb_write){.access_id = app, .changes = changes, .n = n, .outcomes = outcomes,
                         .result = PB_STORE_EIO};
    if (prev != NULL)
        prev->next = w;
    return w;
}

/*
 * Several requests' writes in one transaction: each keeps its own result and
 * per-change outcomes, a write for a missing app or a refused change undoes
 * nothing of the others, later writes see earlier ones, and sequence numbers
 * (the order of bindings) run on across writes and groups.
 */
static void group_commit_keeps_each_write_and_change_apart(void **state)
{
    struct fixture *f = *state; /* 3 accounts per token, 2 tokens per account */
    create_app(f, OTHER_APP);
    pb_change first = make_change(f, PB_CHANGE_APPEND, "t1", "a");
    pb_change lost = make_change(f, PB_CHANGE_APPEND, "t9", "z");
    pb_change mixed[] = {make_change(f, PB_CHANGE_APPEND, "t2", "a"), make_change(f, PB_CHANGE_APPEND, "t3", "a")};
    pb_change other = make_change(f, PB_CHANGE_APPEND, "t1", "a");
    pb_change last = make_change(f, PB_CHANGE_APPEND, "t4", "b,c");

    pb_lmdb_write *w0 = group_write(f, NULL, APP, &first, 1);
    pb_lmdb_write *w1 = group_write(f, w0, 42, &lost, 1);
    pb_lmdb_write *w2 = group_write(f, w1, APP, mixed, 2);
    pb_lmdb_write *w3 = group_write(f, w2, OTHER_APP, &other, 1);
    pb_lmdb_write *w4 = group_write(f, w3, APP, &last, 1);
    pb_lmdb_commit_group(pb_store_session_lmdb(f->session), w0);

    assert_int_equal(w0->result, PB_STORE_OK);
    assert_int_equal(w0->outcomes[0], PB_CHANGE_OK);
    assert_int_equal(w1->result, PB_STORE_ENOTFOUND);
    assert_int_equal(w2->result, PB_STORE_OK);
    assert_int_equal(w2->outcomes[0], PB_CHANGE_OK);
    assert_int_equal(w2->outcomes[1], PB_CHANGE_OVER_LIMIT); /* "a" already has t1 (from w0) and t2 */
    assert_int_equal(w3->result, PB_STORE_OK);
    assert_int_equal(w4->result, PB_STORE_OK);

    close_store(f); /* committed means on disk */
    open_store(f);
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
    assert_string_equal(accounts_of(f, "t3"), "");
    assert_string_equal(accounts_of(f, "t4"), "b,c");
    assert_string_equal(accounts_in(f, OTHER_APP, "t1"), "a");
    assert_string_equal(tokens_in(f, 42, "z"), "");
    struct app_rows rows;
    assert_string_equal(list_apps(f, &rows), "1500001048:4;1500001049:1;");
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t5", "b"), PB_CHANGE_OK);
    assert_string_equal(tokens_of(f, "b"), "t4,t5");
}

/* One write of a group runs into the reserve: its binds past it are refused, the rest commits. */
static void group_commit_refuses_only_the_binds_past_the_reserve(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    enum { HUGE_CHANGES = 400, ACCOUNTS = 16 };
    pb_change before = make_change(f, PB_CHANGE_APPEND, "before", "a");
    pb_change after = make_change(f, PB_CHANGE_APPEND, "after", "a");
    pb_change *huge = pb_pool_alloc(&f->pool, HUGE_CHANGES * sizeof(*huge));
    for (int i = 0; i < HUGE_CHANGES; i++) {
        char token[32], accounts[ACCOUNTS * 101], *p = accounts;
        for (int j = 0; j < ACCOUNTS; j++)
            p += sprintf(p, "%s%0100d", j == 0 ? "" : ",", i * ACCOUNTS + j);
        snprintf(token, sizeof(token), "huge-%03d", i);
        huge[i] = make_change(f, PB_CHANGE_APPEND, token, accounts);
        huge[i].token = pb_pool_strdup(&f->pool, huge[i].token);
    }
    pb_lmdb_write *w0 = group_write(f, NULL, APP, &before, 1);
    pb_lmdb_write *w1 = group_write(f, w0, APP, huge, HUGE_CHANGES);
    pb_lmdb_write *w2 = group_write(f, w1, APP, &after, 1);
    pb_lmdb_commit_group(pb_store_session_lmdb(f->session), w0);

    assert_int_equal(w0->result, PB_STORE_OK);
    assert_int_equal(w1->result, PB_STORE_OK);
    assert_int_equal(w2->result, PB_STORE_OK);
    int bound = 0;
    while (bound < HUGE_CHANGES && w1->outcomes[bound] == PB_CHANGE_OK)
        bound++;
    assert_true(bound > 0 && bound < HUGE_CHANGES);
    for (int i = bound; i < HUGE_CHANGES; i++)
        assert_int_equal(w1->outcomes[i], PB_CHANGE_NO_SPACE);
    assert_string_equal(tokens_of(f, "a"), "before,after");
    assert_string_equal(accounts_of(f, "huge-399"), "");
    struct app_rows rows;
    char expected[64];
    snprintf(expected, sizeof(expected), "%u:%d;", APP, 2 + bound * ACCOUNTS);
    assert_string_equal(list_apps(f, &rows), expected);
}

struct done_count {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, failed;
};

static void count_done(void *arg, int result)
{
    struct done_count *count = arg;
    pthread_mutex_lock(&count->lock);
    count->done++;
    count->failed += result != PB_STORE_OK;
    pthread_cond_signal(&count->cond);
    pthread_mutex_unlock(&count->lock);
}

/*
 * Writes queued faster than they are committed: each finishes once, in good
 * order, and every one is durable.
 */
static void queued_writes_all_finish_durable(void **state)
{
    struct fixture *f = *state;
    enum { WRITES = 300 };
    struct done_count count = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pb_change_outcome *outcomes = pb_pool_alloc(&f->pool, WRITES * sizeof(*outcomes));
    for (int i = 0; i < WRITES; i++) {
        char token[32];
        snprintf(token, sizeof(token), "q-%03d", i);
        pb_change *change = pb_pool_alloc(&f->pool, sizeof(*change));
        *change = make_change(f, PB_CHANGE_APPEND, token, i % 3 == 0 ? "third" : i % 3 == 1 ? "second" : "first");
        change->token = pb_pool_strdup(&f->pool, change->token);
        outcomes[i] = -1;
        pb_store_apply_start(f->session, APP, change, 1, &outcomes[i], &f->pool, count_done, &count);
    }
    pthread_mutex_lock(&count.lock);
    while (count.done < WRITES)
        pthread_cond_wait(&count.cond, &count.lock);
    pthread_mutex_unlock(&count.lock);
    assert_int_equal(count.failed, 0);
    for (int i = 0; i < WRITES; i++)
        assert_int_equal(outcomes[i], PB_CHANGE_OK);

    close_store(f);
    open_store(f);
    struct app_rows rows;
    assert_string_equal(list_apps(f, &rows), "1500001048:300;");
    assert_string_equal(accounts_of(f, "q-299"), "first");
    const char *third = tokens_of(f, "third"); /* 100 tokens, the most an account may have */
    assert_int_equal(strlen(third), 100 * 6 - 1);
    assert_memory_equal(third, "q-000,q-003,q-006,", 18); /* in queue order */
    assert_memory_equal(third + 99 * 6, "q-297", 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(bindings_survive_reopen),
        TEST_LIMITS(group_commit_keeps_each_write_and_change_apart),
        TEST_SMALL_MAP(group_commit_refuses_only_the_binds_past_the_reserve),
        TEST(queued_writes_all_finish_durable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
