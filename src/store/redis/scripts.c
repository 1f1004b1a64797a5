/*
 * store/redis/scripts.c — the Lua scripts of the Redis backend. Each touches one
 * key (or keys of one hash tag), so it runs atomically on one node of a
 * cluster; together they implement the protocol described in docs/design.md.
 */
#include <openssl/sha.h>
#include <stdio.h>

#include "store/redis/scripts.h"

/*
 * begin_batch — KEYS: app hash, seq counter, account types set (one hash
 * tag). ARGV: n, untracked, then the account types the batch may bind.
 * Returns -1 when the app does not exist, else reserves n seqs and returns
 * the last (the batch uses last-n+1 … last; n = 0 only checks the app). With
 * untracked "1" (a writer without a TTL, which writes no expiry index
 * entries) it counts the batch in the app's `untracked` (backfill.c). The
 * types go into the app's set before any of the batch's bindings can be
 * visible (account_types.c).
 */
static const char begin_batch_body[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[1], 'untracked', 1) end\n"
    "if #ARGV > 2 then redis.call('SADD', KEYS[3], unpack(ARGV, 3)) end\n"
    "return redis.call('INCRBY', KEYS[2], ARGV[1])\n";

/*
 * mark_indexed — KEYS: app hash. ARGV: the `untracked` read before a
 * backfill walk. Sets `indexed` to it when the app still exists and
 * `untracked` has not moved since; returns 1 when it did.
 */
