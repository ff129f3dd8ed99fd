/* mproc-worker.c: a worker of a pool on Redis, for any host
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   mproc-worker --uri redis://host:6379/0 --pool thumbnails -j 8 -m DIR
 *
 * Loads the target modules of DIR (as mproc-worker-service does: before
 * mproc_init(), since workers may execute this program again) and serves
 * the pool with mproc_pool_serve_for_uri().  The URI may come from
 * MPROC_POOL_URI instead, which keeps a password out of the command line
 * (the systemd unit reads it from an environment file).
 *
 * SIGTERM and SIGINT are a warm shutdown: the chunks running finish, the
 * others go back to the pool.  A second one exits at once.  serve runs in
 * a thread of its own so that the main thread's loop can take the signals.
 */

#include "config.h"

#include <locale.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <mproc.h>

#include "mproc-worker-modules.h"

typedef struct
{
  char         *uri;
  char         *pool;
  char        **modules_dirs;
  char         *host;
  int           processes;
  GCancellable *cancellable;
  GMainLoop    *loop;
  GError       *error;
  guint         n_signals;
} Worker;

static gboolean
signal_cb (gpointer user_data)
{
  Worker *w = user_data;

  if (++w->n_signals > 1)
    _exit (1);   /* the local processes follow: they hold our lifeline */
  g_printerr (_("mproc-worker: finishing the running tasks (again to quit now)\n"));
  g_cancellable_cancel (w->cancellable);
  return G_SOURCE_CONTINUE;
}

static gboolean
served_cb (gpointer user_data)
{
  g_main_loop_quit (((Worker *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

static gpointer
serve_thread (gpointer data)
{
  Worker *w = data;

  mproc_pool_serve_for_uri (w->uri, w->pool, (guint) w->processes, w->cancellable, &w->error);
  g_idle_add (served_cb, w);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  Worker w = { NULL, };
  guint n_modules = 0;
  GThread *thread;
  const GOptionEntry entries[] = {
    { "uri", 'u', 0, G_OPTION_ARG_STRING, &w.uri,
      N_("Redis server of the pool (default: $MPROC_POOL_URI)"), N_("URI") },
    { "pool", 'p', 0, G_OPTION_ARG_STRING, &w.pool,
      N_("Name of the pool (default: “default”)"), N_("NAME") },
    { "processes", 'j', 0, G_OPTION_ARG_INT, &w.processes,
      N_("Local worker processes (default: one per CPU)"), N_("N") },
    { "modules-dir", 'm', 0, G_OPTION_ARG_FILENAME_ARRAY, &w.modules_dirs,
      N_("Load the target modules (*.so) of this directory (may be repeated)"), N_("DIR") },
    { "host", 0, 0, G_OPTION_ARG_STRING, &w.host,
      N_("Host name shown in the list of workers (default: this machine’s)"), N_("NAME") },
    G_OPTION_ENTRY_NULL
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Everything before mproc_init() runs again in re-executed workers:
   * the same options, the same modules, the same targets. */
  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Runs the tasks of a pool on Redis, on this host."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  /* mproc_init() takes its own arguments after us */
  g_option_context_set_ignore_unknown_options (context, TRUE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    goto fail;
  if (w.uri == NULL)
    w.uri = g_strdup (g_getenv ("MPROC_POOL_URI"));
  if (w.uri == NULL)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("No Redis URI: give --uri or set MPROC_POOL_URI"));
      goto fail;
    }
  if (w.pool == NULL)
    w.pool = g_strdup ("default");
  if (w.processes < 0)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           _("The number of processes cannot be negative"));
      goto fail;
    }
  if (w.modules_dirs == NULL)
    w.modules_dirs = g_strdupv ((char *[]) { (char *) MODULESDIR, NULL });
  if (!mproc_worker_load_modules (w.modules_dirs, &n_modules, &error))
    goto fail;
  if (w.host != NULL)
    g_setenv ("MPROC_WORKER_HOST", w.host, TRUE);

  mproc_init (&argc, &argv);   /* a re-executed worker runs its target in here */

  w.cancellable = g_cancellable_new ();
  w.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, signal_cb, &w);
  g_unix_signal_add (SIGINT, signal_cb, &w);
  thread = g_thread_new ("mproc-worker", serve_thread, &w);
  g_main_loop_run (w.loop);
  g_thread_join (thread);

  if (g_error_matches (w.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_clear_error (&w.error);
  if (w.error != NULL)
    g_printerr ("mproc-worker: %s\n", w.error->message);
  g_clear_object (&w.cancellable);
  g_main_loop_unref (w.loop);
  g_free (w.uri);
  g_free (w.pool);
  g_free (w.host);
  g_strfreev (w.modules_dirs);
  if (w.error != NULL)
    {
      g_clear_error (&w.error);
      return 1;
    }
  return 0;

fail:
  g_printerr ("mproc-worker: %s\n", error->message);
  g_free (w.uri);
  g_free (w.pool);
  g_free (w.host);
  g_strfreev (w.modules_dirs);
  return 2;
}
