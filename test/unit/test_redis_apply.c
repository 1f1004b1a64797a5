/*
 * The Redis write machine (store/redis/apply_machine.h) against replies of
 * the test's own making: no server. The carrier below plays the part of
 * pb_redis_run(): it answers each command of a round as a healthy Redis would
 * for an app with no bindings yet, unless the test's hook makes it fail (an
 * error reply, a refusal, no reply after it was sent, or never sent at all).
 *
 * One test per row of docs/design.md's "Failure cases and why each is safe"
 * that the write machine decides, each named for what it proves; plus the
 * order of writes that makes a killed writer safe.
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
#include "store/redis/apply_machine.h"

#define ACCESS_ID 1500001048
#define MAX_SEEN 256

typedef enum cmd_fate {
    ANSWERED,    /* a reply came (the hook's, or the healthy default) */
    LOST_SENT,   /* sent, then no reply: it may have run */
    LOST_UNSENT, /* never sent: it certainly did not run */
} cmd_fate;

/* One command the machine asked for, as the carrier saw it. */
typedef struct seen {
    int round;
    char what[16]; /* "begin", "reserve", "change", or the verb */
    pb_str key;
    pb_str arg2; /* argv[2]: ZREM's member */
    bool write, sent;
} seen;

typedef struct fake fake;

/* Returns a reply that replaces the default, or NULL; may set *fate to lose the command instead. */
typedef redisReply *hook_fn(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate);

struct fake {
    redis_fake_store fs; /* first: the store, session, slot map and pool */
    hook_fn *hook;
    long long replicas; /* what WAIT answers */
    int rounds;
    seen seen[MAX_SEEN];
    size_t n_seen;
};
_Static_assert(offsetof(fake, fs) == 0, "redis_fake_store_new() makes the fixture around its store");

/* ---- The fake Redis and its carrier ---- */

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
    if (cmd->script == &f->fs.store.scripts.begin_batch)
        return "begin";
    if (cmd->script == &f->fs.store.scripts.reserve)
        return "reserve";
    if (cmd->script == &f->fs.store.scripts.change)
        return "change";
    return cmd->argv[0];
}

static pb_str arg(const pb_redis_cmd *cmd, int i)
{
    return i < cmd->argc ? (pb_str){cmd->argv[i], cmd->argvlen[i]} : (pb_str){"", 0};
}

/* What a healthy Redis answers, for an app that exists and a token and accounts with no bindings yet. */
static redisReply *healthy(fake *f, const char *what, const pb_redis_cmd *cmd)
{
    if (strcmp(what, "begin") == 0)
        return r_int(1000); /* the app's counter after the batch's seqs */
    if (strcmp(what, "change") == 0) {
        /* {1, expired, earliest, one 1 per add}: every add made */
        uint64_t adds = 0;
        pb_redis_parse_u64(cmd->argv[10], cmd->argvlen[10], &adds);
        redisReply *r = r_array(0);
        r->elements = 3 + adds;
        r->element = realloc(r->element, r->elements * sizeof(*r->element));
        r->element[0] = r_int(1);
        r->element[1] = r_int(0);
        r->element[2] = r_int(adds != 0 && f->fs.store.binding_ttl > 0 ? 1700000000 : 0); /* with a TTL */
        for (size_t i = 0; i < adds; i++)
            r->element[3 + i] = r_int(1);
        return r;
    }
    if (strcmp(what, "ZRANGE") == 0 || strcmp(what, "HGETALL") == 0)
        return r_array(0);
    if (strcmp(what, "WAIT") == 0)
        return r_int(f->replicas);
    return r_int(strcmp(what, "ZCARD") == 0 ? 0 : 1); /* ZCARD; reserve, ZREM, ZADD, HINCRBY done */
}

