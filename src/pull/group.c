/*
 * group.c — the order a batch is bound in.
 *
 * By account the source gives, for each account, its tokens oldest first:
 * each list is a chain in the source's one creation order, so together they
 * form an acyclic graph over the batch's tokens, and binding the tokens in a
 * topological order of it (Kahn's algorithm) creates every account's tokens
 * in the source's order. A source whose lists disagree (a cycle) still gets
 * every binding, in first-appearance order where the lists disagree.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/codes.h"
#include "pull/group.h"

/* One answered pair, by account: which line, which token, which binding. */
typedef struct pair {
    size_t line, token;
    const pb_pull_binding *binding;
} pair;

static uint64_t hash_str(pb_str s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.base[i]) * 1099511628211ull;
    return h;
}

/* The tokens of a batch, numbered by first appearance; `slots` is an open-addressing table of index + 1. */
typedef struct token_table {
    size_t *slots, mask;
    pb_str *tokens;
    size_t n;
} token_table;

static size_t token_index(token_table *t, pb_str token)
{
    size_t i = (size_t)hash_str(token) & t->mask;
    for (; t->slots[i] != 0; i = (i + 1) & t->mask)
        if (pb_str_eq(t->tokens[t->slots[i] - 1], token))
            return t->slots[i] - 1;
    t->tokens[t->n] = token;
    t->slots[i] = ++t->n;
    return t->n - 1;
}

/* A binary min-heap of token indices: the earliest-appearing ready token goes first. */
typedef struct heap {
    size_t *items, n;
} heap;

static void heap_push(heap *h, size_t value)
{
    size_t i = h->n++;
    for (; i > 0 && h->items[(i - 1) / 2] > value; i = (i - 1) / 2)
        h->items[i] = h->items[(i - 1) / 2];
    h->items[i] = value;
}

static size_t heap_pop(heap *h)
{
    size_t top = h->items[0], last = h->items[--h->n], i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->items[child + 1] < h->items[child])
            child++;
        if (h->items[child] >= last)
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->n > 0)
        h->items[i] = last;
    return top;
}

static bool answered(const pb_pull_line *line)
{
    return line->failure == NULL && line->entry != NULL && line->entry->code == PB_OK && line->entry->n > 0;
}

/* The platform a source names (any case, as the API takes it); anything else is not known. */
static pb_platform platform_named(pb_str name)
{
    if (name.len == 7 && strncasecmp(name.base, "android", 7) == 0)
        return PB_PLATFORM_ANDROID;
    if (name.len == 3 && strncasecmp(name.base, "ios", 3) == 0)
        return PB_PLATFORM_IOS;
    return PB_PLATFORM_NONE;
}

/* A change's accounts as they are collected, with their times and the token's platform. */
typedef struct collected {
    pb_account *accounts;
    pb_binding_times *times;
    size_t n;
    bool timed; /* some binding came with a time: the change carries them */
    pb_platform platform;
} collected;

static void collect_start(collected *c, size_t capacity, pb_pool *pool)
{
    *c = (collected){pb_pool_alloc(pool, capacity * sizeof(pb_account)),
                     pb_pool_alloc(pool, capacity * sizeof(pb_binding_times)), 0, false, PB_PLATFORM_NONE};
}

/*
 * Adds a binding once per account; the same pair answered twice keeps the
 * earliest bind_time and the latest last_bind_time, as a re-bind would. A
 * missing time is read as an import reads it (import/import.h): the last one
 * now, the first one the last one; now is only used when another binding of
 * the change has times (else the change carries none and the store uses its
 * own clock).
 */
