/* mproc-connection.c: the two ends of a pipe between processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <glib-unix.h>

#include "mproc-connection.h"
#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-initable-private.h"
#include "mproc-queue-private.h"
#include "mproc-shareable-private.h"
#include "mproc-wire-private.h"

/**
 * MprocConnection:
 *
 * One end of a pipe made by [func@Mproc.pipe_new], like Python's
 * `multiprocessing.connection.Connection`. Values (#GVariant) and byte
 * messages (#GBytes) go through a ring in shared memory per direction,
 * with a brief spin before sleeping, so a round trip between two busy
 * processes costs no system call; a Unix socket pair beside the rings
 * carries file descriptors ([method@Mproc.Connection.send_with_fds]) and tells
 * each end when the other is gone.
 *
 * When every copy of the other end is closed ([method@Mproc.Connection.close],
 * the last reference, or the exit of the processes that had it), a
 * receive that finds nothing left fails with %MPROC_ERROR_BROKEN (Python's
 * `EOFError`) instead of waiting forever. A send only notices a vanished
 * peer once the ring is full.
 *
 * Pass an end to a child with [method@Mproc.Process.add_object]. As in Python, one
 * end should be used by one process at a time in each direction; it stays
 * consistent (each direction has locks) if more do.
 *
 * ## Construction
 *
 * `g_object_new (MPROC_TYPE_CONNECTION, "duplex", FALSE, NULL)` (GJS's
 * `new Mproc.Connection()`, Python's `GObject.new()` or a subclass) makes
 * a new pipe, in [method@Gio.Initable.init] or on first use: the object is
 * its first end, and [method@Mproc.Connection.take_peer] gives the second.
 *
 * ## Thread safety
 *
 * Every method may be called from any thread; async methods complete in
 * the caller's thread-default main context. A pending async operation keeps
 * its end open until it completes: cancel it before relying on the close.
 *
 * Since: 0.1
 * Stability: Unstable
 */

#define PIPE_CAPACITY (256 * 1024)

struct _MprocConnection
{
  GObject          parent_instance;
  MprocInitOnce    once;
  MprocConnection *peer;   /* the other end made by init, until taken */
  MprocShm  *shm;
  int        event_fd;
  int        sock;
  MprocRing *in_ring;    /* NULL if not readable */
  MprocRing *out_ring;   /* NULL if not writable */
  guint      end;
  gboolean   duplex;
  gboolean   closed;
};

enum {
  PROP_0,
  PROP_DUPLEX,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mproc_connection_initable_init (GInitableIface *iface);
static void mproc_connection_shareable_init (MprocShareableInterface *iface);

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE_WITH_CODE (MprocConnection, mproc_connection, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_connection_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE,
                                                mproc_connection_shareable_init))

#define READY(self, error) \
  (MPROC_INIT_ONCE_READY (&(self)->once) || mproc_init_once_ensure (&(self)->once, G_INITABLE (self), (error)))

static void
connection_release (MprocConnection *self)
{
  g_clear_pointer (&self->in_ring, mproc_ring_free);
  g_clear_pointer (&self->out_ring, mproc_ring_free);
  g_clear_pointer (&self->shm, mproc_shm_unref);
  mproc_clear_fd (&self->event_fd);
  mproc_clear_fd (&self->sock);
}

static void
mproc_connection_finalize (GObject *object)
{
  MprocConnection *self = MPROC_CONNECTION (object);

  g_clear_object (&self->peer);
  connection_release (self);
  mproc_init_once_clear (&self->once);
  G_OBJECT_CLASS (mproc_connection_parent_class)->finalize (object);
}