/* Carries one command as pb_redis_run() would, with the fate the hook picks. */
static void carry(fake *f, pb_redis_cmd *cmd)
{
    const char *what = kind_of(f, cmd);
    cmd_fate fate = ANSWERED;
    redisReply *reply = f->hook != NULL ? f->hook(f, what, cmd, &fate) : NULL;
    if (fate == ANSWERED && reply == NULL)
        reply = healthy(f, what, cmd);
    assert_true(f->n_seen < MAX_SEEN);
    seen *s = &f->seen[f->n_seen++];
    bool script = cmd->script != NULL;
    *s = (seen){.round = f->rounds, .key = pb_pool_strdup(&f->fs.pool, arg(cmd, script ? 3 : 1)),
                .arg2 = pb_pool_strdup(&f->fs.pool, arg(cmd, 2)), .write = cmd->write,
                .sent = fate != LOST_UNSENT};
    snprintf(s->what, sizeof(s->what), "%s", what);
    if (fate == LOST_UNSENT) {
        if (reply != NULL)
            freeReplyObject(reply);
        cmd->reply = NULL;
        cmd->sent = false;
        return;
    }
    cmd->sent = true;
    cmd->node = cmd->to_node >= 0 ? cmd->to_node : pb_redis_route(&f->fs.map, cmd);
    cmd->epoch = f->fs.map.nodes[cmd->node].epoch;
    cmd->stamp = ++f->fs.map.sends;
    if (fate == LOST_SENT && reply != NULL) {
        freeReplyObject(reply);
        reply = NULL;
    }
    cmd->reply = reply;
}

/* Runs a batch through the machine, every round carried here. Returns what pb_store_apply() would. */
static int apply(fake *f, const pb_change *changes, size_t n, pb_change_outcome *outcomes)
{
    pb_redis_applier *a =
        pb_redis_applier_new(&f->fs.session, &f->fs.map, &f->fs.pool, ACCESS_ID, changes, n, outcomes);
    pb_redis_cmd *cmds;
    size_t n_cmds;
    while (pb_redis_applier_next(a, &cmds, &n_cmds)) {
        for (size_t i = 0; i < n_cmds; i++)
            carry(f, &cmds[i]);
        pb_redis_applier_judge(a);
        f->rounds++;
    }
    return pb_redis_applier_end(a);
}

/* ---- What the tests look at ---- */

/*
 * A batch of one change to token "tok" (binding `accounts`, or unbinding
 * them), the carrier failing as `hook` says. Returns the change's outcome;
 * *rc gets what the batch returned.
 */
static pb_change_outcome change_one(fake *f, hook_fn *hook, pb_change_kind kind, const pb_account *accounts,
                                    size_t n, int *rc)
{
    pb_change change = {.kind = kind, .token = PB_STR_LIT("tok"), .accounts = accounts, .n_accounts = n};
    pb_change_outcome outcome = PB_CHANGE_NO_SPACE; /* never a Redis outcome: the machine must set it */
    f->hook = hook;
    *rc = apply(f, &change, 1, &outcome);
    return outcome;
}


static const pb_account alice = {PB_STR_LIT("alice"), 0};
static const pb_account bob = {PB_STR_LIT("bob"), 0};
static const pb_account both[] = {{PB_STR_LIT("alice"), 0}, {PB_STR_LIT("bob"), 0}};


/* Commands of kind `what` that were sent (they may have run). */
static size_t sent(const fake *f, const char *what)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_seen; i++)
        n += f->seen[i].sent && strcmp(f->seen[i].what, what) == 0;
    return n;
}

/* The round of the first command of kind `what` sent; -1 when none was. */
static int round_of(const fake *f, const char *what)
{
    for (size_t i = 0; i < f->n_seen; i++)
        if (f->seen[i].sent && strcmp(f->seen[i].what, what) == 0)
            return f->seen[i].round;
    return -1;
}

/* Whether the reservation of `account` (the first seq the batch took) was deleted from its index by a ZREM. */
static bool reservation_deleted(fake *f, const pb_account *account, uint64_t seq)
{
    pb_str key = pb_redis_account_key(&f->fs.pool, &f->fs.store, ACCESS_ID, account);
    pb_str member = pb_redis_index_member(&f->fs.pool, seq, PB_STR_LIT("tok"));
    for (size_t i = 0; i < f->n_seen; i++)
        if (f->seen[i].sent && strcmp(f->seen[i].what, "ZREM") == 0 && pb_str_eq(f->seen[i].key, key) &&
            pb_str_eq(f->seen[i].arg2, member))
            return true;
    return false;
}

/* Seqs as healthy() hands them out: begin answers 1000 for a batch wanting `wanted`. */
static uint64_t seq_of(size_t wanted, size_t i)
{
    return 1000 - wanted + 1 + i;
}

/* ---- Hooks: one failure each ---- */

static redisReply *read_lost(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    if (strcmp(what, "ZRANGE") == 0)
        *fate = LOST_SENT;
    return NULL;
}

