/*
 * store/redis/tag_read.c — the tag reads on Redis (pb_store_tag_lookup_start()),
 * as rounds of pipelined commands run on the loop's lookup connections
 * (pb_redis_arun()) or, in a session without a loop, on its blocking conn.
 * tags.h has the layout. A pair shows only when the token's record (the
 * truth) holds it under its tag's live gen:
 *   TAGS_OF    the records; then the gens of the tags they name (2 rounds)
 *   TOKENS_OF  the tag's gen; a page of its index; each token's record (3)
 *   COUNTS     the gens; each index's size and marks; the marked pairs'
 *              index entries and records, to correct the size (2, or 3 when
 *              writers are in flight or died)
 *   TAGS       a page of the app's tag names in byte order with their gens
 *              (tag_page); then as COUNTS
 */
#include <stdio.h>
#include <stdlib.h>

#include "store/redis/net/async_cluster.h"
#include "store/redis/tags.h"

/* One marked pair of a counted tag: its index entry and its record decide whether it counts. */
typedef struct dirty {
    size_t tag; /* into names */
    pb_str token;
} dirty;

/* A token's pair as read from its record. */
typedef struct held {
    pb_str tag;
    uint64_t seq, gen;
} held;

typedef struct tag_read {
    pb_redis_session *session;
    pb_redis_conn *map; /* whose error pb_redis_reply_failed() fills */
    pb_tag_lookup *lookup;
    pb_pool *pool;
    pb_tag_lookup_done *done;
    void *arg;
    pb_redis_abatch batch;
    int round;
    pb_redis_cmd *cmds;
    size_t n_cmds;
    /* TAGS_OF: each token's pairs */
    held **helds;
    size_t *n_helds;
    /* TOKENS_OF, COUNTS, TAGS: the tags (and their gens, 0: none) */
    pb_str *names;
    uint64_t *gens;
    size_t n_names;
    /* TOKENS_OF: the page's index entries */
    pb_str *toks;
    uint64_t *seqs;
    size_t n_toks;
    /* COUNTS, TAGS */
    dirty *dirties;
    size_t n_dirties;
} tag_read;

static pb_str dup_reply(pb_pool *pool, const redisReply *r)
{
    return pb_pool_strdup(pool, (pb_str){r->str, r->len});
}

static bool failed(tag_read *r, const redisReply *reply, int type)
{
    if (pb_redis_reply_failed(r->map, reply, "tag lookup"))
        return true;
    if (type != REDIS_REPLY_NIL && reply->type != type && reply->type != REDIS_REPLY_NIL) {
        snprintf(r->map->error, sizeof(r->map->error), "tag lookup: an unexpected reply");
        return true;
    }
    return false;
}

static pb_redis_cmd *round_open(tag_read *r, size_t n)
{
    r->cmds = pb_pool_alloc(r->pool, (n == 0 ? 1 : n) * sizeof(*r->cmds));
    r->n_cmds = n;
    return r->cmds;
}

static pb_str tags_key(tag_read *r)
{
    return pb_redis_app_key(r->pool, r->session->store, "tags", r->lookup->access_id);
}

/* "t" + tag: a pair's field in a token's record. */
static pb_str pair_field(pb_pool *pool, pb_str tag)
{
    char *f = pb_pool_alloc(pool, tag.len + 1);
    f[0] = 't';
    memcpy(f + 1, tag.base, tag.len);
    return (pb_str){f, tag.len + 1};
}

/* HMGET of the app's tags hash: names[0..n) -> gens, next round. */
static void gens_cmd(tag_read *r, pb_redis_cmd *cmd)
{
    pb_redis_args args = {.pool = r->pool};
    pb_str key = tags_key(r);
    pb_redis_args_add(&args, PB_STR_LIT("HMGET"));
    pb_redis_args_add(&args, key);
    for (size_t i = 0; i < r->n_names; i++)
        pb_redis_args_add(&args, r->names[i]);
    pb_redis_cmd_strs(cmd, r->pool, pb_redis_slot_of(key), false, NULL, args.v, args.n);
}

static bool gens_read(tag_read *r, const redisReply *reply)
{
    if (failed(r, reply, REDIS_REPLY_ARRAY) || reply->elements != r->n_names)
        return false;
    r->gens = pb_pool_alloc(r->pool, (r->n_names + 1) * sizeof(*r->gens));
    for (size_t i = 0; i < r->n_names; i++) {
        const redisReply *v = reply->element[i];
        r->gens[i] = 0;
        if (v->type == REDIS_REPLY_STRING && !pb_redis_tag_gen_parse(v->str, v->len, &r->gens[i]))
            r->gens[i] = 0;
    }
    return true;
}

