/* mproc-redis-event.c: MprocEvent in Redis
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * P:{e:<name>}:flag exists while the event is set; each set() also
 * appends to P:{e:<name>}:c, which waiters read with XREAD BLOCK from the
 * entry they saw last, so a set() between their check and their wait is
 * not missed.
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-event.h"
#include "mproc-i18n-private.h"
#include "mproc-manager.h"
#include "mproc-redis-private.h"
#include "mproc-remote-private.h"

#define BLOCK_SLICE_MSEC 1000

typedef struct
{
  MprocRemote        parent;
  MprocManager      *manager;
  MprocRedisBackend *backend;
  char              *flag_key;
  char              *chg_key;
  GMutex             lock;
  MprocRedisClient  *blocking;
  GPid               pid;
} RedisEvent;

static void
event_set (MprocRemote *remote,
           gboolean     value)
{
  RedisEvent *e = (RedisEvent *) remote;
  g_autoptr(MprocRedisCmd) cmd = NULL;
  g_autoptr(redisReply) reply = NULL;
  g_autoptr(GError) error = NULL;

  cmd = mproc_redis_eval (e->backend->client, SCRIPT_EVENT_SET, e->flag_key, e->chg_key, NULL);
  mproc_redis_cmd_add_str (cmd, value ? "1" : "0");
  reply = mproc_redis_client_call (e->backend->client, cmd, -1, NULL, &error);
  /* set() and clear() have no error to give */
  if (reply == NULL)
    g_warning ("Cannot %s a shared event: %s", value ? "set" : "clear", error->message);
}

static gboolean
event_is_set (MprocRemote *remote)
{
  RedisEvent *e = (RedisEvent *) remote;
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("EXISTS");
  g_autoptr(redisReply) reply = NULL;

  mproc_redis_cmd_add_str (cmd, e->flag_key);
  reply = mproc_redis_client_call (e->backend->client, cmd, -1, NULL, NULL);
  return reply != NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
}

static gboolean
event_wait (MprocRemote   *remote,
            gint64         timeout_usec,
            GCancellable  *cancellable,
            GError       **error)
{
  RedisEvent *e = (RedisEvent *) remote;
  gint64 deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  g_autoptr(MprocRedisClient) blocking = NULL;

  g_mutex_lock (&e->lock);
  if (e->blocking == NULL || e->pid != getpid ())
    {
      /* a child's own connection: the parent's is not ours to use */
      if (e->pid == getpid ())
        g_clear_pointer (&e->blocking, mproc_redis_client_unref);
      e->blocking = mproc_redis_client_new_blocking (e->backend->config);
      e->pid = getpid ();
    }
  blocking = mproc_redis_client_ref (e->blocking);
  g_mutex_unlock (&e->lock);

  for (;;)
    {
      g_autoptr(MprocRedisCmd) state = mproc_redis_eval (e->backend->client, SCRIPT_EVENT_STATE,
                                                         e->flag_key, e->chg_key, NULL);
      g_autoptr(MprocRedisCmd) wait = mproc_redis_cmd_new ("XREAD");
      g_autoptr(redisReply) reply = NULL;
      g_autoptr(redisReply) woken = NULL;
      gint64 msec = BLOCK_SLICE_MSEC;

      reply = mproc_redis_client_call (e->backend->client, state, -1, cancellable, error);
      if (reply == NULL)
        return FALSE;
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
          reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[1]->type != REDIS_REPLY_STRING)
        {
          mproc_redis_set_malformed (error);
          return FALSE;
        }
      if (reply->element[0]->integer == 1)
        return TRUE;
      if (deadline >= 0)
        {
          gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

          if (left <= 0)
            return FALSE;
          msec = MIN (msec, left);
        }
      mproc_redis_cmd_add_str (wait, "BLOCK");
      mproc_redis_cmd_add_int (wait, msec);
      mproc_redis_cmd_add_str (wait, "STREAMS");
      mproc_redis_cmd_add_str (wait, e->chg_key);
      mproc_redis_cmd_add_str (wait, reply->element[1]->str);
      woken = mproc_redis_client_call (blocking, wait, msec * 1000 + e->backend->config->timeout_usec,
                                       cancellable, error);
      if (woken == NULL)
        return FALSE;
    }
}

/* --- wait_async: the same two steps on the client's async path ---------------- */

typedef struct
{
  RedisEvent       *e;          /* owned by the event, the task's source */
  MprocRedisClient *blocking;   /* this wait's own connection */
  gint64            deadline;   /* -1: none */
} EventWait;

static void
event_wait_free (gpointer data)
{
  EventWait *w = data;

  mproc_redis_client_unref (w->blocking);
  g_free (w);
}

static void event_wait_next (GTask *task);

static void
event_woken_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  EventWait *w = g_task_get_task_data (task);
  g_autoptr(redisReply) woken = NULL;
  GError *error = NULL;

  woken = mproc_redis_client_call_finish (w->blocking, result, &error);
  if (woken == NULL)
    g_task_return_error (task, error);
  else
    event_wait_next (g_steal_pointer (&task));
}

