/* mproc-manager-proxy.c: what MprocDict, MprocList and MprocNamespace share:
 * their server object's id and reference, calls, and reads from the view
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-client-private.h"
#include "mproc-manager-private.h"
#include "mproc-manager-transport-private.h"
#include "mproc-manager-view-private.h"

/* ------------------------------------------------------------------------ */
/* Proxies                                                                  */

void
mproc_proxy_set_malformed_reply (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("The manager’s server sent a malformed reply"));
}

GVariant *
mproc_proxy_reply_unbox (GVariant  *reply,
                         GError   **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_VARIANT))
    {
      mproc_proxy_set_malformed_reply (error);
      return NULL;
    }
  return g_variant_get_variant (reply);
}

gboolean
mproc_proxy_reply_boolean (GVariant  *reply,
                           gboolean  *out_value,
                           GError   **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_BOOLEAN))
    {
      mproc_proxy_set_malformed_reply (error);
      return FALSE;
    }
  *out_value = g_variant_get_boolean (reply);
  return TRUE;
}

gssize
mproc_proxy_reply_count (GVariant  *reply,
                         GError   **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_UINT64) ||
      g_variant_get_uint64 (reply) > G_MAXSSIZE)
    {
      mproc_proxy_set_malformed_reply (error);
      return -1;
    }
  return g_variant_get_uint64 (reply);
}

GVariant *
mproc_proxy_reply_raw (GVariant    *reply,
                       const char  *type,
                       GError     **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE (type)))
    {
      mproc_proxy_set_malformed_reply (error);
      return NULL;
    }
  return g_variant_ref (reply);
}

char **
mproc_proxy_reply_strv (GVariant  *reply,
                        GError   **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_STRING_ARRAY))
    {
      mproc_proxy_set_malformed_reply (error);
      return NULL;
    }
  return g_variant_dup_strv (reply, NULL);
}

/* Takes a server-side reference for this process's connection when the
 * proxy is used in a process for the first time (a child). */
gboolean
mproc_proxy_ensure_ref (MprocProxyCore  *core,
                        GCancellable    *cancellable,
                        GError         **error)
{
  GPid pid = getpid ();
  gboolean ret = TRUE;

  if (G_LIKELY (core->ref_pid == pid) || core->transport != NULL)
    return TRUE;
  g_mutex_lock (&core->lock);
  if (core->ref_pid != pid)
    {
      ret = mproc_manager_call_server (core->manager, MANAGER_OP_INCREF, core->id, NULL, NULL, 0, NULL, NULL,
                                       cancellable, error);
      if (ret)
        core->ref_pid = pid;
    }
  g_mutex_unlock (&core->lock);
  return ret;
}

gboolean
mproc_proxy_core_init_new (MprocProxyCore    *core,
                           MprocManager      *manager,
                           MprocManagerKind   kind,
                           const char        *name,
                           GCancellable      *cancellable,
                           GError           **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_mutex_init (&core->lock);
  core->manager = g_object_ref (manager);
  core->kind = kind;
  core->transport = mproc_manager_get_transport (manager);
  if (core->transport != NULL)
    return core->transport->open (core, name, cancellable, error);
  if (!mproc_manager_call_server (manager, MANAGER_OP_CREATE, 0,
                                  g_variant_new ("(us)", (guint32) kind, name != NULL ? name : ""),
                                  NULL, 0, &reply, NULL, cancellable, error))
    return FALSE;
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_UINT64))
    {
      mproc_proxy_set_malformed_reply (error);
      return FALSE;
    }
  core->id = g_variant_get_uint64 (reply);
  core->ref_pid = getpid ();
  return TRUE;
}

