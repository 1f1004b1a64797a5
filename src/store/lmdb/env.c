/*
 * env.c — the embedded store: apps and bindings in one LMDB environment on
 * local disk. The key layout is described in store/lmdb/keys.h.
 *
 * Several processes may open the same directory at once (the server and the
 * `pushbind app` command line); LMDB serialises their writers and gives every
 * reader a snapshot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "common/clock.h"
#include "store/lmdb/internal.h"
#include "store/lmdb/upgrade.h"

#define PB_STORE_MAX_DBS 4 /* apps, meta, tokens, accounts */

/* How long a remap waits for the process's open transactions (see follow_map_growth). */
#define PB_LMDB_REMAP_WAIT_MS 1000

void pb_lmdb_set_error(pb_lmdb_session *session, const char *what, int rc)
{
    snprintf(session->error, sizeof(session->error), "%s: %s", what, mdb_strerror(rc));
}

/* ---- The map lock ----------------------------------------------------- */

/*
 * A session takes the lock once however many of its transactions are live (a
 * view open while it writes): its first hold already rules out a remap, and a
 * second rdlock could queue behind a waiting remap that waits for the first.
 */
static int map_hold(pb_lmdb_session *session)
{
    if (session->map_holds == 0) {
        int rc = pthread_rwlock_rdlock(&session->store->map_lock);
        if (rc != 0)
            return rc;
    }
    session->map_holds++;
    return 0;
}

static void map_release(pb_lmdb_session *session)
{
    if (--session->map_holds == 0)
        pthread_rwlock_unlock(&session->store->map_lock);
}

/*
 * Trades our shared hold for the exclusive one to remap at the size the other
 * process recorded, then takes the shared hold back. A session with another
 * transaction live (a view open while it writes) cannot let go of its hold,
 * so it fails instead; its first call after the view ends will remap.
 *
 * The exclusive hold is waited for at most PB_LMDB_REMAP_WAIT_MS: the writer
 * thread remaps on behalf of a caller that may be holding a view while it
 * waits for the write (pb_store_apply()), and that wait must end in a failure
 * rather than a deadlock. Views last microseconds, so on a busy server the
 * lock comes long before the limit.
 */
static int follow_map_growth(pb_lmdb_session *session)
{
    pb_lmdb_store *store = session->store;
    if (session->map_holds != 1)
        return MDB_MAP_RESIZED;
    map_release(session);
    struct timespec limit = pb_clock_deadline_ms(PB_LMDB_REMAP_WAIT_MS);
    int rc = pthread_rwlock_timedwrlock(&store->map_lock, &limit);
    if (rc == ETIMEDOUT)
        rc = MDB_MAP_RESIZED;
    if (rc == 0) {
        rc = mdb_env_set_mapsize(store->env, 0);
        pthread_rwlock_unlock(&store->map_lock);
    }
    int hold_rc = map_hold(session);
    return rc != 0 ? rc : hold_rc;
}

/* `holds` tells whether the shared hold is still ours to give back after a
 * failed remap. */
int pb_lmdb_txn_start(pb_lmdb_session *session, unsigned flags, MDB_txn **txn)
{
    unsigned holds = session->map_holds;
    int rc = map_hold(session);
    if (rc != 0)
        return rc;
    rc = mdb_txn_begin(session->store->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED && (rc = follow_map_growth(session)) == 0)
        rc = mdb_txn_begin(session->store->env, NULL, flags, txn);
    if (rc != 0 && session->map_holds > holds)
        map_release(session);
    return rc;
}

int pb_lmdb_txn_done(pb_lmdb_session *session, MDB_txn *txn, bool commit)
{
    int rc = 0;
    if (commit)
        rc = mdb_txn_commit(txn); /* frees txn, also on failure */
    else
        mdb_txn_abort(txn);
    map_release(session);
    return rc;
}

/* ---- Opening and closing ---------------------------------------------- */

/*
 * The key layout's version (store/lmdb/keys.h), kept in meta "layout": a
 * store without one is new (it gets this one) or from before bind times
 * (*upgrade: store/lmdb/upgrade.h rewrites it). A layout this build does not
 * know is refused with MDB_VERSION_MISMATCH.
 */
