/* mproc-pool-frame.c: the frames a pool and its workers exchange, and their payloads
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-pool-private.h"
#include "mproc-wire-private.h"

/* --- Errors and validation ---------------------------------------------- */

GVariant *
mproc_pool_error_to_variant (const GError *error)
{
  return g_variant_new ("(sis)", g_quark_to_string (error->domain),
                        error->code, error->message);
}

GError *
mproc_pool_error_from_variant (GVariant *value)
{
  const char *domain;
  const char *message;
  gint32 code;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("(sis)")))
    return g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                _("A pool worker sent an invalid error"));

  g_variant_get (value, "(&si&s)", &domain, &code, &message);
  if (domain[0] == '\0')
    return g_error_new_literal (MPROC_ERROR, MPROC_ERROR_FAILED, message);

  /* A domain this process does not know yet still gets its own quark, so
   * that g_error_matches() with the same domain name works. */
  return g_error_new_literal (g_quark_from_string (domain), code, message);
}

/* Packed arrays of fixed-width numbers travel as one memcpy. */
static gsize
fixed_element_size (const GVariantType *element)
{
  return mproc_wire_number_size (*g_variant_type_peek_string (element));
}

gboolean
mproc_pool_variant_is_valid (GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);

  if (g_variant_type_is_array (type))
    {
      gsize esize = fixed_element_size (g_variant_type_element (type));

      /* Every bit pattern of these is a normal value: only the size counts. */
      if (esize != 0)
        return g_variant_get_size (value) % esize == 0;
    }
  else if (g_variant_type_is_variant (type) || g_variant_type_is_tuple (type))
    {
      gsize n;

      if (!g_variant_is_normal_form (value) && g_variant_get_size (value) < 4096)
        return FALSE;
      n = g_variant_n_children (value);
      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (value, i);

          if (!mproc_pool_variant_is_valid (child))
            return FALSE;
        }
      return TRUE;
    }

  return g_variant_is_normal_form (value);
}

/* --- Frames ------------------------------------------------------------- */

void
mproc_pool_append_frame (GByteArray    *out,
                         guint32        kind,
                         guint32        seq,
                         guint32        exec_usec,
                         const char    *name,
                         GVariant      *value,
                         const char    *type,
                         gconstpointer  data,
                         gsize          data_size)
{
  gsize at = out->len;
  guint32 name_len, type_len;
  gsize head, size;
  PoolFrame frame;
  guint8 *p;

  if (kind == POOL_FRAME_STOP || kind == POOL_FRAME_FILES || kind == POOL_FRAME_RELEASE ||
      kind == POOL_FRAME_SKIPPED)
    {
      frame = (PoolFrame) { 0, kind, seq, exec_usec };
      g_byte_array_append (out, (const guint8 *) &frame, sizeof frame);
      return;
    }

  if (value != NULL)
    {
      type = g_variant_get_type_string (value);
      data_size = g_variant_get_size (value);
    }
  name_len = name != NULL ? strlen (name) + 1 : 0;
  type_len = strlen (type) + 1;
  head = POOL_FRAME_PAD (8 + name_len + type_len);
  size = head + data_size;

  frame = (PoolFrame) { size, kind, seq, exec_usec };
  g_byte_array_set_size (out, at + sizeof frame + POOL_FRAME_PAD (size));
  p = out->data + at;
  memcpy (p, &frame, sizeof frame);
  p += sizeof frame;
  memcpy (p, &name_len, 4);
  memcpy (p + 4, &type_len, 4);
  if (name_len > 0)
    memcpy (p + 8, name, name_len);
  memcpy (p + 8 + name_len, type, type_len);
  memset (p + 8 + name_len + type_len, 0, head - (8 + name_len + type_len));
  if (value != NULL)
    g_variant_store (value, p + head);
  else if (data != NULL && data_size > 0)
    memcpy (p + head, data, data_size);
  memset (p + size, 0, POOL_FRAME_PAD (size) - size);
}

gboolean
mproc_pool_parse_payload (const guint8  *payload,
                          gsize          size,
                          const char   **name,
                          const char   **type,
                          const guint8 **data,
                          gsize         *data_size)
{
  guint32 name_len, type_len;
  gsize head;

  if (size < 8)
    return FALSE;
  memcpy (&name_len, payload, 4);
  memcpy (&type_len, payload + 4, 4);
  if (type_len == 0 || name_len > size || type_len > size || 8 + (gsize) name_len + type_len > size)
    return FALSE;
  head = POOL_FRAME_PAD (8 + (gsize) name_len + type_len);
  if (head > size)
    return FALSE;
  if (name_len > 0 && payload[8 + name_len - 1] != '\0')
    return FALSE;
  if (payload[8 + name_len + type_len - 1] != '\0')
    return FALSE;
  *name = name_len > 0 ? (const char *) payload + 8 : NULL;
  *type = (const char *) payload + 8 + name_len;
  /* a type GVariant would assert on ("ar", "a*"…) is as malformed as a
   * bad length */
  if (!mproc_wire_type_string_is_safe (*type))
    return FALSE;
  *data = payload + head;
  *data_size = size - head;
  return TRUE;
}

gsize
mproc_pool_packed_size (const char *type_string)
{
  /* @type_string may come from a peer: look at its characters only */
  if (type_string[0] != 'a' || type_string[1] == '\0' || type_string[2] != '\0')
    return 0;
  return mproc_wire_number_size (type_string[1]);
}
