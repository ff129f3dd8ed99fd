/* mproc-pool-dbus.c: a pool exported on a D-Bus connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mproc_pool_export() registers org.gnome.Mproc.Pool1
 * (data/org.gnome.Mproc.Pool1.xml, compiled in as a GResource) on a
 * connection.  Every method runs on the pool's _async API, so a handler
 * returns at once and the connection's main context never blocks.
 *
 * Calls are grouped by caller: its unique bus name on a message bus, the
 * connection itself on a peer-to-peer one.  A caller has a count of
 * queued tasks (checked against the export's limit) and its pending
 * operations, each with a GCancellable: Cancel, the caller leaving the bus
 * (NameOwnerChanged) and the connection closing cancel them, which drops
 * their tasks no worker has started.
 *
 * A caller is remembered, with its NameOwnerChanged match rule, until it
 * leaves the bus (or, past MAX_IDLE_CALLERS, until it is idle): adding and
 * removing a match rule per call would cost two more messages to the bus
 * daemon on every call, more than doubling the overhead of a Submit.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "mproc-dbus-resources.h"
#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-pool-dbus.h"
#include "mproc-pool-private.h"
#include "mproc-wire-private.h"

#define POOL_INTERFACE_PATH  "/org/gnome/Mproc/interfaces/org.gnome.Mproc.Pool1.xml"
#define PROPS_MIN_INTERVAL   (100 * G_TIME_SPAN_MILLISECOND)
/* TaskFinished at most this often per call, none in a call's first
 * interval: a signal wakes the bus daemon and the caller, which a fast map
 * of tiny items would pay for on every chunk. */
#define PROGRESS_MIN_INTERVAL (50 * G_TIME_SPAN_MILLISECOND)
#define REQUIRED_SEALS       (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)
#define MAX_IDLE_CALLERS     1024

typedef struct _Export Export;
typedef struct _Caller Caller;

typedef enum
{
  OP_SUBMIT,
  OP_MAP,
  OP_MAP_ARRAY,
  OP_MAP_FD,
  OP_MAP_INTO,
} OpKind;

struct _Export
{
  gint             ref_count;
  guint            id;
  MprocPool       *pool;
  GDBusConnection *connection;
  char            *object_path;
  guint            registration_id;
  gboolean         on_bus;          /* a message bus, not peer-to-peer */
  gboolean         unexported;
  GHashTable      *callers;         /* name ("" peer-to-peer) -> Caller* */
  guint            max_queued;
  guint64          max_message_size;
  gulong           closed_id;
  gulong           load_id;
  gulong           load_id2;
  GMainContext    *context;
  GSource         *props_source;
  gint64           props_sent_at;
  guint            sent[3];         /* Workers, Busy, Queued as last sent */
};

struct _Caller
{
  gint     ref_count;
  Export  *export;                  /* weak: removed from it before it goes */
  char    *name;
  guint    watch_id;
  GList   *ops;                     /* Op* */
  guint    n_queued;
  gboolean gone;
  gboolean left;                    /* it left the bus */
};

typedef struct
{
  gint                   ref_count;
  Export                *export;     /* strong */
  Caller                *caller;     /* strong */
  OpKind                 kind;
  GDBusMethodInvocation *invocation; /* until replied to */
  GCancellable          *cancellable;
  guint32                serial;
  guint                  n_items;
  gint64                 progress_at;  /* when TaskFinished was last sent */
} Op;

G_LOCK_DEFINE_STATIC (exports);
static GHashTable *exports;         /* id -> Export* */
static guint next_export_id = 1;

/* --- Lifetimes ------------------------------------------------------------ */

static Export *
export_ref (Export *e)
{
  g_atomic_int_inc (&e->ref_count);
  return e;
}

static void
export_unref (Export *e)
{
  if (!g_atomic_int_dec_and_test (&e->ref_count))
    return;
  g_hash_table_unref (e->callers);
  g_clear_object (&e->pool);
  g_clear_object (&e->connection);
  g_free (e->object_path);
  g_main_context_unref (e->context);
  g_free (e);
}

static Caller *
caller_ref (Caller *c)
{
  c->ref_count++;
  return c;
}

static void
caller_unref (gpointer data)
{
  Caller *c = data;

  if (--c->ref_count > 0)
    return;
  g_assert (c->ops == NULL);
  g_free (c->name);
  g_free (c);
}

static void
op_unref (gpointer data)
{
  Op *op = data;

  if (--op->ref_count > 0)
    return;
  g_clear_object (&op->invocation);
  g_clear_object (&op->cancellable);
  caller_unref (op->caller);
  export_unref (op->export);
  g_free (op);
}

/* The caller has no call left: stop watching it. */
static void
caller_forget (Caller *c)
{
  Export *e = c->export;

  if (c->gone)
    return;
  c->gone = TRUE;
  if (c->watch_id != 0)
    {
      /* the subscription holds a reference until GDBus lets go of it */
      g_dbus_connection_signal_unsubscribe (e->connection, c->watch_id);
      c->watch_id = 0;
    }
  g_hash_table_remove (e->callers, c->name);
  caller_unref (c);   /* the table's */
}

static void
caller_cancel_all (Caller *c)
{
  GList *ops = g_list_copy (c->ops);

  for (GList *l = ops; l != NULL; l = l->next)
    g_cancellable_cancel (((Op *) l->data)->cancellable);
  g_list_free (ops);
}

static void
name_owner_changed_cb (GDBusConnection *connection,
                       const char      *sender_name,
                       const char      *object_path,
                       const char      *interface_name,
                       const char      *signal_name,
                       GVariant        *parameters,
                       gpointer         user_data)
{
  Caller *c = user_data;
  const char *name, *old_owner, *new_owner;

  if (c->gone || !g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sss)")))
    return;
  g_variant_get (parameters, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (new_owner[0] != '\0' || !g_str_equal (name, c->name))
    return;
  g_debug ("Pool export %s: caller %s left the bus, cancelling %u calls",
           c->export->object_path, c->name, g_list_length (c->ops));
  c->left = TRUE;
  caller_cancel_all (c);
  if (c->ops == NULL)
    caller_forget (c);
}

/* It may have left before its match rule was in place: ask once. */
static void
get_name_owner_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Caller *c = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply == NULL && !c->gone &&
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    {
      c->left = TRUE;
      caller_cancel_all (c);
      if (c->ops == NULL)
        caller_forget (c);
    }
  caller_unref (c);
}

