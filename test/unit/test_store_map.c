/*
 * test_store_map.c — the embedded store's map: opening an unusable directory,
 * a full map refusing binds, a map grown by another process followed by
 * views, writes and busy threads, and the snapshot a loop's session keeps
 * between views giving way to every commit.
 */
#include "store_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

/* Binds refused at the reserve (store/lmdb/space.c) change nothing; the ones before stay whole. */
static void full_store_refuses_binds_and_changes_nothing(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    char token[32], accounts[16 * 120];
    int acked = 0, rc = 0;
    pb_change_outcome outcome = -1;

    for (; acked < 10000; acked++) {
        char *p = accounts;
        for (int j = 0; j < 16; j++)
            p += sprintf(p, "%s%0100d", j == 0 ? "" : ",", acked * 16 + j);
        snprintf(token, sizeof(token), "tok-%05d", acked);
        pb_change change = make_change(f, PB_CHANGE_APPEND, token, accounts);
        if ((rc = pb_store_apply(f->session, APP, &change, 1, &outcome)) != 0 || outcome != PB_CHANGE_OK)
            break;
    }
    assert_int_equal(rc, PB_STORE_OK);
    assert_int_equal(outcome, PB_CHANGE_NO_SPACE);
    assert_true(acked > 10);

    for (int i = 0; i <= acked; i++) {
        snprintf(token, sizeof(token), "tok-%05d", i);
        const char *bound = accounts_of(f, token);
        if (i == acked) {
            assert_string_equal(bound, "");
            continue;
        }
        char first[104];
        snprintf(first, sizeof(first), "%0100d,", i * 16);
        assert_int_equal(strlen(bound), 16 * 101 - 1);
        assert_memory_equal(bound, first, 101);
    }
    struct app_rows rows;
    char expected[64];
    snprintf(expected, sizeof(expected), "%u:%d;", APP, acked * 16);
    assert_string_equal(list_apps(f, &rows), expected);
}

/*
 * In a child process: opens the store with a map of `map_size` and binds
 * batches × 20 tokens of 30 long accounts in one commit, then exits 0 when
 * every change was applied. One commit, so that the data jumps past the
 * parent's map at once: the parent sees no moment where another process's
 * data sits in its reserve (space.c) without its map having grown.
 */
static void grow_in_other_process(struct fixture *f, uint64_t map_size, int first, int batches)
{
    pb_store_config config = f->config;
    config.map_size = map_size;
    pb_store *store = pb_store_open(&config, NULL);
    pb_store_session *session = store != NULL ? pb_store_session_open(store) : NULL;
    int ok = session != NULL;
    size_t n = (size_t)batches * 20;
    pb_change *changes = pb_pool_alloc(&f->pool, n * sizeof(*changes));
    pb_change_outcome *outcomes = pb_pool_alloc(&f->pool, n * sizeof(*outcomes));
    for (size_t i = 0; ok && i < n; i++) {
        int token_no = first + (int)i;
        char token[32], accounts[30 * 101], *p = accounts;
        for (int j = 0; j < 30; j++)
            p += sprintf(p, "%s%0100d", j == 0 ? "" : ",", token_no * 30 + j);
        snprintf(token, sizeof(token), "grown-%04d", token_no);
        changes[i] = make_change(f, PB_CHANGE_APPEND, token, accounts);
        changes[i].token = pb_pool_strdup(&f->pool, changes[i].token);
    }
    ok = ok && pb_store_apply(session, APP, changes, n, outcomes) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = outcomes[i] == PB_CHANGE_OK;
    pb_store_session_close(session);
    pb_store_close(store);
    _exit(ok ? 0 : 1);
}

static void grow_and_wait(struct fixture *f, uint64_t map_size, int first, int batches)
{
    int status;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        grow_in_other_process(f, map_size, first, batches);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Another process (the command line) opens the same directory with a larger
 * map and grows the data past our mapping: our next view, or our next write,
 * must follow (MDB_MAP_RESIZED) instead of failing.
 */
static void map_grown_by_another_process_is_followed(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    char account[128];
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t0", "a"), PB_CHANGE_OK);

    grow_and_wait(f, 4 * MIB, 0, 10);
    snprintf(account, sizeof(account), "%0100d", 199 * 30);
    assert_string_equal(tokens_of(f, account), "grown-0199"); /* a view follows */

    grow_and_wait(f, 32 * MIB, 200, 20);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t0", "b"), PB_CHANGE_OK); /* a write follows */
    assert_string_equal(accounts_of(f, "t0"), "a,b");
    snprintf(account, sizeof(account), "%0100d", 599 * 30 + 29);
    assert_string_equal(tokens_of(f, account), "grown-0599");
}

/*
 * Remapping waits for every transaction of the process, including a view the
 * caller of pb_store_apply() holds while the writer thread works for it: that
 * write fails (after a bounded wait) rather than deadlock, and the first write
 * after the view ends remaps.
 */
static void growth_seen_while_own_view_is_open_fails_then_recovers(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    grow_and_wait(f, 4 * MIB, 0, 10);
    pb_change change = make_change(f, PB_CHANGE_APPEND, "t0", "a");
    pb_change_outcome outcome;
    assert_int_equal(pb_store_apply(f->session, APP, &change, 1, &outcome), PB_STORE_EIO);
    assert_non_null(strstr(pb_store_session_error(f->session), "MDB_MAP_RESIZED"));
    pb_store_view_end(view);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t0", "a"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t0"), "a");
}

