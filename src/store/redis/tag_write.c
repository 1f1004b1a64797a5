/*
 * store/redis/tag_write.c — a tag request on Redis, first half: what the
 * request touches (the app's tags, the tokens' records), each token's plan
 * and the marks. tag_settle.c has the second half; tags.h the layout and the
 * steps; docs/design.md, "Tags (Redis)", the protocol and its failure cases.
 *
 * Rounds: begin (tag_begin on the app: exists? seqs, gens, leases, the
 * distinct-tags limit; and the tokens' records), gens (only when a record
 * names tags the first round did not read and they matter), mark, change
 * (the token scripts), settle, then the machine's final round (tag_release,
 * cleanup, WAITs). Nothing is written before the limits are judged, except
 * the leases tag_begin takes, which tag_release gives back.
 */
#include <stdio.h>

#include "store/redis/tags.h"

/* ---- Commands and values ------------------------------------------------ */

void pb_redis_cmd_strs(pb_redis_cmd *cmd, pb_pool *pool, unsigned slot, bool write, const pb_redis_script *script,
                       const pb_str *args, size_t n)
{
    pb_redis_cmd_init(cmd, pool, slot, write, (int)n);
    for (size_t i = 0; i < n; i++)
        pb_redis_cmd_arg(cmd, (int)i, args[i].base, args[i].len);
    cmd->script = script;
}

void pb_redis_args_script(pb_redis_args *args, const pb_redis_script *script, unsigned n_keys)
{
    pb_redis_args_add(args, PB_STR_LIT("EVALSHA"));
    pb_redis_args_add(args, (pb_str){script->sha1, 40});
    pb_redis_args_add(args, pb_redis_decimal(args->pool, n_keys));
}

bool pb_redis_tag_gen_parse(const char *text, size_t len, uint64_t *gen)
{
    const char *bar = memchr(text, '|', len);
    return pb_redis_parse_u64(text, bar != NULL ? (size_t)(bar - text) : len, gen);
}

bool pb_redis_tag_pair_parse(const char *text, size_t len, uint64_t *seq, uint64_t *gen, int64_t *time)
{
    const char *a = memchr(text, '|', len);
    const char *b = a != NULL ? memchr(a + 1, '|', len - (size_t)(a + 1 - text)) : NULL;
    uint64_t t;
    if (b == NULL || !pb_redis_parse_u64(text, (size_t)(a - text), seq) ||
        !pb_redis_parse_u64(a + 1, (size_t)(b - a - 1), gen) ||
        !pb_redis_parse_u64(b + 1, len - (size_t)(b + 1 - text), &t))
        return false;
    *time = (int64_t)t;
    return true;
}

/* ---- What the request touches ------------------------------------------- */

static size_t ref_of(pb_redis_applier *a, pb_str tag)
{
    struct pb_redis_tagger *t = a->tags;
    for (size_t i = 0; i < t->n_refs; i++)
        if (pb_str_eq(t->refs[i].tag, tag))
            return i;
    t->refs = pb_pool_grow(a->pool, t->refs, t->n_refs, sizeof(*t->refs));
    t->refs[t->n_refs] = (pb_redis_tag_ref){.tag = tag, .seen = PB_STR_LIT("-")};
    return t->n_refs++;
}

static pb_redis_tag_token *token_of(pb_redis_applier *a, pb_str token)
{
    struct pb_redis_tagger *t = a->tags;
    for (size_t i = 0; i < t->n_tokens; i++)
        if (pb_str_eq(t->tokens[i].token, token))
            return &t->tokens[i];
    t->tokens = pb_pool_grow(a->pool, t->tokens, t->n_tokens, sizeof(*t->tokens));
    t->tokens[t->n_tokens] = (pb_redis_tag_token){.token = token};
    return &t->tokens[t->n_tokens++];
}