/* Too many callers remembered: forget the idle ones. */
static void
export_trim_callers (Export *e)
{
  g_autoptr(GList) callers = NULL;

  if (g_hash_table_size (e->callers) <= MAX_IDLE_CALLERS)
    return;
  callers = g_hash_table_get_values (e->callers);
  for (GList *l = callers; l != NULL; l = l->next)
    if (((Caller *) l->data)->ops == NULL)
      caller_forget (l->data);
}

static Caller *
export_get_caller (Export     *e,
                   const char *sender)
{
  const char *key = e->on_bus && sender != NULL ? sender : "";
  Caller *c = g_hash_table_lookup (e->callers, key);

  if (c != NULL)
    return c;

  export_trim_callers (e);
  c = g_new0 (Caller, 1);
  c->ref_count = 1;
  c->export = e;
  c->name = g_strdup (key);
  if (key[0] != '\0')
    c->watch_id = g_dbus_connection_signal_subscribe (e->connection, "org.freedesktop.DBus",
                                                      "org.freedesktop.DBus", "NameOwnerChanged",
                                                      "/org/freedesktop/DBus", key,
                                                      G_DBUS_SIGNAL_FLAGS_NONE,
                                                      name_owner_changed_cb, caller_ref (c),
                                                      caller_unref);
  g_hash_table_insert (e->callers, c->name, c);
  if (key[0] != '\0')
    g_dbus_connection_call (e->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus", "GetNameOwner", g_variant_new ("(s)", key),
                            G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                            get_name_owner_cb, caller_ref (c));
  return c;
}

static Op *
op_new (Export                *e,
        Caller                *c,
        OpKind                 kind,
        GDBusMethodInvocation *invocation,
        guint                  n_items)
{
  Op *op = g_new0 (Op, 1);

  op->ref_count = 1;
  op->export = export_ref (e);
  op->caller = caller_ref (c);
  op->kind = kind;
  op->invocation = g_object_ref (invocation);
  op->cancellable = g_cancellable_new ();
  op->serial = g_dbus_message_get_serial (g_dbus_method_invocation_get_message (invocation));
  op->n_items = n_items;
  op->progress_at = g_get_monotonic_time ();
  c->ops = g_list_prepend (c->ops, op);
  c->n_queued += n_items;
  return op;
}

/* The op is over (its reply is sent, or about to be): count it out. */
static void
op_finish (Op *op)
{
  Caller *c = op->caller;

  c->ops = g_list_remove (c->ops, op);
  c->n_queued -= op->n_items;
  op->n_items = 0;
  /* a peer-to-peer caller is the connection: it stays with the export */
  if (c->ops == NULL && c->left)
    caller_forget (c);
}

static GDBusMethodInvocation *
op_steal_invocation (Op *op)
{
  return g_steal_pointer (&op->invocation);
}

/* --- Values ---------------------------------------------------------------- */

/* av -> aT; NULL if the items are not all of one type. */
/* The size of a number type that Map packs, else 0.  Not handles: over
 * D-Bus they index the message's fd list. */
static gsize
packable_size (char type_char)
{
  return type_char == 'h' ? 0 : mproc_wire_number_size (type_char);
}

/* Reads a number of type @type_char with its getter (a value of the
 * wrong size, which a caller may send, reads as 0 in normal form). */
static void
read_number (GVariant *value,
             char      type_char,
             guint8   *out)
{
  union { guint8 y; guint16 q; guint32 u; guint64 t; gdouble d; } v;

  switch (type_char)
    {
    case 'y': v.y = g_variant_get_byte (value); break;
    case 'n': v.q = (guint16) g_variant_get_int16 (value); break;
    case 'q': v.q = g_variant_get_uint16 (value); break;
    case 'i': v.u = (guint32) g_variant_get_int32 (value); break;
    case 'u': v.u = g_variant_get_uint32 (value); break;
    case 'x': v.t = (guint64) g_variant_get_int64 (value); break;
    case 't': v.t = g_variant_get_uint64 (value); break;
    case 'd': v.d = g_variant_get_double (value); break;
    default: g_assert_not_reached ();
    }
  memcpy (out, &v, packable_size (type_char));
}

/* av of numbers of one type -> the packed aT that MapArray takes: one
 * buffer instead of an array of n values, which the pool would only
 * serialise again.  NULL when the items are not all numbers of one type. */
static GVariant *
pack_number_items (GVariant *boxed,
                   gsize     n)
{
  g_autoptr(GVariant) first_box = g_variant_get_child_value (boxed, 0);
  g_autoptr(GVariant) first = g_variant_get_variant (first_box);
  const char *type = g_variant_get_type_string (first);
  char array_type[3] = { 'a', type[0], '\0' };
  g_autofree guint8 *packed = NULL;
  guint8 *data;
  gsize size;

  if (type[1] != '\0' || (size = packable_size (type[0])) == 0)
    return NULL;
  packed = g_malloc (n * size);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) box = g_variant_get_child_value (boxed, i);
      g_autoptr(GVariant) value = g_variant_get_variant (box);
      const char *t = g_variant_get_type_string (value);

      if (t[0] != type[0] || t[1] != '\0')
        return NULL;
      read_number (value, type[0], packed + i * size);
    }
  data = g_steal_pointer (&packed);
  return g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE (array_type), data, n * size,
                                                      TRUE, g_free, data));
}

static GVariant *
unbox_items (GVariant *boxed)
{
  gsize n = g_variant_n_children (boxed);
  g_autofree GVariant **children = NULL;
  const GVariantType *type = NULL;
  GVariant *ret = NULL;
  gboolean same = TRUE;

  if (n == 0)
    return g_variant_ref (boxed);
  if ((ret = pack_number_items (boxed, n)) != NULL)
    return ret;

  children = g_new (GVariant *, n);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (boxed, i);

      children[i] = g_variant_get_variant (child);
      if (type == NULL)
        type = g_variant_get_type (children[i]);
      else if (same && !g_variant_type_equal (type, g_variant_get_type (children[i])))
        same = FALSE;
    }
  if (same)
    ret = g_variant_ref_sink (g_variant_new_array (type, children, n));
  for (gsize i = 0; i < n; i++)
    g_variant_unref (children[i]);
  return ret;
}

