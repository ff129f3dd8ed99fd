/* mproc-manager-watch.c: proxies' change notifications, read from the
 * event ring and delivered in each watcher's main context
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <unistd.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-client-private.h"
#include "mproc-manager-private.h"
#include "mproc-manager-transport-private.h"
#include "mproc-ring-private.h"
#include "mproc-wire-private.h"

/* --- Watching ------------------------------------------------------------ */

struct _MprocProxyWatcher
{
  gatomicrefcount      ref;
  MprocManagerConn    *conn;
  guint64              id;
  GWeakRef             proxy;
  MprocProxyEventFunc  func;
  GMainContext        *context;
  guint64              skip_until;    /* under conn->state_lock */
  gboolean             active;        /* under conn->state_lock */
  GCancellable        *cancellable;   /* of the pending poll */
  GObject             *owner;         /* holds @conn for the poll's GTask */
};

static MprocProxyWatcher *
watcher_ref (MprocProxyWatcher *w)
{
  g_atomic_ref_count_inc (&w->ref);
  return w;
}

static void
watcher_unref (gpointer data)
{
  MprocProxyWatcher *w = data;

  if (!g_atomic_ref_count_dec (&w->ref))
    return;
  g_weak_ref_clear (&w->proxy);
  g_main_context_unref (w->context);
  g_clear_object (&w->cancellable);
  g_clear_object (&w->owner);
  mproc_manager_conn_unref (w->conn);
  g_free (w);
}

typedef struct
{
  MprocProxyWatcher *watcher;
  guint64            seq;
  guint              kind;
  GVariant          *payload;
} Delivery;

static void
delivery_free (gpointer data)
{
  Delivery *d = data;

  watcher_unref (d->watcher);
  g_variant_unref (d->payload);
  g_free (d);
}

static gboolean
deliver_cb (gpointer data)
{
  Delivery *d = data;
  MprocProxyWatcher *w = d->watcher;
  g_autoptr(GObject) proxy = NULL;
  gboolean deliver;

  g_mutex_lock (&w->conn->state_lock);
  deliver = w->active && (d->kind == MANAGER_EVENT_LOST || d->seq > w->skip_until);
  g_mutex_unlock (&w->conn->state_lock);
  if (!deliver)
    return G_SOURCE_REMOVE;
  proxy = g_weak_ref_get (&w->proxy);
  if (proxy != NULL)
    w->func (proxy, d->kind, d->payload);
  return G_SOURCE_REMOVE;
}

/* Reads every event available and hands each to the watchers of its
 * object, in their own contexts.  Whoever gets the read lock pumps; the
 * others find the ring empty afterwards. */
static void
conn_pump_events (MprocManagerConn *conn)
{
  g_autoptr(GPtrArray) deliveries = NULL;

  if (!g_mutex_trylock (&conn->event_read_lock))
    return;

  deliveries = g_ptr_array_new ();
  for (;;)
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) message = NULL;
      g_autoptr(GVariant) payload = NULL;
      guint64 seq, id;
      guint32 kind;

      bytes = mproc_ring_get (conn->events, conn->sock, NULL, 0, NULL, NULL);
      if (bytes == NULL)
        break;
      message = mproc_wire_decode (bytes, NULL);
      if (message == NULL || !g_variant_is_of_type (message, G_VARIANT_TYPE ("(ttuv)")))
        continue;
      g_variant_get (message, "(ttuv)", &seq, &id, &kind, &payload);

      g_mutex_lock (&conn->state_lock);
      for (guint i = 0; i < conn->watchers->len; i++)
        {
          MprocProxyWatcher *w = conn->watchers->pdata[i];

          if (w->id == id || kind == MANAGER_EVENT_LOST)
            {
              Delivery *d = g_new0 (Delivery, 1);

              d->watcher = watcher_ref (w);
              d->seq = seq;
              d->kind = kind;
              d->payload = g_variant_ref (payload);
              g_ptr_array_add (deliveries, d);
            }
        }
      g_mutex_unlock (&conn->state_lock);
    }
  g_mutex_unlock (&conn->event_read_lock);

  for (guint i = 0; i < deliveries->len; i++)
    {
      Delivery *d = deliveries->pdata[i];

      g_main_context_invoke_full (d->watcher->context, G_PRIORITY_DEFAULT, deliver_cb, d,
                                  delivery_free);
    }
}

static void watcher_arm (MprocProxyWatcher *w);

static void
watcher_poll_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  MprocProxyWatcher *w = user_data;
  gboolean active;

  if (mproc_ring_poll_finish (result, NULL))
    {
      conn_pump_events (w->conn);
      g_mutex_lock (&w->conn->state_lock);
      active = w->active;
      g_mutex_unlock (&w->conn->state_lock);
      /* a server that hung up sends nothing more */
      if (active && !mproc_ring_sock_hup (w->conn->sock))
        watcher_arm (w);
    }
  watcher_unref (w);
}

/* Waits (in the watcher's context, without a thread) for events. */
static void
watcher_arm (MprocProxyWatcher *w)
{
  g_main_context_push_thread_default (w->context);
  mproc_ring_poll_async (w->conn->events, w->owner, w->conn->sock, -1, w->cancellable,
                         watcher_poll_cb, watcher_ref (w));
  g_main_context_pop_thread_default (w->context);
}

