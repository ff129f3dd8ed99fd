/* mproc-main.h: program-wide entry points
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include "mproc-process.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

/**
 * MprocForkFunc:
 * @user_data: the data given to [func@Mproc.set_fork_func]
 *
 * Forks the calling process, as fork() does: see [func@Mproc.set_fork_func].
 *
 * Returns: the pid of the new child in the parent, 0 in the child, or -1
 *   (with `errno` set, if possible) when no child was made
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef GPid (*MprocForkFunc) (gpointer user_data);

MPROC_AVAILABLE_IN_1_0
void          mproc_init             (int             *argc,
                                      char          ***argv);
MPROC_AVAILABLE_IN_1_0
void          mproc_register_target  (const char      *name,
                                      MprocTargetFunc  func,
                                      gpointer         user_data,
                                      GDestroyNotify   destroy);
MPROC_AVAILABLE_IN_1_0
void          mproc_set_fork_func    (MprocForkFunc    func,
                                      gpointer         user_data,
                                      GDestroyNotify   destroy);
MPROC_AVAILABLE_IN_0_2
void          mproc_set_child_argv   (const char * const *argv);
MPROC_AVAILABLE_IN_1_0
void          mproc_shutdown         (void);
MPROC_AVAILABLE_IN_1_0
MprocProcess *mproc_current_process  (void);
MPROC_AVAILABLE_IN_1_0
MprocProcess *mproc_parent_process   (void);
MPROC_AVAILABLE_IN_1_0
GList        *mproc_active_children  (void) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
guint         mproc_cpu_count        (void);
MPROC_AVAILABLE_IN_0_2
void          mproc_set_max_message_size (gsize size);
MPROC_AVAILABLE_IN_0_2
gsize         mproc_get_max_message_size (void);

G_END_DECLS
