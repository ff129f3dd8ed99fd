/* mproc-redis-manager.c: a manager whose objects live in Redis
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <unistd.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-manager.h"
#include "mproc-redis-private.h"

static void
backend_free (gpointer data)
{
  MprocRedisBackend *backend = data;

  g_clear_pointer (&backend->client, mproc_redis_client_unref);
  mproc_redis_config_free (backend->config);
  g_free (backend);
}

static MprocRedisBackend *
backend_new (MprocRedisConfig *config)
{
  MprocRedisBackend *backend = g_new0 (MprocRedisBackend, 1);

  backend->config = config;
  backend->uri_timeout_usec = config->timeout_usec;
  backend->client = mproc_redis_client_new (config, mproc_redis_scripts);
  return backend;
}

/* --- This process's managers by URI, for handles ------------------------- */

G_LOCK_DEFINE_STATIC (managers);
static GHashTable *managers;   /* uri -> MprocManager* (weak) */

static void
manager_gone (gpointer  data,
              GObject  *where)
{
  char *uri = data;

  G_LOCK (managers);
  if (managers != NULL && g_hash_table_lookup (managers, uri) == (gpointer) where)
    g_hash_table_remove (managers, uri);
  G_UNLOCK (managers);
  g_free (uri);
}

/* Makes @manager the one handles for @uri find in this process, unless
 * there is one already. */
static void
remember_manager (MprocManager *manager,
                  const char   *uri)
{
  G_LOCK (managers);
  if (managers == NULL)
    managers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!g_hash_table_contains (managers, uri))
    {
      g_hash_table_insert (managers, g_strdup (uri), manager);
      g_object_weak_ref (G_OBJECT (manager), manager_gone, g_strdup (uri));
    }
  G_UNLOCK (managers);
}

static MprocManager *
manager_new (MprocRedisConfig *config)
{
  MprocManager *manager = g_object_new (MPROC_TYPE_MANAGER, NULL);
  MprocRedisBackend *backend = backend_new (config);

  mproc_manager_set_transport (manager, &mproc_redis_transport, backend, backend_free);
  remember_manager (manager, config->uri);
  return manager;
}

/* The backend for @uri (the value of MPROC_MANAGER_URI), not connected. */
static MprocRedisBackend *
env_backend_new (const char  *uri,
                 GError     **error)
{
  MprocRedisConfig *config;

  if (!mproc_redis_uri_is_redis (uri))
    {
      /* the variable's value may hold a password: it is not repeated */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%s is not a Redis address (redis://, rediss://, valkey://, valkeys:// or unix:/)"),
                   MPROC_MANAGER_URI_ENV);
      return NULL;
    }
  config = mproc_redis_config_parse (uri, error);
  return config != NULL ? backend_new (config) : NULL;
}

static void
bind_backend (MprocManager      *manager,
              MprocRedisBackend *backend)
{
  mproc_manager_set_transport (manager, &mproc_redis_transport, backend, backend_free);
  remember_manager (manager, backend->config->uri);
}

gboolean
mproc_redis_manager_start_for_uri (MprocManager  *manager,
                                   const char    *uri,
                                   GCancellable  *cancellable,
                                   GError       **error)
{
  MprocRedisBackend *backend = env_backend_new (uri, error);

  if (backend == NULL)
    return FALSE;
  if (!mproc_redis_client_connect (backend->client, cancellable, error))
    {
      backend_free (backend);
      return FALSE;
    }
  bind_backend (manager, backend);
  return TRUE;
}

static void
env_connected_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MprocRedisBackend *backend = g_task_get_task_data (task);
  GError *error = NULL;

  if (!mproc_redis_client_connect_finish (backend->client, result, &error))
    {
      backend_free (backend);
      g_task_return_error (task, error);
      return;
    }
  bind_backend (g_task_get_source_object (task), backend);
  g_task_return_boolean (task, TRUE);
}

