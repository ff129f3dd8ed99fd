/* mproc-redis-lock.c: MprocLock in Redis, as a lease
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * P:{k:<name>}:owner holds the holder's token with a time to live (the
 * lease); the holder renews it at a third of the lease from the main
 * context it acquired in.  P:{k:<name>}:held holds the token too, without
 * a time to live: a new holder that finds it (the owner key expired, no
 * release) is told MPROC_ERROR_OWNER_DIED, as by the local robust lock,
 * and holds the lock all the same.  P:{k:<name>}:fence counts
 * acquisitions: the fencing token of each hold (M. Kleppmann, "How to do
 * distributed locking"), for a resource that can check it.  A release
 * wakes one waiter through P:{k:<name>}:wake; the others wake when the
 * lease they wait on runs out.
 *
 * A holder that cannot renew (its main loop not running for longer than
 * the lease, or cut off from the server) loses the lock: release() then
 * fails with MPROC_ERROR_NOT_OWNER.  This is a lease, not a mutex.
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-lock.h"
#include "mproc-manager.h"
#include "mproc-redis-private.h"
#include "mproc-remote-private.h"

typedef struct
{
  MprocRemote        parent;
  MprocManager      *manager;
  MprocRedisBackend *backend;
  char              *owner_key;
  char              *held_key;
  char              *fence_key;
  char              *wake_key;

  GMutex             lock;
  GPid               pid;
  MprocRedisClient  *blocking;
  char              *token;      /* while held by this process */
  GThread           *thread;     /* the holder */
  guint64            fence;
  GSource           *renew;
} RedisLock;

static void
stop_renewing_locked (RedisLock *l)
{
  if (l->renew != NULL)
    {
      g_source_destroy (l->renew);
      g_clear_pointer (&l->renew, g_source_unref);
    }
}

static void
reset_process_locked (RedisLock *l)
{
  if (l->pid == getpid ())
    return;
  /* a child holds nothing its parent held */
  l->pid = getpid ();
  g_clear_pointer (&l->blocking, mproc_redis_client_unref);
  g_clear_pointer (&l->token, g_free);
  g_clear_pointer (&l->renew, g_source_unref);
  l->thread = NULL;
}

typedef struct
{
  MprocRemote *remote;
  MprocManager *manager;
  char *token;
} Renewal;

static void
renewal_free (gpointer data)
{
  Renewal *r = data;

  g_object_unref (r->manager);
  g_free (r->token);
  g_free (r);
}

static void
renewed_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  MprocRedisClient *client = user_data;
  g_autoptr(redisReply) reply = mproc_redis_client_call_finish (client, result, NULL);

  /* a lost lease shows at release() */
  mproc_redis_client_unref (client);
}

static gboolean
renew_cb (gpointer data)
{
  Renewal *r = data;
  RedisLock *l = (RedisLock *) r->remote;
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_eval (l->backend->client, SCRIPT_LOCK_RENEW, l->owner_key, NULL);

  mproc_redis_cmd_add_str (cmd, r->token);
  mproc_redis_cmd_add_int (cmd, l->backend->config->lease_usec / 1000);
  mproc_redis_client_call_async (l->backend->client, cmd, -1, NULL, renewed_cb,
                                 mproc_redis_client_ref (l->backend->client));
  return G_SOURCE_CONTINUE;
}

/* One attempt: TRUE when acquired (*@died set), else *@wait_msec the
 * lease left of the holder. */
static gboolean
try_once (RedisLock     *l,
          const char    *token,
          gboolean      *acquired,
          gboolean      *died,
          gint64        *wait_msec,
          GCancellable  *cancellable,
          GError       **error)
{
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_eval (l->backend->client, SCRIPT_LOCK_ACQUIRE,
                                                   l->owner_key, l->held_key, l->fence_key, NULL);
  g_autoptr(redisReply) reply = NULL;

  mproc_redis_cmd_add_str (cmd, token);
  mproc_redis_cmd_add_int (cmd, l->backend->config->lease_usec / 1000);
  reply = mproc_redis_client_call (l->backend->client, cmd, -1, cancellable, error);
  if (reply == NULL)
    return FALSE;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[1]->type != REDIS_REPLY_INTEGER)
    {
      mproc_redis_set_malformed (error);
      return FALSE;
    }
  *acquired = reply->element[0]->integer == 1;
  if (*acquired)
    {
      *died = reply->element[1]->integer == 1;
      l->fence = reply->elements > 2 && reply->element[2]->type == REDIS_REPLY_INTEGER ?
                 reply->element[2]->integer : 0;
    }
  else
    *wait_msec = reply->element[1]->integer;
  return TRUE;
}

