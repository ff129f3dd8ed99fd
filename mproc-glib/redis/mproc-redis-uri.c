/* mproc-redis-uri.c: where a Redis server is, from a URI
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-redis-client-private.h"

#define DEFAULT_PREFIX        "mproc"
#define DEFAULT_TIMEOUT_USEC  (10 * G_USEC_PER_SEC)
#define DEFAULT_LEASE_USEC    (10 * G_USEC_PER_SEC)
#define DEFAULT_WORKER_LEASE_USEC (5 * G_USEC_PER_SEC)
#define MAX_PASSWORD_FILE     4096

void
mproc_redis_config_free (MprocRedisConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->uri);
  g_free (config->display);
  g_free (config->host);
  g_free (config->path);
  g_free (config->tls_ca);
  g_free (config->user);
  if (config->password != NULL)
    {
      /* a secret does not linger in freed memory */
      memset (config->password, 0, strlen (config->password));
      g_free (config->password);
    }
  g_free (config->prefix);
  g_free (config);
}

gboolean
mproc_redis_uri_is_redis (const char *address)
{
  return address != NULL &&
         (g_str_has_prefix (address, "redis://") || g_str_has_prefix (address, "rediss://") ||
          g_str_has_prefix (address, "valkey://") || g_str_has_prefix (address, "valkeys://") ||
          g_str_has_prefix (address, "unix:/"));
}

static void
set_bad_uri (GError    **error,
             const char *why)
{
  /* the URI itself may hold a password: never quoted */
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Invalid Redis address: %s"), why);
}

static gboolean
read_password_file (MprocRedisConfig  *config,
                    const char        *file,
                    GError           **error)
{
  g_autofree char *contents = NULL;
  gsize length;

  if (!g_file_get_contents (file, &contents, &length, error))
    return FALSE;
  if (length > MAX_PASSWORD_FILE || memchr (contents, '\0', length) != NULL)
    {
      memset (contents, 0, length);
      set_bad_uri (error, _("the password file is not a password"));
      return FALSE;
    }
  /* one line: a trailing newline is not part of it */
  while (length > 0 && (contents[length - 1] == '\n' || contents[length - 1] == '\r'))
    contents[--length] = '\0';
  g_free (config->password);
  config->password = g_strdup (contents);
  memset (contents, 0, length);
  return TRUE;
}

static gboolean
parse_query (MprocRedisConfig  *config,
             const char        *query,
             GError           **error)
{
  g_autoptr(GHashTable) params = NULL;
  GHashTableIter iter;
  gpointer key, value;

  if (query == NULL || query[0] == '\0')
    return TRUE;
  params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, error);
  if (params == NULL)
    return FALSE;
  g_hash_table_iter_init (&iter, params);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const char *name = key, *text = value;

      if (strcmp (name, "prefix") == 0)
        {
          if (text[0] == '\0' || strpbrk (text, "{}") != NULL)
            {
              set_bad_uri (error, _("a prefix must be non-empty and without braces"));
              return FALSE;
            }
          g_free (config->prefix);
          config->prefix = g_strdup (text);
        }
      else if (strcmp (name, "db") == 0)
        {
          guint64 db;

          if (!g_ascii_string_to_unsigned (text, 10, 0, 65535, &db, NULL))
            {
              set_bad_uri (error, _("the database is not a number"));
              return FALSE;
            }
          config->db = db;
        }
      else if (strcmp (name, "password-file") == 0)
        {
          if (!read_password_file (config, text, error))
            return FALSE;
        }
      else if (strcmp (name, "tls-ca") == 0)
        {
          if (!g_path_is_absolute (text))
            {
              set_bad_uri (error, _("the CA file must be an absolute path"));
              return FALSE;
            }
          g_free (config->tls_ca);
          config->tls_ca = g_strdup (text);
        }
      else if (strcmp (name, "worker-lease") == 0)
        {
          double seconds;
          char *end = NULL;

          seconds = g_ascii_strtod (text, &end);
          if (end == text || *end != '\0' || !(seconds >= 0.5) || seconds > 3600)
            {
              set_bad_uri (error, _("the worker lease is not a number of seconds (0.5 to 3600)"));
              return FALSE;
            }
          config->worker_lease_usec = (gint64) (seconds * G_USEC_PER_SEC);
        }
      else if (strcmp (name, "max-redeliveries") == 0)
        {
          guint64 n;

          if (!g_ascii_string_to_unsigned (text, 10, 0, 100, &n, NULL))
            {
              set_bad_uri (error, _("max-redeliveries is not a number from 0 to 100"));
              return FALSE;
            }
          config->max_redeliveries = (guint) n;
        }
      else if (strcmp (name, "timeout") == 0 || strcmp (name, "lease") == 0)
        {
          double seconds;
          char *end = NULL;

          seconds = g_ascii_strtod (text, &end);
          if (end == text || *end != '\0' || !(seconds > 0) || seconds > 86400)
            {
              set_bad_uri (error, _("the timeout is not a number of seconds"));
              return FALSE;
            }
          if (name[0] == 't')
            config->timeout_usec = (gint64) (seconds * G_USEC_PER_SEC);
          else
            config->lease_usec = MAX ((gint64) (seconds * G_USEC_PER_SEC), 30 * 1000);
        }
      else if (strcmp (name, "user") == 0)
        {
          g_free (config->user);
          config->user = g_strdup (text);
        }
      else
        {
          g_autofree char *why = g_strdup_printf (_("unknown parameter “%s”"), name);

          set_bad_uri (error, why);
          return FALSE;
        }
    }
  return TRUE;
}

