/* http.c — the pull's HTTP client: one libcurl easy handle, kept alive. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "auth/auth.h"
#include "common/clock.h"
#include "pull/http.h"

struct pb_pull_http {
    CURL *curl;
    const pb_pull_config *config;
    size_t base_len; /* of the source's URL, without trailing '/' */
    char *url;       /* the last post's */
    char *answer;
    size_t answer_len, answer_capacity;
    bool too_large; /* the answer went past PB_PULL_MAX_ANSWER_BYTES */
    char curl_error[CURL_ERROR_SIZE];
};

static size_t collect(char *data, size_t size, size_t count, void *arg)
{
    pb_pull_http *http = arg;
    size_t n = size * count;
    if (http->answer_len + n > PB_PULL_MAX_ANSWER_BYTES) {
        http->too_large = true;
        return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
    }
    if (http->answer_len + n + 1 > http->answer_capacity) {
        size_t capacity = (http->answer_len + n + 1) * 2;
        char *grown = realloc(http->answer, capacity);
        if (grown == NULL)
            return 0;
        http->answer = grown;
        http->answer_capacity = capacity;
    }
    memcpy(http->answer + http->answer_len, data, n);
    http->answer_len += n;
    return n;
}

pb_pull_http *pb_pull_http_open(const pb_pull_config *config)
{
    static bool curl_ready;
    if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "pushbind pull: libcurl cannot start\n");
        return NULL;
    }
    curl_ready = true;
    pb_pull_http *http = calloc(1, sizeof(*http));
    if (http != NULL)
        http->curl = curl_easy_init();
    if (http == NULL || http->curl == NULL) {
        fprintf(stderr, "pushbind pull: out of memory\n");
        pb_pull_http_close(http);
        return NULL;
    }
    http->config = config;
    http->base_len = strlen(config->source_url);
    while (http->base_len > 0 && config->source_url[http->base_len - 1] == '/')
        http->base_len--;
    CURL *c = http->curl;
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, PB_PULL_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, PB_PULL_REQUEST_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, http);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, http->curl_error);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pushbind-pull");
    if (config->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, config->ca_file);
    if (config->auth == PB_PULL_AUTH_BASIC) {
        char user[24];
        snprintf(user, sizeof(user), "%" PRIu64, config->access_id);
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, config->secret_key);
    }
    return http;
}

void pb_pull_http_close(pb_pull_http *http)
{
    if (http == NULL)
        return;
    if (http->curl != NULL)
        curl_easy_cleanup(http->curl);
    free(http->url);
    free(http->answer);
    free(http);
}

/* The headers of one try: Signature's are signed now, over this body. */
static struct curl_slist *make_headers(const pb_pull_http *http, const char *body, size_t len)
{
    /* curl would otherwise wait for "100 Continue" before a large body. */
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    headers = headers != NULL ? curl_slist_append(headers, "Content-Type: application/json") : NULL;
    if (headers == NULL || http->config->auth != PB_PULL_AUTH_SIGNATURE)
        return headers;
    char access_id[24], timestamp[24], line[128];
    snprintf(access_id, sizeof(access_id), "%" PRIu64, http->config->access_id);
    snprintf(timestamp, sizeof(timestamp), "%lld", (long long)pb_clock_unix_s());
    size_t prefix = strlen(timestamp) + strlen(access_id);
    char *message = malloc(prefix + len);
    if (message == NULL) {
        curl_slist_free_all(headers);
        return NULL;
    }
    memcpy(message, timestamp, strlen(timestamp));
    memcpy(message + strlen(timestamp), access_id, strlen(access_id));
    memcpy(message + prefix, body, len);
    char sign[89];
    pb_auth_sign(pb_str_from_cstr(http->config->secret_key), (pb_str){message, prefix + len}, sign);
    free(message);
    const char *fields[][2] = {{"AccessId", access_id}, {"TimeStamp", timestamp}, {"Sign", sign}};
    for (size_t i = 0; i < 3 && headers != NULL; i++) {
        snprintf(line, sizeof(line), "%s: %s", fields[i][0], fields[i][1]);
        struct curl_slist *more = curl_slist_append(headers, line);
        if (more == NULL)
            curl_slist_free_all(headers);
        headers = more;
    }
    return headers;
}

int pb_pull_http_post(pb_pull_http *http, const char *path, const char *body, size_t len, pb_pull_reply *reply)
{
    *reply = (pb_pull_reply){0};
    http->answer_len = 0;
    http->too_large = false;
    http->curl_error[0] = '\0';
    free(http->url);
    if (asprintf(&http->url, "%.*s%s", (int)http->base_len, http->config->source_url, path) < 0)
        http->url = NULL;
    struct curl_slist *headers = http->url != NULL ? make_headers(http, body, len) : NULL;
    if (headers == NULL) {
        snprintf(reply->error, sizeof(reply->error), "out of memory");
        return -1;
    }
    curl_easy_setopt(http->curl, CURLOPT_URL, http->url);
    curl_easy_setopt(http->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(http->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(http->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(http->curl);
    curl_easy_setopt(http->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    curl_off_t pretransfer_us = 0;
    if (curl_easy_getinfo(http->curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us) == CURLE_OK && pretransfer_us > 0)
        reply->send_delay_ns = (uint64_t)pretransfer_us * 1000u;
    if (rc != CURLE_OK) {
        if (http->too_large)
            snprintf(reply->error, sizeof(reply->error), "answer larger than %u MiB", PB_PULL_MAX_ANSWER_BYTES >> 20);
        else
            snprintf(reply->error, sizeof(reply->error), "%s",
                     http->curl_error[0] != '\0' ? http->curl_error : curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(http->curl, CURLINFO_RESPONSE_CODE, &reply->status);
    reply->body = http->answer != NULL ? http->answer : "";
    reply->len = http->answer_len;
    return 0;
}