static void
mproc_connection_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_DUPLEX:
      g_value_set_boolean (value, MPROC_CONNECTION (object)->duplex);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_connection_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_DUPLEX:
      MPROC_CONNECTION (object)->duplex = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_connection_class_init (MprocConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_connection_finalize;
  object_class->get_property = mproc_connection_get_property;
  object_class->set_property = mproc_connection_set_property;

  /**
   * MprocConnection:duplex:
   *
   * Whether both ends send and receive. A one-way end made alone
   * receives, and its peer ([method@Mproc.Connection.take_peer]) sends.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_DUPLEX] =
    g_param_spec_boolean ("duplex", NULL, NULL,
                          TRUE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_connection_init (MprocConnection *self)
{
  self->event_fd = -1;
  self->sock = -1;
  self->duplex = TRUE;
}

/* Ring 0 carries end 0 → end 1 (duplex) or writer → reader (simplex);
 * ring 1 carries end 1 → end 0. In a simplex pipe end 0 reads. */
static gboolean
connection_attach (MprocConnection  *self,
                   GError          **error)
{
  gsize second = mproc_ring_shm_size (PIPE_CAPACITY);

  if (self->duplex)
    {
      self->out_ring = mproc_ring_new (self->shm, self->end == 0 ? 0 : second, self->event_fd, error);
      if (self->out_ring == NULL)
        return FALSE;
      self->in_ring = mproc_ring_new (self->shm, self->end == 0 ? second : 0, self->event_fd, error);
      return self->in_ring != NULL;
    }
  if (self->end == 0)
    self->in_ring = mproc_ring_new (self->shm, 0, self->event_fd, error);
  else
    self->out_ring = mproc_ring_new (self->shm, 0, self->event_fd, error);
  return self->in_ring != NULL || self->out_ring != NULL;
}

static GVariant *
mproc_connection_serialize (MprocShareable *shareable,
                            GArray         *fds,
                            GError        **error)
{
  MprocConnection *self = MPROC_CONNECTION (shareable);
  int dups[3] = { -1, -1, -1 };
  int src[3];

  if (!READY (self, error))
    return NULL;
  if (self->closed)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED, _("The connection is closed"));
      return NULL;
    }
  src[0] = mproc_shm_get_fd (self->shm);
  src[1] = self->event_fd;
  src[2] = self->sock;
  for (guint i = 0; i < 3; i++)
    {
      dups[i] = fcntl (src[i], F_DUPFD_CLOEXEC, 3);
      if (dups[i] < 0)
        {
          int errsv = errno;

          for (guint j = 0; j < i; j++)
            mproc_clear_fd (&dups[j]);
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
          return NULL;
        }
    }
  g_array_append_vals (fds, dups, 3);
  return g_variant_new ("(hhhub)", fds->len - 3, fds->len - 2, fds->len - 1,
                        self->end, self->duplex);
}

static gboolean
mproc_connection_attach (MprocShareable  *shareable,
                         GVariant        *handle,
                         GArray          *fds,
                         GError         **error)
{
  MprocConnection *self = MPROC_CONNECTION (shareable);
  GVariant *h[3] = { NULL, };
  gboolean ret = FALSE;
  int shm_fd;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("(hhhub)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      return FALSE;
    }

  for (guint i = 0; i < 3; i++)
    h[i] = g_variant_get_child_value (handle, i);
  g_variant_get_child (handle, 3, "u", &self->end);
  g_variant_get_child (handle, 4, "b", &self->duplex);
  if (self->end > 1)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      goto out;
    }

  shm_fd = mproc_shareable_steal_fd (fds, h[0], error);
  if (shm_fd < 0)
    goto out;
  self->shm = mproc_shm_new_from_fd (shm_fd, mproc_ring_shm_size (PIPE_CAPACITY) * (self->duplex ? 2 : 1),
                                     error);
  if (self->shm == NULL)
    goto out;
  self->event_fd = mproc_shareable_steal_fd (fds, h[1], error);
  if (self->event_fd < 0)
    goto out;
  self->sock = mproc_shareable_steal_fd (fds, h[2], error);
  if (self->sock < 0)
    goto out;
  if (!connection_attach (self, error))
    goto out;

  mproc_init_once_mark_done (&self->once);
  ret = TRUE;

out:
  for (guint i = 0; i < 3; i++)
    g_clear_pointer (&h[i], g_variant_unref);
  return ret;
}

static void
mproc_connection_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_connection_serialize;
  iface->attach = mproc_connection_attach;
}

/* A new pipe: @self is end 0 (the receiving end of a one-way pipe) and
 * keeps end 1, of the same class, until it is taken. */
