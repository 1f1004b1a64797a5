/*
 * A tag request's write machine on Redis (store/redis/tags.h) against replies
 * of the test's own making: no server. The carrier plays pb_redis_run(): it
 * answers each command as a healthy Redis would for an app whose tag "vip"
 * (gen 7) no token has yet, unless the test's hook answers otherwise or
 * loses the command after sending it.
 *
 * One test per row of docs/design.md's "Tags (Redis)" failure cases that the
 * machine decides, each named for what it proves, plus the order of writes
 * that makes a killed writer safe (marks before records, settles after).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_fake_store.h"
#include "redis_replies.h"
#include "store/redis/tags.h"

#define ACCESS_ID 1500001048
#define MAX_SEEN 64

typedef struct fake fake;

/* Returns a reply that replaces the default, or NULL; sets *lost to lose the command after sending it. */
typedef redisReply *hook_fn(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost);

typedef struct seen {
    int round;
    char what[16];
    pb_str arg; /* a script's first ARGV (its mode), or the command's key */
} seen;

struct fake {
    redis_fake_store fs; /* first: the store, session, slot map and pool */
    hook_fn *hook;
    int rounds;
    char released[32]; /* tag_release's last argument: what the settle saw */
    seen seen[MAX_SEEN];
    size_t n_seen;
};
_Static_assert(offsetof(fake, fs) == 0, "redis_fake_store_new() makes the fixture around its store");

static int setup(void **state)
{
    *state = redis_fake_store_new(sizeof(fake));
    return 0;
}

static int teardown(void **state)
{
    redis_fake_store_free(*state);
    return 0;
}

static const char *kind_of(const fake *f, const pb_redis_cmd *cmd)
{
    const pb_redis_scripts *s = &f->fs.store.scripts;
    return cmd->script == &s->tag_begin    ? "begin"
           : cmd->script == &s->tag_mark   ? "mark"
           : cmd->script == &s->tag_change ? "change"
           : cmd->script == &s->tag_settle ? "settle"
           : cmd->script == &s->tag_release ? "release"
                                            : cmd->argv[0];
}

static redisReply *str(const char *s)
{
    return r_str(s, strlen(s));
}

/* An array of `n` replies the caller sets. */
static redisReply *r_slots(size_t n)
{
    redisReply *r = r_array(0);
    free(r->element);
    r->elements = n;
    r->element = calloc(n + 1, sizeof(*r->element));
    return r;
}

/*
 * tag_change's reply: status, version, the state of each of its quads (NULL:
 * each quad's own seq, as when every add was made; else `state`, "" for none).
 */
static redisReply *change_reply(const char *status, const pb_redis_cmd *cmd, const char *state, redisReply *last)
{
    size_t first = 13 + 2 * (size_t)atoi(cmd->argv[12]); /* EVALSHA sha 3 k1 k2 k3, ARGV[1..7], the gens */
    size_t quads = ((size_t)cmd->argc - first) / 4;
    redisReply *states = r_slots(quads);
    for (size_t i = 0; i < quads; i++)
        states->element[i] = state != NULL ? str(state) : r_str(cmd->argv[first + 4 * i + 3], cmd->argvlen[first + 4 * i + 3]);
    return r_array(4, str(status), r_int(1), states, last);
}

/* What a healthy Redis answers: "vip" exists (gen 7), tokens have no tags, every script does its work. */
static redisReply *healthy(const char *what, const pb_redis_cmd *cmd)
{
    if (strcmp(what, "begin") == 0) { /* EVALSHA sha 5 k1 … k5, ARGV[1..4], then the tags: each gen 7 */
        redisReply *gens = r_slots((size_t)cmd->argc - 12);
        for (size_t i = 0; i < gens->elements; i++)
            gens->element[i] = str("7");
        return r_array(2, r_int(1000), gens);
    }
    if (strcmp(what, "HGETALL") == 0)
        return r_array(0);
    if (strcmp(what, "change") == 0)
        return change_reply("ok", cmd, NULL, r_array(0));
    if (strcmp(what, "settle") == 0)
        return r_array(2, r_int(1), r_int(1));
    return r_int(1); /* mark, release, UNLINK, ZREM, HINCRBY */
}

