/* mproc-manager-server.c: the manager's server process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The main thread accepts connections; each client is then served by a
 * thread of its own, which reads the client's request ring in order (a
 * blocking read that spins briefly before it sleeps, so a busy client is
 * served without any system call) and answers in its reply ring.  The
 * state (objects, names, published objects, subscriptions) is one set of
 * tables under one mutex: operations are short, and one lock keeps every
 * operation atomic, as in Python's manager.  Events for subscribers are
 * pushed under that lock, so that they are ordered like the changes.
 *
 * Nothing a client sends is trusted: every request is decoded in normal
 * form and type-checked, and a bad one gets an error reply.  A client whose
 * socket hangs up (it exited or was killed) is forgotten: its references
 * and subscriptions are dropped and its rings unmapped.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-protocol-private.h"
#include "mproc-manager-table-private.h"
#include "mproc-manager-view-private.h"
#include "mproc-process.h"
#include "mproc-ring-private.h"
#include "mproc-shm-private.h"
#include "mproc-waitable-private.h"
#include "mproc-wire-private.h"

#define HANDSHAKE_TIMEOUT_USEC (5 * G_USEC_PER_SEC)
#define TCP_HANDSHAKE_TIMEOUT_USEC (3 * G_USEC_PER_SEC)
#define SERVER_SPIN_USEC       100
#define REQUESTS_CAPACITY      (256 * 1024)
#define REPLIES_CAPACITY       (256 * 1024)
#define EVENTS_CAPACITY        (1024 * 1024)
/* Replies a ring client has not made room for wait in its outbox, sent by
 * its own thread; past these limits it is disconnected. */
#define OUTBOX_MAX_REPLIES     1024
#define OUTBOX_STALL_USEC      (10 * G_USEC_PER_SEC)

typedef struct _Server Server;
typedef struct _Client Client;

typedef struct
{
  guint64           id;
  MprocManagerKind  kind;
  char             *name;
  guint             refs;
  GPtrArray        *subscribers;   /* Client*, one entry per client */
  MprocTable       *dict;          /* boxed key -> boxed value, in insertion order */
  GPtrArray        *list;          /* GVariant* */
  GHashTable       *ns;            /* name -> GVariant* */
  MprocViewWriter  *view;          /* dict, namespace: once a client asked for it */
  gboolean          batch;         /* in an update: one D-Bus signal for all keys */
} Object;

typedef struct
{
  GVariant *description;
  GArray   *fds;
} Published;

struct _Server
{
  GMutex      lock;
  GHashTable *objects;     /* id -> Object* */
  GHashTable *names;       /* "kind:name" -> Object* (holds a reference) */
  GHashTable *published;   /* name -> Published* */
  guint64     next_id;
  GMainLoop  *loop;
  GMainContext *context;   /* the main thread's: TCP listeners */
  GPtrArray  *clients;     /* Client*, served */
  guint64     pass;        /* pull passes made */
  MprocOrder *order;       /* what each ring client sent and had served */
};

struct _Client
{
  Server     *server;
  int         sock;
  GPid        pid;
  MprocShm   *shm;
  MprocRing  *requests;
  MprocRing  *replies;
  MprocRing  *events;
  GHashTable *refs;        /* id -> count */
  GHashTable *subs;        /* id -> count */
  guint64     event_seq;
  gboolean    events_lost;
  gboolean    gone;        /* its socket or rings failed (under the lock) */
  gboolean    remote;      /* over TCP: no rings, frames on @sock */
  int         slot;        /* in the order page (ring clients; -1: untracked) */
  GQueue      queue;       /* Pending*: received, not yet served */
  GQueue      outbox;      /* remote: replies its thread sends, without the lock */
  GQueue      ring_outbox; /* ring client: OutReply* that found its ring full */
  GCancellable *wake;      /* ring client: cancelled to wake its thread */
};

typedef struct
{
  GVariant *reply;
  GArray   *fds;
} OutReply;

static void
out_reply_free (gpointer data)
{
  OutReply *o = data;

  g_variant_unref (o->reply);
  g_clear_pointer (&o->fds, g_array_unref);
  g_free (o);
}

#define ID_KEY(id) GSIZE_TO_POINTER ((gsize) (id))

static GVariant *tcp_listen (Server    *server,
                             GVariant  *args,
                             GArray    *fds_in,
                             GError   **error);

/* ------------------------------------------------------------------------ */
/* Objects                                                                  */

static void
published_free (gpointer data)
{
  Published *p = data;

  g_variant_unref (p->description);
  g_array_unref (p->fds);
  g_free (p);
}

static Object *
object_new (Server           *server,
            MprocManagerKind  kind,
            const char       *name)
{
  Object *obj = g_new0 (Object, 1);

  obj->id = ++server->next_id;
  obj->kind = kind;
  obj->name = g_strdup (name);
  obj->subscribers = g_ptr_array_new ();
  switch (kind)
    {
    case MPROC_MANAGER_KIND_DICT:
      obj->dict = mproc_table_new ();
      break;
    case MPROC_MANAGER_KIND_LIST:
      obj->list = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
      break;
    case MPROC_MANAGER_KIND_NAMESPACE:
      obj->ns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
      break;
    }
  g_hash_table_insert (server->objects, ID_KEY (obj->id), obj);
  return obj;
}

static void
object_free (Object *obj)
{
  g_clear_pointer (&obj->dict, mproc_table_free);
  g_clear_pointer (&obj->list, g_ptr_array_unref);
  g_clear_pointer (&obj->ns, g_hash_table_unref);
  g_clear_pointer (&obj->view, mproc_view_writer_free);
  g_ptr_array_unref (obj->subscribers);
  g_free (obj->name);
  g_free (obj);
}

static void
object_unref (Server *server,
              Object *obj,
              guint   n)
{
  obj->refs = obj->refs > n ? obj->refs - n : 0;
  if (obj->refs == 0)
    {
      g_hash_table_remove (server->objects, ID_KEY (obj->id));
      object_free (obj);
    }
}

static void
count_add (GHashTable *table,
           guint64     id,
           int         delta)
{
  int n = GPOINTER_TO_INT (g_hash_table_lookup (table, ID_KEY (id))) + delta;

  if (n > 0)
    g_hash_table_insert (table, ID_KEY (id), GINT_TO_POINTER (n));
  else
    g_hash_table_remove (table, ID_KEY (id));
}

/* Queues an event for a subscriber.  Never blocks: when the client does not
 * keep up, its events are dropped and it is told so (LOST) as soon as there
 * is room, and then resynchronises. */
static void
client_push_event (Client   *c,
                   guint64   id,
                   guint     kind,
                   GVariant *payload)
{
  g_autoptr(GVariant) message = NULL;

  if (c->events_lost)
    {
      message = g_variant_ref_sink (g_variant_new ("(ttu@v)", c->event_seq + 1, (guint64) 0,
                                                   (guint32) MANAGER_EVENT_LOST,
                                                   g_variant_new_variant (g_variant_new ("()"))));
      if (mproc_ring_put (c->events, message, NULL, -1, NULL, 0, 0, NULL, NULL))
        {
          c->event_seq++;
          c->events_lost = FALSE;
        }
      return;
    }

  message = g_variant_ref_sink (g_variant_new ("(ttu@v)", c->event_seq + 1, id, kind,
                                               g_variant_new_variant (payload)));
  /* at most an eighth of the ring: never streamed, so the put that does
   * not wait cannot stop half-way under the server's lock */
  if (g_variant_get_size (message) + 64 > EVENTS_CAPACITY / 8 ||
      !mproc_ring_put (c->events, message, NULL, -1, NULL, 0, 0, NULL, NULL))
    c->events_lost = TRUE;
  else
    c->event_seq++;
}

static void
object_emit (Object   *obj,
             guint     kind,
             GVariant *payload)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (payload);

  for (guint i = 0; i < obj->subscribers->len; i++)
    client_push_event (obj->subscribers->pdata[i], obj->id, kind, sunk);
}

/* The D-Bus plane of this server process (NULL: none, or no peer yet). */
static MprocManagerDBus *server_dbus;

static inline gboolean
dbus_watches (Object *obj)
{
  return obj->name != NULL && !obj->batch && mproc_manager_dbus_has_peers (server_dbus);
}

static void
list_emit (Object   *obj,
           guint     position,
           guint     removed,
           guint     n_added,
           GVariant *added)   /* "av", floating, or NULL when nobody subscribed */
{
  if (dbus_watches (obj))
    mproc_manager_dbus_emit (server_dbus, "org.gnome.Mproc.List",
                             g_variant_new ("(suuu)", obj->name, position, removed, n_added));
  if (obj->subscribers->len == 0)
    {
      if (added != NULL)
        g_variant_unref (g_variant_ref_sink (added));
      return;
    }
  if (added == NULL)
    added = g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0);
  object_emit (obj, MANAGER_EVENT_ITEMS, g_variant_new ("(uu@av)", position, removed, added));
}

/* @key: boxed (a `v` serialisation), NULL for many keys.  Costs nothing
 * when nobody listens. */
static void
dict_emit (Object       *obj,
           const guint8 *key,
           gsize         key_size)
{
  gboolean dbus = dbus_watches (obj);
  g_autoptr(GVariant) boxed = NULL;

  if (!dbus && obj->subscribers->len == 0)
    return;
  if (key != NULL)
    boxed = g_variant_ref_sink (mproc_table_boxed_new (key, key_size));
  if (dbus)
    mproc_manager_dbus_emit (server_dbus, "org.gnome.Mproc.Dict",
                             g_variant_new ("(s@av)", obj->name,
                                            g_variant_new_array (G_VARIANT_TYPE_VARIANT, &boxed,
                                                                 boxed != NULL ? 1 : 0)));
  if (obj->subscribers->len > 0)
    object_emit (obj, MANAGER_EVENT_CHANGED, g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, boxed));
}

