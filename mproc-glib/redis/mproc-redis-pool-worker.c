/* mproc-redis-pool-worker.c: serving a pool on Redis from this host
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A worker is one consumer of the pool's stream (mproc-redis-pool-private.h)
 * that runs what it takes on a local MprocPool of its own: a target that
 * crashes is the local pool's MPROC_ERROR_WORKER_DIED for that chunk, and
 * the worker goes on.  It takes no more chunks than it has processes, so a
 * host that dies fails no more than it was running.  Everything runs from
 * a main context of its own, iterated by mproc_pool_serve_for_uri() until
 * it stops: on its cancellable (warm: the chunks running finish, the ones
 * taken and not started go back to the stream) or when Redis is lost.
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-pool-private.h"
#include "mproc-redis-pool.h"
#include "mproc-redis-pool-private.h"

typedef struct _Server Server;

typedef struct
{
  Server       *server;
  char         *id;          /* the stream entry's */
  char         *caller;
  char         *call;
  guint64       chunk;
  gboolean      apply;
  GCancellable *cancellable;
} Job;

struct _Server
{
  MprocRedisConfig   *config;
  MprocRedisPoolKeys  keys;
  MprocRedisClient   *client;
  MprocRedisClient   *reader;      /* XREADGROUP BLOCK */
  MprocPool          *local;
  GMainContext       *context;
  char               *name;
  GVariant           *info;
  guint               capacity;
  GHashTable         *jobs;        /* entry id -> Job: taken, not answered */
  guint               n_taking;    /* read, being checked by TAKE */
  guint               n_ops;       /* calls out on the client */
  gboolean            reading;
  gboolean            beating;
  gboolean            stopping;
  GError             *error;       /* what stopped it, if not the caller */
  GCancellable       *io;          /* cancelled when it stops for an error */
  GSource            *beat_source;
};

static void start_reading (Server *s);

static void
job_free (Job *job)
{
  g_free (job->id);
  g_free (job->caller);
  g_free (job->call);
  g_clear_object (&job->cancellable);
  g_free (job);
}

static void
server_fail (Server *s,
             GError *error)
{
  if (s->error == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      s->error = g_error_copy (error);
      g_cancellable_cancel (s->io);
    }
}

/* --- Answers ------------------------------------------------------------- */

static void
result_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Job *job = user_data;
  Server *s = job->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = mproc_redis_client_call_finish (s->client, result, &error);

  s->n_ops--;
  if (reply == NULL)
    server_fail (s, error);
  else if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
    g_debug ("pool worker %s: the answer to %s came too late and was dropped", s->name, job->id);
  job_free (job);
  start_reading (s);
}

/* Takes @value (a result, or "(sis)" with @status "e"; floating or not). */
static void
job_answer (Job        *job,
            const char *status,
            GVariant   *value)
{
  Server *s = job->server;
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_pool_eval (s->client, &s->keys, POOL_SCRIPT_RESULT);
  g_autoptr(GVariant) owned = g_variant_take_ref (value);

  g_hash_table_steal (s->jobs, job->id);
  mproc_redis_cmd_add_str (cmd, job->id);
  mproc_redis_cmd_add_str (cmd, job->caller);
  mproc_redis_cmd_add_str (cmd, job->call);
  mproc_redis_cmd_add_int (cmd, (gint64) job->chunk);
  mproc_redis_cmd_add_str (cmd, status);
  mproc_redis_cmd_add_boxed (cmd, owned);
  s->n_ops++;
  mproc_redis_client_call_async (s->client, cmd, -1, NULL, result_done_cb, job);
  /* a process is free: ask for the next chunk along with the answer */
  start_reading (s);
}

static void
job_answer_error (Job    *job,
                  GError *error)
{
  job_answer (job, "e", mproc_pool_error_to_variant (error));
}

static void
job_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Job *job = user_data;
  g_autoptr(GError) error = NULL;
  GVariant *value;

  if (job->apply)
    value = mproc_pool_apply_finish (MPROC_POOL (source), result, &error);
  else
    value = mproc_pool_map_finish (MPROC_POOL (source), result, &error);
  if (value == NULL)
    job_answer_error (job, error);
  else
    job_answer (job, "o", value);
}

/* --- Taking chunks -------------------------------------------------------- */