MprocRedisConfig *
mproc_redis_config_parse (const char  *uri,
                          GError     **error)
{
  g_autoptr(MprocRedisConfig) config = g_new0 (MprocRedisConfig, 1);

  config->uri = g_strdup (uri);
  config->prefix = g_strdup (DEFAULT_PREFIX);
  config->timeout_usec = DEFAULT_TIMEOUT_USEC;
  config->lease_usec = DEFAULT_LEASE_USEC;
  config->worker_lease_usec = DEFAULT_WORKER_LEASE_USEC;

  if (g_str_has_prefix (uri, "unix:"))
    {
      const char *q = strchr (uri, '?');
      g_autofree char *path = g_strndup (uri + 5, q != NULL ? (gsize) (q - uri - 5) : strlen (uri + 5));

      if (!g_path_is_absolute (path))
        {
          set_bad_uri (error, _("a unix socket path must be absolute"));
          return NULL;
        }
      config->path = g_uri_unescape_string (path, NULL);
      if (config->path == NULL)
        {
          set_bad_uri (error, _("bad escape in the path"));
          return NULL;
        }
      config->display = g_strdup (config->path);
      if (!parse_query (config, q != NULL ? q + 1 : NULL, error))
        return NULL;
      return g_steal_pointer (&config);
    }
  else
    {
      g_autoptr(GUri) parsed = NULL;
      const char *scheme, *path, *userinfo;

      parsed = g_uri_parse (uri, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_QUERY, NULL);
      if (parsed == NULL)
        {
          set_bad_uri (error, _("not a URI"));
          return NULL;
        }
      scheme = g_uri_get_scheme (parsed);
      if (strcmp (scheme, "rediss") == 0 || strcmp (scheme, "valkeys") == 0)
        config->tls = TRUE;
      else if (strcmp (scheme, "redis") != 0 && strcmp (scheme, "valkey") != 0)
        {
          set_bad_uri (error, _("the scheme must be redis, rediss, valkey, valkeys or unix"));
          return NULL;
        }
      if (g_uri_get_host (parsed) == NULL || g_uri_get_host (parsed)[0] == '\0')
        {
          set_bad_uri (error, _("no host"));
          return NULL;
        }
      config->host = g_strdup (g_uri_get_host (parsed));
      config->port = g_uri_get_port (parsed) > 0 ? g_uri_get_port (parsed) : 6379;
      config->display = g_strdup_printf ("%s:%u", config->host, config->port);
      userinfo = g_uri_get_user (parsed);
      if (userinfo != NULL && userinfo[0] != '\0')
        config->user = g_strdup (userinfo);
      if (g_uri_get_password (parsed) != NULL)
        config->password = g_strdup (g_uri_get_password (parsed));
      path = g_uri_get_path (parsed);
      if (path != NULL && path[0] == '/' && path[1] != '\0')
        {
          guint64 db;

          if (!g_ascii_string_to_unsigned (path + 1, 10, 0, 65535, &db, NULL))
            {
              set_bad_uri (error, _("the database is not a number"));
              return NULL;
            }
          config->db = db;
        }
      if (!parse_query (config, g_uri_get_query (parsed), error))
        return NULL;
      return g_steal_pointer (&config);
    }
}