static int check_layout(pb_lmdb_store *store, MDB_txn *txn, bool *upgrade)
{
    MDB_val key = {6, (void *)"layout"}, value;
    int rc = mdb_get(txn, store->meta, &key, &value);
    if (rc == 0)
        return value.mv_size == 1 && *(unsigned char *)value.mv_data == PB_LMDB_LAYOUT ? 0 : MDB_VERSION_MISMATCH;
    if (rc != MDB_NOTFOUND)
        return rc;
    if ((rc = pb_lmdb_upgrade_needed(store, txn)) != 0) {
        *upgrade = rc == 1;
        return rc == 1 ? 0 : rc;
    }
    unsigned char layout = PB_LMDB_LAYOUT;
    value = (MDB_val){1, &layout};
    return mdb_put(txn, store->meta, &key, &value, 0);
}

static int open_databases(pb_lmdb_store *store, bool *upgrade)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_dbi_open(txn, "apps", MDB_CREATE, &store->apps)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &store->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "tokens", MDB_CREATE | MDB_DUPSORT, &store->tokens)) != 0 ||
        (rc = mdb_dbi_open(txn, "accounts", MDB_CREATE | MDB_DUPSORT, &store->accounts)) != 0 ||
        (rc = check_layout(store, txn, upgrade)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/*
 * Writer-preferring, so that a remap waiting for the lock is not starved by
 * sessions that keep taking it shared on a busy server.
 */
static int init_map_lock(pthread_rwlock_t *lock)
{
    pthread_rwlockattr_t attr;
    int rc = pthread_rwlockattr_init(&attr);
    if (rc != 0)
        return rc;
    rc = pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (rc == 0)
        rc = pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc;
}

pb_lmdb_store *pb_lmdb_open(const pb_store_config *config, char **err)
{
    const char *what = "invalid configuration";
    int rc = EINVAL, dead;
    bool lock_ready = false;
    pb_lmdb_store *store = NULL;

    if (config->data_dir == NULL || config->limits.max_accounts_per_token == 0 ||
        config->limits.max_tokens_per_account == 0)
        goto fail;
    what = "out of memory";
    rc = ENOMEM;
    if ((store = calloc(1, sizeof(*store))) == NULL)
        goto fail;
    store->limits = config->limits;
    store->binding_ttl = config->binding_ttl_seconds > 0 ? config->binding_ttl_seconds : 0;
    store->writer.metrics = config->metrics;
    what = "map lock";
    if ((rc = init_map_lock(&store->map_lock)) != 0)
        goto fail;
    lock_ready = true;
    what = "creating the data directory";
    if (mkdir(config->data_dir, 0700) != 0 && errno != EEXIST) {
        rc = errno;
        goto fail;
    }
    what = "opening the environment";
    if ((rc = mdb_env_create(&store->env)) != 0)
        goto fail;
    if ((rc = mdb_env_set_maxdbs(store->env, PB_STORE_MAX_DBS)) != 0)
        goto fail;
    if (config->map_size != 0 && (rc = mdb_env_set_mapsize(store->env, config->map_size)) != 0)
        goto fail;
    /* MDB_NOTLS: a session's read transaction is renewed on whatever thread
     * runs the session, not tied to the thread that created it. */
    if ((rc = mdb_env_open(store->env, config->data_dir, MDB_NOTLS, 0600)) != 0)
        goto fail;
    /* Frees the reader slots of processes that died without closing. */
    what = "checking readers";
    if ((rc = mdb_reader_check(store->env, &dead)) != 0)
        goto fail;
    what = "opening the databases";
    bool upgrade = false;
    if ((rc = open_databases(store, &upgrade)) != 0) {
        if (rc == MDB_VERSION_MISMATCH)
            what = "written by a later pushbind (a layout this one does not know): run that version";
        goto fail;
    }
    store->max_key = (size_t)mdb_env_get_maxkeysize(store->env);
    if (store->max_key > PB_LMDB_KEY_BUF)
        store->max_key = PB_LMDB_KEY_BUF;
    /* Before the writer thread: nothing else of this process may write meanwhile. */
    what = "upgrading the data directory (what is done stays done: open it again to go on)";
    if (upgrade && (rc = pb_lmdb_upgrade(store, time(NULL))) != 0)
        goto fail;
    what = "starting the writer thread";
    if ((rc = pb_lmdb_writer_start(store)) != 0)
        goto fail;
    return store;

fail:
    if (err != NULL) {
        const char *dir = config->data_dir != NULL ? config->data_dir : "(none)";
        if (asprintf(err, "%s: %s: %s", dir, what, mdb_strerror(rc)) < 0)
            *err = NULL;
    }
    if (store != NULL) {
        if (store->env != NULL)
            mdb_env_close(store->env);
        if (lock_ready)
            pthread_rwlock_destroy(&store->map_lock);
        free(store);
    }
    return NULL;
}

void pb_lmdb_close(pb_lmdb_store *store)
{
    if (store == NULL)
        return;
    pb_lmdb_writer_stop(store);
    mdb_env_close(store->env);
    pthread_rwlock_destroy(&store->map_lock);
    free(store);
}

pb_lmdb_session *pb_lmdb_session_open(pb_lmdb_store *store)
{
    pb_lmdb_session *session = calloc(1, sizeof(*session));
    if (session == NULL)
        return NULL;
    session->store = store;
    session->view.session = session;
    if (pb_lmdb_txn_start(session, MDB_RDONLY, &session->read_txn) != 0) {
        free(session);
        return NULL;
    }
    if (mdb_cursor_open(session->read_txn, store->tokens, &session->tokens_cursor) != 0 ||
        mdb_cursor_open(session->read_txn, store->accounts, &session->accounts_cursor) != 0) {
        pb_lmdb_session_close(session);
        return NULL;
    }
    mdb_txn_reset(session->read_txn);
    map_release(session);
    return session;
}

void pb_lmdb_session_close(pb_lmdb_session *session)
{
    if (session == NULL)
        return;
    if (session->view_open)
        pb_lmdb_view_end(&session->view);
    if (session->tokens_cursor != NULL)
        mdb_cursor_close(session->tokens_cursor);
    if (session->accounts_cursor != NULL)
        mdb_cursor_close(session->accounts_cursor);
    mdb_txn_abort(session->read_txn);
    if (session->map_holds != 0) /* closed while still being opened */
        map_release(session);
    free(session);
}

const char *pb_lmdb_session_error(const pb_lmdb_session *session)
{
    return session->error;
}

int pb_lmdb_ping(pb_lmdb_session *session)
{
    MDB_txn *txn;
    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc != 0) {
        pb_lmdb_set_error(session, "ping", rc);
        return PB_STORE_EIO;
    }
    pb_lmdb_txn_done(session, txn, false);
    return 0;
}

