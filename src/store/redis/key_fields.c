/*
 * store/redis/key_fields.c — named keys in the Redis backend (store.h,
 * "Named keys"): fields "key:NAME" of the app's hash (keyspace.h), so that
 * the secret's HGETALL brings them and `app remove` deletes them. Each
 * change publishes the app on the apps channel, as `app add` does, so the
 * running servers' secret caches forget it at once.
 */
#include <stdio.h>

#include "store/app_keys.h"
#include "store/redis/apps_watch.h"
#include "store/redis/keyspace.h"
#include "store/redis/lookup.h"
#include "store/redis/scripts.h"

/* "key:NAME" in `pool`. */
static pb_str key_field(pb_pool *pool, pb_str name)
{
    char *field = pb_pool_alloc(pool, 4 + name.len);
    memcpy(field, "key:", 4);
    memcpy(field + 4, name.base, name.len);
    return (pb_str){field, 4 + name.len};
}

/* Runs `cmd`; its reply, or NULL after setting the session's error. The caller releases it. */
static const redisReply *run(pb_redis_session *session, pb_redis_cmd *cmd, const char *what)
{
    if (pb_redis_run(&session->conn, cmd, 1) != 0 || pb_redis_reply_failed(&session->conn, cmd->reply, what))
        return NULL;
    return cmd->reply;
}

int pb_redis_key_put(pb_redis_session *session, uint64_t access_id, const pb_app_key *key)
{
    pb_pool *pool = &session->pool;
    unsigned char record[PB_KEY_RECORD_MAX];
    if (!pb_key_check(key, session->conn.error, sizeof(session->conn.error)))
        return PB_STORE_EINVAL;
    pb_str field = key_field(pool, key->name), max = pb_redis_decimal(pool, PB_KEYS_PER_APP);
    size_t record_len = pb_key_record_build(record, key);
    pb_redis_cmd cmd;
    pb_redis_cmd_script(&cmd, pool, &session->store->scripts.key_put, 7,
                        pb_redis_app_key(pool, session->store, "app", access_id));
    pb_redis_cmd_arg(&cmd, 4, field.base, field.len);
    pb_redis_cmd_arg(&cmd, 5, (const char *)record, record_len);
    pb_redis_cmd_arg(&cmd, 6, max.base, max.len);
    const redisReply *reply = run(session, &cmd, "key add");
    int rc = PB_STORE_EIO;
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {
        rc = reply->integer == 1 ? 0 : reply->integer == -1 ? PB_STORE_ENOTFOUND : PB_STORE_EINVAL;
        if (reply->integer == -2)
            snprintf(session->conn.error, sizeof(session->conn.error), "the app has a key named %.*s already",
                     (int)key->name.len, key->name.base);
        else if (reply->integer == -3)
            snprintf(session->conn.error, sizeof(session->conn.error), "the app has %d keys, the most it may",
                     PB_KEYS_PER_APP);
    }
    pb_redis_release(&cmd, 1);
    if (rc == 0)
        pb_redis_apps_publish(session, access_id);
    pb_pool_clear(pool);
    return rc;
}

int pb_redis_key_revoke(pb_redis_session *session, uint64_t access_id, pb_str name)
{
    pb_pool *pool = &session->pool;
    if (!pb_store_key_name_valid(name))
        return PB_STORE_ENOTFOUND;
    pb_str field = key_field(pool, name);
    pb_redis_cmd cmd;
    pb_redis_cmd_key(&cmd, pool, true, 3, "HDEL", pb_redis_app_key(pool, session->store, "app", access_id));
    pb_redis_cmd_arg(&cmd, 2, field.base, field.len);
    const redisReply *reply = run(session, &cmd, "key revoke");
    int rc = PB_STORE_EIO;
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
        rc = reply->integer == 1 ? 0 : PB_STORE_ENOTFOUND;
    pb_redis_release(&cmd, 1);
    if (rc == 0)
        pb_redis_apps_publish(session, access_id);
    pb_pool_clear(pool);
    return rc;
}

int pb_redis_key_list(pb_redis_session *session, uint64_t access_id, void (*visit)(void *arg, const pb_app_key *key),
                      void *arg)
{
    pb_pool *pool = &session->pool;
    pb_str secret, packed;
    pb_redis_cmd cmd;
    pb_redis_secret_cmd(&cmd, pool, session->store, access_id);
    int rc = PB_STORE_EIO;
    if (pb_redis_run(&session->conn, &cmd, 1) == 0)
        rc = pb_redis_secret_parse(&session->conn, &cmd, pool, &secret, &packed);
    pb_redis_release(&cmd, 1);
    pb_app_key key;
    while (rc == 0 && pb_store_keys_next(&packed, &key)) {
        key.secret = (pb_str){NULL, 0};
        visit(arg, &key);
    }
    pb_pool_clear(pool);
    return rc;
}
