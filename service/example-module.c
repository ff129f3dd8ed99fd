/* example-module.c: an example module of mproc-worker-service (tests,
 * benchmarks and the README use it; it is not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Targets:
 *   example.double     chunk target: x -> 2 * x over packed `ax` (the
 *                      fast path for tiny tasks); any other item type is
 *                      refused with MPROC_ERROR_INVALID_MESSAGE
 *   example.echo       returns its argument
 *   example.fail       fails with MPROC_ERROR_NOT_FOUND, message = its
 *                      string argument
 *   example.sleep      (u ms): sleeps, then returns ms
 *   example.fail-own   (s domain, i code, s message): fails with that
 *                      error domain (a module's own, or any other), to
 *                      show how errors of any domain cross the bus
 *   example.pid-sleep  (s path, u ms): writes the worker's pid to path
 *                      (when not empty), sleeps, returns ms; lets a test
 *                      find and kill the worker running it
 */

#include <stdio.h>
#include <unistd.h>

#include <mproc.h>

#include "mproc-worker-module.h"

static GVariant *
double_chunk (GVariant  *items,
              gpointer   user_data,
              GError   **error)
{
  const gint64 *in;
  gint64 *out;
  gsize n = 0;

  if (!g_variant_is_of_type (items, G_VARIANT_TYPE ("ax")))
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                   "example.double takes int64 items, not “%s”",
                   g_variant_get_type_string (items) + 1);
      return NULL;
    }
  in = g_variant_get_fixed_array (items, &n, sizeof (gint64));
  out = g_new (gint64, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    out[i] = 2 * in[i];
  return g_variant_new_from_data (G_VARIANT_TYPE ("ax"), out, n * sizeof (gint64), TRUE, g_free, out);
}

static GVariant *
echo (GVariant  *arg,
      gpointer   user_data,
      GError   **error)
{
  return g_variant_ref (arg);
}

static GVariant *
fail (GVariant  *arg,
      gpointer   user_data,
      GError   **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                       g_variant_is_of_type (arg, G_VARIANT_TYPE_STRING)
                       ? g_variant_get_string (arg, NULL) : "example.fail");
  return NULL;
}

static GVariant *
fail_own (GVariant  *arg,
          gpointer   user_data,
          GError   **error)
{
  const char *domain, *message;
  gint32 code;

  if (!g_variant_is_of_type (arg, G_VARIANT_TYPE ("(sis)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE, "example.fail-own takes (sis)");
      return NULL;
    }
  g_variant_get (arg, "(&si&s)", &domain, &code, &message);
  g_set_error_literal (error, g_quark_from_string (domain), code, message);
  return NULL;
}

static GVariant *
sleep_ms (GVariant  *arg,
          gpointer   user_data,
          GError   **error)
{
  guint32 ms;

  if (!g_variant_is_of_type (arg, G_VARIANT_TYPE ("(u)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE, "example.sleep takes (u)");
      return NULL;
    }
  g_variant_get (arg, "(u)", &ms);
  g_usleep ((gulong) ms * 1000);
  return g_variant_new_uint32 (ms);
}

static GVariant *
pid_sleep (GVariant  *arg,
           gpointer   user_data,
           GError   **error)
{
  const char *path;
  guint32 ms;

  if (!g_variant_is_of_type (arg, G_VARIANT_TYPE ("(su)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE, "example.pid-sleep takes (su)");
      return NULL;
    }
  g_variant_get (arg, "(&su)", &path, &ms);
  if (path[0] != '\0')
    {
      g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());

      if (!g_file_set_contents (path, pid, -1, error))
        return NULL;
    }
  g_usleep ((gulong) ms * 1000);
  return g_variant_new_uint32 (ms);
}

G_MODULE_EXPORT gboolean
mproc_worker_module_init (GError **error)
{
  mproc_register_chunk_task ("example.double", double_chunk, NULL, NULL);
  mproc_register_task ("example.echo", echo, NULL, NULL);
  mproc_register_task ("example.fail", fail, NULL, NULL);
  mproc_register_task ("example.fail-own", fail_own, NULL, NULL);
  mproc_register_task ("example.sleep", sleep_ms, NULL, NULL);
  mproc_register_task ("example.pid-sleep", pid_sleep, NULL, NULL);
  return TRUE;
}
