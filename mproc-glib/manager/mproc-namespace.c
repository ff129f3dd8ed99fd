/* mproc-namespace.c: a namespace held by a manager's server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-namespace.h"
#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-private.h"
#include "mproc-manager-view-private.h"
#include "mproc-shareable-private.h"

/**
 * MprocNamespace:
 *
 * A set of named values that lives in a manager's server process, like the
 * proxy Python's `Manager().Namespace()` returns: every process that has
 * the namespace sees the attributes that any of them set.
 *
 * **C**
 *
 * |[<!-- language="C" -->
 * g_autoptr(MprocNamespace) ns = mproc_namespace_new (manager, NULL, NULL, &error);
 *
 * mproc_namespace_set (ns, "value", g_variant_new_string ("This is the value"), NULL, &error);
 * value = mproc_namespace_get (ns, "value", NULL, &error);
 * ]|
 *
 * Reading an attribute that is not set fails with %MPROC_ERROR_NOT_FOUND,
 * and the message names the attribute. [method@Mproc.Namespace.get] returns a
 * copy: to change, say, a list held in an attribute, build the new list and
 * set the attribute again to publish it (Python's "attach it to the
 * namespace object again"); nothing else reaches the other processes.
 *
 * Hand a namespace to a child with [method@Mproc.Process.add_object], under any
 * start method. After [method@Mproc.Namespace.watch], #MprocNamespace::changed
 * tells which attribute changed, whoever changed it.
 *
 * ## Thread safety
 *
 * Every method may be called from any thread; async methods complete in the
 * thread-default main context of the caller, and #MprocNamespace::changed is
 * emitted in the one of [method@Mproc.Namespace.watch]'s caller.
 *
 * Since: 0.1
 * Stability: Unstable
 */

struct _MprocNamespace
{
  GObject        parent_instance;
  MprocProxyCore core;
};

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void mproc_namespace_shareable_init (MprocShareableInterface *iface);

/* Not final: bindings derive from it (a C subclass has no header to
 * derive from). */
G_DEFINE_TYPE_WITH_CODE (MprocNamespace, mproc_namespace, G_TYPE_OBJECT,
                       G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_namespace_shareable_init)
                       G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_proxy_initable_iface_init)
                       G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE, mproc_proxy_async_initable_iface_init))

static void
mproc_namespace_finalize (GObject *object)
{
  MprocNamespace *self = MPROC_NAMESPACE (object);

  mproc_proxy_core_clear (&self->core);
  G_OBJECT_CLASS (mproc_namespace_parent_class)->finalize (object);
}

enum {
  PROP_0,
  PROP_MANAGER,
  PROP_NAME,
};

static void
mproc_namespace_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  mproc_proxy_set_property (&MPROC_NAMESPACE (object)->core, prop_id, PROP_MANAGER, PROP_NAME, value);
}

static void
mproc_namespace_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  mproc_proxy_get_property (&MPROC_NAMESPACE (object)->core, prop_id, PROP_MANAGER, PROP_NAME, value);
}

static void
mproc_namespace_class_init (MprocNamespaceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_namespace_finalize;
  object_class->set_property = mproc_namespace_set_property;
  object_class->get_property = mproc_namespace_get_property;

  /**
   * MprocNamespace:manager:
   *
   * The manager whose server holds the namespace; set it at construction.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  /**
   * MprocNamespace:name:
   *
   * The name under which any client of the manager finds the same namespace,
   * or %NULL for a new anonymous one; set it at construction.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  mproc_proxy_install_properties (object_class, PROP_MANAGER, PROP_NAME, "namespace");

  /**
   * MprocNamespace::changed:
   * @self: the `MprocNamespace`
   * @name: (nullable): the attribute that was set or deleted, or %NULL when
   *   changes may have been missed
   *
   * Emitted after [method@Mproc.Namespace.watch] when any process sets or deletes
   * an attribute, in the thread-default main context of
   * [method@Mproc.Namespace.watch]'s caller.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
mproc_namespace_init (MprocNamespace *self)
{
  mproc_proxy_core_setup (&self->core, MPROC_MANAGER_KIND_NAMESPACE);
}

static GVariant *
mproc_namespace_serialize (MprocShareable *shareable,
                      GArray         *fds,
                      GError        **error)
{
  return mproc_proxy_core_serialize (&MPROC_NAMESPACE (shareable)->core, error);
}

static gboolean
mproc_namespace_attach (MprocShareable *shareable,
                      GVariant       *handle,
                      GArray         *fds,
                      GError        **error)
{
  /* made by g_object_new() as the type that was sent: a binding's
   * subclass arrives as itself */
  return mproc_proxy_core_deserialize (&MPROC_NAMESPACE (shareable)->core, MPROC_MANAGER_KIND_NAMESPACE, handle, error);
}

static void
mproc_namespace_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_namespace_serialize;
  iface->attach = mproc_namespace_attach;
}

