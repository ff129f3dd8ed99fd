/* mproc-fd.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-fd-private.h"

static void
clear_fd_element (gpointer data)
{
  mproc_clear_fd ((int *) data);
}

GArray *
mproc_fd_array_new (void)
{
  GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));

  g_array_set_clear_func (fds, clear_fd_element);
  return fds;
}

void
mproc_fd_array_close_all (GArray *fds)
{
  if (fds != NULL)
    g_array_set_size (fds, 0);
}
