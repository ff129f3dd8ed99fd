/* mproc-redis-reply.c: commands encoded and replies checked
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-redis-client-private.h"

struct _MprocRedisCmd
{
  GPtrArray *args;     /* GBytes */
};

MprocRedisCmd *
mproc_redis_cmd_new (const char *name)
{
  MprocRedisCmd *cmd = g_new0 (MprocRedisCmd, 1);

  cmd->args = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  mproc_redis_cmd_add_str (cmd, name);
  return cmd;
}

void
mproc_redis_cmd_free (MprocRedisCmd *cmd)
{
  if (cmd == NULL)
    return;
  g_ptr_array_unref (cmd->args);
  g_free (cmd);
}

void
mproc_redis_cmd_add (MprocRedisCmd *cmd,
                     const void    *data,
                     gsize          size)
{
  g_ptr_array_add (cmd->args, g_bytes_new (data, size));
}

void
mproc_redis_cmd_add_str (MprocRedisCmd *cmd,
                         const char    *str)
{
  mproc_redis_cmd_add (cmd, str, strlen (str));
}

void
mproc_redis_cmd_add_int (MprocRedisCmd *cmd,
                         gint64         value)
{
  char buf[32];

  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, value);
  mproc_redis_cmd_add_str (cmd, buf);
}

void
mproc_redis_cmd_add_boxed (MprocRedisCmd *cmd,
                           GVariant      *value)
{
  g_autoptr(GVariant) boxed = NULL;

  /* a `v` already is its own boxed form */
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    boxed = g_variant_ref_sink (value);
  else
    boxed = g_variant_ref_sink (g_variant_new_variant (value));
  g_ptr_array_add (cmd->args, g_variant_get_data_as_bytes (boxed));
}

GBytes *
mproc_redis_cmd_encode (MprocRedisCmd *cmd)
{
  g_autofree const char **argv = g_new (const char *, cmd->args->len);
  g_autofree size_t *lens = g_new (size_t, cmd->args->len);
  char *out = NULL;
  int n;

  for (guint i = 0; i < cmd->args->len; i++)
    {
      gsize size;

      argv[i] = g_bytes_get_data (cmd->args->pdata[i], &size);
      lens[i] = size;
      if (argv[i] == NULL)
        argv[i] = "";
    }
  n = redisFormatCommandArgv (&out, cmd->args->len, argv, lens);
  if (n < 0)
    g_error ("mproc: out of memory encoding a Redis command");
  /* hiredis's allocation, given to GBytes with its own free */
  return g_bytes_new_with_free_func (out, n, (GDestroyNotify) redisFreeCommand, out);
}

void
mproc_redis_set_malformed (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("The Redis server sent a malformed reply"));
}

gboolean
mproc_redis_reply_check (redisReply  *reply,
                         GError     **error)
{
  const char *text;

  if (reply->type != REDIS_REPLY_ERROR)
    return TRUE;
  text = reply->str != NULL ? reply->str : "";
  if (g_str_has_prefix (text, "NOAUTH") || g_str_has_prefix (text, "WRONGPASS"))
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                 _("The Redis server refused the credentials: %s"), text);
  else if (g_str_has_prefix (text, "NOPERM"))
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                 _("The Redis user may not do this: %s"), text);
  else if (strstr (text, "MPROC_NOTFOUND") != NULL)
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                 _("No such item (%s)"), text);
  else if (strstr (text, "MPROC_TYPE") != NULL)
    g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                         _("A Redis key holds a value of another type"));
  else if (g_str_has_prefix (text, "WRONGTYPE"))
    g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                         _("A Redis key holds a value of another type"));
  else
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                 _("The Redis server failed the command: %s"), text);
  return FALSE;
}

GVariant *
mproc_redis_reply_boxed (const char  *data,
                         gsize        size,
                         GError     **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) boxed = NULL;

  /* written by anyone with access to the key: checked, never trusted */
  if (data == NULL || size == 0)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  bytes = g_bytes_new (data, size);
  boxed = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, bytes, FALSE));
  if (!g_variant_is_normal_form (boxed))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A value stored in Redis is not a valid serialised GVariant"));
      return NULL;
    }
  return g_steal_pointer (&boxed);
}