/* ---- TAGS_OF ------------------------------------------------------------ */

static bool tags_of_prepare(tag_read *r)
{
    pb_tag_lookup *l = r->lookup;
    if (r->round == 0) {
        pb_redis_cmd *cmds = round_open(r, l->n);
        for (size_t i = 0; i < l->n; i++)
            pb_redis_cmd_key(&cmds[i], r->pool, false, 2, "HGETALL",
                             pb_redis_token_tags_key(r->pool, r->session->store, l->access_id, l->tokens[i]));
        return true;
    }
    if (r->round > 1 || r->n_names == 0)
        return false;
    gens_cmd(r, round_open(r, 1));
    return true;
}

static int tags_of_judge(tag_read *r)
{
    pb_tag_lookup *l = r->lookup;
    if (r->round == 1) {
        if (!gens_read(r, r->cmds[0].reply))
            return PB_STORE_EIO;
        return 0;
    }
    r->helds = pb_pool_alloc(r->pool, l->n * sizeof(*r->helds));
    r->n_helds = pb_pool_alloc(r->pool, l->n * sizeof(*r->n_helds));
    for (size_t i = 0; i < l->n; i++) {
        const redisReply *reply = r->cmds[i].reply;
        if (failed(r, reply, REDIS_REPLY_ARRAY))
            return PB_STORE_EIO;
        r->helds[i] = pb_pool_alloc(r->pool, (reply->elements / 2 + 1) * sizeof(**r->helds));
        r->n_helds[i] = 0;
        for (size_t j = 0; j + 1 < reply->elements; j += 2) {
            const redisReply *f = reply->element[j], *v = reply->element[j + 1];
            held h;
            int64_t time;
            if (f->len < 2 || f->str[0] != 't' || !pb_redis_tag_pair_parse(v->str, v->len, &h.seq, &h.gen, &time))
                continue;
            h.tag = pb_pool_strdup(r->pool, (pb_str){f->str + 1, f->len - 1});
            r->helds[i][r->n_helds[i]++] = h;
            bool known = false;
            for (size_t k = 0; k < r->n_names && !known; k++)
                known = pb_str_eq(r->names[k], h.tag);
            if (!known) {
                r->names = pb_pool_grow(r->pool, r->names, r->n_names, sizeof(*r->names));
                r->names[r->n_names++] = h.tag;
            }
        }
    }
    return 0;
}

