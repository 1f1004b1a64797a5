/*
 * import_line.c — NDJSON lines with yajl's streaming parser, CSV lines by hand
 * (six fields and RFC 4180 quotes need no library).
 *
 * Besides token, account and account_type a line may carry what export
 * writes: bind_time and last_bind_time (Unix seconds, 0..4294967295) and
 * platform ("android" or "ios", any case); CSV columns 4–6, each may be empty.
 * An NDJSON line with "tag" instead of "account" is a tag line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include <yajl/yajl_parse.h>

#include "common/arena.h"
#include "import/import.h"

/* The field a value at the top level of the object goes to. */
typedef enum line_key {
    KEY_OTHER,
    KEY_TOKEN,
    KEY_ACCOUNT,
    KEY_ACCOUNT_TYPE,
    KEY_BIND_TIME,
    KEY_LAST_BIND_TIME,
    KEY_PLATFORM,
    KEY_TAG
} line_key;

/* A bind time as a line writes it: digits only, at most UINT32_MAX (times are stored in 32 bits). */
static bool time_parse(const char *text, size_t len, int64_t *out)
{
    int64_t value = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        value = value * 10 + (text[i] - '0');
        if (value > (int64_t)UINT32_MAX)
            return false;
    }
    *out = value;
    return true;
}

/* "android" or "ios" in any case. */
static bool platform_parse(const char *text, size_t len, pb_platform *out)
{
    if (len == 7 && strncasecmp(text, "android", 7) == 0)
        *out = PB_PLATFORM_ANDROID;
    else if (len == 3 && strncasecmp(text, "ios", 3) == 0)
        *out = PB_PLATFORM_IOS;
    else
        return false;
    return true;
}

static const char bad_time[] = "bind_time / last_bind_time is not an integer in 0..4294967295";
static const char bad_platform[] = "platform is not android or ios";

typedef struct ndjson_state {
    pb_import_line *line;
    const char *text; /* the line being parsed */
    size_t len;
    int depth; /* open containers */
    line_key key;
    bool has_token, has_account, has_tag, type_ok;
    const char *error;
    const char *value_error; /* a known key's value is wrong (reported after the shape) */
} ndjson_state;

static bool points_into(const void *start, size_t len, const void *p)
{
    return (uintptr_t)p >= (uintptr_t)start && (uintptr_t)p < (uintptr_t)start + len;
}

/*
 * A string value as a field. yajl hands a string without escapes straight
 * from the text, which outlives the parse: no copy. An escaped one comes from
 * yajl's own buffer, which dies with the parser: copied to `buf`.
 */
static pb_str string_field(const ndjson_state *st, char *buf, const unsigned char *s, size_t len)
{
    if (len > PB_IMPORT_FIELD_MAX)
        len = PB_IMPORT_FIELD_MAX;
    if (points_into(st->text, st->len, s))
        return (pb_str){(const char *)s, len};
    memcpy(buf, s, len);
    return (pb_str){buf, len};
}

/* A value that is not a string or an integer: wrong for any known key. */
static void wrong_type(ndjson_state *st)
{
    if (st->depth != 1)
        return;
    if (st->key == KEY_TOKEN)
        st->line->token.is_string = false, st->has_token = true;
    else if (st->key == KEY_ACCOUNT)
        st->line->account.well_typed = false, st->has_account = true;
    else if (st->key == KEY_TAG)
        st->line->account.well_typed = false, st->has_tag = true;
    else if (st->key == KEY_ACCOUNT_TYPE)
        st->type_ok = false;
    else if (st->key == KEY_BIND_TIME || st->key == KEY_LAST_BIND_TIME)
        st->value_error = bad_time;
    else if (st->key == KEY_PLATFORM)
        st->value_error = bad_platform;
}

/* A scalar or container where the top-level object should be. */
static int top_level_value(ndjson_state *st)
{
    if (st->depth != 0)
        return 1;
    st->error = "not a JSON object";
    return 0;
}

static int on_null(void *ctx)
{
    ndjson_state *st = ctx;
    if (!top_level_value(st))
        return 0;
    if (st->depth == 1 && st->key == KEY_ACCOUNT_TYPE) /* null counts as absent, as in the API */
        st->line->account.account.type = 0, st->type_ok = true;
    else if (st->depth == 1 && st->key == KEY_PLATFORM)
        st->line->platform = PB_PLATFORM_NONE;
    else if (st->depth == 1 && st->key == KEY_BIND_TIME)
        st->line->times.bind_time = 0;
    else if (st->depth == 1 && st->key == KEY_LAST_BIND_TIME)
        st->line->times.last_bind_time = 0;
    else
        wrong_type(st);
    return 1;
}

