/* mproc-wire.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <glib-unix.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-wire-private.h"

#define WIRE_MAGIC 0x4d505243u  /* "MPRC" */

typedef struct
{
  guint32 magic;
  guint32 n_fds;
  guint64 size;
} WireHeader;

G_STATIC_ASSERT (sizeof (WireHeader) == MPROC_WIRE_HEADER_SIZE);

gssize
mproc_wire_header_parse (const guint8 *data,
                         guint         n_fds,
                         gsize         max_size)
{
  WireHeader header;

  memcpy (&header, data, sizeof header);
  if (header.magic != WIRE_MAGIC || header.n_fds != n_fds || header.size > max_size ||
      header.size > G_MAXSSIZE)
    return -1;
  return (gssize) header.size;
}

gsize
mproc_wire_number_size (char type_char)
{
  switch (type_char)
    {
    case 'y': return 1;
    case 'n': case 'q': return 2;
    case 'i': case 'u': case 'h': return 4;
    case 'x': case 't': case 'd': return 8;
    default: return 0;
    }
}

static gsize max_message_size = MPROC_WIRE_DEFAULT_MAX_MESSAGE_SIZE;

gsize
mproc_wire_get_max_message_size (void)
{
  return __atomic_load_n (&max_message_size, __ATOMIC_RELAXED);
}

void
mproc_wire_set_max_message_size (gsize size)
{
  __atomic_store_n (&max_message_size, size, __ATOMIC_RELAXED);
}

gboolean
mproc_wire_type_string_is_safe (const char *type_string)
{
  /* per open tuple or entry: the depth it adds, arrays and maybes in front
   * of it included (they end where it ends) */
  guint8 opened[MPROC_WIRE_MAX_TYPE_DEPTH];
  guint n_opened = 0;
  guint depth = 0;

  if (type_string == NULL || !g_variant_type_string_is_valid (type_string) ||
      !g_variant_type_is_definite ((const GVariantType *) type_string))
    return FALSE;

  for (const char *p = type_string; *p != '\0'; p++)
    {
      guint prefix = 0;

      while (*p == 'a' || *p == 'm')
        {
          prefix++;
          p++;
        }
      if (depth + prefix + 1 > MPROC_WIRE_MAX_TYPE_DEPTH)
        return FALSE;
      if (*p == '(' || *p == '{')
        {
          opened[n_opened++] = prefix + 1;
          depth += prefix + 1;
        }
      else if (*p == ')' || *p == '}')
        depth -= opened[--n_opened];
    }
  return TRUE;
}

GBytes *
mproc_wire_encode (GVariant *value)
{
  g_autoptr(GVariant) boxed = NULL;

  g_assert (value != NULL);

  boxed = g_variant_ref_sink (g_variant_new_variant (value));
  return g_variant_get_data_as_bytes (boxed);
}

/* Whether @data is a "v" holding an array of fixed-width numbers ("ay",
 * "ai", "ad"…) of a whole number of elements: such a value is in normal form
 * whatever its bytes, but GLib 2.74 checks it one element at a time (~3 ns
 * per byte, 3 ms for 1 MiB), so decode() skips that check for it.  Sets
 * @element_type to the element's type character. */
static gboolean
is_number_array (const guint8 *data,
                 gsize         size,
                 char         *element_type)
{
  const guint8 *nul;
  gsize element;

  if (size < 3)
    return FALSE;
  nul = memrchr (data, '\0', size);
  if (nul == NULL || data + size - nul != 3 || nul[1] != 'a')
    return FALSE;

  element = mproc_wire_number_size ((char) nul[2]);
  if (element == 0)
    return FALSE;
  *element_type = (char) nul[2];
  return (gsize) (nul - data) % element == 0;
}

/* Small messages of one fixed-size basic type ("x", "i", "d", "b"…): the
 * boxed form is the value's bytes, a NUL and the type character, and the
 * value is in normal form whatever its bytes (a boolean: 0 or 1).  Rebuilt
 * with the type's constructor: no boxed GVariant, no child lookup, no
 * normal-form walk.  Returns NULL when @data is not such a message. */
