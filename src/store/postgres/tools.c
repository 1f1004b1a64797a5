/*
 * tools.c — the PostgreSQL store's bulk import and export (COPY), and its
 * usage. See store/postgres/tools.h for the contracts, store_state.h for the
 * tables.
 *
 * An import chunk, in one transaction holding the app's lock exclusively
 * (batches hold it shared, so the counts it judges by stay true):
 *   1. COPY the items into a temporary table, each with its place (ord);
 *   2. mark those already bound (PRESENT) and the repeats of an item earlier
 *      in the chunk (decided after it);
 *   3. decide the rest against the limits (and each token's and account's
 *      bindings before the chunk), set-wise, in rounds: an item whose
 *      rank among the undecided and bound items of its token and of its
 *      account is within both limits is bound (dropping items before it can
 *      only lower its rank); an item whose bound predecessors already fill a
 *      limit is refused. The earliest undecided item always falls in one of
 *      the two, so the rounds end; without refusals there is one;
 *   4. one INSERT … SELECT of the bound ones in item order (seq follows it);
 *   5. the repeats take their first's outcome, the count moves, COMMIT.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/pool.h"
#include "store/postgres/store_state.h"
#include "store/postgres/tools.h"

struct pb_pg_tool {
    pb_pg_store *store;
    pb_pg_session *session; /* app_list */
    PGconn *conn;           /* COPY and the import's statements */
    bool staged;            /* the temporary table exists on conn */
    char error[512];
    _Atomic int stage;      /* a pb_import_stage */
    _Atomic uint64_t done, total;
};

/* Memory for each sort of an import's statements: a chunk of a million lines sorts in it. */
#define IMPORT_WORK_MEM "256MB"

/* Bytes of COPY text sent at a time. */
#define COPY_BUFFER_BYTES (256 * 1024)

static void set_error(pb_pg_tool *tool, const char *what)
{
    snprintf(tool->error, sizeof(tool->error), "%s", what);
    size_t len = strlen(tool->error);
    while (len > 0 && (tool->error[len - 1] == '\n' || tool->error[len - 1] == ' '))
        tool->error[--len] = '\0';
}

bool pb_pg_tool_url_is(const char *url)
{
    return pb_pg_url_is(url);
}

pb_pg_tool *pb_pg_tool_open(const char *url, const pb_store_limits *limits, char **err)
{
    pb_pg_tool *tool = calloc(1, sizeof(*tool));
    if (tool == NULL) {
        *err = strdup("out of memory");
        return NULL;
    }
    pb_store_config config = {.url = url, .limits = *limits};
    if ((tool->store = pb_pg_open(&config, err)) == NULL)
        goto fail;
    if ((tool->session = pb_pg_session_open(tool->store)) == NULL) {
        *err = strdup("out of memory");
        goto fail;
    }
    tool->conn = PQconnectdb(tool->store->conninfo);
    if (tool->conn == NULL || PQstatus(tool->conn) != CONNECTION_OK) {
        if (asprintf(err, "%s: %s", url, tool->conn != NULL ? PQerrorMessage(tool->conn) : "out of memory") < 0)
            *err = NULL;
        goto fail;
    }
    PQclear(PQexec(tool->conn, "SET client_encoding = 'UTF8'"));
    return tool;
fail:
    pb_pg_tool_close(tool);
    return NULL;
}

void pb_pg_tool_close(pb_pg_tool *tool)
{
    if (tool == NULL)
        return;
    PQfinish(tool->conn);
    if (tool->session != NULL)
        pb_pg_session_close(tool->session);
    if (tool->store != NULL)
        pb_pg_close(tool->store);
    free(tool);
}

const char *pb_pg_tool_error(const pb_pg_tool *tool)
{
    return tool->error;
}

int pb_pg_tool_app_list(pb_pg_tool *tool, void (*visit)(void *arg, const pb_app_info *app), void *arg)
{
    int rc = pb_pg_app_list(tool->session, visit, arg);
    if (rc != 0)
        set_error(tool, pb_pg_session_error(tool->session));
    return rc;
}

