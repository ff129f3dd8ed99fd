/* mproc-redis-queue.c: MprocQueue and MprocJoinableQueue in Redis
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A Queue is a LIST, P:{q:<name>}:l: put is RPUSH, get BLPOP (on a
 * connection of its own, so that a cancelled or timed-out get closes it
 * and nothing is left blocked on the server).  As for a local queue, a
 * getter that dies after get() has taken its message with it.
 *
 * A JoinableQueue is a STREAM, P:{q:<name>}:s, with one consumer group
 * "g", so that a message stays pending, owned by its getter, until
 * task_done() acknowledges (and deletes) it.  The count of unfinished
 * items is P:{q:<name>}:u; the last task_done() that brings it to 0
 * appends to P:{q:<name>}:j, which join() waits on.
 *
 * A getter is alive while it is subscribed to its own channel
 * P:{q:<name>}:alive:<consumer> (a connection of its own, opened with the
 * first get): the server drops the subscription as soon as the process
 * dies, and any other getter that sees an entry pending for a consumer
 * with no subscriber (PUBSUB NUMSUB, which needs no @dangerous command)
 * claims it with XCLAIM and delivers it again.  Liveness decides, not how
 * long a task has taken.  Two reclaimers cannot both win: XCLAIM with the
 * idle time seen resets it for the first.
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-joinable-queue.h"
#include "mproc-manager.h"
#include "mproc-queue.h"
#include "mproc-redis-private.h"
#include "mproc-remote-private.h"
#include "mproc-simple-queue.h"

/* how often a getter looks for the entries of dead getters */
#define RECLAIM_EVERY_USEC  (200 * 1000)
/* a blocking read waits this long at most before it looks again */
#define BLOCK_SLICE_MSEC    1000
#define RECLAIM_SCAN        "32"

typedef struct
{
  MprocRemote        parent;
  MprocManager      *manager;       /* keeps the backend */
  MprocRedisBackend *backend;
  gboolean           joinable;
  char              *key;           /* :l or :s */
  char              *ukey;
  char              *jkey;
  char              *alive_prefix;

  GMutex             lock;
  GPid               pid;
  MprocRedisClient  *blocking;      /* this process's blocking reads */
  MprocRedisClient  *alive;         /* this process's liveness subscription */
  char              *consumer;
  GQueue             delivered;     /* ids got here, not yet done */
  gint64             last_reclaim;
} RedisQueue;

static void
queue_reset_process_locked (RedisQueue *q)
{
  /* a child: the parent's connections, name and deliveries are not ours */
  if (q->pid == getpid ())
    return;
  q->pid = getpid ();
  g_clear_pointer (&q->blocking, mproc_redis_client_unref);
  g_clear_pointer (&q->alive, mproc_redis_client_unref);
  g_clear_pointer (&q->consumer, g_free);
  g_queue_clear_full (&q->delivered, g_free);
  q->last_reclaim = 0;
}

static MprocRedisClient *
queue_blocking (RedisQueue *q)
{
  MprocRedisClient *client;

  g_mutex_lock (&q->lock);
  queue_reset_process_locked (q);
  if (q->blocking == NULL)
    q->blocking = mproc_redis_client_new_blocking (q->backend->config);
  client = mproc_redis_client_ref (q->blocking);
  g_mutex_unlock (&q->lock);
  return client;
}

static void
set_empty (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_EMPTY, _("The queue is empty"));
}

/* BLPOP/XREADGROUP BLOCK: the server's wait in ms for a deadline. */
static gint64
block_msec (gint64 deadline)
{
  gint64 left;

  if (deadline < 0)
    return BLOCK_SLICE_MSEC;
  left = (deadline - g_get_monotonic_time ()) / 1000;
  return CLAMP (left, 1, BLOCK_SLICE_MSEC);
}

static gboolean
timed_out (gint64   deadline,
           GError **error)
{
  if (deadline >= 0 && g_get_monotonic_time () >= deadline)
    {
      set_empty (error);
      return TRUE;
    }
  return FALSE;
}

/* --- Queue: a LIST ----------------------------------------------------------- */

