/*
 * client.h — who sent a request: the peer's address, or the first
 * X-Forwarded-For hop when the peer is a trusted proxy (serve
 * --trusted-proxy CIDR[,CIDR…]). Kept as bytes (16, an IPv4 address mapped
 * into IPv6), formatted only when a log line is written. Internal to the
 * HTTP layer.
 *
 * A trusted proxy must set X-Forwarded-For itself (overwrite what a client
 * sent, or let the first hop be its own view of the client): the first hop is
 * what the log and the throttle believe.
 */
#ifndef PB_CLIENT_H
#define PB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct st_h2o_req_t; /* h2o_req_t: this header is server.h's too, which names no h2o type */

#define PB_MAX_TRUSTED_PROXIES 16
#define PB_CLIENT_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

typedef struct pb_client_address {
    uint8_t bytes[16]; /* IPv6, or ::ffff:a.b.c.d */
    bool known;        /* false: a peer h2o could not name (a UNIX socket) */
} pb_client_address;

typedef struct pb_cidr {
    uint8_t bytes[16];
    unsigned prefix; /* bits, of the 128 (an IPv4 /n is 96 + n) */
} pb_cidr;

typedef struct pb_trusted_proxies {
    pb_cidr cidrs[PB_MAX_TRUSTED_PROXIES];
    size_t n;
} pb_trusted_proxies;

/*
 * Parses "CIDR[,CIDR…]" (an address alone is a /32 or /128) into *proxies.
 * Returns NULL, or a message saying what is wrong.
 */
const char *pb_trusted_proxies_parse(const char *text, pb_trusted_proxies *proxies);

/*
 * The request's peer, and *forwarded the first X-Forwarded-For hop when the
 * peer is in `proxies` and the hop is an IP address (else forwarded->known
 * is false). The client is the hop when there is one, else the peer.
 */
void pb_client_of(struct st_h2o_req_t *req, const pb_trusted_proxies *proxies, pb_client_address *peer,
                  pb_client_address *forwarded);

/* The address as text ("-" when unknown) into out[PB_CLIENT_TEXT_MAX]; returns its length. */
size_t pb_client_format(const pb_client_address *address, char *out);

#endif
