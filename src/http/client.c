/* client.c — a request's client address and the trusted proxies (see client.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <h2o.h>

#include "http/client.h"

static void map_v4(const void *v4, uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, v4, 4);
}

/* A numeric IPv4 or IPv6 address into 16 bytes; *v4 says which. Returns false when it is neither. */
static bool parse_ip(const char *text, uint8_t out[16], bool *v4)
{
    uint8_t buf[16];
    if (inet_pton(AF_INET, text, buf) == 1) {
        map_v4(buf, out);
        *v4 = true;
        return true;
    }
    *v4 = false;
    return inet_pton(AF_INET6, text, out) == 1;
}

const char *pb_trusted_proxies_parse(const char *text, pb_trusted_proxies *proxies)
{
    proxies->n = 0;
    for (const char *p = text;;) {
        const char *end = strchr(p, ',');
        size_t len = end == NULL ? strlen(p) : (size_t)(end - p);
        char item[64];
        if (len == 0 || len >= sizeof(item))
            return "each must be an address or CIDR (10.0.0.0/8, ::1)";
        if (proxies->n == PB_MAX_TRUSTED_PROXIES)
            return "at most 16 CIDRs";
        memcpy(item, p, len);
        item[len] = '\0';
        char *slash = strchr(item, '/');
        if (slash != NULL)
            *slash = '\0';
        pb_cidr *cidr = &proxies->cidrs[proxies->n];
        bool v4;
        if (!parse_ip(item, cidr->bytes, &v4))
            return "each must be an address or CIDR (10.0.0.0/8, ::1)";
        unsigned max = v4 ? 32 : 128, bits = max;
        if (slash != NULL) {
            char *stop;
            unsigned long n = strtoul(slash + 1, &stop, 10);
            if (slash[1] == '\0' || *stop != '\0' || n > max)
                return "a CIDR's prefix is 0-32 (IPv4) or 0-128 (IPv6)";
            bits = (unsigned)n;
        }
        cidr->prefix = v4 ? 96 + bits : bits;
        proxies->n++;
        if (end == NULL)
            return NULL;
        p = end + 1;
    }
}

static bool in_cidr(const pb_cidr *cidr, const uint8_t bytes[16])
{
    unsigned whole = cidr->prefix / 8, rest = cidr->prefix % 8;
    if (memcmp(cidr->bytes, bytes, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (cidr->bytes[whole] & mask) == (bytes[whole] & mask);
}

static bool peer_of(h2o_req_t *req, pb_client_address *peer)
{
    struct sockaddr_storage ss;
    peer->known = false;
    if (req->conn->callbacks->get_peername == NULL || req->conn->callbacks->get_peername(req->conn, (void *)&ss) == 0)
        return false;
    if (ss.ss_family == AF_INET)
        map_v4(&((struct sockaddr_in *)&ss)->sin_addr, peer->bytes);
    else if (ss.ss_family == AF_INET6)
        memcpy(peer->bytes, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    else
        return false;
    peer->known = true;
    return true;
}

/* The first hop of X-Forwarded-For: up to the first comma, spaces trimmed. */
static bool first_hop(h2o_req_t *req, pb_client_address *hop)
{
    ssize_t index = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-forwarded-for"), -1);
    if (index == -1)
        return false;
    h2o_iovec_t value = req->headers.entries[index].value;
    size_t start = 0, end = 0;
    while (start < value.len && value.base[start] == ' ')
        start++;
    end = start;
    while (end < value.len && value.base[end] != ',' && value.base[end] != ' ')
        end++;
    char text[PB_CLIENT_TEXT_MAX];
    if (end == start || end - start >= sizeof(text))
        return false;
    memcpy(text, value.base + start, end - start);
    text[end - start] = '\0';
    bool v4;
    hop->known = parse_ip(text, hop->bytes, &v4);
    return hop->known;
}

void pb_client_of(h2o_req_t *req, const pb_trusted_proxies *proxies, pb_client_address *peer,
                  pb_client_address *forwarded)
{
    forwarded->known = false;
    if (!peer_of(req, peer) || proxies == NULL)
        return;
    for (size_t i = 0; i < proxies->n; i++)
        if (in_cidr(&proxies->cidrs[i], peer->bytes)) {
            first_hop(req, forwarded);
            return;
        }
}

size_t pb_client_format(const pb_client_address *address, char *out)
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    bool ok = false;
    if (address->known) {
        if (memcmp(address->bytes, v4_mapped, 12) == 0)
            ok = inet_ntop(AF_INET, address->bytes + 12, out, PB_CLIENT_TEXT_MAX) != NULL;
        else
            ok = inet_ntop(AF_INET6, address->bytes, out, PB_CLIENT_TEXT_MAX) != NULL;
    }
    if (!ok)
        strcpy(out, "-");
    return strlen(out);
}
