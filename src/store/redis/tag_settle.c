/*
 * store/redis/tag_settle.c — a tag request on Redis, second half: the token
 * scripts (tag_change), taking back the adds of a request refused under a
 * race, the settle of each tag's index, and the release of the leases with
 * the machine's final round (cleanup, counts, WAITs). tag_write.c is the
 * first half; tags.h the layout and the steps.
 */
#include <stdio.h>

#include "store/redis/tags.h"

static const char platforms[] = "012";

/* Whether `tok` gets a tag_change: ops to apply, a platform to set, or its invalidation. */
static bool changes(const pb_tag_write *w, const pb_redis_tag_token *tok, bool undo)
{
    if (undo)
        return tok->n_ops > tok->undo_from;
    return tok->n_ops != 0 || w->kind == PB_TAG_INVALIDATE ||
           (w->platform != PB_PLATFORM_NONE && w->kind != PB_TAG_DELETE_ALL);
}

/* The first index of `tok` in the request's tokens (for invalid_since and kept). */
static size_t token_index(const pb_tag_write *w, const pb_redis_tag_token *tok)
{
    size_t i = 0;
    while (i + 1 < w->n && !pb_str_eq(w->tokens[i], tok->token))
        i++;
    return i;
}

static void change_cmd(pb_redis_applier *a, pb_redis_cmd *cmd, const pb_redis_tag_token *tok, bool undo)
{
    const struct pb_redis_tagger *t = a->tags;
    const pb_tag_write *w = t->write;
    bool invalidate = w->kind == PB_TAG_INVALIDATE && !undo;
    pb_redis_args args = {.pool = a->pool};
    pb_str key = pb_redis_token_tags_key(a->pool, a->store, a->access_id, tok->token);
    pb_redis_args_script(&args, &a->store->scripts.tag_change, 3);
    pb_redis_args_add(&args, key);
    pb_redis_args_add(&args, pb_redis_token_key(a->pool, a->store, a->access_id, tok->token));
    pb_redis_args_add(&args, pb_redis_times_key(a->pool, a->store, a->access_id, tok->token));
    pb_redis_args_add(&args, invalidate ? PB_STR_LIT("i") : PB_STR_LIT("c"));
    pb_redis_args_add(&args, pb_redis_decimal(a->pool, (uint64_t)a->now));
    pb_redis_args_add(&args, pb_redis_decimal(a->pool, w->max_tags_per_token));
    pb_platform platform = undo || w->platform > PB_PLATFORM_IOS ? PB_PLATFORM_NONE : w->platform;
    pb_redis_args_add(&args, (pb_str){&platforms[platform], 1});
    int64_t since = invalidate ? w->invalid_since[token_index(w, tok)] : 0;
    pb_redis_args_add(&args, pb_redis_decimal(a->pool, since > 0 ? (uint64_t)since : 0));
    pb_redis_args_add(&args, pb_redis_decimal(a->pool, t->last_seq));
    /* The gens read of every tag the token's record names or the request touches for it. */
    size_t n_live = 0, at = args.n;
    pb_redis_args_add(&args, PB_STR_LIT("0"));
    for (size_t r = 0; r < t->n_refs; r++) {
        bool named = false;
        for (size_t e = 0; e < tok->n_entries; e++)
            named |= tok->entry_refs[e] == r;
        for (size_t o = 0; o < tok->n_ops; o++)
            named |= tok->ops[o].ref == r;
        if (!named || !t->refs[r].read)
            continue;
        pb_redis_args_add(&args, t->refs[r].tag);
        pb_redis_args_add(&args, pb_redis_decimal(a->pool, t->refs[r].gen));
        n_live++;
    }
    args.v[at] = pb_redis_decimal(a->pool, n_live);
    for (size_t o = undo ? tok->undo_from : 0; o < tok->n_ops; o++) {
        const pb_redis_tag_op *op = &tok->ops[o];
        const pb_redis_tag_ref *ref = &t->refs[op->ref];
        pb_redis_args_add(&args, op->kind == 'a' ? PB_STR_LIT("a") : PB_STR_LIT("r"));
        pb_redis_args_add(&args, ref->tag);
        pb_redis_args_add(&args, pb_redis_decimal(a->pool, ref->gen));
        pb_redis_args_add(&args, pb_redis_decimal(a->pool, op->seq));
    }
    pb_redis_cmd_strs(cmd, a->pool, pb_redis_slot_of(key), true, &a->store->scripts.tag_change, args.v, args.n);
}

