/*
 * codec.h — JSON in (yajl's parser underneath), JSON out (the JSON writer,
 * common/json_writer.h), for the endpoints.
 *
 * Decoding is streaming: yajl's callbacks fill the typed request directly,
 * with no document tree in between. Everything decoded is allocated from the
 * caller's pool, and strings without escapes point straight into `body`, so
 * the body must outlive the request. Unknown fields, at any depth, are
 * skipped. When a known key appears twice, the last occurrence wins.
 *
 * Encoding writes the response into memory from the caller's pool; strings
 * are escaped as json_writer.h says.
 *
 * Thread rules: none; every function is re-entrant.
 */
#ifndef PB_CODEC_H
#define PB_CODEC_H

#include "api/messages.h"
#include "common/pool.h"

/*
 * Maximum nesting depth the decoder accepts. The deepest valid request is 4
 * levels deep ({"token_accounts":[{"account_list":[{...}]}]}); unknown fields
 * may nest further, up to this.
 */
#define PB_JSON_MAX_DEPTH 32

/*
 * Decodes a query body into *out. Returns PB_OK, or PB_ERR_PARSE when the body
 * is not valid UTF-8 JSON (an escaped UTF-16 surrogate must be half of a
 * high–low pair), is not a JSON object, or nests deeper than
 * PB_JSON_MAX_DEPTH.
 */
int pb_decode_query(pb_pool *pool, const char *body, size_t len, pb_query_request *out);

/* The same for a batchoperate body. */
int pb_decode_batch(pb_pool *pool, const char *body, size_t len, pb_batch_request *out);

/*
 * Decodes the body of a tag endpoint (POST /v3/device/tag, its
 * delete_all_device, /pushbind/v1/tag/query) or, with `invalidate`, of
 * /pushbind/v1/token/invalidate, whose token_list holds objects. Pairs come
 * as objects or two-string arrays. Returns as pb_decode_query().
 */
int pb_decode_tag(pb_pool *pool, const char *body, size_t len, bool invalidate, pb_tag_request *out);

/*
 * Encodes a query answer with the keys TPNS uses on that endpoint: retCode,
 * errMsg, then the same two values as ret_code and err_msg (published clients
 * read those), result, then account_tokens or token_accounts. An entry carries
 * "account_type" only when it is not 0. With response->with_info, each
 * account_tokens entry ends with "token_info" (token, platform when known,
 * bind_time and last_bind_time when the lookup gave times), each
 * token_accounts entry gets "platform" after "token" when known, and each of
 * its accounts the two times; without it, nothing of that is written.
 * Returns the JSON text.
 */
pb_str pb_encode_query(pb_pool *pool, const pb_query_response *response);

/*
 * Encodes /pushbind/v1/account/find's answer: ret_code, err_msg (the
 * response's message when it has one), result (one code per input item),
 * account_types when known (also with a request-level error), then `found`:
 * per input item {"account", "account_tokens"}, the latter entries as the
 * query's with_info entries (account_type only when not 0).
 */
pb_str pb_encode_find(pb_pool *pool, const pb_find_response *response);

/* Encodes a batchoperate answer: ret_code, err_msg, result. */
pb_str pb_encode_batch(pb_pool *pool, const pb_batch_response *response);

/*
 * Encodes the answer of GET /pushbind/v1/app (codec/encode_app_info.c):
 * {"ret_code":0,"err_msg":"ok","access_id":N,"bindings":N,"limits":{…}}, or
 * only ret_code and err_msg when response->code is not PB_OK.
 */
pb_str pb_encode_app_info(pb_pool *pool, const pb_app_info_response *response);

/* Encodes a tag endpoint's answer: {"seq":N,"ret_code":N,"err_msg":"…"} (codec/encode_tag.c). */
pb_str pb_encode_tag(pb_pool *pool, const pb_tag_response *response);

/*
 * Encodes /pushbind/v1/tag/query's answer: ret_code, err_msg, then
 * token_tags (op 1), token_list and next_cursor (op 2), tag_counts (op 3), or
 * tags and next_cursor (op 4); next_cursor only when a next page exists.
 */
pb_str pb_encode_tag_query(pb_pool *pool, const pb_tag_query_response *response);

#endif