static void collect(collected *c, const pb_pull_binding *b, int64_t now)
{
    int64_t last = b->last_bind_time > 0 ? b->last_bind_time : now;
    pb_binding_times t = {b->bind_time > 0 && b->bind_time <= last ? b->bind_time : last, last};
    c->timed |= b->bind_time > 0 || b->last_bind_time > 0;
    if (c->platform == PB_PLATFORM_NONE)
        c->platform = platform_named(b->platform);
    size_t seen = 0;
    while (seen < c->n && !pb_account_eq(&c->accounts[seen], &b->account))
        seen++;
    if (seen == c->n) {
        c->accounts[c->n] = b->account;
        c->times[c->n++] = t;
        return;
    }
    if (t.bind_time < c->times[seen].bind_time)
        c->times[seen].bind_time = t.bind_time;
    if (t.last_bind_time > c->times[seen].last_bind_time)
        c->times[seen].last_bind_time = t.last_bind_time;
}

static pb_change collected_append(const collected *c, pb_str token)
{
    return (pb_change){.kind = PB_CHANGE_APPEND, .token = token, .accounts = c->accounts, .n_accounts = c->n,
                       .platform = c->platform, .times = c->timed ? c->times : NULL};
}

static void group_by_token(const pb_pull_line *lines, size_t n, pb_pool *pool, pb_pull_changes *out)
{
    out->changes = pb_pool_alloc(pool, n * sizeof(*out->changes));
    out->lines_of = pb_pool_alloc(pool, n * sizeof(*out->lines_of));
    out->n_lines = pb_pool_alloc(pool, n * sizeof(*out->n_lines));
    int64_t now = pb_clock_unix_s();
    for (size_t i = 0; i < n; i++) {
        if (!answered(&lines[i]))
            continue;
        const pb_pull_entry *e = lines[i].entry;
        collected c;
        collect_start(&c, e->n, pool);
        for (size_t j = 0; j < e->n; j++)
            collect(&c, &e->bindings[j], now);
        out->lines_of[out->n] = pb_pool_alloc(pool, sizeof(size_t));
        out->lines_of[out->n][0] = i;
        out->n_lines[out->n] = 1;
        out->changes[out->n++] = collected_append(&c, lines[i].item.token);
        out->pairs += c.n;
    }
}

/* Kahn's algorithm over the edges each account's chain of tokens gives; fills order[0..n_tokens-1]. */
static void order_tokens(const pair *pairs, size_t n_pairs, size_t n_tokens, pb_pool *pool, size_t *order)
{
    size_t *indegree = pb_pool_alloc(pool, n_tokens * sizeof(size_t));
    size_t *first_edge = pb_pool_alloc(pool, (n_tokens + 1) * sizeof(size_t));
    size_t *targets = pb_pool_alloc(pool, n_pairs * sizeof(size_t));
    bool *done = pb_pool_alloc(pool, n_tokens * sizeof(bool));
    memset(indegree, 0, n_tokens * sizeof(size_t));
    memset(first_edge, 0, (n_tokens + 1) * sizeof(size_t));
    memset(done, 0, n_tokens * sizeof(bool));
    /* An edge from each pair to the next pair of the same line. */
    for (size_t i = 0; i + 1 < n_pairs; i++)
        if (pairs[i + 1].line == pairs[i].line)
            first_edge[pairs[i].token + 1]++, indegree[pairs[i + 1].token]++;
    for (size_t t = 0; t < n_tokens; t++)
        first_edge[t + 1] += first_edge[t];
    size_t *fill = pb_pool_alloc(pool, n_tokens * sizeof(size_t));
    memcpy(fill, first_edge, n_tokens * sizeof(size_t));
    for (size_t i = 0; i + 1 < n_pairs; i++)
        if (pairs[i + 1].line == pairs[i].line)
            targets[fill[pairs[i].token]++] = pairs[i + 1].token;

    heap ready = {pb_pool_alloc(pool, n_tokens * sizeof(size_t)), 0};
    for (size_t t = 0; t < n_tokens; t++)
        if (indegree[t] == 0)
            heap_push(&ready, t);
    size_t n_ordered = 0, next_stuck = 0;
    while (n_ordered < n_tokens) {
        if (ready.n == 0) { /* a cycle: take the earliest token left */
            while (done[next_stuck])
                next_stuck++;
            indegree[next_stuck] = 0;
            heap_push(&ready, next_stuck);
        }
        size_t t = heap_pop(&ready);
        if (done[t])
            continue;
        done[t] = true;
        order[n_ordered++] = t;
        for (size_t e = first_edge[t]; e < first_edge[t + 1]; e++)
            if (!done[targets[e]] && --indegree[targets[e]] == 0)
                heap_push(&ready, targets[e]);
    }
}