static void
job_start (Server     *s,
           const char *id,
           redisReply *fields)
{
  Job *job = g_new0 (Job, 1);
  redisReply *target = mproc_redis_pool_field (fields, "t");
  redisReply *mode = mproc_redis_pool_field (fields, "m");
  redisReply *timeout = mproc_redis_pool_field (fields, "o");
  redisReply *args = mproc_redis_pool_field (fields, "a");
  g_autoptr(GVariant) boxed = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  gint64 timeout_usec = -1;

  job->server = s;
  job->id = g_strdup (id);
  job->caller = g_strdup (mproc_redis_pool_field (fields, "c")->str);
  job->call = g_strdup (mproc_redis_pool_field (fields, "i")->str);
  job->cancellable = g_cancellable_new ();
  g_hash_table_insert (s->jobs, job->id, job);

  if (target == NULL || mode == NULL || args == NULL ||
      !mproc_redis_pool_field_uint (fields, "k", &job->chunk) ||
      (strcmp (mode->str, "a") != 0 && strcmp (mode->str, "m") != 0) ||
      !g_utf8_validate (target->str, (gssize) target->len, NULL) ||
      strlen (target->str) != target->len ||
      (timeout != NULL && !g_ascii_string_to_signed (timeout->str, 10, -1, G_MAXINT64, &timeout_usec, NULL)))
    {
      g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A task in the pool’s stream is malformed"));
      job_answer_error (job, error);
      return;
    }
  boxed = mproc_redis_reply_boxed (args->str, args->len, &error);
  if (boxed == NULL)
    {
      job_answer_error (job, error);
      return;
    }
  value = g_variant_get_variant (boxed);
  job->apply = mode->str[0] == 'a';
  if (job->apply)
    mproc_pool_apply_async (s->local, target->str, value, timeout_usec,
                            job->cancellable, job_done_cb, job);
  else if (!g_variant_is_of_type (value, G_VARIANT_TYPE_ARRAY) || g_variant_n_children (value) == 0)
    {
      g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A task in the pool’s stream is malformed"));
      job_answer_error (job, error);
    }
  else
    {
      /* one chunk: the whole of it on one local process */
      guint n = (guint) g_variant_n_children (value);

      mproc_pool_map_async (s->local, target->str, value, n, timeout_usec,
                            job->cancellable, NULL, NULL, NULL, job_done_cb, job);
    }
}

typedef struct
{
  Server     *server;
  redisReply *reply;      /* the XREADGROUP reply, owned */
  GPtrArray  *entries;    /* redisReply* [id, fields], borrowed from it */
} Taking;

static void
take_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Taking *t = user_data;
  Server *s = t->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = mproc_redis_client_call_finish (s->client, result, &error);

  s->n_ops--;
  s->n_taking -= t->entries->len;
  if (reply == NULL)
    server_fail (s, error);
  else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == t->entries->len)
    for (guint i = 0; i < t->entries->len; i++)
      {
        redisReply *entry = g_ptr_array_index (t->entries, i);

        /* NULL: malformed, acknowledged by TAKE */
        if (entry != NULL && reply->element[i]->type == REDIS_REPLY_INTEGER && reply->element[i]->integer == 1)
          job_start (s, entry->element[0]->str, entry->element[1]);
      }
  freeReplyObject (t->reply);
  g_ptr_array_unref (t->entries);
  g_free (t);
  start_reading (s);
}

