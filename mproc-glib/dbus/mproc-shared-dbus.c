/* mproc-shared-dbus.c: a manager's shared state exported on D-Bus
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Serves an MprocDict or MprocNamespace proxy on any GDBusConnection with
 * org.gnome.Mproc.SharedDict1 / SharedNamespace1 (data/, compiled in).
 * Only the proxies' public API is used: every method maps onto one _async
 * call of the proxy (so a handler never blocks the connection's main
 * context), and the proxy's ::changed signal, once watched, becomes the
 * D-Bus Changed signal.
 */

#include "config.h"

#include "mproc-dbus-resources.h"
#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-shared-dbus.h"

#define INTERFACES_PREFIX "/org/gnome/Mproc/interfaces/"

typedef struct
{
  gint             ref_count;
  guint            id;
  GObject         *object;          /* MprocDict or MprocNamespace */
  gboolean         is_dict;
  gboolean         writable;
  GDBusConnection *connection;
  char            *object_path;
  guint            registration_id;
  gulong           changed_id;
} SharedExport;

G_LOCK_DEFINE_STATIC (exports);
static GHashTable *exports;   /* id -> SharedExport* */
static guint next_id = 1;

static SharedExport *
shared_export_ref (SharedExport *e)
{
  g_atomic_int_inc (&e->ref_count);
  return e;
}

static void
shared_export_unref (gpointer data)
{
  SharedExport *e = data;

  if (!g_atomic_int_dec_and_test (&e->ref_count))
    return;
  g_clear_object (&e->object);
  g_clear_object (&e->connection);
  g_free (e->object_path);
  g_free (e);
}

/* One method call in progress. */
typedef struct
{
  SharedExport          *export;
  GDBusMethodInvocation *invocation;
  char                   method[16];
} Pending;

static Pending *
pending_new (SharedExport          *e,
             GDBusMethodInvocation *invocation,
             const char            *method)
{
  Pending *p = g_new0 (Pending, 1);

  p->export = shared_export_ref (e);
  p->invocation = g_object_ref (invocation);
  g_strlcpy (p->method, method, sizeof p->method);
  return p;
}

static void
pending_free (Pending *p)
{
  g_object_unref (p->invocation);
  shared_export_unref (p->export);
  g_free (p);
}

static void
return_value_or_error (Pending  *p,
                       GVariant *value,   /* floating or NULL: unit */
                       gboolean  ok,
                       GError   *error)
{
  if (!ok)
    g_dbus_method_invocation_return_gerror (p->invocation, error);
  else
    g_dbus_method_invocation_return_value (p->invocation, value);
  pending_free (p);
}

/* --- Dictionaries ------------------------------------------------------- */

static void
dict_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Pending *p = user_data;
  MprocDict *dict = MPROC_DICT (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  const char *m = p->method;

  if (g_str_equal (m, "Get") || g_str_equal (m, "Keys") || g_str_equal (m, "Items"))
    {
      if (g_str_equal (m, "Get"))
        value = mproc_dict_get_finish (dict, result, &error);
      else if (g_str_equal (m, "Keys"))
        value = mproc_dict_keys_finish (dict, result, &error);
      else
        value = mproc_dict_items_finish (dict, result, &error);
      return_value_or_error (p, value != NULL ? g_variant_new (g_str_equal (m, "Get") ? "(v)" : "(@*)", value)
                                              : NULL, value != NULL, error);
    }
  else if (g_str_equal (m, "Contains"))
    {
      gboolean contained = FALSE;
      gboolean ok = mproc_dict_contains_finish (dict, result, &contained, &error);

      return_value_or_error (p, g_variant_new ("(b)", contained), ok, error);
    }
  else if (g_str_equal (m, "Len"))
    {
      gssize len = mproc_dict_len_finish (dict, result, &error);

      return_value_or_error (p, g_variant_new ("(t)", (guint64) MAX (len, 0)), len >= 0, error);
    }
  else
    {
      gboolean ok;

      if (g_str_equal (m, "Set"))
        ok = mproc_dict_set_finish (dict, result, &error);
      else if (g_str_equal (m, "Remove"))
        ok = mproc_dict_remove_finish (dict, result, &error);
      else
        ok = mproc_dict_clear_finish (dict, result, &error);
      return_value_or_error (p, NULL, ok, error);
    }
}

