/* mproc-fd-private.h: file-descriptor helpers (GLib 2.74 has no g_autofd)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <errno.h>
#include <unistd.h>

#include <glib.h>

G_BEGIN_DECLS

/* Closes *fd if it is open and sets it to -1, preserving errno so that it
 * can be called on an error path before the error is reported. */
static inline void
mproc_clear_fd (int *fd)
{
  int errsv = errno;

  if (*fd >= 0)
    close (*fd);
  *fd = -1;
  errno = errsv;
}

typedef int MprocFd;

static inline void
mproc_fd_close (MprocFd fd)
{
  mproc_clear_fd (&fd);
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (MprocFd, mproc_fd_close, -1)

/* A GArray of int that closes the fds it still holds when freed. */
GArray *mproc_fd_array_new (void);
void    mproc_fd_array_close_all (GArray *fds);

G_END_DECLS
