/* auth_pending.c — authentication around the store's secret lookups (see auth_pending.h). */
#include "common/codes.h"
#include "http/auth_pending.h"

/* Authentication reads the secrets the store gave. */
static int looked_up_secret(void *arg, uint64_t access_id, pb_str *secret)
{
    pb_auth_pending *auth = arg;
    for (size_t i = 0; i < auth->n_looked_up; i++)
        if (auth->apps[i] == access_id && auth->secret_rc[i] == PB_STORE_OK) {
            *secret = auth->secrets[i];
            return 0;
        }
    return -1;
}

static void look_up_next_secret(pb_auth_pending *auth);

static void on_secret(void *arg, pb_store_lookup *lookup)
{
    pb_auth_pending *auth = arg;
    size_t i = auth->n_looked_up++;
    auth->secret_rc[i] = lookup->result;
    auth->secrets[i] = lookup->secret; /* in auth->pool */
    look_up_next_secret(auth);
}

/* Looks up the apps' secrets one after the other, then authenticates. */
static void look_up_next_secret(pb_auth_pending *auth)
{
    if (auth->n_looked_up < auth->n_apps) {
        auth->lookup = (pb_store_lookup){.kind = PB_LOOKUP_SECRET, .access_id = auth->apps[auth->n_looked_up]};
        pb_store_lookup_start(auth->session, &auth->lookup, auth->pool, on_secret, auth);
        return;
    }
    uint64_t access_id = 0;
    int code = pb_auth_authenticate(auth->credentials, looked_up_secret, auth, &access_id);
    /* a store that could not say whether an app exists is the store's failure, not the caller's */
    for (size_t i = 0; code != PB_OK && i < auth->n_looked_up; i++)
        if (auth->secret_rc[i] == PB_STORE_EIO)
            code = PB_ERR_STORE;
    auth->done(auth->arg, code, access_id);
}

void pb_auth_pending_start(pb_auth_pending *auth, pb_store_session *session, const pb_auth_request *credentials,
                           pb_pool *pool, pb_auth_pending_done *done, void *arg)
{
    *auth = (pb_auth_pending){.session = session, .credentials = credentials, .pool = pool, .done = done, .arg = arg};
    auth->n_apps = pb_auth_apps_named(credentials, auth->apps);
    look_up_next_secret(auth);
}
