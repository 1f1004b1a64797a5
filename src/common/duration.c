#include "common/duration.h"

const char *pb_duration_parse(const char *text, int64_t *seconds)
{
    const char *p = text;
    int64_t value = 0;
    if (*p < '0' || *p > '9')
        return "expected a positive integer and a unit: 30s, 45m, 12h or 270d";
    for (; *p >= '0' && *p <= '9'; p++) {
        value = value * 10 + (*p - '0');
        if (value > PB_DURATION_MAX_SECONDS) /* before it can overflow: every unit is at least 1 s */
            return "too long: at most 3650d";
    }
    int64_t unit;
    switch (*p) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    case '\0':
        return "missing unit: s, m, h or d";
    default:
        return "unknown unit: expected s, m, h or d";
    }
    if (p[1] != '\0')
        return "expected one integer and one unit: 30s, 45m, 12h or 270d";
    if (value == 0)
        return "must be positive";
    if (value > PB_DURATION_MAX_SECONDS / unit)
        return "too long: at most 3650d";
    *seconds = value * unit;
    return NULL;
}
