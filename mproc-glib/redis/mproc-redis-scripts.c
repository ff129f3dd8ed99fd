/* mproc-redis-scripts.c: the Lua scripts that change objects atomically
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * KEYS of every object script: 1 the data (HASH or LIST), 2 the version
 * counter, 3 the change stream, 4 the insertion order of a hash's keys
 * and 5 its counter (mproc-redis-private.h).  Lists of any size
 * are pushed in slices: Lua's unpack() has a bounded stack.
 */

#include "config.h"

#include "mproc-redis-private.h"

/* appends a change entry; @... its fields */
#define CHANGE_FN \
  "local function change(...)\n" \
  "  local v = redis.call('INCR', KEYS[2])\n" \
  "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '1000', '*', 's', v, ...)\n" \
  "  return v\n" \
  "end\n"

/* a new key goes last in the order */
#define HSET_FN \
  "local function hset(k, v)\n" \
  "  if redis.call('HSET', KEYS[1], k, v) == 1 then\n" \
  "    redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[5]), k)\n" \
  "  end\n" \
  "end\n"

#define PUSH_FN \
  "local function push(key, t, from)\n" \
  "  for i = from, #t, 1000 do\n" \
  "    redis.call('RPUSH', key, unpack(t, i, math.min(i + 999, #t)))\n" \
  "  end\n" \
  "end\n"

/* a list change carries its added values when they are few */
#define LIST_CHANGE_FN \
  CHANGE_FN \
  "local function list_change(p, r, vals)\n" \
  "  if #vals > 256 then change('p', p, 'r', r, 'n', #vals, 'x', '1') return end\n" \
  "  local e = {'p', p, 'r', r, 'n', #vals}\n" \
  "  for i = 1, #vals do e[#e + 1] = 'v'; e[#e + 1] = vals[i] end\n" \
  "  change(unpack(e))\n" \
  "end\n"

