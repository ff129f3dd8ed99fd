/* mproc-remote.c: queues and locks whose state lives elsewhere
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-i18n-private.h"
#include "mproc-remote-private.h"

/* Looked up once: g_quark_from_static_string() takes a global lock and
 * hashes the name, which the hot paths of queues and locks would pay on
 * every call. */
static GQuark
remote_quark (void)
{
  static GQuark quark;
  GQuark q = (GQuark) g_atomic_int_get ((gint *) &quark);

  if (G_UNLIKELY (q == 0))
    {
      q = g_quark_from_static_string ("mproc-remote");
      g_atomic_int_set ((gint *) &quark, (gint) q);
    }
  return q;
}

static void
remote_free (gpointer data)
{
  MprocRemote *remote = data;

  remote->klass->free (remote);
}

MprocRemote *
mproc_remote_get (gpointer object)
{
  return g_object_get_qdata (object, remote_quark ());
}

void
mproc_remote_set (gpointer     object,
                  MprocRemote *remote)
{
  g_object_set_qdata_full (object, remote_quark (), remote, remote_free);
}

void
mproc_remote_set_unsupported (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("This operation is not available on an object that lives in Redis"));
}
