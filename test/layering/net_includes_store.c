/*
 * Must not compile: a source of store/redis/net (the Redis cluster client)
 * sees its own folder and common/, never the store it serves.
 */
#include "store/redis/net/cluster.h"
#include "store/store.h"