/* The tokens the request names, and the tags it names (refs[0 .. n_request_refs)). */
static void gather(pb_redis_applier *a)
{
    const pb_tag_write *w = a->tags->write;
    size_t n_tokens = w->kind == PB_TAG_ADD || w->kind == PB_TAG_REMOVE || w->kind == PB_TAG_INVALIDATE ? w->n
                      : w->kind == PB_TAG_DELETE_ALL                                                       ? 0
                                                                                                           : 1;
    for (size_t i = 0; i < n_tokens; i++)
        token_of(a, w->tokens[i]);
    if (w->kind != PB_TAG_CLEAR_TOKEN && w->kind != PB_TAG_INVALIDATE)
        for (size_t i = 0; i < w->n; i++)
            ref_of(a, w->tags[i]);
    a->tags->n_request_refs = a->tags->n_refs;
}

pb_redis_applier *pb_redis_tag_applier_new(pb_redis_session *session, pb_redis_conn *map, pb_pool *pool,
                                           uint64_t access_id, pb_tag_write *write)
{
    pb_redis_applier *a = pb_redis_applier_new(session, map, pool, access_id, NULL, 0, NULL);
    a->tags = pb_pool_alloc(pool, sizeof(*a->tags));
    *a->tags = (struct pb_redis_tagger){.write = write, .step = PB_REDIS_TAG_BEGIN};
    a->begun = true; /* tag_begin is the tag request's begin_batch */
    a->step = PB_REDIS_STEP_TAG;
    write->outcome = PB_TAG_OK;
    write->at = 0;
    if (write->kind == PB_TAG_INVALIDATE)
        memset(write->kept, 0, write->n * sizeof(*write->kept));
    gather(a);
    return a;
}

/* ---- Begin and gens ----------------------------------------------------- */

/* tag_begin on refs[from .. to) in `mode`, into *cmd. */
static void begin_cmd(pb_redis_applier *a, pb_redis_cmd *cmd, char mode, uint64_t n_seqs, size_t from, size_t to)
{
    struct pb_redis_tagger *t = a->tags;
    pb_redis_args args = {.pool = a->pool};
    pb_str tags = pb_redis_app_key(a->pool, a->store, "tags", a->access_id);
    char *m = pb_pool_alloc(a->pool, 1);
    *m = mode;
    pb_redis_args_script(&args, &a->store->scripts.tag_begin, 5);
    pb_redis_args_add(&args, tags);
    pb_redis_args_add(&args, pb_redis_app_key(a->pool, a->store, "seq", a->access_id));
    pb_redis_args_add(&args, pb_redis_app_key(a->pool, a->store, "app", a->access_id));
    pb_redis_args_add(&args, pb_redis_app_key(a->pool, a->store, "tgrave", a->access_id));
    pb_redis_args_add(&args, pb_redis_app_key(a->pool, a->store, "tagnames", a->access_id));
    pb_redis_args_add(&args, (pb_str){m, 1});
    pb_redis_args_add(&args, pb_redis_decimal(a->pool, (uint64_t)a->now));
    pb_redis_args_add(&args, pb_redis_decimal(a->pool, n_seqs));
    pb_redis_args_add(&args, pb_redis_decimal(a->pool, t->write->max_tags_per_app));
    for (size_t i = from; i < to; i++)
        pb_redis_args_add(&args, t->refs[i].tag);
    pb_redis_cmd_strs(cmd, a->pool, pb_redis_slot_of(tags), true, &a->store->scripts.tag_begin, args.v, args.n);
}

static char begin_mode(pb_tag_write_kind kind)
{
    switch (kind) {
    case PB_TAG_ADD:
    case PB_TAG_REPLACE: return 'e';
    case PB_TAG_REMOVE: return 'l';
    case PB_TAG_DELETE_ALL: return 'd';
    default: return 'g';
    }
}

static bool begin_prepare(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    const pb_tag_write *w = t->write;
    t->n_seqs = w->kind == PB_TAG_ADD || w->kind == PB_TAG_REPLACE ? w->n : 0;
    pb_redis_cmd *cmds = pb_redis_round_open(a, 1 + t->n_tokens);
    begin_cmd(a, &cmds[0], begin_mode(w->kind), t->n_seqs, 0, t->n_refs);
    for (size_t i = 0; i < t->n_tokens; i++) {
        pb_str key = pb_redis_token_tags_key(a->pool, a->store, a->access_id, t->tokens[i].token);
        pb_redis_cmd_key(&cmds[1 + i], a->pool, false, 2, "HGETALL", key);
    }
    return true;
}

