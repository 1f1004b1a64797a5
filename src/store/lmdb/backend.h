/*
 * store/lmdb/backend.h — the embedded backend as store/store.c sees it: the
 * functions behind pb_store_* for a store opened on a data directory. Each
 * has the contract of its pb_store_* namesake in store/store.h. Private to
 * store/.
 */
#ifndef PB_STORE_LMDB_BACKEND_H
#define PB_STORE_LMDB_BACKEND_H

#include "store/store.h"

typedef struct pb_lmdb_store pb_lmdb_store;
typedef struct pb_lmdb_session pb_lmdb_session;
typedef struct pb_lmdb_view pb_lmdb_view;

pb_lmdb_store *pb_lmdb_open(const pb_store_config *config, char **err);
void pb_lmdb_close(pb_lmdb_store *store);
pb_lmdb_session *pb_lmdb_session_open(pb_lmdb_store *store);
void pb_lmdb_session_close(pb_lmdb_session *session);
const char *pb_lmdb_session_error(const pb_lmdb_session *session);
int pb_lmdb_ping(pb_lmdb_session *session);
pb_lmdb_view *pb_lmdb_view_begin(pb_lmdb_session *session);
void pb_lmdb_view_end(pb_lmdb_view *view);
void pb_lmdb_keep_snapshot(pb_lmdb_session *session, bool keep);
void pb_lmdb_turn_done(pb_lmdb_session *session);
int pb_lmdb_app_secret(pb_lmdb_view *view, uint64_t access_id, pb_str *secret);
int pb_lmdb_app_keys(pb_lmdb_view *view, uint64_t access_id, pb_pool *pool, pb_str *packed);
int pb_lmdb_app_of(pb_lmdb_view *view, uint64_t access_id, pb_app_info *app);
int pb_lmdb_account_types(pb_lmdb_view *view, uint64_t access_id, size_t max, pb_pool *pool, uint32_t **types,
                          size_t *n);
int pb_lmdb_tokens_of(pb_lmdb_view *view, uint64_t access_id, const pb_account *accounts, size_t n,
                      bool with_info, pb_pool *pool, pb_token_list *out);
int pb_lmdb_accounts_of(pb_lmdb_view *view, uint64_t access_id, const pb_str *tokens, size_t n,
                        bool with_info, pb_pool *pool, pb_account_list *out);
int pb_lmdb_apply(pb_lmdb_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                  pb_change_outcome *outcomes);
void pb_lmdb_apply_start(pb_lmdb_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                         pb_change_outcome *outcomes, pb_pool *pool, pb_store_apply_done *done, void *arg);
void pb_lmdb_tag_apply_start(pb_lmdb_session *session, uint64_t access_id, pb_tag_write *write, pb_pool *pool,
                             pb_store_apply_done *done, void *arg);
int pb_lmdb_tag_apply(pb_lmdb_session *session, uint64_t access_id, pb_tag_write *write);
/* The read of pb_store_tag_lookup_start() in `view`; returns the lookup's result. */
int pb_lmdb_tag_lookup(pb_lmdb_view *view, pb_tag_lookup *lookup, pb_pool *pool);
int pb_lmdb_app_put(pb_lmdb_session *session, uint64_t access_id, pb_str secret, bool *created);
int pb_lmdb_app_remove(pb_lmdb_session *session, uint64_t access_id, uint64_t *bindings_removed);
int pb_lmdb_space_of(pb_lmdb_session *session, pb_store_space *space);
int pb_lmdb_app_list(pb_lmdb_session *session, void (*visit)(void *arg, const pb_app_info *app), void *arg);
int pb_lmdb_key_put(pb_lmdb_session *session, uint64_t access_id, const pb_app_key *key);
int pb_lmdb_key_revoke(pb_lmdb_session *session, uint64_t access_id, pb_str name);
int pb_lmdb_key_list(pb_lmdb_session *session, uint64_t access_id, void (*visit)(void *arg, const pb_app_key *key),
                     void *arg);

/*
 * The embedded backend's session behind `session` (NULL for another
 * backend), for the backend's white-box tests (group commit, import chunks).
 * Nothing outside store/ can include this header: the build's layers see to
 * it, and the operator's tools have store/lmdb/tools.h instead.
 */
pb_lmdb_session *pb_store_session_lmdb(pb_store_session *session);

#endif