/* The size (and alignment) of a fixed-size basic type, or 0. */
static gsize
basic_fixed_size (const GVariantType *type)
{
  switch (g_variant_type_peek_string (type)[0])
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

static void dict_set (Object       *obj,
                      const guint8 *key,
                      gsize         key_size,
                      const guint8 *value,
                      gsize         value_size);

/* Boxes a fixed-size basic value of @size bytes (type @type, one letter)
 * into @dest: data, NUL, type. */
static inline gsize
box_fixed (guint8       *dest,
           const guint8 *data,
           gsize         size,
           char          type)
{
  memcpy (dest, data, size);
  dest[size] = '\0';
  dest[size + 1] = type;
  return size + 2;
}

/* The boxed form of @value, in @buf when it fits (else in a new
 * allocation, freed with *@to_free). */
static const guint8 *
box_value (GVariant  *value,
           guint8    *buf,
           gsize      buf_size,
           gsize     *size,
           guint8   **to_free)
{
  gsize data_size = g_variant_get_size (value);
  const char *type = g_variant_get_type_string (value);
  gsize type_len = strlen (type);
  guint8 *dest = buf;

  *size = data_size + 1 + type_len;
  if (*size > buf_size)
    dest = *to_free = g_malloc (*size);
  if (data_size > 0)
    memcpy (dest, g_variant_get_data (value), data_size);
  dest[data_size] = '\0';
  memcpy (dest + data_size + 1, type, type_len);
  return dest;
}

/* An update whose keys and values are fixed-size basic types ("a{xx}",
 * "a(ud)"…), the common batch: each key and value is cut out of the
 * request's bytes, without a GVariant for each pair.  FALSE: not such an
 * array (the caller goes the general way). */
static gboolean
update_fixed_pairs (Object             *obj,
                    GVariant           *pairs,
                    const GVariantType *element)
{
  const GVariantType *key_type = g_variant_type_first (element);
  const GVariantType *value_type = g_variant_type_next (key_type);
  gsize ks = basic_fixed_size (key_type), vs = basic_fixed_size (value_type);
  char kt = g_variant_type_peek_string (key_type)[0];
  char vt = g_variant_type_peek_string (value_type)[0];
  gsize voff, esize, size;
  const guint8 *data;

  if (ks == 0 || vs == 0)
    return FALSE;
  /* the serialised layout of a fixed-size pair: members at their
   * alignment, the whole padded to the largest */
  voff = (ks + vs - 1) & ~(vs - 1);
  esize = (voff + vs + MAX (ks, vs) - 1) & ~(MAX (ks, vs) - 1);
  size = g_variant_get_size (pairs);
  if (size % esize != 0)
    return FALSE;
  data = g_variant_get_data (pairs);
  for (gsize at = 0; at < size; at += esize)
    {
      guint8 key[10], value[10];
      gsize key_size = box_fixed (key, data + at, ks, kt);
      gsize value_size = box_fixed (value, data + at + voff, vs, vt);

      dict_set (obj, key, key_size, value, value_size);
    }
  return TRUE;
}

/* After an update: D-Bus peers hear of it once, as "many keys". */
static void
dict_emit_batch_end (Object *obj)
{
  obj->batch = FALSE;
  if (dbus_watches (obj))
    mproc_manager_dbus_emit (server_dbus, "org.gnome.Mproc.Dict",
                             g_variant_new ("(s@av)", obj->name,
                                            g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0)));
}

/* Keys and values boxed (`v` serialisations), in normal form. */
static void
dict_set (Object       *obj,
          const guint8 *key,
          gsize         key_size,
          const guint8 *value,
          gsize         value_size)
{
  mproc_table_set (obj->dict, key, key_size, value, value_size);
  if (obj->view != NULL)
    mproc_view_writer_set_boxed (obj->view, key, key_size, value, value_size);
  dict_emit (obj, key, key_size);
}

/* Removes the boxed @key: FALSE if absent.  @value (nullable): its value,
 * floating `v`. */
static gboolean
dict_take (Object       *obj,
           const guint8 *key,
           gsize         key_size,
           GVariant    **value)
{
  if (!mproc_table_remove (obj->dict, key, key_size, value))
    return FALSE;
  if (obj->view != NULL)
    mproc_view_writer_remove_boxed (obj->view, key, key_size);
  dict_emit (obj, key, key_size);
  return TRUE;
}

static GVariant *
snapshot (Object *obj)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  if (obj->list != NULL)
    for (guint i = 0; i < obj->list->len; i++)
      g_variant_builder_add (&builder, "v", obj->list->pdata[i]);
  return g_variant_builder_end (&builder);
}

static gboolean
norm_index (gint64  index,
            guint   len,
            guint  *out)
{
  if (index < 0)
    index += len;
  if (index < 0 || index >= (gint64) len)
    return FALSE;
  *out = index;
  return TRUE;
}

static guint
clamp_index (gint64 index,
             guint  len)
{
  if (index < 0)
    index += len;
  return CLAMP (index, 0, (gint64) len);
}

static gboolean
list_find (Object   *obj,
           GVariant *value,
           guint    *position)
{
  for (guint i = 0; i < obj->list->len; i++)
    if (g_variant_equal (obj->list->pdata[i], value))
      {
        *position = i;
        return TRUE;
      }
  return FALSE;
}

/* The view of @obj, filled with its contents: from now on every change
 * is written to it too. */
static gboolean
object_start_view (Object  *obj,
                   GError **error)
{
  obj->view = mproc_view_writer_new (error);
  if (obj->view == NULL)
    return FALSE;
  mproc_view_writer_reserve (obj->view, obj->dict != NULL ? mproc_table_size (obj->dict) :
                                        g_hash_table_size (obj->ns));
  if (obj->dict != NULL)
    {
      const guint8 *key, *value;
      gsize key_size, value_size;
      guint position = 0;

      while (mproc_table_next (obj->dict, &position, &key, &key_size, &value, &value_size))
        mproc_view_writer_set_boxed (obj->view, key, key_size, value, value_size);
    }
  else
    {
      GHashTableIter iter;
      gpointer name, value;

      g_hash_table_iter_init (&iter, obj->ns);
      while (g_hash_table_iter_next (&iter, &name, &value))
        {
          g_autoptr(GVariant) key = g_variant_ref_sink (g_variant_new_string (name));

          mproc_view_writer_set (obj->view, key, value);
        }
    }
  mproc_view_writer_flush (obj->view);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */

static gboolean
check_args (GVariant    *args,
            const char  *type,
            GError     **error)
{
  if (g_variant_is_of_type (args, G_VARIANT_TYPE (type)))
    return TRUE;
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("Malformed request: expected arguments of type “%s”, got “%s”"),
               type, g_variant_get_type_string (args));
  return FALSE;
}

static Object *
lookup_object (Server            *server,
               guint64            id,
               MprocManagerKind   kind,
               GError           **error)
{
  Object *obj = g_hash_table_lookup (server->objects, ID_KEY (id));

  if (obj == NULL)
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                 _("The manager has no shared object %llu (it was freed)"), (unsigned long long) id);
  else if (kind != 0 && obj->kind != kind)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                   _("Malformed request: shared object %llu has another type"), (unsigned long long) id);
      obj = NULL;
    }
  return obj;
}

static GVariant *
unit (void)
{
  return g_variant_new ("()");
}

