/* mproc-redis-watch.c: change signals from an object's change stream
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A watcher reads the object's change stream (mproc-redis-private.h) from
 * its last entry with XREAD BLOCK on a connection of its own, from the
 * main context of whoever started watching.  The connection lost, it
 * tries again every second from the same entry, so nothing is missed;
 * a gap in the versions (the stream was trimmed past it) is reported as
 * MANAGER_EVENT_LOST, after which the proxy starts from a snapshot.
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-redis-private.h"

#define RETRY_MSEC   1000
#define READ_COUNT   "256"

typedef struct
{
  gatomicrefcount      ref;
  GPid                 pid;
  MprocManagerKind     kind;
  char                *ckey;
  MprocRedisClient    *blocking;
  GWeakRef             proxy;
  MprocProxyEventFunc  func;
  GMainContext        *context;
  GCancellable        *cancellable;
  GMutex               lock;
  guint64              version;    /* under lock */
  char                *last_id;    /* under lock */
  GSource             *retry;
} RedisWatcher;

static RedisWatcher *
watcher_ref (RedisWatcher *w)
{
  g_atomic_ref_count_inc (&w->ref);
  return w;
}

static void
watcher_unref (RedisWatcher *w)
{
  if (!g_atomic_ref_count_dec (&w->ref))
    return;
  g_free (w->ckey);
  mproc_redis_client_unref (w->blocking);
  g_weak_ref_clear (&w->proxy);
  g_main_context_unref (w->context);
  g_object_unref (w->cancellable);
  g_mutex_clear (&w->lock);
  g_free (w->last_id);
  if (w->retry != NULL)
    {
      g_source_destroy (w->retry);
      g_source_unref (w->retry);
    }
  g_free (w);
}

GVariant *
mproc_redis_snapshot (MprocRedisObject  *obj,
                      MprocManagerKind   kind,
                      guint64           *version,
                      char             **last_id,
                      GCancellable      *cancellable,
                      GError           **error)
{
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_object_eval (obj, SCRIPT_SNAPSHOT);
  g_autoptr(redisReply) reply = NULL;
  GVariantBuilder builder;
  redisReply *items;

  mproc_redis_cmd_add_str (cmd, kind == MPROC_MANAGER_KIND_LIST ? "list" : "hash");
  reply = mproc_redis_client_call (obj->backend->client, cmd, -1, cancellable, error);
  if (reply == NULL)
    return NULL;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[0]->integer < 0 ||
      reply->element[1]->type != REDIS_REPLY_STRING ||
      reply->element[2]->type != REDIS_REPLY_ARRAY)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  items = reply->element[2];
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (size_t i = 0; i < items->elements; i++)
    {
      redisReply *e = items->element[i];
      GVariant *boxed = e->type == REDIS_REPLY_STRING ? mproc_redis_reply_boxed (e->str, e->len, NULL) : NULL;

      /* a malformed item shows as a unit, the rest of the list stays usable */
      if (boxed == NULL)
        boxed = g_variant_ref_sink (g_variant_new_variant (g_variant_new ("()")));
      g_variant_builder_add_value (&builder, boxed);
      g_variant_unref (boxed);
    }
  *version = reply->element[0]->integer;
  *last_id = g_strndup (reply->element[1]->str, reply->element[1]->len);
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static const char *
field (redisReply *fields,
       const char *name,
       gsize      *len)
{
  for (size_t i = 0; i + 1 < fields->elements; i += 2)
    if (fields->element[i]->type == REDIS_REPLY_STRING &&
        strcmp (fields->element[i]->str, name) == 0 &&
        fields->element[i + 1]->type == REDIS_REPLY_STRING)
      {
        if (len != NULL)
          *len = fields->element[i + 1]->len;
        return fields->element[i + 1]->str;
      }
  return NULL;
}

static guint64
field_uint (redisReply *fields,
            const char *name,
            gboolean   *ok)
{
  const char *text = field (fields, name, NULL);
  guint64 value = 0;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, &value, NULL))
    *ok = FALSE;
  return value;
}

