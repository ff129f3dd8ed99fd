/* mproc-redis-pool.c: the submitting side of a pool on Redis
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An MprocPool whose backend (mproc-pool-backend-private.h) adds each
 * chunk to the pool's stream and reads the answers from the caller's
 * results stream (mproc-redis-pool-private.h has the keys and the
 * protocol).  The pool object keeps its calls, iterators, progress and
 * reporting as for local workers; this file only moves chunks and
 * answers, renews the caller's heartbeat and reaps dead workers.
 *
 * Reading: the blocking calls read the results with XREAD BLOCK on a
 * connection of their own without iterating a main context; the _async
 * calls read on another one from the pool's main context.  Both may see
 * the same answer: the first one to reach a chunk still out takes it.
 */

#include "config.h"

#include <string.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-main.h"
#include "mproc-pool-parent-private.h"
#include "mproc-redis-pool.h"
#include "mproc-redis-pool-private.h"

#define READ_COUNT          1000
#define CANCEL_MARK_MSEC    (10 * 60 * 1000)

typedef struct
{
  Call   *call;        /* strong */
  guint   number;
  guint   n_out;
  Chunk **chunks;      /* by index: sent and not answered (owned) */
} RemoteCall;

typedef struct
{
  gint                ref_count;
  MprocPool          *pool;        /* weak: NULL once disposed */
  MprocRedisConfig   *config;
  MprocRedisPoolKeys  keys;
  MprocRedisClient   *client;
  MprocRedisClient   *reader;      /* XREAD of the _async calls */
  MprocRedisClient   *waiter;      /* XREAD of the blocking calls */
  char               *id;
  char               *results;     /* B:r:ID */
  guint               next_number;
  GHashTable         *by_number;   /* number -> RemoteCall */
  GHashTable         *by_call;     /* Call* -> the same RemoteCall */
  guint64             last_ms;     /* the last result read */
  guint64             last_seq;
  gboolean            reading;
  gboolean            beating;
  GCancellable       *cancellable; /* of the async reads */
  GSource            *beat_source;
  gint64              last_beat;
} RedisPool;

static RedisPool *
rpool_ref (RedisPool *rp)
{
  g_atomic_int_inc (&rp->ref_count);
  return rp;
}

static void
rpool_unref (RedisPool *rp)
{
  if (!g_atomic_int_dec_and_test (&rp->ref_count))
    return;
  g_assert (rp->pool == NULL);
  g_clear_pointer (&rp->by_number, g_hash_table_unref);
  g_clear_pointer (&rp->by_call, g_hash_table_unref);
  g_clear_pointer (&rp->client, mproc_redis_client_unref);
  g_clear_pointer (&rp->reader, mproc_redis_client_unref);
  g_clear_pointer (&rp->waiter, mproc_redis_client_unref);
  g_clear_object (&rp->cancellable);
  mproc_redis_pool_keys_clear (&rp->keys);
  g_clear_pointer (&rp->config, mproc_redis_config_free);
  g_free (rp->id);
  g_free (rp->results);
  g_free (rp);
}

static void
remote_call_free (RemoteCall *rc)
{
  for (guint i = 0; i < rc->call->n_chunks; i++)
    g_clear_pointer (&rc->chunks[i], mproc_pool_chunk_free);
  g_free (rc->chunks);
  mproc_pool_call_unref (rc->call);
  g_free (rc);
}

static gint64
beat_usec (RedisPool *rp)
{
  return MPROC_REDIS_POOL_BEAT_USEC (rp->config);
}

/* --- Sending ------------------------------------------------------------- */

static RemoteCall *
remote_call_for (RedisPool *rp,
                 Call      *call)
{
  RemoteCall *rc = g_hash_table_lookup (rp->by_call, call);

  if (rc != NULL)
    return rc;
  rc = g_new0 (RemoteCall, 1);
  rc->call = mproc_pool_call_ref (call);
  rc->number = ++rp->next_number;
  rc->chunks = g_new0 (Chunk *, MAX (call->n_chunks, 1));
  g_hash_table_insert (rp->by_number, GUINT_TO_POINTER (rc->number), rc);
  g_hash_table_insert (rp->by_call, call, rc);
  return rc;
}

