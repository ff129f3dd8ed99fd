/* mproc-error.c: the MPROC_ERROR domain, registered for D-Bus
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <gio/gio.h>

#include "mproc-error.h"

/* Every code has a D-Bus error name, so that an MPROC_ERROR returned by a
 * method handler (g_dbus_method_invocation_return_gerror()) reaches a GDBus
 * client as the same domain and code: a pool's WORKER_DIED stays
 * WORKER_DIED across the bus, whatever the connection. */
static const GDBusErrorEntry mproc_dbus_error_entries[] = {
  { MPROC_ERROR_FAILED, "org.gnome.Mproc.Error.Failed" },
  { MPROC_ERROR_UNKNOWN_TARGET, "org.gnome.Mproc.Error.UnknownTarget" },
  { MPROC_ERROR_START_METHOD_UNAVAILABLE, "org.gnome.Mproc.Error.StartMethodUnavailable" },
  { MPROC_ERROR_INVALID_MESSAGE, "org.gnome.Mproc.Error.InvalidMessage" },
  { MPROC_ERROR_BROKEN, "org.gnome.Mproc.Error.Broken" },
  { MPROC_ERROR_TIMED_OUT, "org.gnome.Mproc.Error.TimedOut" },
  { MPROC_ERROR_STILL_RUNNING, "org.gnome.Mproc.Error.StillRunning" },
  { MPROC_ERROR_CLOSED, "org.gnome.Mproc.Error.Closed" },
  { MPROC_ERROR_FULL, "org.gnome.Mproc.Error.Full" },
  { MPROC_ERROR_EMPTY, "org.gnome.Mproc.Error.Empty" },
  { MPROC_ERROR_OWNER_DIED, "org.gnome.Mproc.Error.OwnerDied" },
  { MPROC_ERROR_NOT_OWNER, "org.gnome.Mproc.Error.NotOwner" },
  { MPROC_ERROR_TOO_MANY_RELEASES, "org.gnome.Mproc.Error.TooManyReleases" },
  { MPROC_ERROR_BROKEN_BARRIER, "org.gnome.Mproc.Error.BrokenBarrier" },
  { MPROC_ERROR_WORKER_DIED, "org.gnome.Mproc.Error.WorkerDied" },
  { MPROC_ERROR_NOT_FOUND, "org.gnome.Mproc.Error.NotFound" },
  { MPROC_ERROR_ACCESS_DENIED, "org.gnome.Mproc.Error.AccessDenied" },
  { MPROC_ERROR_INVALID_STATE, "org.gnome.Mproc.Error.InvalidState" },
};

/* A new code needs its D-Bus name above. */
G_STATIC_ASSERT (G_N_ELEMENTS (mproc_dbus_error_entries) == MPROC_ERROR_INVALID_STATE + 1);

/**
 * mproc_error_quark:
 *
 * Gets the error domain of mproc-glib's errors; C code uses %MPROC_ERROR
 * instead.  The domain is registered with
 * g_dbus_error_register_error_domain(): every code has a D-Bus error name
 * `org.gnome.Mproc.Error.*` (for instance
 * `org.gnome.Mproc.Error.WorkerDied`), so that an error of this domain
 * returned over any #GDBusConnection arrives as the same domain and code.
 * Strip the remote prefix of its message with
 * g_dbus_error_strip_remote_error() before showing it.
 *
 * Returns: the quark of the domain
 *
 * Since: 0.1
 * Stability: Unstable
 */
GQuark
mproc_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("mproc-error-quark", &quark,
                                      mproc_dbus_error_entries,
                                      G_N_ELEMENTS (mproc_dbus_error_entries));
  return (GQuark) quark;
}