static gboolean
list_put (MprocRemote   *remote,
          GVariant      *value,
          gint64         timeout_usec,
          GCancellable  *cancellable,
          GError       **error)
{
  RedisQueue *q = (RedisQueue *) remote;
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("RPUSH");

  mproc_redis_cmd_add_str (cmd, q->key);
  mproc_redis_cmd_add_boxed (cmd, value);
  /* pipelined, as a local put that never waits for room */
  return mproc_redis_client_send (q->backend->client, cmd, cancellable, error);
}

static GVariant *
boxed_unbox (redisReply  *r,
             GError     **error)
{
  g_autoptr(GVariant) boxed = NULL;

  if (r->type != REDIS_REPLY_STRING)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  boxed = mproc_redis_reply_boxed (r->str, r->len, error);
  return boxed != NULL ? g_variant_get_variant (boxed) : NULL;
}

static GVariant *
list_get (MprocRemote   *remote,
          gint64         timeout_usec,
          GCancellable  *cancellable,
          GError       **error)
{
  RedisQueue *q = (RedisQueue *) remote;
  gint64 deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  g_autoptr(MprocRedisClient) blocking = NULL;

  if (timeout_usec == 0)
    {
      g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("LPOP");
      g_autoptr(redisReply) reply = NULL;

      mproc_redis_cmd_add_str (cmd, q->key);
      reply = mproc_redis_client_call (q->backend->client, cmd, -1, cancellable, error);
      if (reply == NULL)
        return NULL;
      if (reply->type == REDIS_REPLY_NIL)
        {
          set_empty (error);
          return NULL;
        }
      return boxed_unbox (reply, error);
    }

  blocking = queue_blocking (q);
  for (;;)
    {
      g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("BLPOP");
      g_autoptr(redisReply) reply = NULL;
      gint64 wait = block_msec (deadline);
      char seconds[32];

      mproc_redis_cmd_add_str (cmd, q->key);
      g_ascii_formatd (seconds, sizeof seconds, "%.3f", wait / 1000.0);
      mproc_redis_cmd_add_str (cmd, seconds);
      reply = mproc_redis_client_call (blocking, cmd, wait * 1000 + q->backend->config->timeout_usec,
                                       cancellable, error);
      if (reply == NULL)
        return NULL;
      if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2)
        return boxed_unbox (reply->element[1], error);
      if (reply->type != REDIS_REPLY_NIL)
        {
          mproc_redis_set_malformed (error);
          return NULL;
        }
      if (timed_out (deadline, error))
        return NULL;
    }
}

/* --- Queue: asynchronous forms, on the client's async path ------------------- */