static redisReply *bob_refused(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    pb_str bob_key = pb_redis_account_key(&f->fs.pool, &f->fs.store, ACCESS_ID, &bob);
    if (strcmp(what, "reserve") == 0 && pb_str_eq(arg(cmd, 3), bob_key))
        return r_int(0);
    return NULL;
}

static redisReply *reserve_lost(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    if (strcmp(what, "reserve") == 0)
        *fate = LOST_SENT;
    return NULL;
}

static redisReply *reserve_error(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    return strcmp(what, "reserve") == 0 ? r_error("ERR out of memory") : NULL;
}

static redisReply *change_refused(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    return strcmp(what, "change") == 0 ? r_array(1, r_int(0)) : NULL;
}

static redisReply *change_unsent(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    if (strcmp(what, "change") == 0)
        *fate = LOST_UNSENT;
    return NULL;
}

static redisReply *change_lost(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    if (strcmp(what, "change") == 0)
        *fate = LOST_SENT;
    return NULL;
}

/* Remove: the change script removed alice's binding of seq 7, so its index member is cleaned; that is lost. */
static redisReply *removed_then_cleanup_lost(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    if (strcmp(what, "change") == 0) {
        pb_str member = pb_redis_account_member(&f->fs.pool, &alice);
        return r_array(5, r_int(1), r_int(0), r_int(0), r_str(member.base, member.len), r_str("7", 1));
    }
    if (strcmp(what, "ZREM") == 0)
        *fate = LOST_SENT;
    return NULL;
}

/* A re-bind's read finds alice bound; an unbind (op 4, an invalidation) removes her before its change script. */
static int unbound_reads;
static redisReply *unbound_before_the_change(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    if (strcmp(what, "ZRANGE") == 0 && unbound_reads++ == 0) {
        pb_str member = pb_redis_account_member(&f->fs.pool, &alice);
        return r_array(1, r_str(member.base, member.len));
    }
    if (strcmp(what, "change") == 0 && unbound_reads == 1)
        return r_array(1, r_int(2));
    return NULL;
}

static redisReply *app_node_down(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    if (strcmp(what, "begin") == 0)
        *fate = LOST_UNSENT; /* refused: its node is down */
    return NULL;
}

static redisReply *app_removed(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    return strcmp(what, "begin") == 0 ? r_int(-1) : NULL;
}

/* The connection the batch wrote on is lost before the final round: the WAIT goes on a new one. */
static redisReply *connection_lost_before_wait(fake *f, const char *what, const pb_redis_cmd *cmd, cmd_fate *fate)
{
    if (strcmp(what, "WAIT") == 0)
        f->fs.map.nodes[cmd->to_node].epoch++;
    return NULL;
}

/* ---- Tests ---- */

/* The healthy path the failure cases depart from: four rounds, the item bound, WAIT covering it. */
static void bind_with_wait_is_acknowledged_once_wait_covers_its_writes(void **state)
{
    fake *f = *state;
    f->fs.store.wait_replicas = 1;
    f->replicas = 1;
    int rc;
    assert_int_equal(change_one(f, NULL, PB_CHANGE_APPEND, both, 2, &rc), PB_CHANGE_OK);
    assert_int_equal(rc, 0);
    assert_int_equal(f->rounds, 4); /* read and begin, reserve, change, count and WAIT */
    assert_int_equal(sent(f, "reserve"), 2);
    assert_int_equal(sent(f, "change"), 1);
    assert_int_equal(sent(f, "WAIT"), 1);
    assert_int_equal(round_of(f, "WAIT"), 3);
}

/* Step 1 fails: nothing is written, the item answers 1008004. */
static void failed_read_fails_the_item_before_any_write(void **state)
{
    fake *f = *state;
    int rc;
    assert_int_equal(change_one(f, read_lost, PB_CHANGE_APPEND, both, 2, &rc), PB_CHANGE_FAILED);
    assert_int_equal(rc, 0);
    assert_int_equal(sent(f, "reserve"), 0);
    assert_int_equal(sent(f, "change"), 0);
    assert_int_equal(sent(f, "ZREM"), 0);
}