static void
read_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Server *s = user_data;
  g_autoptr(GError) error = NULL;
  redisReply *reply = mproc_redis_client_call_finish (s->reader, result, &error);
  g_autoptr(MprocRedisCmd) cmd = NULL;
  Taking *t;

  s->reading = FALSE;
  if (reply == NULL)
    {
      server_fail (s, error);
      return;
    }
  /* stopping: what was read stays pending, and goes back to the stream */
  if (reply->type != REDIS_REPLY_ARRAY || s->stopping || s->error != NULL)
    {
      freeReplyObject (reply);
      start_reading (s);
      return;
    }

  t = g_new0 (Taking, 1);
  t->server = s;
  t->reply = reply;
  t->entries = g_ptr_array_new ();
  cmd = mproc_redis_pool_eval (s->client, &s->keys, POOL_SCRIPT_TAKE);
  for (gsize i = 0; i < reply->elements; i++)
    {
      redisReply *stream = reply->element[i];

      if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
          stream->element[1]->type != REDIS_REPLY_ARRAY)
        continue;
      for (gsize e = 0; e < stream->element[1]->elements; e++)
        {
          redisReply *entry = stream->element[1]->element[e];
          redisReply *caller, *call;

          if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
              entry->element[0]->type != REDIS_REPLY_STRING)
            continue;
          caller = mproc_redis_pool_field (entry->element[1], "c");
          call = mproc_redis_pool_field (entry->element[1], "i");
          mproc_redis_cmd_add_str (cmd, entry->element[0]->str);
          /* no caller: TAKE acknowledges and deletes it, unrun */
          if (caller != NULL && call != NULL && strlen (caller->str) == caller->len &&
              strlen (call->str) == call->len)
            {
              mproc_redis_cmd_add_str (cmd, caller->str);
              mproc_redis_cmd_add_str (cmd, call->str);
              g_ptr_array_add (t->entries, entry);
            }
          else
            {
              g_debug ("pool worker %s: dropping the malformed entry %s", s->name, entry->element[0]->str);
              mproc_redis_cmd_add_str (cmd, "");
              mproc_redis_cmd_add_str (cmd, "");
              g_ptr_array_add (t->entries, NULL);
            }
        }
    }
  if (t->entries->len == 0)
    {
      freeReplyObject (t->reply);
      g_ptr_array_unref (t->entries);
      g_free (t);
      start_reading (s);
      return;
    }
  s->n_taking += t->entries->len;
  s->n_ops++;
  mproc_redis_client_call_async (s->client, cmd, -1, NULL, take_done_cb, t);
  start_reading (s);
}

static void
start_reading (Server *s)
{
  g_autoptr(MprocRedisCmd) cmd = NULL;
  guint busy = g_hash_table_size (s->jobs) + s->n_taking;
  gint64 beat = MPROC_REDIS_POOL_BEAT_USEC (s->config);

  if (s->reading || s->stopping || s->error != NULL || busy >= s->capacity)
    return;
  s->reading = TRUE;
  cmd = mproc_redis_cmd_new ("XREADGROUP");
  mproc_redis_cmd_add_str (cmd, "GROUP");
  mproc_redis_cmd_add_str (cmd, MPROC_REDIS_POOL_GROUP);
  mproc_redis_cmd_add_str (cmd, s->name);
  mproc_redis_cmd_add_str (cmd, "COUNT");
  mproc_redis_cmd_add_int (cmd, s->capacity - busy);
  mproc_redis_cmd_add_str (cmd, "BLOCK");
  mproc_redis_cmd_add_int (cmd, MAX (beat / 1000, 1));
  mproc_redis_cmd_add_str (cmd, "STREAMS");
  mproc_redis_cmd_add_str (cmd, s->keys.tasks);
  mproc_redis_cmd_add_str (cmd, ">");
  mproc_redis_client_call_async (s->reader, cmd, beat + s->config->timeout_usec, s->io,
                                 read_done_cb, s);
}

/* --- Heartbeat, reaper, cancellations -------------------------------------- */

typedef struct
{
  Server    *server;
  GPtrArray *ids;        /* the jobs asked about, in order */
} Checking;

static void
marks_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Checking *c = user_data;
  Server *s = c->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = mproc_redis_client_call_finish (s->client, result, &error);

  s->n_ops--;
  if (reply == NULL)
    server_fail (s, error);
  else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == c->ids->len)
    for (guint i = 0; i < c->ids->len; i++)
      {
        Job *job = g_hash_table_lookup (s->jobs, c->ids->pdata[i]);

        /* the caller cancelled or gave up: the target is told, and its
         * local process is replaced if it goes on past the grace */
        if (job != NULL && reply->element[i]->type == REDIS_REPLY_STRING)
          g_cancellable_cancel (job->cancellable);
      }
  g_ptr_array_unref (c->ids);
  g_free (c);
}

static void
reap_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Server *s = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = mproc_redis_client_call_finish (s->client, result, &error);

  s->n_ops--;
  s->beating = FALSE;
  if (reply == NULL)
    server_fail (s, error);
}

