#include "common/utf8.h"

size_t pb_utf8_sequence_length(const unsigned char *s, size_t left)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned char min_second = 0x80, max_second = 0xbf;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        if (s[0] == 0xe0)
            min_second = 0xa0; /* overlong */
        if (s[0] == 0xed)
            max_second = 0x9f; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        if (s[0] == 0xf0)
            min_second = 0x90; /* overlong */
        if (s[0] == 0xf4)
            max_second = 0x8f; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (left < len || s[1] < min_second || s[1] > max_second)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

bool pb_utf8_is_valid(const char *s, size_t len)
{
    const unsigned char *bytes = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (bytes[i] < 0x80) { /* keys, accounts and tokens are mostly ASCII: no call per byte */
            i++;
            continue;
        }
        size_t n = pb_utf8_sequence_length(bytes + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}
