/*
 * store/redis/account_types.c — the account types an app uses, for finding a
 * name under every type (pb_store_account_types()).
 *
 * P:types:{A} is a set of decimal account types. The begin_batch script adds
 * the types of a batch's binds to it (scripts.c): the set shares the app's
 * hash tag with the seq counter that script already reserves from, so the
 * write costs no round trip and no key of another node, and it runs in the
 * batch's first round, before any of the batch's bindings can be visible.
 * So every type of a visible binding is in the set; a type whose binds were
 * refused or later removed stays (a superset, as the contract allows).
 * Reading it is one SMEMBERS.
 *
 * Bindings written before the set existed are covered once per namespace:
 * opening the store (any command, `serve` included) finds no
 * P:types-indexed mark, SCANs every primary for the account indexes
 * (P:a:{A:TYPE:NAME}), adds each (A, TYPE) to its app's set, and sets the
 * mark. A server of an older version still writing meanwhile (a rolling
 * upgrade) may bind a new type without recording it: delete the mark once
 * every server runs this version, and the next open walks again
 * (docs/operations.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis/account_types.h"
#include "store/redis/keyspace.h"

void pb_redis_types_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store, uint64_t access_id)
{
    pb_redis_cmd_key(cmd, pool, false, 2, "SMEMBERS", pb_redis_app_key(pool, store, "types", access_id));
}

/* A member of the set: an account type as the API reads one. */
static bool parse_type(const char *text, size_t len, uint64_t *value)
{
    uint32_t type;
    if (!pb_account_type_parse(text, len, &type))
        return false;
    *value = type;
    return true;
}

int pb_redis_types_parse(pb_redis_conn *conn, const pb_redis_cmd *cmd, size_t max, pb_pool *pool, uint32_t **types,
                         size_t *n)
{
    uint64_t *members;
    size_t found;
    *types = NULL;
    *n = 0;
    if (pb_redis_set_parse(conn, cmd->reply, "account types", parse_type, pool, &members, &found) != 0)
        return PB_STORE_EIO;
    if (max != 0 && found > max)
        found = max;
    *types = pb_pool_alloc(pool, (found + 1) * sizeof(**types));
    for (size_t i = 0; i < found; i++)
        (*types)[i] = (uint32_t)members[i];
    *n = found;
    return 0;
}

int pb_redis_account_types(pb_redis_view *view, uint64_t access_id, size_t max, pb_pool *pool, uint32_t **types,
                           size_t *n)
{
    pb_redis_session *session = view->session;
    int rc = PB_STORE_EIO;
    pb_redis_cmd cmd;
    pb_redis_types_cmd(&cmd, &session->pool, session->store, access_id);
    if (pb_redis_run(&session->conn, &cmd, 1) == 0)
        rc = pb_redis_types_parse(&session->conn, &cmd, max, pool, types, n);
    pb_redis_release(&cmd, 1);
    return rc;
}

/* ---- The walk for bindings written before the sets ---------------------- */

/*
 * The (app, type) pairs found on the primaries, without repeats: a SCAN
 * meets every account of every app, so each key's pair is looked up in
 * `index`, an open-addressed table of positions in apps/types (1-based; 0:
 * empty) kept at most half full.
 */
struct types_walk {
    const char *match; /* "P:a:{*" */
    size_t head;       /* strlen("P:a:{") */
    uint64_t *apps;
    uint32_t *types;
    size_t n, room;
    size_t *index, mask; /* 2 * room slots */
    bool failed;
};

/* (app, type)'s slot in the index: the one that holds it, or the empty one where it goes. */
static size_t *index_slot(const struct types_walk *w, uint64_t app, uint32_t type)
{
    size_t i = (size_t)((app ^ (uint64_t)type << 40) * 0x9E3779B97F4A7C15ull >> 16) & w->mask;
    for (;; i = (i + 1) & w->mask) {
        size_t *slot = &w->index[i];
        if (*slot == 0 || (w->apps[*slot - 1] == app && w->types[*slot - 1] == type))
            return slot;
    }
}

/* Twice the room, the index rebuilt; false when out of memory. */
static bool walk_grow(struct types_walk *w)
{
    size_t room = w->room == 0 ? 64 : w->room * 2;
    uint64_t *apps = realloc(w->apps, room * sizeof(*apps));
    if (apps != NULL)
        w->apps = apps;
    uint32_t *types = realloc(w->types, room * sizeof(*types));
    if (types != NULL)
        w->types = types;
    size_t *index = calloc(2 * room, sizeof(*index));
    if (apps == NULL || types == NULL || index == NULL) {
        free(index);
        return false;
    }
    free(w->index);
    w->index = index;
    w->mask = 2 * room - 1;
    w->room = room;
    for (size_t i = 0; i < w->n; i++)
        *index_slot(w, w->apps[i], w->types[i]) = i + 1;
    return true;
}

