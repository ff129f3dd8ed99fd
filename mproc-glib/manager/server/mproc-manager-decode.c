/* mproc-manager-decode.c: the server's decoding of requests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Requests are decoded in normal form (mproc_wire_decode()), which GLib
 * checks child by child: for a batch of 10 000 fixed-size pairs (a dict
 * update of `a{xx}`) that check costs more than applying the pairs.  The
 * shape of such a request, `(utttv)` holding a `v` holding an array of
 * fixed-size pairs, is checked here by hand instead, with the same rules
 * as GLib's (gvariant-serialiser.c): zero padding, booleans 0 or 1, sizes
 * that are whole multiples, each `v`'s type string after its last NUL.
 * Anything else, or anything that fails a check, goes the general way,
 * which accepts or refuses it.
 */

#include "config.h"

#include <string.h>

#include "mproc-manager-protocol-private.h"
#include "mproc-wire-private.h"

#define REQUEST_TYPE       "(utttv)"
#define REQUEST_HEAD_SIZE  32   /* u, padding, t, t, t: where the `v` starts */

static gsize
fixed_basic_size (char type)
{
  switch (type)
    {
    case 'b': case 'y':
      return 1;
    case 'n': case 'q':
      return 2;
    case 'i': case 'u': case 'h':
      return 4;
    case 'x': case 't': case 'd':
      return 8;
    default:
      return 0;
    }
}

static gboolean
all_zero (const guint8 *p,
          gsize         n)
{
  for (gsize i = 0; i < n; i++)
    if (p[i] != 0)
      return FALSE;
  return TRUE;
}

/* Whether @data (@size bytes) is an array of pairs of type @type (5
 * characters: "a{xx}", "a(yd)"…) of fixed-size basic types in normal form. */
static gboolean
fixed_pairs_normal (const guint8 *data,
                    gsize         size,
                    const char   *type)
{
  gsize ks, vs, voff, esize, align;

  if (type[0] != 'a' ||
      !((type[1] == '{' && type[4] == '}') || (type[1] == '(' && type[4] == ')')))
    return FALSE;
  ks = fixed_basic_size (type[2]);
  vs = fixed_basic_size (type[3]);
  if (ks == 0 || vs == 0)
    return FALSE;
  /* members at their alignment, the whole padded to the largest */
  align = MAX (ks, vs);
  voff = (ks + vs - 1) & ~(vs - 1);
  esize = (voff + vs + align - 1) & ~(align - 1);
  if (size % esize != 0)
    return FALSE;

  if (voff == ks && esize == voff + vs && type[2] != 'b' && type[3] != 'b')
    return TRUE;   /* no padding, no booleans: any bytes are normal */
  for (const guint8 *e = data; e < data + size; e += esize)
    {
      if (!all_zero (e + ks, voff - ks) || !all_zero (e + voff + vs, esize - voff - vs))
        return FALSE;
      if ((type[2] == 'b' && e[0] > 1) || (type[3] == 'b' && e[voff] > 1))
        return FALSE;
    }
  return TRUE;
}

/* Whether the boxed request @data is `(utttv)` whose `v` holds a `v`
 * holding an array of fixed-size pairs, all in normal form. */
static gboolean
is_fixed_pairs_request (const guint8 *data,
                        gsize         size)
{
  const gsize type_len = strlen (REQUEST_TYPE);
  const guint8 *args;
  gsize args_size, pairs_size;

  /* the boxed request: the tuple, a NUL, its type */
  if (size < type_len + 1 + REQUEST_HEAD_SIZE + 2 + 6 ||
      data[size - type_len - 1] != '\0' ||
      memcmp (data + size - type_len, REQUEST_TYPE, type_len) != 0)
    return FALSE;
  size -= type_len + 1;
  /* the tuple: the padding after the u, then the `v` to the end (the last
   * member: no framing offset); the `v` holds a value of type "v" */
  if (!all_zero (data + 4, 4) || data[size - 2] != '\0' || data[size - 1] != 'v')
    return FALSE;
  args = data + REQUEST_HEAD_SIZE;
  args_size = size - REQUEST_HEAD_SIZE - 2;
  /* that `v`: the pairs, a NUL, their five-character type */
  if (args_size < 6 || args[args_size - 6] != '\0')
    return FALSE;
  pairs_size = args_size - 6;
  return fixed_pairs_normal (args, pairs_size, (const char *) args + pairs_size + 1);
}

GVariant *
mproc_manager_request_decode (GBytes  *bytes,
                              GError **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  if (data != NULL && is_fixed_pairs_request (data, size))
    {
      g_autoptr(GVariant) boxed = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT,
                                                                                bytes, TRUE));

      return g_variant_get_variant (boxed);
    }
  return mproc_wire_decode (bytes, error);
}