bool pb_redis_tag_change_prepare(pb_redis_applier *a, bool undo)
{
    struct pb_redis_tagger *t = a->tags;
    size_t n = 0;
    for (size_t i = 0; i < t->n_tokens; i++)
        if (changes(t->write, &t->tokens[i], undo))
            t->tokens[i].cmd = n++;
    if (n == 0)
        return false; /* judged at once, with nothing to read */
    pb_redis_cmd *cmds = pb_redis_round_open(a, n);
    for (size_t i = 0; i < t->n_tokens; i++)
        if (changes(t->write, &t->tokens[i], undo))
            change_cmd(a, &cmds[t->tokens[i].cmd], &t->tokens[i], undo);
    return true;
}

/* The bindings an invalidation removed: their index members go with the next round, the app's count down. */
static void bindings_removed(pb_redis_applier *a, const pb_redis_tag_token *tok, const redisReply *removed)
{
    for (size_t j = 0; removed->type == REDIS_REPLY_ARRAY && j + 1 < removed->elements; j += 2) {
        pb_account account;
        uint64_t seq;
        pb_str member = pb_pool_strdup(a->pool, (pb_str){removed->element[j]->str, removed->element[j]->len});
        const redisReply *score = removed->element[j + 1];
        if (!pb_redis_account_parse(member, &account) || !pb_redis_parse_u64(score->str, score->len, &seq))
            continue;
        pb_redis_cleanup_add(a, pb_redis_account_key(a->pool, a->store, a->access_id, &account),
                             pb_redis_index_member(a->pool, seq, tok->token));
        a->delta--;
    }
}

/* One token's tag_change reply: its version and states, and what it says. */
static void change_read(pb_redis_applier *a, pb_redis_tag_token *tok, const redisReply *reply, bool undo)
{
    struct pb_redis_tagger *t = a->tags;
    pb_tag_write *w = t->write;
    size_t from = undo ? tok->undo_from : 0;
    if (pb_redis_reply_failed(a->map, reply, "tag change") || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements != 4 || reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[2]->type != REDIS_REPLY_ARRAY ||
        reply->element[2]->elements != tok->n_ops - from) {
        tok->unknown = true; /* it may have run: its marks stay, and its pairs are checked until settled */
        a->rc = PB_STORE_EIO;
        return;
    }
    pb_str status = {reply->element[0]->str, reply->element[0]->len};
    tok->version = (uint64_t)reply->element[1]->integer;
    for (size_t o = from; o < tok->n_ops; o++) {
        const redisReply *s = reply->element[2]->element[o - from];
        pb_str state = pb_pool_strdup(a->pool, (pb_str){s->str, s->len});
        tok->ops[o].state = state;
    }
    if (pb_str_eq(status, PB_STR_LIT("over")) && !undo) {
        size_t k = (size_t)reply->element[3]->integer - 1;
        tok->over = true;
        if (w->outcome != PB_TAG_OVER_TOKEN_LIMIT || tok->ops[k].pair < w->at)
            w->at = tok->ops[k].pair;
        w->outcome = PB_TAG_OVER_TOKEN_LIMIT;
    } else if (pb_str_eq(status, PB_STR_LIT("kept"))) {
        for (size_t i = 0; i < w->n; i++)
            if (pb_str_eq(w->tokens[i], tok->token))
                w->kept[i] = true;
    } else if (pb_str_eq(status, PB_STR_LIT("ok"))) {
        tok->changed = true;
        bindings_removed(a, tok, reply->element[3]);
    }
}

/* Refused under a race: the adds the other tokens made are taken back by ops of their own. */
static bool undo_plan(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    bool any = false;
    for (size_t i = 0; i < t->n_tokens; i++) {
        pb_redis_tag_token *tok = &t->tokens[i];
        tok->undo_from = tok->n_ops;
        if (!tok->changed)
            continue;
        for (size_t o = 0; o < tok->undo_from; o++) {
            pb_redis_tag_op op = tok->ops[o];
            uint64_t seq;
            if (op.kind != 'a' || op.seq == 0 || !pb_redis_parse_u64(op.state.base, op.state.len, &seq) ||
                seq != op.seq)
                continue;
            op.kind = 'r';
            tok->ops = pb_pool_grow(a->pool, tok->ops, tok->n_ops, sizeof(*tok->ops));
            tok->ops[tok->n_ops++] = op;
            any = true;
        }
    }
    return any;
}

