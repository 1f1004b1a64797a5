/*
 * Serving the console's embedded files.
 *
 * The answers are built for a page that holds an app's SecretKey in memory:
 * the Content-Security-Policy lets it run only its own script and talk only
 * to this origin (an injected string can neither run nor send the key
 * elsewhere), frames are refused (no clickjacking of the unbind buttons) and
 * no Referer leaves the page. Nothing is kept by the browser (no-store: no
 * copy on disk, and Chromium keeps no signed-in page in its back/forward
 * cache), so an upgraded server never pairs a new page with an old script.
 */
#include <string.h>

#include "common/clock.h"
#include "http/console.h"
#include "http/exchange.h"
#include "http/handle.h"

#define CONSOLE_PATH PB_PATH_CONSOLE
#define CONSOLE_INDEX "index.html"

static const char console_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static const pb_console_asset *find_asset(const char *name, size_t len)
{
    for (size_t i = 0; i < pb_console_asset_count; i++)
        if (h2o_memis(name, len, pb_console_assets[i].path, strlen(pb_console_assets[i].path)))
            return &pb_console_assets[i];
    return NULL;
}

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value, strlen(value));
}

static void add_security_headers(h2o_req_t *req)
{
    add_header(req, "content-security-policy", console_csp);
    add_header(req, "x-content-type-options", "nosniff");
    add_header(req, "referrer-policy", "no-referrer");
    add_header(req, "x-frame-options", "DENY");
}

/* Whether the request's If-None-Match names `etag` (or is "*"). */
static bool etag_matches(h2o_req_t *req, const char *etag)
{
    ssize_t index = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (index == -1)
        return false;
    h2o_iovec_t value = req->headers.entries[index].value;
    if (h2o_memis(value.base, value.len, H2O_STRLIT("*")))
        return true;
    return h2o_strstr(value.base, value.len, etag, strlen(etag)) != SIZE_MAX;
}

/* Sends the asset; returns the status sent. */
static int send_asset(h2o_req_t *req, const pb_console_asset *asset)
{
    static h2o_generator_t generator = {NULL, NULL};
    add_security_headers(req);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, asset->etag, strlen(asset->etag));
    if (etag_matches(req, asset->etag)) {
        req->res.status = 304;
        req->res.reason = "Not Modified";
        h2o_start_response(req, &generator);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return 304;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = asset->len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, asset->content_type,
                   strlen(asset->content_type));
    h2o_start_response(req, &generator);
    h2o_iovec_t body = h2o_iovec_init(asset->bytes, asset->len);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 200;
}

static int send_not_found(h2o_req_t *req)
{
    add_security_headers(req);
    h2o_send_error_404(req, "Not Found", "not found\n", H2O_SEND_ERROR_KEEP_HEADERS);
    return 404;
}

/*
 * Answers the request; returns the status sent, and sets *endpoint to
 * PB_ENDPOINT_OTHER when the path is not the console's after all.
 */
static int answer(const pb_worker *worker, h2o_req_t *req, pb_endpoint *endpoint)
{
    h2o_iovec_t path = req->path_normalized;
    if (worker->config->console_off)
        return send_not_found(req);
    /* h2o hands over every path that starts with the registered one, "/consolex" too. */
    bool bare = h2o_memis(path.base, path.len, H2O_STRLIT(CONSOLE_PATH));
    if (!bare && (path.len <= sizeof(CONSOLE_PATH) - 1 || path.base[sizeof(CONSOLE_PATH) - 1] != '/')) {
        *endpoint = PB_ENDPOINT_OTHER;
        return send_not_found(req);
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        add_security_headers(req);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        h2o_send_error_405(req, "Method Not Allowed", "method not allowed\n", H2O_SEND_ERROR_KEEP_HEADERS);
        return 405;
    }
    if (bare) {
        add_security_headers(req);
        h2o_send_redirect(req, 301, "Moved Permanently", H2O_STRLIT(CONSOLE_PATH "/"));
        return 301;
    }
    const char *name = path.base + sizeof(CONSOLE_PATH);
    size_t name_len = path.len - sizeof(CONSOLE_PATH);
    const pb_console_asset *asset = name_len == 0 ? find_asset(H2O_STRLIT(CONSOLE_INDEX)) : find_asset(name, name_len);
    return asset == NULL ? send_not_found(req) : send_asset(req, asset);
}

/*
 * /console and every path under it. The files are in memory, so the answer
 * goes at once, without an exchange (exchange.h); every answer gets its
 * access-log line, like /healthz's and /metrics'.
 */
int pb_handle_console(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    pb_worker *worker = pb_worker_of(req);
    pb_request_record record = pb_exchange_record_of(req, PB_ENDPOINT_CONSOLE);
    int status = answer(worker, req, &record.endpoint);
    pb_exchange_log_http(worker, &record, status, started);
    return 0;
}