/* One change entry as the event the proxies know, or NULL (LOST). */
static GVariant *
event_for (RedisWatcher *w,
           redisReply   *fields,
           guint        *kind)
{
  gboolean ok = TRUE;

  *kind = MANAGER_EVENT_LOST;
  if (w->kind == MPROC_MANAGER_KIND_LIST)
    {
      guint p = field_uint (fields, "p", &ok), r = field_uint (fields, "r", &ok), n = field_uint (fields, "n", &ok);
      GVariantBuilder builder;
      guint seen = 0;

      if (!ok || field (fields, "x", NULL) != NULL)
        return NULL;
      g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
      for (size_t i = 0; i + 1 < fields->elements; i += 2)
        {
          redisReply *name = fields->element[i], *value = fields->element[i + 1];
          GVariant *boxed;

          if (name->type != REDIS_REPLY_STRING || strcmp (name->str, "v") != 0)
            continue;
          boxed = value->type == REDIS_REPLY_STRING ? mproc_redis_reply_boxed (value->str, value->len, NULL) : NULL;
          if (boxed == NULL)
            {
              g_variant_builder_clear (&builder);
              return NULL;
            }
          g_variant_builder_add_value (&builder, boxed);
          g_variant_unref (boxed);
          seen++;
        }
      if (seen != n)
        {
          g_variant_builder_clear (&builder);
          return NULL;
        }
      *kind = MANAGER_EVENT_ITEMS;
      return g_variant_new ("(uuav)", p, r, &builder);
    }
  else
    {
      gsize len;
      const char *key = field (fields, "k", &len);

      *kind = MANAGER_EVENT_CHANGED;
      if (w->kind == MPROC_MANAGER_KIND_NAMESPACE)
        {
          if (key == NULL)
            return g_variant_new_maybe (G_VARIANT_TYPE_STRING, NULL);
          if (strlen (key) != len || !g_utf8_validate (key, len, NULL))
            return NULL;
          return g_variant_new_maybe (G_VARIANT_TYPE_STRING, g_variant_new_string (key));
        }
      else
        {
          g_autoptr(GVariant) boxed = NULL;

          if (key == NULL)
            return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
          boxed = mproc_redis_reply_boxed (key, len, NULL);
          if (boxed == NULL)
            return NULL;
          return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, boxed);
        }
    }
}

static void read_next (RedisWatcher *w);

static gboolean
retry_cb (gpointer data)
{
  RedisWatcher *w = data;

  g_clear_pointer (&w->retry, g_source_unref);
  read_next (w);
  return G_SOURCE_REMOVE;
}

static void
deliver (RedisWatcher *w,
         guint         kind,
         GVariant     *payload)
{
  g_autoptr(GObject) proxy = g_weak_ref_get (&w->proxy);
  g_autoptr(GVariant) sunk = payload != NULL ? g_variant_ref_sink (payload) : g_variant_ref_sink (g_variant_new ("()"));

  if (proxy != NULL)
    w->func (proxy, kind, sunk);
}

static void
read_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  RedisWatcher *w = user_data;
  g_autoptr(redisReply) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = mproc_redis_client_call_finish (w->blocking, result, &error);
  if (g_cancellable_is_cancelled (w->cancellable))
    {
      watcher_unref (w);
      return;
    }
  if (reply == NULL)
    {
      /* lost: from the same entry again, on a new connection */
      w->retry = g_timeout_source_new (RETRY_MSEC);
      g_source_set_callback (w->retry, retry_cb, w, (GDestroyNotify) watcher_unref);
      g_source_attach (w->retry, w->context);
      return;
    }
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
      reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2 &&
      reply->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
    {
      redisReply *entries = reply->element[0]->element[1];

      for (size_t i = 0; i < entries->elements && !g_cancellable_is_cancelled (w->cancellable); i++)
        {
          redisReply *entry = entries->element[i];
          redisReply *fields;
          gboolean ok = TRUE, gap;
          guint64 seq;
          guint kind;
          GVariant *payload;

          if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
              entry->element[0]->type != REDIS_REPLY_STRING || entry->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
          fields = entry->element[1];
          seq = field_uint (fields, "s", &ok);
          g_mutex_lock (&w->lock);
          g_free (w->last_id);
          w->last_id = g_strdup (entry->element[0]->str);
          if (!ok || seq <= w->version)
            {
              g_mutex_unlock (&w->lock);
              continue;   /* already in the snapshot */
            }
          gap = seq != w->version + 1;
          w->version = seq;
          g_mutex_unlock (&w->lock);
          payload = gap ? NULL : event_for (w, fields, &kind);
          if (payload == NULL)
            deliver (w, MANAGER_EVENT_LOST, NULL);
          else
            deliver (w, kind, payload);
        }
    }
  if (g_cancellable_is_cancelled (w->cancellable))
    {
      watcher_unref (w);
      return;
    }
  read_next (w);
  watcher_unref (w);
}

