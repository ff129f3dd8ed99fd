/* fuzz-types.c: type strings and frames from a peer: a pool frame as a
 * worker's reply carries it (name, type string, serialised value), and a
 * type string checked then used as D-Bus callers' are
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <gio/gio.h>

#include "mproc-pool-private.h"
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
  const char *name, *type;
  const guint8 *body;
  gsize body_size;
  const guint8 *nul;

  /* a frame's payload, as the pool's parent and its workers parse it */
  if (mproc_pool_parse_payload (data, size, &name, &type, &body, &body_size))
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, body_size);
      g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE));

      if (mproc_pool_variant_is_valid (value) && g_variant_is_of_type (value, G_VARIANT_TYPE_ARRAY))
        (void) g_variant_n_children (value);
      (void) mproc_pool_packed_size (type);
    }

  /* "TYPE\0DATA": a type string, then bytes said to be of that type */
  nul = memchr (data, '\0', size);
  if (nul != NULL)
    {
      const char *type_string = (const char *) data;

      (void) mproc_pool_packed_size (type_string);
      if (mproc_wire_type_string_is_safe (type_string))
        {
          g_autoptr(GBytes) bytes = g_bytes_new (nul + 1, size - (nul + 1 - data));
          g_autoptr(GVariant) value =
            g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type_string), bytes, FALSE));

          if (g_variant_is_normal_form (value))
            g_free (g_variant_print (value, TRUE));
        }
    }
  return 0;
}