/* tag_begin's gens into refs[from ..]; false when the reply is not one. */
static bool gens_read(pb_redis_applier *a, const redisReply *reply, size_t from, char mode)
{
    struct pb_redis_tagger *t = a->tags;
    if (reply->elements != 2 || reply->element[1]->type != REDIS_REPLY_ARRAY ||
        from + reply->element[1]->elements > t->n_refs)
        return false;
    for (size_t i = 0; i < reply->element[1]->elements; i++) {
        pb_redis_tag_ref *ref = &t->refs[from + i];
        const redisReply *g = reply->element[1]->element[i];
        if (g->type != REDIS_REPLY_STRING || !pb_redis_parse_u64(g->str, g->len, &ref->gen))
            return false;
        ref->read = true;
        ref->leased = (mode == 'e' || mode == 'l') && ref->gen != 0;
    }
    return true;
}

/* A token's record into its entries (the refs they name are added, unread). */
static bool record_read(pb_redis_applier *a, pb_redis_tag_token *tok, const redisReply *reply)
{
    if (pb_redis_reply_failed(a->map, reply, "tags of a token") || reply->type != REDIS_REPLY_ARRAY)
        return false;
    tok->entry_refs = pb_pool_alloc(a->pool, (reply->elements / 2 + 1) * sizeof(*tok->entry_refs));
    tok->entry_gens = pb_pool_alloc(a->pool, (reply->elements / 2 + 1) * sizeof(*tok->entry_gens));
    for (size_t j = 0; j + 1 < reply->elements; j += 2) {
        const redisReply *f = reply->element[j], *v = reply->element[j + 1];
        uint64_t seq, gen;
        int64_t time;
        if (f->len < 2 || f->str[0] != 't' || !pb_redis_tag_pair_parse(v->str, v->len, &seq, &gen, &time))
            continue;
        pb_str tag = pb_pool_strdup(a->pool, (pb_str){f->str + 1, f->len - 1});
        tok->entry_refs[tok->n_entries] = ref_of(a, tag);
        tok->entry_gens[tok->n_entries++] = gen;
    }
    tok->read = true;
    return true;
}

/* Whether entry e of `tok` is live: its tag's gen read and equal, or not read (then held live). */
static bool entry_live(const struct pb_redis_tagger *t, const pb_redis_tag_token *tok, size_t e)
{
    const pb_redis_tag_ref *ref = &t->refs[tok->entry_refs[e]];
    return !ref->read || ref->gen == tok->entry_gens[e];
}

static size_t live_count(const struct pb_redis_tagger *t, const pb_redis_tag_token *tok)
{
    size_t n = 0;
    for (size_t e = 0; e < tok->n_entries; e++)
        n += entry_live(t, tok, e);
    return n;
}

/*
 * Whether the records name tags whose gens must be read first: to remove
 * them (clear, replace, invalidate), or, for adds, when a token might pass
 * its limit unless some of its pairs are dead.
 */
static bool gens_needed(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    if (t->n_refs == t->n_request_refs)
        return false;
    if (t->write->kind != PB_TAG_ADD)
        return t->write->kind != PB_TAG_REMOVE;
    for (size_t i = 0; i < t->n_tokens; i++) {
        size_t adds = 0;
        for (size_t p = 0; p < t->write->n; p++)
            adds += pb_str_eq(t->write->tokens[p], t->tokens[i].token);
        if (live_count(t, &t->tokens[i]) + adds > t->write->max_tags_per_token)
            return true;
    }
    return false;
}

static void plan(pb_redis_applier *a);