/* Forgets @rc; chunks still out are given up: workers skip them. */
static void
remote_call_drop (RedisPool  *rp,
                  RemoteCall *rc)
{
  if (rc->n_out > 0 && rp->client != NULL)
    {
      g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("SET");
      g_autofree char *key = g_strdup_printf ("%s:x:%s:%u", rp->keys.base, rp->id, rc->number);

      mproc_redis_cmd_add_str (cmd, key);
      mproc_redis_cmd_add_str (cmd, "1");
      mproc_redis_cmd_add_str (cmd, "PX");
      mproc_redis_cmd_add_int (cmd, CANCEL_MARK_MSEC);
      /* best effort: a caller that cannot reach Redis has failed them */
      mproc_redis_client_send (rp->client, cmd, NULL, NULL);
    }
  g_hash_table_remove (rp->by_call, rc->call);
  g_hash_table_remove (rp->by_number, GUINT_TO_POINTER (rc->number));
}

static gboolean
send_chunk (RedisPool   *rp,
            RemoteCall  *rc,
            Chunk       *chunk,
            GError     **error)
{
  Call *call = chunk->call;
  g_autoptr(GVariant) args = mproc_pool_call_slice (call, chunk);
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("XADD");

  mproc_redis_cmd_add_str (cmd, rp->keys.tasks);
  mproc_redis_cmd_add_str (cmd, "*");
  mproc_redis_cmd_add_str (cmd, "c");
  mproc_redis_cmd_add_str (cmd, rp->id);
  mproc_redis_cmd_add_str (cmd, "i");
  mproc_redis_cmd_add_int (cmd, rc->number);
  mproc_redis_cmd_add_str (cmd, "k");
  mproc_redis_cmd_add_int (cmd, chunk->index);
  mproc_redis_cmd_add_str (cmd, "t");
  mproc_redis_cmd_add_str (cmd, call->target);
  mproc_redis_cmd_add_str (cmd, "m");
  mproc_redis_cmd_add_str (cmd, call->kind == CALL_APPLY ? "a" : "m");
  mproc_redis_cmd_add_str (cmd, "o");
  mproc_redis_cmd_add_int (cmd, call->timeout_usec);
  mproc_redis_cmd_add_str (cmd, "r");
  mproc_redis_cmd_add_int (cmd, rp->config->max_redeliveries);
  mproc_redis_cmd_add_str (cmd, "a");
  mproc_redis_cmd_add_boxed (cmd, args);
  /* pipelined: its answer is the chunk's result, not XADD's reply */
  return mproc_redis_client_send (rp->client, cmd, NULL, error);
}

static void
send_beat (RedisPool *rp)
{
  g_autoptr(MprocRedisCmd) beat = mproc_redis_pool_beat_cmd (&rp->keys, rp->config, rp->id, "1");
  g_autoptr(MprocRedisCmd) expire = mproc_redis_cmd_new ("PEXPIRE");

  /* results nobody reads any more go with their caller */
  mproc_redis_cmd_add_str (expire, rp->results);
  mproc_redis_cmd_add_int (expire, MAX (rp->config->worker_lease_usec / 1000, 1) * 2);
  mproc_redis_client_send (rp->client, beat, NULL, NULL);
  mproc_redis_client_send (rp->client, expire, NULL, NULL);
  rp->last_beat = g_get_monotonic_time ();
}

/* Ends every chunk out with @error (not taken). */
static void
fail_all (RedisPool    *rp,
          const GError *error)
{
  g_autoptr(GList) rcs = g_hash_table_get_values (rp->by_number);

  for (GList *l = rcs; l != NULL; l = l->next)
    {
      RemoteCall *rc = l->data;
      g_autoptr(Call) call = mproc_pool_call_ref (rc->call);

      for (guint i = 0; i < call->n_chunks; i++)
        if (rc->chunks[i] != NULL)
          {
            Chunk *chunk = g_steal_pointer (&rc->chunks[i]);

            rc->n_out--;
            mproc_pool_call_chunk_done (call, chunk->index, chunk->len, NULL, g_error_copy (error));
            mproc_pool_chunk_free (chunk);
          }
      remote_call_drop (rp, rc);
    }
}