/* FALSE with @error when this process holds the lock already. */
static gboolean
check_not_held (RedisLock  *l,
                gint64      timeout_usec,
                GError    **error)
{
  g_mutex_lock (&l->lock);
  reset_process_locked (l);
  if (l->token != NULL)
    {
      g_mutex_unlock (&l->lock);
      /* not recursive, as a local Lock: the same thread would wait forever */
      if (timeout_usec == 0)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT, _("The lock is held"));
          return FALSE;
        }
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                           _("This process already holds the lock"));
      return FALSE;
    }
  g_mutex_unlock (&l->lock);
  return TRUE;
}

static char *
token_new (void)
{
  return g_strdup_printf ("%s:%d:%08x%08x", g_get_host_name (), (int) getpid (), g_random_int (), g_random_int ());
}

/* The BLPOP that waits for a release, for at most the holder's lease
 * (@wait_msec), the deadline's time left, and one second. */
static MprocRedisCmd *
wake_cmd (RedisLock *l,
          gint64     deadline,
          gint64    *wait_msec)
{
  MprocRedisCmd *wait;
  char seconds[32];

  if (*wait_msec <= 0)
    *wait_msec = 1;
  if (deadline >= 0)
    {
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

      *wait_msec = MIN (*wait_msec, MAX (left, 1));
    }
  *wait_msec = MIN (*wait_msec, 1000);
  wait = mproc_redis_cmd_new ("BLPOP");
  mproc_redis_cmd_add_str (wait, l->wake_key);
  g_ascii_formatd (seconds, sizeof seconds, "%.3f", *wait_msec / 1000.0);
  mproc_redis_cmd_add_str (wait, seconds);
  return wait;
}

/* Held by @token from now, in the calling thread: renews the lease from
 * its thread-default main context. */
static gboolean
take_hold (RedisLock   *l,
           const char  *token,
           gboolean     died,
           GError     **error)
{
  Renewal *r = g_new0 (Renewal, 1);

  g_mutex_lock (&l->lock);
  l->token = g_strdup (token);
  l->thread = g_thread_self ();
  r->remote = &l->parent;
  r->manager = g_object_ref (l->manager);
  r->token = g_strdup (token);
  stop_renewing_locked (l);
  l->renew = g_timeout_source_new (MAX (1, l->backend->config->lease_usec / 3000));
  g_source_set_callback (l->renew, renew_cb, r, renewal_free);
  g_source_set_static_name (l->renew, "[mproc] redis lock lease");
  g_source_attach (l->renew, g_main_context_get_thread_default ());
  g_mutex_unlock (&l->lock);

  if (died)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED,
                           _("The previous holder of the lock lost its lease without releasing it "
                             "(it died or was cut off); the lock is now held by the caller"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
lock_acquire (MprocRemote   *remote,
              gint64         timeout_usec,
              GCancellable  *cancellable,
              GError       **error)
{
  RedisLock *l = (RedisLock *) remote;
  gint64 deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  g_autofree char *token = NULL;
  g_autoptr(MprocRedisClient) blocking = NULL;
  gboolean acquired_now = FALSE, died = FALSE;

  if (!check_not_held (l, timeout_usec, error))
    return FALSE;
  g_mutex_lock (&l->lock);
  if (l->blocking == NULL)
    l->blocking = mproc_redis_client_new_blocking (l->backend->config);
  blocking = mproc_redis_client_ref (l->blocking);
  g_mutex_unlock (&l->lock);

  token = token_new ();
  for (;;)
    {
      g_autoptr(MprocRedisCmd) wait = NULL;
      g_autoptr(redisReply) woken = NULL;
      gint64 wait_msec = 0;

      if (!try_once (l, token, &acquired_now, &died, &wait_msec, cancellable, error))
        return FALSE;
      if (acquired_now)
        break;
      if (deadline >= 0 && g_get_monotonic_time () >= deadline)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT, _("The lock is held"));
          return FALSE;
        }
      /* until a release wakes us, or the holder's lease runs out */
      wait = wake_cmd (l, deadline, &wait_msec);
      woken = mproc_redis_client_call (blocking, wait, wait_msec * 1000 + l->backend->config->timeout_usec,
                                       cancellable, error);
      if (woken == NULL)
        return FALSE;
    }
  return take_hold (l, token, died, error);
}