struct busy_worker {
    pb_store *store;
    int no;
    atomic_int *stop;
    int failures;
    int rounds;
    pb_pool pool; /* cleared by the main thread, see struct worker in test_store_read.c */
};

/* Re-binds one account to 5 tokens in turn and reads it back, until stopped. */
static void *bind_and_read_until_stopped(void *arg)
{
    struct busy_worker *w = arg;
    pb_store_session *session = pb_store_session_open(w->store);
    char name[16], token[32];
    snprintf(name, sizeof(name), "busy%d", w->no);
    pb_account account = {pb_str_from_cstr(name), 0};
    for (; session != NULL && !atomic_load(w->stop) && w->rounds < 5000; w->rounds++) {
        snprintf(token, sizeof(token), "busy%d-%d", w->no, w->rounds % 5);
        pb_change change = {.kind = PB_CHANGE_APPEND, .token = pb_str_from_cstr(token), .accounts = &account, .n_accounts = 1};
        pb_change_outcome outcome;
        pb_token_list list;
        w->failures += pb_store_apply(session, APP, &change, 1, &outcome) != 0 || outcome != PB_CHANGE_OK;
        pb_store_view *view = pb_store_view_begin(session);
        w->failures += view == NULL || pb_store_tokens_of(view, APP, &account, 1, false, &w->pool, &list) != 0 ||
                       list.n != (size_t)(w->rounds < 5 ? w->rounds + 1 : 5);
        if (view != NULL)
            pb_store_view_end(view);
    }
    w->failures += session == NULL;
    pb_store_session_close(session);
    return NULL;
}

/* Remapping while other threads of the process have transactions live. */
static void map_growth_is_followed_while_threads_are_busy(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    int go[2];
    char byte = 0;
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        if (read(go[0], &byte, 1) != 1)
            _exit(2);
        grow_in_other_process(f, 4 * MIB, 0, 10);
    }
    close(go[0]);

    atomic_int stop = 0;
    struct busy_worker workers[3];
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) {
        workers[i] = (struct busy_worker){.store = f->store, .no = i, .stop = &stop};
        pb_pool_init(&workers[i].pool);
        assert_int_equal(pthread_create(&threads[i], NULL, bind_and_read_until_stopped, &workers[i]), 0);
    }
    assert_int_equal(write(go[1], &byte, 1), 1);
    close(go[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    usleep(20 * 1000); /* let the threads run past the growth */
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        pb_pool_clear(&workers[i].pool);
        assert_int_equal(workers[i].failures, 0);
        assert_true(workers[i].rounds > 0);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char account[128];
    snprintf(account, sizeof(account), "%0100d", 199 * 30);
    assert_string_equal(tokens_of(f, account), "grown-0199");
}

/* Binds `token` to `account` through a session of its own: the writer thread commits it, not f->session. */
static void bind_elsewhere(struct fixture *f, const char *token, const char *account)
{
    pb_store_session *other = pb_store_session_open(f->store);
    assert_non_null(other);
    assert_int_equal(apply_in(f, other, APP, PB_CHANGE_APPEND, token, account), PB_CHANGE_OK);
    pb_store_session_close(other);
}

/*
 * A session bound to a loop keeps its snapshot from one view to the next
 * within a turn (store.h), but never past a commit: a view begun after
 * another session's write, or after another process grew the data past our
 * mapping, sees it; and once the turn is done, nothing of ours holds off the
 * remap another session's write needs.
 */
static void a_kept_snapshot_gives_way_to_every_commit(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    int loop; /* the embedded store binds nothing to it */
    assert_int_equal(pb_store_session_attach_loop(f->session, &loop), PB_STORE_OK);
    assert_string_equal(tokens_of(f, "a"), "");
    bind_elsewhere(f, "t1", "a");
    assert_string_equal(tokens_of(f, "a"), "t1");
    bind_elsewhere(f, "t2", "a");
    assert_string_equal(tokens_of(f, "a"), "t1,t2");

    grow_and_wait(f, 4 * MIB, 0, 10);
    char account[128];
    snprintf(account, sizeof(account), "%0100d", 199 * 30);
    assert_string_equal(tokens_of(f, account), "grown-0199");

    grow_and_wait(f, 32 * MIB, 200, 20);
    pb_store_session_turn_done(f->session);
    bind_elsewhere(f, "t3", "a"); /* the writer remaps: it would wait for a snapshot kept past the turn */
    assert_string_equal(tokens_of(f, "a"), "t1,t2,t3");
    pb_store_session_detach_loop(f->session);
}

static void open_reports_unusable_directory(void **state)
{
    pb_store_config config = {.data_dir = "/proc/pushbind-cannot-exist/data", .map_size = 1 * MIB, .limits = {32, 100}};
    char *err = NULL;
    assert_null(pb_store_open(&config, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "/proc/pushbind-cannot-exist/data"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_SMALL_MAP(full_store_refuses_binds_and_changes_nothing),
        TEST_SMALL_MAP(map_grown_by_another_process_is_followed),
        TEST_SMALL_MAP(growth_seen_while_own_view_is_open_fails_then_recovers),
        TEST_SMALL_MAP(map_growth_is_followed_while_threads_are_busy),
        TEST_SMALL_MAP(a_kept_snapshot_gives_way_to_every_commit),
        cmocka_unit_test(open_reports_unusable_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
