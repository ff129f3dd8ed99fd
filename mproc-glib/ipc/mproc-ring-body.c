/* mproc-ring-body.c: out-of-line bodies of messages too large for a ring
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-ring-body-private.h.
 */

#include "config.h"

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-ring-body-private.h"
#include "mproc-ring-private.h"

#define BODY_PIECE (8 * 1024 * 1024)
#define BODY_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

int
mproc_ring_spill_new (GError **error)
{
  int fd = memfd_create ("mproc-queue-spill", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to create shared memory “%s”: %s"), "mproc-queue-spill",
                   g_strerror (errsv));
    }
  return fd;
}

/* A spill file received from another process must be a memfd (it is
 * only read and written, never mapped, so its size does not matter). */
gboolean
mproc_ring_spill_check (int      fd,
                        GError **error)
{
  struct stat st;

  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || fcntl (fd, F_GET_SEALS) < 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
body_interrupted (gint64         deadline,
                  GCancellable  *cancellable,
                  GError       **error)
{
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return TRUE;
  if (deadline >= 0 && g_get_monotonic_time () >= deadline)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT, _("Timed out"));
      return TRUE;
    }
  return FALSE;
}

static void
set_write_error (int      errsv,
                 GError **error)
{
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
               _("Failed to write a message to shared memory: %s"), g_strerror (errsv));
}

gboolean
mproc_ring_body_write (int                 fd,
                       guint64             offset,
                       const struct iovec *iov,
                       guint               n_iov,
                       gsize               size,
                       gint64              deadline,
                       GCancellable       *cancellable,
                       int                *memfd_out,
                       GError            **error)
{
  MprocFd memfd = -1;
  gsize done = 0;
  guint i = 0;
  gsize in_piece = 0;   /* bytes of iov[i] already written */

  if (fd < 0)
    {
      memfd = memfd_create ("mproc-message", MFD_CLOEXEC | MFD_ALLOW_SEALING);
      if (memfd < 0)
        {
          set_write_error (errno, error);
          return FALSE;
        }
      fd = memfd;
      offset = 0;
    }

  while (done < size)
    {
      struct iovec slice[4];
      guint n = 0;
      gsize budget = BODY_PIECE;
      ssize_t r;

      if (done > 0)
        {
          mproc_ring_fault (MPROC_RING_FAULT_BODY_WRITTEN);
          if (body_interrupted (deadline, cancellable, error))
            goto fail;
        }
      for (guint j = i; j < n_iov && n < G_N_ELEMENTS (slice) && budget > 0; j++)
        {
          gsize skip = j == i ? in_piece : 0;
          gsize len = MIN (iov[j].iov_len - skip, budget);

          if (len == 0)
            continue;
          slice[n].iov_base = (guint8 *) iov[j].iov_base + skip;
          slice[n].iov_len = len;
          n++;
          budget -= len;
        }
      r = pwritev (fd, slice, (int) n, (off_t) (offset + done));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        {
          set_write_error (r < 0 ? errno : ENOSPC, error);
          goto fail;
        }
      done += (gsize) r;
      while (r > 0 && i < n_iov)
        {
          gsize left = iov[i].iov_len - in_piece;

          if ((gsize) r < left)
            {
              in_piece += (gsize) r;
              r = 0;
            }
          else
            {
              r -= (ssize_t) left;
              i++;
              in_piece = 0;
            }
        }
    }

  if (memfd >= 0)
    {
      if (fcntl (memfd, F_ADD_SEALS, BODY_SEALS) < 0)
        {
          set_write_error (errno, error);
          goto fail;
        }
      *memfd_out = g_steal_fd (&memfd);
    }
  return TRUE;

fail:
  if (memfd >= 0)
    mproc_clear_fd (&memfd);
  else
    mproc_ring_body_punch (fd, offset, offset + done);
  return FALSE;
}

GBytes *
mproc_ring_body_read (int      fd,
                      guint64  offset,
                      guint64  size,
                      GError **error)
{
  guint8 *buf;
  guint64 done = 0;

  buf = size <= G_MAXSSIZE ? g_try_malloc (MAX (size, 1)) : NULL;
  if (buf == NULL)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Not enough memory for a message of %llu bytes"), (unsigned long long) size);
      return NULL;
    }
  while (done < size)
    {
      ssize_t r = pread (fd, buf + done, MIN (size - done, BODY_PIECE), (off_t) (offset + done));

      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        {
          /* short: the file ends before the body the record announces */
          g_free (buf);
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                               _("Received a malformed message"));
          return NULL;
        }
      done += (guint64) r;
    }
  return g_bytes_new_take (buf, size);
}

typedef struct
{
  gpointer data;
  gsize    size;
} Mapping;

static void
mapping_free (gpointer data)
{
  Mapping *m = data;

  munmap (m->data, m->size);
  g_free (m);
}

GBytes *
mproc_ring_body_map (int      fd,
                     guint64  size,
                     GError **error)
{
  MprocFd owned = fd;
  struct stat st;
  Mapping *m;
  gpointer data;
  int seals;

  /* Sealed against writes and shrinking: nobody can change it under us
   * or make the mapping fault. */
  seals = fcntl (owned, F_GET_SEALS);
  if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) != (F_SEAL_WRITE | F_SEAL_SHRINK) ||
      fstat (owned, &st) < 0 || !S_ISREG (st.st_mode) || (guint64) st.st_size != size ||
      size == 0 || size > G_MAXSSIZE)
    {
      mproc_clear_fd (&owned);
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed message"));
      return NULL;
    }
  data = mmap (NULL, size, PROT_READ, MAP_SHARED, owned, 0);
  mproc_clear_fd (&owned);
  if (data == MAP_FAILED)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to map shared memory received from another process: %s"),
                   g_strerror (errsv));
      return NULL;
    }
  m = g_new (Mapping, 1);
  m->data = data;
  m->size = size;
  return g_bytes_new_with_free_func (data, size, mapping_free, m);
}

void
mproc_ring_body_punch (int     fd,
                       guint64 from,
                       guint64 to)
{
  /* Whole pages only: bodies start on a page. */
  from = (from + 4095) & ~(guint64) 4095;
  if (fd < 0 || to <= from || to > MPROC_RING_SPILL_LIMIT)
    return;
  /* a failure only leaves memory in use until the queue is gone */
  (void) fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) from, (off_t) (to - from));
}