static void carry(fake *f, pb_redis_cmd *cmd)
{
    const char *what = kind_of(f, cmd);
    bool lost = false;
    redisReply *reply = f->hook != NULL ? f->hook(f, what, cmd, &lost) : NULL;
    if (reply == NULL && !lost)
        reply = healthy(what, cmd);
    assert_true(f->n_seen < MAX_SEEN);
    seen *s = &f->seen[f->n_seen++];
    int at = cmd->script != NULL ? 3 + atoi(cmd->argv[2]) : 1;
    *s = (seen){.round = f->rounds, .arg = pb_pool_strdup(&f->fs.pool, (pb_str){cmd->argv[at], cmd->argvlen[at]})};
    snprintf(s->what, sizeof(s->what), "%s", what);
    if (strcmp(what, "release") == 0)
        snprintf(f->released, sizeof(f->released), "%.*s", (int)cmd->argvlen[cmd->argc - 1], cmd->argv[cmd->argc - 1]);
    cmd->sent = true;
    cmd->node = pb_redis_route(&f->fs.map, cmd);
    cmd->epoch = f->fs.map.nodes[cmd->node].epoch;
    cmd->stamp = ++f->fs.map.sends;
    cmd->reply = reply;
}

static int run(fake *f, hook_fn *hook, pb_tag_write *w)
{
    f->hook = hook;
    pb_redis_applier *a = pb_redis_tag_applier_new(&f->fs.session, &f->fs.map, &f->fs.pool, ACCESS_ID, w);
    pb_redis_cmd *cmds;
    size_t n;
    while (pb_redis_applier_next(a, &cmds, &n)) {
        for (size_t i = 0; i < n; i++)
            carry(f, &cmds[i]);
        pb_redis_applier_judge(a);
        f->rounds++;
    }
    return pb_redis_applier_end(a);
}

/* The round `what` was first seen in, or -1. */
static int round_of(const fake *f, const char *what)
{
    for (size_t i = 0; i < f->n_seen; i++)
        if (strcmp(f->seen[i].what, what) == 0)
            return f->seen[i].round;
    return -1;
}

static size_t count_of(const fake *f, const char *what)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_seen; i++)
        n += strcmp(f->seen[i].what, what) == 0;
    return n;
}

static const pb_str vip[] = {PB_STR_LIT("vip"), PB_STR_LIT("vip")};
static const pb_str toks[] = {PB_STR_LIT("tok"), PB_STR_LIT("tok2")};

static pb_tag_write add(size_t n)
{
    return (pb_tag_write){.kind = PB_TAG_ADD, .tags = vip, .tokens = toks, .n = n, .max_tags_per_token = 100,
                          .max_tags_per_app = 10000};
}

/* ---- Tests ---- */

static void a_pair_is_marked_before_its_record_changes_and_settled_after(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(1);
    assert_int_equal(run(f, NULL, &w), 0);
    assert_int_equal(w.outcome, PB_TAG_OK);
    assert_int_equal(round_of(f, "begin"), 0);
    assert_int_equal(round_of(f, "HGETALL"), 0);
    assert_int_equal(round_of(f, "mark"), 1);
    assert_int_equal(round_of(f, "change"), 2);
    assert_int_equal(round_of(f, "settle"), 3);
    assert_int_equal(round_of(f, "release"), 4);
    assert_string_equal(f->released, "1|1"); /* the settle's count, for the app's record of the tag */
}

static redisReply *begin_lost(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)cmd;
    *lost = strcmp(what, "begin") == 0;
    return NULL;
}

static void a_lost_begin_fails_before_any_pair_is_written(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(1);
    assert_int_equal(run(f, begin_lost, &w), PB_STORE_EIO);
    assert_int_equal(round_of(f, "mark"), -1);
    assert_int_equal(round_of(f, "change"), -1);
}

static redisReply *app_full(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)cmd, (void)lost;
    return strcmp(what, "begin") == 0 ? r_array(2, r_int(-2), r_int(1)) : NULL;
}

