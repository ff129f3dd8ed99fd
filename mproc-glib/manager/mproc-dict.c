/* mproc-dict.c: a dictionary held by a manager's server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-dict.h"
#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-private.h"
#include "mproc-manager-view-private.h"
#include "mproc-shareable-private.h"

/**
 * MprocDict:
 *
 * A dictionary that lives in a manager's server process, like the proxy
 * Python's `Manager().dict()` returns: keys and values are #GVariant values,
 * every process that has the dictionary sees the same contents, and each
 * operation is atomic.
 *
 * **C**
 *
 * |[<!-- language="C" -->
 * g_autoptr(MprocDict) dict = mproc_dict_new (manager, NULL, NULL, &error);
 *
 * mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (2), NULL, &error);
 * value = mproc_dict_get (dict, g_variant_new_int32 (1), NULL, &error);
 * ]|
 *
 * **Python**
 *
 * ```python
 * d = manager.dict()                 # the Mproc override's forms
 * d[1] = 2
 * value = d[1]                       # 2
 * ```
 *
 * **GJS**
 *
 * ```js
 * const d = Mproc.Dict.new(manager, null, null);
 * d.set(1, 2, null);                 // plain values: see the GJS override
 * const value = d.get(1, null).unpack();   // 2
 * ```
 *
 * Keys are compared by type and value: `1` as an `int32` and `1` as an
 * `int64` are different keys. Snapshots ([method@Mproc.Dict.keys],
 * [method@Mproc.Dict.items]…) list the keys in insertion order. Writes that cannot
 * fail ([method@Mproc.Dict.set], [method@Mproc.Dict.update], [method@Mproc.Dict.clear]) are
 * pipelined; reads wait for the server's answer.
 *
 * Hand a dictionary to a child with [method@Mproc.Process.add_object]; under any
 * start method the child's dictionary is the same one. The server keeps the
 * dictionary while a process holds it (or for the manager's life, if it has
 * a name): hand it to a child before dropping your own reference.
 *
 * After [method@Mproc.Dict.watch], the #MprocDict::changed signal tells which key
 * changed, whoever changed it.
 *
 * ## Thread safety
 *
 * Every method may be called from any thread; async methods complete in the
 * thread-default main context of the caller, and #MprocDict::changed is
 * emitted in the one of [method@Mproc.Dict.watch]'s caller.
 *
 * Since: 0.1
 * Stability: Unstable
 */

struct _MprocDict
{
  GObject        parent_instance;
  MprocProxyCore core;
};

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void mproc_dict_shareable_init (MprocShareableInterface *iface);

/* Not final: bindings derive from it (a C subclass has no header to
 * derive from). */
G_DEFINE_TYPE_WITH_CODE (MprocDict, mproc_dict, G_TYPE_OBJECT,
                       G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_dict_shareable_init)
                       G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_proxy_initable_iface_init)
                       G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE, mproc_proxy_async_initable_iface_init))

static void
mproc_dict_finalize (GObject *object)
{
  MprocDict *self = MPROC_DICT (object);

  mproc_proxy_core_clear (&self->core);
  G_OBJECT_CLASS (mproc_dict_parent_class)->finalize (object);
}

enum {
  PROP_0,
  PROP_MANAGER,
  PROP_NAME,
};

static void
mproc_dict_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  mproc_proxy_set_property (&MPROC_DICT (object)->core, prop_id, PROP_MANAGER, PROP_NAME, value);
}

static void
mproc_dict_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  mproc_proxy_get_property (&MPROC_DICT (object)->core, prop_id, PROP_MANAGER, PROP_NAME, value);
}