static void begin_judge(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    pb_tag_write *w = t->write;
    const redisReply *reply = a->cmds[a->step_at].reply;
    char mode = begin_mode(w->kind);
    if (pb_redis_reply_failed(a->map, reply, "tag begin") || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements == 0 || reply->element[0]->type != REDIS_REPLY_INTEGER) {
        a->rc = PB_STORE_EIO; /* leases it may have taken lapse (PB_REDIS_TAG_STALE_S) */
        a->step = PB_REDIS_STEP_FINAL;
        return;
    }
    long long first = reply->element[0]->integer;
    if (first == -1 || (first == -2 && reply->elements == 2)) {
        if (first == -1) {
            a->rc = PB_STORE_ENOTFOUND;
        } else {
            pb_str tag = t->refs[reply->element[1]->integer - 1].tag;
            w->outcome = PB_TAG_OVER_APP_LIMIT;
            for (w->at = 0; w->at < w->n && !pb_str_eq(w->tags[w->at], tag); w->at++) {
            }
        }
        a->step = PB_REDIS_STEP_FINAL; /* nothing was written */
        return;
    }
    t->last_seq = (uint64_t)first;
    if (first < 0 || !gens_read(a, reply, 0, mode)) {
        snprintf(a->map->error, sizeof(a->map->error), "tag begin: an unexpected reply");
        a->rc = PB_STORE_EIO;
        a->step = PB_REDIS_STEP_FINAL;
        return;
    }
    if (w->kind == PB_TAG_DELETE_ALL) { /* gone for every read; tag_graves.c frees the pairs */
        a->step = PB_REDIS_STEP_FINAL;
        return;
    }
    for (size_t i = 0; i < t->n_tokens; i++) {
        if (!record_read(a, &t->tokens[i], a->cmds[a->step_at + 1 + i].reply)) {
            a->rc = PB_STORE_EIO;
            pb_redis_tag_finish(a);
            return;
        }
    }
    if (gens_needed(a))
        t->step = PB_REDIS_TAG_GENS;
    else
        plan(a);
}

static bool gens_prepare(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    pb_redis_cmd *cmd = pb_redis_round_open(a, 1);
    begin_cmd(a, cmd, t->write->kind == PB_TAG_ADD ? 'g' : 'l', 0, t->n_request_refs, t->n_refs);
    return true;
}

static void gens_judge(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    const redisReply *reply = a->cmds[a->step_at].reply;
    if (pb_redis_reply_failed(a->map, reply, "tag gens") || reply->type != REDIS_REPLY_ARRAY ||
        !gens_read(a, reply, t->n_request_refs, t->write->kind == PB_TAG_ADD ? 'g' : 'l')) {
        a->rc = PB_STORE_EIO;
        pb_redis_tag_finish(a);
        return;
    }
    plan(a);
}

/* ---- Each token's plan -------------------------------------------------- */

static void op_add(pb_redis_applier *a, pb_redis_tag_token *tok, char kind, size_t ref, uint64_t seq, size_t pair)
{
    tok->ops = pb_pool_grow(a->pool, tok->ops, tok->n_ops, sizeof(*tok->ops));
    tok->ops[tok->n_ops++] = (pb_redis_tag_op){.kind = kind, .ref = ref, .seq = seq, .pair = pair};
}

/* Whether `tok` holds (live) or gets (an add planned) the tag of `ref`, as the ops so far leave it. */
static bool holds(const struct pb_redis_tagger *t, const pb_redis_tag_token *tok, size_t ref)
{
    bool held = false;
    for (size_t e = 0; e < tok->n_entries; e++)
        held |= tok->entry_refs[e] == ref && entry_live(t, tok, e);
    for (size_t o = 0; o < tok->n_ops; o++)
        if (tok->ops[o].ref == ref)
            held = tok->ops[o].kind == 'a';
    return held;
}

/* Removes every live pair of `tok` that `w` does not keep (w NULL: every one). */
static void plan_removals(pb_redis_applier *a, pb_redis_tag_token *tok, const pb_tag_write *w)
{
    struct pb_redis_tagger *t = a->tags;
    for (size_t e = 0; e < tok->n_entries; e++) {
        pb_redis_tag_ref *ref = &t->refs[tok->entry_refs[e]];
        if (ref->gen != 0 && entry_live(t, tok, e) && (w == NULL || !pb_tag_replace_keeps(w, ref->tag)))
            op_add(a, tok, 'r', tok->entry_refs[e], 0, 0);
    }
}

