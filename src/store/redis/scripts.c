/*
 * scripts.c — the Lua scripts of the Redis backend. Each touches one
 * key (or keys of one hash tag), so it runs atomically on one node of a
 * cluster; together they implement the protocol described in docs/design.md.
 */
#include <openssl/sha.h>
#include <stdio.h>

#include "store/redis/internal.h"

/*
 * begin_batch — KEYS: app hash, seq counter (one hash tag). ARGV: n.
 * Returns -1 when the app does not exist, else reserves n seqs and returns
 * the last (the batch uses last-n+1 … last; n = 0 only checks the app).
 */
static const char begin_batch_body[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "return redis.call('INCRBY', KEYS[2], ARGV[1])\n";

/*
 * reserve — KEYS: an account's index. ARGV: limit, member, seq.
 * Adds the member unless the index already holds `limit` members; returns 1
 * (added, or already there) or 0 (refused). Counting every member, confirmed
 * or not, is what keeps the tokens-per-account limit under concurrency: it
 * can only over-count, never under-count.
 */
static const char reserve_body[] =
    "if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 1 end\n"
    "if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end\n"
    "redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])\n"
    "return 1\n";

/*
 * change — KEYS: a token's record. ARGV: mode, limit, n, then n pairs
 * (account member, seq) to add when absent, then the mode's operands:
 *   a  append: none
 *   o  overwrite: the members to keep (every other member is removed)
 *   r  remove: the members to remove
 *   c  clear: none (every member is removed)
 *   x  remove exactly: pairs (member, seq), removed only with that score
 * Refuses, changing nothing, when it would add members and the record would
 * then hold more than `limit`: returns {0}. Otherwise returns {1, taken_1 …
 * taken_n, removed member, removed score, …} where taken_i is 1 when pair i
 * was added and 0 when the member was already there (it keeps its seq).
 */
static const char change_body[] =
    "local key, mode, limit, n = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local rest, taken, fresh, removed = 4 + 2 * n, {}, 0, {}\n"
    "for i = 1, n do\n"
    "  if redis.call('ZSCORE', key, ARGV[2 + 2 * i]) then taken[i] = 0\n"
    "  else taken[i] = 1; fresh = fresh + 1 end\n"
    "end\n"
    "local current = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')\n"
    "if mode == 'o' or mode == 'r' or mode == 'c' then\n"
    "  local listed = {}\n"
    "  for i = rest, #ARGV do listed[ARGV[i]] = true end\n"
    "  for j = 1, #current, 2 do\n"
    "    local drop = mode == 'c' or (mode == 'o' and not listed[current[j]]) or (mode == 'r' and listed[current[j]])\n"
    "    if drop then removed[#removed + 1] = current[j]; removed[#removed + 1] = current[j + 1] end\n"
    "  end\n"
    "elseif mode == 'x' then\n"
    "  for i = rest, #ARGV, 2 do\n"
    "    local s = redis.call('ZSCORE', key, ARGV[i])\n"
    "    if s and tonumber(s) == tonumber(ARGV[i + 1]) then removed[#removed + 1] = ARGV[i]; removed[#removed + 1] = s end\n"
    "  end\n"
    "end\n"
    "if fresh > 0 and #current / 2 - #removed / 2 + fresh > limit then return {0} end\n"
    "for j = 1, #removed, 2 do redis.call('ZREM', key, removed[j]) end\n"
    "for i = 1, n do\n"
    "  if taken[i] == 1 then redis.call('ZADD', key, ARGV[3 + 2 * i], ARGV[2 + 2 * i]) end\n"
    "end\n"
    "local out = {1}\n"
    "for i = 1, n do out[#out + 1] = taken[i] end\n"
    "for j = 1, #removed do out[#out + 1] = removed[j] end\n"
    "return out\n";

/*
 * app_put — KEYS: app hash. ARGV: secret, now. Sets the secret, and the
 * creation time and a zero count when the app is new; returns 1 when it was.
 */
static const char app_put_body[] =
    "local created = redis.call('HSETNX', KEYS[1], 'created', ARGV[2])\n"
    "if created == 1 then redis.call('HSET', KEYS[1], 'bindings', 0) end\n"
    "redis.call('HSET', KEYS[1], 'secret', ARGV[1])\n"
    "return created\n";

static void script_init(pb_redis_script *script, const char *body)
{
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)body, strlen(body), digest);
    script->body = body;
    for (size_t i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(script->sha1 + 2 * i, 3, "%02x", digest[i]);
}

void pb_redis_scripts_init(pb_redis_scripts *scripts)
{
    script_init(&scripts->begin_batch, begin_batch_body);
    script_init(&scripts->reserve, reserve_body);
    script_init(&scripts->change, change_body);
    script_init(&scripts->app_put, app_put_body);
}