void pb_redis_tag_change_judge(pb_redis_applier *a, bool undo)
{
    struct pb_redis_tagger *t = a->tags;
    for (size_t i = 0; i < t->n_tokens; i++) {
        pb_redis_tag_token *tok = &t->tokens[i];
        if (changes(t->write, tok, undo))
            change_read(a, tok, a->cmds[a->step_at + tok->cmd].reply, undo);
    }
    if (undo) {
        /* each undone add's state (now "") goes back onto the op it undid; the token's version is the undo's */
        for (size_t i = 0; i < t->n_tokens; i++) {
            pb_redis_tag_token *tok = &t->tokens[i];
            for (size_t o = tok->undo_from; o < tok->n_ops; o++)
                for (size_t p = 0; p < tok->undo_from; p++)
                    if (tok->ops[p].ref == tok->ops[o].ref && tok->ops[p].kind == 'a')
                        tok->ops[p].state = tok->ops[o].state;
            tok->n_ops = tok->undo_from;
        }
    } else if (t->write->outcome == PB_TAG_OVER_TOKEN_LIMIT && undo_plan(a)) {
        t->step = PB_REDIS_TAG_UNDO;
        return;
    }
    t->step = PB_REDIS_TAG_SETTLE;
}

/* ---- Settle and release ------------------------------------------------- */

/* tag_settle's quad: the token, its record's version, what it holds of the pair, and the mark given back. */
static void settle_args(pb_redis_applier *a, pb_redis_args *args, const pb_redis_tag_token *tok,
                        const pb_redis_tag_op *op)
{
    pb_redis_args_add(args, tok->token);
    pb_redis_args_add(args, pb_redis_decimal(a->pool, tok->version));
    pb_redis_args_add(args, op->state);
    pb_redis_args_add(args, PB_STR_LIT("1"));
}

bool pb_redis_tag_settle_prepare(pb_redis_applier *a)
{
    /* A token whose change's outcome is unknown keeps its marks: its pairs are judged by its record. */
    return pb_redis_tag_round_per_tag(a, &a->store->scripts.tag_settle, true, settle_args);
}

void pb_redis_tag_settle_judge(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    for (size_t r = 0; r < t->n_refs; r++) {
        pb_redis_tag_ref *ref = &t->refs[r];
        if (ref->cmd == SIZE_MAX)
            continue;
        const redisReply *reply = a->cmds[a->step_at + ref->cmd].reply;
        if (pb_redis_reply_failed(a->map, reply, "tag settle") || reply->type != REDIS_REPLY_ARRAY ||
            reply->elements != 2) {
            a->rc = PB_STORE_EIO; /* its marks stay: the pairs are checked until the next settle */
            continue;
        }
        char *seen = pb_pool_alloc(a->pool, 2 * PB_DECIMAL_MAX + 1);
        char *end = pb_put_i64(seen, reply->element[0]->integer);
        *end++ = '|';
        end = pb_put_i64(end, reply->element[1]->integer);
        ref->seen = (pb_str){seen, (size_t)(end - seen)};
    }
    pb_redis_tag_finish(a);
}

void pb_redis_tag_finish(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    pb_redis_args args = {.pool = a->pool};
    pb_str tags = pb_redis_app_key(a->pool, a->store, "tags", a->access_id);
    for (size_t r = 0; r < t->n_refs; r++) {
        const pb_redis_tag_ref *ref = &t->refs[r];
        if (!ref->leased)
            continue;
        if (args.n == 0) {
            pb_redis_args_script(&args, &a->store->scripts.tag_release, 3);
            pb_redis_args_add(&args, tags);
            pb_redis_args_add(&args, pb_redis_app_key(a->pool, a->store, "tgrave", a->access_id));
            pb_redis_args_add(&args, pb_redis_app_key(a->pool, a->store, "tagnames", a->access_id));
            pb_redis_args_add(&args, pb_redis_decimal(a->pool, (uint64_t)a->now));
        }
        pb_redis_args_add(&args, ref->tag);
        pb_redis_args_add(&args, pb_redis_decimal(a->pool, ref->gen));
        pb_redis_args_add(&args, ref->seen);
    }
    if (args.n != 0)
        pb_redis_cmd_strs(pb_redis_carry(a), a->pool, pb_redis_slot_of(tags), true, &a->store->scripts.tag_release,
                          args.v, args.n);
    a->step = PB_REDIS_STEP_FINAL;
}