static void
put_async_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RedisQueue *q = g_task_get_task_data (task);
  g_autoptr(redisReply) reply = NULL;
  GError *error = NULL;

  reply = mproc_redis_client_call_finish (q->backend->client, result, &error);
  if (reply == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* Unlike the pipelined put, waits for the server's answer: that is what
 * the caller awaits. */
static void
queue_put_async (MprocRemote *remote,
                 GVariant    *value,
                 gint64       timeout_usec,
                 GTask       *task)
{
  RedisQueue *q = (RedisQueue *) remote;
  g_autoptr(MprocRedisCmd) cmd = NULL;

  if (q->joinable)
    cmd = mproc_redis_eval (q->backend->client, SCRIPT_JQ_PUT, q->key, q->ukey, NULL);
  else
    {
      cmd = mproc_redis_cmd_new ("RPUSH");
      mproc_redis_cmd_add_str (cmd, q->key);
    }
  mproc_redis_cmd_add_boxed (cmd, value);
  /* the queue (the task's source) owns @q */
  g_task_set_task_data (task, q, NULL);
  mproc_redis_client_call_async (q->backend->client, cmd, -1, g_task_get_cancellable (task),
                                 put_async_cb, task);
}

typedef struct
{
  RedisQueue       *q;
  MprocRedisClient *client;     /* the queue's for LPOP, else one of its own */
  gint64            deadline;   /* -1: none */
  gboolean          once;       /* LPOP, no wait */
} ListGet;

static void
list_get_free (gpointer data)
{
  ListGet *lg = data;

  mproc_redis_client_unref (lg->client);
  g_free (lg);
}

static void list_get_next (GTask *task);

static void
list_get_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ListGet *lg = g_task_get_task_data (task);
  g_autoptr(redisReply) reply = NULL;
  GVariant *value;
  GError *error = NULL;

  reply = mproc_redis_client_call_finish (lg->client, result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (lg->once && reply->type == REDIS_REPLY_NIL)
    {
      set_empty (&error);
      g_task_return_error (task, error);
      return;
    }
  if (lg->once || (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2))
    {
      value = boxed_unbox (lg->once ? reply : reply->element[1], &error);
      if (value == NULL)
        g_task_return_error (task, error);
      else
        g_task_return_pointer (task, value, (GDestroyNotify) g_variant_unref);
      return;
    }
  if (reply->type != REDIS_REPLY_NIL)
    {
      mproc_redis_set_malformed (&error);
      g_task_return_error (task, error);
      return;
    }
  if (timed_out (lg->deadline, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  list_get_next (g_steal_pointer (&task));
}

/* One BLPOP slice on the task's own connection; cancelling the task
 * closes that connection, so nothing stays blocked on the server. */
static void
list_get_next (GTask *task)
{
  ListGet *lg = g_task_get_task_data (task);
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("BLPOP");
  gint64 wait = block_msec (lg->deadline);
  char seconds[32];

  mproc_redis_cmd_add_str (cmd, lg->q->key);
  g_ascii_formatd (seconds, sizeof seconds, "%.3f", wait / 1000.0);
  mproc_redis_cmd_add_str (cmd, seconds);
  mproc_redis_client_call_async (lg->client, cmd, wait * 1000 + lg->q->backend->config->timeout_usec,
                                 g_task_get_cancellable (task), list_get_cb, task);
}

static void
list_get_async (MprocRemote *remote,
                gint64       timeout_usec,
                GTask       *task)
{
  RedisQueue *q = (RedisQueue *) remote;
  ListGet *lg = g_new0 (ListGet, 1);

  lg->q = q;
  lg->deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  lg->once = timeout_usec == 0;
  g_task_set_task_data (task, lg, list_get_free);
  if (lg->once)
    {
      g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("LPOP");

      lg->client = mproc_redis_client_ref (q->backend->client);
      mproc_redis_cmd_add_str (cmd, q->key);
      mproc_redis_client_call_async (lg->client, cmd, -1, g_task_get_cancellable (task),
                                     list_get_cb, task);
      return;
    }
  /* a connection per waiting get: concurrent gets do not queue behind one
   * another, and cancelling one does not fail the others */
  lg->client = mproc_redis_client_new_blocking (q->backend->config);
  list_get_next (task);
}

static gssize
list_qsize (MprocRemote  *remote,
            GError      **error)
{
  RedisQueue *q = (RedisQueue *) remote;
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("LLEN");
  g_autoptr(redisReply) reply = NULL;

  mproc_redis_cmd_add_str (cmd, q->key);
  reply = mproc_redis_client_call (q->backend->client, cmd, -1, NULL, error);
  if (reply == NULL)
    return -1;
  return reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
}

static gboolean
plain_task_done (MprocRemote  *remote,
                 GError      **error)
{
  mproc_remote_set_unsupported (error);
  return FALSE;
}

static gboolean
plain_join (MprocRemote   *remote,
            gint64         timeout_usec,
            GCancellable  *cancellable,
            GError       **error)
{
  mproc_remote_set_unsupported (error);
  return FALSE;
}

/* --- JoinableQueue: a STREAM and a consumer group ------------------------------- */

static gboolean
stream_put (MprocRemote   *remote,
            GVariant      *value,
            gint64         timeout_usec,
            GCancellable  *cancellable,
            GError       **error)
{
  RedisQueue *q = (RedisQueue *) remote;
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_eval (q->backend->client, SCRIPT_JQ_PUT, q->key, q->ukey, NULL);
  g_autoptr(redisReply) reply = NULL;

  mproc_redis_cmd_add_boxed (cmd, value);
  /* waited for: an item must be counted before anyone may join on it */
  reply = mproc_redis_client_call (q->backend->client, cmd, -1, cancellable, error);
  return reply != NULL;
}

/* This process's consumer name, subscribed to its liveness channel. */
static char *
stream_consumer (RedisQueue    *q,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(MprocRedisCmd) cmd = NULL;
  g_autoptr(redisReply) reply = NULL;
  g_autofree char *channel = NULL;
  g_autofree char *name = NULL;
  MprocRedisClient *alive;

  g_mutex_lock (&q->lock);
  queue_reset_process_locked (q);
  if (q->consumer != NULL && mproc_redis_client_is_open (q->alive))
    {
      name = g_strdup (q->consumer);
      g_mutex_unlock (&q->lock);
      return g_steal_pointer (&name);
    }
  /* the subscription lost with its connection (a server restart): made
   * again under the same name, before others take us for dead */
  name = q->consumer != NULL ? g_strdup (q->consumer) :
         g_strdup_printf ("%s-%d-%08x", g_get_host_name (), (int) getpid (), g_random_int ());
  g_mutex_unlock (&q->lock);

  channel = g_strconcat (q->alive_prefix, name, NULL);
  alive = mproc_redis_client_new_blocking (q->backend->config);
  cmd = mproc_redis_cmd_new ("SUBSCRIBE");
  mproc_redis_cmd_add_str (cmd, channel);
  reply = mproc_redis_client_call (alive, cmd, -1, cancellable, error);
  if (reply == NULL)
    {
      mproc_redis_client_unref (alive);
      return NULL;
    }
  g_mutex_lock (&q->lock);
  if (q->consumer == NULL || g_strcmp0 (q->consumer, name) == 0)
    {
      g_free (q->consumer);
      q->consumer = g_strdup (name);
      g_clear_pointer (&q->alive, mproc_redis_client_unref);
      q->alive = alive;
    }
  else
    {
      mproc_redis_client_unref (alive);
      g_free (name);
      name = g_strdup (q->consumer);
    }
  g_mutex_unlock (&q->lock);
  return g_steal_pointer (&name);
}

/* An entry [id, [field, value…]] as its message; its id is recorded. */
static GVariant *
stream_deliver (RedisQueue  *q,
                redisReply  *entry,
                GError     **error)
{
  redisReply *fields;
  GVariant *value;

  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
      entry->element[0]->type != REDIS_REPLY_STRING)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  fields = entry->element[1];
  g_mutex_lock (&q->lock);
  g_queue_push_tail (&q->delivered, g_strdup (entry->element[0]->str));
  g_mutex_unlock (&q->lock);
  if (fields->type != REDIS_REPLY_ARRAY || fields->elements != 2 ||
      (value = boxed_unbox (fields->element[1], error)) == NULL)
    {
      /* a malformed message still counts as delivered: task_done() drops it */
      if (error != NULL && *error == NULL)
        mproc_redis_set_malformed (error);
      return NULL;
    }
  return value;
}

static gboolean
consumer_is_alive (RedisQueue    *q,
                   const char    *consumer,
                   GCancellable  *cancellable,
                   gboolean      *alive,
                   GError       **error)
{
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("PUBSUB");
  g_autoptr(redisReply) reply = NULL;
  g_autofree char *channel = g_strconcat (q->alive_prefix, consumer, NULL);

  mproc_redis_cmd_add_str (cmd, "NUMSUB");
  mproc_redis_cmd_add_str (cmd, channel);
  reply = mproc_redis_client_call (q->backend->client, cmd, -1, cancellable, error);
  if (reply == NULL)
    return FALSE;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[1]->type != REDIS_REPLY_INTEGER)
    {
      mproc_redis_set_malformed (error);
      return FALSE;
    }
  *alive = reply->element[1]->integer > 0;
  return TRUE;
}

/* Takes one entry of a dead getter, if there is one: *@value set, or
 * NULL when there is none. */
static gboolean
stream_reclaim (RedisQueue    *q,
                const char    *me,
                GVariant     **value,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("XPENDING");
  g_autoptr(redisReply) reply = NULL;
  g_autoptr(GHashTable) checked = g_hash_table_new (g_str_hash, g_str_equal);

  *value = NULL;
  mproc_redis_cmd_add_str (cmd, q->key);
  mproc_redis_cmd_add_str (cmd, "g");
  mproc_redis_cmd_add_str (cmd, "-");
  mproc_redis_cmd_add_str (cmd, "+");
  mproc_redis_cmd_add_str (cmd, RECLAIM_SCAN);
  reply = mproc_redis_client_call (q->backend->client, cmd, -1, cancellable, error);
  if (reply == NULL)
    return FALSE;
  if (reply->type != REDIS_REPLY_ARRAY)
    return TRUE;
  for (size_t i = 0; i < reply->elements; i++)
    {
      redisReply *e = reply->element[i];
      g_autoptr(MprocRedisCmd) claim = NULL;
      g_autoptr(redisReply) claimed = NULL;
      const char *consumer;
      gboolean alive = TRUE;

      if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
          e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_STRING ||
          e->element[2]->type != REDIS_REPLY_INTEGER)
        continue;
      consumer = e->element[1]->str;
      if (strcmp (consumer, me) == 0)
        continue;
      if (g_hash_table_contains (checked, consumer))
        continue;
      if (!consumer_is_alive (q, consumer, cancellable, &alive, error))
        return FALSE;
      if (alive)
        {
          g_hash_table_add (checked, (gpointer) consumer);
          continue;
        }
      claim = mproc_redis_cmd_new ("XCLAIM");
      mproc_redis_cmd_add_str (claim, q->key);
      mproc_redis_cmd_add_str (claim, "g");
      mproc_redis_cmd_add_str (claim, me);
      mproc_redis_cmd_add_int (claim, e->element[2]->integer);
      mproc_redis_cmd_add_str (claim, e->element[0]->str);
      claimed = mproc_redis_client_call (q->backend->client, claim, -1, cancellable, error);
      if (claimed == NULL)
        return FALSE;
      if (claimed->type == REDIS_REPLY_ARRAY && claimed->elements == 1 &&
          claimed->element[0]->type == REDIS_REPLY_ARRAY)
        {
          *value = stream_deliver (q, claimed->element[0], error);
          return *value != NULL;
        }
    }
  return TRUE;
}

