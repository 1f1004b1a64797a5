/*
 * auth_pending.h — authenticating a request without waiting for the store.
 * Internal to the HTTP layer.
 *
 * The credentials name the app (Basic and Signature may name two different
 * ones): pb_auth_apps_named() says which, their secrets are then looked up
 * with pb_store_lookup_start() one after the other, and pb_auth_authenticate()
 * checks the credentials against what the store gave. On the embedded store
 * (and on a Redis secret cache hit) the lookups answer at once and done() is
 * called before pb_auth_pending_start() returns; on Redis it is called later
 * from the loop.
 */
#ifndef PB_AUTH_PENDING_H
#define PB_AUTH_PENDING_H

#include "auth/auth.h"
#include "store/store.h"

/*
 * Called once per pb_auth_pending_start(), on the session's thread: `code`
 * is PB_OK (and *access_id the app), PB_ERR_AUTH, or PB_ERR_STORE when the
 * store could not say whether an app the credentials name exists.
 */
typedef void pb_auth_pending_done(void *arg, int code, uint64_t access_id);

/* One authentication in flight. The caller provides it; fields are private. */
typedef struct pb_auth_pending {
    pb_store_session *session;
    const pb_auth_request *credentials;
    pb_pool *pool;
    pb_auth_pending_done *done;
    void *arg;
    uint64_t apps[2]; /* the apps the credentials name, in the order authentication asks for them */
    int secret_rc[2];
    pb_str secrets[2]; /* in `pool` */
    size_t n_apps, n_looked_up;
    pb_store_lookup lookup;
} pb_auth_pending;

/*
 * Authenticates `credentials` against the secrets `session` has, then calls
 * done(arg, code, access_id). `auth`, `credentials` (and the strings it
 * points to) and `pool` must stay valid until done() is called: copy what
 * lives in an h2o request, which may be freed meanwhile. The secrets are
 * read into `pool`. No view of the session may be open meanwhile.
 */
void pb_auth_pending_start(pb_auth_pending *auth, pb_store_session *session, const pb_auth_request *credentials,
                           pb_pool *pool, pb_auth_pending_done *done, void *arg);

#endif
