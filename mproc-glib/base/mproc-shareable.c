/* mproc-shareable.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <gio/gio.h>
#include <gmodule.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-shareable-private.h"

/**
 * MprocShareable:
 *
 * An object that can be handed to another process: queues, pipes, locks,
 * events and manager proxies implement it. Add one to a process with
 * [method@Mproc.Process.add_object] before starting it; the target finds it
 * with [method@Mproc.Process.get_object].
 *
 * Under the fork start method the child inherits the object itself. Under
 * spawn and forkserver the object describes itself (a small handle and the
 * file descriptors it needs) and an equivalent object is rebuilt in the
 * child, connected to the same shared state.
 *
 * The interface has no public methods: the library's classes implement it.
 *
 * Since: 0.1
 * Stability: Unstable
 */

G_DEFINE_INTERFACE (MprocShareable, mproc_shareable, G_TYPE_OBJECT)

static void
mproc_shareable_default_init (MprocShareableInterface *iface)
{
}

gboolean
mproc_shareable_prepare (MprocShareable  *self,
                         GError         **error)
{
  g_assert (MPROC_IS_SHAREABLE (self));

  return !G_IS_INITABLE (self) || g_initable_init (G_INITABLE (self), NULL, error);
}

/* Returns "(sv)": the type name and the class's handle. */
GVariant *
mproc_shareable_serialize (MprocShareable *self,
                           GArray         *fds,
                           GError        **error)
{
  MprocShareableInterface *iface;
  GVariant *handle;

  g_assert (MPROC_IS_SHAREABLE (self));

  if (!mproc_shareable_prepare (self, error))
    return NULL;
  iface = MPROC_SHAREABLE_GET_IFACE (self);
  handle = iface->serialize (self, fds, error);
  if (handle == NULL)
    return NULL;

  return g_variant_new ("(sv)", G_OBJECT_TYPE_NAME (self), handle);
}

/* Finds a type by name in this process. A type is registered lazily, the
 * first time its _get_type() runs, so a freshly started child may not know
 * it yet: then look for the _get_type() function by its conventional name
 * among the program's and the libraries' exported symbols, as GtkBuilder
 * does (a program's own types need -rdynamic, or g_type_ensure() before
 * mproc_init()). */
GType
mproc_type_from_name (const char *type_name)
{
  static GModule *self_module;
  static gsize initialized = 0;
  g_autoptr(GString) symbol = NULL;
  GType (*get_type) (void) = NULL;
  GType type;

  type = g_type_from_name (type_name);
  if (type != G_TYPE_INVALID)
    return type;

  /* The library's own private shareable types export no _get_type(). */
  for (guint i = 0; mproc_builtin_private_types[i] != NULL; i++)
    g_type_ensure (mproc_builtin_private_types[i] ());
  type = g_type_from_name (type_name);
  if (type != G_TYPE_INVALID)
    return type;

  if (g_once_init_enter (&initialized))
    {
      self_module = g_module_open (NULL, 0);
      g_once_init_leave (&initialized, 1);
    }
  if (self_module == NULL)
    return G_TYPE_INVALID;

  symbol = g_string_new (NULL);
  for (const char *p = type_name; *p != '\0'; p++)
    {
      /* MprocTestChannel -> mproc_test_channel, GDBusProxy -> g_dbus_proxy */
      if (g_ascii_isupper (*p) && p != type_name &&
          (g_ascii_islower (p[-1]) || (p[1] != '\0' && g_ascii_islower (p[1]) && g_ascii_isupper (p[-1]) &&
                                       p - type_name > 1)))
        g_string_append_c (symbol, '_');
      g_string_append_c (symbol, g_ascii_tolower (*p));
    }
  g_string_append (symbol, "_get_type");

  if (g_module_symbol (self_module, symbol->str, (gpointer *) &get_type) && get_type != NULL)
    return get_type ();

  /* An uppercase run kept whole: MprocRLock -> mproc_rlock */
  g_string_truncate (symbol, 0);
  for (const char *p = type_name; *p != '\0'; p++)
    {
      if (g_ascii_isupper (*p) && p != type_name && g_ascii_islower (p[-1]))
        g_string_append_c (symbol, '_');
      g_string_append_c (symbol, g_ascii_tolower (*p));
    }
  g_string_append (symbol, "_get_type");

  if (g_module_symbol (self_module, symbol->str, (gpointer *) &get_type) && get_type != NULL)
    return get_type ();

  return G_TYPE_INVALID;
}

MprocShareable *
mproc_shareable_deserialize (GVariant *description,
                             GArray   *fds,
                             GError  **error)
{
  g_autoptr(GVariant) handle = NULL;
  const char *type_name = NULL;
  MprocShareableInterface *iface;
  GTypeClass *klass;
  MprocShareable *object;
  GType type;

  if (!g_variant_is_of_type (description, G_VARIANT_TYPE ("(sv)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      return NULL;
    }

  g_variant_get (description, "(&sv)", &type_name, &handle);

  type = mproc_type_from_name (type_name);
  if (type == G_TYPE_INVALID || !g_type_is_a (type, MPROC_TYPE_SHAREABLE) ||
      !G_TYPE_IS_INSTANTIATABLE (type))
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                   _("Received a shared object of unknown type “%s”"), type_name);
      return NULL;
    }

  klass = g_type_class_ref (type);
  iface = g_type_interface_peek (klass, MPROC_TYPE_SHAREABLE);
  if (iface->attach != NULL)
    {
      if (G_TYPE_IS_ABSTRACT (type))
        {
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a shared object of unknown type “%s”"), type_name);
          object = NULL;
        }
      else
        {
          object = g_object_new (type, NULL);
          if (!iface->attach (object, handle, fds, error))
            g_clear_object (&object);
        }
    }
  else
    object = iface->deserialize (handle, fds, error);
  g_type_class_unref (klass);

  return object;
}

/* Takes the fd that an "h" handle value refers to out of @fds. */
int
mproc_shareable_steal_fd (GArray   *fds,
                          GVariant *handle_value,
                          GError  **error)
{
  gint32 index;
  int fd;

  if (!g_variant_is_of_type (handle_value, G_VARIANT_TYPE_HANDLE))
    goto bad;

  index = g_variant_get_handle (handle_value);
  if (index < 0 || (guint) index >= fds->len)
    goto bad;

  fd = g_array_index (fds, int, index);
  if (fd < 0)
    goto bad;

  g_array_index (fds, int, index) = -1;
  return fd;

bad:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a shared object with a missing file descriptor"));
  return -1;
}