static GVariant *
handle_manager (Server    *server,
                Client    *c,
                guint      op,
                guint64    id,
                GVariant  *args,
                GArray    *fds_in,
                GArray    *fds_out,
                GError   **error)
{
  Object *obj;

  /* a remote client has neither an event ring nor fd passing */
  if (c->remote && (op == MANAGER_OP_SUBSCRIBE || op == MANAGER_OP_PUBLISH ||
                    op == MANAGER_OP_LOOKUP || op == MANAGER_OP_LISTEN_TCP ||
                    op == MANAGER_OP_VIEW))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("This operation is not available over TCP"));
      return NULL;
    }

  switch (op)
    {
    case MANAGER_OP_PING:
    case MANAGER_OP_SHUTDOWN:
      return unit ();

    case MANAGER_OP_LISTEN_TCP:
      return tcp_listen (server, args, fds_in, error);

    case MANAGER_OP_CREATE:
      {
        guint32 kind;
        const char *name;
        g_autofree char *key = NULL;

        if (!check_args (args, "(us)", error))
          return NULL;
        g_variant_get (args, "(u&s)", &kind, &name);
        if (kind < MPROC_MANAGER_KIND_DICT || kind > MPROC_MANAGER_KIND_NAMESPACE)
          {
            g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                         _("Malformed request: unknown object type %u"), kind);
            return NULL;
          }
        if (name[0] != '\0')
          {
            key = g_strdup_printf ("%u:%s", kind, name);
            obj = g_hash_table_lookup (server->names, key);
            if (obj == NULL)
              {
                obj = object_new (server, kind, name);
                obj->refs++;   /* the name's */
                g_hash_table_insert (server->names, g_steal_pointer (&key), obj);
              }
          }
        else
          obj = object_new (server, kind, NULL);
        obj->refs++;
        count_add (c->refs, obj->id, 1);
        return g_variant_new_uint64 (obj->id);
      }

    case MANAGER_OP_INCREF:
      obj = g_hash_table_lookup (server->objects, ID_KEY (id));
      if (obj != NULL)
        {
          obj->refs++;
          count_add (c->refs, id, 1);
        }
      return unit ();

    case MANAGER_OP_DECREF:
      obj = g_hash_table_lookup (server->objects, ID_KEY (id));
      if (obj != NULL && g_hash_table_contains (c->refs, ID_KEY (id)))
        {
          count_add (c->refs, id, -1);
          if (!g_hash_table_contains (c->subs, ID_KEY (id)) ||
              g_hash_table_contains (c->refs, ID_KEY (id)))
            object_unref (server, obj, 1);
          else
            {
              /* last reference of this client: its subscription goes too */
              g_hash_table_remove (c->subs, ID_KEY (id));
              g_ptr_array_remove (obj->subscribers, c);
              object_unref (server, obj, 1);
            }
        }
      return unit ();

    case MANAGER_OP_SUBSCRIBE:
    case MANAGER_OP_SNAPSHOT:
      if ((obj = lookup_object (server, id, 0, error)) == NULL)
        return NULL;
      if (op == MANAGER_OP_SUBSCRIBE)
        {
          if (!g_hash_table_contains (c->subs, ID_KEY (id)))
            g_ptr_array_add (obj->subscribers, c);
          count_add (c->subs, id, 1);
        }
      return g_variant_new ("(t@v)", c->event_seq, g_variant_new_variant (snapshot (obj)));

    case MANAGER_OP_VIEW:
      {
        int fd;

        if ((obj = lookup_object (server, id, 0, error)) == NULL)
          return NULL;
        if (obj->kind == MPROC_MANAGER_KIND_LIST)
          {
            g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                                 _("This operation is not available for lists"));
            return NULL;
          }
        if (obj->view == NULL && !object_start_view (obj, error))
          return NULL;
        fd = mproc_view_writer_dup_fd (obj->view, error);
        if (fd < 0)
          return NULL;
        g_array_append_val (fds_out, fd);
        return unit ();
      }

    case MANAGER_OP_UNSUBSCRIBE:
      obj = g_hash_table_lookup (server->objects, ID_KEY (id));
      if (obj != NULL && g_hash_table_contains (c->subs, ID_KEY (id)))
        {
          count_add (c->subs, id, -1);
          if (!g_hash_table_contains (c->subs, ID_KEY (id)))
            g_ptr_array_remove (obj->subscribers, c);
        }
      return unit ();

    case MANAGER_OP_PUBLISH:
      {
        const char *name;
        g_autoptr(GVariant) description = NULL;
        Published *p;

        if (!check_args (args, "(sv)", error))
          return NULL;
        g_variant_get (args, "(&sv)", &name, &description);
        if (!g_variant_is_of_type (description, G_VARIANT_TYPE ("(sv)")))
          {
            g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                 _("Malformed request: not a shared object"));
            return NULL;
          }
        p = g_new0 (Published, 1);
        p->description = g_steal_pointer (&description);
        p->fds = mproc_fd_array_new ();
        g_array_append_vals (p->fds, fds_in->data, fds_in->len);
        for (guint i = 0; i < fds_in->len; i++)
          g_array_index (fds_in, int, i) = -1;
        g_hash_table_replace (server->published, g_strdup (name), p);
        return unit ();
      }

    case MANAGER_OP_LOOKUP:
    case MANAGER_OP_UNPUBLISH:
      {
        const char *name;
        Published *p;

        if (!check_args (args, "s", error))
          return NULL;
        name = g_variant_get_string (args, NULL);
        p = g_hash_table_lookup (server->published, name);
        if (p == NULL)
          {
            g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                         _("Nothing is published under the name “%s”"), name);
            return NULL;
          }
        if (op == MANAGER_OP_UNPUBLISH)
          {
            g_hash_table_remove (server->published, name);
            return unit ();
          }
        for (guint i = 0; i < p->fds->len; i++)
          {
            int fd = fcntl (g_array_index (p->fds, int, i), F_DUPFD_CLOEXEC, 3);

            if (fd < 0)
              {
                int errsv = errno;

                g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                             _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
                return NULL;
              }
            g_array_append_val (fds_out, fd);
          }
        return g_variant_new_variant (p->description);
      }
    }

  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("Malformed request: unknown operation %u"), op);
  return NULL;
}

/* @key: boxed, a `v` */
static void
set_key_error (GError  **error,
               GVariant *key)
{
  g_autoptr(GVariant) inner = g_variant_get_variant (key);
  g_autofree char *text = g_variant_print (inner, TRUE);

  g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND, _("The dictionary has no key %s"), text);
}

static GVariant *
handle_dict (Object    *obj,
             guint      op,
             GVariant  *args,
             GError   **error)
{
  switch (op)
    {
    case DICT_OP_SET:
    case DICT_OP_SETDEFAULT:
      {
        g_autoptr(GVariant) key = NULL;
        g_autoptr(GVariant) value = NULL;
        const guint8 *current;
        gsize size;

        if (!check_args (args, "(vv)", error))
          return NULL;
        /* the `v`s as they came: already boxed */
        key = g_variant_get_child_value (args, 0);
        value = g_variant_get_child_value (args, 1);
        if (op == DICT_OP_SETDEFAULT &&
            (current = mproc_table_lookup (obj->dict, g_variant_get_data (key),
                                           g_variant_get_size (key), &size)) != NULL)
          return mproc_table_boxed_new (current, size);
        dict_set (obj, g_variant_get_data (key), g_variant_get_size (key),
                  g_variant_get_data (value), g_variant_get_size (value));
        return op == DICT_OP_SET ? unit () :
               mproc_table_boxed_new (g_variant_get_data (value), g_variant_get_size (value));
      }

    case DICT_OP_CONTAINS:
    case DICT_OP_REMOVE:
      {
        const guint8 *key;
        gsize size, value_size;

        if (!check_args (args, "v", error))
          return NULL;
        key = g_variant_get_data (args);
        size = g_variant_get_size (args);
        if (op == DICT_OP_CONTAINS)
          return g_variant_new_boolean (mproc_table_lookup (obj->dict, key, size, &value_size) != NULL);
        if (!dict_take (obj, key, size, NULL))
          {
            set_key_error (error, args);
            return NULL;
          }
        return unit ();
      }

    case DICT_OP_GET:
    case DICT_OP_POP:
      {
        g_autoptr(GVariant) key = NULL;
        g_autoptr(GVariant) fallback = NULL;
        GVariant *value = NULL;
        const guint8 *current;
        gsize size;

        if (!check_args (args, "(vmv)", error))
          return NULL;
        key = g_variant_get_child_value (args, 0);
        if (op == DICT_OP_POP)
          dict_take (obj, g_variant_get_data (key), g_variant_get_size (key), &value);
        else if ((current = mproc_table_lookup (obj->dict, g_variant_get_data (key),
                                                g_variant_get_size (key), &size)) != NULL)
          value = mproc_table_boxed_new (current, size);
        if (value != NULL)
          return value;
        g_variant_get_child (args, 1, "mv", &fallback);
        if (fallback == NULL)
          {
            set_key_error (error, key);
            return NULL;
          }
        return g_variant_new_variant (fallback);
      }

    case DICT_OP_UPDATE:
      {
        gsize n;

        if (!check_args (args, "a(vv)", error))
          return NULL;
        n = g_variant_n_children (args);
        mproc_table_reserve (obj->dict, n);
        if (obj->view != NULL)
          mproc_view_writer_reserve (obj->view, n);
        obj->batch = TRUE;
        for (gsize i = 0; i < n; i++)
          {
            g_autoptr(GVariant) pair = g_variant_get_child_value (args, i);
            g_autoptr(GVariant) key = g_variant_get_child_value (pair, 0);
            g_autoptr(GVariant) value = g_variant_get_child_value (pair, 1);

            dict_set (obj, g_variant_get_data (key), g_variant_get_size (key),
                      g_variant_get_data (value), g_variant_get_size (value));
          }
        dict_emit_batch_end (obj);
        return unit ();
      }

    case DICT_OP_UPDATE_PACKED:
      {
        g_autoptr(GVariant) pairs = NULL;
        const GVariantType *element;
        gboolean boxed_key, boxed_value;
        gsize n;

        if (!check_args (args, "v", error))
          return NULL;
        /* the caller's own array, unboxed here rather than pair by pair
         * on the client: one allocation-free request however many pairs */
        pairs = g_variant_get_variant (args);
        element = g_variant_is_of_type (pairs, G_VARIANT_TYPE_ARRAY) ?
                  g_variant_type_element (g_variant_get_type (pairs)) : NULL;
        if (element == NULL ||
            !(g_variant_type_is_dict_entry (element) ||
              (g_variant_type_is_tuple (element) && g_variant_type_n_items (element) == 2)))
          {
            g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                         _("Malformed request: expected arguments of type “%s”, got “%s”"),
                         "a{?*}", g_variant_get_type_string (pairs));
            return NULL;
          }
        boxed_key = g_variant_type_equal (g_variant_type_first (element), G_VARIANT_TYPE_VARIANT);
        boxed_value = g_variant_type_equal (g_variant_type_next (g_variant_type_first (element)),
                                            G_VARIANT_TYPE_VARIANT);
        n = g_variant_n_children (pairs);
        mproc_table_reserve (obj->dict, n);
        if (obj->view != NULL)
          mproc_view_writer_reserve (obj->view, n);
        obj->batch = TRUE;
        if (!boxed_key && !boxed_value && update_fixed_pairs (obj, pairs, element))
          n = 0;   /* done */
        for (gsize i = 0; i < n; i++)
          {
            g_autoptr(GVariant) pair = g_variant_get_child_value (pairs, i);
            g_autoptr(GVariant) key = g_variant_get_child_value (pair, 0);
            g_autoptr(GVariant) value = g_variant_get_child_value (pair, 1);
            g_autofree guint8 *key_heap = NULL, *value_heap = NULL;
            guint8 key_buf[64], value_buf[64];
            const guint8 *k, *v;
            gsize key_size, value_size;

            /* a `v` key or value is already boxed */
            if (boxed_key)
              k = g_variant_get_data (key), key_size = g_variant_get_size (key);
            else
              k = box_value (key, key_buf, sizeof key_buf, &key_size, &key_heap);
            if (boxed_value)
              v = g_variant_get_data (value), value_size = g_variant_get_size (value);
            else
              v = box_value (value, value_buf, sizeof value_buf, &value_size, &value_heap);
            dict_set (obj, k, key_size, v, value_size);
          }
        dict_emit_batch_end (obj);
        return unit ();
      }

    case DICT_OP_KEYS:
    case DICT_OP_VALUES:
    case DICT_OP_ITEMS:
      {
        GVariantBuilder builder;
        const guint8 *key, *value;
        gsize key_size, value_size;
        guint position = 0;

        g_variant_builder_init (&builder, op == DICT_OP_ITEMS ? G_VARIANT_TYPE ("a(vv)") : G_VARIANT_TYPE ("av"));

        while (mproc_table_next (obj->dict, &position, &key, &key_size, &value, &value_size))
          {
            if (op == DICT_OP_ITEMS)
              g_variant_builder_add_value (&builder,
                                           g_variant_new_tuple ((GVariant *[]) {
                                                                  mproc_table_boxed_new (key, key_size),
                                                                  mproc_table_boxed_new (value, value_size) }, 2));
            else if (op == DICT_OP_KEYS)
              g_variant_builder_add_value (&builder, mproc_table_boxed_new (key, key_size));
            else
              g_variant_builder_add_value (&builder, mproc_table_boxed_new (value, value_size));
          }
        return g_variant_builder_end (&builder);
      }

    case DICT_OP_LEN:
      return g_variant_new_uint64 (mproc_table_size (obj->dict));

    case DICT_OP_CLEAR:
      mproc_table_clear (obj->dict);
      if (obj->view != NULL)
        mproc_view_writer_clear (obj->view);
      dict_emit (obj, NULL, 0);
      return unit ();
    }

  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("Malformed request: unknown operation %u"), op);
  return NULL;
}