static int by_seq(const void *x, const void *y)
{
    const held *a = x, *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Each token's live pairs, oldest first. */
static void tags_of_answer(tag_read *r)
{
    pb_tag_lookup *l = r->lookup;
    l->lists = pb_pool_alloc(r->pool, l->n * sizeof(*l->lists));
    for (size_t i = 0; i < l->n; i++) {
        held *h = r->helds[i];
        size_t n = 0;
        for (size_t j = 0; j < r->n_helds[i]; j++)
            for (size_t k = 0; k < r->n_names; k++)
                if (pb_str_eq(r->names[k], h[j].tag) && r->gens[k] != 0 && r->gens[k] == h[j].gen)
                    h[n++] = h[j];
        qsort(h, n, sizeof(*h), by_seq);
        l->lists[i] = (pb_str_array){pb_pool_alloc(r->pool, (n + 1) * sizeof(pb_str)), n};
        for (size_t j = 0; j < n; j++)
            l->lists[i].items[j] = h[j].tag;
    }
}

/* ---- TOKENS_OF ---------------------------------------------------------- */

static bool tokens_of_prepare(tag_read *r)
{
    pb_tag_lookup *l = r->lookup;
    const pb_redis_store *store = r->session->store;
    if (r->round == 0) {
        r->names = (pb_str *)l->tags;
        r->n_names = 1;
        gens_cmd(r, round_open(r, 1));
        return true;
    }
    if (r->round == 1) {
        if (r->gens[0] == 0)
            return false;
        pb_redis_cmd *cmd = round_open(r, 1);
        char *after = pb_pool_alloc(r->pool, PB_DECIMAL_MAX + 2);
        after[0] = '(';
        pb_str min = {after, (size_t)(pb_put_u64(after + 1, l->after) - after)};
        pb_str limit = pb_redis_decimal(r->pool, l->limit);
        pb_redis_cmd_key(cmd, r->pool, false, 8, "ZRANGEBYSCORE",
                         pb_redis_tag_key(r->pool, store, "tx", l->access_id, l->tags[0], r->gens[0]));
        pb_redis_cmd_arg(cmd, 2, min.base, min.len);
        pb_redis_cmd_arg(cmd, 3, "+inf", 4);
        pb_redis_cmd_arg(cmd, 4, "WITHSCORES", 10);
        pb_redis_cmd_arg(cmd, 5, "LIMIT", 5);
        pb_redis_cmd_arg(cmd, 6, "0", 1);
        pb_redis_cmd_arg(cmd, 7, limit.base, limit.len);
        return true;
    }
    if (r->round > 2 || r->n_toks == 0)
        return false;
    pb_redis_cmd *cmds = round_open(r, r->n_toks);
    pb_str field = pair_field(r->pool, l->tags[0]);
    for (size_t i = 0; i < r->n_toks; i++) {
        pb_redis_cmd_key(&cmds[i], r->pool, false, 3, "HGET",
                         pb_redis_token_tags_key(r->pool, store, l->access_id, r->toks[i]));
        pb_redis_cmd_arg(&cmds[i], 2, field.base, field.len);
    }
    return true;
}

static int tokens_of_judge(tag_read *r)
{
    pb_tag_lookup *l = r->lookup;
    if (r->round == 0)
        return gens_read(r, r->cmds[0].reply) ? 0 : PB_STORE_EIO;
    if (r->round == 1) {
        const redisReply *reply = r->cmds[0].reply;
        if (failed(r, reply, REDIS_REPLY_ARRAY))
            return PB_STORE_EIO;
        r->toks = pb_pool_alloc(r->pool, (reply->elements / 2 + 1) * sizeof(*r->toks));
        r->seqs = pb_pool_alloc(r->pool, (reply->elements / 2 + 1) * sizeof(*r->seqs));
        for (size_t j = 0; j + 1 < reply->elements; j += 2) {
            const redisReply *score = reply->element[j + 1];
            if (!pb_redis_parse_u64(score->str, score->len, &r->seqs[r->n_toks]))
                continue;
            r->toks[r->n_toks++] = dup_reply(r->pool, reply->element[j]);
        }
        /* A full page goes on after its last entry, shown or not; a short one is the last. */
        l->next = r->n_toks == l->limit && r->n_toks != 0 ? r->seqs[r->n_toks - 1] : 0;
        return 0;
    }
    l->lists = pb_pool_alloc(r->pool, sizeof(*l->lists));
    l->lists[0] = (pb_str_array){pb_pool_alloc(r->pool, (r->n_toks + 1) * sizeof(pb_str)), 0};
    for (size_t i = 0; i < r->n_toks; i++) {
        const redisReply *v = r->cmds[i].reply;
        uint64_t seq, gen;
        int64_t time;
        if (failed(r, v, REDIS_REPLY_STRING))
            return PB_STORE_EIO;
        /* By gen alone: a writer that died between its change and its settle may leave the pair's
         * index entry at its reservation's seq, not the record's; listed there, it is listed. */
        if (v->type == REDIS_REPLY_STRING && pb_redis_tag_pair_parse(v->str, v->len, &seq, &gen, &time) &&
            gen == r->gens[0])
            l->lists[0].items[l->lists[0].n++] = r->toks[i];
    }
    return 0;
}

/* ---- COUNTS and TAGS ---------------------------------------------------- */

/* TAGS: tag_page's (name, value) pairs into the page's names and gens. */
static int tags_page(tag_read *r, const redisReply *reply)
{
    pb_tag_lookup *l = r->lookup;
    if (failed(r, reply, REDIS_REPLY_ARRAY))
        return PB_STORE_EIO;
    size_t n = reply->elements / 2;
    r->n_names = n < l->limit ? n : l->limit;
    l->more = n > l->limit;
    r->names = pb_pool_alloc(r->pool, (r->n_names + 1) * sizeof(*r->names));
    r->gens = pb_pool_alloc(r->pool, (r->n_names + 1) * sizeof(*r->gens));
    for (size_t i = 0; i < r->n_names; i++) {
        const redisReply *name = reply->element[2 * i], *value = reply->element[2 * i + 1];
        r->names[i] = dup_reply(r->pool, name);
        if (value->type != REDIS_REPLY_STRING || !pb_redis_tag_gen_parse(value->str, value->len, &r->gens[i]))
            r->gens[i] = 0;
    }
    return 0;
}

/* TAGS' first round: a page of names with their gens, from the app's node. */
static void page_cmd(tag_read *r, pb_redis_cmd *cmd)
{
    const pb_redis_store *store = r->session->store;
    pb_redis_args args = {.pool = r->pool};
    pb_str names = pb_redis_app_key(r->pool, store, "tagnames", r->lookup->access_id);
    pb_redis_args_script(&args, &store->scripts.tag_page, 2);
    pb_redis_args_add(&args, names);
    pb_redis_args_add(&args, tags_key(r));
    pb_redis_args_add(&args, r->lookup->after_tag);
    pb_redis_args_add(&args, pb_redis_decimal(r->pool, r->lookup->limit));
    pb_redis_cmd_strs(cmd, r->pool, pb_redis_slot_of(names), false, &store->scripts.tag_page, args.v, args.n);
}

static bool counts_prepare(tag_read *r)
{
    pb_tag_lookup *l = r->lookup;
    const pb_redis_store *store = r->session->store;
    if (r->round == 0) {
        if (l->kind == PB_TAG_LOOKUP_TAGS) {
            page_cmd(r, round_open(r, 1));
            return true;
        }
        r->names = (pb_str *)l->tags;
        r->n_names = l->n;
        gens_cmd(r, round_open(r, 1));
        return true;
    }
    if (r->round == 1) {
        pb_redis_cmd *cmds = round_open(r, 2 * r->n_names);
        for (size_t i = 0; i < r->n_names; i++) {
            uint64_t gen = r->gens[i];
            pb_redis_cmd_key(&cmds[2 * i], r->pool, false, 2, "ZCARD",
                             pb_redis_tag_key(r->pool, store, "tx", l->access_id, r->names[i], gen));
            pb_redis_cmd_key(&cmds[2 * i + 1], r->pool, false, 2, "HKEYS",
                             pb_redis_tag_key(r->pool, store, "tm", l->access_id, r->names[i], gen));
        }
        return r->n_names != 0;
    }
    if (r->round > 2 || r->n_dirties == 0)
        return false;
    pb_redis_cmd *cmds = round_open(r, 2 * r->n_dirties);
    for (size_t i = 0; i < r->n_dirties; i++) {
        const dirty *d = &r->dirties[i];
        pb_str field = pair_field(r->pool, r->names[d->tag]);
        pb_redis_cmd_key(&cmds[2 * i], r->pool, false, 3, "ZSCORE",
                         pb_redis_tag_key(r->pool, store, "tx", l->access_id, r->names[d->tag], r->gens[d->tag]));
        pb_redis_cmd_arg(&cmds[2 * i], 2, d->token.base, d->token.len);
        pb_redis_cmd_key(&cmds[2 * i + 1], r->pool, false, 3, "HGET",
                         pb_redis_token_tags_key(r->pool, store, l->access_id, d->token));
        pb_redis_cmd_arg(&cmds[2 * i + 1], 2, field.base, field.len);
    }
    return true;
}

static int counts_judge(tag_read *r)
{
    pb_tag_lookup *l = r->lookup;
    if (r->round == 0) {
        int rc = l->kind == PB_TAG_LOOKUP_TAGS ? tags_page(r, r->cmds[0].reply)
                                               : gens_read(r, r->cmds[0].reply) ? 0 : PB_STORE_EIO;
        l->counts = pb_pool_alloc(r->pool, (r->n_names + 1) * sizeof(*l->counts));
        memset(l->counts, 0, (r->n_names + 1) * sizeof(*l->counts));
        return rc;
    }
    if (r->round == 1) {
        for (size_t i = 0; i < r->n_names; i++) {
            const redisReply *card = r->cmds[2 * i].reply, *marks = r->cmds[2 * i + 1].reply;
            if (failed(r, card, REDIS_REPLY_INTEGER) || failed(r, marks, REDIS_REPLY_ARRAY))
                return PB_STORE_EIO;
            l->counts[i] = r->gens[i] != 0 ? (uint64_t)card->integer : 0;
            for (size_t j = 0; r->gens[i] != 0 && j < marks->elements; j++) {
                if (marks->element[j]->len == 0) /* the settle counter */
                    continue;
                r->dirties = pb_pool_grow(r->pool, r->dirties, r->n_dirties, sizeof(*r->dirties));
                r->dirties[r->n_dirties++] = (dirty){i, dup_reply(r->pool, marks->element[j])};
            }
        }
        return 0;
    }
    /* A marked pair counts when its record holds it under the live gen, whatever its index entry says. */
    for (size_t i = 0; i < r->n_dirties; i++) {
        const dirty *d = &r->dirties[i];
        const redisReply *entry = r->cmds[2 * i].reply, *pair = r->cmds[2 * i + 1].reply;
        uint64_t seq, gen;
        int64_t time;
        if (failed(r, entry, REDIS_REPLY_STRING) || failed(r, pair, REDIS_REPLY_STRING))
            return PB_STORE_EIO;
        bool indexed = entry->type == REDIS_REPLY_STRING;
        bool kept = pair->type == REDIS_REPLY_STRING && pb_redis_tag_pair_parse(pair->str, pair->len, &seq, &gen, &time) &&
                    gen == r->gens[d->tag];
        if (indexed && !kept)
            l->counts[d->tag]--;
        else if (!indexed && kept)
            l->counts[d->tag]++;
    }
    return 0;
}

/* TAGS: the page's names, with the counts read. */
static void tags_answer(tag_read *r)
{
    pb_tag_lookup *l = r->lookup;
    l->lists = pb_pool_alloc(r->pool, sizeof(*l->lists));
    l->lists[0] = (pb_str_array){r->names, r->n_names};
}

/* ---- Rounds and carriers ------------------------------------------------ */

static bool prepare(tag_read *r)
{
    r->cmds = NULL;
    r->n_cmds = 0;
    switch (r->lookup->kind) {
    case PB_TAG_LOOKUP_TAGS_OF: return tags_of_prepare(r);
    case PB_TAG_LOOKUP_TOKENS_OF: return tokens_of_prepare(r);
    case PB_TAG_LOOKUP_COUNTS:
    case PB_TAG_LOOKUP_TAGS: return counts_prepare(r);
    }
    return false;
}

static int judge(tag_read *r)
{
    int rc = PB_STORE_EINVAL;
    switch (r->lookup->kind) {
    case PB_TAG_LOOKUP_TAGS_OF: rc = tags_of_judge(r); break;
    case PB_TAG_LOOKUP_TOKENS_OF: rc = tokens_of_judge(r); break;
    case PB_TAG_LOOKUP_COUNTS:
    case PB_TAG_LOOKUP_TAGS: rc = counts_judge(r); break;
    }
    pb_redis_release(r->cmds, r->n_cmds);
    r->round++;
    return rc;
}

/* The answer once the rounds are over (or one failed). */
static void finish(tag_read *r, int rc)
{
    pb_tag_lookup *l = r->lookup;
    l->result = rc;
    if (rc == 0 && l->kind == PB_TAG_LOOKUP_TAGS_OF)
        tags_of_answer(r);
    if (rc == 0 && l->kind == PB_TAG_LOOKUP_TAGS)
        tags_answer(r);
    if (rc == 0 && l->kind == PB_TAG_LOOKUP_TOKENS_OF && l->lists == NULL) {
        l->lists = pb_pool_alloc(r->pool, sizeof(*l->lists));
        l->lists[0] = (pb_str_array){NULL, 0};
    }
    if (rc == PB_STORE_EIO && r->map != &r->session->conn)
        snprintf(r->session->conn.error, sizeof(r->session->conn.error), "%s", r->map->error);
    r->done(r->arg, l);
}

static void on_round(void *arg, int rc)
{
    tag_read *r = arg;
    (void)rc; /* each reply, or its absence, is what the round judges */
    if ((rc = judge(r)) != 0) {
        finish(r, rc);
        return;
    }
    if (prepare(r))
        pb_redis_arun(r->session->aconn, &r->batch, r->cmds, r->n_cmds, on_round, r);
    else
        finish(r, 0);
}

void pb_redis_tag_lookup_start(pb_redis_session *session, pb_tag_lookup *lookup, pb_pool *pool,
                               pb_tag_lookup_done *done, void *arg)
{
    tag_read *r = pb_pool_alloc(pool, sizeof(*r));
    bool bound = pb_redis_session_bound(session);
    *r = (tag_read){.session = session, .lookup = lookup, .pool = pool, .done = done, .arg = arg,
                    .map = bound ? pb_redis_aconn_map(session->aconn) : &session->conn};
    lookup->lists = NULL;
    lookup->counts = NULL;
    lookup->next = 0;
    lookup->more = false;
    session->conn.error[0] = '\0';
    if (!prepare(r)) {
        finish(r, 0);
        return;
    }
    if (bound) {
        pb_redis_arun(session->aconn, &r->batch, r->cmds, r->n_cmds, on_round, r);
        return;
    }
    int rc;
    do {
        pb_redis_run(&session->conn, r->cmds, r->n_cmds);
        rc = judge(r);
    } while (rc == 0 && prepare(r));
    finish(r, rc);
}
