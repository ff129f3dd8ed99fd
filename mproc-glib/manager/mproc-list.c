/* mproc-list.c: a list held by a manager's server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-list.h"
#include "mproc-manager-private.h"
#include "mproc-shareable-private.h"

/**
 * MprocListItem:
 *
 * An item of an #MprocList seen as a #GListModel: it holds one value, a
 * #GVariant, and never changes (a changed item is replaced by a new one).
 *
 * Since: 0.1
 * Stability: Unstable
 */

struct _MprocListItem
{
  GObject   parent_instance;
  GVariant *value;
};

enum {
  ITEM_PROP_0,
  ITEM_PROP_VALUE,
  N_ITEM_PROPS
};

static GParamSpec *item_properties[N_ITEM_PROPS];

/* Not final, as MprocList. */
G_DEFINE_TYPE (MprocListItem, mproc_list_item, G_TYPE_OBJECT)

static void
mproc_list_item_finalize (GObject *object)
{
  g_clear_pointer (&MPROC_LIST_ITEM (object)->value, g_variant_unref);
  G_OBJECT_CLASS (mproc_list_item_parent_class)->finalize (object);
}

static void
mproc_list_item_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  switch (prop_id)
    {
    case ITEM_PROP_VALUE:
      g_value_set_variant (value, MPROC_LIST_ITEM (object)->value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_list_item_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  MprocListItem *self = MPROC_LIST_ITEM (object);

  switch (prop_id)
    {
    case ITEM_PROP_VALUE:
      g_clear_pointer (&self->value, g_variant_unref);
      self->value = g_value_dup_variant (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_list_item_class_init (MprocListItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_list_item_finalize;
  object_class->get_property = mproc_list_item_get_property;
  object_class->set_property = mproc_list_item_set_property;

  /**
   * MprocListItem:value:
   *
   * The item's value.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  item_properties[ITEM_PROP_VALUE] =
    g_param_spec_variant ("value", NULL, NULL, G_VARIANT_TYPE_ANY, NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_ITEM_PROPS, item_properties);
}

static void
mproc_list_item_init (MprocListItem *self)
{
}

/**
 * mproc_list_item_new:
 * @value: the value; a floating reference is sunk
 *
 * Creates an item holding @value.
 *
 * Returns: (transfer full): a new `MprocListItem`
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocListItem *
mproc_list_item_new (GVariant *value)
{
  g_return_val_if_fail (value != NULL, NULL);

  return g_object_new (MPROC_TYPE_LIST_ITEM, "value", value, NULL);
}

/**
 * mproc_list_item_get_value:
 * @self: a `MprocListItem`
 *
 * Gets the value of the item.
 *
 * Returns: (transfer none): the value
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_list_item_get_value (MprocListItem *self)
{
  g_return_val_if_fail (MPROC_IS_LIST_ITEM (self), NULL);

  return self->value;
}

/**
 * MprocList:
 *
 * A list that lives in a manager's server process, like the proxy Python's
 * `Manager().list()` returns: items are #GVariant values, every process that
 * has the list sees the same items, and each operation is atomic.
 *
 * **C**
 *
 * |[<!-- language="C" -->
 * g_autoptr(MprocList) list = mproc_list_new (manager, NULL, NULL, &error);
 *
 * mproc_list_append (list, g_variant_new_string ("0"), NULL, &error);
 * ]|
 *
 * Positions are Python's: negative ones count from the end. Writes that
 * cannot fail ([method@Mproc.List.append], [method@Mproc.List.extend],
 * [method@Mproc.List.insert], [method@Mproc.List.clear]) are pipelined; reads wait for the
 * server's answer.
 *
 * ## As a GListModel
 *
 * #MprocList implements #GListModel, with #MprocListItem items, so a
 * `GtkListView` can show a list shared between processes. The model is a
 * copy of the list kept up to date by the server's notifications, which
 * [method@Mproc.List.watch] starts (the first use of the model starts it too, with
 * a round trip): #GListModel::items-changed is then emitted in the
 * thread-default main context of [method@Mproc.List.watch]'s caller, after any
 * process — this one included — changed the list, with the exact positions
 * of the change. The model is always consistent: if the server dies, it
 * keeps its last state.
 *
 * Hand a list to a child with [method@Mproc.Process.add_object], under any start
 * method. The server keeps the list while a process holds it (or for the
 * manager's life, if it has a name).
 *
 * ## Thread safety
 *
 * Every method may be called from any thread; async methods complete in the
 * thread-default main context of the caller. The #GListModel side belongs to
 * the main context of [method@Mproc.List.watch]'s caller.
 *
 * Since: 0.1
 * Stability: Unstable
 */

struct _MprocList
{
  GObject         parent_instance;
  MprocProxyCore  core;
  GPtrArray      *mirror;          /* MprocListItem*, while watched */
  gboolean        model_failed;
};

static void mproc_list_shareable_init (MprocShareableInterface *iface);
static void mproc_list_model_init (GListModelInterface *iface);

/* Not final: bindings derive from it (a C subclass has no header to
 * derive from). */
G_DEFINE_TYPE_WITH_CODE (MprocList, mproc_list, G_TYPE_OBJECT,
                       G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_list_shareable_init)
                       G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_proxy_initable_iface_init)
                       G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE, mproc_proxy_async_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, mproc_list_model_init))

static void
mproc_list_finalize (GObject *object)
{
  MprocList *self = MPROC_LIST (object);

  mproc_proxy_core_clear (&self->core);
  g_clear_pointer (&self->mirror, g_ptr_array_unref);
  G_OBJECT_CLASS (mproc_list_parent_class)->finalize (object);
}

enum {
  PROP_0,
  PROP_MANAGER,
  PROP_NAME,
};

static void
mproc_list_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  mproc_proxy_set_property (&MPROC_LIST (object)->core, prop_id, PROP_MANAGER, PROP_NAME, value);
}

static void
mproc_list_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  mproc_proxy_get_property (&MPROC_LIST (object)->core, prop_id, PROP_MANAGER, PROP_NAME, value);
}