static GVariant *
decode_fixed_basic (const guint8 *data,
                    gsize         size)
{
  union { guint8 y; guint16 q; guint32 u; guint64 t; gdouble d; } v;
  gsize want;

  if (size < 3 || size > 10 || data[size - 2] != '\0')
    return NULL;

  want = data[size - 1] == 'b' ? 1 : mproc_wire_number_size ((char) data[size - 1]);
  if (want == 0)
    return NULL;
  if (size - 2 != want)
    return NULL;
  memcpy (&v, data, want);

  switch (data[size - 1])
    {
    case 'y': return g_variant_ref_sink (g_variant_new_byte (v.y));
    case 'b': return v.y <= 1 ? g_variant_ref_sink (g_variant_new_boolean (v.y)) : NULL;
    case 'n': return g_variant_ref_sink (g_variant_new_int16 ((gint16) v.q));
    case 'q': return g_variant_ref_sink (g_variant_new_uint16 (v.q));
    case 'i': return g_variant_ref_sink (g_variant_new_int32 ((gint32) v.u));
    case 'u': return g_variant_ref_sink (g_variant_new_uint32 (v.u));
    case 'h': return g_variant_ref_sink (g_variant_new_handle ((gint32) v.u));
    case 'x': return g_variant_ref_sink (g_variant_new_int64 ((gint64) v.t));
    case 't': return g_variant_ref_sink (g_variant_new_uint64 (v.t));
    case 'd': return g_variant_ref_sink (g_variant_new_double (v.d));
    default: return NULL;
    }
}

/* GLib 2.74 frees the type info of a container type with the last value of
 * that type, and builds it again (hash insert, allocations) for the next:
 * a consumer that frees each message before the next one arrives paid
 * ~100 ns per message for that.  One empty value of each number array
 * type, kept for the life of the process, keeps their type infos. */
static const char *const number_array_types[] = { "ay", "an", "aq", "ai", "au", "ah", "ax", "at", "ad" };
static GVariant *number_array_keep[G_N_ELEMENTS (number_array_types)];   /* never freed, on purpose */

static void
keep_number_array_types (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      for (gsize i = 0; i < G_N_ELEMENTS (number_array_types); i++)
        number_array_keep[i] = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE (number_array_types[i]),
                                                                            NULL, 0, TRUE, NULL, NULL));
      g_once_init_leave (&done, 1);
    }
}

static void
set_malformed (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a malformed message"));
}

GVariant *
mproc_wire_decode (GBytes  *bytes,
                   GError **error)
{
  g_autoptr(GVariant) boxed = NULL;
  GVariant *value;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  char element_type;

  if (data != NULL && (value = decode_fixed_basic (data, size)) != NULL)
    return value;

  if (data != NULL && is_number_array (data, size, &element_type))
    {
      keep_number_array_types ();
      boxed = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, bytes, TRUE));
      return g_variant_get_variant (boxed);
    }

  boxed = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, bytes, FALSE));

  /* Normal form also rules out the out-of-range offsets and wrong sizes that
   * GVariant would otherwise silently replace with default values. */
  if (!g_variant_is_normal_form (boxed))
    {
      set_malformed (error);
      return NULL;
    }

  return g_variant_get_variant (boxed);
}

GVariant *
mproc_wire_decode_data (const guint8  *data,
                        gsize          size,
                        GError       **error)
{
  g_autoptr(GBytes) bytes = NULL;
  GVariant *value;
  char element_type;

  if ((value = decode_fixed_basic (data, size)) != NULL)
    return value;

  if (is_number_array (data, size, &element_type))
    {
      /* The array alone, in a buffer of its own: no boxed value, no child
       * lookup. */
      char type[3] = { 'a', element_type, '\0' };
      gsize n = size - 3;

      keep_number_array_types ();
      bytes = g_bytes_new (data, n);
      return g_variant_ref_sink (g_variant_new_from_bytes ((const GVariantType *) type, bytes, TRUE));
    }

  bytes = g_bytes_new (data, size);
  return mproc_wire_decode (bytes, error);
}

/* Waits until @fd has @events or @deadline_usec (monotonic, -1 = never) has
 * passed, or @cancellable fires. EINTR is retried with the remaining time. */
gboolean
mproc_fd_wait (int           fd,
               short         events,
               gint64        deadline_usec,
               GCancellable *cancellable,
               GError      **error)
{
  GPollFD pfds[2] = { { fd, events, 0 }, { -1, G_IO_IN, 0 } };
  guint n = 1;

  if (g_cancellable_make_pollfd (cancellable, &pfds[1]))
    n = 2;

  for (;;)
    {
      int timeout_ms = -1;
      int r;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;

      if (deadline_usec >= 0)
        {
          gint64 remaining = deadline_usec - g_get_monotonic_time ();

          if (remaining <= 0)
            remaining = 0;
          timeout_ms = (int) MIN ((remaining + 999) / 1000, G_MAXINT);
        }

      r = g_poll (pfds, n, timeout_ms);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          int errsv = errno;
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Failed to wait for a file descriptor: %s"), g_strerror (errsv));
          break;
        }
      if (pfds[0].revents != 0)
        {
          if (n == 2)
            g_cancellable_release_fd (cancellable);
          return TRUE;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (r == 0 && deadline_usec >= 0 && g_get_monotonic_time () >= deadline_usec)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                               _("Timed out"));
          break;
        }
    }

  if (n == 2)
    g_cancellable_release_fd (cancellable);
  return FALSE;
}