static int by_bind_time(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->binding->bind_time != y->binding->bind_time)
        return x->binding->bind_time < y->binding->bind_time ? -1 : 1;
    /* Equal times keep input order: qsort is not stable by itself. */
    return x->line < y->line ? -1 : x->line > y->line;
}

static void group_by_account(const pb_pull_line *lines, size_t n, pb_pool *pool, pb_pull_changes *out)
{
    size_t n_pairs = 0;
    for (size_t i = 0; i < n; i++)
        n_pairs += answered(&lines[i]) ? lines[i].entry->n : 0;
    if (n_pairs == 0)
        return;
    token_table table = {.tokens = pb_pool_alloc(pool, n_pairs * sizeof(pb_str))};
    size_t size = 16;
    while (size < 2 * n_pairs)
        size *= 2;
    table.slots = pb_pool_alloc(pool, size * sizeof(size_t));
    memset(table.slots, 0, size * sizeof(size_t));
    table.mask = size - 1;
    pair *pairs = pb_pool_alloc(pool, n_pairs * sizeof(pair));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; answered(&lines[i]) && j < lines[i].entry->n; j++)
            pairs[k++] = (pair){i, token_index(&table, lines[i].entry->bindings[j].token), &lines[i].entry->bindings[j]};

    size_t *order = pb_pool_alloc(pool, table.n * sizeof(size_t));
    order_tokens(pairs, n_pairs, table.n, pool, order);

    /* The pairs of each token together, in input order (a counting sort). */
    size_t *start = pb_pool_alloc(pool, (table.n + 1) * sizeof(size_t));
    memset(start, 0, (table.n + 1) * sizeof(size_t));
    for (size_t i = 0; i < n_pairs; i++)
        start[pairs[i].token + 1]++;
    for (size_t t = 0; t < table.n; t++)
        start[t + 1] += start[t];
    pair *by_token = pb_pool_alloc(pool, n_pairs * sizeof(pair));
    size_t *fill = pb_pool_alloc(pool, table.n * sizeof(size_t));
    memcpy(fill, start, table.n * sizeof(size_t));
    for (size_t i = 0; i < n_pairs; i++)
        by_token[fill[pairs[i].token]++] = pairs[i];

    out->changes = pb_pool_alloc(pool, table.n * sizeof(*out->changes));
    out->lines_of = pb_pool_alloc(pool, table.n * sizeof(*out->lines_of));
    out->n_lines = pb_pool_alloc(pool, table.n * sizeof(*out->n_lines));
    int64_t now = pb_clock_unix_s();
    for (size_t o = 0; o < table.n; o++) {
        size_t t = order[o];
        pair *group = &by_token[start[t]];
        size_t count = start[t + 1] - start[t], timed = 0;
        for (size_t i = 0; i < count; i++)
            timed += group[i].binding->bind_time > 0;
        if (timed == count)
            qsort(group, count, sizeof(pair), by_bind_time);
        collected c;
        collect_start(&c, count, pool);
        size_t *line_ids = pb_pool_alloc(pool, count * sizeof(size_t));
        for (size_t i = 0; i < count; i++) {
            line_ids[i] = group[i].line;
            collect(&c, group[i].binding, now);
        }
        out->lines_of[out->n] = line_ids;
        out->n_lines[out->n] = count;
        out->changes[out->n++] = collected_append(&c, table.tokens[t]);
        out->pairs += c.n;
    }
}

void pb_pull_group(pb_pull_kind kind, const pb_pull_line *lines, size_t n, pb_pool *pool, pb_pull_changes *out)
{
    *out = (pb_pull_changes){0};
    if (kind == PB_PULL_BY_TOKEN)
        group_by_token(lines, n, pool, out);
    else
        group_by_account(lines, n, pool, out);
}
