/* mproc-shared-dbus.h: a manager's shared state exported on D-Bus
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-dict.h"
#include "mproc-namespace.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

MPROC_AVAILABLE_IN_1_0
guint mproc_shared_export_dict      (MprocDict        *dict,
                                     GDBusConnection  *connection,
                                     const char       *object_path,
                                     gboolean          writable,
                                     GCancellable     *cancellable,
                                     GError          **error);
MPROC_AVAILABLE_IN_1_0
guint mproc_shared_export_namespace (MprocNamespace   *ns,
                                     GDBusConnection  *connection,
                                     const char       *object_path,
                                     gboolean          writable,
                                     GCancellable     *cancellable,
                                     GError          **error);
MPROC_AVAILABLE_IN_1_0
void  mproc_shared_unexport         (guint             export_id);

G_END_DECLS