/* ---- Reading ---------------------------------------------------------- */

pb_lmdb_view *pb_lmdb_view_begin(pb_lmdb_session *session)
{
    if (session->view_open) {
        snprintf(session->error, sizeof(session->error), "view begin: a view is already open");
        return NULL;
    }
    unsigned holds = session->map_holds;
    int rc = map_hold(session);
    if (rc == 0) {
        rc = mdb_txn_renew(session->read_txn);
        if (rc == MDB_MAP_RESIZED && (rc = follow_map_growth(session)) == 0)
            rc = mdb_txn_renew(session->read_txn);
    }
    if (rc != 0) {
        if (session->map_holds > holds)
            map_release(session);
        pb_lmdb_set_error(session, "view begin", rc);
        return NULL;
    }
    session->view_open = true;
    session->tokens_cursor_renewed = session->accounts_cursor_renewed = false;
    return &session->view;
}

/*
 * Renews `cursor` for the open view unless that was done already (*renewed).
 * Lazily, because a renewal costs more than a whole secret lookup, and most
 * views use one cursor or none: the query's secret, then one list.
 */
static int view_cursor(pb_lmdb_session *session, MDB_cursor *cursor, bool *renewed)
{
    if (*renewed)
        return 0;
    int rc = mdb_cursor_renew(session->read_txn, cursor);
    *renewed = rc == 0;
    return rc;
}

