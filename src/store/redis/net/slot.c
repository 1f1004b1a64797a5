/* store/redis/net/slot.c — key slots and redirect replies (see slot.h). */
#include <stdlib.h>
#include <string.h>

#include "store/redis/net/slot.h"

uint16_t pb_redis_crc16(const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned pb_redis_key_slot(const void *key, size_t len)
{
    const char *k = key;
    const char *open = memchr(k, '{', len);
    if (open != NULL) {
        size_t rest = len - (size_t)(open - k) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close != NULL && close > open + 1)
            return pb_redis_crc16(open + 1, (size_t)(close - open - 1)) & (PB_REDIS_SLOTS - 1);
    }
    return pb_redis_crc16(k, len) & (PB_REDIS_SLOTS - 1);
}

/* Parses a decimal number of at most `max` from [p, end); returns -1 when malformed. */
static long parse_number(const char *p, const char *end, long max)
{
    long value = 0;
    if (p == end)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        value = value * 10 + (*p - '0');
        if (value > max)
            return -1;
    }
    return value;
}

int pb_redis_parse_redirect(const char *error, size_t len, pb_redirect *out)
{
    const char *end = error + len, *p;
    out->kind = PB_REDIRECT_NONE;
    pb_redirect_kind kind;
    if (len > 6 && memcmp(error, "MOVED ", 6) == 0) {
        kind = PB_REDIRECT_MOVED;
        p = error + 6;
    } else if (len > 4 && memcmp(error, "ASK ", 4) == 0) {
        kind = PB_REDIRECT_ASK;
        p = error + 4;
    } else {
        return -1;
    }
    const char *space = memchr(p, ' ', (size_t)(end - p));
    if (space == NULL)
        return -1;
    long slot = parse_number(p, space, PB_REDIS_SLOTS - 1);
    const char *address = space + 1, *colon = NULL;
    for (const char *c = address; c < end; c++)
        if (*c == ':')
            colon = c;
    if (slot < 0 || colon == NULL || colon == address || (size_t)(colon - address) >= sizeof(out->host))
        return -1;
    long port = parse_number(colon + 1, end, 65535);
    if (port <= 0)
        return -1;
    memcpy(out->host, address, (size_t)(colon - address));
    out->host[colon - address] = '\0';
    out->slot = (unsigned)slot;
    out->port = (uint16_t)port;
    out->kind = kind;
    return 0;
}