gboolean
mproc_proxy_watch (MprocProxyCore       *core,
                   GObject              *proxy,
                   MprocProxyEventFunc   func,
                   GVariant            **snapshot,
                   GCancellable         *cancellable,
                   GError              **error)
{
  g_autoptr(GVariant) reply = NULL;
  MprocProxyWatcher *w;
  guint64 seq;
  MprocManagerConn *conn;

  if (!mproc_proxy_core_ready (core, error))
    return FALSE;
  if (core->transport != NULL)
    return core->transport->watch (core, proxy, func, snapshot, cancellable, error);
  if (mproc_proxy_is_watched (core))
    return TRUE;
  if (!mproc_proxy_ensure_ref (core, cancellable, error))
    return FALSE;
  conn = mproc_manager_get_conn (core->manager, cancellable, error);
  if (conn == NULL)
    return FALSE;

  w = g_new0 (MprocProxyWatcher, 1);
  g_atomic_ref_count_init (&w->ref);
  w->conn = conn;
  w->id = core->id;
  g_weak_ref_init (&w->proxy, proxy);
  w->func = func;
  w->context = g_main_context_ref_thread_default ();
  w->skip_until = G_MAXUINT64;
  w->active = TRUE;

  g_mutex_lock (&conn->state_lock);
  g_ptr_array_add (conn->watchers, watcher_ref (w));
  g_mutex_unlock (&conn->state_lock);

  if (!mproc_proxy_call (core, MANAGER_OP_SUBSCRIBE, NULL, &reply, cancellable, error) ||
      !g_variant_is_of_type (reply, G_VARIANT_TYPE ("(tv)")))
    {
      if (reply != NULL)
        mproc_proxy_set_malformed_reply (error);
      g_mutex_lock (&conn->state_lock);
      w->active = FALSE;
      g_ptr_array_remove (conn->watchers, w);
      g_mutex_unlock (&conn->state_lock);
      watcher_unref (w);
      watcher_unref (w);
      return FALSE;
    }

  g_mutex_lock (&conn->state_lock);
  g_variant_get (reply, "(tv)", &seq, snapshot);
  w->skip_until = seq;
  g_mutex_unlock (&conn->state_lock);

  /* the poll keeps the connection (and so the ring) alive, not the manager */
  w->owner = g_object_new (G_TYPE_OBJECT, NULL);
  g_object_set_data_full (w->owner, "mproc-manager-conn", mproc_manager_conn_ref (conn), (GDestroyNotify) mproc_manager_conn_unref);
  w->cancellable = g_cancellable_new ();
  watcher_arm (w);

  g_mutex_lock (&core->lock);
  core->watcher = w;
  g_mutex_unlock (&core->lock);

  /* events may already be waiting */
  conn_pump_events (conn);
  return TRUE;
}

gboolean
mproc_proxy_is_watched (MprocProxyCore *core)
{
  gboolean ret;

  if (core->transport != NULL)
    return core->transport->is_watched (core);
  g_mutex_lock (&core->lock);
  ret = core->watcher != NULL && core->watcher->conn->pid == getpid ();
  g_mutex_unlock (&core->lock);
  return ret;
}

void
mproc_proxy_unwatch (MprocProxyCore *core)
{
  MprocProxyWatcher *w;
  MprocManagerConn *conn;

  if (core->transport != NULL)
    {
      core->transport->unwatch (core);
      return;
    }
  g_mutex_lock (&core->lock);
  w = g_steal_pointer (&core->watcher);
  g_mutex_unlock (&core->lock);
  if (w == NULL || w->conn->pid != getpid ())
    return;   /* an inherited watcher belongs to the parent */

  conn = w->conn;
  g_mutex_lock (&conn->state_lock);
  w->active = FALSE;
  if (g_ptr_array_remove (conn->watchers, w))
    watcher_unref (w);
  g_mutex_unlock (&conn->state_lock);

  g_cancellable_cancel (w->cancellable);
  if (mproc_manager_conn_check (conn, NULL))
    {
      g_autoptr(GVariant) unit = g_variant_ref_sink (g_variant_new ("()"));

      mproc_manager_conn_call (conn, MANAGER_OP_UNSUBSCRIBE, core->id, unit, NULL, 0, NULL, NULL, NULL, NULL);
    }
  watcher_unref (w);
}

gboolean
mproc_proxy_resync (MprocProxyCore  *core,
                    GVariant       **snapshot,
                    GError         **error)
{
  g_autoptr(GVariant) reply = NULL;
  MprocProxyWatcher *w;
  guint64 seq;

  if (core->transport != NULL)
    return core->transport->resync (core, snapshot, error);
  g_mutex_lock (&core->lock);
  w = core->watcher != NULL ? watcher_ref (core->watcher) : NULL;
  g_mutex_unlock (&core->lock);
  if (w == NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED, _("The object is not watched"));
      return FALSE;
    }

  if (!mproc_proxy_call (core, MANAGER_OP_SNAPSHOT, NULL, &reply, NULL, error) ||
      !g_variant_is_of_type (reply, G_VARIANT_TYPE ("(tv)")))
    {
      if (reply != NULL)
        mproc_proxy_set_malformed_reply (error);
      watcher_unref (w);
      return FALSE;
    }
  g_mutex_lock (&w->conn->state_lock);
  g_variant_get (reply, "(tv)", &seq, snapshot);
  w->skip_until = seq;
  g_mutex_unlock (&w->conn->state_lock);
  watcher_unref (w);
  return TRUE;
}