/* The size GLib gives an array of variable-size elements whose last one
 * ends at @body, with @n framing offsets, and the size of each offset. */
static gsize
framed_size (gsize  body,
             gsize  n,
             gsize *offset_size)
{
  static const gsize sizes[] = { 1, 2, 4 };
  static const guint64 limits[] = { G_MAXUINT8, G_MAXUINT16, G_MAXUINT32 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    if (body + sizes[i] * n <= limits[i])
      {
        *offset_size = sizes[i];
        return body + sizes[i] * n;
      }
  *offset_size = 8;
  return body + 8 * n;
}

/* A packed aT of numbers -> its av, written as GLib serialises it (each
 * boxed value is the number, a NUL and its type character, 8-aligned;
 * then the end of each one), rather than built from n values boxed one
 * by one.  NULL for anything else. */
static GVariant *
box_packed_numbers (GVariant *results)
{
  const char *type = g_variant_get_type_string (results);
  const guint8 *src;
  guint8 *out;
  gsize size, n, stride, body, total, offset_size;

  if (type[0] != 'a' || type[1] == '\0' || type[2] != '\0' || (size = packable_size (type[1])) == 0)
    return NULL;
  src = g_variant_get_fixed_array (results, &n, size);
  if (n == 0 || src == NULL)
    return NULL;
  stride = (size + 2 + 7) & ~(gsize) 7;
  body = stride * (n - 1) + size + 2;
  total = framed_size (body, n, &offset_size);
  out = g_malloc0 (total);
  for (gsize i = 0; i < n; i++)
    {
      guint8 *at = out + i * stride;
      guint64 end = GUINT64_TO_LE (i * stride + size + 2);

      memcpy (at, src + i * size, size);
      at[size + 1] = (guint8) type[1];
      memcpy (out + body + i * offset_size, &end, offset_size);
    }
  /* Trusted: written here in normal form (GLib 2.74 re-checks the framing
   * of an untrusted array from its start for every child it is asked for). */
  return g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE ("av"), out, total, TRUE, g_free, out));
}

/* aR -> av */
static GVariant *
box_results (GVariant *results)
{
  GVariantBuilder builder;
  GVariantIter iter;
  GVariant *child;
  GVariant *packed;

  if (g_variant_is_of_type (results, G_VARIANT_TYPE ("av")))
    return g_variant_ref (results);
  if ((packed = box_packed_numbers (results)) != NULL)
    return packed;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  g_variant_iter_init (&iter, results);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_variant_builder_add (&builder, "v", child);
      g_variant_unref (child);
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static void
unmap_bytes (gpointer data)
{
  GBytes *mapping = data;
  gsize size = 0;
  gconstpointer mem = g_bytes_get_data (mapping, &size);

  munmap ((gpointer) mem, size);
  g_bytes_unref (mapping);
}

/* Checks a sealed memfd holding a serialised @type_string array. */
static gboolean
check_items_fd (int          fd,
                const char  *type_string,
                guint64      max_size,
                gsize       *size,
                GError     **error)
{
  struct stat st;
  int seals;

  if (!mproc_wire_type_string_is_safe (type_string) || type_string[0] != 'a')
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   _("“%s” is not the type of an array of values"), type_string);
      return FALSE;
    }
  seals = fcntl (fd, F_GET_SEALS);
  if (seals < 0 || (seals & REQUIRED_SEALS) != REQUIRED_SEALS)
    {
      g_set_error_literal (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                           _("The items must come in a memfd sealed against writing and resizing"));
      return FALSE;
    }
  if (fstat (fd, &st) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   _("Cannot read the items: %s"), g_strerror (errsv));
      return FALSE;
    }
  if (max_size != 0 && (guint64) st.st_size > max_size)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED,
                   _("The items take %llu bytes, more than the limit of %llu"),
                   (unsigned long long) st.st_size, (unsigned long long) max_size);
      return FALSE;
    }
  *size = st.st_size;
  return TRUE;
}

/* Maps a sealed memfd holding a serialised @type_string array. */
static GVariant *
items_from_fd (int          fd,
               const char  *type_string,
               guint64      max_size,
               GError     **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  gsize size;
  gpointer mem;

  if (!check_items_fd (fd, type_string, max_size, &size, error))
    return NULL;

  if (size == 0)
    bytes = g_bytes_new (NULL, 0);
  else
    {
      mem = mmap (NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
      if (mem == MAP_FAILED)
        {
          int errsv = errno;
          g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                       _("Cannot map the items: %s"), g_strerror (errsv));
          return NULL;
        }
      bytes = g_bytes_new_with_free_func (mem, size, unmap_bytes,
                                          g_bytes_new_static (mem, size));
    }

  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type_string), bytes, FALSE));
  if (!mproc_pool_variant_is_valid (value))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("The items are not a valid serialised array"));
      return NULL;
    }
  return g_steal_pointer (&value);
}