static void ensure_reading (RedisPool *rp);
static void ensure_beating (RedisPool *rp);

static void
rpool_dispatch (MprocPool *self)
{
  RedisPool *rp = self->backend_data;

  if (g_queue_is_empty (&self->pending))
    return;
  /* workers skip the chunks of a caller without a heartbeat */
  if (g_get_monotonic_time () - rp->last_beat >= beat_usec (rp))
    send_beat (rp);

  while (!g_queue_is_empty (&self->pending))
    {
      Chunk *chunk = g_queue_pop_head (&self->pending);
      g_autoptr(GError) error = NULL;
      RemoteCall *rc;

      if (chunk->call->finished)
        {
          mproc_pool_chunk_free (chunk);
          continue;
        }
      rc = remote_call_for (rp, chunk->call);
      if (!send_chunk (rp, rc, chunk, &error))
        {
          mproc_pool_call_chunk_done (chunk->call, chunk->index, chunk->len, NULL,
                                      g_steal_pointer (&error));
          mproc_pool_chunk_free (chunk);
          if (rc->n_out == 0)
            remote_call_drop (rp, rc);
          continue;
        }
      rc->chunks[chunk->index] = chunk;
      rc->n_out++;
    }
  ensure_reading (rp);
  ensure_beating (rp);
}

/* --- Answers --------------------------------------------------------------- */

static gboolean
parse_stream_id (const char *id,
                 guint64    *ms,
                 guint64    *seq)
{
  char *end = NULL;

  *ms = g_ascii_strtoull (id, &end, 10);
  if (end == id || *end != '-')
    return FALSE;
  *seq = g_ascii_strtoull (end + 1, NULL, 10);
  return TRUE;
}

static GError *
answer_error (RedisPool  *rp,
              Chunk      *chunk,
              const char *status,
              redisReply *value,
              GVariant  **result)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) boxed = NULL;
  g_autoptr(GVariant) inner = NULL;

  if (value == NULL)
    return g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                _("A pool worker sent an answer without a value"));
  if (strcmp (status, "d") == 0)
    {
      g_autofree char *name = g_utf8_make_valid (value->str, (gssize) value->len);

      return g_error_new (MPROC_ERROR, MPROC_ERROR_WORKER_DIED,
                          _("Pool worker %s stopped renewing its lease while it held this task"), name);
    }
  boxed = mproc_redis_reply_boxed (value->str, value->len, &error);
  if (boxed == NULL)
    return g_steal_pointer (&error);
  inner = g_variant_get_variant (boxed);
  if (strcmp (status, "e") == 0)
    return mproc_pool_error_from_variant (inner);
  if (strcmp (status, "o") != 0)
    return g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                _("A pool worker sent an answer of an unknown kind"));
  if (chunk->call->kind != CALL_APPLY &&
      (!g_variant_is_of_type (inner, G_VARIANT_TYPE_ARRAY) || g_variant_n_children (inner) != chunk->len))
    return g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                _("A pool worker sent results that do not match the task"));
  *result = g_steal_pointer (&inner);
  return NULL;
}

static void
handle_entry (RedisPool  *rp,
              redisReply *fields)
{
  redisReply *status = mproc_redis_pool_field (fields, "s");
  guint64 number, index;
  RemoteCall *rc;
  Chunk *chunk;
  GVariant *result = NULL;
  GError *error;
  g_autoptr(Call) call = NULL;

  if (status == NULL || !mproc_redis_pool_field_uint (fields, "i", &number) ||
      !mproc_redis_pool_field_uint (fields, "k", &index))
    return;   /* not ours to make sense of: dropped */
  rc = g_hash_table_lookup (rp->by_number, GUINT_TO_POINTER ((guint) number));
  if (rc == NULL || index >= rc->call->n_chunks || rc->chunks[index] == NULL)
    return;   /* answered already, or given up */

  chunk = g_steal_pointer (&rc->chunks[index]);
  rc->n_out--;
  call = mproc_pool_call_ref (rc->call);
  error = answer_error (rp, chunk, status->str, mproc_redis_pool_field (fields, "v"), &result);
  mproc_pool_call_chunk_done (call, chunk->index, chunk->len, result, error);
  mproc_pool_chunk_free (chunk);
  if (call->finished || rc->n_out == 0)
    remote_call_drop (rp, rc);
}

