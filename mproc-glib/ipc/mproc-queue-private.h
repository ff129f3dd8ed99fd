/* mproc-queue-private.h: what JoinableQueue, pipes and tests need of queues
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "mproc-queue.h"
#include "mproc-ring-private.h"
#include "mproc-simple-queue.h"
#include "mproc-connection.h"

G_BEGIN_DECLS

/* The ring of @self, or NULL (with @error set) once it is closed. */
MprocRing *mproc_queue_get_ring (MprocQueue  *self,
                                 GError     **error);

/* Shared by the queue types: a memfd holding one ring, its eventfd, and
 * the spill file of messages too large for the ring. */
typedef struct
{
  MprocShm  *shm;
  int        event_fd;
  int        spill_fd;
  MprocRing *ring;
} MprocQueueStore;

gboolean   mproc_queue_store_init        (MprocQueueStore *store,
                                          guint            maxsize,
                                          gsize            capacity,
                                          MprocRingFlags   flags,
                                          GError         **error);
gboolean   mproc_queue_store_init_handle (MprocQueueStore *store,
                                          GVariant        *handle,
                                          GArray          *fds,
                                          GError         **error);
GVariant  *mproc_queue_store_serialize   (MprocQueueStore *store,
                                          GArray          *fds,
                                          GError         **error);
void       mproc_queue_store_clear       (MprocQueueStore *store);
void       mproc_queue_set_error_closed  (GError         **error);

MprocRing *mproc_simple_queue_get_ring   (MprocSimpleQueue *self);
MprocRing *mproc_connection_get_in_ring  (MprocConnection  *self,
                                          int              *sock);

G_END_DECLS