const char * const mproc_redis_scripts[N_SCRIPTS + 1] = {
  [SCRIPT_CREATE] =
    /* KEYS: names, ids; ARGV: "kind:name" or "" */
    "if ARGV[1] ~= '' then\n"
    "  local id = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "  if id then return tonumber(id) end\n"
    "end\n"
    "local id = redis.call('INCR', KEYS[2])\n"
    "if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], id) end\n"
    "return id\n",

  [SCRIPT_DICT_SET] =
    CHANGE_FN HSET_FN
    "hset(ARGV[1], ARGV[2])\n"
    "change('k', ARGV[1])\n"
    "return 1\n",

  [SCRIPT_DICT_SETDEFAULT] =
    CHANGE_FN HSET_FN
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if cur then return cur end\n"
    "hset(ARGV[1], ARGV[2])\n"
    "change('k', ARGV[1])\n"
    "return ARGV[2]\n",

  [SCRIPT_DICT_REMOVE] =
    CHANGE_FN
    "if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('ZREM', KEYS[4], ARGV[1])\n"
    "change('k', ARGV[1])\n"
    "return 1\n",

  [SCRIPT_DICT_POP] =
    CHANGE_FN
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if not cur then return false end\n"
    "redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "redis.call('ZREM', KEYS[4], ARGV[1])\n"
    "change('k', ARGV[1])\n"
    "return cur\n",

  [SCRIPT_DICT_UPDATE] =
    /* new keys in the order given, after every older one */
    CHANGE_FN HSET_FN
    "if #ARGV == 0 then return 0 end\n"
    "for i = 1, #ARGV, 2 do hset(ARGV[i], ARGV[i + 1]) end\n"
    "if #ARGV == 2 then change('k', ARGV[1]) else change('a', '1') end\n"
    "return 1\n",

  [SCRIPT_CLEAR] =
    /* ARGV: "list" or "hash" */
    LIST_CHANGE_FN
    "if ARGV[1] == 'list' then\n"
    "  local n = redis.call('LLEN', KEYS[1])\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  if n > 0 then list_change(0, n, {}) end\n"
    "else\n"
    "  redis.call('DEL', KEYS[1], KEYS[4], KEYS[5])\n"
    "  change('a', '1')\n"
    "end\n"
    "return 1\n",

  [SCRIPT_LIST_EXTEND] =
    LIST_CHANGE_FN PUSH_FN
    "if #ARGV == 0 then return 0 end\n"
    "local n = redis.call('LLEN', KEYS[1])\n"
    "push(KEYS[1], ARGV, 1)\n"
    "list_change(n, 0, ARGV)\n"
    "return 1\n",

  [SCRIPT_LIST_INSERT] =
    /* ARGV: index, value; Python's insert: the index clamped */
    LIST_CHANGE_FN PUSH_FN
    "local n = redis.call('LLEN', KEYS[1])\n"
    "local i = tonumber(ARGV[1])\n"
    "if i < 0 then i = i + n end\n"
    "if i < 0 then i = 0 end\n"
    "if i > n then i = n end\n"
    "if i == n then redis.call('RPUSH', KEYS[1], ARGV[2])\n"
    "elseif i == 0 then redis.call('LPUSH', KEYS[1], ARGV[2])\n"
    "else\n"
    "  local tail = redis.call('LRANGE', KEYS[1], i, -1)\n"
    "  redis.call('LTRIM', KEYS[1], 0, i - 1)\n"
    "  redis.call('RPUSH', KEYS[1], ARGV[2])\n"
    "  push(KEYS[1], tail, 1)\n"
    "end\n"
    "list_change(i, 0, {ARGV[2]})\n"
    "return 1\n",

  [SCRIPT_LIST_SET] =
    /* ARGV: index, value */
    LIST_CHANGE_FN
    "local n = redis.call('LLEN', KEYS[1])\n"
    "local i = tonumber(ARGV[1])\n"
    "if i < 0 then i = i + n end\n"
    "if i < 0 or i >= n then return redis.error_reply('MPROC_NOTFOUND ' .. n) end\n"
    "redis.call('LSET', KEYS[1], i, ARGV[2])\n"
    "list_change(i, 1, {ARGV[2]})\n"
    "return 1\n",

  [SCRIPT_LIST_POP] =
    /* ARGV: index; "" is never a boxed value: a tombstone to remove by */
    LIST_CHANGE_FN
    "local n = redis.call('LLEN', KEYS[1])\n"
    "local i = tonumber(ARGV[1])\n"
    "if i < 0 then i = i + n end\n"
    "if i < 0 or i >= n then return redis.error_reply('MPROC_NOTFOUND ' .. n) end\n"
    "local v\n"
    "if i == n - 1 then v = redis.call('RPOP', KEYS[1])\n"
    "elseif i == 0 then v = redis.call('LPOP', KEYS[1])\n"
    "else\n"
    "  v = redis.call('LINDEX', KEYS[1], i)\n"
    "  redis.call('LSET', KEYS[1], i, '')\n"
    "  redis.call('LREM', KEYS[1], 1, '')\n"
    "end\n"
    "list_change(i, 1, {})\n"
    "return v\n",

  [SCRIPT_LIST_REMOVE] =
    /* ARGV: value: its first occurrence */
    LIST_CHANGE_FN
    "local i = redis.call('LPOS', KEYS[1], ARGV[1])\n"
    "if not i then return redis.error_reply('MPROC_NOTFOUND') end\n"
    "redis.call('LREM', KEYS[1], 1, ARGV[1])\n"
    "list_change(i, 1, {})\n"
    "return 1\n",

  [SCRIPT_LIST_SLICE] =
    /* ARGV: start, stop, clamped as Python does */
    "local n = redis.call('LLEN', KEYS[1])\n"
    "local function clamp(i)\n"
    "  if i < 0 then i = i + n end\n"
    "  if i < 0 then return 0 end\n"
    "  if i > n then return n end\n"
    "  return i\n"
    "end\n"
    "local from, to = clamp(tonumber(ARGV[1])), clamp(tonumber(ARGV[2]))\n"
    "if from >= to then return {} end\n"
    "return redis.call('LRANGE', KEYS[1], from, to - 1)\n",

  [SCRIPT_LIST_GET] =
    /* ARGV: index */
    "local v = redis.call('LINDEX', KEYS[1], ARGV[1])\n"
    "if v then return v end\n"
    "return redis.error_reply('MPROC_NOTFOUND ' .. redis.call('LLEN', KEYS[1]))\n",

  [SCRIPT_DICT_ITEMS] =
    /* ARGV: "keys", "values" or "items", in insertion order */
    "local keys = redis.call('ZRANGE', KEYS[4], 0, -1)\n"
    "if ARGV[1] == 'keys' or #keys == 0 then return keys end\n"
    "local out = {}\n"
    "for i = 1, #keys, 1000 do\n"
    "  local vals = redis.call('HMGET', KEYS[1], unpack(keys, i, math.min(i + 999, #keys)))\n"
    "  for j = 1, #vals do\n"
    "    if ARGV[1] == 'items' then out[#out + 1] = keys[i + j - 1] end\n"
    "    out[#out + 1] = vals[j]\n"
    "  end\n"
    "end\n"
    "return out\n",

  [SCRIPT_SNAPSHOT] =
    /* ARGV: "list" or "hash": {version, last change id, items} */
    "local v = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)\n"
    "local id = '0-0'\n"
    "if #last > 0 then id = last[1][1] end\n"
    "local items = {}\n"
    "if ARGV[1] == 'list' then items = redis.call('LRANGE', KEYS[1], 0, -1) end\n"
    "return {v, id, items}\n",

  [SCRIPT_JQ_PUT] =
    /* KEYS: stream, unfinished; ARGV: message */
    "redis.call('XADD', KEYS[1], '*', 'm', ARGV[1])\n"
    "return redis.call('INCR', KEYS[2])\n",

  [SCRIPT_JQ_DONE] =
    /* KEYS: stream, unfinished, joined; ARGV: entry id.  An entry already
     * acknowledged (reclaimed and done by another) does not count twice. */
    "if redis.call('XACK', KEYS[1], 'g', ARGV[1]) == 0 then return -1 end\n"
    "redis.call('XDEL', KEYS[1], ARGV[1])\n"
    "local n = redis.call('DECR', KEYS[2])\n"
    "if n <= 0 then\n"
    "  redis.call('SET', KEYS[2], 0)\n"
    "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '100', '*', 'd', '1')\n"
    "end\n"
    "return n\n",

  [SCRIPT_JQ_STATE] =
    /* KEYS: unfinished, joined: {unfinished, last joined id} */
    "local n = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)\n"
    "local id = '0-0'\n"
    "if #last > 0 then id = last[1][1] end\n"
    "return {n, id}\n",

  [SCRIPT_JQ_QSIZE] =
    /* KEYS: stream: entries not yet delivered */
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "local p = redis.call('XPENDING', KEYS[1], 'g')\n"
    "return redis.call('XLEN', KEYS[1]) - p[1]\n",

  [SCRIPT_LOCK_ACQUIRE] =
    /* KEYS: owner, held, fence; ARGV: token, lease (ms).  :held outlives
     * the lease: found without an owner, the last holder never released. */
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('PTTL', KEYS[1])} end\n"
    "local died = redis.call('EXISTS', KEYS[2])\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "redis.call('SET', KEYS[2], ARGV[1])\n"
    "return {1, died, redis.call('INCR', KEYS[3])}\n",

  [SCRIPT_LOCK_RELEASE] =
    /* KEYS: owner, held, wake; ARGV: token.  1 released; 0 not ours;
     * 2 our lease had expired (cleaned up, but the lock was not ours) */
    "local ours = redis.call('GET', KEYS[1]) == ARGV[1]\n"
    "if not ours then\n"
    "  if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('GET', KEYS[2]) == ARGV[1] then\n"
    "    redis.call('DEL', KEYS[2])\n"
    "    return 2\n"
    "  end\n"
    "  return 0\n"
    "end\n"
    "redis.call('DEL', KEYS[1], KEYS[2])\n"
    "redis.call('RPUSH', KEYS[3], '1')\n"
    "redis.call('LTRIM', KEYS[3], -1, -1)\n"
    "redis.call('PEXPIRE', KEYS[3], 60000)\n"
    "return 1\n",

  [SCRIPT_LOCK_RENEW] =
    /* KEYS: owner; ARGV: token, lease (ms) */
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "return 1\n",

  [SCRIPT_EVENT_SET] =
    /* KEYS: flag, changes; ARGV: "1" set, "0" clear */
    "if ARGV[1] == '1' then\n"
    "  redis.call('SET', KEYS[1], '1')\n"
    "  redis.call('XADD', KEYS[2], 'MAXLEN', '~', '100', '*', 's', '1')\n"
    "else\n"
    "  redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 1\n",

  [SCRIPT_EVENT_STATE] =
    /* KEYS: flag, changes: {set, last change id} */
    "local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)\n"
    "local id = '0-0'\n"
    "if #last > 0 then id = last[1][1] end\n"
    "return {redis.call('EXISTS', KEYS[1]), id}\n",

  NULL
};