static void
set_index_error (GError **error,
                 gint64   index,
                 guint    len)
{
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
               _("List index %lld out of range (length %u)"), (long long) index, len);
}

static GVariant *
handle_list (Object    *obj,
             guint      op,
             GVariant  *args,
             GError   **error)
{
  GPtrArray *list = obj->list;
  guint pos;

  switch (op)
    {
    case LIST_OP_APPEND:
      if (!check_args (args, "v", error))
        return NULL;
      g_ptr_array_add (list, g_variant_get_variant (args));
      list_emit (obj, list->len - 1, 0, 1, obj->subscribers->len > 0 ? g_variant_new_array (G_VARIANT_TYPE_VARIANT, &args, 1) : NULL);
      return unit ();

    case LIST_OP_EXTEND:
      {
        guint start = list->len;
        gsize n;

        if (!check_args (args, "av", error))
          return NULL;
        n = g_variant_n_children (args);
        for (gsize i = 0; i < n; i++)
          {
            g_autoptr(GVariant) boxed = g_variant_get_child_value (args, i);

            g_ptr_array_add (list, g_variant_get_variant (boxed));
          }
        if (n > 0)
          list_emit (obj, start, 0, n, obj->subscribers->len > 0 ? args : NULL);
        return unit ();
      }

    case LIST_OP_INSERT:
    case LIST_OP_SET:
      {
        gint64 index;
        g_autoptr(GVariant) value = NULL;
        g_autoptr(GVariant) boxed = NULL;

        if (!check_args (args, "(xv)", error))
          return NULL;
        g_variant_get (args, "(x@v)", &index, &boxed);
        value = g_variant_get_variant (boxed);
        if (op == LIST_OP_INSERT)
          {
            pos = clamp_index (index, list->len);
            g_ptr_array_insert (list, pos, g_variant_ref (value));
            list_emit (obj, pos, 0, 1, obj->subscribers->len > 0 ? g_variant_new_array (G_VARIANT_TYPE_VARIANT, &boxed, 1) : NULL);
            return unit ();
          }
        if (!norm_index (index, list->len, &pos))
          {
            set_index_error (error, index, list->len);
            return NULL;
          }
        g_variant_unref (list->pdata[pos]);
        list->pdata[pos] = g_variant_ref (value);
        list_emit (obj, pos, 1, 1, obj->subscribers->len > 0 ? g_variant_new_array (G_VARIANT_TYPE_VARIANT, &boxed, 1) : NULL);
        return unit ();
      }

    case LIST_OP_GET:
    case LIST_OP_POP:
      {
        gint64 index;
        GVariant *value;

        if (!check_args (args, "x", error))
          return NULL;
        index = g_variant_get_int64 (args);
        if (!norm_index (index, list->len, &pos))
          {
            set_index_error (error, index, list->len);
            return NULL;
          }
        value = g_variant_new_variant (list->pdata[pos]);
        if (op == LIST_OP_POP)
          {
            g_ptr_array_remove_index (list, pos);
            list_emit (obj, pos, 1, 0, NULL);
          }
        return value;
      }

    case LIST_OP_REMOVE:
    case LIST_OP_INDEX:
    case LIST_OP_COUNT:
      {
        g_autoptr(GVariant) value = NULL;

        if (!check_args (args, "v", error))
          return NULL;
        value = g_variant_get_variant (args);
        if (op == LIST_OP_COUNT)
          {
            guint64 n = 0;

            for (guint i = 0; i < list->len; i++)
              n += g_variant_equal (list->pdata[i], value);
            return g_variant_new_uint64 (n);
          }
        if (!list_find (obj, value, &pos))
          {
            g_autofree char *text = g_variant_print (value, TRUE);

            g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                         _("The list has no item equal to %s"), text);
            return NULL;
          }
        if (op == LIST_OP_INDEX)
          return g_variant_new_uint64 (pos);
        g_ptr_array_remove_index (list, pos);
        list_emit (obj, pos, 1, 0, NULL);
        return unit ();
      }

    case LIST_OP_LEN:
      return g_variant_new_uint64 (list->len);

    case LIST_OP_SLICE:
      {
        gint64 start, stop;
        guint from, to;
        GVariantBuilder builder;

        if (!check_args (args, "(xx)", error))
          return NULL;
        g_variant_get (args, "(xx)", &start, &stop);
        from = clamp_index (start, list->len);
        to = clamp_index (stop, list->len);
        g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
        for (guint i = from; i < to; i++)
          g_variant_builder_add (&builder, "v", list->pdata[i]);
        return g_variant_builder_end (&builder);
      }

    case LIST_OP_CLEAR:
      {
        guint n = list->len;

        g_ptr_array_set_size (list, 0);
        if (n > 0)
          list_emit (obj, 0, n, 0, NULL);
        return unit ();
      }
    }

  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("Malformed request: unknown operation %u"), op);
  return NULL;
}

static GVariant *
handle_namespace (Object    *obj,
                  guint      op,
                  GVariant  *args,
                  GError   **error)
{
  switch (op)
    {
    case NAMESPACE_OP_SET:
      {
        const char *name;
        GVariant *value;

        if (!check_args (args, "(sv)", error))
          return NULL;
        g_variant_get (args, "(&sv)", &name, &value);
        g_hash_table_replace (obj->ns, g_strdup (name), value);
        if (obj->view != NULL)
          {
            g_autoptr(GVariant) key = g_variant_ref_sink (g_variant_new_string (name));

            mproc_view_writer_set (obj->view, key, value);
          }
        if (dbus_watches (obj))
          mproc_manager_dbus_emit (server_dbus, "org.gnome.Mproc.Namespace", g_variant_new ("(ss)", obj->name, name));
        if (obj->subscribers->len > 0)
          object_emit (obj, MANAGER_EVENT_CHANGED, g_variant_new_maybe (G_VARIANT_TYPE_STRING,
                                                                         g_variant_new_string (name)));
        return unit ();
      }

    case NAMESPACE_OP_GET:
    case NAMESPACE_OP_HAS:
    case NAMESPACE_OP_DELETE:
      {
        const char *name;
        GVariant *value;

        if (!check_args (args, "s", error))
          return NULL;
        name = g_variant_get_string (args, NULL);
        value = g_hash_table_lookup (obj->ns, name);
        if (op == NAMESPACE_OP_HAS)
          return g_variant_new_boolean (value != NULL);
        if (value == NULL)
          {
            g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                         _("The namespace has no attribute “%s”"), name);
            return NULL;
          }
        if (op == NAMESPACE_OP_GET)
          return g_variant_new_variant (value);
        if (dbus_watches (obj))
          mproc_manager_dbus_emit (server_dbus, "org.gnome.Mproc.Namespace", g_variant_new ("(ss)", obj->name, name));
        if (obj->subscribers->len > 0)
          object_emit (obj, MANAGER_EVENT_CHANGED, g_variant_new_maybe (G_VARIANT_TYPE_STRING,
                                                                         g_variant_new_string (name)));
        if (obj->view != NULL)
          {
            g_autoptr(GVariant) key = g_variant_ref_sink (g_variant_new_string (name));

            mproc_view_writer_remove (obj->view, key);
          }
        g_hash_table_remove (obj->ns, name);
        return unit ();
      }

    case NAMESPACE_OP_LIST:
      {
        g_autofree const char **names = (const char **) g_hash_table_get_keys_as_array (obj->ns, NULL);

        return g_variant_new_strv (names, -1);
      }
    }

  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("Malformed request: unknown operation %u"), op);
  return NULL;
}