/* A sealed memfd with @value's serialised bytes. */
static int
fd_from_value (GVariant  *value,
               GError   **error)
{
  gsize size = g_variant_get_size (value);
  gconstpointer data = g_variant_get_data (value);
  MprocFd fd = memfd_create ("mproc-pool-results", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  gsize done = 0;

  if (fd < 0)
    goto fail;
  if (ftruncate (fd, size) < 0)
    goto fail;
  while (done < size)
    {
      ssize_t n = pwrite (fd, (const guint8 *) data + done, size - done, done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        goto fail;
      done += n;
    }
  if (fcntl (fd, F_ADD_SEALS, REQUIRED_SEALS | F_SEAL_SEAL) < 0)
    goto fail;
  return g_steal_fd (&fd);

fail:
  {
    int errsv = errno;
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                 _("Cannot pass the results in shared memory: %s"), g_strerror (errsv));
    mproc_clear_fd (&fd);
    return -1;
  }
}

/* --- Replies ------------------------------------------------------------- */

/* An error of a domain with no D-Bus names (a module's own domain, GIO's,
 * GLib's) becomes org.gnome.Mproc.Error.Domain.<domain>.Code<code>, the
 * domain escaped as GDBus escapes names (any byte but [A-Za-z0-9] as _xx),
 * rather than GDBus's org.gtk.GDBus.UnmappedGError.…: a name any client can
 * read, and mproc_dbus_error_decode() turns back into the same GError. */
#define DOMAIN_ERROR_PREFIX "org.gnome.Mproc.Error.Domain."
#define DBUS_NAME_MAX 255

static char *
domain_error_name (const GError *error)
{
  const char *domain = g_quark_to_string (error->domain);
  g_autoptr(GString) name = g_string_new (DOMAIN_ERROR_PREFIX);

  for (const char *p = domain; *p != '\0'; p++)
    {
      /* an element may not start with a digit */
      if (g_ascii_isalpha (*p) || (g_ascii_isdigit (*p) && p != domain))
        g_string_append_c (name, *p);
      else
        g_string_append_printf (name, "_%02x", (guchar) *p);
    }
  g_string_append_printf (name, ".Code%d", error->code);
  if (name->len > DBUS_NAME_MAX || error->code < 0 || domain[0] == '\0')
    return NULL;
  return g_string_free (g_steal_pointer (&name), FALSE);
}

static void
return_gerror (GDBusMethodInvocation *invocation,
               const GError          *error)
{
  g_autofree char *registered = g_dbus_error_encode_gerror (error);
  g_autofree char *name = NULL;

  if (!g_str_has_prefix (registered, "org.gtk.GDBus.UnmappedGError."))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  name = domain_error_name (error);
  g_dbus_method_invocation_return_dbus_error (invocation, name != NULL ? name : "org.gnome.Mproc.Error.Failed",
                                              error->message);
}

/**
 * mproc_dbus_error_decode:
 * @error: an error returned by a D-Bus call to an exported pool
 *
 * Turns an error that an exported pool (such as `mproc-worker-service`)
 * returned into the error its task raised.  Errors of a domain with D-Bus
 * names, such as %MPROC_ERROR and %G_DBUS_ERROR, arrive as themselves; an
 * error of any other domain (a module's own, %G_IO_ERROR, …) travels as the
 * D-Bus error `org.gnome.Mproc.Error.Domain.DOMAIN.CodeCODE`, DOMAIN being
 * the quark's string with every byte other than a letter or a digit written
 * `_xx` (hexadecimal), and arrives as %G_IO_ERROR_DBUS_ERROR: this function
 * gives it back its domain and code.  The message loses the remote-error
 * prefix in both cases.
 *
 * Returns: (transfer full): a new error: the task's error, or a copy of
 *   @error with its message stripped
 *
 * Since: 0.1
 * Stability: Unstable
 */
GError *
mproc_dbus_error_decode (const GError *error)
{
  g_autofree char *remote = NULL;
  GError *copy;

  g_return_val_if_fail (error != NULL, NULL);

  copy = g_error_copy (error);
  remote = g_dbus_error_get_remote_error (copy);
  g_dbus_error_strip_remote_error (copy);
  if (remote != NULL && g_str_has_prefix (remote, DOMAIN_ERROR_PREFIX) &&
      g_error_matches (copy, G_IO_ERROR, G_IO_ERROR_DBUS_ERROR))
    {
      const char *p = remote + strlen (DOMAIN_ERROR_PREFIX);
      const char *code = strrchr (p, '.');
      g_autoptr(GString) domain = g_string_new (NULL);
      gint64 value;
      char *end;

      if (code == NULL || !g_str_has_prefix (code, ".Code"))
        return copy;
      value = g_ascii_strtoll (code + 5, &end, 10);
      if (*end != '\0' || end == code + 5 || value < 0 || value > G_MAXINT)
        return copy;
      for (; p < code; p++)
        {
          if (*p == '_' && code - p >= 3 && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
            {
              g_string_append_c (domain, (char) (g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2])));
              p += 2;
            }
          else if (g_ascii_isalnum (*p))
            g_string_append_c (domain, *p);
          else
            return copy;
        }
      if (domain->len == 0 || strlen (domain->str) != domain->len)
        return copy;
      copy->domain = g_quark_from_string (domain->str);
      copy->code = (int) value;
    }
  return copy;
}

static void
op_return_error (Op     *op,
                 GError *error)
{
  g_autoptr(GDBusMethodInvocation) invocation = op_steal_invocation (op);

  op_finish (op);
  return_gerror (invocation, error);
}

static void
submit_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Op *op = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = mproc_pool_apply_finish (MPROC_POOL (source), result, &error);

  if (value == NULL)
    op_return_error (op, error);
  else
    {
      g_autoptr(GDBusMethodInvocation) invocation = op_steal_invocation (op);

      op_finish (op);
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", value));
    }
  op_unref (op);
}

static void
map_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Op *op = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = mproc_pool_map_finish (MPROC_POOL (source), result, &error);
  g_autoptr(GDBusMethodInvocation) invocation = NULL;

  if (value == NULL)
    {
      op_return_error (op, error);
      op_unref (op);
      return;
    }

  invocation = op_steal_invocation (op);
  op_finish (op);

  switch (op->kind)
    {
    case OP_MAP:
      {
        g_autoptr(GVariant) boxed = box_results (value);

        g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@av)", boxed));
      }
      break;
    case OP_MAP_ARRAY:
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", value));
      break;
    case OP_MAP_FD:
      {
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
        MprocFd fd = fd_from_value (value, &error);

        if (fd < 0 || g_unix_fd_list_append (fds, fd, &error) < 0)
          return_gerror (invocation, error);
        else
          g_dbus_method_invocation_return_value_with_unix_fd_list (invocation,
                                                                   g_variant_new ("(sh)", g_variant_get_type_string (value), 0),
                                                                   fds);
        mproc_clear_fd (&fd);
      }
      break;
    case OP_SUBMIT:
    case OP_MAP_INTO:
    default:
      g_assert_not_reached ();
    }
  op_unref (op);
}

