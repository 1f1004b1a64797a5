/* h2o_private.c — reads of h2o 2.2.5's private context fields (see h2o_private.h). */
#include "http/h2o_private.h"

#include <h2o/version.h>

#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "h2o_private.c reads private fields of h2o 2.2's h2o_context_t: check them against this h2o and update"
#endif

bool pb_h2o_has_connections(h2o_context_t *ctx)
{
    return !h2o_linklist_is_empty(&ctx->http1._conns) || !h2o_linklist_is_empty(&ctx->http2._conns);
}

void pb_h2o_disarm_shutdown_timer(h2o_context_t *ctx)
{
    if (h2o_timeout_is_linked(&ctx->http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&ctx->http2._graceful_shutdown_timeout);
}