static void
mproc_list_class_init (MprocListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_list_finalize;
  object_class->set_property = mproc_list_set_property;
  object_class->get_property = mproc_list_get_property;
  /**
   * MprocList:manager:
   *
   * The manager whose server holds the list; set it at construction.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  /**
   * MprocList:name:
   *
   * The name under which any client of the manager finds the same list, or
   * %NULL for a new anonymous one; set it at construction.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  mproc_proxy_install_properties (object_class, PROP_MANAGER, PROP_NAME, "list");
}

static void
mproc_list_init (MprocList *self)
{
  mproc_proxy_core_setup (&self->core, MPROC_MANAGER_KIND_LIST);
}

static GVariant *
mproc_list_serialize (MprocShareable *shareable,
                      GArray         *fds,
                      GError        **error)
{
  return mproc_proxy_core_serialize (&MPROC_LIST (shareable)->core, error);
}

static gboolean
mproc_list_attach (MprocShareable *shareable,
                 GVariant       *handle,
                 GArray         *fds,
                 GError        **error)
{
  /* made by g_object_new() as the type that was sent: a binding's
   * subclass arrives as itself */
  return mproc_proxy_core_deserialize (&MPROC_LIST (shareable)->core, MPROC_MANAGER_KIND_LIST, handle, error);
}

static void
mproc_list_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_list_serialize;
  iface->attach = mproc_list_attach;
}

/* --- The model ------------------------------------------------------------ */

static GPtrArray *
items_from_av (GVariant *values)
{
  GPtrArray *items = g_ptr_array_new_with_free_func (g_object_unref);
  gsize n = g_variant_n_children (values);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (values, i);
      g_autoptr(GVariant) value = g_variant_get_variant (boxed);

      g_ptr_array_add (items, mproc_list_item_new (value));
    }
  return items;
}

static void
list_reset (MprocList *self,
            GVariant  *snapshot)
{
  guint removed = self->mirror != NULL ? self->mirror->len : 0;

  g_clear_pointer (&self->mirror, g_ptr_array_unref);
  self->mirror = items_from_av (snapshot);
  if (removed > 0 || self->mirror->len > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, self->mirror->len);
}