/* Called with the server's lock held. */
static GVariant *
handle_request (Server    *server,
                Client    *c,
                guint      op,
                guint64    id,
                GVariant  *args,
                GArray    *fds_in,
                GArray    *fds_out,
                GError   **error)
{
  MprocManagerKind kind;
  GVariant *result;
  Object *obj;

  if (op <= MANAGER_OP_VIEW || op == MANAGER_OP_LISTEN_TCP)
    return handle_manager (server, c, op, id, args, fds_in, fds_out, error);
  if (op >= DICT_OP_SET && op <= DICT_OP_UPDATE_PACKED)
    kind = MPROC_MANAGER_KIND_DICT;
  else if (op >= LIST_OP_APPEND && op <= LIST_OP_CLEAR)
    kind = MPROC_MANAGER_KIND_LIST;
  else if (op >= NAMESPACE_OP_SET && op <= NAMESPACE_OP_LIST)
    kind = MPROC_MANAGER_KIND_NAMESPACE;
  else
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                   _("Malformed request: unknown operation %u"), op);
      return NULL;
    }

  if ((obj = lookup_object (server, id, kind, error)) == NULL)
    return NULL;
  switch (kind)
    {
    case MPROC_MANAGER_KIND_DICT:
      result = handle_dict (obj, op, args, error);
      break;
    case MPROC_MANAGER_KIND_LIST:
      result = handle_list (obj, op, args, error);
      break;
    case MPROC_MANAGER_KIND_NAMESPACE:
    default:
      result = handle_namespace (obj, op, args, error);
      break;
    }
  /* readers see the whole request at once */
  mproc_view_writer_flush (obj->view);
  return result;
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                  */

typedef struct
{
  guint64   time;
  guint64   pass;      /* the pull pass that moved it */
  GVariant *request;   /* "(utttv)" */
  GArray   *fds;
} Pending;

static void
pending_free (gpointer data)
{
  Pending *p = data;

  g_variant_unref (p->request);
  g_array_unref (p->fds);
  g_free (p);
}

static void
client_free (Client *c)
{
  g_clear_pointer (&c->requests, mproc_ring_free);
  g_clear_pointer (&c->replies, mproc_ring_free);
  g_clear_pointer (&c->events, mproc_ring_free);
  g_clear_pointer (&c->shm, mproc_shm_unref);
  g_clear_pointer (&c->refs, g_hash_table_unref);
  g_clear_pointer (&c->subs, g_hash_table_unref);
  g_queue_clear_full (&c->queue, pending_free);
  g_queue_clear_full (&c->outbox, (GDestroyNotify) g_variant_unref);
  g_queue_clear_full (&c->ring_outbox, out_reply_free);
  if (c->wake != NULL)
    g_cancellable_release_fd (c->wake);
  g_clear_object (&c->wake);
  mproc_clear_fd (&c->sock);
  g_free (c);
}

/* Drops everything the server holds for @c. */
static void
client_forget (Client *c)
{
  Server *server = c->server;
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&server->lock);
  g_ptr_array_remove (server->clients, c);
  if (!c->remote)
    mproc_order_release_slot (server->order, c->slot);
  g_hash_table_iter_init (&iter, c->subs);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Object *obj = g_hash_table_lookup (server->objects, key);

      if (obj != NULL)
        g_ptr_array_remove (obj->subscribers, c);
    }
  g_hash_table_iter_init (&iter, c->refs);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Object *obj = g_hash_table_lookup (server->objects, key);

      if (obj != NULL)
        object_unref (server, obj, GPOINTER_TO_UINT (value));
    }
  g_mutex_unlock (&server->lock);
}

static void
send_refusal (int          sock,
              const GError *error)
{
  mproc_wire_send_value (sock, g_variant_new ("(s@v)", "error",
                                              g_variant_new_variant (g_variant_new ("(us)", (guint32) error->code,
                                                                                    error->message))),
                         NULL, 0, NULL, NULL);
}

static gboolean
client_handshake (Client  *c,
                  GError **error)
{
  g_autoptr(GVariant) hello = NULL;
  g_autoptr(MprocShm) shm = NULL;
  const gsize capacities[3] = { REQUESTS_CAPACITY, REPLIES_CAPACITY, EVENTS_CAPACITY };
  MprocRing **rings[3] = { &c->requests, &c->replies, &c->events };
  int fds[5] = { -1, -1, -1, -1, -1 };
  guint64 *layout;
  gsize offsets[3];
  gsize size = 4096;
  struct ucred cred;
  socklen_t len = sizeof cred;
  const char *protocol;
  guint32 pid;
  gboolean ok = FALSE;

  if (getsockopt (c->sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid ())
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                           _("Access denied: the client belongs to another user"));
      return FALSE;
    }
  c->pid = cred.pid;

  if (!mproc_fd_wait (c->sock, G_IO_IN, g_get_monotonic_time () + HANDSHAKE_TIMEOUT_USEC, NULL, error))
    return FALSE;
  hello = mproc_wire_recv_value (c->sock, NULL, 4096, NULL, error);
  if (hello == NULL)
    return FALSE;
  if (!g_variant_is_of_type (hello, G_VARIANT_TYPE ("(su)")))
    goto malformed;
  g_variant_get (hello, "(&su)", &protocol, &pid);
  if (!g_str_equal (protocol, MPROC_MANAGER_PROTOCOL))
    goto malformed;

  for (guint i = 0; i < 3; i++)
    {
      offsets[i] = size;
      size += (mproc_ring_shm_size (capacities[i]) + 4095) & ~(gsize) 4095;
    }
  shm = mproc_shm_new (size, "mproc-manager-client", error);
  if (shm == NULL)
    return FALSE;
  layout = mproc_shm_get_data (shm);
  for (guint i = 0; i < 3; i++)
    {
      layout[i] = offsets[i];
      mproc_ring_init_shared (shm, offsets[i], capacities[i], 0, 0);
      fds[i + 1] = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (fds[i + 1] < 0)
        {
          int errsv = errno;

          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Failed to create an eventfd: %s"), g_strerror (errsv));
          goto out;
        }
      *rings[i] = mproc_ring_new (shm, offsets[i], fds[i + 1], error);
      if (*rings[i] == NULL)
        goto out;
    }
  fds[0] = mproc_shm_get_fd (shm);
  fds[4] = fcntl (mproc_order_get_fd (c->server->order), F_DUPFD_CLOEXEC, 3);
  c->shm = g_steal_pointer (&shm);

  /* Registered before the client hears "ok": from then on its requests must
   * be ordered with everyone else's, so the serving passes must see its
   * ring (a producer that connects, writes and sets an event would
   * otherwise be overtaken by the consumer's read). */
  g_mutex_lock (&c->server->lock);
  g_ptr_array_add (c->server->clients, c);
  c->slot = mproc_order_acquire_slot (c->server->order);
  g_mutex_unlock (&c->server->lock);

  ok = fds[4] >= 0 &&
       mproc_wire_send_value (c->sock, g_variant_new ("(s@v)", "ok",
                                                      g_variant_new_variant (g_variant_new ("(tuhhhhhi)", (guint64) size,
                                                                                            (guint32) getpid (),
                                                                                            0, 1, 2, 3, 4,
                                                                                            (gint32) c->slot))),
                              fds, 5, NULL, error);
  fds[0] = -1;
  if (!ok)
    {
      if (fds[4] < 0)
        g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED, _("Too many open files"));
      g_mutex_lock (&c->server->lock);
      g_ptr_array_remove (c->server->clients, c);
      mproc_order_release_slot (c->server->order, c->slot);
      g_mutex_unlock (&c->server->lock);
    }

out:
  for (guint i = 0; i < 5; i++)
    mproc_clear_fd (&fds[i]);
  return ok;

malformed:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Malformed request: not a manager client"));
  return FALSE;
}

/* A ring client's reply, with the server's lock held: never blocks.  A
 * small reply without fds goes straight into the ring when there is room
 * (small messages are never streamed, so a put that does not wait cannot
 * stop half-way); anything else waits in the client's outbox for its own
 * thread (client_flush()).  FALSE: the outbox is over its limit. */
static gboolean
send_ring_reply (Client   *c,
                 GVariant *reply,
                 GArray   *fds)
{
  g_autoptr(GError) error = NULL;
  OutReply *o;

  if (g_queue_is_empty (&c->ring_outbox) && (fds == NULL || fds->len == 0) &&
      g_variant_get_size (reply) + 64 <= mproc_ring_get_capacity (c->replies) / 8)
    {
      if (mproc_ring_put (c->replies, reply, NULL, c->sock, NULL, 0, 0, NULL, &error))
        return TRUE;
      if (!g_error_matches (error, MPROC_ERROR, MPROC_ERROR_FULL))
        return FALSE;
    }
  if (c->ring_outbox.length >= OUTBOX_MAX_REPLIES)
    return FALSE;
  o = g_new0 (OutReply, 1);
  o->reply = g_variant_ref (reply);
  o->fds = fds != NULL && fds->len > 0 ? g_array_ref (fds) : NULL;
  g_queue_push_tail (&c->ring_outbox, o);
  g_cancellable_cancel (c->wake);
  return TRUE;
}