/* --- acquire_async: the same steps on the client's async path -------------- */

typedef struct
{
  RedisLock        *l;          /* owned by the lock, the task's source */
  MprocRedisClient *blocking;   /* this call's own connection */
  char             *token;
  gint64            deadline;
} Acquire;

static void
acquire_free (gpointer data)
{
  Acquire *a = data;

  mproc_redis_client_unref (a->blocking);
  g_free (a->token);
  g_free (a);
}

static void acquire_try (GTask *task);

static void
acquire_woken_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Acquire *a = g_task_get_task_data (task);
  g_autoptr(redisReply) woken = NULL;
  GError *error = NULL;

  woken = mproc_redis_client_call_finish (a->blocking, result, &error);
  if (woken == NULL)
    g_task_return_error (task, error);
  else
    acquire_try (g_steal_pointer (&task));
}

static void
acquire_tried_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Acquire *a = g_task_get_task_data (task);
  RedisLock *l = a->l;
  g_autoptr(redisReply) reply = NULL;
  g_autoptr(MprocRedisCmd) wait = NULL;
  GCancellable *cancellable;
  GError *error = NULL;
  gint64 wait_msec;

  reply = mproc_redis_client_call_finish (l->backend->client, result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[1]->type != REDIS_REPLY_INTEGER)
    {
      mproc_redis_set_malformed (&error);
      g_task_return_error (task, error);
      return;
    }
  if (reply->element[0]->integer == 1)
    {
      /* held by the thread that runs this callback: the task's context's */
      l->fence = reply->elements > 2 && reply->element[2]->type == REDIS_REPLY_INTEGER ?
                 reply->element[2]->integer : 0;
      if (take_hold (l, a->token, reply->element[1]->integer == 1, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error);
      return;
    }
  if (a->deadline >= 0 && g_get_monotonic_time () >= a->deadline)
    {
      g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_TIMED_OUT, _("The lock is held"));
      return;
    }
  wait_msec = reply->element[1]->integer;
  wait = wake_cmd (l, a->deadline, &wait_msec);
  /* the cancellable read before the task is handed on */
  cancellable = g_task_get_cancellable (task);
  mproc_redis_client_call_async (a->blocking, wait, wait_msec * 1000 + l->backend->config->timeout_usec,
                                 cancellable, acquire_woken_cb, g_steal_pointer (&task));
}

static void
acquire_try (GTask *task)
{
  Acquire *a = g_task_get_task_data (task);
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_eval (a->l->backend->client, SCRIPT_LOCK_ACQUIRE,
                                                   a->l->owner_key, a->l->held_key, a->l->fence_key, NULL);

  mproc_redis_cmd_add_str (cmd, a->token);
  mproc_redis_cmd_add_int (cmd, a->l->backend->config->lease_usec / 1000);
  mproc_redis_client_call_async (a->l->backend->client, cmd, -1, g_task_get_cancellable (task),
                                 acquire_tried_cb, task);
}