static gboolean
connection_init_pipe (GInitable     *initable,
                      GCancellable  *cancellable,
                      GError       **error)
{
  MprocConnection *a = MPROC_CONNECTION (initable);
  g_autoptr(MprocConnection) b = NULL;
  g_autoptr(MprocShm) shm = NULL;
  gboolean duplex = a->duplex;
  gsize ring_size = mproc_ring_shm_size (PIPE_CAPACITY);
  int sv[2];
  int event_fd;

  shm = mproc_shm_new (ring_size * (duplex ? 2 : 1), "mproc-pipe", error);
  if (shm == NULL)
    return FALSE;
  mproc_ring_init_shared (shm, 0, PIPE_CAPACITY, 0, 0);
  if (duplex)
    mproc_ring_init_shared (shm, ring_size, PIPE_CAPACITY, 0, 0);

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to create a socket pair: %s"), g_strerror (errsv));
      return FALSE;
    }
  event_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event_fd < 0)
    {
      int errsv = errno;

      close (sv[0]);
      close (sv[1]);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to create event file descriptor: %s"), g_strerror (errsv));
      return FALSE;
    }

  b = g_object_new (G_OBJECT_TYPE (a), "duplex", duplex, NULL);
  a->shm = mproc_shm_ref (shm);
  b->shm = mproc_shm_ref (shm);
  a->sock = sv[0];
  b->sock = sv[1];
  a->event_fd = event_fd;
  b->event_fd = fcntl (event_fd, F_DUPFD_CLOEXEC, 3);
  a->end = 0;
  b->end = 1;
  mproc_init_once_mark_done (&b->once);
  if (b->event_fd < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
      return FALSE;
    }
  if (!connection_attach (a, error) || !connection_attach (b, error))
    return FALSE;

  a->peer = g_steal_pointer (&b);
  return TRUE;
}

static gboolean
mproc_connection_initable_init_impl (GInitable     *initable,
                                     GCancellable  *cancellable,
                                     GError       **error)
{
  return mproc_init_once_run (&MPROC_CONNECTION (initable)->once, initable, connection_init_pipe,
                              cancellable, error);
}

static void
mproc_connection_initable_init (GInitableIface *iface)
{
  iface->init = mproc_connection_initable_init_impl;
}

/**
 * mproc_pipe_new:
 * @duplex: %TRUE for a two-way pipe; %FALSE for a one-way pipe where
 *   @conn1 can only receive and @conn2 only send (Python's `Pipe(False)`)
 * @conn1: (out) (transfer full): the first end
 * @conn2: (out) (transfer full): the second end
 * @error: return location for a #GError
 *
 * Creates a pipe: two connected #MprocConnection ends, like Python's
 * `multiprocessing.Pipe()`. Give one end to a child process and keep the
 * other; close the end you gave away in the parent, so that the child's exit
 * is seen as end-of-file.
 *
 * Returns: (skip): %TRUE on success, else %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_pipe_new (gboolean           duplex,
                MprocConnection  **conn1,
                MprocConnection  **conn2,
                GError           **error)
{
  MprocConnection *a;

  g_return_val_if_fail (conn1 != NULL && conn2 != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  a = g_initable_new (MPROC_TYPE_CONNECTION, NULL, error, "duplex", duplex, NULL);
  if (a == NULL)
    return FALSE;
  *conn2 = g_steal_pointer (&a->peer);
  *conn1 = a;
  return TRUE;
}

/**
 * mproc_connection_take_peer:
 * @self: a #MprocConnection
 *
 * Takes the other end of the pipe that @self made when it was constructed
 * on its own (`g_object_new (MPROC_TYPE_CONNECTION, "duplex", FALSE,
 * NULL)`, GJS's `new Mproc.Connection()`): the two ends of
 * [func@Mproc.pipe_new], of the same class. @self gives it up: the first
 * call returns it, later ones %NULL, as do ends made by
 * [func@Mproc.pipe_new] or received from another process.
 *
 * Returns: (transfer full) (nullable): the other end, or %NULL
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocConnection *
mproc_connection_take_peer (MprocConnection *self)
{
  g_return_val_if_fail (MPROC_IS_CONNECTION (self), NULL);

  if (!READY (self, NULL))
    return NULL;
  return g_steal_pointer (&self->peer);
}

/**
 * mproc_connection_get_readable:
 * @self: a #MprocConnection
 *
 * Tells whether this end of the pipe was made to receive.
 *
 * Returns: whether this end can receive
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_connection_get_readable (MprocConnection *self)
{
  g_return_val_if_fail (MPROC_IS_CONNECTION (self), FALSE);
  if (!READY (self, NULL))
    return FALSE;
  return self->in_ring != NULL;
}

/**
 * mproc_connection_get_writable:
 * @self: a #MprocConnection
 *
 * Tells whether this end of the pipe was made to send.
 *
 * Returns: whether this end can send
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_connection_get_writable (MprocConnection *self)
{
  g_return_val_if_fail (MPROC_IS_CONNECTION (self), FALSE);
  if (!READY (self, NULL))
    return FALSE;
  return self->out_ring != NULL;
}

static MprocRing *
check_ring (MprocConnection  *self,
            gboolean          out,
            GError          **error)
{
  MprocRing *ring;

  if (self->closed)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED, _("The connection is closed"));
      return NULL;
    }
  /* Made with g_object_new() alone (a binding's `new`): make the pipe now. */
  if (!READY (self, error))
    return NULL;
  ring = out ? self->out_ring : self->in_ring;
  if (ring == NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           out ? _("The connection is read-only") : _("The connection is write-only"));
      return NULL;
    }
  return ring;
}