static int on_boolean(void *ctx, int value)
{
    ndjson_state *st = ctx;
    if (!top_level_value(st))
        return 0;
    wrong_type(st);
    return 1;
}

static int on_number(void *ctx, const char *text, size_t len)
{
    ndjson_state *st = ctx;
    if (!top_level_value(st))
        return 0;
    if (st->depth == 1 && (st->key == KEY_BIND_TIME || st->key == KEY_LAST_BIND_TIME)) {
        int64_t *field = st->key == KEY_BIND_TIME ? &st->line->times.bind_time : &st->line->times.last_bind_time;
        if (!time_parse(text, len, field))
            st->value_error = bad_time;
        return 1;
    }
    if (st->depth != 1 || st->key != KEY_ACCOUNT_TYPE) {
        wrong_type(st);
        return 1;
    }
    st->type_ok = pb_account_type_parse(text, len, &st->line->account.account.type);
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    ndjson_state *st = ctx;
    pb_import_line *line = st->line;
    if (!top_level_value(st))
        return 0;
    if (st->depth != 1)
        return 1;
    if (st->key == KEY_TOKEN) {
        line->token = (pb_token_item){string_field(st, line->token_buf, s, len), true};
        st->has_token = true;
    } else if (st->key == KEY_ACCOUNT || st->key == KEY_TAG) { /* a tag line keeps its tag where the account goes */
        line->account.account.name = string_field(st, line->account_buf, s, len);
        line->account.well_typed = true;
        *(st->key == KEY_TAG ? &st->has_tag : &st->has_account) = true;
    } else if (st->key == KEY_PLATFORM) {
        if (!platform_parse((const char *)s, len, &line->platform))
            st->value_error = bad_platform;
    } else {
        wrong_type(st);
    }
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    ndjson_state *st = ctx;
    if (st->depth != 1)
        return 1;
    st->key = len == 5 && memcmp(s, "token", 5) == 0       ? KEY_TOKEN
              : len == 7 && memcmp(s, "account", 7) == 0    ? KEY_ACCOUNT
              : len == 12 && memcmp(s, "account_type", 12) == 0 ? KEY_ACCOUNT_TYPE
              : len == 9 && memcmp(s, "bind_time", 9) == 0 ? KEY_BIND_TIME
              : len == 14 && memcmp(s, "last_bind_time", 14) == 0 ? KEY_LAST_BIND_TIME
              : len == 8 && memcmp(s, "platform", 8) == 0 ? KEY_PLATFORM
              : len == 3 && memcmp(s, "tag", 3) == 0 ? KEY_TAG
                                                                : KEY_OTHER;
    return 1;
}

static int on_start_map(void *ctx)
{
    ndjson_state *st = ctx;
    wrong_type(st);
    st->depth++;
    return 1;
}

static int on_start_array(void *ctx)
{
    ndjson_state *st = ctx;
    if (!top_level_value(st))
        return 0;
    wrong_type(st);
    st->depth++;
    return 1;
}

static int on_end(void *ctx)
{
    ((ndjson_state *)ctx)->depth--;
    return 1;
}

static const yajl_callbacks ndjson_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

static const char *parse_ndjson(const char *text, size_t len, pb_import_line *line)
{
    ndjson_state st = {.line = line, .text = text, .len = len, .type_ok = true};
    pb_arena arena; /* in line->arena, then malloc() for what does not fit */
    pb_arena_init(&arena, line->arena, sizeof(line->arena), NULL);
    yajl_alloc_funcs funcs = {pb_arena_malloc, pb_arena_realloc, pb_arena_free, &arena};
    yajl_handle parser = yajl_alloc(&ndjson_callbacks, &funcs, &st);
    if (parser == NULL)
        return "out of memory";
    yajl_status status = yajl_parse(parser, (const unsigned char *)text, len);
    if (status == yajl_status_ok)
        status = yajl_complete_parse(parser);
    yajl_free(parser);
    if (st.error != NULL)
        return st.error;
    if (status != yajl_status_ok)
        return "not valid JSON";
    if (!st.has_token)
        return "missing token";
    if (st.has_tag && st.has_account)
        return "an account and a tag: a line is a binding or a tag";
    line->is_tag = st.has_tag;
    if (!st.has_account && !st.has_tag)
        return "missing account";
    if (!st.type_ok)
        return "account_type is not an integer in 0..2147483647";
    return st.value_error;
}