/* An XREAD reply: [[key, [[id, fields]…]]], or nil. */
static void
handle_results (RedisPool  *rp,
                redisReply *reply)
{
  g_autoptr(MprocRedisCmd) del = NULL;

  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
    return;
  for (gsize s = 0; s < reply->elements; s++)
    {
      redisReply *stream = reply->element[s];
      redisReply *entries;

      if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
          stream->element[1]->type != REDIS_REPLY_ARRAY)
        continue;
      entries = stream->element[1];
      for (gsize e = 0; e < entries->elements; e++)
        {
          redisReply *entry = entries->element[e];
          guint64 ms, seq;

          if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
              entry->element[0]->type != REDIS_REPLY_STRING ||
              !parse_stream_id (entry->element[0]->str, &ms, &seq))
            continue;
          if (ms > rp->last_ms || (ms == rp->last_ms && seq > rp->last_seq))
            {
              rp->last_ms = ms;
              rp->last_seq = seq;
            }
          if (del == NULL)
            {
              del = mproc_redis_cmd_new ("XDEL");
              mproc_redis_cmd_add_str (del, rp->results);
            }
          mproc_redis_cmd_add_str (del, entry->element[0]->str);
          handle_entry (rp, entry->element[1]);
        }
    }
  if (del != NULL)
    mproc_redis_client_send (rp->client, del, NULL, NULL);
}

static MprocRedisCmd *
read_cmd (RedisPool *rp,
          gint64     block_msec)
{
  MprocRedisCmd *cmd = mproc_redis_cmd_new ("XREAD");
  g_autofree char *last = g_strdup_printf ("%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT,
                                           rp->last_ms, rp->last_seq);

  mproc_redis_cmd_add_str (cmd, "COUNT");
  mproc_redis_cmd_add_int (cmd, READ_COUNT);
  mproc_redis_cmd_add_str (cmd, "BLOCK");
  mproc_redis_cmd_add_int (cmd, MAX (block_msec, 1));
  mproc_redis_cmd_add_str (cmd, "STREAMS");
  mproc_redis_cmd_add_str (cmd, rp->results);
  mproc_redis_cmd_add_str (cmd, last);
  return cmd;
}

/* --- From the main context ------------------------------------------------- */

static void
read_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  RedisPool *rp = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = mproc_redis_client_call_finish (rp->reader, result, &error);
  MprocPool *self = rp->pool;

  rp->reading = FALSE;
  if (self != NULL)
    {
      g_object_ref (self);
      if (reply != NULL)
        handle_results (rp, reply);
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail_all (rp, error);
      mproc_pool_dispatch (self);
      ensure_reading (rp);
      g_object_unref (self);
    }
  rpool_unref (rp);
}

static void
ensure_reading (RedisPool *rp)
{
  g_autoptr(MprocRedisCmd) cmd = NULL;

  if (rp->reading || rp->pool == NULL || g_hash_table_size (rp->by_number) == 0)
    return;
  rp->reading = TRUE;
  cmd = read_cmd (rp, beat_usec (rp) / 1000);
  mproc_redis_client_call_async (rp->reader, cmd, beat_usec (rp) + rp->config->timeout_usec,
                                 rp->cancellable, read_done_cb, rpool_ref (rp));
}

static void
reap_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  RedisPool *rp = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = mproc_redis_client_call_finish (rp->client, result, &error);

  rp->beating = FALSE;
  if (rp->pool != NULL && reply == NULL && g_error_matches (error, MPROC_ERROR, MPROC_ERROR_BROKEN))
    {
      g_autoptr(MprocPool) self = g_object_ref (rp->pool);

      fail_all (rp, error);
    }
  rpool_unref (rp);
}

