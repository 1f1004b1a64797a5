/*
 * store/postgres/postgres.h — the PostgreSQL backend as store/store.c sees it:
 * the functions behind pb_store_* for a store opened on a postgresql:// or
 * postgres:// URL. Each has the contract of its pb_store_* namesake in
 * store/store.h. Private to store/.
 */
#ifndef PB_STORE_POSTGRES_POSTGRES_H
#define PB_STORE_POSTGRES_POSTGRES_H

#include "store/store.h"

typedef struct pb_pg_store pb_pg_store;
typedef struct pb_pg_session pb_pg_session;

/* Whether `url` names a PostgreSQL store (its scheme). */
bool pb_pg_url_is(const char *url);

pb_pg_store *pb_pg_open(const pb_store_config *config, char **err);
void pb_pg_close(pb_pg_store *store);
pb_pg_session *pb_pg_session_open(pb_pg_store *store);
void pb_pg_session_close(pb_pg_session *session);
const char *pb_pg_session_error(const pb_pg_session *session);
int pb_pg_ping(pb_pg_session *session);
/* A view is the session itself (no snapshot across statements): its strings live until view_end. */
pb_pg_session *pb_pg_view_begin(pb_pg_session *session);
void pb_pg_view_end(pb_pg_session *session);
int pb_pg_app_secret(pb_pg_session *view, uint64_t access_id, pb_str *secret, pb_str *keys);
int pb_pg_app_of(pb_pg_session *view, uint64_t access_id, pb_app_info *app);
int pb_pg_account_types(pb_pg_session *view, uint64_t access_id, size_t max, pb_pool *pool, uint32_t **types,
                        size_t *n);
int pb_pg_tokens_of(pb_pg_session *view, uint64_t access_id, const pb_account *accounts, size_t n, bool with_info,
                    pb_pool *pool, pb_token_list *out);
int pb_pg_accounts_of(pb_pg_session *view, uint64_t access_id, const pb_str *tokens, size_t n, bool with_info,
                      pb_pool *pool, pb_account_list *out);
int pb_pg_session_attach_loop(pb_pg_session *session, void *loop);
void pb_pg_session_detach_loop(pb_pg_session *session);
bool pb_pg_session_bound(const pb_pg_session *session);
void pb_pg_lookup_start(pb_pg_session *session, pb_store_lookup *lookup, pb_pool *pool, pb_store_lookup_done *done,
                        void *arg);
void pb_pg_apply_start(pb_pg_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                       pb_change_outcome *outcomes, pb_pool *pool, pb_store_apply_done *done, void *arg);
int pb_pg_apply(pb_pg_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                pb_change_outcome *outcomes);
int pb_pg_app_put(pb_pg_session *session, uint64_t access_id, pb_str secret, bool *created);
int pb_pg_app_remove(pb_pg_session *session, uint64_t access_id, uint64_t *bindings_removed);
int pb_pg_app_list(pb_pg_session *session, void (*visit)(void *arg, const pb_app_info *app), void *arg);
int pb_pg_key_put(pb_pg_session *session, uint64_t access_id, const pb_app_key *key);
int pb_pg_key_revoke(pb_pg_session *session, uint64_t access_id, pb_str name);
int pb_pg_key_list(pb_pg_session *session, uint64_t access_id, void (*visit)(void *arg, const pb_app_key *key),
                   void *arg);
/* Tags: the loop's calls answer from the loop; the waiting ones before they return. */
void pb_pg_tag_apply_start(pb_pg_session *session, uint64_t access_id, pb_tag_write *write, pb_pool *pool,
                           pb_store_apply_done *done, void *arg);
void pb_pg_tag_lookup_start(pb_pg_session *session, pb_tag_lookup *lookup, pb_pool *pool, pb_tag_lookup_done *done,
                            void *arg);
int pb_pg_tag_apply(pb_pg_session *session, uint64_t access_id, pb_tag_write *write);
void pb_pg_tag_lookup(pb_pg_session *session, pb_tag_lookup *lookup, pb_pool *pool);

#endif