void
mproc_proxy_core_clear (MprocProxyCore *core)
{
  mproc_proxy_unwatch (core);
  if (core->transport != NULL)
    core->transport->close (core);
  else if (core->manager != NULL && core->ref_pid == getpid ())
    {
      /* drop our server reference if we are connected (never connect for it) */
      MprocManagerConn *conn = mproc_manager_peek_conn (core->manager);

      if (conn != NULL)
        {
          g_autoptr(GVariant) unit = g_variant_ref_sink (g_variant_new ("()"));

          mproc_manager_conn_call (conn, MANAGER_OP_DECREF, core->id, unit, NULL, 0, NULL, NULL, NULL, NULL);
          mproc_manager_conn_unref (conn);
        }
    }
  core->ref_pid = 0;
  g_clear_pointer ((MprocView **) &core->view, mproc_view_free);
  g_clear_object (&core->manager);
  g_mutex_clear (&core->lock);
}

GVariant *
mproc_proxy_core_serialize (MprocProxyCore *core)
{
  const char *address = core->transport != NULL ? core->transport->address (core->manager) :
                        mproc_manager_get_address (core->manager);

  return g_variant_new ("(st)", address, core->id);
}

gboolean
mproc_proxy_core_deserialize (MprocProxyCore   *core,
                              MprocManagerKind  kind,
                              GVariant         *handle,
                              GError          **error)
{
  GError *local_error = NULL;
  const char *address;

  g_mutex_init (&core->lock);
  core->kind = kind;
  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("(st)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      return FALSE;
    }
  g_variant_get (handle, "(&st)", &address, &core->id);
  core->manager = mproc_manager_transport_for_address (address, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (core->manager != NULL)
    {
      core->transport = mproc_manager_get_transport (core->manager);
      return core->transport->attach (core, error);
    }
  core->manager = mproc_manager_for_address (address);
  core->ref_pid = 0;
  return TRUE;
}

gboolean
mproc_proxy_call (MprocProxyCore  *core,
                  guint            op,
                  GVariant        *args,
                  GVariant       **reply,
                  GCancellable    *cancellable,
                  GError         **error)
{
  if (core->transport != NULL)
    return core->transport->call (core, op, args != NULL ? g_variant_take_ref (args) :
                                  g_variant_ref_sink (g_variant_new ("()")),
                                  reply, cancellable, error);
  if (!mproc_proxy_ensure_ref (core, cancellable, error))
    {
      if (args != NULL)
        g_variant_unref (g_variant_take_ref (args));
      return FALSE;
    }
  return mproc_manager_call_server (core->manager, op, core->id, args, NULL, 0, reply, NULL, cancellable, error);
}

/* --- Reads from the view ------------------------------------------------ */

/* How long a read waits for writes in flight before it asks the server
 * (which serves it after them anyway). */
#define VIEW_WAIT_USEC 50

/* The view to read from now (NULL: ask the server), or FALSE with @error
 * when the server is known to be gone.  Without @create, only a view
 * already mapped is used: len() alone does not make the server keep one. */
static gboolean
proxy_view_prepare (MprocProxyCore  *core,
                    gboolean         create,
                    MprocView      **view_out,
                    GError         **error)
{
  GError *local_error = NULL;
  MprocView *view = NULL;
  gboolean ret = TRUE;
  gint64 now;
  MprocManagerConn *conn;

  *view_out = NULL;
  if (core->transport != NULL ||
      g_atomic_int_get (&core->view_failed) ||
      (!create && g_atomic_pointer_get (&core->view) == NULL))
    return TRUE;
  if (!mproc_proxy_ensure_ref (core, NULL, error))
    return FALSE;
  conn = mproc_manager_get_conn (core->manager, NULL, error);
  if (conn == NULL)
    return FALSE;
  if (conn->requests == NULL)
    {
      /* over TCP every read is a round trip */
      g_atomic_int_set (&core->view_failed, TRUE);
      goto out;
    }
  if (!mproc_manager_conn_check (conn, error))
    {
      ret = FALSE;
      goto out;
    }
  /* a dead server is noticed within a millisecond, as by pipelined writes */
  now = g_get_monotonic_time ();
  if (now - __atomic_load_n (&conn->last_read_hup_check, __ATOMIC_RELAXED) > MPROC_MANAGER_HUP_CHECK_USEC)
    {
      __atomic_store_n (&conn->last_read_hup_check, now, __ATOMIC_RELAXED);
      if (mproc_ring_sock_hup (conn->sock))
        {
          mproc_manager_set_broken_error (&local_error, _("the connection was closed"));
          mproc_manager_conn_fail (conn, local_error);
          g_propagate_error (error, local_error);
          ret = FALSE;
          goto out;
        }
    }

  view = g_atomic_pointer_get (&core->view);
  if (view == NULL)
    {
      g_mutex_lock (&core->lock);
      if (core->view == NULL && !core->view_failed)
        {
          g_autoptr(GArray) fds = mproc_fd_array_new ();
          g_autoptr(GVariant) unit = g_variant_ref_sink (g_variant_new ("()"));
          g_autoptr(GVariant) reply = NULL;

          if (mproc_manager_conn_call (conn, MANAGER_OP_VIEW, core->id, unit, NULL, 0, &reply, fds, NULL, &local_error) &&
              fds->len == 1)
            {
              core->view = mproc_view_new (g_array_index (fds, int, 0), NULL);
              g_array_index (fds, int, 0) = -1;
            }
          if (g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_BROKEN))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              ret = FALSE;
            }
          else if (core->view == NULL)
            g_atomic_int_set (&core->view_failed, TRUE);
          g_clear_error (&local_error);
        }
      view = core->view;
      g_mutex_unlock (&core->lock);
    }
  if (view != NULL && !mproc_order_wait_served (conn->order, VIEW_WAIT_USEC))
    view = NULL;