static void
mproc_dict_class_init (MprocDictClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_dict_finalize;
  object_class->set_property = mproc_dict_set_property;
  object_class->get_property = mproc_dict_get_property;

  /**
   * MprocDict:manager:
   *
   * The manager whose server holds the dictionary; set it at construction.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  /**
   * MprocDict:name:
   *
   * The name under which any client of the manager finds the same dictionary,
   * or %NULL for a new anonymous one; set it at construction.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  mproc_proxy_install_properties (object_class, PROP_MANAGER, PROP_NAME, "dictionary");

  /**
   * MprocDict::changed:
   * @self: the `MprocDict`
   * @key: (nullable): the key that was set or removed, or %NULL when many
   *   keys changed at once ([method@Mproc.Dict.clear])
   *
   * Emitted after [method@Mproc.Dict.watch] when any process changes a key. It
   * runs in the thread-default main context of [method@Mproc.Dict.watch]'s
   * caller, after the change, possibly after later changes too: read the
   * value again to know it.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
}

static void
mproc_dict_init (MprocDict *self)
{
  mproc_proxy_core_setup (&self->core, MPROC_MANAGER_KIND_DICT);
}

static GVariant *
mproc_dict_serialize (MprocShareable *shareable,
                      GArray         *fds,
                      GError        **error)
{
  return mproc_proxy_core_serialize (&MPROC_DICT (shareable)->core, error);
}

static gboolean
mproc_dict_attach (MprocShareable *shareable,
                 GVariant       *handle,
                 GArray         *fds,
                 GError        **error)
{
  /* made by g_object_new() as the type that was sent: a binding's
   * subclass arrives as itself */
  return mproc_proxy_core_deserialize (&MPROC_DICT (shareable)->core, MPROC_MANAGER_KIND_DICT, handle, error);
}

static void
mproc_dict_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_dict_serialize;
  iface->attach = mproc_dict_attach;
}

/**
 * mproc_dict_new:
 * @manager: a started or connected `MprocManager`
 * @name: (nullable): a name under which any client of @manager finds the
 *   same dictionary, or %NULL for a new anonymous one
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Creates a dictionary in @manager's server, or, with a @name, gets the one
 * of that name (creating it the first time). A named dictionary lives as
 * long as the server.
 *
 * Returns: (transfer full): the dictionary, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocDict *
mproc_dict_new (MprocManager  *manager,
                const char    *name,
                GCancellable  *cancellable,
                GError       **error)
{
  g_return_val_if_fail (MPROC_IS_MANAGER (manager), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_DICT, cancellable, error, "manager", manager, "name", name, NULL);
}

/**
 * mproc_dict_get_manager:
 * @self: a `MprocDict`
 *
 * Gets the manager whose server holds @self.
 *
 * Returns: (transfer none): the manager
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_dict_get_manager (MprocDict *self)
{
  g_return_val_if_fail (MPROC_IS_DICT (self), NULL);

  return self->core.manager;
}

static void
dict_event (GObject  *proxy,
            guint     kind,
            GVariant *payload)
{
  g_autoptr(GVariant) maybe = NULL;
  g_autoptr(GVariant) key = NULL;

  if (kind == MANAGER_EVENT_LOST)
    {
      g_signal_emit (proxy, signals[SIGNAL_CHANGED], 0, NULL);
      return;
    }
  if (kind != MANAGER_EVENT_CHANGED || !g_variant_is_of_type (payload, G_VARIANT_TYPE ("mv")))
    return;
  maybe = g_variant_get_maybe (payload);
  if (maybe != NULL)
    key = g_variant_get_variant (maybe);
  g_signal_emit (proxy, signals[SIGNAL_CHANGED], 0, key);
}

/**
 * mproc_dict_watch:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Starts emitting #MprocDict::changed for every change made to the
 * dictionary by any process, in the thread-default main context of the
 * caller. Until then a proxy costs nothing when others change it.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_watch (MprocDict     *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GVariant) snapshot = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mproc_proxy_watch (&self->core, G_OBJECT (self), dict_event, &snapshot, cancellable, error);
}

/**
 * mproc_dict_unwatch:
 * @self: a `MprocDict`
 *
 * Stops what [method@Mproc.Dict.watch] started.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_unwatch (MprocDict *self)
{
  g_return_if_fail (MPROC_IS_DICT (self));

  mproc_proxy_unwatch (&self->core);
}

static gboolean
dict_pairs_valid (GVariant *pairs)
{
  const GVariantType *element;

  if (pairs == NULL || !g_variant_is_of_type (pairs, G_VARIANT_TYPE_ARRAY))
    return FALSE;
  element = g_variant_type_element (g_variant_get_type (pairs));
  return g_variant_type_is_dict_entry (element) ||
         (g_variant_type_is_tuple (element) && g_variant_type_n_items (element) == 2);
}

/* get() and get_default(): from the view when it can answer, else from the
 * server.  @key and @fallback (nullable) are sunk. */