static void
dict_call (SharedExport          *e,
           const char            *method,
           GVariant              *parameters,
           GDBusMethodInvocation *invocation)
{
  MprocDict *dict = MPROC_DICT (e->object);
  Pending *p = pending_new (e, invocation, method);
  g_autoptr(GVariant) key = NULL;
  g_autoptr(GVariant) value = NULL;

  if (g_variant_n_children (parameters) > 0)
    g_variant_get_child (parameters, 0, "v", &key);
  if (g_variant_n_children (parameters) > 1)
    g_variant_get_child (parameters, 1, "v", &value);

  if (g_str_equal (method, "Get"))
    mproc_dict_get_async (dict, key, NULL, dict_done_cb, p);
  else if (g_str_equal (method, "Contains"))
    mproc_dict_contains_async (dict, key, NULL, dict_done_cb, p);
  else if (g_str_equal (method, "Keys"))
    mproc_dict_keys_async (dict, NULL, dict_done_cb, p);
  else if (g_str_equal (method, "Items"))
    mproc_dict_items_async (dict, NULL, dict_done_cb, p);
  else if (g_str_equal (method, "Len"))
    mproc_dict_len_async (dict, NULL, dict_done_cb, p);
  else if (g_str_equal (method, "Set"))
    mproc_dict_set_async (dict, key, value, NULL, dict_done_cb, p);
  else if (g_str_equal (method, "Remove"))
    mproc_dict_remove_async (dict, key, NULL, dict_done_cb, p);
  else if (g_str_equal (method, "Clear"))
    mproc_dict_clear_async (dict, NULL, dict_done_cb, p);
  else
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                             _("No such method “%s”"), method);
      pending_free (p);
    }
}

static void
dict_changed_cb (MprocDict *dict,
                 GVariant  *key,
                 gpointer   user_data)
{
  SharedExport *e = user_data;
  GVariantBuilder keys;

  g_variant_builder_init (&keys, G_VARIANT_TYPE ("av"));
  if (key != NULL)
    g_variant_builder_add (&keys, "v", key);
  g_dbus_connection_emit_signal (e->connection, NULL, e->object_path, "org.gnome.Mproc.SharedDict1",
                                 "Changed", g_variant_new ("(av)", &keys), NULL);
}

/* --- Namespaces ---------------------------------------------------------- */

static void
namespace_done_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Pending *p = user_data;
  MprocNamespace *ns = MPROC_NAMESPACE (source);
  g_autoptr(GError) error = NULL;
  const char *m = p->method;

  if (g_str_equal (m, "Get"))
    {
      g_autoptr(GVariant) value = mproc_namespace_get_finish (ns, result, &error);

      return_value_or_error (p, value != NULL ? g_variant_new ("(v)", value) : NULL, value != NULL, error);
    }
  else if (g_str_equal (m, "Has"))
    {
      gboolean present = FALSE;
      gboolean ok = mproc_namespace_has_finish (ns, result, &present, &error);

      return_value_or_error (p, g_variant_new ("(b)", present), ok, error);
    }
  else if (g_str_equal (m, "List"))
    {
      g_auto(GStrv) names = mproc_namespace_list_names_finish (ns, result, &error);

      return_value_or_error (p, names != NULL ? g_variant_new ("(^as)", names) : NULL, names != NULL, error);
    }
  else
    {
      gboolean ok;

      if (g_str_equal (m, "Set"))
        ok = mproc_namespace_set_finish (ns, result, &error);
      else
        ok = mproc_namespace_delete_finish (ns, result, &error);
      return_value_or_error (p, NULL, ok, error);
    }
}

static void
namespace_call (SharedExport          *e,
                const char            *method,
                GVariant              *parameters,
                GDBusMethodInvocation *invocation)
{
  MprocNamespace *ns = MPROC_NAMESPACE (e->object);
  Pending *p = pending_new (e, invocation, method);
  const char *name = NULL;
  g_autoptr(GVariant) value = NULL;

  if (g_variant_n_children (parameters) > 0)
    g_variant_get_child (parameters, 0, "&s", &name);
  if (g_variant_n_children (parameters) > 1)
    g_variant_get_child (parameters, 1, "v", &value);

  if (g_str_equal (method, "Get"))
    mproc_namespace_get_async (ns, name, NULL, namespace_done_cb, p);
  else if (g_str_equal (method, "Has"))
    mproc_namespace_has_async (ns, name, NULL, namespace_done_cb, p);
  else if (g_str_equal (method, "List"))
    mproc_namespace_list_names_async (ns, NULL, namespace_done_cb, p);
  else if (g_str_equal (method, "Set"))
    mproc_namespace_set_async (ns, name, value, NULL, namespace_done_cb, p);
  else if (g_str_equal (method, "Delete"))
    mproc_namespace_delete_async (ns, name, NULL, namespace_done_cb, p);
  else
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                             _("No such method “%s”"), method);
      pending_free (p);
    }
}