/*
 * Reads one CSV field starting at *pos, leaving *pos on the comma that ends
 * it or at len. A quoted field is unquoted into buf; a plain one is used
 * where it stands. Returns 0, or -1 for a bad quote.
 */
static int csv_field(const char *text, size_t len, size_t *pos, char *buf, pb_str *field)
{
    size_t i = *pos, out = 0;
    if (i < len && text[i] == '"') {
        for (i++;; i++) {
            if (i >= len)
                return -1;
            if (text[i] == '"') {
                if (i + 1 < len && text[i + 1] == '"')
                    i++;
                else
                    break;
            }
            if (out < PB_IMPORT_FIELD_MAX)
                buf[out++] = text[i];
        }
        i++; /* the closing quote */
        if (i < len && text[i] != ',')
            return -1;
        *field = (pb_str){buf, out};
    } else {
        const char *comma = memchr(text + i, ',', len - i);
        size_t end = comma != NULL ? (size_t)(comma - text) : len;
        *field = (pb_str){text + i, end - i < PB_IMPORT_FIELD_MAX ? end - i : PB_IMPORT_FIELD_MAX};
        i = end;
    }
    *pos = i;
    return 0;
}

/* CSV: token,account[,account_type[,bind_time[,last_bind_time[,platform]]]]. */
#define CSV_FIELDS 6

static const char *parse_csv(const char *text, size_t len, pb_import_line *line)
{
    char extra_bufs[CSV_FIELDS - 2][PB_IMPORT_FIELD_MAX];
    char *bufs[CSV_FIELDS] = {line->token_buf, line->account_buf, extra_bufs[0], extra_bufs[1], extra_bufs[2],
                              extra_bufs[3]};
    pb_str fields[CSV_FIELDS];
    size_t n = 0, pos = 0;
    for (;;) {
        if (n == CSV_FIELDS)
            return "more than six fields";
        if (csv_field(text, len, &pos, bufs[n], &fields[n]) != 0)
            return "unbalanced quote";
        n++;
        if (pos == len)
            break;
        pos++; /* the comma */
    }
    if (n < 2)
        return "missing account";
    line->token = (pb_token_item){fields[0], true};
    line->account = (pb_account_item){{fields[1], 0}, true};
    if (n == 2)
        return NULL;
    if (!pb_account_type_parse(fields[2].base, fields[2].len, &line->account.account.type))
        return "account_type is not an integer in 0..2147483647";
    if (n > 3 && fields[3].len != 0 && !time_parse(fields[3].base, fields[3].len, &line->times.bind_time))
        return bad_time;
    if (n > 4 && fields[4].len != 0 && !time_parse(fields[4].base, fields[4].len, &line->times.last_bind_time))
        return bad_time;
    if (n > 5 && fields[5].len != 0 && !platform_parse(fields[5].base, fields[5].len, &line->platform))
        return bad_platform;
    return NULL;
}

const char *pb_import_line_parse(pb_import_format format, const char *text, size_t len, pb_import_line *line)
{
    if (len > 0 && text[len - 1] == '\r')
        len--;
    line->token = (pb_token_item){{line->token_buf, 0}, false};
    line->account = (pb_account_item){{{line->account_buf, 0}, 0}, false};
    line->times = (pb_binding_times){0, 0};
    line->platform = PB_PLATFORM_NONE;
    line->is_tag = false;
    return format == PB_IMPORT_NDJSON ? parse_ndjson(text, len, line) : parse_csv(text, len, line);
}

bool pb_import_line_is_csv_header(const char *text, size_t len)
{
    if (len > 0 && text[len - 1] == '\r')
        len--;
    static const char full[] = "token,account,account_type,bind_time,last_bind_time,platform";
    static const size_t lengths[] = {13, 26, 36, 51, sizeof(full) - 1};
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++)
        if (len == lengths[i] && strncasecmp(text, full, len) == 0)
            return true;
    return false;
}
