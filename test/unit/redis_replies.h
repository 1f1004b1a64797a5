/*
 * Replies of a test's own making, freed by freeReplyObject() as hiredis's
 * are: for the unit tests that hand the Redis backend's pure parts (the write
 * machine, the lookups' parsing) what a server would have answered.
 */
#ifndef PB_TEST_REDIS_REPLIES_H
#define PB_TEST_REDIS_REPLIES_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

static inline redisReply *reply_new(int type)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = type;
    return r;
}

static inline redisReply *r_int(long long n)
{
    redisReply *r = reply_new(REDIS_REPLY_INTEGER);
    r->integer = n;
    return r;
}

static inline redisReply *r_str(const char *bytes, size_t len)
{
    redisReply *r = reply_new(REDIS_REPLY_STRING);
    r->str = malloc(len + 1);
    memcpy(r->str, bytes, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static inline redisReply *r_error(const char *text)
{
    redisReply *r = r_str(text, strlen(text));
    r->type = REDIS_REPLY_ERROR;
    return r;
}

/* An array of `n` replies, taken over. */
static inline redisReply *r_array(size_t n, ...)
{
    redisReply *r = reply_new(REDIS_REPLY_ARRAY);
    r->elements = n;
    r->element = calloc(n == 0 ? 1 : n, sizeof(*r->element));
    va_list args;
    va_start(args, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(args, redisReply *);
    va_end(args);
    return r;
}

#endif
