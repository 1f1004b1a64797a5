/*
 * tags.c — a batch's tags: the tokens to ask about, and the write of what a
 * pushbind source answered (pb_store_tag_apply(), which waits for it).
 */
#include <string.h>

#include "common/codes.h"
#include "common/json_writer.h"
#include "pull/tags.h"

size_t pb_pull_tag_targets(pb_pull_kind kind, const pb_pull_line *lines, size_t n, const pb_pull_changes *changes,
                           pb_pool *pool, pb_pull_tag_target **out)
{
    size_t count = 0;
    if (kind == PB_PULL_BY_TOKEN) {
        *out = pb_pool_alloc(pool, n * sizeof(**out));
        for (size_t i = 0; i < n; i++) {
            const pb_pull_entry *e = lines[i].entry;
            if (lines[i].failure != NULL || e == NULL || (e->code != PB_OK && e->code != PB_ERR_NO_BINDING))
                continue;
            size_t *line = pb_pool_alloc(pool, sizeof(size_t));
            *line = i;
            (*out)[count++] = (pb_pull_tag_target){.token = lines[i].item.token, .lines = line, .n_lines = 1};
        }
        return count;
    }
    *out = pb_pool_alloc(pool, changes->n * sizeof(**out));
    for (size_t c = 0; c < changes->n; c++)
        (*out)[count++] = (pb_pull_tag_target){
            .token = changes->changes[c].token, .lines = changes->lines_of[c], .n_lines = changes->n_lines[c]};
    return count;
}

pb_str pb_pull_tag_query_body(pb_pool *pool, const pb_pull_tag_target *targets, size_t n)
{
    pb_json_writer w;
    pb_json_init(&w, pool);
    pb_json_object_open(&w);
    PB_JSON_KEY(&w, "operator_type");
    pb_json_int(&w, 1);
    PB_JSON_KEY(&w, "token_list");
    pb_json_array_open(&w);
    for (size_t i = 0; i < n; i++)
        pb_json_string(&w, targets[i].token);
    pb_json_array_close(&w);
    pb_json_object_close(&w);
    return pb_json_text(&w);
}

/* ---- The write ------------------------------------------------------------ */

static bool writable(const pb_pull_line *lines, const pb_pull_tag_target *target)
{
    if (target->failure != NULL)
        return false;
    for (size_t i = 0; i < target->n_lines; i++)
        if (lines[target->lines[i]].failure != NULL)
            return false;
    return true;
}

int pb_pull_tags_write(pb_store_session *session, uint64_t access_id, const pb_api_config *api,
                       const pb_pull_line *lines, pb_pull_tag_target *targets, size_t n, pb_pool *pool,
                       uint64_t *pairs)
{
    size_t capacity = 0;
    for (size_t t = 0; t < n; t++)
        capacity += targets[t].n_tags;
    *pairs = 0;
    if (capacity == 0)
        return PB_STORE_OK;
    pb_str *tags = pb_pool_alloc(pool, capacity * sizeof(pb_str));
    pb_str *tokens = pb_pool_alloc(pool, capacity * sizeof(pb_str));
    size_t *owner = pb_pool_alloc(pool, capacity * sizeof(size_t)); /* the target of each pair */
    for (;;) {
        size_t k = 0;
        for (size_t t = 0; t < n; t++) {
            for (size_t i = 0; writable(lines, &targets[t]) && i < targets[t].n_tags; i++, k++) {
                tags[k] = targets[t].tags[i];
                tokens[k] = targets[t].token;
                owner[k] = t;
            }
        }
        if (k == 0)
            return PB_STORE_OK;
        pb_tag_write write = {.kind = PB_TAG_ADD, .tags = tags, .tokens = tokens, .n = k,
                              .max_tags_per_token = api->max_tags_per_token, .max_tags_per_app = api->max_tags_per_app};
        int rc = pb_store_tag_apply(session, access_id, &write);
        if (rc != PB_STORE_OK)
            return rc;
        switch (write.outcome) {
        case PB_TAG_OK:
            *pairs = k;
            return PB_STORE_OK;
        case PB_TAG_OVER_TOKEN_LIMIT:
            targets[owner[write.at]].failure = "its tags are over a local limit (--max-tags-per-token)";
            break;
        case PB_TAG_OVER_APP_LIMIT:
            targets[owner[write.at]].failure = "its tags are over a local limit (--max-tags-per-app)";
            break;
        case PB_TAG_NO_SPACE:
            for (size_t t = 0; t < n; t++)
                targets[t].failure = "the local store is full (--map-size-mib)";
            return PB_STORE_OK;
        }
    }
}