void pb_lmdb_view_end(pb_lmdb_view *view)
{
    pb_lmdb_session *session = view->session;
    if (!session->view_open)
        return;
    mdb_txn_reset(session->read_txn);
    session->view_open = false;
    map_release(session);
}

/* App `access_id`'s record in the view's snapshot: 0, PB_STORE_ENOTFOUND or PB_STORE_EIO (`what` in the error). */
static int view_app_record(pb_lmdb_view *view, uint64_t access_id, struct app_record *app, const char *what)
{
    pb_lmdb_session *session = view->session;
    unsigned char id[PB_LMDB_ID_LEN];
    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id}, value;

    int rc = mdb_get(session->read_txn, session->store->apps, &key, &value);
    if (rc == MDB_NOTFOUND)
        return PB_STORE_ENOTFOUND;
    if (rc == 0 && !app_record_parse(value.mv_data, value.mv_size, app))
        rc = MDB_CORRUPTED;
    if (rc != 0) {
        pb_lmdb_set_error(session, what, rc);
        return PB_STORE_EIO;
    }
    return 0;
}

int pb_lmdb_app_secret(pb_lmdb_view *view, uint64_t access_id, pb_str *secret)
{
    struct app_record app;
    int rc = view_app_record(view, access_id, &app, "app secret");
    if (rc == 0)
        *secret = app.secret;
    return rc;
}

int pb_lmdb_app_of(pb_lmdb_view *view, uint64_t access_id, pb_app_info *app)
{
    struct app_record record;
    int rc = view_app_record(view, access_id, &record, "app record");
    if (rc == 0)
        *app = (pb_app_info){access_id, record.created_at, record.bindings};
    return rc;
}

/*
 * Both lookups copy nothing: the strings point into the map, which the view's
 * snapshot keeps stable, and mdb_cursor_count() sizes each answer's array so
 * it is one allocation from the pool. Times and platforms are on the tokens
 * side (store/lmdb_keys.h), so by account they cost one more lookup per
 * token, made only when asked for or when bindings can expire.
 */
int pb_lmdb_tokens_of(pb_lmdb_view *view, uint64_t access_id, const pb_account *accounts, size_t n,
                       bool with_info, pb_pool *pool, pb_token_list *out)
{
    pb_lmdb_session *session = view->session;
    int64_t ttl = session->store->binding_ttl, now = (int64_t)time(NULL);
    bool need_info = with_info || ttl > 0;
    unsigned char buf[PB_LMDB_KEY_BUF], tbuf[PB_LMDB_KEY_BUF];
    int rc = view_cursor(session, session->accounts_cursor, &session->accounts_cursor_renewed);
    if (rc == 0 && need_info)
        rc = view_cursor(session, session->tokens_cursor, &session->tokens_cursor_renewed);
    if (rc != 0)
        goto fail;

    for (size_t i = 0; i < n; i++) {
        out[i] = (pb_token_list){.n = 0};
        /* A key LMDB cannot store is bound to nothing. */
        if (!pb_lmdb_account_fits(session->store, &accounts[i]))
            continue;
        MDB_val key = {account_key(buf, access_id, &accounts[i]), buf}, dup;
        size_t count;
        if ((rc = pb_lmdb_seek_dups(session->accounts_cursor, &key, &dup, &count)) != 0)
            goto fail;
        if (count == 0)
            continue;
        pb_token_list list = {.tokens = pb_pool_alloc(pool, count * sizeof(*list.tokens))};
        if (with_info) {
            list.times = pb_pool_alloc(pool, count * sizeof(*list.times));
            list.platforms = pb_pool_alloc(pool, count * sizeof(*list.platforms));
        }
        for (size_t j = 0; j < count; j++) {
            uint64_t seq;
            pb_str token;
            if (j != 0 && (rc = mdb_cursor_get(session->accounts_cursor, &key, &dup, MDB_NEXT_DUP)) != 0)
                goto fail;
            if (!token_dup_parse(dup.mv_data, dup.mv_size, &seq, &token)) {
                rc = MDB_CORRUPTED;
                goto fail;
            }
            if (need_info) {
                MDB_val tkey = {token_key(tbuf, access_id, token), tbuf}, tdup;
                struct binding_info info;
                pb_account bound;
                uint64_t tseq;
                rc = pb_lmdb_seek_binding(session->tokens_cursor, &tkey, seq, &tdup);
                if (rc == MDB_NOTFOUND)
                    continue; /* half of a binding: not one */
                if (rc != 0 || !account_dup_parse(tdup.mv_data, tdup.mv_size, &tseq, &info, &bound)) {
                    rc = rc != 0 ? rc : MDB_CORRUPTED;
                    goto fail;
                }
                if (binding_expired(info.last_bind_time, ttl, now))
                    continue;
                if (with_info) {
                    list.times[list.n] = (pb_binding_times){info.bind_time, info.last_bind_time};
                    list.platforms[list.n] = info.platform;
                }
            }
            list.tokens[list.n++] = token;
        }
        out[i] = list;
    }
    return 0;

fail:
    pb_lmdb_set_error(session, "tokens of account", rc);
    return PB_STORE_EIO;
}

