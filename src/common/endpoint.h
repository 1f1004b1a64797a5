/*
 * common/endpoint.h — the paths pushbind answers, by enum, with the one table
 * of names that metrics labels and the access log print.
 */
#ifndef PB_ENDPOINT_H
#define PB_ENDPOINT_H

typedef enum pb_endpoint {
    /* The TPNS API endpoints come first: metrics count requests for these. */
    PB_ENDPOINT_QUERY = 0,   /* POST /v3/device/account/query */
    PB_ENDPOINT_BATCHOPERATE, /* POST /v3/device/account/batchoperate */
    PB_ENDPOINT_TAG,          /* POST /v3/device/tag */
    PB_ENDPOINT_TAG_DELETE_ALL, /* POST /v3/device/tag/delete_all_device */
    PB_ENDPOINT_TAG_QUERY,    /* POST /pushbind/v1/tag/query (an extension) */
    PB_ENDPOINT_INVALIDATE,   /* POST /pushbind/v1/token/invalidate (an extension) */
    PB_ENDPOINT_ACCOUNT_FIND, /* POST /pushbind/v1/account/find (an extension) */
    PB_ENDPOINT_APP,          /* GET /pushbind/v1/app (an extension) */
    PB_ENDPOINT_HEALTHZ,      /* GET /healthz */
    PB_ENDPOINT_METRICS,      /* GET /metrics */
    PB_ENDPOINT_CONSOLE,      /* GET /console/ and its files */
    PB_ENDPOINT_OTHER,        /* any other path (answered 404) */
    PB_ENDPOINTS
} pb_endpoint;

/* The endpoints counted in pushbind_requests_total: the API's. */
#define PB_API_ENDPOINTS (PB_ENDPOINT_ACCOUNT_FIND + 1)

/* The endpoint's name: "query", "batchoperate", "tag", …, "app", "healthz", "metrics", "console", "other". */
static inline const char *pb_endpoint_name(pb_endpoint endpoint)
{
    static const char *const names[PB_ENDPOINTS] = {
        [PB_ENDPOINT_QUERY] = "query",     [PB_ENDPOINT_BATCHOPERATE] = "batchoperate",
        [PB_ENDPOINT_TAG] = "tag",         [PB_ENDPOINT_TAG_DELETE_ALL] = "tag_delete_all_device",
        [PB_ENDPOINT_TAG_QUERY] = "tag_query", [PB_ENDPOINT_INVALIDATE] = "token_invalidate",
        [PB_ENDPOINT_ACCOUNT_FIND] = "account_find",
        [PB_ENDPOINT_APP] = "app",
        [PB_ENDPOINT_HEALTHZ] = "healthz", [PB_ENDPOINT_METRICS] = "metrics",
        [PB_ENDPOINT_CONSOLE] = "console", [PB_ENDPOINT_OTHER] = "other",
    };
    return (unsigned)endpoint < PB_ENDPOINTS ? names[endpoint] : "other";
}

#endif