static gboolean
beat_cb (gpointer user_data)
{
  RedisPool *rp = user_data;
  g_autoptr(MprocRedisCmd) reap = NULL;

  if (rp->pool == NULL || g_hash_table_size (rp->by_number) == 0)
    {
      /* idle: the next call renews the heartbeat before it sends */
      g_clear_pointer (&rp->beat_source, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  if (rp->beating)
    return G_SOURCE_CONTINUE;
  send_beat (rp);
  rp->beating = TRUE;
  reap = mproc_redis_pool_reap_cmd (rp->client, &rp->keys, rp->id);
  mproc_redis_client_call_async (rp->client, reap, -1, rp->cancellable, reap_done_cb, rpool_ref (rp));
  return G_SOURCE_CONTINUE;
}

static void
ensure_beating (RedisPool *rp)
{
  if (rp->beat_source != NULL || rp->pool == NULL)
    return;
  rp->beat_source = g_timeout_source_new ((guint) MAX (beat_usec (rp) / 1000, 1));
  g_source_set_static_name (rp->beat_source, "MprocPool Redis heartbeat");
  g_source_set_callback (rp->beat_source, beat_cb, rp, NULL);
  g_source_attach (rp->beat_source, rp->pool->main_context);
}

/* --- Blocking ------------------------------------------------------------- */

static gboolean
rpool_wait (MprocPool      *self,
            MprocPoolDone   done,
            gpointer        data,
            gint64          timeout_usec,
            GCancellable   *cancellable,
            GError        **error)
{
  RedisPool *rp = self->backend_data;
  gint64 deadline = timeout_usec >= 0 ? g_get_monotonic_time () + timeout_usec : G_MAXINT64;
  gboolean ret = FALSE;

  g_object_ref (self);
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(redisReply) reply = NULL;
      g_autoptr(MprocRedisCmd) cmd = NULL;
      gint64 now, until;

      if (done (data))
        {
          ret = TRUE;
          break;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      now = g_get_monotonic_time ();
      if (now >= deadline)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                               _("Timed out waiting for the pool"));
          break;
        }
      if (g_hash_table_size (rp->by_number) == 0)
        {
          /* nothing out can make @done true */
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                               _("The pool has no task running"));
          break;
        }
      if (now - rp->last_beat >= beat_usec (rp))
        {
          g_autoptr(MprocRedisCmd) reap = mproc_redis_pool_reap_cmd (rp->client, &rp->keys, rp->id);
          g_autoptr(redisReply) reaped = NULL;

          send_beat (rp);
          reaped = mproc_redis_client_call (rp->client, reap, -1, cancellable, &local_error);
          if (reaped == NULL)
            {
              if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                continue;
              fail_all (rp, local_error);
              continue;
            }
        }
      until = MIN (deadline, rp->last_beat + beat_usec (rp));
      cmd = read_cmd (rp, (until - now + 999) / 1000);
      reply = mproc_redis_client_call (rp->waiter, cmd, until - now + rp->config->timeout_usec,
                                       cancellable, &local_error);
      if (reply == NULL)
        {
          if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            fail_all (rp, local_error);
          continue;
        }
      handle_results (rp, reply);
    }
  g_object_unref (self);
  return ret;
}

/* --- The rest of the table ------------------------------------------------ */

static void
rpool_cancel_running (MprocPool *self,
                      gpointer   call)
{
  RedisPool *rp = self->backend_data;
  RemoteCall *rc = g_hash_table_lookup (rp->by_call, call);

  /* its running chunks see the mark at their worker's next heartbeat */
  if (rc != NULL)
    remote_call_drop (rp, rc);
}

static void
rpool_terminate (MprocPool *self)
{
  RedisPool *rp = self->backend_data;
  g_autoptr(GError) error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_CLOSED,
                                                 _("The pool was terminated"));

  fail_all (rp, error);
}