/* TaskFinished, to the caller only. */
static void
map_progress_cb (guint    n_done,
                 guint    n_items,
                 gpointer user_data)
{
  Op *op = user_data;
  Export *e = op->export;
  gint64 now = g_get_monotonic_time ();

  if (e->unexported || op->caller->gone || g_dbus_connection_is_closed (e->connection))
    return;
  if (now - op->progress_at < PROGRESS_MIN_INTERVAL)
    return;
  op->progress_at = now;
  g_dbus_connection_emit_signal (e->connection, e->on_bus ? op->caller->name : NULL,
                                 e->object_path, MPROC_POOL_DBUS_INTERFACE, "TaskFinished",
                                 g_variant_new ("(uuu)", op->serial, n_done, n_items), NULL);
}

/* --- Method calls ---------------------------------------------------------- */

static gboolean
check_target (const char  *target,
              GError     **error)
{
  MprocTaskFunc item_func;
  MprocChunkFunc chunk_func;
  gpointer data;

  if (g_str_equal (target, MPROC_POOL_WORKER_TARGET) ||
      !mproc_pool_lookup_task (target, &item_func, &chunk_func, &data))
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET,
                   _("No pool target is registered under the name “%s”"), target);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_queue (Export      *e,
             Caller      *c,
             guint        n_items,
             GError     **error)
{
  if (e->max_queued != 0 && (guint64) c->n_queued + n_items > e->max_queued)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FULL,
                   _("Too many tasks queued: %u more would exceed the limit of %u per caller"),
                   n_items, e->max_queued);
      return FALSE;
    }
  return TRUE;
}

static void
handle_cancel (Export                *e,
               const char            *sender,
               GVariant              *parameters,
               GDBusMethodInvocation *invocation)
{
  const char *key = e->on_bus && sender != NULL ? sender : "";
  Caller *c = g_hash_table_lookup (e->callers, key);
  guint32 serial;
  guint n = 0;

  g_variant_get (parameters, "(u)", &serial);
  if (c != NULL)
    {
      g_autoptr(GList) ops = g_list_copy (c->ops);

      for (GList *l = ops; l != NULL; l = l->next)
        {
          Op *op = l->data;

          if ((serial == 0 || op->serial == serial) && !g_cancellable_is_cancelled (op->cancellable))
            {
              g_cancellable_cancel (op->cancellable);
              n++;
            }
        }
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", n));
}

/* Replies to MapFd with the results' memfd. */
static void
return_results_fd (GDBusMethodInvocation *invocation,
                   int                    fd,
                   const char            *type)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;

  if (g_unix_fd_list_append (fds, fd, &error) < 0)
    return_gerror (invocation, error);
  else
    g_dbus_method_invocation_return_value_with_unix_fd_list (invocation,
                                                             g_variant_new ("(sh)", type, 0), fds);
}

static void
map_fd_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Op *op = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusMethodInvocation) invocation = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autofree char *type = NULL;
  MprocFd fd = -1;

  if (!mproc_pool_map_fd_finish (MPROC_POOL (source), result, &fd, &type, &value, &error))
    {
      op_return_error (op, error);
      op_unref (op);
      return;
    }

  invocation = op_steal_invocation (op);
  op_finish (op);
  if (op->kind == OP_MAP_INTO)
    {
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", type));
      op_unref (op);
      return;
    }
  if (fd < 0)
    {
      /* the results were not all packed like the items: serialise them */
      fd = fd_from_value (value, &error);
      g_free (type);
      type = g_strdup (g_variant_get_type_string (value));
    }
  if (fd < 0)
    return_gerror (invocation, error);
  else
    return_results_fd (invocation, fd, type);
  mproc_clear_fd (&fd);
  op_unref (op);
}

/* MapFd of a packed array: the workers read the caller's memfd and write
 * the results' memfd themselves; nothing is mapped or copied here. */
static void
handle_map_fd_packed (Export                *e,
                      const char            *sender,
                      const char            *target,
                      const char            *type_string,
                      int                    fd,
                      GDBusMethodInvocation *invocation)
{
  g_autoptr(GError) error = NULL;
  gsize esize = mproc_pool_packed_size (type_string);
  gsize size;
  Caller *c;
  Op *op;

  if (!check_items_fd (fd, type_string, e->max_message_size, &size, &error))
    {
      return_gerror (invocation, error);
      return;
    }
  if (size % esize != 0 || size / esize >= G_MAXUINT)
    {
      g_dbus_method_invocation_return_error_literal (invocation, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                                     _("The items are not a valid serialised array"));
      return;
    }

  c = export_get_caller (e, sender);
  if (!check_queue (e, c, size / esize, &error))
    {
      return_gerror (invocation, error);
      return;
    }
  op = op_new (e, c, OP_MAP_FD, invocation, size / esize);
  op->ref_count++;
  mproc_pool_map_fd_async (e->pool, target, type_string, fd, size, -1, op->cancellable,
                           map_progress_cb, op, op_unref, map_fd_done_cb, op);
}

/* Checks a memfd of MapInto: shared memory (it has seals, none against
 * what we do to it) of at least @size bytes. */
static gboolean
check_into_fd (int          fd,
               gboolean     results,
               gsize        size,
               GError     **error)
{
  int seals = fcntl (fd, F_GET_SEALS);
  int flags = fcntl (fd, F_GETFL);
  struct stat st;

  if (seals < 0 || flags < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      g_set_error_literal (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                           _("The items and the results of MapInto must be memfds"));
      return FALSE;
    }
  if (results && ((seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0 || (flags & O_ACCMODE) == O_RDONLY))
    {
      g_set_error_literal (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                           _("The results of MapInto must go to a writable memfd"));
      return FALSE;
    }
  if ((guint64) st.st_size < size)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   _("A memfd of MapInto takes %llu bytes, fewer than the %llu of the items"),
                   (unsigned long long) st.st_size, (unsigned long long) size);
      return FALSE;
    }
  return TRUE;
}

