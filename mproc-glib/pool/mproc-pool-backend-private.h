/* mproc-pool-backend-private.h: where a pool's chunks run
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A pool made by mproc_pool_new() runs its chunks on worker processes of
 * its own (the built-in backend: no table set).  Any other place to run
 * them is an entry of this table, set on the pool by whoever made it (the
 * Redis pool, redis/mproc-redis-pool.c).  The pool keeps doing what is the
 * same everywhere: calls, their chunks, the results put back together,
 * progress, iterators, cancellation, reporting from its main context.  The
 * backend takes the chunks of self->pending and, for each chunk it has
 * run, calls mproc_pool_call_chunk_done().
 */

#pragma once

#include <gio/gio.h>

#include "mproc-pool.h"

G_BEGIN_DECLS

typedef struct _MprocPoolBackend MprocPoolBackend;
typedef gboolean (*MprocPoolDone) (gpointer data);

struct _MprocPoolBackend
{
  const char *name;
  /* Takes the chunks of self->pending it can start now. */
  void      (*dispatch)       (MprocPool      *self);
  /* Blocks until @done (data) or @timeout_usec or @cancellable, serving
   * the running chunks meanwhile (without iterating a main context). */
  gboolean  (*wait)           (MprocPool      *self,
                               MprocPoolDone   done,
                               gpointer        data,
                               gint64          timeout_usec,
                               GCancellable   *cancellable,
                               GError        **error);
  /* Tells the running chunks of @call to stop (call->cancelled is set). */
  void      (*cancel_running) (MprocPool      *self,
                               gpointer        call);
  /* After terminate(): fails every chunk it holds. */
  void      (*terminate)      (MprocPool      *self);
  /* Whether chunks are still out (join waits until none is). */
  gboolean  (*is_busy)        (MprocPool      *self);
  /* From dispose: drops everything (the pool's calls are ended). */
  void      (*dispose)        (MprocPool      *self);
};

/* Makes @self, a pool not started, one of @backend's; @data is freed
 * with @destroy when the pool is finalized.  Starts its reporting. */
void       mproc_pool_set_backend  (MprocPool              *self,
                                    const MprocPoolBackend *backend,
                                    gpointer                data,
                                    GDestroyNotify          destroy);
gpointer   mproc_pool_get_backend_data (MprocPool          *self);

G_END_DECLS