out:
  mproc_manager_conn_unref (conn);
  *view_out = ret ? view : NULL;
  return ret;
}

gboolean
mproc_proxy_view_lookup (MprocProxyCore  *core,
                         GVariant        *key,
                         GVariant       **value_out,
                         int             *found,
                         GError         **error)
{
  MprocView *view;

  *found = MPROC_VIEW_UNAVAILABLE;
  if (!proxy_view_prepare (core, TRUE, &view, error))
    return FALSE;
  if (view != NULL)
    *found = mproc_view_lookup (view, key, value_out);
  return TRUE;
}

gboolean
mproc_proxy_view_len (MprocProxyCore  *core,
                      gint64          *len,
                      GError         **error)
{
  MprocView *view;

  *len = -1;
  if (!proxy_view_prepare (core, FALSE, &view, error))
    return FALSE;
  if (view != NULL)
    *len = mproc_view_len (view);
  return TRUE;
}

/* The request is put in the ring (over TCP: written as a frame) at once
 * and the reply is waited for from the caller's main context
 * (mproc_manager_conn_call_async()), without a thread. */
void
mproc_proxy_call_async (MprocProxyCore      *core,
                        gpointer             source_object,
                        gpointer             source_tag,
                        guint                op,
                        GVariant            *args,
                        gboolean             want_reply,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GVariant) sunk = g_variant_take_ref (args != NULL ? args : g_variant_new ("()"));
  GError *error = NULL;
  MprocManagerConn *conn;

  task = g_task_new (source_object, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  if (core->transport != NULL)
    {
      /* the task keeps the proxy, and so @core, alive */
      core->transport->call_async (core, op, g_variant_ref (sunk), want_reply, task);
      return;
    }
  conn = mproc_proxy_ensure_ref (core, cancellable, &error) ?
         mproc_manager_get_conn (core->manager, cancellable, &error) : NULL;
  if (conn == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  mproc_manager_conn_call_async (conn, op, core->id, sunk, NULL, 0, want_reply, NULL, task);
  mproc_manager_conn_unref (conn);
}

GVariant *
mproc_proxy_call_finish (gpointer       source_object,
                         GAsyncResult  *result,
                         gpointer       source_tag,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, source_object), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, source_tag), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Every proxy's instance struct is a GObject followed by its core. */
typedef struct
{
  GObject        parent_instance;
  MprocProxyCore core;
} ProxyLayout;

guint64
mproc_proxy_get_id (gpointer proxy)
{
  return ((ProxyLayout *) proxy)->core.id;
}
