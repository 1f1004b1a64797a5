#include "api/api.h"

void pb_api_config_defaults(pb_api_config *config)
{
    *config = (pb_api_config){
        .max_query_items = PB_DEFAULT_MAX_QUERY_ITEMS,
        .max_batch_items = PB_DEFAULT_MAX_BATCH_ITEMS,
        .max_list_items = PB_DEFAULT_MAX_LIST_ITEMS,
        .max_account_bytes = PB_DEFAULT_MAX_ACCOUNT_BYTES,
        .max_token_bytes = PB_DEFAULT_MAX_TOKEN_BYTES,
        .one_account_per_type = false,
    };
}