/* MapInto: MapFd in the caller's own memfds, reused from call to call. */
static void
handle_map_into (Export                *e,
                 const char            *sender,
                 const char            *target,
                 GVariant              *parameters,
                 GDBusMethodInvocation *invocation)
{
  GUnixFDList *fds = g_dbus_message_get_unix_fd_list (g_dbus_method_invocation_get_message (invocation));
  g_autoptr(GError) error = NULL;
  const char *type_string;
  gint32 in_handle, out_handle;
  guint32 n_items;
  MprocFd in_fd = -1;
  MprocFd out_fd = -1;
  gsize esize, size;
  Caller *c;
  Op *op;

  g_variant_get (parameters, "(&s&shuh)", NULL, &type_string, &in_handle, &n_items, &out_handle);
  esize = mproc_pool_packed_size (type_string);
  if (esize == 0)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             _("MapInto takes packed arrays of numbers, not “%s”"),
                                             type_string);
      return;
    }
  size = (gsize) n_items * esize;
  if (e->max_message_size != 0 && size > e->max_message_size)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED,
                                             _("The items take %llu bytes, more than the limit of %llu"),
                                             (unsigned long long) size,
                                             (unsigned long long) e->max_message_size);
      return;
    }
  if (fds == NULL || in_handle < 0 || out_handle < 0 ||
      in_handle >= g_unix_fd_list_get_length (fds) || out_handle >= g_unix_fd_list_get_length (fds))
    {
      g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                     _("The call carries no file descriptor for the items"));
      return;
    }
  in_fd = g_unix_fd_list_get (fds, in_handle, &error);
  if (in_fd >= 0)
    out_fd = g_unix_fd_list_get (fds, out_handle, &error);
  if (out_fd < 0 || !check_into_fd (in_fd, FALSE, size, &error) || !check_into_fd (out_fd, TRUE, size, &error))
    {
      mproc_clear_fd (&in_fd);
      mproc_clear_fd (&out_fd);
      return_gerror (invocation, error);
      return;
    }

  c = export_get_caller (e, sender);
  if (!check_queue (e, c, n_items, &error))
    {
      mproc_clear_fd (&in_fd);
      mproc_clear_fd (&out_fd);
      return_gerror (invocation, error);
      return;
    }
  op = op_new (e, c, OP_MAP_INTO, invocation, n_items);
  op->ref_count++;
  mproc_pool_map_fd_async (e->pool, target, type_string, in_fd, size, out_fd, op->cancellable,
                           map_progress_cb, op, op_unref, map_fd_done_cb, op);
  mproc_clear_fd (&in_fd);
  mproc_clear_fd (&out_fd);
}

static void
method_call_cb (GDBusConnection       *connection,
                const char            *sender,
                const char            *object_path,
                const char            *interface_name,
                const char            *method_name,
                GVariant              *parameters,
                GDBusMethodInvocation *invocation,
                gpointer               user_data)
{
  Export *e = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) items = NULL;
  const char *target = NULL;
  OpKind kind;
  Caller *c;
  Op *op;

  if (g_str_equal (method_name, "Cancel"))
    {
      handle_cancel (e, sender, parameters, invocation);
      return;
    }

  if (e->max_message_size != 0 && g_variant_get_size (parameters) > e->max_message_size)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED,
                                             _("The call takes %llu bytes, more than the limit of %llu"),
                                             (unsigned long long) g_variant_get_size (parameters),
                                             (unsigned long long) e->max_message_size);
      return;
    }

  g_variant_get_child (parameters, 0, "&s", &target);
  if (!check_target (target, &error))
    {
      return_gerror (invocation, error);
      return;
    }

  if (g_str_equal (method_name, "Submit"))
    {
      kind = OP_SUBMIT;
      g_variant_get_child (parameters, 1, "v", &items);
    }
  else if (g_str_equal (method_name, "Map"))
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (parameters, 1);

      kind = OP_MAP;
      items = unbox_items (boxed);
      if (items == NULL)
        {
          g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                         _("The items of a map must all have the same type"));
          return;
        }
    }
  else if (g_str_equal (method_name, "MapArray"))
    {
      kind = OP_MAP_ARRAY;
      g_variant_get_child (parameters, 1, "v", &items);
      if (!g_variant_is_of_type (items, G_VARIANT_TYPE_ARRAY))
        {
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                 _("The items must be an array, not “%s”"),
                                                 g_variant_get_type_string (items));
          return;
        }
    }
  else if (g_str_equal (method_name, "MapInto"))
    {
      handle_map_into (e, sender, target, parameters, invocation);
      return;
    }
  else if (g_str_equal (method_name, "MapFd"))
    {
      GUnixFDList *fds = g_dbus_message_get_unix_fd_list (g_dbus_method_invocation_get_message (invocation));
      const char *type_string;
      gint32 handle;
      MprocFd fd = -1;

      kind = OP_MAP_FD;
      g_variant_get (parameters, "(&s&sh)", NULL, &type_string, &handle);
      if (fds == NULL || handle < 0 || handle >= g_unix_fd_list_get_length (fds) ||
          (fd = g_unix_fd_list_get (fds, handle, &error)) < 0)
        {
          if (error == NULL)
            g_set_error_literal (&error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                 _("The call carries no file descriptor for the items"));
          return_gerror (invocation, error);
          return;
        }
      if (mproc_pool_packed_size (type_string) != 0)
        {
          handle_map_fd_packed (e, sender, target, type_string, fd, invocation);
          mproc_clear_fd (&fd);
          return;
        }
      items = items_from_fd (fd, type_string, e->max_message_size, &error);
      mproc_clear_fd (&fd);
      if (items == NULL)
        {
          return_gerror (invocation, error);
          return;
        }
    }
  else
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                             _("No such method “%s”"), method_name);
      return;
    }

  c = export_get_caller (e, sender);
  if (!check_queue (e, c, kind == OP_SUBMIT ? 1 : g_variant_n_children (items), &error))
    {
      return_gerror (invocation, error);
      return;
    }

  op = op_new (e, c, kind, invocation, kind == OP_SUBMIT ? 1 : g_variant_n_children (items));
  if (kind == OP_SUBMIT)
    mproc_pool_apply_async (e->pool, target, items, -1, op->cancellable,
                            submit_done_cb, op);
  else
    {
      op->ref_count++;
      mproc_pool_map_async (e->pool, target, items, 0, -1, op->cancellable,
                            map_progress_cb, op, op_unref, map_done_cb, op);
    }
}

/* --- Properties ------------------------------------------------------------ */