int pb_lmdb_accounts_of(pb_lmdb_view *view, uint64_t access_id, const pb_str *tokens, size_t n,
                         bool with_info, pb_pool *pool, pb_account_list *out)
{
    pb_lmdb_session *session = view->session;
    int64_t ttl = session->store->binding_ttl, now = (int64_t)time(NULL);
    unsigned char buf[PB_LMDB_KEY_BUF];
    int rc = view_cursor(session, session->tokens_cursor, &session->tokens_cursor_renewed);
    if (rc != 0)
        goto fail;

    for (size_t i = 0; i < n; i++) {
        out[i] = (pb_account_list){.n = 0};
        if (!pb_lmdb_token_fits(session->store, tokens[i]))
            continue;
        MDB_val key = {token_key(buf, access_id, tokens[i]), buf}, dup;
        size_t count;
        if ((rc = pb_lmdb_seek_dups(session->tokens_cursor, &key, &dup, &count)) != 0)
            goto fail;
        if (count == 0)
            continue;
        pb_account_list list = {.accounts = pb_pool_alloc(pool, count * sizeof(*list.accounts))};
        if (with_info)
            list.times = pb_pool_alloc(pool, count * sizeof(*list.times));
        for (size_t j = 0; j < count; j++) {
            uint64_t seq;
            struct binding_info info;
            if (j != 0 && (rc = mdb_cursor_get(session->tokens_cursor, &key, &dup, MDB_NEXT_DUP)) != 0)
                goto fail;
            if (!account_dup_parse(dup.mv_data, dup.mv_size, &seq, &info, &list.accounts[list.n])) {
                rc = MDB_CORRUPTED;
                goto fail;
            }
            if (binding_expired(info.last_bind_time, ttl, now))
                continue;
            if (with_info) {
                list.times[list.n] = (pb_binding_times){info.bind_time, info.last_bind_time};
                list.platform = info.platform;
            }
            list.n++;
        }
        out[i] = list;
    }
    return 0;

fail:
    pb_lmdb_set_error(session, "accounts of token", rc);
    return PB_STORE_EIO;
}

/* ---- Apps ------------------------------------------------------------- */

int pb_lmdb_app_read(const pb_lmdb_store *store, MDB_txn *txn, uint64_t access_id, unsigned char *buf,
                     struct app_record *app)
{
    unsigned char id[PB_LMDB_ID_LEN];
    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id}, value;
    int rc = mdb_get(txn, store->apps, &key, &value);
    if (rc != 0)
        return rc;
    if (value.mv_size > PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX ||
        !app_record_parse(value.mv_data, value.mv_size, app))
        return MDB_CORRUPTED;
    memcpy(buf, value.mv_data, value.mv_size);
    app->secret.base = (const char *)buf + PB_LMDB_APP_HEAD;
    return 0;
}

int pb_lmdb_app_write(const pb_lmdb_store *store, MDB_txn *txn, uint64_t access_id, const struct app_record *app)
{
    unsigned char id[PB_LMDB_ID_LEN], buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id}, value = {app_record_build(buf, app), buf};
    return mdb_put(txn, store->apps, &key, &value, 0);
}

