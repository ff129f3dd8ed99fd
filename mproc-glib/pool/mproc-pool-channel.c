/* mproc-pool-channel.c: the worker end of a pool's socket, handed to the worker
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-pool-private.h"
#include "mproc-shareable-private.h"

/* --- Channel ------------------------------------------------------------ */

struct _MprocPoolChannel
{
  GObject parent_instance;
  int     fd;
  int     peer_fd;     /* the pool's end: closed by a forked worker */
  int     cancel_fd;   /* read end of the pipe that names cancelled tasks */
  int     cancel_peer_fd; /* its write end, the pool's: as peer_fd */
};

static void mproc_pool_channel_shareable_init (MprocShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MprocPoolChannel, mproc_pool_channel, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE,
                                                      mproc_pool_channel_shareable_init))

static void
mproc_pool_channel_finalize (GObject *object)
{
  MprocPoolChannel *self = MPROC_POOL_CHANNEL (object);

  mproc_clear_fd (&self->fd);
  mproc_clear_fd (&self->cancel_fd);
  G_OBJECT_CLASS (mproc_pool_channel_parent_class)->finalize (object);
}

static void
mproc_pool_channel_class_init (MprocPoolChannelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mproc_pool_channel_finalize;
}

static void
mproc_pool_channel_init (MprocPoolChannel *self)
{
  self->fd = -1;
  self->peer_fd = -1;
  self->cancel_fd = -1;
  self->cancel_peer_fd = -1;
}

MprocPoolChannel *
mproc_pool_channel_new (int fd,
                        int peer_fd,
                        int cancel_fd,
                        int cancel_peer_fd)
{
  MprocPoolChannel *self = g_object_new (MPROC_TYPE_POOL_CHANNEL, NULL);

  self->fd = fd;
  self->peer_fd = peer_fd;
  self->cancel_fd = cancel_fd;
  self->cancel_peer_fd = cancel_peer_fd;
  return self;
}

int
mproc_pool_channel_get_cancel_fd (MprocPoolChannel *self)
{
  return self->cancel_fd;
}

int
mproc_pool_channel_get_fd (MprocPoolChannel *self)
{
  return self->fd;
}

void
mproc_pool_channel_close_fd (MprocPoolChannel *self)
{
  mproc_clear_fd (&self->fd);
  mproc_clear_fd (&self->cancel_fd);
  self->peer_fd = -1;
  self->cancel_peer_fd = -1;
}

/* In a forked worker: close the pool's end, which came along. */
void
mproc_pool_channel_close_peer_fd (MprocPoolChannel *self)
{
  if (self->peer_fd >= 0)
    mproc_clear_fd (&self->peer_fd);
  if (self->cancel_peer_fd >= 0)
    mproc_clear_fd (&self->cancel_peer_fd);
}

static GVariant *
mproc_pool_channel_serialize (MprocShareable  *shareable,
                              GArray          *fds,
                              GError         **error)
{
  MprocPoolChannel *self = MPROC_POOL_CHANNEL (shareable);
  int fd = fcntl (self->fd, F_DUPFD_CLOEXEC, 3);
  int cancel_fd = fd >= 0 ? fcntl (self->cancel_fd, F_DUPFD_CLOEXEC, 3) : -1;

  if (cancel_fd < 0)
    {
      int errsv = errno;
      mproc_clear_fd (&fd);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot hand a pool channel to a worker: %s"), g_strerror (errsv));
      return NULL;
    }
  g_array_append_val (fds, fd);
  g_array_append_val (fds, cancel_fd);
  return g_variant_new ("(hh)", fds->len - 2, fds->len - 1);
}

static MprocShareable *
mproc_pool_channel_deserialize (GVariant  *handle,
                                GArray    *fds,
                                GError   **error)
{
  g_autoptr(GVariant) fd_handle = NULL;
  g_autoptr(GVariant) cancel_handle = NULL;
  int fd, cancel_fd;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("(hh)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A pool worker received an invalid channel"));
      return NULL;
    }
  fd_handle = g_variant_get_child_value (handle, 0);
  cancel_handle = g_variant_get_child_value (handle, 1);
  fd = mproc_shareable_steal_fd (fds, fd_handle, error);
  if (fd < 0)
    return NULL;
  cancel_fd = mproc_shareable_steal_fd (fds, cancel_handle, error);
  if (cancel_fd < 0)
    {
      close (fd);
      return NULL;
    }
  return MPROC_SHAREABLE (mproc_pool_channel_new (fd, -1, cancel_fd, -1));
}

static void
mproc_pool_channel_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_pool_channel_serialize;
  iface->deserialize = mproc_pool_channel_deserialize;
}
