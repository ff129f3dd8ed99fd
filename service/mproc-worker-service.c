/* mproc-worker-service.c: a D-Bus service that serves a pool of worker
 * processes to any client of the session bus
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Start-up order matters: under the spawn and forkserver start methods
 * each worker (and the fork server) executes this program again with the
 * same arguments and environment, and runs its target from inside
 * mproc_init().  So the options are parsed and the modules loaded (their
 * targets registered) *before* mproc_init(), identically in every process;
 * everything that only the service itself does (logging, the bus, the
 * pool) comes after it.
 */

#define G_LOG_USE_STRUCTURED 1

#include "config.h"

#include <locale.h>
#include <stdlib.h>

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <gmodule.h>
#include <mproc.h>

#include "mproc-worker-module.h"
#include "mproc-worker-modules.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mproc-worker-service"

#define DEFAULT_BUS_NAME     "org.gnome.Mproc.WorkerService"
#define DEFAULT_OBJECT_PATH  "/org/gnome/Mproc/Pool"
#define DEFAULT_IDLE_TIMEOUT 30
#define CONFIG_GROUP         "Service"

typedef struct
{
  char    *bus_name;
  char    *object_path;
  char   **modules_dirs;
  char    *start_method;
  int      workers;
  int      idle_timeout;
  int      max_queued;
  gint64   max_message_size;
} Options;

typedef struct
{
  Options         *options;
  GMainLoop       *loop;
  GDBusConnection *connection;
  MprocPool       *pool;
  guint            export_id;
  guint            owner_id;
  GSource         *idle_source;
  GMutex           activity_lock;
  gint64           last_activity;   /* monotonic µs, under activity_lock: the filter bumps it */
  guint            filter_id;
  int              status;
  gboolean         name_acquired;
} Service;

static void
options_clear (Options *o)
{
  g_free (o->bus_name);
  g_free (o->object_path);
  g_strfreev (o->modules_dirs);
  g_free (o->start_method);
}

/* --- Options and configuration --------------------------------------------- */

/* Fills what the command line left unset from the key file, if any:
 *
 *   [Service]
 *   BusName=org.gnome.Mproc.WorkerService
 *   ObjectPath=/org/gnome/Mproc/Pool
 *   ModulesDir=/usr/lib/x86_64-linux-gnu/mproc-worker-service/modules
 *   Workers=0
 *   IdleTimeout=30
 *   MaxQueuedPerCaller=1000000
 *   MaxMessageSize=67108864
 *   StartMethod=forkserver
 */
static gboolean
load_config (Options     *o,
             const char  *path,
             gboolean     required,
             GError     **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local_error))
    {
      if (!required && g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, local_error->domain, local_error->code,
                   _("Cannot read the configuration file “%s”: %s"), path, local_error->message);
      return FALSE;
    }

#define STRING_KEY(field, key) \
  if (o->field == NULL && g_key_file_has_key (kf, CONFIG_GROUP, key, NULL)) \
    o->field = g_key_file_get_string (kf, CONFIG_GROUP, key, NULL);
#define INT_KEY(field, key) \
  if (o->field < 0 && g_key_file_has_key (kf, CONFIG_GROUP, key, NULL)) \
    { \
      o->field = g_key_file_get_integer (kf, CONFIG_GROUP, key, &local_error); \
      if (local_error != NULL || o->field < 0) \
        { \
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, \
                       _("Invalid value for %s in “%s”"), key, path); \
          return FALSE; \
        } \
    }

  STRING_KEY (bus_name, "BusName")
  STRING_KEY (object_path, "ObjectPath")
  STRING_KEY (start_method, "StartMethod")
  INT_KEY (workers, "Workers")
  INT_KEY (idle_timeout, "IdleTimeout")
  INT_KEY (max_queued, "MaxQueuedPerCaller")
  if (o->modules_dirs == NULL && g_key_file_has_key (kf, CONFIG_GROUP, "ModulesDir", NULL))
    o->modules_dirs = g_key_file_get_string_list (kf, CONFIG_GROUP, "ModulesDir", NULL, NULL);
  if (o->max_message_size < 0 && g_key_file_has_key (kf, CONFIG_GROUP, "MaxMessageSize", NULL))
    {
      o->max_message_size = g_key_file_get_int64 (kf, CONFIG_GROUP, "MaxMessageSize", &local_error);
      if (local_error != NULL || o->max_message_size < 0)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       _("Invalid value for %s in “%s”"), "MaxMessageSize", path);
          return FALSE;
        }
    }