int pb_lmdb_app_put(pb_lmdb_session *session, uint64_t access_id, pb_str secret, bool *created)
{
    unsigned char buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    MDB_txn *txn;

    if (secret.len > PB_STORE_SECRET_MAX) {
        snprintf(session->error, sizeof(session->error), "app put: secret longer than %d bytes",
                 PB_STORE_SECRET_MAX);
        return PB_STORE_EINVAL;
    }
    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        goto fail;
    rc = pb_lmdb_app_read(session->store, txn, access_id, buf, &app);
    *created = rc == MDB_NOTFOUND;
    if (*created)
        app = (struct app_record){.created_at = (int64_t)time(NULL), .bindings = 0};
    else if (rc != 0)
        goto fail_txn;
    app.secret = secret;
    if ((rc = pb_lmdb_app_write(session->store, txn, access_id, &app)) != 0)
        goto fail_txn;
    if ((rc = pb_lmdb_txn_done(session, txn, true)) != 0)
        goto fail;
    return 0;

fail_txn:
    pb_lmdb_txn_done(session, txn, false);
fail:
    pb_lmdb_set_error(session, "app put", rc);
    return PB_STORE_EIO;
}

/*
 * Deletes every key of `dbi` that starts with `prefix`, adding the number of
 * dups deleted to *dups. Every key of an app starts with its access_id, so
 * they are one contiguous range starting at the prefix itself.
 */
static int delete_prefix(MDB_txn *txn, MDB_dbi dbi, const unsigned char *prefix, uint64_t *dups)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc != 0)
        return rc;
    for (;;) {
        MDB_val key = {PB_LMDB_ID_LEN, (void *)prefix}, dup;
        size_t count;
        if ((rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_RANGE)) != 0)
            break;
        if (key.mv_size < PB_LMDB_ID_LEN || memcmp(key.mv_data, prefix, PB_LMDB_ID_LEN) != 0)
            break;
        if ((rc = mdb_cursor_count(cursor, &count)) != 0 || (rc = mdb_cursor_del(cursor, MDB_NODUPDATA)) != 0)
            break;
        *dups += count;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int pb_lmdb_app_remove(pb_lmdb_session *session, uint64_t access_id, uint64_t *bindings_removed)
{
    unsigned char id[PB_LMDB_ID_LEN];
    uint64_t token_side = 0, account_side = 0;
    MDB_txn *txn;

    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id};
    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_del(txn, session->store->apps, &key, NULL)) == MDB_NOTFOUND) {
        pb_lmdb_txn_done(session, txn, false);
        return PB_STORE_ENOTFOUND;
    }
    /* Each binding is one dup on each side; the token side is the count. */
    if (rc != 0 || (rc = delete_prefix(txn, session->store->tokens, id, &token_side)) != 0 ||
        (rc = delete_prefix(txn, session->store->accounts, id, &account_side)) != 0) {
        pb_lmdb_txn_done(session, txn, false);
        goto fail;
    }
    if ((rc = pb_lmdb_txn_done(session, txn, true)) != 0)
        goto fail;
    *bindings_removed = token_side;
    return 0;

fail:
    pb_lmdb_set_error(session, "app remove", rc);
    return PB_STORE_EIO;
}

int pb_lmdb_app_list(pb_lmdb_session *session, void (*visit)(void *arg, const pb_app_info *app), void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cursor;
    MDB_val key, value;
    struct app_record app;

    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_cursor_open(txn, session->store->apps, &cursor)) != 0) {
        pb_lmdb_txn_done(session, txn, false);
        goto fail;
    }
    while ((rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) == 0) {
        if (key.mv_size != PB_LMDB_ID_LEN || !app_record_parse(value.mv_data, value.mv_size, &app)) {
            rc = MDB_CORRUPTED;
            break;
        }
        pb_app_info info = {be64_get(key.mv_data), app.created_at, app.bindings};
        visit(arg, &info);
    }
    mdb_cursor_close(cursor);
    pb_lmdb_txn_done(session, txn, false);
    if (rc != MDB_NOTFOUND)
        goto fail;
    return 0;

fail:
    pb_lmdb_set_error(session, "app list", rc);
    return PB_STORE_EIO;
}