static gboolean
set_io_error (GError    **error,
              int         errsv,
              const char *what)
{
  if (errsv == EPIPE || errsv == ECONNRESET)
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
                 _("The other end of the connection is gone"));
  else
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                 "%s: %s", what, g_strerror (errsv));
  return FALSE;
}

static gboolean
send_all (int           fd,
          const guint8 *data,
          gsize         size,
          const int    *fds,
          guint         n_fds,
          GCancellable *cancellable,
          GError      **error)
{
  gsize done = 0;

  while (done < size)
    {
      struct iovec iov = { (guint8 *) data + done, size - done };
      struct msghdr msg = { 0 };
      union {
        char buf[CMSG_SPACE (sizeof (int) * MPROC_WIRE_MAX_FDS)];
        struct cmsghdr align;
      } control;
      ssize_t r;

      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;

      if (done == 0 && n_fds > 0)
        {
          struct cmsghdr *cmsg;

          memset (&control, 0, sizeof control);
          msg.msg_control = control.buf;
          msg.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
          cmsg = CMSG_FIRSTHDR (&msg);
          cmsg->cmsg_level = SOL_SOCKET;
          cmsg->cmsg_type = SCM_RIGHTS;
          cmsg->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
          memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * n_fds);
        }

      r = sendmsg (fd, &msg, MSG_NOSIGNAL);
      if (r < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          if (errsv == EAGAIN)
            {
              if (!mproc_fd_wait (fd, G_IO_OUT, -1, cancellable, error))
                return FALSE;
              continue;
            }
          return set_io_error (error, errsv, _("Failed to send a message"));
        }
      done += r;
    }

  return TRUE;
}

gboolean
mproc_wire_send (int           fd,
                 GBytes       *payload,
                 const int    *fds,
                 guint         n_fds,
                 GCancellable *cancellable,
                 GError      **error)
{
  WireHeader header = { WIRE_MAGIC, n_fds, 0 };
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (payload, &size);

  g_assert (n_fds <= MPROC_WIRE_MAX_FDS);

  header.size = size;
  if (!send_all (fd, (const guint8 *) &header, sizeof header, fds, n_fds, cancellable, error))
    return FALSE;
  return size == 0 || send_all (fd, data, size, NULL, 0, cancellable, error);
}

/* Reads exactly @size bytes; the fds that arrive with them are appended to
 * @fds_out (or closed when it is NULL). */
static gboolean
recv_all (int           fd,
          guint8       *data,
          gsize         size,
          GArray       *fds_out,
          gboolean     *eof_at_start,
          GCancellable *cancellable,
          GError      **error)
{
  gsize done = 0;

  while (done < size)
    {
      struct iovec iov = { data + done, size - done };
      struct msghdr msg = { 0 };
      union {
        char buf[CMSG_SPACE (sizeof (int) * MPROC_WIRE_MAX_FDS)];
        struct cmsghdr align;
      } control;
      struct cmsghdr *cmsg;
      ssize_t r;

      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.buf;
      msg.msg_controllen = sizeof control.buf;

      r = recvmsg (fd, &msg, MSG_CMSG_CLOEXEC);
      if (r < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          if (errsv == EAGAIN)
            {
              if (!mproc_fd_wait (fd, G_IO_IN, -1, cancellable, error))
                return FALSE;
              continue;
            }
          return set_io_error (error, errsv, _("Failed to receive a message"));
        }

      for (cmsg = CMSG_FIRSTHDR (&msg); cmsg != NULL; cmsg = CMSG_NXTHDR (&msg, cmsg))
        {
          if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
            {
              guint n = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
              const int *received = (const int *) CMSG_DATA (cmsg);

              for (guint i = 0; i < n; i++)
                {
                  int rfd = received[i];

                  if (fds_out != NULL)
                    g_array_append_val (fds_out, rfd);
                  else
                    close (rfd);
                }
            }
        }

      if (msg.msg_flags & MSG_CTRUNC)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                               _("Received a message with too many file descriptors"));
          return FALSE;
        }

      if (r == 0)
        {
          if (eof_at_start != NULL)
            *eof_at_start = (done == 0);
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
                               done == 0 ? _("The other end of the connection is closed")
                                         : _("The connection was closed in the middle of a message"));
          return FALSE;
        }
      done += r;
    }

  return TRUE;
}

