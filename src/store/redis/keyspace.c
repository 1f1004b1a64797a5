/* store/redis/keyspace.c — keys, members and one-key commands of the Redis backend (see keyspace.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis/keyspace.h"
#include "store/redis/net/slot.h"

pb_str pb_redis_apps_key(pb_pool *pool, const pb_redis_store *store)
{
    size_t room = strlen(store->prefix) + 8;
    char *key = pb_pool_alloc(pool, room);
    return (pb_str){key, (size_t)snprintf(key, room, "%s:apps", store->prefix)};
}

pb_str pb_redis_apps_channel(pb_pool *pool, const pb_redis_store *store)
{
    size_t room = strlen(store->prefix) + 16;
    char *channel = pb_pool_alloc(pool, room);
    return (pb_str){channel, (size_t)snprintf(channel, room, "%s:apps-changed", store->prefix)};
}

/* "P:kind:{A:" followed by `tail_len` bytes the caller appends, then "}". */
static char *key_start(pb_pool *pool, const pb_redis_store *store, const char *kind, uint64_t access_id,
                       size_t tail_len, size_t *len)
{
    size_t room = strlen(store->prefix) + strlen(kind) + 32 + tail_len;
    char *key = pb_pool_alloc(pool, room);
    *len = (size_t)snprintf(key, room, "%s:%s:{%llu:", store->prefix, kind, (unsigned long long)access_id);
    return key;
}

/* "P:KIND:{A:TOKEN}": the keys of one token, all in its hash slot. */
static pb_str token_scoped_key(pb_pool *pool, const pb_redis_store *store, const char *kind, uint64_t access_id,
                               pb_str token)
{
    size_t len;
    char *key = key_start(pool, store, kind, access_id, token.len, &len);
    memcpy(key + len, token.base, token.len);
    len += token.len;
    key[len++] = '}';
    return (pb_str){key, len};
}

pb_str pb_redis_token_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, pb_str token)
{
    return token_scoped_key(pool, store, "t", access_id, token);
}

pb_str pb_redis_times_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, pb_str token)
{
    return token_scoped_key(pool, store, "ti", access_id, token);
}

pb_str pb_redis_token_tags_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, pb_str token)
{
    return token_scoped_key(pool, store, "tt", access_id, token);
}

pb_str pb_redis_tag_key(pb_pool *pool, const pb_redis_store *store, const char *kind, uint64_t access_id, pb_str tag,
                        uint64_t gen)
{
    pb_str scoped = token_scoped_key(pool, store, kind, access_id, tag);
    char *key = pb_pool_alloc(pool, scoped.len + 1 + PB_DECIMAL_MAX);
    memcpy(key, scoped.base, scoped.len);
    key[scoped.len] = ':';
    return (pb_str){key, (size_t)(pb_put_u64(key + scoped.len + 1, gen) - key)};
}

pb_str pb_redis_expiry_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id, unsigned shard)
{
    size_t len;
    char *key = key_start(pool, store, "exp", access_id, 12, &len);
    len += (size_t)snprintf(key + len, 12, "%u}", shard);
    return (pb_str){key, len};
}

unsigned pb_redis_expiry_shard(pb_str token_key)
{
    return pb_redis_slot_of(token_key) % PB_REDIS_EXPIRY_SHARDS;
}

pb_str pb_redis_account_key(pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                            const pb_account *account)
{
    size_t len;
    char *key = key_start(pool, store, "a", access_id, account->name.len + 12, &len);
    len += (size_t)sprintf(key + len, "%u:", (unsigned)account->type);
    memcpy(key + len, account->name.base, account->name.len);
    len += account->name.len;
    key[len++] = '}';
    return (pb_str){key, len};
}

pb_str pb_redis_app_key(pb_pool *pool, const pb_redis_store *store, const char *kind, uint64_t access_id)
{
    size_t room = strlen(store->prefix) + strlen(kind) + 32;
    char *key = pb_pool_alloc(pool, room);
    int len = snprintf(key, room, "%s:%s:{%llu}", store->prefix, kind, (unsigned long long)access_id);
    return (pb_str){key, (size_t)len};
}

pb_str pb_redis_account_member(pb_pool *pool, const pb_account *account)
{
    unsigned char *m = pb_pool_alloc(pool, PB_REDIS_ACCOUNT_MEMBER_HEAD + account->name.len);
    for (int i = 0; i < PB_REDIS_ACCOUNT_MEMBER_HEAD; i++)
        m[i] = (unsigned char)(account->type >> (8 * (PB_REDIS_ACCOUNT_MEMBER_HEAD - 1 - i)));
    memcpy(m + PB_REDIS_ACCOUNT_MEMBER_HEAD, account->name.base, account->name.len);
    return (pb_str){(const char *)m, PB_REDIS_ACCOUNT_MEMBER_HEAD + account->name.len};
}