static gboolean
rpool_is_busy (MprocPool *self)
{
  RedisPool *rp = self->backend_data;

  return g_hash_table_size (rp->by_number) > 0;
}

static void
rpool_dispose (MprocPool *self)
{
  RedisPool *rp = self->backend_data;

  if (rp->pool == NULL)
    return;
  g_hash_table_remove_all (rp->by_call);
  g_hash_table_remove_all (rp->by_number);
  if (rp->beat_source != NULL)
    {
      g_source_destroy (rp->beat_source);
      g_clear_pointer (&rp->beat_source, g_source_unref);
    }
  if (mproc_redis_client_is_open (rp->client))
    {
      g_autoptr(MprocRedisCmd) del = mproc_redis_cmd_new ("DEL");
      g_autoptr(redisReply) reply = NULL;
      g_autofree char *hb = g_strconcat (rp->keys.base, ":hb:", rp->id, NULL);

      /* gone at once: workers skip what is left of our calls */
      mproc_redis_cmd_add_str (del, hb);
      mproc_redis_cmd_add_str (del, rp->results);
      reply = mproc_redis_client_call (rp->client, del, -1, NULL, NULL);
    }
  g_cancellable_cancel (rp->cancellable);
  mproc_redis_client_close (rp->reader);
  mproc_redis_client_close (rp->waiter);
  mproc_redis_client_close (rp->client);
  rp->pool = NULL;
}

static const MprocPoolBackend redis_pool_backend = {
  "redis",
  rpool_dispatch,
  rpool_wait,
  rpool_cancel_running,
  rpool_terminate,
  rpool_is_busy,
  rpool_dispose,
};

/* --- Opening ------------------------------------------------------------- */

static RedisPool *
rpool_new (const char  *uri,
           const char  *pool_name,
           GError     **error)
{
  g_autoptr(MprocRedisConfig) config = mproc_redis_config_parse (uri, error);
  RedisPool *rp;

  if (config == NULL)
    return NULL;
  rp = g_new0 (RedisPool, 1);
  rp->ref_count = 1;
  if (!mproc_redis_pool_keys_init (&rp->keys, config, pool_name, error))
    {
      mproc_redis_config_free (g_steal_pointer (&config));
      g_free (rp);
      return NULL;
    }
  rp->config = g_steal_pointer (&config);
  rp->client = mproc_redis_client_new (rp->config, mproc_redis_pool_scripts);
  rp->reader = mproc_redis_client_new_blocking (rp->config);
  rp->waiter = mproc_redis_client_new_blocking (rp->config);
  rp->id = mproc_redis_pool_new_id (g_get_host_name ());
  rp->results = g_strconcat (rp->keys.base, ":r:", rp->id, NULL);
  rp->by_number = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) remote_call_free);
  rp->by_call = g_hash_table_new (NULL, NULL);
  rp->cancellable = g_cancellable_new ();
  return rp;
}

static MprocRedisCmd *
open_cmd (RedisPool *rp)
{
  MprocRedisCmd *cmd = mproc_redis_pool_eval (rp->client, &rp->keys, POOL_SCRIPT_OPEN);

  mproc_redis_cmd_add_str (cmd, rp->id);
  mproc_redis_cmd_add_int (cmd, MAX (rp->config->worker_lease_usec / 1000, 1));
  return cmd;
}

/* The pool, from the OPEN reply: the workers' descriptions. */
static MprocPool *
rpool_make (RedisPool  *rp,
            redisReply *workers)
{
  MprocPool *self;
  guint processes = 0;

  /* default chunks: as if the live workers' processes were local ones */
  for (gsize i = 0; workers->type == REDIS_REPLY_ARRAY && i < workers->elements; i++)
    {
      redisReply *w = workers->element[i];
      g_autoptr(GVariant) boxed = NULL;
      g_autoptr(GVariant) info = NULL;

      if (w->type != REDIS_REPLY_STRING)
        continue;
      boxed = mproc_redis_reply_boxed (w->str, w->len, NULL);
      if (boxed == NULL)
        continue;
      info = g_variant_get_variant (boxed);
      if (g_variant_is_of_type (info, G_VARIANT_TYPE ("(sxasxu)")))
        {
          guint32 n;

          g_variant_get_child (info, 4, "u", &n);
          processes += MIN (n, 4096);
        }
    }
  if (processes == 0)
    processes = mproc_cpu_count ();
  self = g_object_new (MPROC_TYPE_POOL, "processes", MIN (processes, 4096), NULL);
  rp->pool = self;
  rp->last_beat = g_get_monotonic_time ();
  mproc_pool_set_backend (self, &redis_pool_backend, rp, (GDestroyNotify) rpool_unref);
  return self;
}