static GVariant *
dict_lookup (MprocDict     *self,
             GVariant      *key,
             GVariant      *fallback,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (key);
  g_autoptr(GVariant) sunk_fallback = fallback != NULL ? g_variant_ref_sink (fallback) : NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariant *value = NULL;
  int found;

  if (!mproc_proxy_view_lookup (&self->core, sunk, &value, &found, error))
    return NULL;
  if (found == MPROC_VIEW_FOUND)
    return value;
  if (found == MPROC_VIEW_MISSING)
    {
      g_autofree char *text = NULL;

      if (sunk_fallback != NULL)
        return g_steal_pointer (&sunk_fallback);
      text = g_variant_print (sunk, TRUE);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND, _("The dictionary has no key %s"), text);
      return NULL;
    }
  if (!mproc_proxy_call (&self->core, DICT_OP_GET, g_variant_new ("(vmv)", sunk, sunk_fallback),
                         &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_dict_set:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @value: the value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Sets @key to @value, like `d[key] = value`.
 *
 * The request is pipelined: it returns once the request is on its way, and
 * every later call of this process sees its effect. It fails only if the
 * server is known to be gone.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_set (MprocDict     *self,
                GVariant      *key,
                GVariant      *value,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, DICT_OP_SET, g_variant_new ("(vv)", key, value), NULL, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_dict_set_async:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @value: the value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.set]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.set_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_set_async (MprocDict           *self,
                      GVariant            *key,
                      GVariant            *value,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_set_async, DICT_OP_SET, g_variant_new ("(vv)", key, value), FALSE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_set_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.set_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_set_finish (MprocDict     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_set_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_dict_get:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets the value of @key, like `d[key]`. Fails with
 * %MPROC_ERROR_NOT_FOUND if @dict has no such key.
 *
 * Returns: (transfer full): the value of @key, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_get (MprocDict     *self,
                GVariant      *key,
                GCancellable  *cancellable,
                GError       **error)
{
    g_return_val_if_fail (MPROC_IS_DICT (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return dict_lookup (self, key, NULL, cancellable, error);
}

/**
 * mproc_dict_get_async:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.get]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.get_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_get_async (MprocDict           *self,
                      GVariant            *key,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_get_async, DICT_OP_GET, g_variant_new ("(vmv)", key, NULL), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_get_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.get_async].
 *
 * Returns: (transfer full): the value of @key, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_get_finish (MprocDict     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_get_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_dict_get_default:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @default_value: the value to return when @key is not there; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets the value of @key, or @default_value if @self has no such key, like
 * `d.get(key, default)`.
 *
 * Returns: (transfer full): the value of @key or @default_value, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_get_default (MprocDict     *self,
                        GVariant      *key,
                        GVariant      *default_value,
                        GCancellable  *cancellable,
                        GError       **error)
{
    g_return_val_if_fail (MPROC_IS_DICT (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (default_value != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return dict_lookup (self, key, default_value, cancellable, error);
}

/**
 * mproc_dict_get_default_async:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @default_value: the value to return when @key is not there; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.get_default]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.get_default_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_get_default_async (MprocDict           *self,
                              GVariant            *key,
                              GVariant            *default_value,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (default_value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_get_default_async, DICT_OP_GET, g_variant_new ("(vmv)", key, default_value), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_get_default_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.get_default_async].
 *
 * Returns: (transfer full): the value of @key or @default_value, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_get_default_finish (MprocDict     *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_get_default_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_dict_contains:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @out_value: (out): return location for the answer
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Finds whether @self has @key, like `key in d`; the answer goes to
 * @out_value.
 *
 * Returns: (skip): %TRUE on success (with @out_value set), %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_contains (MprocDict     *self,
                     GVariant      *key,
                     gboolean      *out_value,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) sunk = NULL;
  int found;

  g_return_val_if_fail (MPROC_IS_DICT (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (out_value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sunk = g_variant_ref_sink (key);
  if (!mproc_proxy_view_lookup (&self->core, sunk, NULL, &found, error))
    return FALSE;
  if (found != MPROC_VIEW_UNAVAILABLE)
    {
      *out_value = found == MPROC_VIEW_FOUND;
      return TRUE;
    }
  if (!mproc_proxy_call (&self->core, DICT_OP_CONTAINS, g_variant_new_variant (sunk), &reply, cancellable, error))
    return FALSE;
  return mproc_proxy_reply_boolean (reply, out_value, error);
}

/**
 * mproc_dict_contains_async:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.contains]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.contains_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_contains_async (MprocDict           *self,
                           GVariant            *key,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_contains_async, DICT_OP_CONTAINS, g_variant_new_variant (key), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_contains_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @out_value: (out): return location for the answer
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.contains_async].
 *
 * Returns: (skip): %TRUE on success (with @out_value set), %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_contains_finish (MprocDict     *self,
                            GAsyncResult  *result,
                            gboolean      *out_value,
                            GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (out_value != NULL, FALSE);
  reply = mproc_proxy_call_finish (self, result, mproc_dict_contains_async, error);
  if (reply == NULL)
    return FALSE;
  return mproc_proxy_reply_boolean (reply, out_value, error);
}

/**
 * mproc_dict_remove:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Removes @key, like `del d[key]`. Fails with %MPROC_ERROR_NOT_FOUND if
 * @self has no such key.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_remove (MprocDict     *self,
                   GVariant      *key,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, DICT_OP_REMOVE, g_variant_new_variant (key), &reply, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_dict_remove_async:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.remove]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.remove_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_remove_async (MprocDict           *self,
                         GVariant            *key,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_remove_async, DICT_OP_REMOVE, g_variant_new_variant (key), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_remove_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.remove_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_remove_finish (MprocDict     *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_remove_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_dict_pop:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @default_value: (nullable): the value to return when @key is not there; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Removes @key and returns its value, like `d.pop(key[, default])`. If
 * @self has no such key, returns @default_value, or fails with
 * %MPROC_ERROR_NOT_FOUND when @default_value is %NULL.
 *
 * Returns: (transfer full): the value removed, or @default_value, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_pop (MprocDict     *self,
                GVariant      *key,
                GVariant      *default_value,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_proxy_call (&self->core, DICT_OP_POP, g_variant_new ("(vmv)", key, default_value), &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_dict_pop_async:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @default_value: (nullable): the value to return when @key is not there; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.pop]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.pop_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_pop_async (MprocDict           *self,
                      GVariant            *key,
                      GVariant            *default_value,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_pop_async, DICT_OP_POP, g_variant_new ("(vmv)", key, default_value), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_pop_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.pop_async].
 *
 * Returns: (transfer full): the value removed, or @default_value, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_pop_finish (MprocDict     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_pop_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_dict_setdefault:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @value: the value to set if @key is not there; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Sets @key to @value unless @self already has @key, in one atomic step,
 * like `d.setdefault(key, value)`.
 *
 * Returns: (transfer full): the value @key now has, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_setdefault (MprocDict     *self,
                       GVariant      *key,
                       GVariant      *value,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (value != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_proxy_call (&self->core, DICT_OP_SETDEFAULT, g_variant_new ("(vv)", key, value), &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_dict_setdefault_async:
 * @self: a `MprocDict`
 * @key: a key (its type counts: 1 as `i` and 1 as `x` are two keys); a floating reference is sunk
 * @value: the value to set if @key is not there; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.setdefault]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.setdefault_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_setdefault_async (MprocDict           *self,
                             GVariant            *key,
                             GVariant            *value,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_setdefault_async, DICT_OP_SETDEFAULT, g_variant_new ("(vv)", key, value), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_setdefault_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.setdefault_async].
 *
 * Returns: (transfer full): the value @key now has, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_setdefault_finish (MprocDict     *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_setdefault_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_dict_update:
 * @self: a `MprocDict`
 * @pairs: the pairs: an array of dictionary entries or of 2-tuples (`a{sv}`, `a{ix}`, `a(vv)`…); `v` keys and values are unboxed; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Sets every key of @pairs to its value in one request, like
 * `d.update(pairs)`: when a key comes more than once, its last value wins
 * (and the key keeps its first place). Pipelined, like [method@Mproc.Dict.set].
 * Pairs of fixed-size basic types (`a{xx}`, `a(ud)`…) cost least: the
 * server checks and applies them straight from the request's bytes. Change
 * notifications are sent for every key (to proxies that watch), and
 * D-Bus peers get one `Changed` signal for the whole update.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_update (MprocDict     *self,
                   GVariant      *pairs,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), FALSE);
  g_return_val_if_fail (dict_pairs_valid (pairs), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* the pairs travel as they are: the server unboxes them */
  return mproc_proxy_call (&self->core, DICT_OP_UPDATE_PACKED, g_variant_new_variant (pairs), NULL,
                           cancellable, error);
}

/**
 * mproc_dict_update_async:
 * @self: a `MprocDict`
 * @pairs: the pairs: an array of dictionary entries or of 2-tuples (`a{sv}`, `a{ix}`, `a(vv)`…); `v` keys and values are unboxed; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.update]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.update_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_update_async (MprocDict           *self,
                         GVariant            *pairs,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (dict_pairs_valid (pairs));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_update_async, DICT_OP_UPDATE_PACKED, g_variant_new_variant (pairs), FALSE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_update_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.update_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_update_finish (MprocDict     *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_update_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_dict_keys:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets a snapshot of the keys, like `list(d.keys())`.
 *
 * Returns: (transfer full): the keys, in insertion order (type `av`), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_keys (MprocDict     *self,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_proxy_call (&self->core, DICT_OP_KEYS, NULL, &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_raw (reply, "av", error);
}

/**
 * mproc_dict_keys_async:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.keys]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.keys_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_keys_async (MprocDict           *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_keys_async, DICT_OP_KEYS, NULL, TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_keys_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.keys_async].
 *
 * Returns: (transfer full): the keys, in insertion order (type `av`), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_keys_finish (MprocDict     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_keys_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_raw (reply, "av", error);
}

/**
 * mproc_dict_values:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets a snapshot of the values, like `list(d.values())`.
 *
 * Returns: (transfer full): the values, in insertion order (type `av`), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_values (MprocDict     *self,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_proxy_call (&self->core, DICT_OP_VALUES, NULL, &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_raw (reply, "av", error);
}

/**
 * mproc_dict_values_async:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.values]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.values_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_values_async (MprocDict           *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_values_async, DICT_OP_VALUES, NULL, TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_values_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.values_async].
 *
 * Returns: (transfer full): the values, in insertion order (type `av`), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_values_finish (MprocDict     *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_values_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_raw (reply, "av", error);
}

/**
 * mproc_dict_items:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets a snapshot of the items, like `list(d.items())`.
 *
 * Returns: (transfer full): the (key, value) pairs, in insertion order (type `a(vv)`), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_items (MprocDict     *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_proxy_call (&self->core, DICT_OP_ITEMS, NULL, &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_raw (reply, "a(vv)", error);
}

/**
 * mproc_dict_items_async:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.items]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.items_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_items_async (MprocDict           *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_items_async, DICT_OP_ITEMS, NULL, TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_items_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.items_async].
 *
 * Returns: (transfer full): the (key, value) pairs, in insertion order (type `a(vv)`), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_dict_items_finish (MprocDict     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_items_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_raw (reply, "a(vv)", error);
}

/**
 * mproc_dict_len:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Counts the keys, like `len(d)`.
 *
 * Returns: the number of keys, or -1 with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gssize
mproc_dict_len (MprocDict     *self,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GVariant) reply = NULL;
  gint64 len;

  g_return_val_if_fail (MPROC_IS_DICT (self), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!mproc_proxy_view_len (&self->core, &len, error))
    return -1;
  if (len >= 0)
    return len;
  if (!mproc_proxy_call (&self->core, DICT_OP_LEN, NULL, &reply, cancellable, error))
    return -1;
  return mproc_proxy_reply_count (reply, error);
}

/**
 * mproc_dict_len_async:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.len]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.len_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_len_async (MprocDict           *self,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_len_async, DICT_OP_LEN, NULL, TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_len_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.len_async].
 *
 * Returns: the number of keys, or -1 with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gssize
mproc_dict_len_finish (MprocDict     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_len_async, error);
  if (reply == NULL)
    return -1;
  return mproc_proxy_reply_count (reply, error);
}

/**
 * mproc_dict_clear:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Removes every key, like `d.clear()`. Pipelined, like [method@Mproc.Dict.set].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_clear (MprocDict     *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_DICT (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, DICT_OP_CLEAR, NULL, NULL, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_dict_clear_async:
 * @self: a `MprocDict`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Dict.clear]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.Dict.clear_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_dict_clear_async (MprocDict           *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_DICT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_dict_clear_async, DICT_OP_CLEAR, NULL, FALSE,
                          cancellable, callback, user_data);
}

/**
 * mproc_dict_clear_finish:
 * @self: a `MprocDict`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Dict.clear_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_dict_clear_finish (MprocDict     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_dict_clear_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