pb_str pb_redis_index_member(pb_pool *pool, uint64_t seq, pb_str token)
{
    unsigned char *m = pb_pool_alloc(pool, PB_REDIS_INDEX_MEMBER_HEAD + token.len);
    for (int i = 0; i < PB_REDIS_INDEX_MEMBER_HEAD; i++)
        m[i] = (unsigned char)(seq >> (8 * (PB_REDIS_INDEX_MEMBER_HEAD - 1 - i)));
    memcpy(m + PB_REDIS_INDEX_MEMBER_HEAD, token.base, token.len);
    return (pb_str){(const char *)m, PB_REDIS_INDEX_MEMBER_HEAD + token.len};
}

bool pb_redis_account_parse(pb_str member, pb_account *account)
{
    if (member.len <= PB_REDIS_ACCOUNT_MEMBER_HEAD)
        return false;
    const unsigned char *m = (const unsigned char *)member.base;
    account->type = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
    account->name = (pb_str){member.base + PB_REDIS_ACCOUNT_MEMBER_HEAD, member.len - PB_REDIS_ACCOUNT_MEMBER_HEAD};
    return true;
}

bool pb_redis_index_parse(pb_str member, uint64_t *seq, pb_str *token)
{
    if (member.len <= PB_REDIS_INDEX_MEMBER_HEAD)
        return false;
    const unsigned char *m = (const unsigned char *)member.base;
    *seq = 0;
    for (int i = 0; i < PB_REDIS_INDEX_MEMBER_HEAD; i++)
        *seq = *seq << 8 | m[i];
    *token = (pb_str){member.base + PB_REDIS_INDEX_MEMBER_HEAD, member.len - PB_REDIS_INDEX_MEMBER_HEAD};
    return true;
}

unsigned pb_redis_slot_of(pb_str key)
{
    return pb_redis_key_slot(key.base, key.len);
}

pb_str pb_redis_decimal(pb_pool *pool, uint64_t value)
{
    char *text = pb_pool_alloc(pool, 24);
    return (pb_str){text, (size_t)snprintf(text, 24, "%llu", (unsigned long long)value)};
}

bool pb_redis_parse_u64(const char *text, size_t len, uint64_t *value)
{
    if (len == 0 || len > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    *value = v;
    return true;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int pb_redis_set_parse(pb_redis_conn *conn, const redisReply *set, const char *what, pb_redis_member_parse *parse,
                       pb_pool *pool, uint64_t **values, size_t *n)
{
    *values = NULL;
    *n = 0;
    if (pb_redis_reply_failed(conn, set, what))
        return PB_STORE_EIO;
    if (set->type != REDIS_REPLY_ARRAY) {
        snprintf(conn->error, sizeof(conn->error), "%s: not a set", what);
        return PB_STORE_EIO;
    }
    uint64_t *out = pb_pool_alloc(pool, (set->elements + 1) * sizeof(*out));
    size_t found = 0;
    for (size_t i = 0; i < set->elements; i++) {
        const redisReply *member = set->element[i];
        if (member->type == REDIS_REPLY_STRING && parse(member->str, member->len, &out[found]))
            found++;
    }
    qsort(out, found, sizeof(*out), compare_u64);
    *values = out;
    *n = found;
    return 0;
}

bool pb_redis_times_parse(const char *text, size_t len, pb_binding_times *times)
{
    const char *bar = memchr(text, '|', len);
    uint64_t bind, last;
    if (bar == NULL || !pb_redis_parse_u64(text, (size_t)(bar - text), &bind) ||
        !pb_redis_parse_u64(bar + 1, len - (size_t)(bar + 1 - text), &last))
        return false;
    *times = (pb_binding_times){(int64_t)bind, (int64_t)last};
    return true;
}

/* ---- One-key commands ---- */

void pb_redis_cmd_key(pb_redis_cmd *cmd, pb_pool *pool, bool write, int argc, const char *verb, pb_str key)
{
    pb_redis_cmd_init(cmd, pool, pb_redis_slot_of(key), write, argc);
    pb_redis_cmd_arg(cmd, 0, verb, strlen(verb));
    pb_redis_cmd_arg(cmd, 1, key.base, key.len);
}

void pb_redis_cmd_script(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_script *script, int argc, pb_str key)
{
    pb_redis_cmd_init(cmd, pool, pb_redis_slot_of(key), true, argc);
    pb_redis_cmd_arg(cmd, 0, "EVALSHA", 7);
    pb_redis_cmd_arg(cmd, 1, script->sha1, 40);
    pb_redis_cmd_arg(cmd, 2, "1", 1);
    pb_redis_cmd_arg(cmd, 3, key.base, key.len);
    cmd->script = script;
}

void pb_redis_cmd_zrange(pb_redis_cmd *cmd, pb_pool *pool, pb_str key, bool with_scores)
{
    pb_redis_cmd_init(cmd, pool, pb_redis_slot_of(key), false, with_scores ? 5 : 4);
    pb_redis_cmd_arg(cmd, 0, "ZRANGE", 6);
    pb_redis_cmd_arg(cmd, 1, key.base, key.len);
    pb_redis_cmd_arg(cmd, 2, "0", 1);
    pb_redis_cmd_arg(cmd, 3, "-1", 2);
    if (with_scores)
        pb_redis_cmd_arg(cmd, 4, "WITHSCORES", 10);
}