/* Adds (app, type) unless it is there. */
static void walk_add(struct types_walk *w, uint64_t app, uint32_t type)
{
    if (w->room != 0 && *index_slot(w, app, type) != 0)
        return;
    if (w->n == w->room && !walk_grow(w)) {
        w->failed = true;
        return;
    }
    w->apps[w->n] = app;
    w->types[w->n++] = type;
    *index_slot(w, app, type) = w->n;
}

/* An account index's key "P:a:{A:TYPE:NAME}" → (A, TYPE); false for anything else. */
static bool parse_index_key(const struct types_walk *w, const char *key, size_t len, uint64_t *app, uint32_t *type)
{
    const char *p = key + w->head, *end = key + len;
    uint64_t a = 0;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9')
        a = a * 10 + (uint64_t)(*p++ - '0');
    if (p == digits || p == end || *p++ != ':')
        return false;
    const char *t = p;
    while (p < end && *p != ':')
        p++;
    if (p == end || !pb_account_type_parse(t, (size_t)(p - t), type))
        return false;
    *app = a;
    return true;
}

static int walk_node(void *arg, redisContext *ctx)
{
    struct types_walk *w = arg;
    char cursor[PB_REDIS_SCAN_CURSOR] = "0";
    do {
        redisReply *page = pb_redis_scan_page(ctx, cursor, w->match, strlen(w->match), 1000);
        if (page == NULL)
            return -1;
        const redisReply *keys = page->element[1];
        for (size_t i = 0; i < keys->elements && !w->failed; i++) {
            uint64_t app;
            uint32_t type;
            if (keys->element[i]->type == REDIS_REPLY_STRING &&
                parse_index_key(w, keys->element[i]->str, keys->element[i]->len, &app, &type))
                walk_add(w, app, type);
        }
        freeReplyObject(page);
        if (w->failed)
            return -1;
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* SADD of every pair found, each to its app's set's node, then the mark. */
static int walk_record(pb_redis_conn *conn, const pb_redis_store *store, const struct types_walk *w, pb_str mark)
{
    pb_pool pool;
    pb_pool_init(&pool);
    size_t n = w->n + 1;
    pb_redis_cmd *cmds = pb_pool_alloc(&pool, n * sizeof(*cmds));
    for (size_t i = 0; i < w->n; i++) {
        pb_str type = pb_redis_decimal(&pool, w->types[i]);
        pb_redis_cmd_key(&cmds[i], &pool, true, 3, "SADD", pb_redis_app_key(&pool, store, "types", w->apps[i]));
        pb_redis_cmd_arg(&cmds[i], 2, type.base, type.len);
    }
    pb_redis_cmd_key(&cmds[w->n], &pool, true, 3, "SET", mark);
    pb_redis_cmd_arg(&cmds[w->n], 2, "1", 1);
    /* The mark goes last in the batch, but a cluster runs each node's part on its own: send it after. */
    int rc = pb_redis_run(conn, cmds, w->n);
    for (size_t i = 0; rc == 0 && i < w->n; i++)
        if (cmds[i].reply == NULL || cmds[i].reply->type != REDIS_REPLY_INTEGER)
            rc = -1;
    if (rc == 0)
        rc = pb_redis_run(conn, &cmds[w->n], 1) == 0 && cmds[w->n].reply != NULL &&
                     cmds[w->n].reply->type == REDIS_REPLY_STATUS
                 ? 0
                 : -1;
    pb_redis_release(cmds, n);
    pb_pool_clear(&pool);
    return rc;
}

int pb_redis_types_backfill(pb_redis_conn *conn, const pb_redis_store *store)
{
    pb_pool pool;
    pb_pool_init(&pool);
    size_t room = strlen(store->prefix) + 32;
    char *mark_text = pb_pool_alloc(&pool, room), *match = pb_pool_alloc(&pool, room);
    pb_str mark = {mark_text, (size_t)snprintf(mark_text, room, "%s:types-indexed", store->prefix)};
    struct types_walk w = {.match = match, .head = (size_t)snprintf(match, room, "%s:a:{", store->prefix)};
    snprintf(match + w.head, room - w.head, "*");

    int rc = -1;
    pb_redis_cmd cmd;
    pb_redis_cmd_key(&cmd, &pool, false, 2, "EXISTS", mark);
    if (pb_redis_run(conn, &cmd, 1) == 0 && cmd.reply != NULL && cmd.reply->type == REDIS_REPLY_INTEGER)
        rc = cmd.reply->integer == 1 ? 0 : 1;
    pb_redis_release(&cmd, 1);
    if (rc == 1) {
        rc = pb_redis_each_primary(conn, walk_node, &w) == 0 && !w.failed ? walk_record(conn, store, &w, mark) : -1;
        if (rc != 0 && conn->error[0] == '\0')
            snprintf(conn->error, sizeof(conn->error), "recording the account types of existing bindings failed");
    }
    free(w.apps);
    free(w.types);
    free(w.index);
    pb_pool_clear(&pool);
    return rc;
}
