/* test-channel.c: the test object that proves the transfer of shared objects
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One end of a socketpair: it crosses to a child by handing its fd (fork:
 * inherited; spawn and forkserver: described as an "h" handle and rebuilt).
 */

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mproc-fd-private.h"
#include "mproc-shareable-private.h"
#include "mproc-wire-private.h"
#include "test-channel.h"

struct _TestChannel
{
  GObject parent_instance;
  int     fd;
};

static void test_channel_shareable_init (MprocShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestChannel, test_channel, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, test_channel_shareable_init))

static void
test_channel_finalize (GObject *object)
{
  mproc_clear_fd (&TEST_CHANNEL (object)->fd);
  G_OBJECT_CLASS (test_channel_parent_class)->finalize (object);
}

static void
test_channel_class_init (TestChannelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_channel_finalize;
}

static void
test_channel_init (TestChannel *self)
{
  self->fd = -1;
}

static GVariant *
test_channel_serialize (MprocShareable *shareable,
                        GArray         *fds,
                        GError        **error)
{
  int fd = fcntl (TEST_CHANNEL (shareable)->fd, F_DUPFD_CLOEXEC, 3);

  g_array_append_val (fds, fd);
  return g_variant_new_handle (fds->len - 1);
}

static MprocShareable *
test_channel_deserialize (GVariant *handle,
                          GArray   *fds,
                          GError  **error)
{
  int fd = mproc_shareable_steal_fd (fds, handle, error);
  TestChannel *self;

  if (fd < 0)
    return NULL;
  self = g_object_new (TEST_TYPE_CHANNEL, NULL);
  self->fd = fd;
  return MPROC_SHAREABLE (self);
}

static void
test_channel_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = test_channel_serialize;
  iface->deserialize = test_channel_deserialize;
}

void
test_channel_new_pair (TestChannel **a,
                       TestChannel **b)
{
  int sv[2];

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  *a = g_object_new (TEST_TYPE_CHANNEL, NULL);
  *b = g_object_new (TEST_TYPE_CHANNEL, NULL);
  (*a)->fd = sv[0];
  (*b)->fd = sv[1];
}

gboolean
test_channel_send (TestChannel *self,
                   GVariant    *value,
                   GError     **error)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (value);

  return mproc_wire_send_value (self->fd, sunk, NULL, 0, NULL, error);
}

GVariant *
test_channel_recv (TestChannel *self,
                   gint64       timeout_usec,
                   GError     **error)
{
  gint64 deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;

  if (!mproc_fd_wait (self->fd, G_IO_IN, deadline, NULL, error))
    return NULL;
  return mproc_wire_recv_value (self->fd, NULL, 1 << 20, NULL, error);
}

int
test_channel_get_fd (TestChannel *self)
{
  return self->fd;
}