/**
 * mproc_namespace_new:
 * @manager: a started or connected `MprocManager`
 * @name: (nullable): a name under which any client of @manager finds the
 *   same namespace, or %NULL for a new anonymous one
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Creates a namespace in @manager's server, or, with a @name, gets the one
 * of that name (creating it the first time). A named namespace lives as
 * long as the server.
 *
 * Returns: (transfer full): the namespace, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocNamespace *
mproc_namespace_new (MprocManager  *manager,
                const char    *name,
                GCancellable  *cancellable,
                GError       **error)
{
  g_return_val_if_fail (MPROC_IS_MANAGER (manager), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_NAMESPACE, cancellable, error, "manager", manager, "name", name, NULL);
}

/**
 * mproc_namespace_get_manager:
 * @self: a `MprocNamespace`
 *
 * Gets the manager whose server holds @self.
 *
 * Returns: (transfer none): the manager
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_namespace_get_manager (MprocNamespace *self)
{
  g_return_val_if_fail (MPROC_IS_NAMESPACE (self), NULL);

  return self->core.manager;
}

static void
namespace_event (GObject  *proxy,
                 guint     kind,
                 GVariant *payload)
{
  const char *name = NULL;

  if (kind == MANAGER_EVENT_LOST)
    {
      g_signal_emit (proxy, signals[SIGNAL_CHANGED], 0, NULL);
      return;
    }
  if (kind != MANAGER_EVENT_CHANGED || !g_variant_is_of_type (payload, G_VARIANT_TYPE ("ms")))
    return;
  g_variant_get (payload, "m&s", &name);
  g_signal_emit (proxy, signals[SIGNAL_CHANGED], 0, name);
}

/**
 * mproc_namespace_watch:
 * @self: a `MprocNamespace`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Starts emitting #MprocNamespace::changed for every change made to the
 * namespace by any process, in the thread-default main context of the
 * caller. Until then a proxy costs nothing when others change it.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_namespace_watch (MprocNamespace     *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GVariant) snapshot = NULL;

  g_return_val_if_fail (MPROC_IS_NAMESPACE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mproc_proxy_watch (&self->core, G_OBJECT (self), namespace_event, &snapshot, cancellable, error);
}

/**
 * mproc_namespace_unwatch:
 * @self: a `MprocNamespace`
 *
 * Stops what [method@Mproc.Namespace.watch] started.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_namespace_unwatch (MprocNamespace *self)
{
  g_return_if_fail (MPROC_IS_NAMESPACE (self));

  mproc_proxy_unwatch (&self->core);
}

/**
 * mproc_namespace_set:
 * @self: a `MprocNamespace`
 * @name: the attribute
 * @value: its value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Sets the attribute @name to @value, like `ns.name = value`, for every
 * process that has the namespace. Pipelined: it returns once the request is
 * on its way, and every later call of this process sees its effect.
 *
 * This is the only way to change an attribute: a value got from
 * [method@Mproc.Namespace.get] is a copy (and a #GVariant is immutable anyway). To
 * change a list held in an attribute, get it, build the new list, and set it
 * again to publish it.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_namespace_set (MprocNamespace  *self,
                     const char      *name,
                     GVariant        *value,
                     GCancellable    *cancellable,
                     GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_NAMESPACE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, NAMESPACE_OP_SET, g_variant_new ("(sv)", name, value), NULL, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_namespace_set_async:
 * @self: a `MprocNamespace`
 * @name: the attribute
 * @value: its value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Namespace.set]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Namespace.set_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_namespace_set_async (MprocNamespace      *self,
                           const char          *name,
                           GVariant            *value,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_NAMESPACE (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_namespace_set_async, NAMESPACE_OP_SET, g_variant_new ("(sv)", name, value), FALSE,
                          cancellable, callback, user_data);
}

/**
 * mproc_namespace_set_finish:
 * @self: a `MprocNamespace`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Namespace.set_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_namespace_set_finish (MprocNamespace  *self,
                            GAsyncResult    *result,
                            GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_namespace_set_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_namespace_get:
 * @self: a `MprocNamespace`
 * @name: the attribute
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets the value of the attribute @name, like `ns.name`. Fails with
 * %MPROC_ERROR_NOT_FOUND, whose message names the attribute, if it is not
 * set. The value is a copy: changing what you build from it changes nothing
 * in the namespace until you set it again with [method@Mproc.Namespace.set].
 *
 * Returns: (transfer full): a copy of the value, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_namespace_get (MprocNamespace  *self,
                     const char      *name,
                     GCancellable    *cancellable,
                     GError         **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) key = NULL;
  GVariant *value = NULL;
  int found;

  g_return_val_if_fail (MPROC_IS_NAMESPACE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  key = g_variant_ref_sink (g_variant_new_string (name));
  if (!mproc_proxy_view_lookup (&self->core, key, &value, &found, error))
    return NULL;
  if (found == MPROC_VIEW_FOUND)
    return value;
  if (found == MPROC_VIEW_MISSING)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                   _("The namespace has no attribute “%s”"), name);
      return NULL;
    }
  if (!mproc_proxy_call (&self->core, NAMESPACE_OP_GET, g_variant_ref (key), &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_namespace_get_async:
 * @self: a `MprocNamespace`
 * @name: the attribute
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Namespace.get]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Namespace.get_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_namespace_get_async (MprocNamespace      *self,
                           const char          *name,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_NAMESPACE (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_namespace_get_async, NAMESPACE_OP_GET, g_variant_new_string (name), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_namespace_get_finish:
 * @self: a `MprocNamespace`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Namespace.get_async].
 *
 * Returns: (transfer full): a copy of the value, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_namespace_get_finish (MprocNamespace  *self,
                            GAsyncResult    *result,
                            GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_namespace_get_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_namespace_has:
 * @self: a `MprocNamespace`
 * @name: the attribute
 * @out_value: (out): return location for the answer
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Finds whether the attribute @name is set, like `hasattr(ns, name)`; the
 * answer goes to @out_value.
 *
 * Returns: (skip): %TRUE on success (with @out_value set), %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_namespace_has (MprocNamespace  *self,
                     const char      *name,
                     gboolean        *out_value,
                     GCancellable    *cancellable,
                     GError         **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) key = NULL;
  int found;

  g_return_val_if_fail (MPROC_IS_NAMESPACE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (out_value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  key = g_variant_ref_sink (g_variant_new_string (name));
  if (!mproc_proxy_view_lookup (&self->core, key, NULL, &found, error))
    return FALSE;
  if (found != MPROC_VIEW_UNAVAILABLE)
    {
      *out_value = found == MPROC_VIEW_FOUND;
      return TRUE;
    }
  if (!mproc_proxy_call (&self->core, NAMESPACE_OP_HAS, g_variant_ref (key), &reply, cancellable, error))
    return FALSE;
  return mproc_proxy_reply_boolean (reply, out_value, error);
}

/**
 * mproc_namespace_has_async:
 * @self: a `MprocNamespace`
 * @name: the attribute
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Namespace.has]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Namespace.has_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_namespace_has_async (MprocNamespace      *self,
                           const char          *name,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_NAMESPACE (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_namespace_has_async, NAMESPACE_OP_HAS, g_variant_new_string (name), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_namespace_has_finish:
 * @self: a `MprocNamespace`
 * @result: the `GAsyncResult` given to the callback
 * @out_value: (out): return location for the answer
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Namespace.has_async].
 *
 * Returns: (skip): %TRUE on success (with @out_value set), %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_namespace_has_finish (MprocNamespace  *self,
                            GAsyncResult    *result,
                            gboolean        *out_value,
                            GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (out_value != NULL, FALSE);
  reply = mproc_proxy_call_finish (self, result, mproc_namespace_has_async, error);
  if (reply == NULL)
    return FALSE;
  return mproc_proxy_reply_boolean (reply, out_value, error);
}

/**
 * mproc_namespace_delete:
 * @self: a `MprocNamespace`
 * @name: the attribute
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Unsets the attribute @name, like `del ns.name`. Fails with
 * %MPROC_ERROR_NOT_FOUND if it is not set.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_namespace_delete (MprocNamespace  *self,
                        const char      *name,
                        GCancellable    *cancellable,
                        GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_NAMESPACE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, NAMESPACE_OP_DELETE, g_variant_new_string (name), &reply, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_namespace_delete_async:
 * @self: a `MprocNamespace`
 * @name: the attribute
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Namespace.delete]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Namespace.delete_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_namespace_delete_async (MprocNamespace      *self,
                              const char          *name,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_NAMESPACE (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_namespace_delete_async, NAMESPACE_OP_DELETE, g_variant_new_string (name), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_namespace_delete_finish:
 * @self: a `MprocNamespace`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Namespace.delete_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_namespace_delete_finish (MprocNamespace  *self,
                               GAsyncResult    *result,
                               GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_namespace_delete_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_namespace_list_names:
 * @self: a `MprocNamespace`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Lists the attributes that are set, like `vars(ns)`.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the attributes set, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
char **
mproc_namespace_list_names (MprocNamespace  *self,
                            GCancellable    *cancellable,
                            GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_NAMESPACE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_proxy_call (&self->core, NAMESPACE_OP_LIST, NULL, &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_strv (reply, error);
}

/**
 * mproc_namespace_list_names_async:
 * @self: a `MprocNamespace`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Namespace.list_names]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Namespace.list_names_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_namespace_list_names_async (MprocNamespace      *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_NAMESPACE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_namespace_list_names_async, NAMESPACE_OP_LIST, NULL, TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_namespace_list_names_finish:
 * @self: a `MprocNamespace`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Namespace.list_names_async].
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the attributes set, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
char **
mproc_namespace_list_names_finish (MprocNamespace  *self,
                                   GAsyncResult    *result,
                                   GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_namespace_list_names_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_strv (reply, error);
}

