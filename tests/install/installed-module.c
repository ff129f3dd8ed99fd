/* installed-module.c: a mproc-worker-service module built out of the tree
 * against an installed prefix (tests/install/test-install.sh), as the
 * guide's D-Bus chapter shows.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <mproc.h>
#include <mproc-worker-module.h>

static GVariant *
shout (GVariant  *arg,
       gpointer   user_data,
       GError   **error)
{
  g_autofree char *up = g_utf8_strup (g_variant_get_string (arg, NULL), -1);

  return g_variant_new_string (up);
}

G_MODULE_EXPORT gboolean
mproc_worker_module_init (GError **error)
{
  mproc_register_task ("org.example.Shout", shout, NULL, NULL);
  return TRUE;
}