static void the_app_limit_refuses_in_the_first_round_and_writes_nothing(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(1);
    assert_int_equal(run(f, app_full, &w), 0);
    assert_int_equal(w.outcome, PB_TAG_OVER_APP_LIMIT);
    assert_int_equal(w.at, 0);
    assert_int_equal(f->rounds, 1);
}

static redisReply *no_app(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)cmd, (void)lost;
    return strcmp(what, "begin") == 0 ? r_array(1, r_int(-1)) : NULL;
}

static void a_missing_app_is_not_found_and_nothing_is_written(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(1);
    assert_int_equal(run(f, no_app, &w), PB_STORE_ENOTFOUND);
    assert_int_equal(f->rounds, 1);
}

/* The token holds "old" (gen 3, live): with a limit of 1, "vip" does not fit. */
static redisReply *holds_old(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)lost;
    if (strcmp(what, "HGETALL") == 0)
        return r_array(4, str("told"), str("5|3|100"), str("v"), str("2"));
    if (strcmp(what, "begin") == 0 && cmd->argv[8][0] == 'g') /* the gens round */
        return r_array(2, r_int(1000), r_array(1, str("3")));
    return NULL;
}

static void the_token_limit_is_judged_before_any_mark_and_the_lease_given_back(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(1);
    w.max_tags_per_token = 1;
    assert_int_equal(run(f, holds_old, &w), 0);
    assert_int_equal(w.outcome, PB_TAG_OVER_TOKEN_LIMIT);
    assert_int_equal(count_of(f, "begin"), 2); /* begin, then the gens of "old" */
    assert_int_equal(round_of(f, "mark"), -1);
    assert_int_equal(round_of(f, "change"), -1);
    assert_int_equal(count_of(f, "release"), 1);
}

/* "old" was deleted since the token got it (its gen is 4 now): the dead pair does not count. */
static redisReply *holds_dead(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    if (strcmp(what, "begin") == 0 && cmd->argv[8][0] == 'g')
        return r_array(2, r_int(1000), r_array(1, str("4")));
    return holds_old(f, what, cmd, lost);
}

static void a_pair_of_a_deleted_gen_does_not_count_against_the_limit(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(1);
    w.max_tags_per_token = 1;
    assert_int_equal(run(f, holds_dead, &w), 0);
    assert_int_equal(w.outcome, PB_TAG_OK);
    assert_int_equal(count_of(f, "change"), 1);
}

static redisReply *mark_lost(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)cmd;
    *lost = strcmp(what, "mark") == 0;
    return NULL;
}

static void a_lost_mark_changes_no_record_and_gives_the_lease_back(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(1);
    assert_int_equal(run(f, mark_lost, &w), PB_STORE_EIO);
    assert_int_equal(round_of(f, "change"), -1);
    assert_int_equal(count_of(f, "release"), 1);
}

static redisReply *change_lost(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)cmd;
    *lost = strcmp(what, "change") == 0;
    return NULL;
}

static void a_lost_change_leaves_its_marks_for_readers_to_check(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(1);
    assert_int_equal(run(f, change_lost, &w), PB_STORE_EIO);
    assert_int_equal(round_of(f, "settle"), -1); /* the mark stays: the pair is judged by its record */
    assert_int_equal(count_of(f, "release"), 1);
}

/* The second token's script finds it full (a racing writer filled it after the first round). */
static redisReply *second_full(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)lost;
    pb_str key = {cmd->argv[3], cmd->argvlen[3]};
    if (strcmp(what, "change") == 0 && key.len >= 5 && memcmp(key.base + key.len - 5, "tok2}", 5) == 0)
        return change_reply("over", cmd, "", r_int(1));
    if (strcmp(what, "change") == 0 && cmd->argv[13 + 2 * atoi(cmd->argv[12])][0] == 'r')
        return change_reply("ok", cmd, "", r_array(0)); /* the undo */
    return NULL;
}

