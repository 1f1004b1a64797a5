/*
 * utf8.h — strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates,
 * nothing above U+10FFFF. yajl's own check lets all three through, and the
 * account rules need to look at each character, so pushbind keeps one.
 */
#ifndef PB_UTF8_H
#define PB_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The length (1–4) of the UTF-8 sequence that starts at s[0], of the `left`
 * bytes available, or 0 when it is not a valid sequence. `left` must be > 0.
 */
size_t pb_utf8_sequence_length(const unsigned char *s, size_t left);

/* Whether s[0..len) is entirely valid UTF-8. */
bool pb_utf8_is_valid(const char *s, size_t len);

#endif