static GVariant *
stream_get (MprocRemote   *remote,
            gint64         timeout_usec,
            GCancellable  *cancellable,
            GError       **error)
{
  RedisQueue *q = (RedisQueue *) remote;
  gint64 deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  g_autoptr(MprocRedisClient) blocking = NULL;
  g_autofree char *me = stream_consumer (q, cancellable, error);

  if (me == NULL)
    return NULL;
  blocking = queue_blocking (q);
  for (;;)
    {
      g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("XREADGROUP");
      g_autoptr(redisReply) reply = NULL;
      gint64 now = g_get_monotonic_time ();
      gint64 wait = timeout_usec == 0 ? 0 : block_msec (deadline);
      gboolean scan;

      g_mutex_lock (&q->lock);
      scan = now - q->last_reclaim >= RECLAIM_EVERY_USEC;
      if (scan)
        q->last_reclaim = now;
      g_mutex_unlock (&q->lock);
      if (scan)
        {
          GVariant *value = NULL;

          if (!stream_reclaim (q, me, &value, cancellable, error))
            return NULL;
          if (value != NULL)
            return value;
        }

      mproc_redis_cmd_add_str (cmd, "GROUP");
      mproc_redis_cmd_add_str (cmd, "g");
      mproc_redis_cmd_add_str (cmd, me);
      mproc_redis_cmd_add_str (cmd, "COUNT");
      mproc_redis_cmd_add_str (cmd, "1");
      if (wait > 0)
        {
          mproc_redis_cmd_add_str (cmd, "BLOCK");
          mproc_redis_cmd_add_int (cmd, wait);
        }
      mproc_redis_cmd_add_str (cmd, "STREAMS");
      mproc_redis_cmd_add_str (cmd, q->key);
      mproc_redis_cmd_add_str (cmd, ">");
      reply = mproc_redis_client_call (wait > 0 ? blocking : q->backend->client, cmd,
                                       wait * 1000 + q->backend->config->timeout_usec,
                                       cancellable, error);
      if (reply == NULL)
        return NULL;
      if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
          reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2 &&
          reply->element[0]->element[1]->type == REDIS_REPLY_ARRAY &&
          reply->element[0]->element[1]->elements == 1)
        return stream_deliver (q, reply->element[0]->element[1]->element[0], error);
      /* nothing new: the next round looks for dead getters' entries first */
      g_mutex_lock (&q->lock);
      q->last_reclaim = 0;
      g_mutex_unlock (&q->lock);
      if (timeout_usec == 0 || timed_out (deadline, error))
        {
          if (timeout_usec == 0)
            {
              GVariant *value = NULL;

              if (!stream_reclaim (q, me, &value, cancellable, error))
                return NULL;
              if (value != NULL)
                return value;
              set_empty (error);
            }
          return NULL;
        }
    }
}

