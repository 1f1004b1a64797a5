/*
 * store/redis/tag_scripts.c — the Lua scripts of the Redis backend's tags
 * (tag_write.c runs them; docs/design.md, "Tags (Redis)", walks through the
 * protocol and its failure cases). Each touches keys of one hash tag: the
 * app's ({A}), one tag's ({A:TAG}) or one token's ({A:TOKEN}).
 *
 * Values they keep (keyspace.h has the keys):
 *   the app's tags hash   TAG -> "gen|leases|lease_time|count|count_stamp"
 *   the app's graves      "gen|TAG", scored by when it died
 *   the app's tag names   TAG, score 0: the tags hash's names in byte order
 *   a tag's marks hash    TOKEN -> "n|best version|its seq|time"; "" = settle counter
 *   a token's tags hash   "t" TAG -> "seq|gen|time"; field "v" = version
 * Leases and marks count the writers in flight; the newest one's time says
 * whether they are dead: when it is older than PB_REDIS_TAG_STALE_S (30 s),
 * every writer it counts has died (a store call ends within 4 s:
 * net/async_cluster.h), so the next writer starts the count afresh.
 */
#include "store/redis/scripts.h"

/*
 * tag_begin — KEYS: the app's tags, seq counter, app record, graves, tag
 * names (one hash tag). ARGV: mode, now, n_seqs, max_tags_per_app, tags (distinct).
 * Modes: e ensure (a missing tag is made, with a new gen, refused as a whole
 * past the limit) and lease (leases older than 30 s are dead ones: the
 * count starts afresh); l lease the existing; g gens only; d delete
 * (each existing tag leaves the app and its gen becomes a grave).
 * Returns {-1} (no such app), {-2, i} (tag i would pass the limit; nothing
 * written), or {last seq, gens ("0": no such tag)}: n_seqs seqs last-n+1 …
 * last are the caller's. A grave's pairs are freed by tag_graves.c.
 */
static const char tag_begin_body[] =
    "local tags, mode, now = KEYS[1], ARGV[1], tonumber(ARGV[2])\n"
    "if redis.call('EXISTS', KEYS[3]) == 0 then return {-1} end\n"
    "if mode == 'e' then\n"
    "  local have = redis.call('HLEN', tags)\n"
    "  for i = 5, #ARGV do\n"
    "    if redis.call('HEXISTS', tags, ARGV[i]) == 0 then\n"
    "      have = have + 1\n"
    "      if have > tonumber(ARGV[4]) then return {-2, i - 4} end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local last = redis.call('INCRBY', KEYS[2], ARGV[3])\n"
    "local gens = {}\n"
    "for i = 5, #ARGV do\n"
    "  local t = ARGV[i]\n"
    "  local v = redis.call('HGET', tags, t)\n"
    "  if v then\n"
    "    local g, n, _, c, k = string.match(v, '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)$')\n"
    "    gens[i - 4] = g\n"
    "    if mode == 'd' then\n"
    "      redis.call('HDEL', tags, t)\n"
    "      redis.call('ZREM', KEYS[5], t)\n"
    "      redis.call('ZADD', KEYS[4], now, g .. '|' .. t)\n"
    "    elseif mode ~= 'g' then\n"
    "      if now - tonumber(string.match(v, '^%d+|%d+|(%d+)|')) > 30 then n = 0 end\n"
    "      redis.call('HSET', tags, t, g .. '|' .. (tonumber(n) + 1) .. '|' .. now .. '|' .. c .. '|' .. k)\n"
    "    end\n"
    "  elseif mode == 'e' then\n"
    "    local g = redis.call('INCR', KEYS[2])\n"
    "    redis.call('HSET', tags, t, g .. '|1|' .. now .. '|0|0')\n"
    "    redis.call('ZADD', KEYS[5], 0, t)\n"
    "    gens[i - 4] = tostring(g)\n"
    "  else\n"
    "    gens[i - 4] = '0'\n"
    "  end\n"
    "end\n"
    "return {last, gens}\n";