static void
event_state_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  EventWait *w = g_task_get_task_data (task);
  RedisEvent *e = w->e;
  g_autoptr(redisReply) reply = NULL;
  g_autoptr(MprocRedisCmd) wait = NULL;
  GCancellable *cancellable;
  GError *error = NULL;
  gint64 msec = BLOCK_SLICE_MSEC;

  reply = mproc_redis_client_call_finish (e->backend->client, result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[1]->type != REDIS_REPLY_STRING)
    {
      mproc_redis_set_malformed (&error);
      g_task_return_error (task, error);
      return;
    }
  if (reply->element[0]->integer == 1)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (w->deadline >= 0)
    {
      gint64 left = (w->deadline - g_get_monotonic_time ()) / 1000;

      if (left <= 0)
        {
          /* a timeout is no error, as for the sync wait */
          g_task_return_boolean (task, FALSE);
          return;
        }
      msec = MIN (msec, left);
    }
  wait = mproc_redis_cmd_new ("XREAD");
  mproc_redis_cmd_add_str (wait, "BLOCK");
  mproc_redis_cmd_add_int (wait, msec);
  mproc_redis_cmd_add_str (wait, "STREAMS");
  mproc_redis_cmd_add_str (wait, e->chg_key);
  mproc_redis_cmd_add_str (wait, reply->element[1]->str);
  /* the cancellable read before the task is handed on */
  cancellable = g_task_get_cancellable (task);
  mproc_redis_client_call_async (w->blocking, wait, msec * 1000 + e->backend->config->timeout_usec,
                                 cancellable, event_woken_cb, g_steal_pointer (&task));
}

static void
event_wait_next (GTask *task)
{
  EventWait *w = g_task_get_task_data (task);
  g_autoptr(MprocRedisCmd) state = mproc_redis_eval (w->e->backend->client, SCRIPT_EVENT_STATE,
                                                     w->e->flag_key, w->e->chg_key, NULL);

  mproc_redis_client_call_async (w->e->backend->client, state, -1, g_task_get_cancellable (task),
                                 event_state_cb, task);
}

static void
event_wait_async (MprocRemote *remote,
                  gint64       timeout_usec,
                  GTask       *task)
{
  EventWait *w = g_new0 (EventWait, 1);

  w->e = (RedisEvent *) remote;
  w->deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  /* a connection per waiting call: cancelling one closes only its own */
  w->blocking = mproc_redis_client_new_blocking (w->e->backend->config);
  g_task_set_task_data (task, w, event_wait_free);
  event_wait_next (task);
}

static void
event_free (MprocRemote *remote)
{
  RedisEvent *e = (RedisEvent *) remote;

  if (e->pid == getpid ())
    g_clear_pointer (&e->blocking, mproc_redis_client_unref);
  g_free (e->flag_key);
  g_free (e->chg_key);
  g_mutex_clear (&e->lock);
  g_object_unref (e->manager);
  g_free (e);
}

static const MprocRemoteClass event_class = {
  .event_set = event_set,
  .event_is_set = event_is_set,
  .event_wait = event_wait,
  .event_wait_async = event_wait_async,
  .free = event_free,
};

/**
 * mproc_manager_new_event:
 * @self: a manager made by [ctor@Mproc.Manager.new_for_uri]
 * @name: the event's name: processes that use the same name share it
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * An event that lives where the manager's objects do.  set() and clear()
 * cannot report a failure: a server that cannot be reached is logged as
 * a warning.  wait_async() is not available.
 *
 * Returns: (transfer full): the event, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocEvent *
mproc_manager_new_event (MprocManager  *self,
                         const char    *name,
                         GCancellable  *cancellable,
                         GError       **error)
{
  MprocRedisBackend *backend;
  const char *prefix;
  RedisEvent *e;
  MprocEvent *event;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  backend = mproc_redis_backend_for (self, error);
  if (backend == NULL)
    return NULL;
  if (name == NULL || name[0] == '\0' || strpbrk (name, "{}") != NULL || !g_utf8_validate (name, -1, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("An object in Redis needs a name, without braces"));
      return NULL;
    }
  if (!mproc_redis_client_connect (backend->client, cancellable, error))
    return NULL;
  prefix = backend->config->prefix;
  e = g_new0 (RedisEvent, 1);
  e->parent.klass = &event_class;
  e->manager = g_object_ref (self);
  e->backend = backend;
  e->flag_key = g_strdup_printf ("%s:{e:%s}:flag", prefix, name);
  e->chg_key = g_strdup_printf ("%s:{e:%s}:c", prefix, name);
  g_mutex_init (&e->lock);
  e->pid = getpid ();
  event = g_object_new (MPROC_TYPE_EVENT, NULL);
  mproc_remote_set (event, &e->parent);
  return event;
}
