/* mproc-shm.c: a memfd-backed shared mapping that travels as an fd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <gio/gio.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-shm-private.h"

struct _MprocShm
{
  gatomicrefcount  ref_count;
  int              fd;
  gpointer         data;
  gsize            size;
};

/* The seals every arena carries.  SHRINK is what protects mappers from
 * SIGBUS; GROW keeps the size a constant that every process agrees on;
 * SEAL stops anyone from adding WRITE seals that would break the shared
 * writable mappings of the others. */
#define MPROC_SHM_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static MprocShm *
shm_new_take (int      fd,
              gpointer data,
              gsize    size)
{
  MprocShm *shm = g_new0 (MprocShm, 1);

  g_atomic_ref_count_init (&shm->ref_count);
  shm->fd = fd;
  shm->data = data;
  shm->size = size;

  return shm;
}

/*
 * mproc_shm_new:
 * @size: size in bytes, > 0
 * @debug_name: (nullable): shown in /proc/PID/fd and /proc/PID/maps
 * @error: return location for a #GError
 *
 * Creates a zero-filled, size-sealed shared arena.  The memfd is CLOEXEC:
 * it reaches a child only when deliberately passed.
 *
 * Returns: (transfer full): the arena, or %NULL with @error set
 */
MprocShm *
mproc_shm_new (gsize        size,
               const char  *debug_name,
               GError     **error)
{
  g_autofree char *name = NULL;
  gpointer data;
  int fd;
  int errsv;

  g_return_val_if_fail (size > 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* memfd names are limited to 249 bytes; keep well under it */
  name = g_strndup (debug_name != NULL ? debug_name : "mproc-shm", 200);

  fd = memfd_create (name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    {
      errsv = errno;
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to create shared memory “%s”: %s"),
                   name, g_strerror (errsv));
      return NULL;
    }

  if (ftruncate (fd, (off_t) size) < 0 ||
      fcntl (fd, F_ADD_SEALS, MPROC_SHM_SEALS) < 0)
    {
      errsv = errno;
      mproc_clear_fd (&fd);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to size shared memory “%s”: %s"),
                   name, g_strerror (errsv));
      return NULL;
    }

  data = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED)
    {
      errsv = errno;
      mproc_clear_fd (&fd);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to map shared memory “%s”: %s"),
                   name, g_strerror (errsv));
      return NULL;
    }

  return shm_new_take (fd, data, size);
}

/*
 * mproc_shm_new_from_fd:
 * @fd: (transfer full): a memfd received from another process
 * @expected_size: the size the caller will access
 * @error: return location for a #GError
 *
 * Maps an arena created by mproc_shm_new() in another process.  Nothing
 * about @fd is trusted: it must be a memfd at least @expected_size bytes
 * long and sealed against shrinking, else %MPROC_ERROR_INVALID_MESSAGE.  The
 * whole file is mapped (mproc_shm_get_size() gives its real size).  @fd is
 * consumed in every case: closed on failure.
 *
 * Returns: (transfer full): the arena, or %NULL with @error set
 */
MprocShm *
mproc_shm_new_from_fd (int      fd,
                       gsize    expected_size,
                       GError **error)
{
  struct stat st;
  gpointer data;
  gsize size;
  int seals;
  int errsv;

  g_return_val_if_fail (fd >= 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (fstat (fd, &st) < 0)
    {
      errsv = errno;
      mproc_clear_fd (&fd);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to inspect shared memory: %s"),
                   g_strerror (errsv));
      return NULL;
    }

  /* F_GET_SEALS fails with EINVAL on anything but a memfd (or hugetlbfs/
   * shmem file created for sealing), which rejects pipes, sockets and
   * regular files in the same step. */
  seals = fcntl (fd, F_GET_SEALS);
  if (!S_ISREG (st.st_mode) || seals < 0 || (seals & F_SEAL_SHRINK) == 0)
    {
      mproc_clear_fd (&fd);
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Shared memory received from another process is not sealed against shrinking"));
      return NULL;
    }

  if (st.st_size <= 0 || (guint64) st.st_size < (guint64) expected_size ||
      (guint64) st.st_size > G_MAXSIZE)
    {
      mproc_clear_fd (&fd);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                   _("Shared memory received from another process is too small: "
                     "%llu bytes, expected at least %llu"),
                   (unsigned long long) st.st_size, (unsigned long long) expected_size);
      return NULL;
    }

  size = (gsize) st.st_size;
  data = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED)
    {
      errsv = errno;
      mproc_clear_fd (&fd);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to map shared memory received from another process: %s"),
                   g_strerror (errsv));
      return NULL;
    }

  return shm_new_take (fd, data, size);
}

MprocShm *
mproc_shm_ref (MprocShm *shm)
{
  g_return_val_if_fail (shm != NULL, NULL);

  g_atomic_ref_count_inc (&shm->ref_count);
  return shm;
}

void
mproc_shm_unref (MprocShm *shm)
{
  g_return_if_fail (shm != NULL);

  if (!g_atomic_ref_count_dec (&shm->ref_count))
    return;

  munmap (shm->data, shm->size);
  mproc_clear_fd (&shm->fd);
  g_free (shm);
}

gpointer
mproc_shm_get_data (MprocShm *shm)
{
  g_return_val_if_fail (shm != NULL, NULL);

  return shm->data;
}

gsize
mproc_shm_get_size (MprocShm *shm)
{
  g_return_val_if_fail (shm != NULL, 0);

  return shm->size;
}

/* The fd stays owned by @shm: dup it to send it or keep it. */
int
mproc_shm_get_fd (MprocShm *shm)
{
  g_return_val_if_fail (shm != NULL, -1);

  return shm->fd;
}
