/* store/tag_rules.c — the rules of tag requests every backend applies alike (store.h). */
#include "store/store.h"

static pb_str category_of(pb_str tag)
{
    const char *colon = memchr(tag.base, ':', tag.len);
    return (pb_str){tag.base, colon != NULL ? (size_t)(colon - tag.base) : tag.len};
}

bool pb_tag_replace_keeps(const pb_tag_write *write, pb_str tag)
{
    bool in_category = !write->by_category;
    for (size_t i = 0; i < write->n; i++) {
        if (pb_str_eq(write->tags[i], tag))
            return true;
        in_category |= pb_str_eq(category_of(write->tags[i]), category_of(tag));
    }
    return !in_category;
}