#undef STRING_KEY
#undef INT_KEY
  return TRUE;
}

static gboolean
parse_options (Options   *o,
               int       *argc,
               char    ***argv,
               GError   **error)
{
  g_autofree char *config = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    { "bus-name", 'n', 0, G_OPTION_ARG_STRING, &o->bus_name,
      /* xgettext cannot see through a macro: the defaults are spelt out */
      N_("The well-known name to own on the session bus (default org.gnome.Mproc.WorkerService)"), N_("NAME") },
    { "object-path", 0, 0, G_OPTION_ARG_STRING, &o->object_path,
      N_("Where to export the pool (default /org/gnome/Mproc/Pool)"), N_("PATH") },
    { "modules-dir", 'm', 0, G_OPTION_ARG_FILENAME_ARRAY, &o->modules_dirs,
      N_("Load the target modules (*.so) of this directory (may be repeated)"), N_("DIR") },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
      N_("Read settings from this key file (group [Service])"), N_("FILE") },
    { "workers", 'w', 0, G_OPTION_ARG_INT, &o->workers,
      N_("Number of worker processes (default: one per CPU)"), N_("N") },
    { "idle-timeout", 't', 0, G_OPTION_ARG_INT, &o->idle_timeout,
      N_("Exit after this many idle seconds, 0 for never (default 30)"), N_("SECONDS") },
    { "max-queued", 0, 0, G_OPTION_ARG_INT, &o->max_queued,
      N_("Tasks one caller may have queued, 0 for no limit (default 1000000)"), N_("N") },
    { "max-message-size", 0, 0, G_OPTION_ARG_INT64, &o->max_message_size,
      N_("Largest call taken, in bytes, 0 for no limit (default 64 MiB)"), N_("BYTES") },
    { "start-method", 0, 0, G_OPTION_ARG_STRING, &o->start_method,
      N_("How workers are started: fork, spawn or forkserver (default)"), N_("METHOD") },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;

  o->workers = o->idle_timeout = o->max_queued = -1;
  o->max_message_size = -1;

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                _("Serves a pool of worker processes on the session bus: D-Bus clients\n"
                                  "call the targets registered by the loaded modules (interface\n"
                                  "org.gnome.Mproc.Pool1)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;

  if (version)
    {
      g_print ("mproc-worker-service %s\n", PACKAGE_VERSION);
      exit (0);
    }

  if (config != NULL)
    {
      if (!load_config (o, config, TRUE, error))
        return FALSE;
    }
  else
    {
      g_autofree char *user = g_build_filename (g_get_user_config_dir (), "mproc-worker-service",
                                                "service.conf", NULL);

      if (!load_config (o, user, FALSE, error))
        return FALSE;
    }

  if (o->bus_name == NULL)
    o->bus_name = g_strdup (DEFAULT_BUS_NAME);
  if (o->object_path == NULL)
    o->object_path = g_strdup (DEFAULT_OBJECT_PATH);
  if (o->modules_dirs == NULL)
    o->modules_dirs = g_strdupv ((char *[]) { (char *) MODULESDIR, NULL });
  if (o->idle_timeout < 0)
    o->idle_timeout = DEFAULT_IDLE_TIMEOUT;
  if (o->workers < 0)
    o->workers = 0;

  if (!g_dbus_is_name (o->bus_name) || g_dbus_is_unique_name (o->bus_name))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("“%s” is not a valid well-known bus name"), o->bus_name);
      return FALSE;
    }
  if (!g_variant_is_object_path (o->object_path))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("“%s” is not a valid object path"), o->object_path);
      return FALSE;
    }
  if (o->start_method != NULL && !g_str_equal (o->start_method, "fork") &&
      !g_str_equal (o->start_method, "spawn") && !g_str_equal (o->start_method, "forkserver"))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("Unknown start method “%s”"), o->start_method);
      return FALSE;
    }
  return TRUE;
}

/* --- Idle exit ----------------------------------------------------------------- */