/*
 * tag_mark — KEYS: a tag's index and marks (one gen). ARGV: now, then
 * (token, seq) pairs: each token's mark counts one more writer in flight
 * (the mark keeps "n|best version|its seq|time"), and a seq (a new pair)
 * reserves the token in the index at that seq unless it is there. A mark
 * older than 30 s counts dead writers only: it starts afresh. Returns 1.
 */
static const char tag_mark_body[] =
    "for i = 2, #ARGV, 2 do\n"
    "  local tok, s, n, bv, bs = ARGV[i], ARGV[i + 1], 0, '-1', ''\n"
    "  local m = redis.call('HGET', KEYS[2], tok)\n"
    "  if m then\n"
    "    local a, b, c, t = string.match(m, '^(%d+)|(-?%d+)|(%d*)|(%d+)$')\n"
    "    if tonumber(ARGV[1]) - tonumber(t) <= 30 then n, bv, bs = tonumber(a), b, c end\n"
    "  end\n"
    "  redis.call('HSET', KEYS[2], tok, (n + 1) .. '|' .. bv .. '|' .. bs .. '|' .. ARGV[1])\n"
    "  if s ~= '' then redis.call('ZADD', KEYS[1], 'NX', s, tok) end\n"
    "end\n"
    "return 1\n";

/*
 * tag_change — KEYS: a token's tags, its bindings record, its details (one
 * hash tag). ARGV: mode (c change, i invalidate), now, max_tags_per_token,
 * platform (0 none, 1, 2), invalid_since, last (the batch's last seq), n,
 * then n (tag, gen) pairs: the gens the caller read ("0": no such tag), then
 * (op, tag, gen, seq) quads, op a (add at seq, or refresh) or r (remove).
 *
 * Entries of a tag whose gen is older than the one read, or of a tag read as
 * missing whose gen is not newer than `last`, are dead and deleted; entries
 * of tags the caller did not read count as live. Refuses, changing nothing,
 * when quad k would give the token more than the limit: {"over", version,
 * states, k}. In mode i returns {"kept", version, states, 0} when a live tag
 * or a binding was made or refreshed at or after invalid_since, changing
 * nothing; else removes the quads' tags and every binding and the details.
 * Returns {"ok", version, states, removed}: states[k] the seq the record
 * holds for quad k's (tag, gen) ("" none) at that version, removed the
 * bindings removed (member, seq, …). A token with no record that gets none
 * stays without one (version 0, which no settle applies).
 */