static void
export_read_load (Export *e,
                  guint   values[3])
{
  values[0] = mproc_pool_get_n_workers (e->pool);
  g_object_get (e->pool, "busy", &values[1], "queued", &values[2], NULL);
}

static GVariant *
get_property_cb (GDBusConnection  *connection,
                 const char       *sender,
                 const char       *object_path,
                 const char       *interface_name,
                 const char       *property_name,
                 GError          **error,
                 gpointer          user_data)
{
  Export *e = user_data;
  guint values[3];

  export_read_load (e, values);
  if (g_str_equal (property_name, "Workers"))
    return g_variant_new_uint32 (values[0]);
  if (g_str_equal (property_name, "Busy"))
    return g_variant_new_uint32 (values[1]);
  if (g_str_equal (property_name, "Queued"))
    return g_variant_new_uint32 (values[2]);
  if (g_str_equal (property_name, "Targets"))
    {
      g_auto(GStrv) names = mproc_pool_dup_task_names ();

      return g_variant_new_strv ((const char * const *) names, -1);
    }
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY,
               _("No such property “%s”"), property_name);
  return NULL;
}

static const GDBusInterfaceVTable vtable = {
  method_call_cb,
  get_property_cb,
  NULL,
  { 0 },
};

static gboolean
props_dispatch_cb (gpointer user_data)
{
  static const char *names[] = { "Workers", "Busy", "Queued" };
  Export *e = user_data;
  GVariantBuilder changed;
  gboolean any = FALSE;
  guint values[3];

  g_source_set_ready_time (e->props_source, -1);
  if (g_dbus_connection_is_closed (e->connection))
    return G_SOURCE_CONTINUE;

  export_read_load (e, values);
  g_variant_builder_init (&changed, G_VARIANT_TYPE ("a{sv}"));
  for (guint i = 0; i < 3; i++)
    if (values[i] != e->sent[i])
      {
        e->sent[i] = values[i];
        g_variant_builder_add (&changed, "{sv}", names[i], g_variant_new_uint32 (values[i]));
        any = TRUE;
      }
  if (any)
    {
      e->props_sent_at = g_get_monotonic_time ();
      g_dbus_connection_emit_signal (e->connection, NULL, e->object_path,
                                     "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                     g_variant_new ("(sa{sv}as)", MPROC_POOL_DBUS_INTERFACE,
                                                    &changed, NULL),
                                     NULL);
    }
  else
    g_variant_builder_clear (&changed);
  return G_SOURCE_CONTINUE;
}

/* PropertiesChanged at most every PROPS_MIN_INTERVAL, with the latest
 * values: a busy pool changes its load thousands of times a second. */
static void
load_changed_cb (GObject    *pool,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  Export *e = user_data;
  gint64 at;

  if (g_source_get_ready_time (e->props_source) >= 0)
    return;
  at = MAX (g_get_monotonic_time (), e->props_sent_at + PROPS_MIN_INTERVAL);
  g_source_set_ready_time (e->props_source, at);
}

/* Every caller is gone for this export: cancel, and forget the idle ones
 * now and the others when their last call is over. */
static void
export_drop_callers (Export *e)
{
  g_autoptr(GList) callers = g_hash_table_get_values (e->callers);

  for (GList *l = callers; l != NULL; l = l->next)
    {
      Caller *c = l->data;

      c->left = TRUE;
      caller_cancel_all (c);
      if (c->ops == NULL)
        caller_forget (c);
    }
}

static void
connection_closed_cb (GDBusConnection *connection,
                      gboolean         remote_peer_vanished,
                      GError          *error,
                      gpointer         user_data)
{
  Export *e = user_data;

  g_debug ("Pool export %s: connection closed, cancelling every call", e->object_path);
  export_drop_callers (e);
}

/* --- Export ---------------------------------------------------------------- */