/**
 * mproc_pool_new_for_uri:
 * @uri: where the pool's Redis (or Valkey) server is, as for
 *   [ctor@Mproc.Manager.new_for_uri]: `redis://`, `rediss://`, `unix:`…,
 *   with `?worker-lease=` (seconds, 5 by default) and
 *   `?max-redeliveries=` (0 by default)
 * @pool_name: the pool's name: callers and workers that give the same
 *   name and server share it
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens the pool @pool_name on a Redis server: a [class@Mproc.Pool] whose
 * tasks run on the workers that serve that name, on any host
 * ([func@Mproc.Pool.serve_for_uri] or the `mproc-worker` command).  It has
 * the API of a local pool — map, starmap, imap, apply, their `_async`
 * forms, chunk sizes, per-call cancellables and timeouts, close,
 * terminate, join — and its contract on faults: a worker that dies fails
 * only the chunks it held, with %MPROC_ERROR_WORKER_DIED, once its lease
 * runs out (never a silent second run, unless `max-redeliveries` allows
 * as many); a worker that comes back late cannot answer twice; a caller
 * that goes away leaves nothing running; Redis unreachable fails the calls
 * with %MPROC_ERROR_BROKEN.  Cancelling a call stops its chunks that have
 * not started at once, and those running at their worker's next
 * heartbeat (the target sees [func@Mproc.Pool.task_get_cancellable]).
 *
 * Default chunk sizes count the processes of the workers alive when the
 * pool is opened.  The pool renews the caller's heartbeat from its main
 * context while `_async` calls are out, and from the blocking calls
 * themselves.
 *
 * Returns: (transfer full): the pool, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocPool *
mproc_pool_new_for_uri (const char    *uri,
                        const char    *pool_name,
                        GCancellable  *cancellable,
                        GError       **error)
{
  RedisPool *rp;
  g_autoptr(MprocRedisCmd) cmd = NULL;
  g_autoptr(redisReply) reply = NULL;

  g_return_val_if_fail (uri != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  rp = rpool_new (uri, pool_name, error);
  if (rp == NULL)
    return NULL;
  if (!mproc_redis_client_connect (rp->client, cancellable, error))
    goto fail;
  cmd = open_cmd (rp);
  reply = mproc_redis_client_call (rp->client, cmd, -1, cancellable, error);
  if (reply == NULL)
    goto fail;
  return rpool_make (rp, reply);

fail:
  rpool_unref (rp);
  return NULL;
}

static void
open_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RedisPool *rp = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(redisReply) reply = mproc_redis_client_call_finish (rp->client, result, &error);

  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* the pool owns it from now on */
  g_task_return_pointer (task, rpool_make (rpool_ref (rp), reply), g_object_unref);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RedisPool *rp = g_task_get_task_data (task);
  g_autoptr(MprocRedisCmd) cmd = NULL;
  GCancellable *cancellable;
  GError *error = NULL;

  if (!mproc_redis_client_connect_finish (rp->client, result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  cmd = open_cmd (rp);
  cancellable = g_task_get_cancellable (task);
  mproc_redis_client_call_async (rp->client, cmd, -1, cancellable, open_done_cb, g_steal_pointer (&task));
}

/**
 * mproc_pool_new_for_uri_async:
 * @uri: where the Redis server is (see [ctor@Mproc.Pool.new_for_uri])
 * @pool_name: the pool's name
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the pool is open
 * @user_data: data for @callback
 *
 * Opens a pool on a Redis server as [ctor@Mproc.Pool.new_for_uri] does,
 * without blocking: @callback runs in the thread-default main context of
 * the caller, which the pool then belongs to.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_new_for_uri_async (const char          *uri,
                              const char          *pool_name,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  RedisPool *rp;

  g_return_if_fail (uri != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_pool_new_for_uri_async);
  rp = rpool_new (uri, pool_name, &error);
  if (rp == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, rp, (GDestroyNotify) rpool_unref);
  mproc_redis_client_connect_async (rp->client, cancellable, connected_cb, g_steal_pointer (&task));
}

/**
 * mproc_pool_new_for_uri_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Mproc.Pool.new_for_uri_async].
 *
 * Returns: (transfer full): the pool, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocPool *
mproc_pool_new_for_uri_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_new_for_uri_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mproc_pool_list_workers:
 * @self: a pool opened with [ctor@Mproc.Pool.new_for_uri]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Lists the live workers of a pool on Redis: for each, its name, host,
 * pid, registered targets, when it started (microseconds since the epoch),
 * its number of local processes and what is left of its lease in
 * milliseconds (the lease minus the time since its last heartbeat).
 * Workers whose lease ran out are left out, even before a reaper removes
 * them.
 *
 * Returns: (transfer full): an array of type `a(ssxasxux)`, or %NULL with
 *   @error set: %G_IO_ERROR_NOT_SUPPORTED for a pool of local processes,
 *   %MPROC_ERROR_BROKEN when Redis cannot be reached
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_pool_list_workers (MprocPool     *self,
                         GCancellable  *cancellable,
                         GError       **error)
{
  RedisPool *rp;
  g_autoptr(MprocRedisCmd) cmd = NULL;
  g_autoptr(redisReply) reply = NULL;
  GVariantBuilder builder;

  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->backend != &redis_pool_backend || (rp = self->backend_data)->pool == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("Only a pool on Redis has a list of workers"));
      return NULL;
    }
  cmd = mproc_redis_cmd_new ("HGETALL");
  mproc_redis_cmd_add_str (cmd, rp->keys.workers);
  reply = mproc_redis_client_call (rp->client, cmd, -1, cancellable, error);
  if (reply == NULL)
    return NULL;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ssxasxux)"));
  for (gsize i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2)
    {
      redisReply *name = reply->element[i];
      redisReply *value = reply->element[i + 1];
      g_autoptr(MprocRedisCmd) pttl = mproc_redis_cmd_new ("PTTL");
      g_autoptr(redisReply) left = NULL;
      g_autoptr(GVariant) boxed = NULL;
      g_autoptr(GVariant) info = NULL;
      g_autofree char *hb = NULL;
      const char *host;
      g_autofree const char **targets = NULL;
      gint64 pid, started;
      guint32 processes;

      if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING ||
          strlen (name->str) != name->len || !g_utf8_validate (name->str, -1, NULL))
        continue;
      /* written by anyone with access: checked, and skipped if malformed */
      boxed = mproc_redis_reply_boxed (value->str, value->len, NULL);
      if (boxed == NULL)
        continue;
      info = g_variant_get_variant (boxed);
      if (!g_variant_is_of_type (info, G_VARIANT_TYPE ("(sxasxu)")))
        continue;
      hb = g_strconcat (rp->keys.base, ":hb:", name->str, NULL);
      mproc_redis_cmd_add_str (pttl, hb);
      left = mproc_redis_client_call (rp->client, pttl, -1, cancellable, error);
      if (left == NULL)
        {
          g_variant_builder_clear (&builder);
          return NULL;
        }
      if (left->type != REDIS_REPLY_INTEGER || left->integer <= 0)
        continue;
      g_variant_get (info, "(&sx^a&sxu)", &host, &pid, &targets, &started, &processes);
      g_variant_builder_add (&builder, "(ssx^asxux)", name->str, host, pid, targets, started, processes,
                             (gint64) left->integer);
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}