static void
list_event (GObject  *proxy,
            guint     kind,
            GVariant *payload)
{
  MprocList *self = MPROC_LIST (proxy);
  g_autoptr(GVariant) added = NULL;
  g_autoptr(GPtrArray) items = NULL;
  guint position, removed;

  if (self->mirror == NULL)
    return;

  if (kind == MANAGER_EVENT_ITEMS && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(uuav)")))
    {
      g_variant_get (payload, "(uu@av)", &position, &removed, &added);
      if (position <= self->mirror->len && removed <= self->mirror->len - position)
        {
          items = items_from_av (added);
          if (removed > 0)
            g_ptr_array_remove_range (self->mirror, position, removed);
          for (guint i = 0; i < items->len; i++)
            g_ptr_array_insert (self->mirror, position + i, g_object_ref (items->pdata[i]));
          g_list_model_items_changed (G_LIST_MODEL (self), position, removed, items->len);
          return;
        }
    }
  else if (kind != MANAGER_EVENT_LOST)
    return;

  /* events were lost (or made no sense): start again from a snapshot */
  {
    g_autoptr(GVariant) snapshot = NULL;

    if (mproc_proxy_resync (&self->core, &snapshot, NULL) &&
        g_variant_is_of_type (snapshot, G_VARIANT_TYPE ("av")))
      list_reset (self, snapshot);
  }
}

static void
list_ensure_model (MprocList *self)
{
  g_autoptr(GError) error = NULL;

  if (self->mirror != NULL || self->model_failed)
    return;
  if (!mproc_list_watch (self, NULL, &error))
    {
      /* the model cannot report errors: say it once */
      self->model_failed = TRUE;
      g_warning ("Cannot follow a shared list: %s", error->message);
    }
}

static GType
mproc_list_get_item_type (GListModel *model)
{
  return MPROC_TYPE_LIST_ITEM;
}

static guint
mproc_list_get_n_items (GListModel *model)
{
  MprocList *self = MPROC_LIST (model);

  list_ensure_model (self);
  return self->mirror != NULL ? self->mirror->len : 0;
}

static gpointer
mproc_list_get_item (GListModel *model,
                     guint       position)
{
  MprocList *self = MPROC_LIST (model);

  list_ensure_model (self);
  if (self->mirror == NULL || position >= self->mirror->len)
    return NULL;
  return g_object_ref (self->mirror->pdata[position]);
}

static void
mproc_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = mproc_list_get_item_type;
  iface->get_n_items = mproc_list_get_n_items;
  iface->get_item = mproc_list_get_item;
}

/**
 * mproc_list_new:
 * @manager: a started or connected `MprocManager`
 * @name: (nullable): a name under which any client of @manager finds the
 *   same list, or %NULL for a new anonymous one
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Creates a list in @manager's server, or, with a @name, gets the one of
 * that name (creating it the first time). A named list lives as long as the
 * server.
 *
 * Returns: (transfer full): the list, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocList *
mproc_list_new (MprocManager  *manager,
                const char    *name,
                GCancellable  *cancellable,
                GError       **error)
{
  g_return_val_if_fail (MPROC_IS_MANAGER (manager), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_LIST, cancellable, error, "manager", manager, "name", name, NULL);
}

/**
 * mproc_list_get_manager:
 * @self: a `MprocList`
 *
 * Gets the manager whose server holds @self.
 *
 * Returns: (transfer none): the manager
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_list_get_manager (MprocList *self)
{
  g_return_val_if_fail (MPROC_IS_LIST (self), NULL);

  return self->core.manager;
}

/**
 * mproc_list_watch:
 * @self: a `MprocList`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Makes @self follow the list as a #GListModel: it takes a snapshot of the
 * list (emitting #GListModel::items-changed for it), then applies every
 * change any process makes, emitting #GListModel::items-changed in the
 * thread-default main context of the caller. Until then a proxy costs
 * nothing when others change the list.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_watch (MprocList     *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GVariant) snapshot = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (mproc_proxy_is_watched (&self->core))
    return TRUE;
  if (!mproc_proxy_watch (&self->core, G_OBJECT (self), list_event, &snapshot, cancellable, error))
    return FALSE;
  if (!g_variant_is_of_type (snapshot, G_VARIANT_TYPE ("av")))
    {
      mproc_proxy_unwatch (&self->core);
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("The manager’s server sent a malformed reply"));
      return FALSE;
    }
  self->model_failed = FALSE;
  list_reset (self, snapshot);
  return TRUE;
}

/**
 * mproc_list_unwatch:
 * @self: a `MprocList`
 *
 * Stops what [method@Mproc.List.watch] started: the model becomes empty.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_unwatch (MprocList *self)
{
  guint removed;

  g_return_if_fail (MPROC_IS_LIST (self));

  mproc_proxy_unwatch (&self->core);
  removed = self->mirror != NULL ? self->mirror->len : 0;
  g_clear_pointer (&self->mirror, g_ptr_array_unref);
  self->model_failed = TRUE;   /* no automatic watch after an explicit unwatch */
  if (removed > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, 0);
}