void
mproc_redis_manager_start_for_uri_async (MprocManager  *manager,
                                         const char    *uri,
                                         GTask         *task)
{
  MprocRedisBackend *backend;
  GError *error = NULL;

  backend = env_backend_new (uri, &error);
  if (backend == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* freed or bound by env_connected_cb, which always runs */
  g_task_set_task_data (task, backend, NULL);
  mproc_redis_client_connect_async (backend->client, g_task_get_cancellable (task), env_connected_cb, task);
}

gboolean
mproc_redis_uri_matches (const char *address)
{
  return mproc_redis_uri_is_redis (address);
}

MprocManager *
mproc_redis_manager_for_uri (const char  *uri,
                             GError     **error)
{
  MprocRedisConfig *config;
  MprocManager *manager = NULL;

  G_LOCK (managers);
  if (managers != NULL)
    manager = g_hash_table_lookup (managers, uri);
  if (manager != NULL)
    manager = g_object_ref (manager);
  G_UNLOCK (managers);
  if (manager != NULL)
    return manager;
  config = mproc_redis_config_parse (uri, error);
  if (config == NULL)
    return NULL;
  return manager_new (config);
}

/**
 * mproc_manager_new_for_uri:
 * @uri: where the shared objects live: `redis://[user[:password]@]host[:port][/db]`,
 *   `rediss://…` (TLS), `unix:/path/to/redis.sock`, or `valkey://`, `valkeys://`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Connects to a Redis (≥ 7.0) or Valkey (≥ 7.2) server and returns a manager
 * whose #MprocDict, #MprocList and #MprocNamespace objects live there, with
 * the same API as those of a local manager: processes on any host that
 * open the same URI and create an object of the same name share it.
 *
 * The URI may carry `?prefix=` (keys start with it; `mproc` by default),
 * `?db=`, `?password-file=` (a file holding the password, better than a
 * password in the URI), `?user=`, `?tls-ca=` (an absolute path to the CA
 * certificates for `rediss://`) and `?timeout=` (seconds each call may
 * take; 10 by default).  The manager has no server process of its own:
 * [method@Mproc.Manager.start] and [method@Mproc.Manager.shutdown] do not apply.
 *
 * A server gone or unreachable makes every call fail with
 * %MPROC_ERROR_BROKEN within its timeout; refused credentials or a
 * command the ACL user may not run give %MPROC_ERROR_ACCESS_DENIED.
 *
 * Returns: (transfer full): a connected manager, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_manager_new_for_uri (const char    *uri,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_autoptr(MprocManager) manager = NULL;
  MprocRedisConfig *config;
  MprocRedisBackend *backend;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (uri == NULL || !mproc_redis_uri_is_redis (uri))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Not a Redis address (redis://, rediss://, valkey://, valkeys:// or unix:/)"));
      return NULL;
    }
  config = mproc_redis_config_parse (uri, error);
  if (config == NULL)
    return NULL;
  manager = manager_new (config);
  backend = mproc_manager_get_transport_data (manager);
  if (!mproc_redis_client_connect (backend->client, cancellable, error))
    return NULL;
  return g_steal_pointer (&manager);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MprocManager *manager = g_task_get_task_data (task);
  MprocRedisBackend *backend = mproc_manager_get_transport_data (manager);
  GError *error = NULL;

  if (!mproc_redis_client_connect_finish (backend->client, result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_object_ref (manager), g_object_unref);
}

/**
 * mproc_manager_new_for_uri_async:
 * @uri: where the shared objects live (see [ctor@Mproc.Manager.new_for_uri])
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when connected
 * @user_data: data for @callback
 *
 * Connects as [ctor@Mproc.Manager.new_for_uri] does, without blocking, from the
 * thread-default main context of the caller.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_new_for_uri_async (const char          *uri,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  MprocRedisConfig *config;
  MprocManager *manager;
  MprocRedisBackend *backend;
  GError *error = NULL;

  g_task_set_source_tag (task, mproc_manager_new_for_uri_async);
  if (uri == NULL || !mproc_redis_uri_is_redis (uri))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("Not a Redis address (redis://, rediss://, valkey://, valkeys:// or unix:/)"));
      return;
    }
  config = mproc_redis_config_parse (uri, &error);
  if (config == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  manager = manager_new (config);
  g_task_set_task_data (task, manager, g_object_unref);
  backend = mproc_manager_get_transport_data (manager);
  mproc_redis_client_connect_async (backend->client, cancellable, connected_cb, g_steal_pointer (&task));
}

/**
 * mproc_manager_new_for_uri_finish:
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Mproc.Manager.new_for_uri_async].
 *
 * Returns: (transfer full): a connected manager, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_manager_new_for_uri_finish (GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_new_for_uri_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- The transport entry ------------------------------------------------------ */

static MprocRedisObject *
object_new (MprocRedisBackend *backend,
            MprocManagerKind   kind,
            guint64            id)
{
  MprocRedisObject *obj = g_new0 (MprocRedisObject, 1);
  const char *prefix = backend->config->prefix;

  obj->backend = backend;
  obj->hkey = g_strdup_printf ("%s:{o%" G_GUINT64_FORMAT "}:%s", prefix, id,
                               kind == MPROC_MANAGER_KIND_LIST ? "l" : "h");
  obj->vkey = g_strdup_printf ("%s:{o%" G_GUINT64_FORMAT "}:v", prefix, id);
  obj->ckey = g_strdup_printf ("%s:{o%" G_GUINT64_FORMAT "}:c", prefix, id);
  obj->okey = g_strdup_printf ("%s:{o%" G_GUINT64_FORMAT "}:o", prefix, id);
  obj->nkey = g_strdup_printf ("%s:{o%" G_GUINT64_FORMAT "}:n", prefix, id);
  return obj;
}

static gboolean
transport_open (MprocProxyCore  *core,
                const char      *name,
                GCancellable    *cancellable,
                GError         **error)
{
  MprocRedisBackend *backend = mproc_manager_get_transport_data (core->manager);
  const char *prefix = backend->config->prefix;
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("EVALSHA");
  g_autoptr(redisReply) reply = NULL;
  g_autofree char *names = g_strdup_printf ("%s:{meta}:names", prefix);
  g_autofree char *ids = g_strdup_printf ("%s:{meta}:ids", prefix);
  g_autofree char *label = NULL;

  mproc_redis_cmd_add_str (cmd, mproc_redis_client_script_sha (backend->client, SCRIPT_CREATE));
  mproc_redis_cmd_add_str (cmd, "2");
  mproc_redis_cmd_add_str (cmd, names);
  mproc_redis_cmd_add_str (cmd, ids);
  label = name != NULL && name[0] != '\0' ? g_strdup_printf ("%u:%s", core->kind, name) : g_strdup ("");
  mproc_redis_cmd_add_str (cmd, label);
  reply = mproc_redis_client_call (backend->client, cmd, -1, cancellable, error);
  if (reply == NULL)
    return FALSE;
  if (reply->type != REDIS_REPLY_INTEGER || reply->integer <= 0)
    {
      mproc_redis_set_malformed (error);
      return FALSE;
    }
  core->id = reply->integer;
  core->remote = object_new (backend, core->kind, core->id);
  core->ref_pid = getpid ();
  return TRUE;
}

static gboolean
transport_attach (MprocProxyCore  *core,
                  GError         **error)
{
  core->remote = object_new (mproc_manager_get_transport_data (core->manager), core->kind, core->id);
  core->ref_pid = getpid ();
  return TRUE;
}

static void
transport_close (MprocProxyCore *core)
{
  MprocRedisObject *obj = g_steal_pointer (&core->remote);

  if (obj == NULL)
    return;
  g_free (obj->hkey);
  g_free (obj->vkey);
  g_free (obj->ckey);
  g_free (obj->okey);
  g_free (obj->nkey);
  g_free (obj);
}

/* The manager's timeout, for the calls of its main connection and of the
 * blocking connections opened from now on. */
static void
transport_set_timeout (MprocManager *manager,
                       int           timeout_ms)
{
  MprocRedisBackend *backend = mproc_manager_get_transport_data (manager);
  gint64 usec = timeout_ms < 0 ? backend->uri_timeout_usec : MAX ((gint64) timeout_ms * 1000, 1);

  backend->config->timeout_usec = usec;
  mproc_redis_client_set_timeout (backend->client, usec);
}

static const char *
transport_address (MprocManager *manager)
{
  MprocRedisBackend *backend = mproc_manager_get_transport_data (manager);

  return backend->config->uri;
}

const MprocManagerTransport mproc_redis_transport = {
  .name = "redis",
  .open = transport_open,
  .attach = transport_attach,
  .call = mproc_redis_ops_call,
  .call_async = mproc_redis_ops_call_async,
  .watch = mproc_redis_watch,
  .resync = mproc_redis_resync,
  .unwatch = mproc_redis_unwatch,
  .is_watched = mproc_redis_is_watched,
  .close = transport_close,
  .address = transport_address,
  .claims = mproc_redis_uri_matches,
  .manager_for_address = mproc_redis_manager_for_uri,
  .set_timeout = transport_set_timeout,
};

MprocRedisBackend *
mproc_redis_backend_for (MprocManager  *manager,
                         GError       **error)
{
  if (mproc_manager_get_transport (manager) != &mproc_redis_transport)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("Only a manager made for a Redis URI makes this object"));
      return NULL;
    }
  return mproc_manager_get_transport_data (manager);
}

MprocRedisCmd *
mproc_redis_eval (MprocRedisClient *client,
                  MprocRedisScript  script,
                  ...)
{
  MprocRedisCmd *cmd = mproc_redis_cmd_new ("EVALSHA");
  g_autoptr(GPtrArray) keys = g_ptr_array_new ();
  const char *key;
  va_list ap;

  va_start (ap, script);
  while ((key = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (keys, (gpointer) key);
  va_end (ap);
  mproc_redis_cmd_add_str (cmd, mproc_redis_client_script_sha (client, script));
  mproc_redis_cmd_add_int (cmd, keys->len);
  for (guint i = 0; i < keys->len; i++)
    mproc_redis_cmd_add_str (cmd, keys->pdata[i]);
  return cmd;
}
