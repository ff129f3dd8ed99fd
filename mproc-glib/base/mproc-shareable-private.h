/* mproc-shareable-private.h: how a shared object crosses to another process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "mproc-shareable.h"

G_BEGIN_DECLS

/*
 * A class that implements MprocShareable describes an instance as a handle
 * (a GVariant of its choosing) plus file descriptors, and rebuilds an
 * instance from them in the other process. File descriptors are referred to
 * from the handle by their index in the shared @fds array ("h" values, as in
 * D-Bus), so one start message can carry many objects.
 *
 * Under the fork start method nothing is serialised: the child inherits the
 * objects' memory and fds.
 */
struct _MprocShareableInterface
{
  GTypeInterface parent_iface;

  /* Returns a (floating or full) handle; appends dup()ed fds to @fds. */
  GVariant       *(*serialize)   (MprocShareable *self,
                                  GArray         *fds,
                                  GError        **error);

  /* Class-level: builds a new instance from @handle. The fds it keeps are
   * taken out of @fds (their slots set to -1); the rest are closed by the
   * caller. */
  MprocShareable *(*deserialize) (GVariant       *handle,
                                  GArray         *fds,
                                  GError        **error);

  /* Instead of deserialize: connects @self, just made with g_object_new()
   * as an instance of the type that was sent (a binding's subclass, say),
   * to the state @handle describes; @self must then not allocate its own
   * in GInitable::init.  Takes fds as deserialize does. */
  gboolean        (*attach)      (MprocShareable *self,
                                  GVariant       *handle,
                                  GArray         *fds,
                                  GError        **error);
};

/* Makes sure @self has its shared state (runs GInitable::init, which
 * every shared class makes idempotent): an object made with
 * g_object_new() alone must have it before a fork() copies @self. */
gboolean        mproc_shareable_prepare     (MprocShareable *self,
                                             GError        **error);
GVariant       *mproc_shareable_serialize   (MprocShareable *self,
                                             GArray         *fds,
                                             GError        **error);
MprocShareable *mproc_shareable_deserialize (GVariant       *description,
                                             GArray         *fds,
                                             GError        **error);
int             mproc_shareable_steal_fd    (GArray         *fds,
                                             GVariant       *handle_value,
                                             GError        **error);
GType           mproc_type_from_name        (const char     *type_name);

/* The library's own private shareable types, which export no _get_type():
 * the list is defined on top of the layers (mproc-builtins.c). */
extern GType (* const mproc_builtin_private_types[]) (void);

G_END_DECLS