static void a_token_refused_under_a_race_takes_back_the_other_tokens_adds(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(2);
    assert_int_equal(run(f, second_full, &w), 0);
    assert_int_equal(w.outcome, PB_TAG_OVER_TOKEN_LIMIT);
    assert_int_equal(w.at, 1);
    assert_int_equal(count_of(f, "change"), 3); /* two, then the first one's undo */
    assert_int_equal(count_of(f, "settle"), 1);
    assert_string_equal(f->released, "1|1");
}

static redisReply *settle_lost(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)cmd;
    *lost = strcmp(what, "settle") == 0;
    return NULL;
}

static void a_lost_settle_fails_the_request_and_says_nothing_of_the_count(void **state)
{
    fake *f = *state;
    pb_tag_write w = add(1);
    assert_int_equal(run(f, settle_lost, &w), PB_STORE_EIO);
    assert_string_equal(f->released, "-");
}

static redisReply *bound(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)lost;
    if (strcmp(what, "change") == 0) /* carol's binding (type 0, seq 42) removed */
        return change_reply("ok", cmd, "", r_array(2, r_str("\0\0\0\0carol", 9), str("42")));
    return NULL;
}

static void an_invalidation_cleans_the_index_members_of_the_bindings_it_removed(void **state)
{
    fake *f = *state;
    int64_t since = 5;
    bool kept = true;
    pb_tag_write w = {.kind = PB_TAG_INVALIDATE, .tokens = toks, .n = 1, .invalid_since = &since, .kept = &kept,
                      .max_tags_per_token = 100, .max_tags_per_app = 10000};
    assert_int_equal(run(f, bound, &w), 0);
    assert_false(kept);
    assert_int_equal(count_of(f, "ZREM"), 1);
    assert_int_equal(count_of(f, "HINCRBY"), 1);
}

static redisReply *refreshed(fake *f, const char *what, const pb_redis_cmd *cmd, bool *lost)
{
    (void)f, (void)lost;
    return strcmp(what, "change") == 0 ? change_reply("kept", cmd, "", r_int(0)) : NULL;
}

static void a_token_refreshed_since_is_kept(void **state)
{
    fake *f = *state;
    int64_t since = 5;
    bool kept = false;
    pb_tag_write w = {.kind = PB_TAG_INVALIDATE, .tokens = toks, .n = 1, .invalid_since = &since, .kept = &kept,
                      .max_tags_per_token = 100, .max_tags_per_app = 10000};
    assert_int_equal(run(f, refreshed, &w), 0);
    assert_true(kept);
    assert_int_equal(count_of(f, "ZREM"), 0);
}

/* delete_all is one script on the app's node: the gen dies there; the pairs are the sweeper's (tag_graves.c). */
static void delete_all_is_one_round_on_the_apps_node(void **state)
{
    fake *f = *state;
    pb_tag_write w = {.kind = PB_TAG_DELETE_ALL, .tags = vip, .n = 1, .max_tags_per_token = 100,
                      .max_tags_per_app = 10000};
    assert_int_equal(run(f, NULL, &w), 0);
    assert_int_equal(f->rounds, 1);
    assert_int_equal(f->seen[0].arg.base[0], 'd');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_pair_is_marked_before_its_record_changes_and_settled_after, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lost_begin_fails_before_any_pair_is_written, setup, teardown),
        cmocka_unit_test_setup_teardown(the_app_limit_refuses_in_the_first_round_and_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(a_missing_app_is_not_found_and_nothing_is_written, setup, teardown),
        cmocka_unit_test_setup_teardown(the_token_limit_is_judged_before_any_mark_and_the_lease_given_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_pair_of_a_deleted_gen_does_not_count_against_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lost_mark_changes_no_record_and_gives_the_lease_back, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lost_change_leaves_its_marks_for_readers_to_check, setup, teardown),
        cmocka_unit_test_setup_teardown(a_token_refused_under_a_race_takes_back_the_other_tokens_adds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_lost_settle_fails_the_request_and_says_nothing_of_the_count, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_invalidation_cleans_the_index_members_of_the_bindings_it_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_token_refreshed_since_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_all_is_one_round_on_the_apps_node, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