static gboolean
stream_task_done (MprocRemote  *remote,
                  GError      **error)
{
  RedisQueue *q = (RedisQueue *) remote;
  g_autoptr(MprocRedisCmd) cmd = NULL;
  g_autoptr(redisReply) reply = NULL;
  g_autofree char *id = NULL;

  g_mutex_lock (&q->lock);
  queue_reset_process_locked (q);
  id = g_queue_pop_head (&q->delivered);
  g_mutex_unlock (&q->lock);
  if (id == NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TOO_MANY_RELEASES,
                           _("task_done() called more times than this process got items"));
      return FALSE;
    }
  cmd = mproc_redis_eval (q->backend->client, SCRIPT_JQ_DONE, q->key, q->ukey, q->jkey, NULL);
  mproc_redis_cmd_add_str (cmd, id);
  reply = mproc_redis_client_call (q->backend->client, cmd, -1, NULL, error);
  if (reply == NULL)
    {
      /* not acknowledged: still ours to finish */
      g_mutex_lock (&q->lock);
      if (q->pid == getpid ())
        g_queue_push_head (&q->delivered, g_steal_pointer (&id));
      g_mutex_unlock (&q->lock);
      return FALSE;
    }
  if (reply->type == REDIS_REPLY_INTEGER && reply->integer == -1)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TOO_MANY_RELEASES,
                           _("The item was reclaimed from this process (it was thought dead) "
                             "and finished elsewhere"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
stream_join (MprocRemote   *remote,
             gint64         timeout_usec,
             GCancellable  *cancellable,
             GError       **error)
{
  RedisQueue *q = (RedisQueue *) remote;
  gint64 deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  g_autoptr(MprocRedisClient) blocking = queue_blocking (q);

  for (;;)
    {
      g_autoptr(MprocRedisCmd) state = mproc_redis_eval (q->backend->client, SCRIPT_JQ_STATE,
                                                         q->ukey, q->jkey, NULL);
      g_autoptr(MprocRedisCmd) wait = mproc_redis_cmd_new ("XREAD");
      g_autoptr(redisReply) reply = NULL;
      g_autoptr(redisReply) woken = NULL;
      gint64 msec;

      reply = mproc_redis_client_call (q->backend->client, state, -1, cancellable, error);
      if (reply == NULL)
        return FALSE;
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
          reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[1]->type != REDIS_REPLY_STRING)
        {
          mproc_redis_set_malformed (error);
          return FALSE;
        }
      if (reply->element[0]->integer <= 0)
        return TRUE;
      if (deadline >= 0 && g_get_monotonic_time () >= deadline)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                               _("Items of the queue are still unfinished"));
          return FALSE;
        }
      /* woken by the task_done() that finishes the last item, or the slice ends */
      msec = block_msec (deadline);
      mproc_redis_cmd_add_str (wait, "BLOCK");
      mproc_redis_cmd_add_int (wait, msec);
      mproc_redis_cmd_add_str (wait, "STREAMS");
      mproc_redis_cmd_add_str (wait, q->jkey);
      mproc_redis_cmd_add_str (wait, reply->element[1]->str);
      woken = mproc_redis_client_call (blocking, wait, msec * 1000 + q->backend->config->timeout_usec,
                                       cancellable, error);
      if (woken == NULL)
        return FALSE;
    }
}