static const char tag_change_body[] =
    "local rec, mode, now, limit, platform = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]\n"
    "local since, last, nlive = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local live = {}\n"
    "for i = 1, nlive do live[ARGV[6 + 2 * i]] = tonumber(ARGV[7 + 2 * i]) end\n"
    "local ops = 8 + 2 * nlive\n"
    "local cur, count, fresh = {}, 0, false\n"
    "local fields = redis.call('HGETALL', rec)\n"
    "for j = 1, #fields, 2 do\n"
    "  local f = fields[j]\n"
    "  if string.sub(f, 1, 1) == 't' then\n"
    "    local tag = string.sub(f, 2)\n"
    "    local s, g, tm = string.match(fields[j + 1], '^(%d+)|(%d+)|(%d+)$')\n"
    "    g, tm = tonumber(g), tonumber(tm)\n"
    "    local lg = live[tag]\n"
    "    if lg and (g < lg or (lg == 0 and g <= last)) then\n"
    "      redis.call('HDEL', rec, f)\n"
    "    else\n"
    "      cur[tag] = {s, g, tm}; count = count + 1\n"
    "      if tm >= since then fresh = true end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local function states_of(plan)\n"
    "  local states = {}\n"
    "  for i = ops, #ARGV, 4 do\n"
    "    local e = plan[ARGV[i + 1]]\n"
    "    if e == nil then e = cur[ARGV[i + 1]] end\n"
    "    if e and e[2] == tonumber(ARGV[i + 2]) then states[#states + 1] = e[1] else states[#states + 1] = '' end\n"
    "  end\n"
    "  return states\n"
    "end\n"
    "local function unchanged(what, k)\n"
    "  return {what, tonumber(redis.call('HGET', rec, 'v') or '0'), states_of({}), k}\n"
    "end\n"
    "if mode == 'i' then\n"
    "  if fresh then return unchanged('kept', 0) end\n"
    "  local d = redis.call('HGETALL', KEYS[3])\n"
    "  for j = 1, #d, 2 do\n"
    "    local l = string.match(d[j + 1], '|(%d+)$')\n"
    "    if d[j] ~= 'p' and l and tonumber(l) >= since then return unchanged('kept', 0) end\n"
    "  end\n"
    "end\n"
    "local plan, n = {}, count\n"
    "for i = ops, #ARGV, 4 do\n"
    "  local op, tag, g, s = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]\n"
    "  local e = plan[tag]\n"
    "  if e == nil then e = cur[tag] or false end\n"
    "  if op == 'r' then\n"
    "    if e and e[2] == g then plan[tag] = false; n = n - 1 end\n"
    "  elseif e and e[2] == g then\n"
    "    plan[tag] = {e[1], g, now}\n"
    "  elseif not e then\n"
    "    n = n + 1\n"
    "    if n > limit then return unchanged('over', (i - ops) / 4 + 1) end\n"
    "    plan[tag] = {s, g, now}\n"
    "  end\n"
    "end\n"
    "local v = 0\n"
    "if next(plan) ~= nil or redis.call('EXISTS', rec) == 1 then v = redis.call('HINCRBY', rec, 'v', 1) end\n"
    "for tag, e in pairs(plan) do\n"
    "  if e then redis.call('HSET', rec, 't' .. tag, e[1] .. '|' .. e[2] .. '|' .. e[3])\n"
    "  else redis.call('HDEL', rec, 't' .. tag) end\n"
    "end\n"
    "local removed = {}\n"
    "if mode == 'i' then\n"
    "  removed = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')\n"
    "  redis.call('DEL', KEYS[2], KEYS[3])\n"
    "elseif platform ~= '0' and redis.call('EXISTS', KEYS[3]) == 1 then\n"
    "  redis.call('HSET', KEYS[3], 'p', platform)\n"
    "end\n"
    "return {'ok', v, states_of(plan), removed}\n";

/*
 * tag_settle — KEYS: a tag's index and marks (one gen). ARGV: now, then
 * (token, version, seq, own) quads: what tag_change left in the token's
 * record at that version (seq "": no pair). The mark keeps the newest
 * version reported and its state; own "1" gives back this writer's mark.
 * The last writer of the pair to settle (none other in flight) sets the
 * index to that newest state and drops the mark; until then the index keeps
 * what it has, reservations included, and readers judge the pair by its
 * record. Returns {tokens in the index + marks left, settle counter}.
 */
static const char tag_settle_body[] =
    "for i = 2, #ARGV, 4 do\n"
    "  local tok, v, s, own = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]\n"
    "  local n, bv, bs, mt = 0, -1, '', ARGV[1]\n"
    "  local m = redis.call('HGET', KEYS[2], tok)\n"
    "  if m then\n"
    "    local a, b, c, t = string.match(m, '^(%d+)|(-?%d+)|(%d*)|(%d+)$')\n"
    "    n, bv, bs, mt = tonumber(a), tonumber(b), c, t\n"
    "  end\n"
    "  if v > bv then bv, bs = v, s end\n"
    "  if own == '1' then n = n - 1 end\n"
    "  if n <= 0 then\n"
    "    if bs ~= '' then redis.call('ZADD', KEYS[1], bs, tok) else redis.call('ZREM', KEYS[1], tok) end\n"
    "    redis.call('HDEL', KEYS[2], tok)\n"
    "  else\n"
    "    redis.call('HSET', KEYS[2], tok, n .. '|' .. bv .. '|' .. bs .. '|' .. mt)\n"
    "  end\n"
    "end\n"
    "local k = redis.call('HINCRBY', KEYS[2], '', 1)\n"
    "return {redis.call('ZCARD', KEYS[1]) + redis.call('HLEN', KEYS[2]) - 1, k}\n";

