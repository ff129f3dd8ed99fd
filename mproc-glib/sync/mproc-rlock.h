/* mproc-rlock.h: a robust recursive lock shared between processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-lock.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_RLOCK (mproc_rlock_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocRLock, mproc_rlock, MPROC, RLOCK, MprocLock)

MPROC_AVAILABLE_IN_1_0
MprocRLock *mproc_rlock_new (GError **error) G_GNUC_WARN_UNUSED_RESULT;

/**
 * MPROC_RLOCK_AUTO_LOCK:
 * @rlock: an #MprocRLock
 * @var: a name for the locker variable
 *
 * %MPROC_LOCK_AUTO_LOCK for an #MprocRLock, without the cast.
 *
 * Since: 0.1
 * Stability: Unstable
 */
#define MPROC_RLOCK_AUTO_LOCK(rlock, var) MPROC_LOCK_AUTO_LOCK (MPROC_LOCK (rlock), var)

G_END_DECLS