static void
beat (Server *s)
{
  g_autoptr(MprocRedisCmd) hb = mproc_redis_pool_beat_cmd (&s->keys, s->config, s->name, "1");
  g_autoptr(MprocRedisCmd) hset = mproc_redis_cmd_new ("HSET");
  g_autoptr(MprocRedisCmd) reap = NULL;
  g_autoptr(GError) error = NULL;

  mproc_redis_cmd_add_str (hset, s->keys.workers);
  mproc_redis_cmd_add_str (hset, s->name);
  mproc_redis_cmd_add_boxed (hset, s->info);
  if (!mproc_redis_client_send (s->client, hb, NULL, &error) ||
      !mproc_redis_client_send (s->client, hset, NULL, &error))
    {
      server_fail (s, error);
      return;
    }

  if (g_hash_table_size (s->jobs) > 0)
    {
      g_autoptr(MprocRedisCmd) mget = mproc_redis_cmd_new ("MGET");
      Checking *c = g_new0 (Checking, 1);
      GHashTableIter iter;
      Job *job;

      c->server = s;
      c->ids = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_iter_init (&iter, s->jobs);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &job))
        {
          g_autofree char *key = g_strdup_printf ("%s:x:%s:%s", s->keys.base, job->caller, job->call);

          mproc_redis_cmd_add_str (mget, key);
          g_ptr_array_add (c->ids, g_strdup (job->id));
        }
      s->n_ops++;
      mproc_redis_client_call_async (s->client, mget, -1, NULL, marks_done_cb, c);
    }

  if (!s->beating)
    {
      s->beating = TRUE;
      s->n_ops++;
      reap = mproc_redis_pool_reap_cmd (s->client, &s->keys, s->name);
      mproc_redis_client_call_async (s->client, reap, -1, NULL, reap_done_cb, s);
    }
}

static gboolean
beat_cb (gpointer user_data)
{
  Server *s = user_data;

  if (s->error == NULL)
    beat (s);
  return G_SOURCE_CONTINUE;
}

static gboolean
stop_cb (GCancellable *cancellable,
         gpointer      user_data)
{
  Server *s = user_data;

  s->stopping = TRUE;
  return G_SOURCE_REMOVE;
}

/* --- Serving -------------------------------------------------------------- */

static GVariant *
describe (Server     *s,
          const char *host,
          guint       processes)
{
  g_auto(GStrv) targets = mproc_pool_dup_task_names ();

  return g_variant_ref_sink (g_variant_new ("(sx^asxu)", host, (gint64) getpid (), targets,
                                            g_get_real_time (), processes));
}

static gboolean
server_done (Server *s)
{
  return (s->stopping || s->error != NULL) && !s->reading && s->n_ops == 0 &&
         g_hash_table_size (s->jobs) == 0;
}

static void
server_clear (Server *s)
{
  if (s->beat_source != NULL)
    {
      g_source_destroy (s->beat_source);
      g_source_unref (s->beat_source);
    }
  if (s->local != NULL)
    {
      mproc_pool_terminate (s->local);
      mproc_pool_join (s->local, -1, NULL, NULL);
      g_object_unref (s->local);
    }
  g_clear_pointer (&s->client, mproc_redis_client_unref);
  g_clear_pointer (&s->reader, mproc_redis_client_unref);
  g_clear_pointer (&s->jobs, g_hash_table_unref);
  g_clear_pointer (&s->info, g_variant_unref);
  g_clear_object (&s->io);
  g_clear_error (&s->error);
  mproc_redis_pool_keys_clear (&s->keys);
  g_clear_pointer (&s->config, mproc_redis_config_free);
  g_free (s->name);
}