static gssize
stream_qsize (MprocRemote  *remote,
              GError      **error)
{
  RedisQueue *q = (RedisQueue *) remote;
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_eval (q->backend->client, SCRIPT_JQ_QSIZE, q->key, NULL);
  g_autoptr(redisReply) reply = NULL;

  reply = mproc_redis_client_call (q->backend->client, cmd, -1, NULL, error);
  if (reply == NULL)
    return -1;
  return reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
}

/* --- Life ----------------------------------------------------------------------- */

static void
queue_free (MprocRemote *remote)
{
  RedisQueue *q = (RedisQueue *) remote;

  if (q->pid == getpid ())
    {
      g_clear_pointer (&q->blocking, mproc_redis_client_unref);
      g_clear_pointer (&q->alive, mproc_redis_client_unref);
    }
  g_free (q->consumer);
  g_queue_clear_full (&q->delivered, g_free);
  g_free (q->key);
  g_free (q->ukey);
  g_free (q->jkey);
  g_free (q->alive_prefix);
  g_mutex_clear (&q->lock);
  g_object_unref (q->manager);
  g_free (q);
}

static const MprocRemoteClass list_class = {
  .put = list_put,
  .get = list_get,
  .qsize = list_qsize,
  .task_done = plain_task_done,
  .join = plain_join,
  .put_async = queue_put_async,
  .get_async = list_get_async,
  .free = queue_free,
};

