/*
 * duration.h — durations as an operator writes them on the command line
 * (`--binding-ttl 270d`): a positive decimal integer and one unit.
 *
 * Units: s (seconds), m (minutes), h (hours), d (days). No sign, no space, no
 * fraction, no second unit ("1h30m"): a TTL is a policy, and one number in
 * one unit is what a policy reads like.
 */
#ifndef PB_DURATION_H
#define PB_DURATION_H

#include <stddef.h>
#include <stdint.h>

/*
 * The longest duration accepted, 3650 days (about ten years). Bind times are
 * stored as unsigned 32-bit Unix seconds, and a TTL longer than the lifetime
 * of any device is a mistake rather than a policy.
 */
#define PB_DURATION_MAX_SECONDS (3650 * 86400LL)

/*
 * Reads `text` (NUL-terminated) into *seconds. Returns NULL on success, else
 * a one-line message saying what is wrong (a static string; *seconds is then
 * untouched), for the caller to print after the flag's name.
 */
const char *pb_duration_parse(const char *text, int64_t *seconds);

#endif
