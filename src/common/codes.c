#include <stddef.h>

#include "common/codes.h"

static const struct {
    int code;
    const char *message;
} code_table[] = {
    {PB_OK, "ok"},
    {PB_ERR_PARSE, "parameter parse error"},
    {PB_ERR_MISSING, "missing parameter"},
    {PB_ERR_AUTH, "auth failure"},
    {PB_ERR_STORE, "invoke service error"},
    {PB_ERR_TOKEN, "invalid token"},
    {PB_ERR_PARAM, "invalid parameter"},
    {PB_ERR_PARTIAL, "batch op, partly error"},
    {PB_ERR_TOTAL, "batch op, total error"},
    {PB_ERR_RATE, "request too fast"},
    {PB_ERR_NO_BINDING, "no token, no account"},
};

const char *pb_code_message(int code)
{
    for (size_t i = 0; i < sizeof(code_table) / sizeof(code_table[0]); i++)
        if (code_table[i].code == code)
            return code_table[i].message;
    return "unknown error";
}

int pb_code_for_failures(size_t failed, size_t total)
{
    if (failed == 0)
        return PB_OK;
    return failed == total ? PB_ERR_TOTAL : PB_ERR_PARTIAL;
}
