/* mproc-redis-pool-scripts.c: the Redis pool's Lua scripts and keys
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * KEYS of every script: 1 the chunk stream, 2 the workers' hash, 3 the
 * record of failed chunks; ARGV[1] is the pool's base key, from which the
 * per-caller and per-worker keys are made (they share its hash tag).
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-redis-pool-private.h"

/* the entry's fields as a table, and as the flat list they came in */
#define FIELDS_FN \
  "local function fields(kv)\n" \
  "  local f = {}\n" \
  "  for j = 1, #kv, 2 do f[kv[j]] = kv[j + 1] end\n" \
  "  return f\n" \
  "end\n"

/* appends to caller @c's results while it lives; they expire with it (its
 * heartbeat renews them), so a caller that died leaves nothing behind */
#define RESULTS_FN \
  "local function results(c, ...)\n" \
  "  local ttl = redis.call('PTTL', ARGV[1] .. ':hb:' .. c)\n" \
  "  if ttl <= 0 then return end\n" \
  "  local key = ARGV[1] .. ':r:' .. c\n" \
  "  redis.call('XADD', key, '*', ...)\n" \
  "  redis.call('PEXPIRE', key, 2 * ttl)\n" \
  "end\n"

const char * const mproc_redis_pool_scripts[N_POOL_SCRIPTS + 1] = {
  /* OPEN: ARGV 2 a caller's id ('' for none), 3 its lease in ms.
   * The group starts at 0: chunks added before it was made are served. */
  "redis.pcall('XGROUP', 'CREATE', KEYS[1], 'w', '0', 'MKSTREAM')\n"
  "if ARGV[2] ~= '' then\n"
  "  redis.call('SET', ARGV[1] .. ':hb:' .. ARGV[2], '1', 'PX', ARGV[3])\n"
  "end\n"
  "return redis.call('HVALS', KEYS[2])\n",

  /* TAKE: ARGV 2… (entry id, caller, call) triples; 1 for each chunk to
   * run, 0 for one whose caller is gone or gave it up (acknowledged). */
  "local out = {}\n"
  "for i = 2, #ARGV, 3 do\n"
  "  local id, c, k = ARGV[i], ARGV[i + 1], ARGV[i + 2]\n"
  "  if c ~= '' and redis.call('EXISTS', ARGV[1] .. ':hb:' .. c) == 1 and\n"
  "     redis.call('EXISTS', ARGV[1] .. ':x:' .. c .. ':' .. k) == 0 then\n"
  "    out[#out + 1] = 1\n"
  "  else\n"
  "    redis.call('XACK', KEYS[1], 'w', id)\n"
  "    redis.call('XDEL', KEYS[1], id)\n"
  "    out[#out + 1] = 0\n"
  "  end\n"
  "end\n"
  "return out\n",

  /* RESULT: ARGV 2 entry id, 3 caller, 4 call, 5 chunk, 6 status, 7 value.
   * Only the answer that finds the entry still pending counts. */
  "if redis.call('XACK', KEYS[1], 'w', ARGV[2]) == 0 then return 0 end\n"
  "redis.call('XDEL', KEYS[1], ARGV[2])\n"
  RESULTS_FN
  "results(ARGV[3], 'i', ARGV[4], 'k', ARGV[5], 's', ARGV[6], 'v', ARGV[7])\n"
  "return 1\n",

  /* REAP: ARGV 2 the reaper's own name.  Returns how many chunks it took. */
  FIELDS_FN
  RESULTS_FN
  "local n = 0\n"
  "local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], 'w')\n"
  "if type(consumers) ~= 'table' or consumers.err then return 0 end\n"
  "for _, c in ipairs(consumers) do\n"
  "  local name = c[2]\n"
  "  if name ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. ':hb:' .. name) == 0 then\n"
  "    local pending = redis.call('XPENDING', KEYS[1], 'w', '-', '+', 1000, name)\n"
  "    for _, p in ipairs(pending) do\n"
  "      local id = p[1]\n"
  "      local e = redis.call('XRANGE', KEYS[1], id, id)\n"
  "      redis.call('XACK', KEYS[1], 'w', id)\n"
  "      redis.call('XDEL', KEYS[1], id)\n"
  "      if #e == 1 then\n"
  "        local kv = e[1][2]\n"
  "        local f = fields(kv)\n"
  "        if f.c and redis.call('EXISTS', ARGV[1] .. ':hb:' .. f.c) == 1 then\n"
  "          local done = tonumber(f.n or '0') or 0\n"
  "          if done < (tonumber(f.r or '0') or 0) then\n"
  "            local again = {}\n"
  "            for j = 1, #kv, 2 do\n"
  "              if kv[j] ~= 'n' then again[#again + 1] = kv[j]; again[#again + 1] = kv[j + 1] end\n"
  "            end\n"
  "            again[#again + 1] = 'n'; again[#again + 1] = tostring(done + 1)\n"
  "            redis.call('XADD', KEYS[1], '*', unpack(again))\n"
  "          else\n"
  "            results(f.c, 'i', f.i or '', 'k', f.k or '', 's', 'd', 'v', name)\n"
  "            redis.call('XADD', KEYS[3], 'MAXLEN', '~', '1000', '*', 'worker', name,\n"
  "                       'c', f.c, 'i', f.i or '', 'k', f.k or '', 't', f.t or '')\n"
  "          end\n"
  "          n = n + 1\n"
  "        end\n"
  "      end\n"
  "    end\n"
  "    if #pending < 1000 then\n"
  "      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], 'w', name)\n"
  "    end\n"
  "  end\n"
  "end\n"
  "for _, name in ipairs(redis.call('HKEYS', KEYS[2])) do\n"
  "  if redis.call('EXISTS', ARGV[1] .. ':hb:' .. name) == 0 then\n"
  "    redis.call('HDEL', KEYS[2], name)\n"
  "  end\n"
  "end\n"
  "return n\n",

  /* RELEASE: ARGV 2 a worker leaving.  What it was given and did not
   * start goes back to the stream for the others. */
  "local pending = redis.call('XPENDING', KEYS[1], 'w', '-', '+', 10000, ARGV[2])\n"
  "for _, p in ipairs(pending) do\n"
  "  local e = redis.call('XRANGE', KEYS[1], p[1], p[1])\n"
  "  redis.call('XACK', KEYS[1], 'w', p[1])\n"
  "  redis.call('XDEL', KEYS[1], p[1])\n"
  "  if #e == 1 then redis.call('XADD', KEYS[1], '*', unpack(e[1][2])) end\n"
  "end\n"
  "redis.pcall('XGROUP', 'DELCONSUMER', KEYS[1], 'w', ARGV[2])\n"
  "redis.call('HDEL', KEYS[2], ARGV[2])\n"
  "redis.call('DEL', ARGV[1] .. ':hb:' .. ARGV[2])\n"
  "return #pending\n",

  NULL,
};

