/* fuzz-wire.c: the wire framing and the decoding of a value from a peer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#include "mproc-fd-private.h"
#include "mproc-wire-private.h"
#include "fuzz-target.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  int sv[2];

  /* a message as taken from a ring */
  value = mproc_wire_decode_data (data, size, &error);
  g_assert ((value == NULL) == (error != NULL));
  if (value != NULL)
    g_assert_true (g_variant_is_normal_form (value));
  g_clear_error (&error);
  g_clear_pointer (&value, g_variant_unref);

  /* the same bytes as a stream of frames on a socket */
  if (size > 64 * 1024 || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return 0;
  if (write (sv[0], data, size) != (ssize_t) size)
    g_error ("short write");
  close (sv[0]);
  for (guint i = 0; i < 16; i++)
    {
      g_autoptr(GArray) fds = mproc_fd_array_new ();

      value = mproc_wire_recv_value (sv[1], fds, 4096, NULL, &error);
      if (value == NULL)
        break;
      g_clear_pointer (&value, g_variant_unref);
    }
  close (sv[1]);
  return 0;
}