static void
read_next (RedisWatcher *w)
{
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("XREAD");

  mproc_redis_cmd_add_str (cmd, "COUNT");
  mproc_redis_cmd_add_str (cmd, READ_COUNT);
  mproc_redis_cmd_add_str (cmd, "BLOCK");
  mproc_redis_cmd_add_str (cmd, "0");
  mproc_redis_cmd_add_str (cmd, "STREAMS");
  mproc_redis_cmd_add_str (cmd, w->ckey);
  g_mutex_lock (&w->lock);
  mproc_redis_cmd_add_str (cmd, w->last_id);
  g_mutex_unlock (&w->lock);
  g_main_context_push_thread_default (w->context);
  /* no deadline: a lost server is seen as a closed connection */
  mproc_redis_client_call_async (w->blocking, cmd, 0, w->cancellable, read_done_cb, watcher_ref (w));
  g_main_context_pop_thread_default (w->context);
}

gboolean
mproc_redis_watch (MprocProxyCore       *core,
                   GObject              *proxy,
                   MprocProxyEventFunc   func,
                   GVariant            **snapshot,
                   GCancellable         *cancellable,
                   GError              **error)
{
  MprocRedisObject *obj = core->remote;
  g_autoptr(GVariant) items = NULL;
  g_autofree char *last_id = NULL;
  guint64 version;
  RedisWatcher *w;

  if (mproc_redis_is_watched (core))
    return mproc_redis_resync (core, snapshot, error);
  items = mproc_redis_snapshot (obj, core->kind, &version, &last_id, cancellable, error);
  if (items == NULL)
    return FALSE;

  w = g_new0 (RedisWatcher, 1);
  g_atomic_ref_count_init (&w->ref);
  w->pid = getpid ();
  w->kind = core->kind;
  w->ckey = g_strdup (obj->ckey);
  w->blocking = mproc_redis_client_new_blocking (obj->backend->config);
  g_weak_ref_init (&w->proxy, proxy);
  w->func = func;
  w->context = g_main_context_ref_thread_default ();
  w->cancellable = g_cancellable_new ();
  g_mutex_init (&w->lock);
  w->version = version;
  w->last_id = g_steal_pointer (&last_id);

  g_mutex_lock (&core->lock);
  obj->watcher = w;
  g_mutex_unlock (&core->lock);
  read_next (w);
  *snapshot = g_steal_pointer (&items);
  return TRUE;
}

gboolean
mproc_redis_resync (MprocProxyCore  *core,
                    GVariant       **snapshot,
                    GError         **error)
{
  MprocRedisObject *obj = core->remote;
  RedisWatcher *w;
  g_autofree char *last_id = NULL;
  guint64 version;
  GVariant *items;

  items = mproc_redis_snapshot (obj, core->kind, &version, &last_id, NULL, error);
  if (items == NULL)
    return FALSE;
  g_mutex_lock (&core->lock);
  w = obj->watcher;
  if (w != NULL)
    {
      g_mutex_lock (&w->lock);
      /* events up to this version are in the snapshot */
      w->version = MAX (w->version, version);
      g_mutex_unlock (&w->lock);
    }
  g_mutex_unlock (&core->lock);
  *snapshot = items;
  return TRUE;
}

gboolean
mproc_redis_is_watched (MprocProxyCore *core)
{
  MprocRedisObject *obj = core->remote;
  gboolean ret;

  if (obj == NULL)
    return FALSE;
  g_mutex_lock (&core->lock);
  ret = obj->watcher != NULL && ((RedisWatcher *) obj->watcher)->pid == getpid ();
  g_mutex_unlock (&core->lock);
  return ret;
}

void
mproc_redis_unwatch (MprocProxyCore *core)
{
  MprocRedisObject *obj = core->remote;
  RedisWatcher *w;

  if (obj == NULL)
    return;
  g_mutex_lock (&core->lock);
  w = g_steal_pointer (&obj->watcher);
  g_mutex_unlock (&core->lock);
  if (w == NULL)
    return;
  if (w->pid != getpid ())
    return;   /* the parent's */
  /* closes the watcher's connection, and so its blocked XREAD */
  g_cancellable_cancel (w->cancellable);
  if (w->retry != NULL)
    {
      g_source_destroy (w->retry);
    }
  mproc_redis_client_close (w->blocking);
  watcher_unref (w);
}
