/*
 * store/redis/apps_watch.h — how servers learn that an app changed: `app
 * add` and `app remove` PUBLISH its access id, and each serving process
 * listens with one SUBSCRIBE connection on its own thread, owned by the
 * store. Private to store/redis/.
 */
#ifndef PB_STORE_REDIS_APPS_WATCH_H
#define PB_STORE_REDIS_APPS_WATCH_H

#include "store/redis/handles.h"

/* Tells the processes listening that app `access_id` changed; a failure is only noted (the TTL bounds it). */
void pb_redis_apps_publish(pb_redis_session *session, uint64_t access_id);

/* Starts the thread that listens; NULL when it cannot. */
pb_redis_apps_watch *pb_redis_apps_watch_start(pb_redis_store *store);
void pb_redis_apps_watch_stop(pb_redis_apps_watch *watch);

/*
 * Changes whenever an app may have changed (a message came, or the listening
 * connection was lost and messages may have been missed); 0 without a watch.
 */
uint64_t pb_redis_apps_epoch(const pb_redis_apps_watch *watch);

#endif