/*
 * tag_release — KEYS: the app's tags, graves, tag names (one hash tag). ARGV: now, then
 * (tag, gen, seen) triples: seen is "count|counter" from this writer's
 * settle, or "-" (it settled nothing there, or does not know). Gives back one
 * lease; keeps the count of the latest settle; a tag whose count is 0 and
 * that no live writer holds leaves the app, its gen a grave. Returns 1.
 */
static const char tag_release_body[] =
    "local now = tonumber(ARGV[1])\n"
    "for i = 2, #ARGV, 3 do\n"
    "  local t, g, seen = ARGV[i], ARGV[i + 1], ARGV[i + 2]\n"
    "  local v = redis.call('HGET', KEYS[1], t)\n"
    "  local vg, n, ts, c, k\n"
    "  if v then vg, n, ts, c, k = string.match(v, '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)$') end\n"
    "  if vg == g then\n"
    "    n, ts, c, k = math.max(tonumber(n) - 1, 0), tonumber(ts), tonumber(c), tonumber(k)\n"
    "    local sc, sk = string.match(seen, '^(%d+)|(%d+)$')\n"
    "    if sk and tonumber(sk) > k then c, k = tonumber(sc), tonumber(sk) end\n"
    "    if c == 0 and n == 0 then\n"
    "      redis.call('HDEL', KEYS[1], t)\n"
    "      redis.call('ZREM', KEYS[3], t)\n"
    "      redis.call('ZADD', KEYS[2], now, g .. '|' .. t)\n"
    "    else\n"
    "      redis.call('HSET', KEYS[1], t, g .. '|' .. n .. '|' .. ts .. '|' .. c .. '|' .. k)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return 1\n";

/*
 * tag_forget — KEYS: a token's tags. ARGV: "t" TAG, gen. Deletes the pair
 * when it still names that (dead) gen; returns 1 when it did.
 */
static const char tag_forget_body[] =
    "local v = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if v and string.match(v, '^%d+|(%d+)|') == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]); return 1 end\n"
    "return 0\n";

/*
 * tag_page — KEYS: the app's tag names, its tags (one hash tag). ARGV: the
 * last tag of the previous page ("" for the first), limit. Reads only.
 * Returns up to limit + 1 (name, tags hash value or "0") pairs, in byte order
 * after that tag: one more than the page says whether a next one exists.
 */
static const char tag_page_body[] =
    "local min = ARGV[1] == '' and '-' or ('(' .. ARGV[1])\n"
    "local names = redis.call('ZRANGE', KEYS[1], min, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2]) + 1)\n"
    "local out = {}\n"
    "for _, n in ipairs(names) do out[#out + 1] = n; out[#out + 1] = redis.call('HGET', KEYS[2], n) or '0' end\n"
    "return out\n";

void pb_redis_tag_scripts_init(pb_redis_scripts *scripts)
{
    pb_redis_script_init(&scripts->tag_begin, tag_begin_body);
    pb_redis_script_init(&scripts->tag_mark, tag_mark_body);
    pb_redis_script_init(&scripts->tag_change, tag_change_body);
    pb_redis_script_init(&scripts->tag_settle, tag_settle_body);
    pb_redis_script_init(&scripts->tag_release, tag_release_body);
    pb_redis_script_init(&scripts->tag_forget, tag_forget_body);
    pb_redis_script_init(&scripts->tag_page, tag_page_body);
}
