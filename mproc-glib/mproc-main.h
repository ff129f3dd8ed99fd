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

MPROC_AVAILABLE_IN_1_0
void          mproc_init             (int             *argc,
                                      char          ***argv);
MPROC_AVAILABLE_IN_1_0
void          mproc_register_target  (const char      *name,
                                      MprocTargetFunc  func,
                                      gpointer         user_data,
                                      GDestroyNotify   destroy);
MPROC_AVAILABLE_IN_1_0
void          mproc_shutdown         (void);
MPROC_AVAILABLE_IN_1_0
MprocProcess *mproc_current_process  (void);
MPROC_AVAILABLE_IN_1_0
MprocProcess *mproc_parent_process   (void);
MPROC_AVAILABLE_IN_1_0
GList        *mproc_active_children  (void);
MPROC_AVAILABLE_IN_1_0
guint         mproc_cpu_count        (void);

G_END_DECLS