GBytes *
mproc_wire_recv (int           fd,
                 GArray       *fds_out,
                 gsize         max_size,
                 GCancellable *cancellable,
                 GError      **error)
{
  WireHeader header;
  g_autoptr(GArray) fds = mproc_fd_array_new ();
  guint8 *data;

  if (!recv_all (fd, (guint8 *) &header, sizeof header, fds, NULL, cancellable, error))
    return NULL;

  if (header.magic != WIRE_MAGIC || header.n_fds != fds->len || header.size > max_size)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed message"));
      return NULL;
    }

  data = g_try_malloc (MAX (header.size, 1));
  if (data == NULL)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Not enough memory for a message of %llu bytes"),
                   (unsigned long long) header.size);
      return NULL;
    }

  if (!recv_all (fd, data, header.size, NULL, NULL, cancellable, error))
    {
      g_free (data);
      return NULL;
    }

  if (fds_out != NULL)
    {
      g_array_append_vals (fds_out, fds->data, fds->len);
      /* the fds now belong to fds_out */
      g_array_set_clear_func (fds, NULL);
    }

  return g_bytes_new_take (data, header.size);
}

gboolean
mproc_wire_send_value (int           fd,
                       GVariant     *value,
                       const int    *fds,
                       guint         n_fds,
                       GCancellable *cancellable,
                       GError      **error)
{
  g_autoptr(GBytes) bytes = mproc_wire_encode (value);

  return mproc_wire_send (fd, bytes, fds, n_fds, cancellable, error);
}

GVariant *
mproc_wire_recv_value (int           fd,
                       GArray       *fds_out,
                       gsize         max_size,
                       GCancellable *cancellable,
                       GError      **error)
{
  g_autoptr(GBytes) bytes = mproc_wire_recv (fd, fds_out, max_size, cancellable, error);

  if (bytes == NULL)
    return NULL;
  return mproc_wire_decode (bytes, error);
}

/* --- Waiting for a file descriptor from a main context ------------------- */

typedef struct
{
  GSource *sources[3];   /* fd, deadline, cancellable: each holds the task */
} FdWait;

static void
fd_wait_free (gpointer data)
{
  FdWait *w = data;

  for (guint i = 0; i < G_N_ELEMENTS (w->sources); i++)
    g_clear_pointer (&w->sources[i], g_source_unref);
  g_free (w);
}

/* The first source to fire ends the wait: the others go (and their
 * references to the task with them). */
static void
fd_wait_end (GTask *task)
{
  FdWait *w = g_task_get_task_data (task);

  for (guint i = 0; i < G_N_ELEMENTS (w->sources); i++)
    if (w->sources[i] != NULL)
      g_source_destroy (w->sources[i]);
}

static gboolean
fd_wait_ready_cb (int          fd,
                  GIOCondition condition,
                  gpointer     user_data)
{
  GTask *task = user_data;

  fd_wait_end (task);
  if (!g_task_return_error_if_cancelled (task))
    g_task_return_boolean (task, TRUE);
  return G_SOURCE_REMOVE;
}

static gboolean
fd_wait_timeout_cb (gpointer user_data)
{
  GTask *task = user_data;

  fd_wait_end (task);
  g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_TIMED_OUT, "%s", _("Timed out"));
  return G_SOURCE_REMOVE;
}

static gboolean
fd_wait_cancelled_cb (GCancellable *cancellable,
                      gpointer      user_data)
{
  GTask *task = user_data;

  fd_wait_end (task);
  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

/* mproc_fd_wait() from the thread-default main context, without a
 * thread: sources on @fd, the deadline and @cancellable. */
void
mproc_fd_wait_async (int                  fd,
                     short                events,
                     gint64               deadline_usec,
                     gpointer             source_object,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (source_object, cancellable, callback, user_data);
  FdWait *w = g_new0 (FdWait, 1);

  g_task_set_source_tag (task, mproc_fd_wait_async);
  g_task_set_task_data (task, w, fd_wait_free);
  if (g_task_return_error_if_cancelled (task))
    return;
  w->sources[0] = g_unix_fd_source_new (fd, events);
  g_source_set_static_name (w->sources[0], "[mproc] fd wait");
  g_task_attach_source (task, w->sources[0], (GSourceFunc) (void (*) (void)) fd_wait_ready_cb);
  if (deadline_usec >= 0)
    {
      gint64 remaining = MAX (deadline_usec - g_get_monotonic_time (), 0);

      w->sources[1] = g_timeout_source_new ((guint) MIN ((remaining + 999) / 1000, G_MAXUINT));
      g_source_set_static_name (w->sources[1], "[mproc] fd wait deadline");
      g_task_attach_source (task, w->sources[1], fd_wait_timeout_cb);
    }
  if (cancellable != NULL)
    {
      w->sources[2] = g_cancellable_source_new (cancellable);
      g_source_set_static_name (w->sources[2], "[mproc] fd wait cancelled");
      g_task_attach_source (task, w->sources[2], (GSourceFunc) (void (*) (void)) fd_wait_cancelled_cb);
    }
}

gboolean
mproc_fd_wait_finish (GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_fd_wait_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
