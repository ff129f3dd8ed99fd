/* fuzz-manager.c: requests to a manager's server, as any sharer of its
 * rings can write them
 *
 * One server, started once (fork).  An input starting with an even byte is
 * a raw record for the request ring (the server decodes it); with an odd
 * byte, the next bytes are an op, an object id and a serialised value of
 * arguments, sent as a well-formed request to reach the handlers.  After
 * each input the server must still answer a ping.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <mproc.h>

#include "mproc-manager-private.h"
#include "mproc-wire-private.h"
#include "fuzz-target.h"

static MprocManager *manager;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(GError) error = NULL;

  manager = mproc_manager_new_with_context (context);
  if (!mproc_manager_start (manager, NULL, &error))
    g_error ("%s", error->message);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  if (size < 1 || size > 64 * 1024)
    return 0;

  /* what the server decodes, here too */
  {
    g_autoptr(GBytes) bytes = g_bytes_new (data + 1, size - 1);
    g_autoptr(GVariant) request = mproc_manager_request_decode (bytes, NULL);
  }

  if ((data[0] & 1) == 0)
    mproc_manager_inject_raw (manager, data + 1, size - 1);
  else if (size >= 4)
    {
      static const guint ops[] = {
        MANAGER_OP_CREATE, MANAGER_OP_INCREF, MANAGER_OP_DECREF, MANAGER_OP_SUBSCRIBE,
        MANAGER_OP_UNSUBSCRIBE, MANAGER_OP_SNAPSHOT, MANAGER_OP_LOOKUP, MANAGER_OP_UNPUBLISH,
        MANAGER_OP_VIEW,
      };
      guint op;
      g_autoptr(GVariant) args = mproc_wire_decode_data (data + 3, size - 3, NULL);

      /* everything but SHUTDOWN, PUBLISH and LISTEN_TCP (they need fds) */
      if (data[1] < G_N_ELEMENTS (ops))
        op = ops[data[1]];
      else if (data[1] < 128)
        op = DICT_OP_SET + (data[1] - G_N_ELEMENTS (ops)) % 13;
      else if (data[1] < 192)
        op = LIST_OP_APPEND + (data[1] - 128) % 12;
      else
        op = NAMESPACE_OP_SET + (data[1] - 192) % 5;
      if (args != NULL)
        {
          g_autoptr(GVariant) ignored = NULL;

          mproc_manager_call_raw (manager, op, data[2] % 8, g_variant_ref (args), &ignored, NULL);
        }
    }

  if (!mproc_manager_call_raw (manager, MANAGER_OP_PING, 0, NULL, &reply, &error))
    g_error ("The manager's server stopped answering: %s", error->message);
  return 0;
}