static GDBusInterfaceInfo *
pool_interface_info (GError **error)
{
  static GDBusNodeInfo *node;

  if (g_once_init_enter (&node))
    {
      g_autoptr(GBytes) bytes = NULL;
      GDBusNodeInfo *info = NULL;

      bytes = g_resource_lookup_data (mproc_dbus_get_resource (), POOL_INTERFACE_PATH,
                                      G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
      /* compiled in and checked by the tests: cannot fail */
      info = g_dbus_node_info_new_for_xml (g_bytes_get_data (bytes, NULL), NULL);
      g_assert (info != NULL && info->interfaces[0] != NULL);
      g_dbus_interface_info_cache_build (info->interfaces[0]);
      g_once_init_leave (&node, info);
    }
  return node->interfaces[0];
}

/**
 * mproc_pool_export:
 * @self: a pool
 * @connection: a #GDBusConnection: a message bus or a peer-to-peer one
 * @object_path: where to export the pool
 * @error: return location for a #GError
 *
 * Serves @self on @connection at @object_path with the
 * `org.gnome.Mproc.Pool1` interface
 * (`$datadir/dbus-1/interfaces/org.gnome.Mproc.Pool1.xml`), so that other
 * programs submit work to it: a D-Bus worker service.
 *
 * - `Submit (s target, v args) → (v result)` runs one task;
 * - `Map (s target, av items) → (av results)` runs the target on each item
 *   (all of one type) and returns the results in input order;
 *   `MapArray (s target, v items) → (v results)` does the same with one
 *   array value (packed when its elements are fixed-width numbers), and
 *   `MapFd (s target, s type, h items) → (s type, h results)` with the
 *   serialised array in a sealed memfd, the way for large maps;
 *   `MapInto (s target, s type, h items, u n_items, h results) → (s type)`
 *   the fastest, in memfds the caller keeps and reuses: the workers read
 *   the packed numbers of @type from the first and write their results
 *   into the second;
 * - `Cancel (u serial) → (u n)` cancels the caller's call sent with that
 *   message serial, or all of its calls for 0;
 * - the `TaskFinished (u serial, u done, u n_items)` signal follows a map (at most
 *   every 50 ms, from 50 ms after the call came),
 *   sent to its caller only;
 * - the properties `Workers`, `Busy` and `Queued` follow
 *   [property@Mproc.Pool:busy] and [property@Mproc.Pool:queued], with
 *   `PropertiesChanged` at most ten times a second; `Targets` lists the
 *   registered targets.
 *
 * Only registered targets ([func@Mproc.register_task]) can be called; any other
 * name fails with %MPROC_ERROR_UNKNOWN_TARGET.  Errors reach the caller
 * with their domain and code (%MPROC_ERROR is registered for D-Bus, see
 * [func@Mproc.Error.quark]): a worker that dies fails only its task, with
 * %MPROC_ERROR_WORKER_DIED.  Each caller (a unique name on a message bus,
 * the whole connection on a peer-to-peer one) may have at most a limited
 * number of tasks queued (%MPROC_ERROR_FULL past it) and send calls up to
 * a limited size (`org.freedesktop.DBus.Error.LimitsExceeded` past it):
 * see [method@Mproc.Pool.set_export_limits].  A caller that leaves the bus, or
 * whose connection closes, has its calls cancelled and their tasks no
 * worker has started dropped.
 *
 * The method handlers run in the thread-default main context of the
 * caller of this function, which must be the pool's, and never block it.
 * The export holds a reference on @self and @connection until
 * [method@Mproc.Pool.unexport].
 *
 * Returns: an export id (never 0) for [method@Mproc.Pool.unexport], or 0 with
 *   @error set (for instance when something is already exported at
 *   @object_path)
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_pool_export (MprocPool        *self,
                   GDBusConnection  *connection,
                   const char       *object_path,
                   GError          **error)
{
  Export *e;

  g_return_val_if_fail (MPROC_IS_POOL (self), 0);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), 0);
  g_return_val_if_fail (object_path != NULL && g_variant_is_object_path (object_path), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  (void) mproc_error_quark ();   /* register the domain before any reply */

  e = g_new0 (Export, 1);
  e->ref_count = 1;
  e->pool = g_object_ref (self);
  e->connection = g_object_ref (connection);
  e->object_path = g_strdup (object_path);
  e->on_bus = g_dbus_connection_get_unique_name (connection) != NULL;
  e->callers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, NULL);
  e->max_queued = MPROC_POOL_EXPORT_DEFAULT_MAX_QUEUED;
  e->max_message_size = MPROC_POOL_EXPORT_DEFAULT_MAX_MESSAGE_SIZE;
  e->context = g_main_context_ref_thread_default ();

  e->registration_id = g_dbus_connection_register_object (connection, object_path,
                                                          pool_interface_info (NULL), &vtable,
                                                          e, NULL, error);
  if (e->registration_id == 0)
    {
      export_unref (e);
      return 0;
    }

  export_read_load (e, e->sent);
  e->props_source = g_source_new (&mproc_pool_ready_source_funcs, sizeof (GSource));
  g_source_set_static_name (e->props_source, "MprocPool export properties");
  g_source_set_callback (e->props_source, props_dispatch_cb, e, NULL);
  g_source_attach (e->props_source, e->context);

  e->load_id = g_signal_connect (self, "notify::busy", G_CALLBACK (load_changed_cb), e);
  e->load_id2 = g_signal_connect (self, "notify::queued", G_CALLBACK (load_changed_cb), e);
  e->closed_id = g_signal_connect (connection, "closed", G_CALLBACK (connection_closed_cb), e);

  G_LOCK (exports);
  if (exports == NULL)
    exports = g_hash_table_new (NULL, NULL);
  e->id = next_export_id++;
  g_hash_table_insert (exports, GUINT_TO_POINTER (e->id), e);
  G_UNLOCK (exports);

  return e->id;
}

static Export *
lookup_export (MprocPool *pool,
               guint      export_id,
               gboolean   steal)
{
  Export *e = NULL;

  G_LOCK (exports);
  if (exports != NULL)
    e = g_hash_table_lookup (exports, GUINT_TO_POINTER (export_id));
  if (e != NULL && e->pool != pool)
    e = NULL;
  if (e != NULL && steal)
    g_hash_table_remove (exports, GUINT_TO_POINTER (export_id));
  G_UNLOCK (exports);
  return e;
}

/**
 * mproc_pool_unexport:
 * @self: a pool
 * @export_id: an id returned by [method@Mproc.Pool.export] for @self
 *
 * Stops serving @self where [method@Mproc.Pool.export] exported it.  The calls
 * in progress are cancelled (their callers get %G_IO_ERROR_CANCELLED);
 * the export lets go of the pool and the connection once they are over.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_unexport (MprocPool *self,
                     guint      export_id)
{
  Export *e;

  g_return_if_fail (MPROC_IS_POOL (self));

  e = lookup_export (self, export_id, TRUE);
  g_return_if_fail (e != NULL);

  e->unexported = TRUE;
  g_dbus_connection_unregister_object (e->connection, e->registration_id);
  g_clear_signal_handler (&e->load_id, e->pool);
  g_clear_signal_handler (&e->load_id2, e->pool);
  g_clear_signal_handler (&e->closed_id, e->connection);
  g_source_destroy (e->props_source);
  g_clear_pointer (&e->props_source, g_source_unref);

  export_drop_callers (e);
  export_unref (e);
}

/**
 * mproc_pool_set_export_limits:
 * @self: a pool
 * @export_id: an id returned by [method@Mproc.Pool.export] for @self
 * @max_queued_per_caller: how many tasks one caller may have queued (an
 *   item of a map is one), or 0 for no limit
 * @max_message_size: the largest call taken, in bytes (its arguments, or
 *   the shared memory of a `MapFd` call), or 0 for no limit
 *
 * Sets the limits of an export; they apply to the calls that come next.
 * The defaults are %MPROC_POOL_EXPORT_DEFAULT_MAX_QUEUED and
 * %MPROC_POOL_EXPORT_DEFAULT_MAX_MESSAGE_SIZE.  A message bus has limits of
 * its own (`max_message_size` in its configuration, 128 MiB on the
 * session bus by default).
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_set_export_limits (MprocPool *self,
                              guint      export_id,
                              guint      max_queued_per_caller,
                              guint64    max_message_size)
{
  Export *e;

  g_return_if_fail (MPROC_IS_POOL (self));

  e = lookup_export (self, export_id, FALSE);
  g_return_if_fail (e != NULL);

  e->max_queued = max_queued_per_caller;
  e->max_message_size = max_message_size;
}
