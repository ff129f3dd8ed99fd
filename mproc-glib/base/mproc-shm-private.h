/* mproc-shm-private.h: a memfd-backed shared mapping that travels as an fd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An MprocShm is one memfd mapped MAP_SHARED in this process.  To hand it
 * to another process, dup mproc_shm_get_fd() and send it (SCM_RIGHTS or
 * inheritance); the receiver calls mproc_shm_new_from_fd().  The size is
 * sealed (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) at creation, and a
 * receiver refuses any memfd that could still shrink: otherwise a hostile
 * or buggy peer could ftruncate() it and make every access beyond the new
 * end raise SIGBUS in all the processes that map it.
 *
 * Thread safety: ref/unref are atomic; the getters read immutable fields.
 * The memory itself is shared by every process: synchronise on it with
 * atomics (and MprocWaitPoint to sleep).
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MprocShm MprocShm;

MprocShm *mproc_shm_new         (gsize         size,
                                 const char   *debug_name,
                                 GError      **error);
MprocShm *mproc_shm_new_from_fd (int           fd,
                                 gsize         expected_size,
                                 GError      **error);
MprocShm *mproc_shm_ref         (MprocShm     *shm);
void      mproc_shm_unref       (MprocShm     *shm);
gpointer  mproc_shm_get_data    (MprocShm     *shm);
gsize     mproc_shm_get_size    (MprocShm     *shm);
int       mproc_shm_get_fd      (MprocShm     *shm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MprocShm, mproc_shm_unref)

G_END_DECLS
