/*
 * store/redis/tag_graves.c — freeing the pairs of deleted tags in the
 * background, in bounded steps, on the sweeper's thread (sweeper.c).
 *
 * delete_all_device takes a tag's gen out of the app's tags hash and writes a
 * grave "gen|TAG" (tag_begin's delete mode): from then on every read finds
 * the gen dead and shows nothing of the tag. Its pairs stay in Redis until a
 * step here frees them: the oldest grave of each app, PB_REDIS_GRAVE_PAIRS
 * tokens of its dead index at a time, each token's pair forgotten by
 * tag_forget (only when it still names that gen: a tag made again has
 * another), then those index members deleted. An empty index whose grave
 * is older than PB_REDIS_TAG_STALE_S (no writer of that gen can still be in
 * flight) has its keys unlinked and its grave dropped. Steps of several
 * processes may overlap: each command is idempotent.
 */
#include <stdio.h>

#include "store/redis/tags.h"

#define PB_REDIS_GRAVE_PAIRS 512 /* tokens per app per step: bounds the work a step puts on a node */

typedef struct grave {
    uint64_t access_id, gen;
    pb_str tag, grave, index;
    int64_t since;
    size_t n_tokens;
    pb_str *tokens;
} grave;

/* The oldest grave of each app, and the first tokens of its dead index: two rounds. */
static size_t graves_read(pb_redis_session *session, const uint64_t *apps, size_t n, pb_pool *pool, grave *out)
{
    const pb_redis_store *store = session->store;
    pb_redis_cmd *cmds = pb_pool_alloc(pool, (n + 1) * sizeof(*cmds));
    for (size_t i = 0; i < n; i++) {
        pb_redis_cmd_zrange(&cmds[i], pool, pb_redis_app_key(pool, store, "tgrave", apps[i]), true);
        pb_redis_cmd_arg(&cmds[i], 3, "0", 1); /* ZRANGE key 0 0 WITHSCORES: the oldest */
    }
    pb_redis_run(&session->conn, cmds, n);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *r = cmds[i].reply;
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
            continue;
        grave *g = &out[found];
        pb_str member = pb_pool_strdup(pool, (pb_str){r->element[0]->str, r->element[0]->len});
        const char *bar = memchr(member.base, '|', member.len);
        uint64_t since;
        if (bar == NULL || !pb_redis_tag_gen_parse(member.base, member.len, &g->gen) ||
            !pb_redis_parse_u64(r->element[1]->str, r->element[1]->len, &since))
            continue;
        g->access_id = apps[i];
        g->grave = member;
        g->since = (int64_t)since;
        g->tag = (pb_str){bar + 1, member.len - (size_t)(bar + 1 - member.base)};
        g->index = pb_redis_tag_key(pool, store, "tx", apps[i], g->tag, g->gen);
        found++;
    }
    pb_redis_release(cmds, n);
    char limit[16];
    int limit_len = snprintf(limit, sizeof(limit), "%d", PB_REDIS_GRAVE_PAIRS - 1);
    for (size_t i = 0; i < found; i++) {
        pb_redis_cmd_zrange(&cmds[i], pool, out[i].index, false);
        pb_redis_cmd_arg(&cmds[i], 3, limit, (size_t)limit_len);
    }
    pb_redis_run(&session->conn, cmds, found);
    for (size_t i = 0; i < found; i++) {
        const redisReply *r = cmds[i].reply;
        size_t m = r != NULL && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        out[i].tokens = pb_pool_alloc(pool, (m + 1) * sizeof(*out[i].tokens));
        out[i].n_tokens = 0;
        for (size_t j = 0; j < m; j++)
            out[i].tokens[out[i].n_tokens++] = pb_pool_strdup(pool, (pb_str){r->element[j]->str, r->element[j]->len});
        if (r == NULL || r->type != REDIS_REPLY_ARRAY)
            out[i].since = INT64_MAX; /* unread: not known to be empty */
    }
    pb_redis_release(cmds, found);
    return found;
}

/* Each grave's tokens forgotten (one round), then their index members deleted, or an empty grave's keys. */
static size_t graves_free(pb_redis_session *session, grave *graves, size_t n, int64_t now, pb_pool *pool)
{
    const pb_redis_store *store = session->store;
    size_t total = 0, freed = 0;
    for (size_t i = 0; i < n; i++)
        total += graves[i].n_tokens;
    pb_redis_cmd *cmds = pb_pool_alloc(pool, (total + 3 * n + 1) * sizeof(*cmds));
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        pb_str gen = pb_redis_decimal(pool, graves[i].gen);
        char *field = pb_pool_alloc(pool, graves[i].tag.len + 1);
        field[0] = 't';
        memcpy(field + 1, graves[i].tag.base, graves[i].tag.len);
        for (size_t j = 0; j < graves[i].n_tokens; j++) {
            pb_redis_cmd *cmd = &cmds[c++];
            pb_redis_cmd_script(cmd, pool, &store->scripts.tag_forget, 6,
                                pb_redis_token_tags_key(pool, store, graves[i].access_id, graves[i].tokens[j]));
            pb_redis_cmd_arg(cmd, 4, field, graves[i].tag.len + 1);
            pb_redis_cmd_arg(cmd, 5, gen.base, gen.len);
        }
    }
    pb_redis_run(&session->conn, cmds, c);
    pb_redis_release(cmds, c);
    c = 0;
    for (size_t i = 0; i < n; i++) {
        grave *g = &graves[i];
        if (g->n_tokens != 0) {
            pb_redis_args args = {.pool = pool};
            pb_redis_args_add(&args, PB_STR_LIT("ZREM"));
            pb_redis_args_add(&args, g->index);
            for (size_t j = 0; j < g->n_tokens; j++)
                pb_redis_args_add(&args, g->tokens[j]);
            pb_redis_cmd_strs(&cmds[c++], pool, pb_redis_slot_of(g->index), true, NULL, args.v, args.n);
            freed += g->n_tokens;
        } else if (now - g->since > PB_REDIS_TAG_STALE_S) {
            pb_str marks = pb_redis_tag_key(pool, store, "tm", g->access_id, g->tag, g->gen);
            pb_str key = pb_redis_app_key(pool, store, "tgrave", g->access_id);
            pb_redis_cmd_key(&cmds[c++], pool, true, 2, "UNLINK", g->index);
            pb_redis_cmd_key(&cmds[c++], pool, true, 2, "UNLINK", marks);
            pb_redis_cmd_key(&cmds[c], pool, true, 3, "ZREM", key);
            pb_redis_cmd_arg(&cmds[c++], 2, g->grave.base, g->grave.len);
            freed++;
        }
    }
    pb_redis_run(&session->conn, cmds, c);
    pb_redis_release(cmds, c);
    return freed;
}

size_t pb_redis_tag_graves_step(pb_redis_session *session, const uint64_t *apps, size_t n, int64_t now, pb_pool *pool)
{
    if (n == 0)
        return 0;
    grave *graves = pb_pool_alloc(pool, n * sizeof(*graves));
    size_t found = graves_read(session, apps, n, pool, graves);
    return found != 0 ? graves_free(session, graves, found, now, pool) : 0;
}
