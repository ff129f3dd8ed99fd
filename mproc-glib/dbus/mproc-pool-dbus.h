/* mproc-pool-dbus.h: a pool exported on a D-Bus connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-pool.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

/**
 * MPROC_POOL_DBUS_INTERFACE:
 *
 * The name of the D-Bus interface of an exported pool, described in
 * `$datadir/dbus-1/interfaces/org.gnome.Mproc.Pool1.xml`.
 *
 * Since: 0.1
 * Stability: Unstable
 */
#define MPROC_POOL_DBUS_INTERFACE "org.gnome.Mproc.Pool1"

/**
 * MPROC_POOL_EXPORT_DEFAULT_MAX_QUEUED:
 *
 * How many tasks one caller may have queued on an exported pool by
 * default (an item of a map counts as one).
 *
 * Since: 0.1
 * Stability: Unstable
 */
#define MPROC_POOL_EXPORT_DEFAULT_MAX_QUEUED 1000000

/**
 * MPROC_POOL_EXPORT_DEFAULT_MAX_MESSAGE_SIZE:
 *
 * The largest call an exported pool takes by default, in bytes (the
 * arguments of the call, or the memory of a `MapFd` call).
 *
 * Since: 0.1
 * Stability: Unstable
 */
#define MPROC_POOL_EXPORT_DEFAULT_MAX_MESSAGE_SIZE (64 * 1024 * 1024)

MPROC_AVAILABLE_IN_ALL
GError  *mproc_dbus_error_decode       (const GError     *error);

MPROC_AVAILABLE_IN_1_0
guint    mproc_pool_export             (MprocPool        *self,
                                        GDBusConnection  *connection,
                                        const char       *object_path,
                                        GError          **error);
MPROC_AVAILABLE_IN_1_0
void     mproc_pool_unexport           (MprocPool        *self,
                                        guint             export_id);
MPROC_AVAILABLE_IN_1_0
void     mproc_pool_set_export_limits  (MprocPool        *self,
                                        guint             export_id,
                                        guint             max_queued_per_caller,
                                        guint64           max_message_size);

G_END_DECLS