/* Step 2, a reservation refused: ours are deleted (they are ours: unique members), the item answers 1008007. */
static void refused_reservation_deletes_the_others_and_answers_over_limit(void **state)
{
    fake *f = *state;
    int rc;
    assert_int_equal(change_one(f, bob_refused, PB_CHANGE_APPEND, both, 2, &rc), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(rc, 0);
    assert_true(reservation_deleted(f, &alice, seq_of(2, 0)));
    assert_int_equal(sent(f, "change"), 0);
}

/* Step 2, no reply: the reservations are deleted when reachable, the record untouched, the item 1008004. */
static void lost_reservation_reply_deletes_the_reservations_and_fails_the_item(void **state)
{
    fake *f = *state;
    int rc;
    assert_int_equal(change_one(f, reserve_lost, PB_CHANGE_APPEND, both, 2, &rc), PB_CHANGE_FAILED);
    assert_int_equal(rc, 0);
    assert_true(reservation_deleted(f, &alice, seq_of(2, 0)));
    assert_true(reservation_deleted(f, &bob, seq_of(2, 1)));
    assert_int_equal(sent(f, "change"), 0);
}

/* Step 2, an error reply: as a lost reply. */
static void reservation_error_deletes_the_reservations_and_fails_the_item(void **state)
{
    fake *f = *state;
    int rc;
    assert_int_equal(change_one(f, reserve_error, PB_CHANGE_APPEND, &alice, 1, &rc), PB_CHANGE_FAILED);
    assert_int_equal(rc, 0);
    assert_true(reservation_deleted(f, &alice, seq_of(1, 0)));
    assert_int_equal(sent(f, "change"), 0);
}

/* Step 3 refused by the accounts-per-token limit: the reservations are deleted, the item answers 1008007. */
static void change_refused_by_the_limit_deletes_the_reservations(void **state)
{
    fake *f = *state;
    int rc;
    assert_int_equal(change_one(f, change_refused, PB_CHANGE_APPEND, both, 2, &rc), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(rc, 0);
    assert_true(reservation_deleted(f, &alice, seq_of(2, 0)));
    assert_true(reservation_deleted(f, &bob, seq_of(2, 1)));
}

/* Step 3 never sent: it certainly did not run, so the reservations are deleted; the item answers 1008004. */
static void change_never_sent_deletes_the_reservations(void **state)
{
    fake *f = *state;
    int rc;
    assert_int_equal(change_one(f, change_unsent, PB_CHANGE_APPEND, both, 2, &rc), PB_CHANGE_FAILED);
    assert_int_equal(rc, 0);
    assert_true(reservation_deleted(f, &alice, seq_of(2, 0)));
    assert_true(reservation_deleted(f, &bob, seq_of(2, 1)));
}

/* Step 3 sent, reply lost: it may have run, so the reservations are kept (they may be its index); 1008004. */
static void change_with_lost_reply_keeps_the_reservations(void **state)
{
    fake *f = *state;
    int rc;
    assert_int_equal(change_one(f, change_lost, PB_CHANGE_APPEND, both, 2, &rc), PB_CHANGE_FAILED);
    assert_int_equal(rc, 0);
    assert_int_equal(sent(f, "change"), 1);
    assert_int_equal(sent(f, "ZREM"), 0);
}

/* Step 4 (cleaning) fails: the stale index member is invisible, so the item and the batch still succeed. */
static void lost_cleanup_leaves_the_item_acknowledged(void **state)
{
    fake *f = *state;
    int rc;
    assert_int_equal(change_one(f, removed_then_cleanup_lost, PB_CHANGE_REMOVE, &alice, 1, &rc), PB_CHANGE_OK);
    assert_int_equal(rc, 0);
    assert_true(reservation_deleted(f, &alice, 7)); /* asked for, whatever became of it */
}

/*
 * pushbind killed anywhere: no step leaves a record without its index member.
 * A bind writes the index (reserve) before the record (change); an unbind
 * changes the record before it deletes the index member.
 */
static void index_is_written_before_the_record_and_deleted_after_it(void **state)
{
    fake *f = *state;
    int rc;
    assert_int_equal(change_one(f, NULL, PB_CHANGE_APPEND, &alice, 1, &rc), PB_CHANGE_OK);
    assert_true(round_of(f, "reserve") >= 0);
    assert_true(round_of(f, "reserve") < round_of(f, "change"));

    f->n_seen = 0;
    f->rounds = 0;
    assert_int_equal(change_one(f, removed_then_cleanup_lost, PB_CHANGE_REMOVE, &alice, 1, &rc), PB_CHANGE_OK);
    assert_true(round_of(f, "change") >= 0);
    assert_true(round_of(f, "change") < round_of(f, "ZREM"));
}

/*
 * A re-bind racing an unbind of its token: the change script refuses, having
 * changed nothing, when an account read as bound is gone, and the item is
 * read again with a seq of its own (a second begin_batch): the re-bind binds.
 */
static void a_rebind_whose_binding_vanished_before_its_change_binds_anew(void **state)
{
    fake *f = *state;
    int rc;
    unbound_reads = 0;
    assert_int_equal(change_one(f, unbound_before_the_change, PB_CHANGE_APPEND, &alice, 1, &rc), PB_CHANGE_OK);
    assert_int_equal(rc, 0);
    assert_int_equal(sent(f, "begin"), 2);
    assert_int_equal(sent(f, "change"), 2);
    assert_int_equal(sent(f, "reserve"), 1); /* the second read found alice unbound: a new seq, reserved */
}

/* The app's node down at the start: the batch answers 1008004 as a whole, having written nothing. */
static void app_node_down_fails_the_batch_before_any_write(void **state)
{
    fake *f = *state;
    int rc;
    change_one(f, app_node_down, PB_CHANGE_APPEND, both, 2, &rc);
    assert_int_equal(rc, PB_STORE_EIO);
    assert_int_equal(f->rounds, 1);
    for (size_t i = 0; i < f->n_seen; i++)
        assert_false(f->seen[i].sent && f->seen[i].write);
}

/* The app removed since authentication: 1008003 as a whole, after the first round, which only read. */
static void removed_app_ends_the_batch_after_the_first_round(void **state)
{
    fake *f = *state;
    int rc;
    change_one(f, app_removed, PB_CHANGE_APPEND, both, 2, &rc);
    assert_int_equal(rc, PB_STORE_ENOTFOUND);
    assert_int_equal(f->rounds, 1);
    for (size_t i = 0; i < f->n_seen; i++)
        if (strcmp(f->seen[i].what, "begin") != 0) /* the script that found no app took no seq */
            assert_false(f->seen[i].write);
}

/* ?wait=N, the connection to a node the batch wrote lost before its WAIT: 1008004, the WAIT proves nothing. */
static void connection_lost_before_wait_fails_the_batch(void **state)
{
    fake *f = *state;
    f->fs.store.wait_replicas = 1;
    f->replicas = 1;
    int rc;
    change_one(f, connection_lost_before_wait, PB_CHANGE_APPEND, &alice, 1, &rc);
    assert_int_equal(rc, PB_STORE_EIO);
    assert_int_equal(sent(f, "WAIT"), 1);
}

/* ?wait=N, too few replicas acknowledged: 1008004. */
static void too_few_replicas_fail_the_batch(void **state)
{
    fake *f = *state;
    f->fs.store.wait_replicas = 2;
    f->replicas = 1;
    int rc;
    change_one(f, NULL, PB_CHANGE_APPEND, &alice, 1, &rc);
    assert_int_equal(rc, PB_STORE_EIO);
    assert_int_equal(sent(f, "WAIT"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bind_with_wait_is_acknowledged_once_wait_covers_its_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_read_fails_the_item_before_any_write, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_reservation_deletes_the_others_and_answers_over_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(lost_reservation_reply_deletes_the_reservations_and_fails_the_item, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reservation_error_deletes_the_reservations_and_fails_the_item, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(change_refused_by_the_limit_deletes_the_reservations, setup, teardown),
        cmocka_unit_test_setup_teardown(change_never_sent_deletes_the_reservations, setup, teardown),
        cmocka_unit_test_setup_teardown(change_with_lost_reply_keeps_the_reservations, setup, teardown),
        cmocka_unit_test_setup_teardown(lost_cleanup_leaves_the_item_acknowledged, setup, teardown),
        cmocka_unit_test_setup_teardown(index_is_written_before_the_record_and_deleted_after_it, setup, teardown),
        cmocka_unit_test_setup_teardown(app_node_down_fails_the_batch_before_any_write, setup, teardown),
        cmocka_unit_test_setup_teardown(removed_app_ends_the_batch_after_the_first_round, setup, teardown),
        cmocka_unit_test_setup_teardown(connection_lost_before_wait_fails_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(too_few_replicas_fail_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rebind_whose_binding_vanished_before_its_change_binds_anew, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
