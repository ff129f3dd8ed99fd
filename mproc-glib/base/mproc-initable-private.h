/* mproc-initable-private.h: GInitable::init run once, when built or on first use
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every public class is complete after g_object_new() alone, because that
 * is how GJS's `new`, PyGObject's GObject.new() and Python subclasses make
 * objects, and none of them call g_initable_init().  So a class keeps an
 * MprocInitOnce: its _new() runs init through g_initable_new(), and its
 * methods run it on first use when nobody did.  Either way it runs once,
 * whatever the threads; a failure is remembered and reported again.  An
 * object rebuilt in another process around received shared memory is
 * marked done instead: it must not allocate memory of its own.
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  gsize   done;
  GError *error;
} MprocInitOnce;

typedef gboolean (*MprocInitFunc) (GInitable     *initable,
                                   GCancellable  *cancellable,
                                   GError       **error);

/* GInitable::init: runs @func the first time only. */
gboolean mproc_init_once_run       (MprocInitOnce  *once,
                                    GInitable      *initable,
                                    MprocInitFunc   func,
                                    GCancellable   *cancellable,
                                    GError        **error);
/* For methods: TRUE at once when init has run and succeeded; otherwise
 * runs g_initable_init().  With @error NULL a failure is logged, as the
 * caller (a method without a GError) has no other way to learn of it. */
gboolean mproc_init_once_ensure    (MprocInitOnce  *once,
                                    GInitable      *initable,
                                    GError        **error);
/* For _async methods: on failure returns the error through @task, drops
 * the caller's reference to it and returns FALSE. */
gboolean mproc_init_once_ensure_task (MprocInitOnce  *once,
                                      GInitable      *initable,
                                      GTask          *task);
/* For an object rebuilt around received state, before anyone else sees it. */
void     mproc_init_once_mark_done (MprocInitOnce  *once);
void     mproc_init_once_clear     (MprocInitOnce  *once);

#define MPROC_INIT_ONCE_READY(once) \
  (G_LIKELY (g_atomic_pointer_get (&(once)->done) != 0 && (once)->error == NULL))

G_END_DECLS