/* Runs in GDBus's worker thread for every message: note the activity. */
static GDBusMessage *
activity_filter (GDBusConnection *connection,
                 GDBusMessage    *message,
                 gboolean         incoming,
                 gpointer         user_data)
{
  Service *s = user_data;

  if (incoming && g_dbus_message_get_message_type (message) == G_DBUS_MESSAGE_TYPE_METHOD_CALL)
    {
      g_mutex_lock (&s->activity_lock);
      s->last_activity = g_get_monotonic_time ();
      g_mutex_unlock (&s->activity_lock);
    }
  return message;
}

static gint64
last_activity (Service *s)
{
  gint64 last;

  g_mutex_lock (&s->activity_lock);
  last = s->last_activity;
  g_mutex_unlock (&s->activity_lock);
  return last;
}

static gboolean
pool_is_idle (Service *s)
{
  guint busy = 0, queued = 0;

  g_object_get (s->pool, "busy", &busy, "queued", &queued, NULL);
  return busy == 0 && queued == 0;
}

static void
idle_rearm (Service *s)
{
  gint64 last = last_activity (s);

  if (s->idle_source == NULL)
    return;
  if (!pool_is_idle (s))
    g_source_set_ready_time (s->idle_source, -1);
  else
    g_source_set_ready_time (s->idle_source,
                             MAX (last, g_get_monotonic_time () - 1) + (gint64) s->options->idle_timeout * G_USEC_PER_SEC);
}

/* A source that runs its callback at its ready time, once per
 * g_source_set_ready_time() (a timeout source would re-arm itself). */
static gboolean
ready_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs ready_source_funcs = {
  NULL, NULL, ready_source_dispatch, NULL, NULL, NULL,
};

static gboolean
idle_cb (gpointer user_data)
{
  Service *s = user_data;
  gint64 last = last_activity (s);

  if (pool_is_idle (s) && g_get_monotonic_time () - last >= (gint64) s->options->idle_timeout * G_USEC_PER_SEC)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MPROC_EVENT", "idle-exit",
                        "MPROC_BUS_NAME", s->options->bus_name,
                        "MESSAGE", "Idle for %d s, exiting", s->options->idle_timeout);
      g_main_loop_quit (s->loop);
      return G_SOURCE_CONTINUE;
    }
  idle_rearm (s);
  return G_SOURCE_CONTINUE;
}

static void
load_changed_cb (GObject    *pool,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  idle_rearm (user_data);
}

/* --- The bus ----------------------------------------------------------------- */

static void
name_acquired_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  Service *s = user_data;

  s->name_acquired = TRUE;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "MPROC_EVENT", "ready",
                    "MPROC_BUS_NAME", name,
                    "MESSAGE", "Serving a pool of %u workers as %s at %s",
                    mproc_pool_get_processes (s->pool), name, s->options->object_path);
}

static void
name_lost_cb (GDBusConnection *connection,
              const char      *name,
              gpointer         user_data)
{
  Service *s = user_data;

  if (s->name_acquired)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "MPROC_EVENT", "name-lost",
                      "MPROC_BUS_NAME", name,
                      "MESSAGE", "Lost the name %s or the bus, exiting", name);
  else if (connection == NULL || g_dbus_connection_is_closed (connection))
    g_printerr (_("mproc-worker-service: cannot connect to the session bus\n"));
  else
    g_printerr (_("mproc-worker-service: the name “%s” is already owned on the session bus\n"), name);
  s->status = 1;
  g_main_loop_quit (s->loop);
}

static gboolean
quit_cb (gpointer user_data)
{
  Service *s = user_data;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "MPROC_EVENT", "signal",
                    "MESSAGE", "Terminated by a signal, exiting");
  g_main_loop_quit (s->loop);
  return G_SOURCE_CONTINUE;
}