/**
 * mproc_pool_serve_for_uri:
 * @uri: where the pool's Redis server is (see [ctor@Mproc.Pool.new_for_uri])
 * @pool_name: the pool's name
 * @n_processes: how many local worker processes run the tasks, or 0 for
 *   [func@Mproc.cpu_count]
 * @cancellable: (nullable): stops serving when cancelled
 * @error: return location for a #GError
 *
 * Serves the pool @pool_name from this process: takes its tasks from
 * Redis and runs them on a local [class@Mproc.Pool] of @n_processes
 * processes, with the targets this program registered
 * ([func@Mproc.register_task], [func@Mproc.register_chunk_task]) before
 * [func@Mproc.init].  Blocks until @cancellable is cancelled or Redis is
 * lost, iterating a main context of its own (the caller's is not
 * iterated).
 *
 * The worker takes no more chunks at a time than it has processes.  It
 * renews its heartbeat every fifth of the URI's `worker-lease` (5 s by
 * default) and reaps, as every caller does, the chunks of workers whose
 * lease ran out.  A target that crashes fails its chunk with
 * %MPROC_ERROR_WORKER_DIED and its process is replaced.  The host name in
 * the workers' list is `MPROC_WORKER_HOST` if set, else the machine's.
 *
 * Cancelling @cancellable is a warm shutdown: the chunks running finish and
 * are answered, those taken and not started go back to the pool for other
 * workers, and the worker leaves the list.
 *
 * Returns: %FALSE with @error set: %G_IO_ERROR_CANCELLED after a warm
 *   shutdown, %MPROC_ERROR_BROKEN when Redis was lost, or why the worker
 *   could not start
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_pool_serve_for_uri (const char    *uri,
                          const char    *pool_name,
                          guint          n_processes,
                          GCancellable  *cancellable,
                          GError       **error)
{
  Server s = { 0 };
  g_autoptr(MprocRedisCmd) open = NULL;
  g_autoptr(redisReply) reply = NULL;
  g_autoptr(GSource) stop_source = NULL;
  const char *host;
  gboolean ret = FALSE;

  g_return_val_if_fail (uri != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  s.context = g_main_context_new ();
  g_main_context_push_thread_default (s.context);
  s.jobs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) job_free);
  s.io = g_cancellable_new ();

  s.config = mproc_redis_config_parse (uri, error);
  if (s.config == NULL || !mproc_redis_pool_keys_init (&s.keys, s.config, pool_name, error))
    goto out;
  /* its processes first: they need not inherit the connections */
  s.local = mproc_pool_new (n_processes, error);
  if (s.local == NULL)
    goto out;
  s.capacity = mproc_pool_get_processes (s.local);
  host = g_getenv ("MPROC_WORKER_HOST");
  if (host == NULL || *host == '\0')
    host = g_get_host_name ();
  s.name = mproc_redis_pool_new_id (host);
  s.info = describe (&s, host, s.capacity);
  s.client = mproc_redis_client_new (s.config, mproc_redis_pool_scripts);
  s.reader = mproc_redis_client_new_blocking (s.config);

  if (!mproc_redis_client_connect (s.client, cancellable, error))
    goto out;
  open = mproc_redis_pool_eval (s.client, &s.keys, POOL_SCRIPT_OPEN);
  mproc_redis_cmd_add_str (open, "");
  mproc_redis_cmd_add_int (open, 0);
  reply = mproc_redis_client_call (s.client, open, -1, cancellable, error);
  if (reply == NULL)
    goto out;

  /* alive before the first read: a reaper never sees it without a heartbeat */
  beat (&s);
  s.beat_source = g_timeout_source_new ((guint) MAX (MPROC_REDIS_POOL_BEAT_USEC (s.config) / 1000, 1));
  g_source_set_static_name (s.beat_source, "MprocPool Redis worker heartbeat");
  g_source_set_callback (s.beat_source, beat_cb, &s, NULL);
  g_source_attach (s.beat_source, s.context);
  if (cancellable != NULL)
    {
      stop_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (stop_source, (GSourceFunc) (void (*) (void)) stop_cb, &s, NULL);
      g_source_attach (stop_source, s.context);
    }
  start_reading (&s);

  while (!server_done (&s))
    g_main_context_iteration (s.context, TRUE);

  if (s.error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&s.error));
      goto out;
    }
  else
    {
      g_autoptr(MprocRedisCmd) release = mproc_redis_pool_eval (s.client, &s.keys, POOL_SCRIPT_RELEASE);
      g_autoptr(redisReply) released = NULL;

      /* what this worker took and did not start goes to the others */
      mproc_redis_cmd_add_str (release, s.name);
      released = mproc_redis_client_call (s.client, release, -1, NULL, error);
      if (released == NULL)
        goto out;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
    }

out:
  if (stop_source != NULL)
    g_source_destroy (stop_source);
  if (s.reading)
    {
      /* the blocked read ends with its connection */
      mproc_redis_client_close (s.reader);
      while (s.reading)
        g_main_context_iteration (s.context, TRUE);
    }
  server_clear (&s);
  while (g_main_context_iteration (s.context, FALSE))
    ;
  g_main_context_pop_thread_default (s.context);
  g_main_context_unref (s.context);
  return ret;
}