/**
 * mproc_connection_send_with_fds:
 * @self: a #MprocConnection
 * @value: the value to send; a floating reference is sunk
 * @fd_list: (nullable): file descriptors to send along, or %NULL
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @value, and with it duplicates of the fds in @fd_list (they travel
 * over the connection's socket, in order with the values). Waits only
 * while the ring of this direction is full; blocks the calling thread then.
 *
 * Returns: %TRUE once sent; %FALSE with @error set (%MPROC_ERROR_BROKEN if
 *   the other end is gone while the ring is full, %MPROC_ERROR_CLOSED,
 *   %G_IO_ERROR_CANCELLED)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_connection_send_with_fds (MprocConnection  *self,
                                GVariant         *value,
                                GUnixFDList      *fd_list,
                                GCancellable     *cancellable,
                                GError          **error)
{
  g_autoptr(GVariant) sunk = NULL;
  MprocRing *ring;
  const int *fds = NULL;
  int n_fds = 0;

  g_return_val_if_fail (MPROC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (fd_list == NULL || G_IS_UNIX_FD_LIST (fd_list), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sunk = g_variant_ref_sink (value);
  ring = check_ring (self, TRUE, error);
  if (ring == NULL)
    return FALSE;
  if (fd_list != NULL)
    fds = g_unix_fd_list_peek_fds (fd_list, &n_fds);
  if (n_fds > MPROC_WIRE_MAX_FDS)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Too many file descriptors in one message (at most %d)"), MPROC_WIRE_MAX_FDS);
      return FALSE;
    }
  return mproc_ring_put (ring, sunk, NULL, self->sock, fds, n_fds, -1, cancellable, error);
}

/**
 * mproc_connection_send:
 * @self: a #MprocConnection
 * @value: the value to send; a floating reference is sunk
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @value (of any type) to the other end. See
 * [method@Mproc.Connection.send_with_fds].
 *
 * Returns: %TRUE once sent, else %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_connection_send (MprocConnection  *self,
                       GVariant         *value,
                       GCancellable     *cancellable,
                       GError          **error)
{
  return mproc_connection_send_with_fds (self, value, NULL, cancellable, error);
}

/**
 * mproc_connection_send_async:
 * @self: a #MprocConnection
 * @value: the value to send; a floating reference is sunk
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when sent or failed
 * @user_data: data for @callback
 *
 * Sends @value without blocking the calling thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_connection_send_async (MprocConnection     *self,
                             GVariant            *value,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GVariant) sunk = NULL;
  g_autoptr(GError) error = NULL;
  MprocRing *ring;

  g_return_if_fail (MPROC_IS_CONNECTION (self));
  g_return_if_fail (value != NULL);

  sunk = g_variant_ref_sink (value);
  ring = check_ring (self, TRUE, &error);
  if (ring == NULL)
    {
      g_task_report_error (self, callback, user_data, mproc_ring_put_async, g_steal_pointer (&error));
      return;
    }
  mproc_ring_put_async (ring, self, sunk, NULL, self->sock, NULL, 0, -1, cancellable, callback, user_data);
}

/**
 * mproc_connection_send_finish:
 * @self: a #MprocConnection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes an operation started with [method@Mproc.Connection.send_async].
 *
 * Returns: %TRUE if sent, else %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_connection_send_finish (MprocConnection  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_return_val_if_fail (MPROC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return mproc_ring_put_finish (result, error);
}

/**
 * mproc_connection_send_bytes:
 * @self: a #MprocConnection
 * @bytes: the data
 * @offset: where the message starts in @bytes
 * @size: how many bytes to send, or -1 for the rest of @bytes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends a byte message, received whole by [method@Mproc.Connection.recv_bytes]
 * (Python's `send_bytes()`). An @offset or @size that reaches outside
 * @bytes fails with %G_IO_ERROR_INVALID_ARGUMENT (Python's `ValueError`).
 *
 * Returns: %TRUE once sent, else %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_connection_send_bytes (MprocConnection  *self,
                             GBytes           *bytes,
                             gsize             offset,
                             gssize            size,
                             GCancellable     *cancellable,
                             GError          **error)
{
  g_autoptr(GBytes) slice = NULL;
  MprocRing *ring;
  gsize total;

  g_return_val_if_fail (MPROC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (bytes != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  total = g_bytes_get_size (bytes);
  if (offset > total || size < -1 || (size >= 0 && (gsize) size > total - offset))
    {
      /* plain C formats: gettext does not expand GLib's format macros */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Cannot send %ld bytes at offset %lu of a buffer of %lu bytes on a connection"),
                   (long) size, (unsigned long) offset, (unsigned long) total);
      return FALSE;
    }

  ring = check_ring (self, TRUE, error);
  if (ring == NULL)
    return FALSE;
  if (offset == 0 && (size < 0 || (gsize) size == total))
    slice = g_bytes_ref (bytes);
  else
    slice = g_bytes_new_from_bytes (bytes, offset, size < 0 ? total - offset : (gsize) size);
  return mproc_ring_put (ring, NULL, slice, self->sock, NULL, 0, -1, cancellable, error);
}