static int
run_service (Options *o,
             guint    n_modules)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocContext) context = NULL;
  Service s = { o, };
  guint sigterm, sigint;

  s.loop = g_main_loop_new (NULL, FALSE);
  g_mutex_init (&s.activity_lock);
  s.last_activity = g_get_monotonic_time ();

  if (o->start_method != NULL)
    {
      MprocStartMethod method = g_str_equal (o->start_method, "fork") ? MPROC_START_METHOD_FORK
                              : g_str_equal (o->start_method, "spawn") ? MPROC_START_METHOD_SPAWN
                              : MPROC_START_METHOD_FORKSERVER;

      context = mproc_context_new (method);
    }
  s.pool = mproc_pool_new_full (context, (guint) o->workers, NULL, NULL, 0, &error);
  if (s.pool == NULL)
    {
      g_printerr (_("mproc-worker-service: cannot start the pool: %s\n"), error->message);
      return 1;
    }

  s.connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (s.connection == NULL)
    {
      g_printerr (_("mproc-worker-service: cannot connect to the session bus: %s\n"), error->message);
      g_clear_object (&s.pool);
      return 1;
    }
  g_dbus_connection_set_exit_on_close (s.connection, FALSE);
  s.filter_id = g_dbus_connection_add_filter (s.connection, activity_filter, &s, NULL);

  s.export_id = mproc_pool_export (s.pool, s.connection, o->object_path, &error);
  if (s.export_id == 0)
    {
      g_printerr (_("mproc-worker-service: cannot export the pool: %s\n"), error->message);
      g_dbus_connection_remove_filter (s.connection, s.filter_id);
      g_clear_object (&s.connection);
      g_clear_object (&s.pool);
      return 1;
    }
  mproc_pool_set_export_limits (s.pool, s.export_id,
                                o->max_queued >= 0 ? (guint) o->max_queued : MPROC_POOL_EXPORT_DEFAULT_MAX_QUEUED,
                                o->max_message_size >= 0 ? (guint64) o->max_message_size
                                                         : MPROC_POOL_EXPORT_DEFAULT_MAX_MESSAGE_SIZE);

  if (o->idle_timeout > 0)
    {
      s.idle_source = g_source_new (&ready_source_funcs, sizeof (GSource));
      g_source_set_static_name (s.idle_source, "mproc-worker-service idle exit");
      g_source_set_callback (s.idle_source, idle_cb, &s, NULL);
      g_source_attach (s.idle_source, NULL);
      g_signal_connect (s.pool, "notify::busy", G_CALLBACK (load_changed_cb), &s);
      g_signal_connect (s.pool, "notify::queued", G_CALLBACK (load_changed_cb), &s);
      idle_rearm (&s);
    }

  sigterm = g_unix_signal_add (SIGTERM, quit_cb, &s);
  sigint = g_unix_signal_add (SIGINT, quit_cb, &s);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "MPROC_EVENT", "modules",
                    "MESSAGE", "Loaded %u modules", n_modules);
  s.owner_id = g_bus_own_name_on_connection (s.connection, o->bus_name,
                                             G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                             name_acquired_cb, name_lost_cb, &s, NULL);

  g_main_loop_run (s.loop);

  /* Give the name back first, so that a new instance can be activated. */
  g_bus_unown_name (s.owner_id);
  mproc_pool_unexport (s.pool, s.export_id);
  g_signal_handlers_disconnect_by_data (s.pool, &s);
  g_source_remove (sigterm);
  g_source_remove (sigint);
  if (s.idle_source != NULL)
    {
      g_source_destroy (s.idle_source);
      g_source_unref (s.idle_source);
    }
  g_dbus_connection_flush_sync (s.connection, NULL, NULL);
  g_dbus_connection_remove_filter (s.connection, s.filter_id);

  mproc_pool_terminate (s.pool);
  mproc_pool_join (s.pool, -1, NULL, NULL);
  /* the export lets go of the pool once its cancelled calls are over */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&s.pool);
  g_clear_object (&s.connection);
  g_main_loop_unref (s.loop);
  g_mutex_clear (&s.activity_lock);
  return s.status;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  Options options = { NULL, };
  guint n_modules = 0;
  int status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Before mproc_init(): workers execute this program again and must
   * register the same targets (see the top of this file). */
  if (!parse_options (&options, &argc, &argv, &error) ||
      !mproc_worker_load_modules (options.modules_dirs, &n_modules, &error))
    {
      g_printerr ("mproc-worker-service: %s\n", error->message);
      options_clear (&options);
      return 1;
    }

  mproc_init (&argc, &argv);   /* a worker runs its target in here */

  status = run_service (&options, n_modules);
  options_clear (&options);
  return status;
}