static void
lock_acquire_async (MprocRemote *remote,
                    gint64       timeout_usec,
                    GTask       *task)
{
  RedisLock *l = (RedisLock *) remote;
  GError *error = NULL;
  Acquire *a;

  if (!check_not_held (l, timeout_usec, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  a = g_new0 (Acquire, 1);
  a->l = l;
  a->deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  a->token = token_new ();
  /* a connection per waiting call: cancelling one closes only its own */
  a->blocking = mproc_redis_client_new_blocking (l->backend->config);
  g_task_set_task_data (task, a, acquire_free);
  acquire_try (task);
}

static gboolean
lock_release (MprocRemote  *remote,
              GError      **error)
{
  RedisLock *l = (RedisLock *) remote;
  g_autoptr(MprocRedisCmd) cmd = NULL;
  g_autoptr(redisReply) reply = NULL;
  g_autofree char *token = NULL;

  g_mutex_lock (&l->lock);
  reset_process_locked (l);
  if (l->token == NULL || l->thread != g_thread_self ())
    {
      g_mutex_unlock (&l->lock);
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER,
                           _("The calling thread does not hold the lock"));
      return FALSE;
    }
  token = g_steal_pointer (&l->token);
  l->thread = NULL;
  stop_renewing_locked (l);
  g_mutex_unlock (&l->lock);

  cmd = mproc_redis_eval (l->backend->client, SCRIPT_LOCK_RELEASE, l->owner_key, l->held_key, l->wake_key, NULL);
  mproc_redis_cmd_add_str (cmd, token);
  reply = mproc_redis_client_call (l->backend->client, cmd, -1, NULL, error);
  if (reply == NULL)
    return FALSE;
  if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER,
                           _("The lock’s lease ran out before it was released: "
                             "another process may have held it meanwhile"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
lock_is_owned (MprocRemote *remote)
{
  RedisLock *l = (RedisLock *) remote;
  gboolean ret;

  g_mutex_lock (&l->lock);
  reset_process_locked (l);
  ret = l->token != NULL && l->thread == g_thread_self ();
  g_mutex_unlock (&l->lock);
  return ret;
}

static void
lock_free (MprocRemote *remote)
{
  RedisLock *l = (RedisLock *) remote;

  if (l->pid == getpid ())
    {
      stop_renewing_locked (l);
      g_clear_pointer (&l->blocking, mproc_redis_client_unref);
    }
  g_free (l->token);
  g_free (l->owner_key);
  g_free (l->held_key);
  g_free (l->fence_key);
  g_free (l->wake_key);
  g_mutex_clear (&l->lock);
  g_object_unref (l->manager);
  g_free (l);
}

static const MprocRemoteClass lock_class = {
  .acquire = lock_acquire,
  .acquire_async = lock_acquire_async,
  .release = lock_release,
  .is_owned = lock_is_owned,
  .free = lock_free,
};

/**
 * mproc_manager_new_lock:
 * @self: a manager made by [ctor@Mproc.Manager.new_for_uri]
 * @name: the lock's name: processes that use the same name share it
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * A lock that lives where the manager's objects do, as a lease: its holder
 * renews it from the thread-default main context it acquired in, every
 * third of the lease (`?lease=` in the URI, 10 s by default).  When the
 * holder dies or cannot renew (no main loop running, cut off from the
 * server) for longer than the lease, the next acquirer gets
 * %MPROC_ERROR_OWNER_DIED and holds the lock, as with the local robust
 * lock; the old holder's release() then fails with %MPROC_ERROR_NOT_OWNER.
 * Not recursive.  acquire_async() is not available.
 *
 * Returns: (transfer full): the lock, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocLock *
mproc_manager_new_lock (MprocManager  *self,
                        const char    *name,
                        GCancellable  *cancellable,
                        GError       **error)
{
  MprocRedisBackend *backend;
  const char *prefix;
  RedisLock *l;
  MprocLock *lock;

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
  l = g_new0 (RedisLock, 1);
  l->parent.klass = &lock_class;
  l->manager = g_object_ref (self);
  l->backend = backend;
  l->owner_key = g_strdup_printf ("%s:{k:%s}:owner", prefix, name);
  l->held_key = g_strdup_printf ("%s:{k:%s}:held", prefix, name);
  l->fence_key = g_strdup_printf ("%s:{k:%s}:fence", prefix, name);
  l->wake_key = g_strdup_printf ("%s:{k:%s}:wake", prefix, name);
  g_mutex_init (&l->lock);
  l->pid = getpid ();
  lock = g_object_new (MPROC_TYPE_LOCK, NULL);
  mproc_remote_set (lock, &l->parent);
  return lock;
}