/* ---- Statements -------------------------------------------------------- */

/*
 * Runs `sql` (printf's format: %1$s is the quoted schema) with text
 * parameters; returns the result (the caller clears it) or NULL after
 * setting the error. `affected` (may be NULL) gets the rows it touched.
 */
static PGresult *run(pb_pg_tool *tool, const char *sql, int n_params, const char *const *params, long *affected)
{
    char text[4096];
    snprintf(text, sizeof(text), sql, tool->store->quoted);
    PGresult *res = PQexecParams(tool->conn, text, n_params, NULL, params, NULL, NULL, 0);
    if (!pb_pg_result_ok(res)) {
        set_error(tool, PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    if (affected != NULL)
        *affected = strtol(PQcmdTuples(res), NULL, 10);
    return res;
}

static bool run_ok(pb_pg_tool *tool, const char *sql, int n_params, const char *const *params, long *affected)
{
    PGresult *res = run(tool, sql, n_params, params, affected);
    PQclear(res);
    return res != NULL;
}

/* Starts a COPY (`want`: PGRES_COPY_IN or PGRES_COPY_OUT). Returns false after setting the error. */
static bool copy_start(pb_pg_tool *tool, const char *sql, ExecStatusType want)
{
    PGresult *res = PQexec(tool->conn, sql);
    bool ok = PQresultStatus(res) == want;
    if (!ok)
        set_error(tool, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* Reads a COPY's closing results; false (the first failure's message kept) when one failed. */
static bool copy_finish(pb_pg_tool *tool)
{
    bool ok = true;
    PGresult *res;
    while ((res = PQgetResult(tool->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && ok) {
            set_error(tool, PQresultErrorMessage(res));
            ok = false;
        }
        PQclear(res);
    }
    return ok;
}

/* ---- Import ------------------------------------------------------------ */

/* The outcomes as the statements store them (import_rows.outcome); -1: a repeat, decided after its first. */
_Static_assert(PB_IMPORT_BOUND == 0 && PB_IMPORT_PRESENT == 1 && PB_IMPORT_TOKEN_FULL == 2 &&
                   PB_IMPORT_ACCOUNT_FULL == 3,
               "the SQL below writes pb_import_outcome's values");

static const char stage_table[] =
    "CREATE TEMPORARY TABLE import_rows (ord int NOT NULL, token text COLLATE \"C\" NOT NULL, atype int NOT NULL,\n"
    "  account text COLLATE \"C\" NOT NULL, bind_time bigint NOT NULL, last_bind_time bigint NOT NULL,\n"
    "  platform smallint NOT NULL, outcome smallint)";

/* 2. PRESENT, and repeats. */
static const char mark_present[] =
    "UPDATE import_rows s SET outcome = 1 FROM %1$s.bindings b\n"
    "  WHERE b.app = $1 AND b.token = s.token AND b.atype = s.atype AND b.account = s.account";
static const char mark_repeats[] =
    "UPDATE import_rows s SET outcome = -1 FROM (SELECT ord, row_number() OVER (PARTITION BY token, atype, account\n"
    "    ORDER BY ord) AS r FROM import_rows WHERE outcome IS NULL) d WHERE d.ord = s.ord AND d.r > 1";

/*
 * The undecided and bound items with the bindings their token (tok_n) and
 * account (acc_n) had before the chunk; $3 is the app. Joined where used
 * rather than stored: a stored count would rewrite every row of the table.
 */
#define WITH_EXISTING_COUNTS                                                                                      \
    "    SELECT u.*, coalesce(t.n, 0) AS tok_n, coalesce(a.n, 0) AS acc_n FROM import_rows u\n"                    \
    "    LEFT JOIN (SELECT b.token, count(*) AS n FROM %1$s.bindings b WHERE b.app = $3 AND b.token IN\n"          \
    "      (SELECT token FROM import_rows WHERE outcome IS NULL) GROUP BY b.token) t ON t.token = u.token\n"       \
    "    LEFT JOIN (SELECT b.atype, b.account, count(*) AS n FROM %1$s.bindings b WHERE b.app = $3 AND\n"          \
    "      (b.atype, b.account) IN (SELECT atype, account FROM import_rows WHERE outcome IS NULL)\n"               \
    "      GROUP BY b.atype, b.account) a ON a.atype = u.atype AND a.account = u.account\n"                         \
    "    WHERE u.outcome IS NULL OR u.outcome = 0\n"

/* 3. One round: bind what fits whatever comes of the undecided before it; $1 max accounts a token, $2 tokens an account. */
static const char decide_bound[] =
    "UPDATE import_rows s SET outcome = 0 FROM (SELECT ord, outcome,\n"
    "    tok_n + row_number() OVER (PARTITION BY token ORDER BY ord) AS t,\n"
    "    acc_n + row_number() OVER (PARTITION BY atype, account ORDER BY ord) AS a\n"
    "  FROM (" WITH_EXISTING_COUNTS "  ) c) r\n"
    "  WHERE r.ord = s.ord AND r.outcome IS NULL AND r.t <= $1 AND r.a <= $2";
/* … and refuse what its bound predecessors already fill: by the token first, as an APPEND is judged. */
static const char decide_refused[] =
    "UPDATE import_rows s SET outcome = CASE WHEN r.t >= $1 THEN 2 ELSE 3 END FROM (SELECT ord, outcome,\n"
    "    tok_n + count(*) FILTER (WHERE outcome = 0) OVER (PARTITION BY token ORDER BY ord\n"
    "      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS t,\n"
    "    acc_n + count(*) FILTER (WHERE outcome = 0) OVER (PARTITION BY atype, account ORDER BY ord\n"
    "      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS a\n"
    "  FROM (" WITH_EXISTING_COUNTS "  ) c) r\n"
    "  WHERE r.ord = s.ord AND r.outcome IS NULL AND (r.t >= $1 OR r.a >= $2)";

/*
 * 4. The bound ones: seqs taken in item order (nextval() runs over the rows
 * sorted by ord), then written in key order, so that the primary key's pages
 * are each visited once rather than at random. Times as the line gave them
 * (bind_time 0: last_bind_time; 0: now); the line's platform, else the
 * token's. No ON CONFLICT: the app's lock keeps every other writer of its
 * bindings out, and a plain insert costs less than a speculative one.
 */
static const char insert_bound[] =
    "INSERT INTO %1$s.bindings (app, seq, bind_time, last_bind_time, atype, platform, token, account)\n"
    "  SELECT $1, seq, bt, lt, atype, plat, token, account FROM (\n"
    "    SELECT nextval('%1$s.binding_seq') AS seq, * FROM (\n"
    "      SELECT s.ord, coalesce(nullif(s.bind_time, 0), nullif(s.last_bind_time, 0), $2) AS bt,\n"
    "        coalesce(nullif(s.last_bind_time, 0), $2) AS lt, s.atype,\n"
    "        CASE WHEN s.platform <> 0 THEN s.platform ELSE coalesce(p.platform, 0) END AS plat, s.token, s.account\n"
    "      FROM import_rows s LEFT JOIN (SELECT DISTINCT ON (b.token) b.token, b.platform FROM %1$s.bindings b\n"
    "        WHERE b.app = $1 AND b.token IN (SELECT token FROM import_rows WHERE outcome = 0 AND platform = 0)) p\n"
    "        ON p.token = s.token\n"
    "      WHERE s.outcome = 0 ORDER BY s.ord OFFSET 0) x OFFSET 0) y\n"
    "  ORDER BY token, atype, account";

/* 5. A repeat of a bound item is PRESENT; of a refused one, refused alike. */
static const char decide_repeats[] =
    "UPDATE import_rows s SET outcome = CASE f.outcome WHEN 0 THEN 1 ELSE f.outcome END FROM import_rows f\n"
    "  WHERE s.outcome = -1 AND f.outcome >= 0 AND f.token = s.token AND f.atype = s.atype AND f.account = s.account";

/* Appends `s` to `out` escaped for COPY's text format. Returns the new end. */
static char *copy_escape(char *out, pb_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i];
        switch (c) {
        case '\\': *out++ = '\\'; *out++ = '\\'; break;
        case '\t': *out++ = '\\'; *out++ = 't'; break;
        case '\n': *out++ = '\\'; *out++ = 'n'; break;
        case '\r': *out++ = '\\'; *out++ = 'r'; break;
        default: *out++ = c;
        }
    }
    return out;
}

/* Step 1: the items into import_rows. Returns false after setting the error. */
static bool copy_items(pb_pg_tool *tool, const pb_import_item *items, size_t n)
{
    if (!tool->staged && !run_ok(tool, stage_table, 0, NULL, NULL))
        return false;
    tool->staged = true;
    if (!run_ok(tool, "TRUNCATE import_rows", 0, NULL, NULL))
        return false;
    if (!copy_start(tool, "COPY import_rows (ord, token, atype, account, bind_time, last_bind_time, platform) FROM STDIN",
                    PGRES_COPY_IN))
        return false;
    bool ok = true;
    char *buf = malloc(COPY_BUFFER_BYTES);
    size_t len = 0;
    for (size_t i = 0; ok && i < n; i++) {
        const pb_import_item *item = &items[i];
        size_t need = 2 * (item->token.len + item->account.name.len) + 5 * 24;
        if (buf == NULL || (len + need > COPY_BUFFER_BYTES && len > 0)) {
            ok = buf != NULL && PQputCopyData(tool->conn, buf, (int)len) == 1;
            len = 0;
            atomic_store(&tool->done, i);
        }
        if (!ok || need > COPY_BUFFER_BYTES) {
            ok = false;
            break;
        }
        char *p = buf + len;
        p += sprintf(p, "%zu\t", i);
        p = copy_escape(p, item->token);
        p += sprintf(p, "\t%d\t", (int)item->account.type);
        p = copy_escape(p, item->account.name);
        p += sprintf(p, "\t%lld\t%lld\t%d\n", (long long)item->times.bind_time, (long long)item->times.last_bind_time,
                     (int)item->platform);
        len = (size_t)(p - buf);
    }
    if (ok && len > 0)
        ok = PQputCopyData(tool->conn, buf, (int)len) == 1;
    free(buf);
    ok = PQputCopyEnd(tool->conn, ok ? NULL : "pushbind: the import stopped") == 1 && ok;
    ok = copy_finish(tool) && ok;
    if (!ok && tool->error[0] == '\0')
        set_error(tool, PQerrorMessage(tool->conn));
    return ok;
}

/* Steps 2 to 5 and the outcomes; `app` and `limits` as text parameters. */
static bool judge_and_write(pb_pg_tool *tool, const char *app, size_t n, pb_import_outcome *outcomes)
{
    char apt[24], tpa[24], now[24];
    snprintf(apt, sizeof(apt), "%u", (unsigned)tool->store->limits.max_accounts_per_token);
    snprintf(tpa, sizeof(tpa), "%u", (unsigned)tool->store->limits.max_tokens_per_account);
    snprintf(now, sizeof(now), "%lld", (long long)pb_clock_unix_s());
    const char *by_app[] = {app};
    const char *limits[] = {apt, tpa, app};
    long present = 0, repeats = 0, decided = 0;
    if (!run_ok(tool, "ANALYZE import_rows", 0, NULL, NULL) || !run_ok(tool, mark_present, 1, by_app, &present) ||
        !run_ok(tool, mark_repeats, 0, NULL, &repeats))
        return false;
    for (long undecided = (long)n - present - repeats; undecided > 0; undecided -= decided) {
        long bound = 0, refused = 0;
        if (!run_ok(tool, decide_bound, 3, limits, &bound) ||
            (bound < undecided && !run_ok(tool, decide_refused, 3, limits, &refused)))
            return false;
        decided = bound + refused;
    }
    long inserted = 0;
    const char *insert_params[] = {app, now};
    if (!run_ok(tool, insert_bound, 2, insert_params, &inserted) ||
        (repeats > 0 && !run_ok(tool, decide_repeats, 0, NULL, NULL)))
        return false;
    char delta[24];
    snprintf(delta, sizeof(delta), "%ld", inserted);
    const char *count_params[] = {app, delta};
    if (inserted > 0 && !run_ok(tool, "SELECT %1$s.add_count($1, $2)", 2, count_params, NULL))
        return false;
    PGresult *res = run(tool, "SELECT ord, outcome FROM import_rows WHERE outcome <> 0", 0, NULL, NULL);
    if (res == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        outcomes[i] = PB_IMPORT_BOUND;
    for (int r = 0; r < PQntuples(res); r++) {
        size_t ord = strtoul(PQgetvalue(res, r, 0), NULL, 10);
        if (ord < n)
            outcomes[ord] = (pb_import_outcome)strtol(PQgetvalue(res, r, 1), NULL, 10);
    }
    PQclear(res);
    return true;
}

int pb_pg_import_chunk(pb_pg_tool *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                       pb_import_outcome *outcomes)
{
    char app[24];
    snprintf(app, sizeof(app), "%llu", (unsigned long long)access_id);
    const char *by_app[] = {app};
    tool->error[0] = '\0';
    atomic_store(&tool->done, 0);
    atomic_store(&tool->total, n);
    atomic_store(&tool->stage, PB_IMPORT_WRITING);
    int rc = PB_STORE_EIO;
    long found = 0;
    if (!run_ok(tool, "BEGIN", 0, NULL, NULL))
        goto done;
    /* The judging sorts the chunk a few times: in memory, not in temporary files (4 MB by default). */
    if (!run_ok(tool, "SET LOCAL work_mem = '" IMPORT_WORK_MEM "'", 0, NULL, NULL) ||
        !run_ok(tool, "SELECT pg_advisory_xact_lock(%1$s.app_lock_key($1))", 1, by_app, NULL) ||
        !run_ok(tool, "SELECT 1 FROM %1$s.apps WHERE id = $1", 1, by_app, &found))
        goto rollback;
    if (found == 0) {
        rc = PB_STORE_ENOTFOUND;
        goto rollback;
    }
    if (n > 0) {
        if (!copy_items(tool, items, n))
            goto rollback;
        atomic_store(&tool->done, n);
        atomic_store(&tool->stage, PB_IMPORT_COMMITTING);
        if (!judge_and_write(tool, app, n, outcomes))
            goto rollback;
    }
    if (run_ok(tool, "COMMIT", 0, NULL, NULL))
        rc = PB_STORE_OK;
    goto done;
rollback:
    PQclear(PQexec(tool->conn, "ROLLBACK"));
done:
    atomic_store(&tool->stage, PB_IMPORT_IDLE);
    return rc;
}

pb_import_progress pb_pg_import_progress(const pb_pg_tool *tool)
{
    pb_import_progress p = {(pb_import_stage)atomic_load(&tool->stage), atomic_load(&tool->done),
                            atomic_load(&tool->total)};
    if (p.done > p.total)
        p.done = p.total;
    return p;
}

/* ---- Export ------------------------------------------------------------ */

/* Undoes COPY's text escapes in place in the field [p, end); returns its new length. */
static size_t copy_unescape(char *p, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '\\' || i + 1 == len) {
            p[out++] = p[i];
            continue;
        }
        char c = p[++i];
        p[out++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f'
                 : c == 'v' ? '\v' : c;
    }
    return out;
}

#define EXPORT_FIELDS 6 /* token, account, atype, bind_time, last_bind_time, platform */

/* One COPY line (without its newline) to the visitor. Returns its code, or PB_STORE_EIO on a line of another shape. */
static int export_line(char *line, size_t len, pb_lmdb_export_visit *visit, void *arg)
{
    char *field[EXPORT_FIELDS];
    size_t flen[EXPORT_FIELDS];
    char *p = line, *end = line + len;
    for (int f = 0; f < EXPORT_FIELDS; f++) {
        char *tab = memchr(p, '\t', (size_t)(end - p));
        char *stop = tab != NULL ? tab : end;
        if ((tab == NULL) != (f == EXPORT_FIELDS - 1))
            return PB_STORE_EIO;
        field[f] = p;
        flen[f] = copy_unescape(p, (size_t)(stop - p));
        p[flen[f]] = '\0';
        p = stop + 1;
    }
    pb_account account = {.type = (int32_t)strtol(field[2], NULL, 10), .name = {field[1], flen[1]}};
    pb_binding_times times = {strtoll(field[3], NULL, 10), strtoll(field[4], NULL, 10)};
    return visit(arg, (pb_str){field[0], flen[0]}, &account, &times, (pb_platform)strtol(field[5], NULL, 10));
}

/* What a COPY OUT's rows go to: each line (without its newline) to `line`, which returns a visitor's code. */
typedef struct copy_reader {
    int (*line)(struct copy_reader *reader, char *line, size_t len);
    void *visit; /* a pb_lmdb_export_visit or a pb_lmdb_export_tag_visit */
    void *arg;
} copy_reader;

static int binding_line(copy_reader *reader, char *line, size_t len)
{
    return export_line(line, len, (pb_lmdb_export_visit *)reader->visit, reader->arg);
}

/* Runs `sql`, a COPY … TO STDOUT, handing each row to the reader. Returns 0, the reader's code, or PB_STORE_EIO. */
static int copy_rows(pb_pg_tool *tool, const char *sql, copy_reader *reader)
{
    if (!copy_start(tool, sql, PGRES_COPY_OUT))
        return PB_STORE_EIO;
    int rc = 0;
    char *row;
    int len;
    /* After a visitor's stop the rest is still read: libpq has no way to end a COPY OUT early but to drain it. */
    while ((len = PQgetCopyData(tool->conn, &row, 0)) > 0) {
        if (rc == 0)
            rc = reader->line(reader, row, len > 0 && row[len - 1] == '\n' ? (size_t)len - 1 : (size_t)len);
        PQfreemem(row);
    }
    if (len == -2 && rc == 0) {
        set_error(tool, PQerrorMessage(tool->conn));
        rc = PB_STORE_EIO;
    }
    if (!copy_finish(tool) && rc == 0)
        rc = PB_STORE_EIO;
    if (rc == PB_STORE_EIO && tool->error[0] == '\0')
        set_error(tool, "an exported row of an unknown shape");
    return rc;
}

/*
 * The rows of `query` for app `access_id` to the reader, after checking that
 * the app exists: `query` is a COPY … TO STDOUT with %1$s for the quoted
 * schema and %2$s for the app (COPY takes no parameters: the app is a number,
 * written in). Returns 0, PB_STORE_ENOTFOUND, the reader's code or PB_STORE_EIO.
 */
static int export_rows(pb_pg_tool *tool, uint64_t access_id, const char *query, copy_reader *reader)
{
    char app[24], sql[512];
    snprintf(app, sizeof(app), "%llu", (unsigned long long)access_id);
    const char *by_app[] = {app};
    long found = 0;
    tool->error[0] = '\0';
    if (!run_ok(tool, "SELECT 1 FROM %1$s.apps WHERE id = $1", 1, by_app, &found))
        return PB_STORE_EIO;
    if (found == 0)
        return PB_STORE_ENOTFOUND;
    snprintf(sql, sizeof(sql), query, tool->store->quoted, app);
    return copy_rows(tool, sql, reader);
}

int pb_pg_export(pb_pg_tool *tool, uint64_t access_id, pb_lmdb_export_visit *visit, void *arg)
{
    copy_reader reader = {binding_line, (void *)visit, arg};
    return export_rows(tool, access_id,
                       "COPY (SELECT token, account, atype, bind_time, last_bind_time, platform FROM %1$s.bindings "
                       "WHERE app = %2$s ORDER BY seq) TO STDOUT",
                       &reader);
}

/* One COPY line "TOKEN\tTAG" to the visitor. */
static int tag_line(copy_reader *reader, char *line, size_t len)
{
    char *tab = memchr(line, '\t', len);
    if (tab == NULL || memchr(tab + 1, '\t', len - (size_t)(tab + 1 - line)) != NULL)
        return PB_STORE_EIO;
    size_t token_len = copy_unescape(line, (size_t)(tab - line));
    size_t tag_len = copy_unescape(tab + 1, len - (size_t)(tab + 1 - line));
    return ((pb_lmdb_export_tag_visit *)reader->visit)(reader->arg, (pb_str){line, token_len},
                                                       (pb_str){tab + 1, tag_len});
}

int pb_pg_export_tags(pb_pg_tool *tool, uint64_t access_id, pb_lmdb_export_tag_visit *visit, void *arg)
{
    copy_reader reader = {tag_line, (void *)visit, arg};
    return export_rows(tool, access_id,
                       "COPY (SELECT p.token, t.tag FROM %1$s.tag_pairs p JOIN %1$s.tags t ON t.id = p.gen "
                       "WHERE p.app = %2$s ORDER BY p.token, p.seq) TO STDOUT",
                       &reader);
}

int pb_pg_import_tags(pb_pg_tool *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                      uint32_t max_tags_per_token, uint32_t max_tags_per_app, pb_import_outcome *outcomes)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_str *tokens = pb_pool_alloc(&pool, (n != 0 ? n : 1) * sizeof(*tokens));
    pb_str *tags = pb_pool_alloc(&pool, (n != 0 ? n : 1) * sizeof(*tags));
    for (size_t i = 0; i < n; i++) {
        tokens[i] = items[i].token;
        tags[i] = items[i].account.name;
    }
    const char *params[] = {pb_pg_udecimal(&pool, access_id), pb_pg_decimal(&pool, pb_clock_unix_s()),
                            pb_pg_text_array(&pool, tags, n), pb_pg_text_array(&pool, tokens, n),
                            pb_pg_decimal(&pool, max_tags_per_token), pb_pg_decimal(&pool, max_tags_per_app)};
    tool->error[0] = '\0';
    PGresult *res = run(tool, "SELECT %1$s.tag_import($1, $2, $3, $4, $5, $6)", 6, params, NULL);
    int rc = res == NULL ? PB_STORE_EIO : PQgetisnull(res, 0, 0) ? PB_STORE_ENOTFOUND : PB_STORE_OK;
    const char *p = rc == PB_STORE_OK ? PQgetvalue(res, 0, 0) + 1 : ""; /* "{0,1,2…}" */
    for (size_t i = 0; rc == PB_STORE_OK && i < n; i++) {
        char *end;
        long outcome = strtol(p, &end, 10);
        if (end == p) {
            set_error(tool, "tag_import() answered fewer outcomes than lines");
            rc = PB_STORE_EIO;
            break;
        }
        outcomes[i] = outcome == 1 ? PB_IMPORT_TAG_TOKEN_FULL : outcome == 2 ? PB_IMPORT_TAG_APP_FULL : PB_IMPORT_BOUND;
        p = end + 1;
    }
    PQclear(res);
    pb_pool_clear(&pool);
    return rc;
}

/* ---- Usage ------------------------------------------------------------- */

int pb_pg_usage_read(pb_pg_tool *tool, pb_pg_usage *usage)
{
    /* reltuples would be a guess: the count is exact, and stats is a command a person runs */
    PGresult *res = run(tool,
                        "SELECT (SELECT count(*) FROM %1$s.bindings), pg_table_size('%1$s.bindings'),\n"
                        "  pg_indexes_size('%1$s.bindings'), (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)\n"
                        "    FROM pg_class c WHERE c.relnamespace = '%1$s'::regnamespace AND c.relkind IN ('r', 'S'))",
                        0, NULL, NULL);
    if (res == NULL)
        return PB_STORE_EIO;
    *usage = (pb_pg_usage){
        .bindings = strtoull(PQgetvalue(res, 0, 0), NULL, 10),
        .table_bytes = strtoull(PQgetvalue(res, 0, 1), NULL, 10),
        .index_bytes = strtoull(PQgetvalue(res, 0, 2), NULL, 10),
        .total_bytes = strtoull(PQgetvalue(res, 0, 3), NULL, 10),
    };
    PQclear(res);
    return PB_STORE_OK;
}