/* In @c's thread, without the lock: sends what waits in its outbox, each
 * reply waiting at most OUTBOX_STALL_USEC for room.  Only this thread
 * takes replies out, so the head stays put while it is sent. */
static gboolean
client_flush (Client *c)
{
  Server *server = c->server;

  for (;;)
    {
      OutReply *o;
      gboolean sent;

      g_mutex_lock (&server->lock);
      o = c->gone ? NULL : g_queue_peek_head (&c->ring_outbox);
      g_mutex_unlock (&server->lock);
      if (o == NULL)
        return !c->gone;

      sent = mproc_ring_put (c->replies, o->reply, NULL, c->sock,
                             o->fds != NULL ? (const int *) o->fds->data : NULL,
                             o->fds != NULL ? o->fds->len : 0, OUTBOX_STALL_USEC, NULL, NULL);
      g_mutex_lock (&server->lock);
      if (sent)
        out_reply_free (g_queue_pop_head (&c->ring_outbox));
      else
        c->gone = TRUE;
      g_mutex_unlock (&server->lock);
      if (!sent)
        return FALSE;
    }
}

static gboolean
send_reply (Client    *c,
            guint64    serial,
            GVariant  *value,
            GError    *error,
            GArray    *fds)
{
  g_autoptr(GVariant) reply = NULL;

  if (error != NULL)
    reply = g_variant_new ("(tu@v)", serial, (guint32) error->code + 1,
                           g_variant_new_variant (g_variant_new_string (error->message)));
  else
    reply = g_variant_new ("(tu@v)", serial, (guint32) 0, g_variant_new_variant (value));
  g_variant_ref_sink (reply);
  if (c->remote)
    {
      /* never write to a socket under the server's lock: a client that
       * does not read would stop everyone (tcp_client_flush() sends it) */
      g_queue_push_tail (&c->outbox, g_steal_pointer (&reply));
      return TRUE;
    }
  return send_ring_reply (c, reply, fds);
}

/* --- Serving: one order for all clients ------------------------------------
 *
 * Every request carries the CLOCK_MONOTONIC time at which it was sent.
 * Whichever thread holds the server's lock moves every request that is
 * visible in any client's ring into that client's queue, then serves the
 * oldest queued request of all that was moved before this pass, and
 * starts again.  A request that causally follows another (a parent's read
 * after joining a child whose pipelined writes are still queued, a
 * consumer's read after an event set by the producer after its write) was
 * sent after that one was in its ring: it has a later time, and the
 * earlier one has been moved out of its ring by the time it is served.  So writes need no reply and no
 * client ever sees the world before its own past.
 */

/* Moves what @c has sent into its queue.  With the server's lock held. */
static void
client_pull (Client *c)
{
  if (c->remote)
    return;   /* its thread queues what it reads */
  while (!c->gone && mproc_ring_has_data (c->requests))
    {
      g_autoptr(GArray) fds = mproc_fd_array_new ();
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) request = NULL;
      g_autoptr(GError) error = NULL;
      Pending *p;

      bytes = mproc_ring_get (c->requests, c->sock, fds, 0, NULL, &error);
      if (bytes == NULL)
        {
          if (g_error_matches (error, MPROC_ERROR, MPROC_ERROR_EMPTY))
            return;
          /* a garbled record: the ring has dropped it and stays usable */
          if (g_error_matches (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE))
            {
              mproc_order_served (c->server->order, c->slot);
              if (!send_reply (c, 0, NULL, error, NULL))
                c->gone = TRUE;
              continue;
            }
          c->gone = TRUE;
          return;
        }

      request = mproc_manager_request_decode (bytes, &error);
      if (request == NULL || !g_variant_is_of_type (request, G_VARIANT_TYPE ("(utttv)")))
        {
          guint64 serial = 0;

          if (request != NULL && g_variant_is_container (request) &&
              g_variant_n_children (request) >= 3)
            {
              g_autoptr(GVariant) third = g_variant_get_child_value (request, 2);

              if (g_variant_is_of_type (third, G_VARIANT_TYPE_UINT64))
                serial = g_variant_get_uint64 (third);
            }
          g_clear_error (&error);
          g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                               _("Malformed request"));
          mproc_order_served (c->server->order, c->slot);
          if (!send_reply (c, serial, NULL, error, NULL))
            c->gone = TRUE;
          continue;
        }

      p = g_new0 (Pending, 1);
      p->pass = c->server->pass;
      g_variant_get_child (request, 3, "t", &p->time);
      p->request = g_steal_pointer (&request);
      p->fds = g_steal_pointer (&fds);
      g_queue_push_tail (&c->queue, p);
    }
}

/* Serves every request there is, oldest first.  With the lock held.
 * Returns whether a shutdown was requested. */
static gboolean
serve_all (Server *server)
{
  gboolean shutdown = FALSE;

  for (;;)
    {
      g_autoptr(GArray) fds_out = NULL;
      g_autoptr(GVariant) args = NULL;
      g_autoptr(GVariant) result = NULL;
      g_autoptr(GError) error = NULL;
      Client *oldest = NULL;
      Pending *p;
      guint64 id, serial, time;
      guint32 op;

      gboolean any = FALSE;

      /* A request may be served once a whole pass over every ring has
       * been made after it was moved: a request it causally follows was
       * visible before it, so that pass has moved it too. */
      server->pass++;
      for (guint i = 0; i < server->clients->len; i++)
        client_pull (server->clients->pdata[i]);
      for (guint i = 0; i < server->clients->len; i++)
        {
          Client *c = server->clients->pdata[i];
          Pending *head = g_queue_peek_head (&c->queue);

          if (head == NULL)
            continue;
          any = TRUE;
          if (head->pass < server->pass &&
              (oldest == NULL || head->time < ((Pending *) g_queue_peek_head (&oldest->queue))->time))
            oldest = c;
        }
      if (!any)
        return shutdown;
      if (oldest == NULL)
        continue;

      p = g_queue_pop_head (&oldest->queue);
      g_variant_get (p->request, "(utttv)", &op, &id, &serial, &time, &args);
      fds_out = mproc_fd_array_new ();
      result = handle_request (server, oldest, op, id, args, p->fds, fds_out, &error);
      if (result != NULL)
        g_variant_ref_sink (result);
      if (!oldest->remote)
        mproc_order_served (server->order, oldest->slot);
      if (serial != 0 && !oldest->gone && !send_reply (oldest, serial, result, error, fds_out))
        oldest->gone = TRUE;
      if (op == MANAGER_OP_SHUTDOWN && result != NULL)
        shutdown = TRUE;
      pending_free (p);
    }
}

