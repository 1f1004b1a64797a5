/*
 * store/redis/redis.h — the Redis backend (one server or a Redis Cluster)
 * as store/store.c sees it: the functions behind pb_store_* for a store
 * opened on config->url. Each has the contract of its pb_store_* namesake in
 * store/store.h. Private to store/.
 */
#ifndef PB_STORE_REDIS_REDIS_H
#define PB_STORE_REDIS_REDIS_H

#include "store/store.h"

typedef struct pb_redis_store pb_redis_store;
typedef struct pb_redis_session pb_redis_session;
typedef struct pb_redis_view pb_redis_view;

pb_redis_store *pb_redis_open(const pb_store_config *config, char **err);
void pb_redis_close(pb_redis_store *store);
pb_redis_session *pb_redis_session_open(pb_redis_store *store);
void pb_redis_session_close(pb_redis_session *session);
const char *pb_redis_session_error(const pb_redis_session *session);
int pb_redis_ping(pb_redis_session *session);
pb_redis_view *pb_redis_view_begin(pb_redis_session *session);
void pb_redis_view_end(pb_redis_view *view);
int pb_redis_app_secret(pb_redis_view *view, uint64_t access_id, pb_pool *pool, pb_str *secret, pb_str *keys);
int pb_redis_app_of(pb_redis_view *view, uint64_t access_id, pb_app_info *app);
int pb_redis_account_types(pb_redis_view *view, uint64_t access_id, size_t max, pb_pool *pool, uint32_t **types,
                           size_t *n);
int pb_redis_tokens_of(pb_redis_view *view, uint64_t access_id, const pb_account *accounts, size_t n,
                      bool with_info, pb_pool *pool, pb_token_list *out);
int pb_redis_accounts_of(pb_redis_view *view, uint64_t access_id, const pb_str *tokens, size_t n,
                        bool with_info, pb_pool *pool, pb_account_list *out);
int pb_redis_session_attach_loop(pb_redis_session *session, void *loop);
void pb_redis_session_detach_loop(pb_redis_session *session);
void pb_redis_lookup_start(pb_redis_session *session, pb_store_lookup *lookup, pb_pool *pool,
                           pb_store_lookup_done *done, void *arg);
bool pb_redis_session_bound(const pb_redis_session *session);
void pb_redis_apply_start(pb_redis_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                          pb_change_outcome *outcomes, pb_pool *pool, pb_store_apply_done *done, void *arg);
int pb_redis_apply(pb_redis_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                  pb_change_outcome *outcomes);
/* Tags (store/redis/tags.h): pb_store_tag_apply_start() waiting, or on the loop, and pb_store_tag_lookup_start(). */
int pb_redis_tag_apply(pb_redis_session *session, uint64_t access_id, pb_tag_write *write);
void pb_redis_tag_apply_start(pb_redis_session *session, uint64_t access_id, pb_tag_write *write, pb_pool *pool,
                              pb_store_apply_done *done, void *arg);
void pb_redis_tag_lookup_start(pb_redis_session *session, pb_tag_lookup *lookup, pb_pool *pool,
                               pb_tag_lookup_done *done, void *arg);
int pb_redis_app_put(pb_redis_session *session, uint64_t access_id, pb_str secret, bool *created);
int pb_redis_app_remove(pb_redis_session *session, uint64_t access_id, uint64_t *bindings_removed);
int pb_redis_app_list(pb_redis_session *session, void (*visit)(void *arg, const pb_app_info *app), void *arg);
int pb_redis_key_put(pb_redis_session *session, uint64_t access_id, const pb_app_key *key);
int pb_redis_key_revoke(pb_redis_session *session, uint64_t access_id, pb_str name);
int pb_redis_key_list(pb_redis_session *session, uint64_t access_id, void (*visit)(void *arg, const pb_app_key *key),
                      void *arg);

#endif
