/*
 * store/app_keys.h — how both backends store a named key (store.h, "Named
 * keys"), and the packed list a SECRET lookup returns. Private to store/.
 *
 * A key's record, stored under its name (LMDB: the keys database, key
 * access_id | name; Redis: field "key:NAME" of the app's hash):
 *
 *   role (1) | created_at (8, big-endian) | expires_at (8, big-endian) | secret
 *
 * The packed list is the records one after the other, each as
 *
 *   name_len (1) | name | record_len (1) | record
 *
 * (a name is at most 64 bytes and a record at most 17 + 128).
 */
#ifndef PB_STORE_APP_KEYS_H
#define PB_STORE_APP_KEYS_H

#include "store/store.h"

#define PB_KEY_RECORD_HEAD 17
#define PB_KEY_RECORD_MAX (PB_KEY_RECORD_HEAD + PB_KEY_SECRET_MAX)

/* Writes `key`'s record (role, times, secret) into out[PB_KEY_RECORD_MAX]; returns its length. */
size_t pb_key_record_build(unsigned char *out, const pb_app_key *key);

/* Reads a record into *key (name untouched; secret points into `record`). Returns false when malformed. */
bool pb_key_record_parse(const unsigned char *record, size_t len, pb_app_key *key);

/*
 * Appends name and record to the packed list *packed, allocated from `pool`
 * (grown by copying: an app has at most PB_KEYS_PER_APP keys). Skips a pair
 * too long to pack.
 */
void pb_keys_pack(pb_pool *pool, pb_str *packed, pb_str name, pb_str record);

/* Checks what pb_store_key_put() refuses as EINVAL, before a backend writes; writes the reason into error. */
bool pb_key_check(const pb_app_key *key, char *error, size_t error_size);

#endif