static gpointer
client_thread (gpointer data)
{
  Client *c = data;
  Server *server = c->server;
  g_autoptr(GError) error = NULL;

  /* On success the handshake has added @c to the server's clients. */
  if (!client_handshake (c, &error))
    {
      send_refusal (c->sock, error);
      client_free (c);
      return NULL;
    }

  for (;;)
    {
      gboolean shutdown, gone, woken_by_data, outbox;
      g_autoptr(GError) poll_error = NULL;

      /* reset before the outbox is looked at: a reply queued from now
       * on cancels it again, and the poll below returns at once; one
       * queued before (even while this thread was last serving) is seen
       * here */
      if (g_cancellable_is_cancelled (c->wake))
        g_cancellable_reset (c->wake);
      g_mutex_lock (&server->lock);
      outbox = !c->gone && !g_queue_is_empty (&c->ring_outbox);
      g_mutex_unlock (&server->lock);
      if (outbox && !client_flush (c))
        break;

      /* a busy client is served without sleeping: wait a little, yielding
       * the CPU (the client may share ours), then sleep in the ring (which
       * also returns when the client hangs up, or a reply is queued for
       * it) */
      if (!c->gone)
        {
          gint64 end = g_get_monotonic_time () + SERVER_SPIN_USEC;

          while (!mproc_ring_has_data (c->requests) && g_get_monotonic_time () < end)
            sched_yield ();
        }
      if (!c->gone && !mproc_ring_poll (c->requests, c->sock, -1, c->wake, &poll_error) &&
          !g_error_matches (poll_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        c->gone = TRUE;
      woken_by_data = mproc_ring_has_data (c->requests);

      g_mutex_lock (&server->lock);
      shutdown = serve_all (server);
      gone = c->gone || (!woken_by_data && mproc_ring_sock_hup (c->sock) &&
                         !mproc_ring_has_data (c->requests));
      g_mutex_unlock (&server->lock);

      if (shutdown)
        g_main_loop_quit (server->loop);
      if (gone)
        break;
    }

  client_forget (c);
  client_free (c);
  return NULL;
}

static gboolean
accept_cb (int          fd,
           GIOCondition condition,
           gpointer     user_data)
{
  Server *server = user_data;
  Client *c;
  int sock;

  sock = accept4 (fd, NULL, NULL, SOCK_CLOEXEC);
  if (sock < 0)
    return G_SOURCE_CONTINUE;

  c = g_new0 (Client, 1);
  c->server = server;
  c->sock = sock;
  c->refs = g_hash_table_new (g_direct_hash, g_direct_equal);
  c->subs = g_hash_table_new (g_direct_hash, g_direct_equal);
  /* its fd made once and kept: polls would otherwise open and close one
   * each time */
  c->wake = g_cancellable_new ();
  g_cancellable_make_pollfd (c->wake, &(GPollFD) { 0, });
  g_thread_unref (g_thread_new ("mproc-manager-client", client_thread, c));
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* TCP: remote clients that know the authkey                                */

/* A handshake is driven by the server's main context, not a thread each,
 * so a silent connection costs an fd and a few bytes, and the slots for
 * them can be many: a flood from one address fills only that address's
 * slots, and is dropped after a short silence, while clients elsewhere
 * (and on this address, below the bound) still get in. */
#define TCP_MAX_HANDSHAKES            512
#define TCP_MAX_HANDSHAKES_PER_SOURCE 128
#define TCP_FIRST_BYTE_TIMEOUT_USEC   (1500 * 1000)  /* silence after the greeting */
#define TCP_ANSWER_MAX                4096

typedef struct
{
  Server *server;
  int     fd;
  GBytes *key;
  GQueue  handshakes;   /* TcpHandshake, oldest first */
} TcpListener;

typedef struct
{
  TcpListener *listener;
  int          sock;
  char         source[64];   /* the peer's address, for the per-source bound */
  gint64       accepted;
  guint8       nonce[MPROC_MANAGER_TCP_NONCE_SIZE];
  guint8      *buf;          /* the answer's frame as it arrives */
  gsize        got;
  gsize        want;         /* the header's size, then the whole frame's */
  GSource     *io;
  GSource     *timer;
  GList        link;
} TcpHandshake;

static gpointer tcp_client_thread (gpointer data);

static void
tcp_handshake_free (TcpHandshake *h)
{
  g_queue_unlink (&h->listener->handshakes, &h->link);
  if (h->io != NULL)
    {
      g_source_destroy (h->io);
      g_source_unref (h->io);
    }
  if (h->timer != NULL)
    {
      g_source_destroy (h->timer);
      g_source_unref (h->timer);
    }
  mproc_clear_fd (&h->sock);
  g_free (h->buf);
  g_free (h);
}

static void
tcp_listener_free (gpointer data)
{
  TcpListener *l = data;

  while (!g_queue_is_empty (&l->handshakes))
    tcp_handshake_free (g_queue_peek_head (&l->handshakes));
  mproc_clear_fd (&l->fd);
  g_bytes_unref (l->key);
  g_free (l);
}

/* Ends @h with a refusal the client can read (not for one that hung up). */
static void
tcp_handshake_refuse (TcpHandshake *h,
                      const GError *error)
{
  if (!g_error_matches (error, MPROC_ERROR, MPROC_ERROR_CLOSED) &&
      !g_error_matches (error, MPROC_ERROR, MPROC_ERROR_BROKEN))
    send_refusal (h->sock, error);
  tcp_handshake_free (h);
}

/* The challenge-response of mproc-manager-private.h, on the client's
 * answer; on success the client is one of the server's, served by a
 * thread of its own. */
static gboolean
tcp_handshake_finish (TcpHandshake *h,
                      GBytes       *payload,
                      GError      **error)
{
  Server *server = h->listener->server;
  g_autoptr(GVariant) answer = NULL;
  g_autoptr(GVariant) response = NULL;
  g_autoptr(GVariant) client_nonce = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) proof = NULL;
  const guint8 *cn;
  gsize cn_size;
  Client *c;

  answer = mproc_wire_decode (payload, NULL);
  if (answer == NULL || !g_variant_is_of_type (answer, G_VARIANT_TYPE ("(ayay)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Malformed request: not a manager client"));
      return FALSE;
    }
  g_variant_get (answer, "(@ay@ay)", &response, &client_nonce);
  expected = mproc_manager_auth_digest (h->listener->key, MPROC_MANAGER_TCP_CLIENT_LABEL,
                                        h->nonce, sizeof h->nonce);
  got = g_variant_get_data_as_bytes (response);
  if (!mproc_manager_auth_equal (expected, got))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                           _("Access denied: wrong or missing authkey"));
      return FALSE;
    }
  cn = g_variant_get_fixed_array (client_nonce, &cn_size, 1);
  if (cn_size < 16 || cn_size > 1024)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Malformed request: not a manager client"));
      return FALSE;
    }
  proof = mproc_manager_auth_digest (h->listener->key, MPROC_MANAGER_TCP_SERVER_LABEL, cn, cn_size);

  c = g_new0 (Client, 1);
  c->server = server;
  c->sock = h->sock;
  h->sock = -1;
  c->remote = TRUE;
  c->refs = g_hash_table_new (g_direct_hash, g_direct_equal);
  c->subs = g_hash_table_new (g_direct_hash, g_direct_equal);

  /* registered before "ok", as in client_handshake() */
  g_mutex_lock (&server->lock);
  g_ptr_array_add (server->clients, c);
  g_mutex_unlock (&server->lock);

  if (!mproc_wire_send_value (c->sock, g_variant_new ("(s@v)", "ok",
                                                      g_variant_new_variant (g_variant_new ("(@ayu)",
                                                                                            g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                                                                                      proof, TRUE),
                                                                                            (guint32) getpid ()))),
                              NULL, 0, NULL, error))
    {
      g_mutex_lock (&server->lock);
      g_ptr_array_remove (server->clients, c);
      g_mutex_unlock (&server->lock);
      client_free (c);
      return FALSE;
    }
  g_thread_unref (g_thread_new ("mproc-manager-tcp", tcp_client_thread, c));
  return TRUE;
}

/* The serial of a malformed request, when it can be found (0 otherwise). */
static guint64
tcp_request_serial (GVariant *request)
{
  g_autoptr(GVariant) third = NULL;

  if (request == NULL || !g_variant_is_container (request) || g_variant_n_children (request) < 3)
    return 0;
  third = g_variant_get_child_value (request, 2);
  return g_variant_is_of_type (third, G_VARIANT_TYPE_UINT64) ? g_variant_get_uint64 (third) : 0;
}

/* Sends the replies queued for @c, with the server's lock not held: a
 * client that stalls stalls only its own thread. */
static gboolean
tcp_client_flush (Client *c)
{
  Server *server = c->server;

  for (;;)
    {
      g_autoptr(GVariant) reply = NULL;

      g_mutex_lock (&server->lock);
      reply = g_queue_pop_head (&c->outbox);
      g_mutex_unlock (&server->lock);
      if (reply == NULL)
        return TRUE;
      if (!mproc_wire_send_value (c->sock, reply, NULL, 0, NULL, NULL))
        return FALSE;
    }
}

/* A remote client: its requests arrive as frames on its socket and are
 * queued for serve_all() like those of the rings, stamped with the time
 * of their arrival (the client's clock is another machine's). */
static gpointer
tcp_client_thread (gpointer data)
{
  Client *c = data;
  Server *server = c->server;

  for (;;)
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) request = NULL;
      gboolean shutdown, gone;

      bytes = mproc_wire_recv (c->sock, NULL, MIN (MPROC_MANAGER_TCP_MAX_MESSAGE, mproc_wire_get_max_message_size ()), NULL, NULL);
      if (bytes == NULL)
        break;   /* hung up, or a broken frame: the stream cannot resync */
      request = mproc_manager_request_decode (bytes, NULL);

      g_mutex_lock (&server->lock);
      if (request != NULL && g_variant_is_of_type (request, G_VARIANT_TYPE ("(utttv)")))
        {
          Pending *p = g_new0 (Pending, 1);

          p->pass = server->pass;
          p->time = (guint64) g_get_monotonic_time () * 1000;   /* CLOCK_MONOTONIC, as send_time() */
          p->request = g_steal_pointer (&request);
          p->fds = mproc_fd_array_new ();
          g_queue_push_tail (&c->queue, p);
        }
      else
        {
          g_autoptr(GError) bad = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                                       _("Malformed request"));

          if (!send_reply (c, tcp_request_serial (request), NULL, bad, NULL))
            c->gone = TRUE;
        }
      shutdown = serve_all (server);
      gone = c->gone;
      g_mutex_unlock (&server->lock);

      if (shutdown)
        g_main_loop_quit (server->loop);
      if (gone || !tcp_client_flush (c))
        break;
    }

  client_forget (c);
  client_free (c);
  return NULL;
}

static gboolean
tcp_handshake_readable_cb (int          fd,
                           GIOCondition condition,
                           gpointer     user_data)
{
  TcpHandshake *h = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = NULL;
  ssize_t r;

  r = recv (h->sock, h->buf + h->got, h->want - h->got, MSG_DONTWAIT);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (r <= 0)
    {
      tcp_handshake_free (h);   /* hung up: nobody to tell */
      return G_SOURCE_REMOVE;
    }
  /* it spoke: from now on it has the whole handshake's time */
  if (h->got == 0)
    g_source_set_ready_time (h->timer, h->accepted + TCP_HANDSHAKE_TIMEOUT_USEC);
  h->got += r;
  if (h->got < h->want)
    return G_SOURCE_CONTINUE;

  if (h->want == MPROC_WIRE_HEADER_SIZE)
    {
      gssize size = mproc_wire_header_parse (h->buf, 0, TCP_ANSWER_MAX);

      if (size < 0)
        {
          g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                               _("Received a malformed message"));
          tcp_handshake_refuse (h, error);
          return G_SOURCE_REMOVE;
        }
      h->want += size;
      h->buf = g_realloc (h->buf, h->want);
      if (h->got < h->want)
        return G_SOURCE_CONTINUE;
    }

  payload = g_bytes_new (h->buf + MPROC_WIRE_HEADER_SIZE, h->want - MPROC_WIRE_HEADER_SIZE);
  if (!tcp_handshake_finish (h, payload, &error))
    tcp_handshake_refuse (h, error);
  else
    tcp_handshake_free (h);
  return G_SOURCE_REMOVE;
}