static void
namespace_changed_cb (MprocNamespace *ns,
                      const char     *name,
                      gpointer        user_data)
{
  SharedExport *e = user_data;

  g_dbus_connection_emit_signal (e->connection, NULL, e->object_path, "org.gnome.Mproc.SharedNamespace1",
                                 "Changed", g_variant_new ("(s)", name != NULL ? name : ""), NULL);
}

/* --- Both ---------------------------------------------------------------- */

static gboolean
is_write (const char *method)
{
  return g_str_equal (method, "Set") || g_str_equal (method, "Remove") ||
         g_str_equal (method, "Clear") || g_str_equal (method, "Delete");
}

static void
method_call_cb (GDBusConnection       *connection,
                const char            *sender,
                const char            *object_path,
                const char            *interface_name,
                const char            *method_name,
                GVariant              *parameters,
                GDBusMethodInvocation *invocation,
                gpointer               user_data)
{
  SharedExport *e = user_data;

  if (!e->writable && is_write (method_name))
    {
      g_dbus_method_invocation_return_error (invocation, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                                             e->is_dict ? _("This shared dictionary is exported read-only")
                                                        : _("This shared namespace is exported read-only"));
      return;
    }
  if (e->is_dict)
    dict_call (e, method_name, parameters, invocation);
  else
    namespace_call (e, method_name, parameters, invocation);
}

static GVariant *
get_property_cb (GDBusConnection  *connection,
                 const char       *sender,
                 const char       *object_path,
                 const char       *interface_name,
                 const char       *property_name,
                 GError          **error,
                 gpointer          user_data)
{
  SharedExport *e = user_data;

  if (g_str_equal (property_name, "Writable"))
    return g_variant_new_boolean (e->writable);
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY,
               _("No such property “%s”"), property_name);
  return NULL;
}

static const GDBusInterfaceVTable vtable = {
  method_call_cb,
  get_property_cb,
  NULL,
  { 0 },
};