static const MprocRemoteClass stream_class = {
  .put = stream_put,
  .get = stream_get,
  .qsize = stream_qsize,
  .task_done = stream_task_done,
  .join = stream_join,
  .put_async = queue_put_async,
  .free = queue_free,
};

static gboolean
check_name (const char  *name,
            GError     **error)
{
  if (name == NULL || name[0] == '\0' || strpbrk (name, "{}") != NULL || !g_utf8_validate (name, -1, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("An object in Redis needs a name, without braces"));
      return FALSE;
    }
  return TRUE;
}

/* @type: MPROC_TYPE_QUEUE, MPROC_TYPE_JOINABLE_QUEUE or MPROC_TYPE_SIMPLE_QUEUE */
static gpointer
queue_new (MprocManager  *manager,
           const char    *name,
           GType          type,
           GCancellable  *cancellable,
           GError       **error)
{
  gboolean joinable = type == MPROC_TYPE_JOINABLE_QUEUE;
  MprocRedisBackend *backend = mproc_redis_backend_for (manager, error);
  const char *prefix;
  RedisQueue *q;
  GObject *object;

  if (backend == NULL || !check_name (name, error))
    return NULL;
  prefix = backend->config->prefix;
  q = g_new0 (RedisQueue, 1);
  q->parent.klass = joinable ? &stream_class : &list_class;
  q->manager = g_object_ref (manager);
  q->backend = backend;
  q->joinable = joinable;
  q->key = g_strdup_printf ("%s:{q:%s}:%s", prefix, name, joinable ? "s" : "l");
  q->ukey = g_strdup_printf ("%s:{q:%s}:u", prefix, name);
  q->jkey = g_strdup_printf ("%s:{q:%s}:j", prefix, name);
  q->alive_prefix = g_strdup_printf ("%s:{q:%s}:alive:", prefix, name);
  g_mutex_init (&q->lock);
  q->pid = getpid ();

  if (joinable)
    {
      g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("XGROUP");
      g_autoptr(redisReply) reply = NULL;
      g_autoptr(GError) local_error = NULL;

      mproc_redis_cmd_add_str (cmd, "CREATE");
      mproc_redis_cmd_add_str (cmd, q->key);
      mproc_redis_cmd_add_str (cmd, "g");
      mproc_redis_cmd_add_str (cmd, "0");
      mproc_redis_cmd_add_str (cmd, "MKSTREAM");
      reply = mproc_redis_client_call (backend->client, cmd, -1, cancellable, &local_error);
      /* made by another process already */
      if (reply == NULL && !(local_error->domain == MPROC_ERROR && local_error->code == MPROC_ERROR_FAILED &&
                             strstr (local_error->message, "BUSYGROUP") != NULL))
        {
          queue_free (&q->parent);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }
  else
    {
      /* reachable at all, and allowed: said now rather than at the first put */
      g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("LLEN");
      g_autoptr(redisReply) reply = NULL;

      mproc_redis_cmd_add_str (cmd, q->key);
      reply = mproc_redis_client_call (backend->client, cmd, -1, cancellable, error);
      if (reply == NULL)
        {
          queue_free (&q->parent);
          return NULL;
        }
    }
  object = g_object_new (type, NULL);
  mproc_remote_set (object, &q->parent);
  return object;
}

/**
 * mproc_manager_new_queue:
 * @self: a manager made by [ctor@Mproc.Manager.new_for_uri]
 * @name: the queue's name: processes that use the same name share it
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * A queue that lives where the manager's objects do (a Redis LIST):
 * put() appends (pipelined: an error shows at the next call), get()
 * takes the oldest message, each delivered to one getter only.  Unbounded
 * (#MprocQueue:maxsize is not enforced); passing the queue to a process
 * is not available: open it by name there.  put_async() and get_async()
 * use no thread; a waiting get_async() has a connection of its own,
 * which cancelling it closes.  A getter that dies after get() loses its message, as with a
 * local queue; see [method@Mproc.Manager.new_joinable_queue] for delivery that
 * survives it.
 *
 * Returns: (transfer full): the queue, or %NULL with @error set
 *   (%G_IO_ERROR_NOT_SUPPORTED for a manager of its own server process)
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocQueue *
mproc_manager_new_queue (MprocManager  *self,
                         const char    *name,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_return_val_if_fail (MPROC_IS_MANAGER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return queue_new (self, name, MPROC_TYPE_QUEUE, cancellable, error);
}

/**
 * mproc_manager_new_joinable_queue:
 * @self: a manager made by [ctor@Mproc.Manager.new_for_uri]
 * @name: the queue's name: processes that use the same name share it
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * A joinable queue that lives where the manager's objects do (a Redis
 * STREAM with a consumer group).  An item got stays pending until this
 * process calls task_done() for it: if the getter dies first, the item is
 * given to another getter (at its next get, within a fraction of a
 * second) and join() does not return meanwhile.  task_done() finishes the
 * oldest item this process got.  Delivery is therefore at least once:
 * a getter that dies after its work but before task_done() has that item
 * done again.
 *
 * Returns: (transfer full): the queue, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocJoinableQueue *
mproc_manager_new_joinable_queue (MprocManager  *self,
                                  const char    *name,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  g_return_val_if_fail (MPROC_IS_MANAGER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return queue_new (self, name, MPROC_TYPE_JOINABLE_QUEUE, cancellable, error);
}

/**
 * mproc_manager_new_simple_queue:
 * @self: a manager made by [ctor@Mproc.Manager.new_for_uri]
 * @name: the queue's name: processes that use the same name share it
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * A simple queue that lives where the manager's objects do: the same
 * Redis LIST as the [method@Mproc.Manager.new_queue] of that name, behind
 * the smaller API of #MprocSimpleQueue.  put() is pipelined (an error
 * shows at the next call); get() and get_async() wait for a message,
 * get_async() with no thread; passing the queue to a process is not
 * available: open it by name there.
 *
 * Returns: (transfer full): the queue, or %NULL with @error set
 *   (%G_IO_ERROR_NOT_SUPPORTED for a manager of its own server process)
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocSimpleQueue *
mproc_manager_new_simple_queue (MprocManager  *self,
                                const char    *name,
                                GCancellable  *cancellable,
                                GError       **error)
{
  g_return_val_if_fail (MPROC_IS_MANAGER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return queue_new (self, name, MPROC_TYPE_SIMPLE_QUEUE, cancellable, error);
}