static gboolean
tcp_handshake_timeout_cb (gpointer user_data)
{
  TcpHandshake *h = user_data;
  g_autoptr(GError) error = NULL;

  /* a client that was too slow learns only that it was refused */
  g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                       _("The client took too long to authenticate"));
  tcp_handshake_refuse (h, error);
  return G_SOURCE_REMOVE;
}

/* Whether a handshake from @source has a slot. */
static gboolean
tcp_handshake_has_room (TcpListener *l,
                        const char  *source)
{
  guint of_source = 0;

  if (l->handshakes.length >= TCP_MAX_HANDSHAKES)
    return FALSE;
  for (GList *link = l->handshakes.head; link != NULL; link = link->next)
    if (g_str_equal (((TcpHandshake *) link->data)->source, source))
      of_source++;
  return of_source < TCP_MAX_HANDSHAKES_PER_SOURCE;
}

static gboolean
tcp_accept_cb (int          fd,
               GIOCondition condition,
               gpointer     user_data)
{
  TcpListener *l = user_data;
  struct sockaddr_storage addr;
  socklen_t addr_len = sizeof addr;
  char source[64] = "";
  TcpHandshake *h;
  gint64 now;
  int sock, one = 1;

  sock = accept4 (fd, (struct sockaddr *) &addr, &addr_len, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (sock < 0)
    return G_SOURCE_CONTINUE;
  if (addr.ss_family == AF_INET)
    inet_ntop (AF_INET, &((struct sockaddr_in *) &addr)->sin_addr, source, sizeof source);
  else if (addr.ss_family == AF_INET6)
    inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &addr)->sin6_addr, source, sizeof source);
  now = g_get_monotonic_time ();
  if (!tcp_handshake_has_room (l, source))
    {
      close (sock);
      return G_SOURCE_CONTINUE;
    }
  setsockopt (sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  h = g_new0 (TcpHandshake, 1);
  h->listener = l;
  h->sock = sock;
  g_strlcpy (h->source, source, sizeof h->source);
  h->accepted = now;
  h->want = MPROC_WIRE_HEADER_SIZE;
  h->buf = g_malloc (h->want);
  h->link.data = h;
  g_queue_push_tail_link (&l->handshakes, &h->link);

  /* the greeting fits in an empty socket buffer: it does not block */
  mproc_manager_auth_nonce (h->nonce, sizeof h->nonce);
  if (!mproc_wire_send_value (sock, g_variant_new ("(s@ay)", MPROC_MANAGER_TCP_PROTOCOL,
                                                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, h->nonce,
                                                                              sizeof h->nonce, 1)),
                              NULL, 0, NULL, NULL))
    {
      tcp_handshake_free (h);
      return G_SOURCE_CONTINUE;
    }

  h->io = g_unix_fd_source_new (sock, G_IO_IN);
  g_source_set_callback (h->io, (GSourceFunc) (void (*) (void)) tcp_handshake_readable_cb, h, NULL);
  g_source_attach (h->io, l->server->context);
  h->timer = g_timeout_source_new (0);
  g_source_set_ready_time (h->timer, now + TCP_FIRST_BYTE_TIMEOUT_USEC);
  g_source_set_callback (h->timer, tcp_handshake_timeout_cb, h, NULL);
  g_source_attach (h->timer, l->server->context);
  return G_SOURCE_CONTINUE;
}

/* MANAGER_OP_LISTEN_TCP: the client has bound the socket (so that it can
 * report its errors and port); the server accepts on it from now on. */
static GVariant *
tcp_listen (Server    *server,
            GVariant  *args,
            GArray    *fds_in,
            GError   **error)
{
  g_autoptr(GSource) source = NULL;
  TcpListener *l;
  int type = 0, accepting = 0, domain = 0;
  socklen_t len = sizeof (int);
  int fd;

  if (!check_args (args, "ay", error))
    return NULL;
  if (g_variant_n_children (args) == 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                           _("A manager listens on TCP only with an authkey"));
      return NULL;
    }
  fd = fds_in != NULL && fds_in->len == 1 ? g_array_index (fds_in, int, 0) : -1;
  if (fd < 0 ||
      getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
      getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 || !accepting ||
      getsockopt (fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
      (domain != AF_INET && domain != AF_INET6))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Malformed request: not a listening TCP socket"));
      return NULL;
    }
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);

  l = g_new0 (TcpListener, 1);
  l->server = server;
  l->fd = fd;
  g_array_index (fds_in, int, 0) = -1;
  l->key = g_variant_get_data_as_bytes (args);
  g_queue_init (&l->handshakes);
  source = g_unix_fd_source_new (l->fd, G_IO_IN);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) tcp_accept_cb, l, tcp_listener_free);
  g_source_attach (source, server->context);
  return unit ();
}

/* The built-in target "mproc-manager-server": object 0 is a manager
 * carrying the listening socket. */
int
mproc_manager_server_main (MprocProcess *process,
                           GVariant     *args,
                           gpointer      user_data)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(GSource) source = NULL;
  GObject *carrier;
  const char *address = NULL;
  MprocManagerDBus *dbus;
  g_autoptr(GError) error = NULL;
  Server server = { 0, };
  int listen_fd, dbus_fd;

  if (mproc_process_get_n_objects (process) < 1)
    return 2;
  carrier = mproc_process_get_object (process, 0);
  if (!mproc_manager_carrier_steal (carrier, &listen_fd, &dbus_fd, &address))
    return 2;
  if (listen_fd < 0 || dbus_fd < 0)
    {
      mproc_clear_fd (&listen_fd);
      mproc_clear_fd (&dbus_fd);
      return 2;
    }

  g_mutex_init (&server.lock);
  server.objects = g_hash_table_new (g_direct_hash, g_direct_equal);
  server.names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server.published = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, published_free);
  server.clients = g_ptr_array_new ();
  server.order = mproc_order_new (NULL);
  if (server.order == NULL)
    return 1;

  context = g_main_context_new ();
  server.context = context;
  g_main_context_push_thread_default (context);
  server.loop = g_main_loop_new (context, FALSE);
  source = g_unix_fd_source_new (listen_fd, G_IO_IN);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) accept_cb, &server, NULL);
  g_source_attach (source, context);
  /* the D-Bus plane is up before the first client is accepted; without
   * it the server does not serve at all */
  dbus = mproc_manager_dbus_start (&server, address, dbus_fd, &error);
  if (dbus == NULL)
    {
      g_printerr ("%s\n", error->message);
      g_source_destroy (source);
      close (listen_fd);
      g_main_context_pop_thread_default (context);
      return 1;
    }
  g_mutex_lock (&server.lock);
  server_dbus = dbus;
  g_mutex_unlock (&server.lock);

  g_main_loop_run (server.loop);

  g_mutex_lock (&server.lock);
  server_dbus = NULL;
  g_mutex_unlock (&server.lock);
  g_clear_pointer (&dbus, mproc_manager_dbus_stop);

  /* Stop listening at once; client threads end with the process. */
  g_source_destroy (source);
  close (listen_fd);
  g_main_context_pop_thread_default (context);
  return 0;
}

/* The D-Bus plane (mproc-manager-dbus.c): one request on the named object
 * of type @kind, created on first use (held by its name, like a named
 * CREATE), served by the same handler as the rings and in order with them:
 * every request already in a ring is served first.  Runs in the server's
 * main thread. */
GVariant *
mproc_manager_server_call (MprocManagerServer  *server,
                           MprocManagerKind     kind,
                           const char          *name,
                           guint                op,
                           GVariant            *args,
                           GError             **error)
{
  g_autoptr(GVariant) floating = args != NULL ? g_variant_ref_sink (args) : g_variant_ref_sink (unit ());
  /* the handlers keep keys and values as their bytes: in normal form, as
   * from the rings */
  g_autoptr(GVariant) sunk = g_variant_get_normal_form (floating);
  GVariant *result = NULL;
  gboolean shutdown;

  g_mutex_lock (&server->lock);
  shutdown = serve_all (server);
  if (op == MANAGER_OP_PING || op == MANAGER_OP_SHUTDOWN)
    {
      result = unit ();
      shutdown = shutdown || op == MANAGER_OP_SHUTDOWN;
    }
  else if (op < DICT_OP_SET || name == NULL || name[0] == '\0')
    g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                         _("Malformed request: a shared object needs a name"));
  else
    {
      g_autofree char *key = g_strdup_printf ("%u:%s", kind, name);
      Client plane = { 0, };   /* data operations never touch their client */
      Object *obj = g_hash_table_lookup (server->names, key);

      if (obj == NULL)
        {
          obj = object_new (server, kind, name);
          obj->refs++;   /* the name's */
          g_hash_table_insert (server->names, g_steal_pointer (&key), obj);
        }
      plane.server = server;
      result = handle_request (server, &plane, op, obj->id, sunk, NULL, NULL, error);
    }
  g_mutex_unlock (&server->lock);

  if (shutdown)
    g_main_loop_quit (server->loop);
  return result != NULL ? g_variant_ref_sink (result) : NULL;
}