static const char mark_indexed_body[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "if (redis.call('HGET', KEYS[1], 'untracked') or '0') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'indexed', ARGV[1])\n"
    "return 1\n";

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
 * change — KEYS: a token's record, its details hash (one hash tag). ARGV:
 * mode, limit, now, ttl, platform (0 none, 1, 2), n, then n triples
 * (account member, seq, times) to add when absent, then the mode's operand
 * pairs:
 *   a  append: (member, times) of every listed account, re-bound when bound
 *   o  overwrite: the same; every other member is removed
 *   r  remove: (member, "") to remove
 *   c  clear: none (every member is removed)
 *   x  remove exactly: (member, seq), removed only with that score
 *   e  expire: none (only the expiry below)
 * `times` is "BIND|LAST" given by the caller, or "" for now.
 *
 * With ttl > 0, bindings whose last_bind_time + ttl <= now are removed first,
 * as if absent. Refuses, changing nothing, when it would add members and the
 * record would then hold more than `limit` live ones: returns {0}. Returns
 * {2}, changing nothing, when a or o lists an account the caller read as
 * bound (so it brings no seq for it) and the record no longer holds it: an
 * unbind (op 4, an invalidation) ran in between, and the caller reads again.
 * Otherwise returns {1, expired, earliest, taken_1 … taken_n, removed member,
 * removed score, …}: `expired` removed pairs (listed first) went by expiry;
 * earliest is the least last_bind_time left (0 when none, or ttl = 0);
 * taken_i is 1 when pair i was added and 0 when the member was already bound
 * (it keeps its seq; its last_bind_time moves). A re-bind with given times
 * keeps the earlier bind_time and the later last_bind_time. The platform is
 * set by a or o; the details go with the last binding.
 */
static const char change_body[] =
    "local key, tkey, mode = KEYS[1], KEYS[2], ARGV[1]\n"
    "local limit, now, ttl, platform, n = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])\n"
    "local rest = 7 + 3 * n\n"
    "local function times(m)\n"
    "  local t = redis.call('HGET', tkey, m)\n"
    "  if not t then return nil end\n"
    "  local b, l = string.match(t, '^(%d+)|(%d+)$')\n"
    "  return tonumber(b), tonumber(l)\n"
    "end\n"
    "local current = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')\n"
    "local alive, live, expired, removed, taken, fresh = {}, 0, {}, {}, {}, 0\n"
    "for j = 1, #current, 2 do\n"
    "  local m, last = current[j], nil\n"
    "  if ttl > 0 then local _, l = times(m); last = l or 0 end\n"
    "  if last and last + ttl <= now then expired[#expired + 1] = m; expired[#expired + 1] = current[j + 1]\n"
    "  else alive[m] = current[j + 1]; live = live + 1 end\n"
    "end\n"
    "for i = 1, n do\n"
    "  if alive[ARGV[4 + 3 * i]] then taken[i] = 0 else taken[i] = 1; fresh = fresh + 1 end\n"
    "end\n"
    "local listed = {}\n"
    "for i = rest, #ARGV, 2 do listed[ARGV[i]] = ARGV[i + 1] end\n"
    "if mode == 'a' or mode == 'o' then\n"
    "  local adding = {}\n"
    "  for i = 1, n do adding[ARGV[4 + 3 * i]] = true end\n"
    "  for m in pairs(listed) do if not alive[m] and not adding[m] then return {2} end end\n"
    "end\n"
    "if mode == 'o' or mode == 'r' or mode == 'c' then\n"
    "  for j = 1, #current, 2 do\n"
    "    local m = current[j]\n"
    "    if alive[m] and (mode == 'c' or (mode == 'o' and not listed[m]) or (mode == 'r' and listed[m])) then\n"
    "      removed[#removed + 1] = m; removed[#removed + 1] = current[j + 1]; alive[m] = nil\n"
    "    end\n"
    "  end\n"
    "elseif mode == 'x' then\n"
    "  for m, seq in pairs(listed) do\n"
    "    local s = alive[m]\n"
    "    if s and tonumber(s) == tonumber(seq) then removed[#removed + 1] = m; removed[#removed + 1] = s; alive[m] = nil end\n"
    "  end\n"
    "end\n"
    "local left = live - #removed / 2 + fresh\n"
    "if fresh > 0 and left > limit then return {0} end\n"
    "for j = 1, #expired, 2 do redis.call('ZREM', key, expired[j]); redis.call('HDEL', tkey, expired[j]) end\n"
    "for j = 1, #removed, 2 do redis.call('ZREM', key, removed[j]); redis.call('HDEL', tkey, removed[j]) end\n"
    "for i = 1, n do\n"
    "  if taken[i] == 1 then\n"
    "    local t = ARGV[6 + 3 * i]\n"
    "    redis.call('ZADD', key, ARGV[5 + 3 * i], ARGV[4 + 3 * i])\n"
    "    redis.call('HSET', tkey, ARGV[4 + 3 * i], t ~= '' and t or (now .. '|' .. now))\n"
    "  end\n"
    "end\n"
    "if mode == 'a' or mode == 'o' then\n"
    "  for m, t in pairs(listed) do\n"
    "    if alive[m] then\n"
    "      local b0, l0 = times(m)\n"
    "      local b, l = string.match(t, '^(%d+)|(%d+)$')\n"
    "      if not b then b, l = b0 or now, now\n"
    "      elseif b0 then b, l = math.min(b0, tonumber(b)), math.max(l0, tonumber(l)) end\n"
    "      redis.call('HSET', tkey, m, b .. '|' .. l)\n"
    "    end\n"
    "  end\n"
    "  if platform ~= '0' and left > 0 then redis.call('HSET', tkey, 'p', platform) end\n"
    "end\n"
    "local earliest = 0\n"
    "if left == 0 then redis.call('DEL', tkey)\n"
    "elseif ttl > 0 then\n"
    "  local all = redis.call('HGETALL', tkey)\n"
    "  for j = 1, #all, 2 do\n"
    "    local l = all[j] ~= 'p' and tonumber(string.match(all[j + 1], '|(%d+)$'))\n"
    "    if l and (earliest == 0 or l < earliest) then earliest = l end\n"
    "  end\n"
    "end\n"
    "local out = {1, #expired / 2, earliest}\n"
    "for i = 1, n do out[#out + 1] = taken[i] end\n"
    "for j = 1, #expired do out[#out + 1] = expired[j] end\n"
    "for j = 1, #removed do out[#out + 1] = removed[j] end\n"
    "return out\n";

/*
 * rescore — KEYS: an expiry index. ARGV: triples (token, score read, new
 * score). Sets each entry to its new score (0: removes it) only when it still
 * has the score read: a writer that moved it meanwhile knows better.
 */
static const char rescore_body[] =
    "local done = 0\n"
    "for i = 1, #ARGV, 3 do\n"
    "  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])\n"
    "  if s and tonumber(s) == tonumber(ARGV[i + 1]) then\n"
    "    if tonumber(ARGV[i + 2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[i])\n"
    "    else redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i]) end\n"
    "    done = done + 1\n"
    "  end\n"
    "end\n"
    "return done\n";

/*
 * app_put — KEYS: app hash. ARGV: secret, now. Sets the secret, and the
 * creation time and a zero count when the app is new; returns 1 when it was.
 */
static const char app_put_body[] =
    "local created = redis.call('HSETNX', KEYS[1], 'created', ARGV[2])\n"
    "if created == 1 then redis.call('HSET', KEYS[1], 'bindings', 0) end\n"
    "redis.call('HSET', KEYS[1], 'secret', ARGV[1])\n"
    "return created\n";

/*
 * key_put — KEYS: app hash. ARGV: field ("key:NAME"), record, the most keys
 * an app may have. Adds the field when the app exists, has no key of that
 * name and fewer keys than the most; returns 1, or -1 (no app), -2 (the name
 * is taken), -3 (too many keys).
 */
static const char key_put_body[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return -2 end\n"
    "local n = 0\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "  if string.sub(f, 1, 4) == 'key:' then n = n + 1 end\n"
    "end\n"
    "if n >= tonumber(ARGV[3]) then return -3 end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n";

void pb_redis_script_init(pb_redis_script *script, const char *body)
{
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)body, strlen(body), digest);
    script->body = body;
    for (size_t i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(script->sha1 + 2 * i, 3, "%02x", digest[i]);
}

void pb_redis_scripts_init(pb_redis_scripts *scripts)
{
    pb_redis_script_init(&scripts->begin_batch, begin_batch_body);
    pb_redis_script_init(&scripts->reserve, reserve_body);
    pb_redis_script_init(&scripts->change, change_body);
    pb_redis_script_init(&scripts->rescore, rescore_body);
    pb_redis_script_init(&scripts->app_put, app_put_body);
    pb_redis_script_init(&scripts->key_put, key_put_body);
    pb_redis_script_init(&scripts->mark_indexed, mark_indexed_body);
    pb_redis_tag_scripts_init(scripts);
}