gboolean
mproc_redis_pool_keys_init (MprocRedisPoolKeys     *keys,
                            const MprocRedisConfig *config,
                            const char             *pool_name,
                            GError                **error)
{
  /* braces would break the hash tag, and ':' the per-id keys */
  if (pool_name == NULL || *pool_name == '\0' || strpbrk (pool_name, "{}") != NULL ||
      !g_utf8_validate (pool_name, -1, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a valid pool name: it must be non-empty UTF-8 without braces"),
                   pool_name != NULL ? pool_name : "");
      return FALSE;
    }
  keys->base = g_strdup_printf ("%s:{pool/%s}", config->prefix, pool_name);
  keys->tasks = g_strconcat (keys->base, ":t", NULL);
  keys->workers = g_strconcat (keys->base, ":w", NULL);
  keys->failed = g_strconcat (keys->base, ":f", NULL);
  return TRUE;
}

void
mproc_redis_pool_keys_clear (MprocRedisPoolKeys *keys)
{
  g_clear_pointer (&keys->base, g_free);
  g_clear_pointer (&keys->tasks, g_free);
  g_clear_pointer (&keys->workers, g_free);
  g_clear_pointer (&keys->failed, g_free);
}

MprocRedisCmd *
mproc_redis_pool_eval (MprocRedisClient         *client,
                       const MprocRedisPoolKeys *keys,
                       MprocRedisPoolScript      script)
{
  MprocRedisCmd *cmd = mproc_redis_cmd_new ("EVALSHA");

  mproc_redis_cmd_add_str (cmd, mproc_redis_client_script_sha (client, script));
  mproc_redis_cmd_add_int (cmd, 3);
  mproc_redis_cmd_add_str (cmd, keys->tasks);
  mproc_redis_cmd_add_str (cmd, keys->workers);
  mproc_redis_cmd_add_str (cmd, keys->failed);
  mproc_redis_cmd_add_str (cmd, keys->base);
  return cmd;
}

MprocRedisCmd *
mproc_redis_pool_reap_cmd (MprocRedisClient         *client,
                           const MprocRedisPoolKeys *keys,
                           const char               *self)
{
  MprocRedisCmd *cmd = mproc_redis_pool_eval (client, keys, POOL_SCRIPT_REAP);

  mproc_redis_cmd_add_str (cmd, self);
  return cmd;
}

MprocRedisCmd *
mproc_redis_pool_beat_cmd (const MprocRedisPoolKeys *keys,
                           const MprocRedisConfig   *config,
                           const char               *id,
                           const char               *value)
{
  MprocRedisCmd *cmd = mproc_redis_cmd_new ("SET");
  g_autofree char *key = g_strconcat (keys->base, ":hb:", id, NULL);

  mproc_redis_cmd_add_str (cmd, key);
  mproc_redis_cmd_add_str (cmd, value);
  mproc_redis_cmd_add_str (cmd, "PX");
  mproc_redis_cmd_add_int (cmd, MAX (config->worker_lease_usec / 1000, 1));
  return cmd;
}

char *
mproc_redis_pool_new_id (const char *host)
{
  /* the host and pid say who it is; the random part makes it unique
   * across restarts and pid reuse */
  return g_strdup_printf ("%s/%d/%08x", host, (int) getpid (), g_random_int ());
}

redisReply *
mproc_redis_pool_field (redisReply *fields,
                        const char *name)
{
  if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
    return NULL;
  for (gsize i = 0; i + 1 < fields->elements; i += 2)
    {
      redisReply *k = fields->element[i];

      if (k->type == REDIS_REPLY_STRING && strcmp (k->str, name) == 0 &&
          fields->element[i + 1]->type == REDIS_REPLY_STRING)
        return fields->element[i + 1];
    }
  return NULL;
}

gboolean
mproc_redis_pool_field_uint (redisReply *fields,
                             const char *name,
                             guint64    *value)
{
  redisReply *r = mproc_redis_pool_field (fields, name);

  return r != NULL && g_ascii_string_to_unsigned (r->str, 10, 0, G_MAXUINT32, value, NULL);
}