/* Pair `pair` (refs[ref] to tok): an add, or a refresh; false when it would pass the token's limit. */
static bool plan_add(pb_redis_applier *a, pb_redis_tag_token *tok, size_t ref, size_t pair, size_t *live)
{
    struct pb_redis_tagger *t = a->tags;
    if (holds(t, tok, ref)) {
        op_add(a, tok, 'a', ref, 0, pair);
        return true;
    }
    if (*live >= t->write->max_tags_per_token)
        return false;
    ++*live;
    op_add(a, tok, 'a', ref, t->last_seq - t->n_seqs + 1 + pair, pair);
    return true;
}

/* The ops of every token, and the per-token limit judged before anything changes. */
static void plan(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    pb_tag_write *w = t->write;
    size_t *live = pb_pool_alloc(a->pool, (t->n_tokens + 1) * sizeof(*live));
    for (size_t i = 0; i < t->n_tokens; i++)
        live[i] = live_count(t, &t->tokens[i]);
    bool over = false;
    switch (w->kind) {
    case PB_TAG_ADD:
        for (size_t p = 0; p < w->n && !over; p++) {
            pb_redis_tag_token *tok = token_of(a, w->tokens[p]);
            over = !plan_add(a, tok, ref_of(a, w->tags[p]), p, &live[tok - t->tokens]);
            w->at = p;
        }
        break;
    case PB_TAG_REMOVE:
        /* Also when the record holds no such pair: the settle then mends an index member a dead writer left. */
        for (size_t p = 0; p < w->n; p++) {
            pb_redis_tag_token *tok = token_of(a, w->tokens[p]);
            size_t ref = ref_of(a, w->tags[p]);
            bool planned = false;
            for (size_t o = 0; o < tok->n_ops; o++)
                planned |= tok->ops[o].ref == ref;
            if (t->refs[ref].gen != 0 && !planned)
                op_add(a, tok, 'r', ref, 0, p);
        }
        break;
    case PB_TAG_REPLACE:
        plan_removals(a, &t->tokens[0], w);
        live[0] -= t->tokens[0].n_ops;
        for (size_t p = 0; p < w->n && !over; p++) {
            over = !plan_add(a, &t->tokens[0], ref_of(a, w->tags[p]), p, &live[0]);
            w->at = p;
        }
        break;
    case PB_TAG_CLEAR_TOKEN:
    case PB_TAG_INVALIDATE:
        for (size_t i = 0; i < t->n_tokens; i++)
            plan_removals(a, &t->tokens[i], NULL);
        break;
    case PB_TAG_DELETE_ALL: break;
    }
    if (over) {
        w->outcome = PB_TAG_OVER_TOKEN_LIMIT;
        pb_redis_tag_finish(a);
        return;
    }
    w->at = 0;
    bool marks = false;
    for (size_t i = 0; i < t->n_tokens; i++)
        marks |= t->tokens[i].n_ops != 0;
    t->step = marks ? PB_REDIS_TAG_MARK : PB_REDIS_TAG_CHANGE;
}

/* ---- Marks -------------------------------------------------------------- */