static GDBusInterfaceInfo *
interface_info (gboolean is_dict)
{
  static GDBusNodeInfo *nodes[2];
  gsize i = is_dict ? 0 : 1;

  if (g_once_init_enter (&nodes[i]))
    {
      g_autofree char *path = g_strconcat (INTERFACES_PREFIX, is_dict ? "org.gnome.Mproc.SharedDict1.xml"
                                                                      : "org.gnome.Mproc.SharedNamespace1.xml", NULL);
      g_autoptr(GBytes) bytes = g_resource_lookup_data (mproc_dbus_get_resource (), path,
                                                        G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
      GDBusNodeInfo *node = g_dbus_node_info_new_for_xml (g_bytes_get_data (bytes, NULL), NULL);

      /* compiled in: cannot fail */
      g_assert (node != NULL && node->interfaces[0] != NULL);
      g_once_init_leave (&nodes[i], node);
    }
  return nodes[i]->interfaces[0];
}

static guint
shared_export (GObject          *object,
               gboolean          is_dict,
               GDBusConnection  *connection,
               const char       *object_path,
               gboolean          writable,
               GCancellable     *cancellable,
               GError          **error)
{
  SharedExport *e;
  gboolean watched;

  (void) mproc_error_quark ();   /* register the domain before any reply */

  watched = is_dict ? mproc_dict_watch (MPROC_DICT (object), cancellable, error)
                    : mproc_namespace_watch (MPROC_NAMESPACE (object), cancellable, error);
  if (!watched)
    return 0;

  e = g_new0 (SharedExport, 1);
  e->ref_count = 1;
  e->object = g_object_ref (object);
  e->is_dict = is_dict;
  e->writable = writable;
  e->connection = g_object_ref (connection);
  e->object_path = g_strdup (object_path);
  e->registration_id = g_dbus_connection_register_object (connection, object_path,
                                                          interface_info (is_dict), &vtable,
                                                          e, NULL, error);
  if (e->registration_id == 0)
    {
      shared_export_unref (e);
      return 0;
    }
  e->changed_id = g_signal_connect (object, "changed",
                                    is_dict ? G_CALLBACK (dict_changed_cb) : G_CALLBACK (namespace_changed_cb),
                                    e);

  G_LOCK (exports);
  if (exports == NULL)
    exports = g_hash_table_new (NULL, NULL);
  e->id = next_id++;
  g_hash_table_insert (exports, GUINT_TO_POINTER (e->id), e);
  G_UNLOCK (exports);
  return e->id;
}

/**
 * mproc_shared_export_dict:
 * @dict: a shared dictionary proxy
 * @connection: a #GDBusConnection: a message bus or a peer-to-peer one
 * @object_path: where to export it
 * @writable: whether D-Bus clients may change it
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Serves @dict on @connection at @object_path with the
 * `org.gnome.Mproc.SharedDict1` interface
 * (`$datadir/dbus-1/interfaces/org.gnome.Mproc.SharedDict1.xml`), so that
 * D-Bus clients (any language, `gdbus call`, a shell script) read and watch
 * a manager's state: `Get`, `Contains`, `Keys`, `Items`, `Len`, and the
 * `Changed (av keys)` signal, emitted whoever changes the dictionary.  With
 * @writable they may also `Set`, `Remove` and `Clear`; without it these fail
 * with %MPROC_ERROR_ACCESS_DENIED.
 *
 * Calls [method@Mproc.Dict.watch], which blocks for one round trip to the
 * manager.  The method handlers run in the thread-default main context of
 * the caller, on the proxy's `_async` API: they never block it.  The
 * export holds a reference on @dict and @connection until
 * [func@Mproc.shared_unexport].
 *
 * Returns: an export id (never 0) for [func@Mproc.shared_unexport], or 0 with
 *   @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_shared_export_dict (MprocDict        *dict,
                          GDBusConnection  *connection,
                          const char       *object_path,
                          gboolean          writable,
                          GCancellable     *cancellable,
                          GError          **error)
{
  g_return_val_if_fail (MPROC_IS_DICT (dict), 0);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), 0);
  g_return_val_if_fail (object_path != NULL && g_variant_is_object_path (object_path), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  return shared_export (G_OBJECT (dict), TRUE, connection, object_path, writable, cancellable, error);
}

/**
 * mproc_shared_export_namespace:
 * @ns: a shared namespace proxy
 * @connection: a #GDBusConnection: a message bus or a peer-to-peer one
 * @object_path: where to export it
 * @writable: whether D-Bus clients may change it
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Serves @ns on @connection at @object_path with the
 * `org.gnome.Mproc.SharedNamespace1` interface: `Get`, `Has`, `List` and
 * the `Changed (s name)` signal; with @writable also `Set` and `Delete`,
 * which otherwise fail with %MPROC_ERROR_ACCESS_DENIED.  See
 * [func@Mproc.shared_export_dict].
 *
 * Returns: an export id (never 0) for [func@Mproc.shared_unexport], or 0 with
 *   @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_shared_export_namespace (MprocNamespace   *ns,
                               GDBusConnection  *connection,
                               const char       *object_path,
                               gboolean          writable,
                               GCancellable     *cancellable,
                               GError          **error)
{
  g_return_val_if_fail (MPROC_IS_NAMESPACE (ns), 0);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), 0);
  g_return_val_if_fail (object_path != NULL && g_variant_is_object_path (object_path), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  return shared_export (G_OBJECT (ns), FALSE, connection, object_path, writable, cancellable, error);
}

/**
 * mproc_shared_unexport:
 * @export_id: an id returned by [func@Mproc.shared_export_dict] or
 *   [func@Mproc.shared_export_namespace]
 *
 * Stops serving what the export served.  Calls in progress still get
 * their replies; the export lets go of the proxy and the connection once
 * they are over.  The proxy stays watched (see [method@Mproc.Dict.unwatch]).
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_shared_unexport (guint export_id)
{
  SharedExport *e = NULL;

  G_LOCK (exports);
  if (exports != NULL)
    e = g_hash_table_lookup (exports, GUINT_TO_POINTER (export_id));
  if (e != NULL)
    g_hash_table_remove (exports, GUINT_TO_POINTER (export_id));
  G_UNLOCK (exports);
  g_return_if_fail (e != NULL);

  g_dbus_connection_unregister_object (e->connection, e->registration_id);
  g_clear_signal_handler (&e->changed_id, e->object);
  shared_export_unref (e);
}