/* Any array -> "av" (floating, or owned for an "av" input; @values is sunk). */
static GVariant *
list_values_to_av (GVariant *values)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (values);
  GVariantBuilder builder;
  GVariantIter iter;
  GVariant *item;

  if (g_variant_is_of_type (sunk, G_VARIANT_TYPE ("av")))
    return g_steal_pointer (&sunk);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  g_variant_iter_init (&iter, sunk);
  while ((item = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_variant_builder_add (&builder, "v", item);
      g_variant_unref (item);
    }
  return g_variant_builder_end (&builder);
}

/**
 * mproc_list_append:
 * @self: a `MprocList`
 * @value: the value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Appends @value, like `l.append(value)`. Pipelined: it returns once the
 * request is on its way, and every later call of this process sees its
 * effect.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_append (MprocList     *self,
                   GVariant      *value,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, LIST_OP_APPEND, g_variant_new_variant (value), NULL, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_append_async:
 * @self: a `MprocList`
 * @value: the value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.append]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.append_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_append_async (MprocList           *self,
                         GVariant            *value,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_append_async, LIST_OP_APPEND, g_variant_new_variant (value), FALSE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_append_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.append_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_append_finish (MprocList     *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_append_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_extend:
 * @self: a `MprocList`
 * @values: an array of values (`av` items are unboxed, any other array is taken item by item); a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Appends every item of @values in one request, like `l.extend(values)`.
 * Pipelined, like [method@Mproc.List.append].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_extend (MprocList     *self,
                   GVariant      *values,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), FALSE);
  g_return_val_if_fail (values != NULL && g_variant_is_of_type (values, G_VARIANT_TYPE_ARRAY), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, LIST_OP_EXTEND, list_values_to_av (values), NULL, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_extend_async:
 * @self: a `MprocList`
 * @values: an array of values (`av` items are unboxed, any other array is taken item by item); a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.extend]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.extend_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_extend_async (MprocList           *self,
                         GVariant            *values,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (values != NULL && g_variant_is_of_type (values, G_VARIANT_TYPE_ARRAY));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_extend_async, LIST_OP_EXTEND, list_values_to_av (values), FALSE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_extend_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.extend_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_extend_finish (MprocList     *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_extend_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_insert:
 * @self: a `MprocList`
 * @index: a position; negative counts from the end, as in Python (clamped to the list, as in Python)
 * @value: the value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Inserts @value before position @index, like `l.insert(index, value)`.
 * Pipelined, like [method@Mproc.List.append].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_insert (MprocList     *self,
                   gint64         index,
                   GVariant      *value,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, LIST_OP_INSERT, g_variant_new ("(xv)", index, value), NULL, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_insert_async:
 * @self: a `MprocList`
 * @index: a position; negative counts from the end, as in Python (clamped to the list, as in Python)
 * @value: the value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.insert]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.insert_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_insert_async (MprocList           *self,
                         gint64               index,
                         GVariant            *value,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_insert_async, LIST_OP_INSERT, g_variant_new ("(xv)", index, value), FALSE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_insert_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.insert_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_insert_finish (MprocList     *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_insert_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_get:
 * @self: a `MprocList`
 * @index: a position; negative counts from the end, as in Python
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets the item at @index, like `l[index]`. Fails with
 * %MPROC_ERROR_NOT_FOUND if @index is out of range.
 *
 * Returns: (transfer full): the item, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_list_get (MprocList     *self,
                gint64         index,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_proxy_call (&self->core, LIST_OP_GET, g_variant_new_int64 (index), &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_list_get_async:
 * @self: a `MprocList`
 * @index: a position; negative counts from the end, as in Python
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.get]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.get_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_get_async (MprocList           *self,
                      gint64               index,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_get_async, LIST_OP_GET, g_variant_new_int64 (index), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_get_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.get_async].
 *
 * Returns: (transfer full): the item, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_list_get_finish (MprocList     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_get_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_list_set:
 * @self: a `MprocList`
 * @index: a position; negative counts from the end, as in Python
 * @value: the value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Replaces the item at @index, like `l[index] = value`. Fails with
 * %MPROC_ERROR_NOT_FOUND if @index is out of range.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_set (MprocList     *self,
                gint64         index,
                GVariant      *value,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, LIST_OP_SET, g_variant_new ("(xv)", index, value), &reply, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_set_async:
 * @self: a `MprocList`
 * @index: a position; negative counts from the end, as in Python
 * @value: the value; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.set]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.set_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_set_async (MprocList           *self,
                      gint64               index,
                      GVariant            *value,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_set_async, LIST_OP_SET, g_variant_new ("(xv)", index, value), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_set_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.set_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_set_finish (MprocList     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_set_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_remove:
 * @self: a `MprocList`
 * @value: the value to remove; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Removes the first item equal to @value (same type and value), like
 * `l.remove(value)`. Fails with %MPROC_ERROR_NOT_FOUND if there is none.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_remove (MprocList     *self,
                   GVariant      *value,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, LIST_OP_REMOVE, g_variant_new_variant (value), &reply, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_remove_async:
 * @self: a `MprocList`
 * @value: the value to remove; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.remove]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.remove_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_remove_async (MprocList           *self,
                         GVariant            *value,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_remove_async, LIST_OP_REMOVE, g_variant_new_variant (value), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_remove_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.remove_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_remove_finish (MprocList     *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_remove_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_pop:
 * @self: a `MprocList`
 * @index: a position; negative counts from the end, as in Python (-1: the last item)
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Removes the item at @index and returns it, like `l.pop(index)`. Fails
 * with %MPROC_ERROR_NOT_FOUND if @index is out of range.
 *
 * Returns: (transfer full): the item removed, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_list_pop (MprocList     *self,
                gint64         index,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_proxy_call (&self->core, LIST_OP_POP, g_variant_new_int64 (index), &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_list_pop_async:
 * @self: a `MprocList`
 * @index: a position; negative counts from the end, as in Python (-1: the last item)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.pop]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.pop_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_pop_async (MprocList           *self,
                      gint64               index,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_pop_async, LIST_OP_POP, g_variant_new_int64 (index), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_pop_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.pop_async].
 *
 * Returns: (transfer full): the item removed, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_list_pop_finish (MprocList     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_pop_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_unbox (reply, error);
}

/**
 * mproc_list_index:
 * @self: a `MprocList`
 * @value: the value to find; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Finds the position of the first item equal to @value, like
 * `l.index(value)`. Fails with %MPROC_ERROR_NOT_FOUND if there is none.
 *
 * Returns: the position, or -1 with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gssize
mproc_list_index (MprocList     *self,
                  GVariant      *value,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), -1);
  g_return_val_if_fail (value != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!mproc_proxy_call (&self->core, LIST_OP_INDEX, g_variant_new_variant (value), &reply, cancellable, error))
    return -1;
  return mproc_proxy_reply_count (reply, error);
}

/**
 * mproc_list_index_async:
 * @self: a `MprocList`
 * @value: the value to find; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.index]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.index_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_index_async (MprocList           *self,
                        GVariant            *value,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_index_async, LIST_OP_INDEX, g_variant_new_variant (value), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_index_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.index_async].
 *
 * Returns: the position, or -1 with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gssize
mproc_list_index_finish (MprocList     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_index_async, error);
  if (reply == NULL)
    return -1;
  return mproc_proxy_reply_count (reply, error);
}

/**
 * mproc_list_count:
 * @self: a `MprocList`
 * @value: the value to count; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Counts the items equal to @value, like `l.count(value)`.
 *
 * Returns: the number of items equal to @value, or -1 with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gssize
mproc_list_count (MprocList     *self,
                  GVariant      *value,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), -1);
  g_return_val_if_fail (value != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!mproc_proxy_call (&self->core, LIST_OP_COUNT, g_variant_new_variant (value), &reply, cancellable, error))
    return -1;
  return mproc_proxy_reply_count (reply, error);
}

/**
 * mproc_list_count_async:
 * @self: a `MprocList`
 * @value: the value to count; a floating reference is sunk
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.count]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.count_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_count_async (MprocList           *self,
                        GVariant            *value,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_count_async, LIST_OP_COUNT, g_variant_new_variant (value), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_count_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.count_async].
 *
 * Returns: the number of items equal to @value, or -1 with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gssize
mproc_list_count_finish (MprocList     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_count_async, error);
  if (reply == NULL)
    return -1;
  return mproc_proxy_reply_count (reply, error);
}

/**
 * mproc_list_len:
 * @self: a `MprocList`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Counts the items, like `len(l)`.
 *
 * Returns: the number of items, or -1 with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gssize
mproc_list_len (MprocList     *self,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!mproc_proxy_call (&self->core, LIST_OP_LEN, NULL, &reply, cancellable, error))
    return -1;
  return mproc_proxy_reply_count (reply, error);
}

/**
 * mproc_list_len_async:
 * @self: a `MprocList`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.len]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.len_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_len_async (MprocList           *self,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_len_async, LIST_OP_LEN, NULL, TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_len_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.len_async].
 *
 * Returns: the number of items, or -1 with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gssize
mproc_list_len_finish (MprocList     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_len_async, error);
  if (reply == NULL)
    return -1;
  return mproc_proxy_reply_count (reply, error);
}

/**
 * mproc_list_slice:
 * @self: a `MprocList`
 * @start: the first position; negative counts from the end
 * @stop: the position after the last; negative counts from the end; %G_MAXINT64 for the end
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets a snapshot of the items from @start up to, not including, @stop,
 * like `l[start:stop]`; positions out of range are clamped.
 *
 * Returns: (transfer full): the items from @start to @stop (type `av`), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_list_slice (MprocList     *self,
                  gint64         start,
                  gint64         stop,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_proxy_call (&self->core, LIST_OP_SLICE, g_variant_new ("(xx)", start, stop), &reply, cancellable, error))
    return NULL;
  return mproc_proxy_reply_raw (reply, "av", error);
}

/**
 * mproc_list_slice_async:
 * @self: a `MprocList`
 * @start: the first position; negative counts from the end
 * @stop: the position after the last; negative counts from the end; %G_MAXINT64 for the end
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.slice]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.slice_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_slice_async (MprocList           *self,
                        gint64               start,
                        gint64               stop,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_slice_async, LIST_OP_SLICE, g_variant_new ("(xx)", start, stop), TRUE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_slice_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.slice_async].
 *
 * Returns: (transfer full): the items from @start to @stop (type `av`), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_list_slice_finish (MprocList     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_slice_async, error);
  if (reply == NULL)
    return NULL;
  return mproc_proxy_reply_raw (reply, "av", error);
}

/**
 * mproc_list_clear:
 * @self: a `MprocList`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Removes every item, like `l.clear()`. Pipelined, like [method@Mproc.List.append].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_clear (MprocList     *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_LIST (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mproc_proxy_call (&self->core, LIST_OP_CLEAR, NULL, NULL, cancellable, error))
    return FALSE;
  return TRUE;
}

/**
 * mproc_list_clear_async:
 * @self: a `MprocList`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has answered
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.List.clear]: never blocks the calling thread.
 * @callback runs in the caller's thread-default main context; call
 * [method@Mproc.List.clear_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_list_clear_async (MprocList           *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_LIST (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_proxy_call_async (&self->core, self, mproc_list_clear_async, LIST_OP_CLEAR, NULL, FALSE,
                          cancellable, callback, user_data);
}

/**
 * mproc_list_clear_finish:
 * @self: a `MprocList`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.List.clear_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_list_clear_finish (MprocList     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_proxy_call_finish (self, result, mproc_list_clear_async, error);
  if (reply == NULL)
    return FALSE;
  return TRUE;
}

