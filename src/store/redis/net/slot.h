/*
 * store/redis/net/slot.h — Redis Cluster's key → slot rule and its redirect replies,
 * as pure functions (no I/O), so they can be tested against known vectors.
 */
#ifndef PB_STORE_REDIS_NET_SLOT_H
#define PB_STORE_REDIS_NET_SLOT_H

#include <stddef.h>
#include <stdint.h>

/* Redis Cluster: "There are 16384 hash slots in Redis Cluster". */
#define PB_REDIS_SLOTS 16384

/* CRC16-CCITT (XModem: poly 0x1021, init 0), the checksum Redis Cluster uses. */
uint16_t pb_redis_crc16(const void *bytes, size_t len);

/*
 * The slot of `key`: CRC16 of the hash tag — the bytes between the first '{'
 * and the first '}' after it, when that is not empty — or of the whole key.
 */
unsigned pb_redis_key_slot(const void *key, size_t len);

typedef enum pb_redirect_kind {
    PB_REDIRECT_NONE = 0,
    PB_REDIRECT_MOVED, /* the slot lives elsewhere for good: refresh the map */
    PB_REDIRECT_ASK,   /* this one command, once, on the node named, after ASKING */
} pb_redirect_kind;

typedef struct pb_redirect {
    pb_redirect_kind kind;
    unsigned slot;
    char host[256];
    uint16_t port;
} pb_redirect;

/*
 * Parses an error reply "MOVED <slot> <host>:<port>" or "ASK <slot>
 * <host>:<port>" (host may be an IPv6 address; the port follows the last
 * ':'). Returns 0 and fills *out, or -1 (out->kind = PB_REDIRECT_NONE) for
 * any other text, a slot out of range or a malformed address.
 */
int pb_redis_parse_redirect(const char *error, size_t len, pb_redirect *out);

#endif