/**
 * mproc_connection_recv_bytes:
 * @self: a #MprocConnection
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Receives the next message as bytes (Python's `recv_bytes()`). Blocks the
 * calling thread until one arrives.
 *
 * Returns: (transfer full): the message, or %NULL with @error set:
 *   %MPROC_ERROR_BROKEN when the other end is closed and nothing is left
 *
 * Since: 0.1
 * Stability: Unstable
 */
GBytes *
mproc_connection_recv_bytes (MprocConnection  *self,
                             GCancellable     *cancellable,
                             GError          **error)
{
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ring = check_ring (self, FALSE, error);
  if (ring == NULL)
    return NULL;
  return mproc_ring_get (ring, self->sock, NULL, -1, cancellable, error);
}

/**
 * mproc_connection_recv_with_fds:
 * @self: a #MprocConnection
 * @out_fd_list: (out) (optional) (transfer full) (nullable): where to store
 *   the file descriptors that came with the value, or %NULL to close them
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Receives the next value and the fds sent with it. Blocks the calling
 * thread until one arrives.
 *
 * Returns: (transfer full): the value, or %NULL with @error set:
 *   %MPROC_ERROR_BROKEN when the other end is closed and nothing is left,
 *   %MPROC_ERROR_INVALID_MESSAGE when the bytes are not a valid value
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_connection_recv_with_fds (MprocConnection  *self,
                                GUnixFDList     **out_fd_list,
                                GCancellable     *cancellable,
                                GError          **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GArray) fds = NULL;
  GVariant *value;
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (out_fd_list != NULL)
    *out_fd_list = NULL;
  ring = check_ring (self, FALSE, error);
  if (ring == NULL)
    return NULL;
  fds = mproc_fd_array_new ();
  bytes = mproc_ring_get (ring, self->sock, fds, -1, cancellable, error);
  if (bytes == NULL)
    return NULL;
  value = mproc_wire_decode (bytes, error);
  if (value != NULL && out_fd_list != NULL)
    {
      *out_fd_list = g_unix_fd_list_new_from_array ((const int *) fds->data, fds->len);
      for (guint i = 0; i < fds->len; i++)
        g_array_index (fds, int, i) = -1;   /* now owned by the list */
    }
  return value;
}