bool pb_redis_tag_round_per_tag(pb_redis_applier *a, const pb_redis_script *script, bool settling,
                                 pb_redis_tag_op_args *add)
{
    struct pb_redis_tagger *t = a->tags;
    pb_redis_args *per_ref = pb_pool_alloc(a->pool, t->n_refs * sizeof(*per_ref));
    size_t n = 0;
    for (size_t r = 0; r < t->n_refs; r++) {
        pb_redis_tag_ref *ref = &t->refs[r];
        pb_redis_args *args = &per_ref[r];
        *args = (pb_redis_args){.pool = a->pool};
        for (size_t i = 0; i < t->n_tokens && (ref->marked || !settling); i++) {
            const pb_redis_tag_token *tok = &t->tokens[i];
            for (size_t o = 0; o < tok->n_ops && !(settling && tok->unknown); o++) {
                if (tok->ops[o].ref != r)
                    continue;
                if (args->n == 0) {
                    pb_redis_args_script(args, script, 2);
                    pb_redis_args_add(args, pb_redis_tag_key(a->pool, a->store, "tx", a->access_id, ref->tag, ref->gen));
                    pb_redis_args_add(args, pb_redis_tag_key(a->pool, a->store, "tm", a->access_id, ref->tag, ref->gen));
                    pb_redis_args_add(args, pb_redis_decimal(a->pool, (uint64_t)a->now));
                }
                add(a, args, tok, &tok->ops[o]);
            }
        }
        ref->cmd = args->n != 0 ? n++ : SIZE_MAX;
    }
    if (n == 0)
        return false;
    pb_redis_cmd *cmds = pb_redis_round_open(a, n);
    for (size_t r = 0; r < t->n_refs; r++)
        if (t->refs[r].cmd != SIZE_MAX)
            pb_redis_cmd_strs(&cmds[t->refs[r].cmd], a->pool, pb_redis_slot_of(per_ref[r].v[3]), true, script,
                              per_ref[r].v, per_ref[r].n);
    return true;
}

/* tag_mark's pair: the token, and an add's seq ("" for a remove or a refresh). */
static void mark_args(pb_redis_applier *a, pb_redis_args *args, const pb_redis_tag_token *tok,
                      const pb_redis_tag_op *op)
{
    pb_redis_args_add(args, tok->token);
    pb_redis_args_add(args, op->seq != 0 ? pb_redis_decimal(a->pool, op->seq) : PB_STR_LIT(""));
}

static bool mark_prepare(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    bool any = pb_redis_tag_round_per_tag(a, &a->store->scripts.tag_mark, false, mark_args);
    for (size_t r = 0; r < t->n_refs; r++)
        t->refs[r].marked = t->refs[r].cmd != SIZE_MAX;
    return any; /* none: judged at once, with nothing to read */
}

static void mark_judge(pb_redis_applier *a)
{
    struct pb_redis_tagger *t = a->tags;
    for (size_t r = 0; r < t->n_refs; r++) {
        const pb_redis_tag_ref *ref = &t->refs[r];
        if (ref->marked && pb_redis_reply_failed(a->map, a->cmds[a->step_at + ref->cmd].reply, "tag mark")) {
            a->rc = PB_STORE_EIO; /* marks stay: the pairs are checked against their records until settled */
            pb_redis_tag_finish(a);
            return;
        }
    }
    t->step = PB_REDIS_TAG_CHANGE;
}

/* ---- The steps ---------------------------------------------------------- */

bool pb_redis_tag_prepare(pb_redis_applier *a)
{
    switch (a->tags->step) {
    case PB_REDIS_TAG_BEGIN: return begin_prepare(a);
    case PB_REDIS_TAG_GENS: return gens_prepare(a);
    case PB_REDIS_TAG_MARK: return mark_prepare(a);
    case PB_REDIS_TAG_CHANGE: return pb_redis_tag_change_prepare(a, false);
    case PB_REDIS_TAG_UNDO: return pb_redis_tag_change_prepare(a, true);
    case PB_REDIS_TAG_SETTLE: return pb_redis_tag_settle_prepare(a);
    }
    return false;
}

void pb_redis_tag_judge(pb_redis_applier *a)
{
    switch (a->tags->step) {
    case PB_REDIS_TAG_BEGIN: begin_judge(a); return;
    case PB_REDIS_TAG_GENS: gens_judge(a); return;
    case PB_REDIS_TAG_MARK: mark_judge(a); return;
    case PB_REDIS_TAG_CHANGE: pb_redis_tag_change_judge(a, false); return;
    case PB_REDIS_TAG_UNDO: pb_redis_tag_change_judge(a, true); return;
    case PB_REDIS_TAG_SETTLE: pb_redis_tag_settle_judge(a); return;
    }
}