/**
 * mproc_connection_recv:
 * @self: a #MprocConnection
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Receives the next value (Python's `recv()`); fds sent with it are closed.
 * Blocks the calling thread until one arrives.
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_connection_recv (MprocConnection  *self,
                       GCancellable     *cancellable,
                       GError          **error)
{
  return mproc_connection_recv_with_fds (self, NULL, cancellable, error);
}

/**
 * mproc_connection_recv_async:
 * @self: a #MprocConnection
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when a value arrives
 *   or the receive fails
 * @user_data: data for @callback
 *
 * Receives the next value without blocking the calling thread and without a
 * thread; call [method@Mproc.Connection.recv_finish] from @callback.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_connection_recv_async (MprocConnection     *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  mproc_connection_recv_bytes_async (self, cancellable, callback, user_data);
}

/**
 * mproc_connection_recv_finish:
 * @self: a #MprocConnection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes an operation started with [method@Mproc.Connection.recv_async].
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_connection_recv_finish (MprocConnection  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_autoptr(GBytes) bytes = mproc_connection_recv_bytes_finish (self, result, error);

  return bytes != NULL ? mproc_wire_decode (bytes, error) : NULL;
}

/**
 * mproc_connection_recv_bytes_async:
 * @self: a #MprocConnection
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when a message
 *   arrives or the receive fails
 * @user_data: data for @callback
 *
 * Receives the next message as bytes without blocking the calling thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_connection_recv_bytes_async (MprocConnection     *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GError) error = NULL;
  MprocRing *ring;

  g_return_if_fail (MPROC_IS_CONNECTION (self));

  ring = check_ring (self, FALSE, &error);
  if (ring == NULL)
    {
      g_task_report_error (self, callback, user_data, mproc_ring_get_async, g_steal_pointer (&error));
      return;
    }
  mproc_ring_get_async (ring, self, self->sock, FALSE, -1, cancellable, callback, user_data);
}

/**
 * mproc_connection_recv_bytes_finish:
 * @self: a #MprocConnection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes an operation started with
 * [method@Mproc.Connection.recv_bytes_async].
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GBytes *
mproc_connection_recv_bytes_finish (MprocConnection  *self,
                                    GAsyncResult     *result,
                                    GError          **error)
{
  g_return_val_if_fail (MPROC_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return mproc_ring_get_finish (result, NULL, error);
}

/**
 * mproc_connection_poll:
 * @self: a #MprocConnection
 * @timeout_usec: how long to wait in microseconds, -1 forever, 0 not at all
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits until there is something to receive, or the other end is gone (a
 * receive would then fail at once), like Python's `poll()`.
 *
 * Returns: %TRUE when a receive would not block; %FALSE with @error set:
 *   %MPROC_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED, %MPROC_ERROR_CLOSED
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_connection_poll (MprocConnection  *self,
                       gint64            timeout_usec,
                       GCancellable     *cancellable,
                       GError          **error)
{
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ring = check_ring (self, FALSE, error);
  if (ring == NULL)
    return FALSE;
  return mproc_ring_poll (ring, self->sock, timeout_usec, cancellable, error);
}

/**
 * mproc_connection_poll_async:
 * @self: a #MprocConnection
 * @timeout_usec: how long to wait in microseconds, -1 forever
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when a receive would
 *   not block, or the wait failed
 * @user_data: data for @callback
 *
 * Waits like [method@Mproc.Connection.poll] without blocking the calling thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_connection_poll_async (MprocConnection     *self,
                             gint64               timeout_usec,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GError) error = NULL;
  MprocRing *ring;

  g_return_if_fail (MPROC_IS_CONNECTION (self));

  ring = check_ring (self, FALSE, &error);
  if (ring == NULL)
    {
      g_task_report_error (self, callback, user_data, mproc_ring_poll_async, g_steal_pointer (&error));
      return;
    }
  mproc_ring_poll_async (ring, self, self->sock, timeout_usec, cancellable, callback, user_data);
}

/**
 * mproc_connection_poll_finish:
 * @self: a #MprocConnection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes an operation started with [method@Mproc.Connection.poll_async].
 *
 * Returns: %TRUE when a receive would not block, else %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_connection_poll_finish (MprocConnection  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_return_val_if_fail (MPROC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return mproc_ring_poll_finish (result, error);
}

/**
 * mproc_connection_close:
 * @self: a #MprocConnection
 *
 * Closes this process's copy of the end: later calls fail with
 * %MPROC_ERROR_CLOSED, and once every copy of this end is closed, the other
 * end's receives report end-of-file (%MPROC_ERROR_BROKEN).
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_connection_close (MprocConnection *self)
{
  g_return_if_fail (MPROC_IS_CONNECTION (self));

  self->closed = TRUE;
  mproc_clear_fd (&self->sock);
}

/**
 * mproc_connection_is_closed:
 * @self: a #MprocConnection
 *
 * Tells whether this end was closed in this process.
 *
 * Returns: whether [method@Mproc.Connection.close] was called
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_connection_is_closed (MprocConnection *self)
{
  g_return_val_if_fail (MPROC_IS_CONNECTION (self), TRUE);
  return self->closed;
}

/* The ring this end receives on and its socket (wait() in
 * mproc-connection-wait.c), or NULL if it is closed. */
MprocRing *
mproc_connection_get_in_ring (MprocConnection *self,
                              int             *sock)
{
  *sock = -1;
  if (!READY (self, NULL))
    return NULL;
  *sock = self->sock;
  return self->closed ? NULL : self->in_ring;
}
