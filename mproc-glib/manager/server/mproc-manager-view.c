/* mproc-manager-view.c: a dict's state in shared memory, and the order page
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-manager-view-private.h for the design.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-futex-private.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-view-private.h"
#include "mproc-shm-private.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define VIEW_MAGIC        0x6d707677u            /* "mpvw" */
#define VIEW_SIZE         ((gsize) 256 << 20)    /* sparse: only what is written is memory */
#define VIEW_HEADER_SIZE  4096
#define VIEW_MIN_SLOTS    64
#define VIEW_EMPTY        0u
#define VIEW_TOMBSTONE    1u
#define VIEW_COMPACT_MIN  (1 << 20)
#define VIEW_READ_TRIES   256

typedef struct
{
  guint32 magic;
  guint32 disabled;         /* too large for the view: ask the server */
  guint64 seq;              /* odd while the server writes */
  guint64 n_entries;
  guint64 index_offset;     /* bytes */
  guint64 index_capacity;   /* slots, a power of two */
} ViewHeader;

/* Followed by the key's and the value's `v` serialisations, padded to 8. */
typedef struct
{
  guint32 hash;
  guint32 key_size;
  guint32 value_size;
  guint32 _pad;
} ViewEntry;

static inline gsize
align8 (gsize n)
{
  return (n + 7) & ~(gsize) 7;
}

/* FNV-1a: the same in every process (unlike seeded hashes). */
static guint32
bytes_hash (const guint8 *p,
            gsize         n)
{
  guint32 h = 2166136261u;

  for (gsize i = 0; i < n; i++)
    h = (h ^ p[i]) * 16777619u;
  return h;
}

/* A value about to be stored as a `v`: its serialised data, and sizes
 * read once (each GVariant accessor takes the value's lock).  @type NULL:
 * @data is already boxed. */
typedef struct
{
  const guint8 *data;
  gsize         size;
  const char   *type;
  gsize         type_len;
} Boxed;

static inline gsize
boxed_init (Boxed    *b,
            GVariant *value)
{
  b->data = g_variant_get_data (value);   /* serialises a value in tree form */
  b->size = g_variant_get_size (value);
  b->type = g_variant_get_type_string (value);
  b->type_len = strlen (b->type);
  return b->size + 1 + b->type_len;
}

static inline gsize
boxed_init_raw (Boxed        *b,
                const guint8 *data,
                gsize         size)
{
  b->data = data;
  b->size = size;
  b->type = NULL;
  b->type_len = 0;
  return size;
}

static inline void
boxed_store (const Boxed *b,
             guint8      *dest)
{
  if (b->type == NULL)
    {
      memcpy (dest, b->data, b->size);
      return;
    }
  if (b->size > 0)
    memcpy (dest, b->data, b->size);
  dest[b->size] = '\0';
  memcpy (dest + b->size + 1, b->type, b->type_len);
}

/* ------------------------------------------------------------------------ */
/* Writer (server)                                                          */

struct _MprocViewWriter
{
  int         fd;
  guint8     *data;
  ViewHeader *header;
  guint32    *index;
  guint64     capacity;
  guint64     n_used;       /* live slots and tombstones */
  guint64     n_live;
  gsize       heap_start;
  gsize       heap_end;
  gsize       garbage;      /* bytes of dead entries in the heap */
  gboolean    open;
};

MprocViewWriter *
mproc_view_writer_new (GError **error)
{
  MprocViewWriter *w;
  gpointer data;
  int fd, errsv;

  fd = memfd_create ("mproc-manager-view", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate (fd, VIEW_SIZE) < 0)
    goto failed;
  data = mmap (NULL, VIEW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (data == MAP_FAILED)
    goto failed;
  /* our mapping stays writable; nobody can make a new writable one */
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
    fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);

  w = g_new0 (MprocViewWriter, 1);
  w->fd = fd;
  w->data = data;
  w->header = data;
  w->header->magic = VIEW_MAGIC;
  w->capacity = VIEW_MIN_SLOTS;
  w->header->index_offset = VIEW_HEADER_SIZE;
  w->header->index_capacity = w->capacity;
  w->index = (guint32 *) (w->data + VIEW_HEADER_SIZE);
  w->heap_start = w->heap_end = VIEW_HEADER_SIZE + w->capacity * sizeof (guint32);
  return w;

failed:
  errsv = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
               _("Failed to create shared memory “%s”: %s"), "mproc-manager-view", g_strerror (errsv));
  return NULL;
}

void
mproc_view_writer_free (MprocViewWriter *w)
{
  if (w == NULL)
    return;
  munmap (w->data, VIEW_SIZE);
  close (w->fd);
  g_free (w);
}

int
mproc_view_writer_dup_fd (MprocViewWriter  *w,
                          GError          **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/fd/%d", w->fd);
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to map shared memory “%s”: %s"), "mproc-manager-view", g_strerror (errsv));
    }
  return fd;
}

static void
writer_open (MprocViewWriter *w)
{
  if (w->open)
    return;
  w->open = TRUE;
  __atomic_store_n (&w->header->seq, w->header->seq + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence (__ATOMIC_RELEASE);
}

void
mproc_view_writer_flush (MprocViewWriter *w)
{
  if (w == NULL || !w->open)
    return;
  w->header->n_entries = w->n_live;
  __atomic_store_n (&w->header->seq, w->header->seq + 1, __ATOMIC_RELEASE);
  w->open = FALSE;
}

static inline ViewEntry *
entry_at (MprocViewWriter *w,
          guint32          slot)
{
  return (ViewEntry *) (w->data + (gsize) slot * 8);
}

static inline gsize
entry_size (const ViewEntry *e)
{
  return align8 (sizeof (ViewEntry) + e->key_size + e->value_size);
}

/* The slot of the key @kbytes, or of where it would go (*found FALSE). */
static guint64
writer_probe (MprocViewWriter *w,
              guint32          hash,
              const guint8    *kbytes,
              guint32          ksize,
              gboolean        *found)
{
  guint64 mask = w->capacity - 1;
  guint64 i = hash & mask;
  guint64 tomb = G_MAXUINT64;

  for (;; i = (i + 1) & mask)
    {
      guint32 slot = w->index[i];
      ViewEntry *e;

      if (slot == VIEW_EMPTY)
        {
          *found = FALSE;
          return tomb != G_MAXUINT64 ? tomb : i;
        }
      if (slot == VIEW_TOMBSTONE)
        {
          if (tomb == G_MAXUINT64)
            tomb = i;
          continue;
        }
      e = entry_at (w, slot);
      if (e->hash == hash && e->key_size == ksize && memcmp (e + 1, kbytes, ksize) == 0)
        {
          *found = TRUE;
          return i;
        }
    }
}

/* Lays the live entries out afresh, with an index for @n_more more keys
 * and @extra more heap bytes.  Returns FALSE (view disabled) if they do
 * not fit. */
static gboolean
writer_rebuild (MprocViewWriter *w,
                guint64          n_more,
                gsize            extra)
{
  gsize live = w->heap_end - w->heap_start - w->garbage;
  g_autofree guint8 *saved = g_malloc (MAX (live, 1));
  gsize old_end = w->heap_end, pos = 0, start;
  guint64 capacity = VIEW_MIN_SLOTS;

  for (guint64 i = 0; i < w->capacity; i++)
    if (w->index[i] > VIEW_TOMBSTONE)
      {
        ViewEntry *e = entry_at (w, w->index[i]);

        memcpy (saved + pos, e, entry_size (e));
        pos += entry_size (e);
      }
  g_assert (pos == live);

  while (capacity < (w->n_live + n_more) * 4)
    capacity *= 2;
  start = align8 (VIEW_HEADER_SIZE + capacity * sizeof (guint32));
  if (start + live + extra > VIEW_SIZE || start / 8 + live / 8 >= G_MAXUINT32)
    {
      w->header->disabled = 1;
      return FALSE;
    }

  w->capacity = capacity;
  w->index = (guint32 *) (w->data + VIEW_HEADER_SIZE);
  memset (w->index, 0, capacity * sizeof (guint32));
  w->header->index_capacity = capacity;
  w->heap_start = w->heap_end = start;
  w->garbage = 0;
  w->n_used = w->n_live;
  for (pos = 0; pos < live;)
    {
      ViewEntry *e = (ViewEntry *) (saved + pos);
      gsize size = entry_size (e);
      guint64 i = e->hash & (capacity - 1);

      while (w->index[i] != VIEW_EMPTY)
        i = (i + 1) & (capacity - 1);
      memcpy (w->data + w->heap_end, e, size);
      w->index[i] = w->heap_end / 8;
      w->heap_end += size;
      pos += size;
    }
  /* give back the memory of a heap that shrank a lot */
  if (old_end > w->heap_end + VIEW_COMPACT_MIN)
    {
      gsize from = (w->heap_end + 4095) & ~(gsize) 4095;

      fallocate (w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, from, old_end - from);
    }
  return TRUE;
}

void
mproc_view_writer_reserve (MprocViewWriter *w,
                           guint64          n_more)
{
  if (w->header->disabled || (w->n_used + n_more) * 2 <= w->capacity)
    return;
  writer_open (w);
  writer_rebuild (w, n_more, 0);
}

static void
writer_set (MprocViewWriter *w,
            const Boxed     *bk,
            gsize            ksize,
            const Boxed     *bv,
            gsize            vsize)
{
  gsize need = align8 (sizeof (ViewEntry) + ksize + vsize);
  gboolean found;
  ViewEntry *e;
  guint64 i;

  if (w->header->disabled)
    return;
  writer_open (w);
  if (ksize > G_MAXUINT32 || vsize > G_MAXUINT32 ||
      ((w->heap_end + need > VIEW_SIZE || (w->n_used + 1) * 2 > w->capacity ||
        (w->garbage > VIEW_COMPACT_MIN && w->garbage > w->heap_end - w->heap_start - w->garbage)) &&
       !writer_rebuild (w, 1, need)))
    {
      w->header->disabled = 1;
      return;
    }

  e = (ViewEntry *) (w->data + w->heap_end);
  e->key_size = ksize;
  e->value_size = vsize;
  boxed_store (bk, (guint8 *) (e + 1));
  boxed_store (bv, (guint8 *) (e + 1) + ksize);
  e->hash = bytes_hash ((guint8 *) (e + 1), ksize);

  i = writer_probe (w, e->hash, (guint8 *) (e + 1), ksize, &found);
  if (found)
    w->garbage += entry_size (entry_at (w, w->index[i]));
  else
    {
      if (w->index[i] == VIEW_EMPTY)
        w->n_used++;
      w->n_live++;
    }
  w->index[i] = w->heap_end / 8;
  w->heap_end += need;
}

void
mproc_view_writer_set (MprocViewWriter *w,
                       GVariant        *key,
                       GVariant        *value)
{
  Boxed bk, bv;
  gsize ksize = boxed_init (&bk, key), vsize = boxed_init (&bv, value);

  writer_set (w, &bk, ksize, &bv, vsize);
}

void
mproc_view_writer_set_boxed (MprocViewWriter *w,
                             const guint8    *key,
                             gsize            key_size,
                             const guint8    *value,
                             gsize            value_size)
{
  Boxed bk, bv;

  boxed_init_raw (&bk, key, key_size);
  boxed_init_raw (&bv, value, value_size);
  writer_set (w, &bk, key_size, &bv, value_size);
}

void
mproc_view_writer_remove (MprocViewWriter *w,
                          GVariant        *key)
{
  Boxed bk;
  gsize ksize = boxed_init (&bk, key);
  g_autofree guint8 *kbytes = g_malloc (ksize);

  boxed_store (&bk, kbytes);
  mproc_view_writer_remove_boxed (w, kbytes, ksize);
}

void
mproc_view_writer_remove_boxed (MprocViewWriter *w,
                                const guint8    *kbytes,
                                gsize            ksize)
{
  gboolean found;
  guint32 hash;
  guint64 i;

  if (w->header->disabled)
    return;
  hash = bytes_hash (kbytes, ksize);
  i = writer_probe (w, hash, kbytes, ksize, &found);
  if (!found)
    return;
  writer_open (w);
  w->garbage += entry_size (entry_at (w, w->index[i]));
  w->index[i] = VIEW_TOMBSTONE;
  w->n_live--;
}

void
mproc_view_writer_clear (MprocViewWriter *w)
{
  if (w->header->disabled)
    return;
  writer_open (w);
  memset (w->index, 0, w->capacity * sizeof (guint32));
  w->n_used = w->n_live = 0;
  w->heap_end = w->heap_start;
  w->garbage = 0;
}

/* ------------------------------------------------------------------------ */
/* Reader (clients)                                                         */

struct _MprocView
{
  const guint8 *data;
  gsize         size;
};

MprocView *
mproc_view_new (int      fd,
                GError **error)
{
  MprocView *view;
  struct stat st;
  gpointer data;

  if (fstat (fd, &st) < 0 || st.st_size < VIEW_HEADER_SIZE ||
      (data = mmap (NULL, st.st_size, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0)) == MAP_FAILED)
    {
      int errsv = errno;

      close (fd);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to map shared memory “%s”: %s"), "mproc-manager-view", g_strerror (errsv));
      return NULL;
    }
  close (fd);
  if (((const ViewHeader *) data)->magic != VIEW_MAGIC)
    {
      munmap (data, st.st_size);
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("The manager’s server sent a malformed reply"));
      return NULL;
    }
  view = g_new0 (MprocView, 1);
  view->data = data;
  view->size = st.st_size;
  return view;
}

void
mproc_view_free (MprocView *view)
{
  if (view == NULL)
    return;
  munmap ((gpointer) view->data, view->size);
  g_free (view);
}

static inline guint64
load_u64 (const guint64 *p)
{
  return __atomic_load_n (p, __ATOMIC_RELAXED);
}

static inline guint32
load_u32 (const guint32 *p)
{
  return __atomic_load_n (p, __ATOMIC_RELAXED);
}

/* Waits for an even sequence; FALSE if the writer takes too long. */
static gboolean
read_begin (const ViewHeader *h,
            guint64          *seq,
            guint            *tries)
{
  for (; *tries < VIEW_READ_TRIES; (*tries)++)
    {
      *seq = __atomic_load_n (&h->seq, __ATOMIC_ACQUIRE);
      if ((*seq & 1) == 0)
        return TRUE;
      if (*tries < 32)
        mproc_cpu_relax ();
      else
        sched_yield ();
    }
  return FALSE;
}

static inline gboolean
read_end (const ViewHeader *h,
          guint64           seq)
{
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  return load_u64 (&h->seq) == seq;
}

/* One try: FOUND/MISSING, or UNAVAILABLE when something did not make
 * sense (a torn read: the caller checks the sequence and retries). */
static MprocViewAnswer
view_try_lookup (MprocView     *view,
                 guint32        hash,
                 const guint8  *kbytes,
                 gsize          ksize,
                 guint8       **value_copy,
                 gsize         *value_size)
{
  const ViewHeader *h = (const ViewHeader *) view->data;
  guint64 offset = load_u64 (&h->index_offset);
  guint64 capacity = load_u64 (&h->index_capacity);
  const guint32 *index;
  guint64 mask;

  if (load_u32 (&h->disabled))
    return MPROC_VIEW_UNAVAILABLE;
  if (capacity == 0 || (capacity & (capacity - 1)) != 0 || offset < VIEW_HEADER_SIZE ||
      offset > view->size || capacity > (view->size - offset) / sizeof (guint32))
    return MPROC_VIEW_UNAVAILABLE;
  index = (const guint32 *) (view->data + offset);
  mask = capacity - 1;

  for (guint64 n = 0, i = hash & mask; n < capacity; n++, i = (i + 1) & mask)
    {
      guint32 slot = load_u32 (&index[i]);
      const ViewEntry *e;
      gsize at = (gsize) slot * 8;
      guint32 ks, vs;

      if (slot == VIEW_EMPTY)
        return MPROC_VIEW_MISSING;
      if (slot == VIEW_TOMBSTONE)
        continue;
      if (at < VIEW_HEADER_SIZE || at > view->size - sizeof (ViewEntry))
        return MPROC_VIEW_UNAVAILABLE;
      e = (const ViewEntry *) (view->data + at);
      if (load_u32 (&e->hash) != hash)
        continue;
      ks = load_u32 (&e->key_size);
      vs = load_u32 (&e->value_size);
      if ((gsize) ks + vs > view->size - at - sizeof (ViewEntry))
        return MPROC_VIEW_UNAVAILABLE;
      if (ks != ksize || memcmp (e + 1, kbytes, ksize) != 0)
        continue;
      if (value_copy != NULL)
        {
          *value_copy = g_malloc (MAX (vs, 1));
          memcpy (*value_copy, (const guint8 *) (e + 1) + ks, vs);
          *value_size = vs;
        }
      return MPROC_VIEW_FOUND;
    }
  return MPROC_VIEW_MISSING;
}

MprocViewAnswer
mproc_view_lookup (MprocView  *view,
                   GVariant   *key,
                   GVariant  **value_out)
{
  g_autoptr(GVariant) normal = g_variant_get_normal_form (key);
  Boxed bk;
  gsize ksize = boxed_init (&bk, normal);
  guint8 stack[256];
  g_autofree guint8 *heap = ksize > sizeof stack ? g_malloc (ksize) : NULL;
  guint8 *kbytes = heap != NULL ? heap : stack;
  const ViewHeader *h = (const ViewHeader *) view->data;
  guint tries = 0;
  guint32 hash;

  boxed_store (&bk, kbytes);
  hash = bytes_hash (kbytes, ksize);

  for (;;)
    {
      guint8 *copy = NULL;
      gsize vsize = 0;
      MprocViewAnswer answer;
      guint64 seq;

      if (!read_begin (h, &seq, &tries))
        return MPROC_VIEW_UNAVAILABLE;
      answer = view_try_lookup (view, hash, kbytes, ksize, value_out != NULL ? &copy : NULL, &vsize);
      if (!read_end (h, seq))
        {
          g_free (copy);
          tries++;
          continue;
        }
      if (answer == MPROC_VIEW_FOUND && value_out != NULL)
        {
          g_autoptr(GBytes) bytes = g_bytes_new_take (copy, vsize);
          g_autoptr(GVariant) boxed = NULL;

          boxed = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, bytes, FALSE));
          *value_out = g_variant_get_variant (boxed);
        }
      else
        g_free (copy);
      return answer;
    }
}

gint64
mproc_view_len (MprocView *view)
{
  const ViewHeader *h = (const ViewHeader *) view->data;
  guint tries = 0;

  for (;;)
    {
      guint64 seq, n;
      gboolean disabled;

      if (!read_begin (h, &seq, &tries))
        return -1;
      n = load_u64 (&h->n_entries);
      disabled = load_u32 (&h->disabled);
      if (read_end (h, seq))
        return disabled || n > G_MAXINT64 ? -1 : (gint64) n;
      tries++;
    }
}

/* ------------------------------------------------------------------------ */
/* The order page                                                           */

#define ORDER_MAGIC     0x6d706f72u   /* "mpor" */
#define ORDER_MAX_SLOTS 1024

/* sent and served on lines of their own: the client writes one, the
 * server the other */
typedef struct
{
  guint64 sent;
  guint8  _pad1[56];
  guint64 served;
  guint8  _pad2[56];
} OrderSlot;

typedef struct
{
  guint32 magic;
  guint32 n_slots;      /* high-water mark of slots handed out */
  guint32 untracked;    /* clients without a slot: views are off */
  guint8  _pad[116];
  OrderSlot slots[ORDER_MAX_SLOTS];
} OrderPage;

struct _MprocOrder
{
  MprocShm  *shm;
  OrderPage *page;
  int        slot;      /* client: ours */
  gboolean  *used;      /* server: which slots are taken */
};

MprocOrder *
mproc_order_new (GError **error)
{
  MprocOrder *order;
  MprocShm *shm = mproc_shm_new (sizeof (OrderPage), "mproc-manager-order", error);

  if (shm == NULL)
    return NULL;
  order = g_new0 (MprocOrder, 1);
  order->shm = shm;
  order->page = mproc_shm_get_data (shm);
  order->page->magic = ORDER_MAGIC;
  order->slot = -1;
  order->used = g_new0 (gboolean, ORDER_MAX_SLOTS);
  return order;
}

MprocOrder *
mproc_order_new_from_fd (int      fd,
                         int      slot,
                         GError **error)
{
  MprocOrder *order;
  /* consumes fd, on failure too */
  MprocShm *shm = mproc_shm_new_from_fd (fd, sizeof (OrderPage), error);

  if (shm == NULL)
    return NULL;
  order = g_new0 (MprocOrder, 1);
  order->shm = shm;
  order->page = mproc_shm_get_data (shm);
  order->slot = slot >= 0 && slot < ORDER_MAX_SLOTS ? slot : -1;
  return order;
}

void
mproc_order_free (MprocOrder *order)
{
  if (order == NULL)
    return;
  mproc_shm_unref (order->shm);
  g_free (order->used);
  g_free (order);
}

int
mproc_order_get_fd (MprocOrder *order)
{
  return mproc_shm_get_fd (order->shm);
}

int
mproc_order_acquire_slot (MprocOrder *order)
{
  for (int i = 0; i < ORDER_MAX_SLOTS; i++)
    if (!order->used[i])
      {
        order->used[i] = TRUE;
        if ((guint32) i >= order->page->n_slots)
          __atomic_store_n (&order->page->n_slots, i + 1, __ATOMIC_RELEASE);
        return i;
      }
  __atomic_add_fetch (&order->page->untracked, 1, __ATOMIC_SEQ_CST);
  return -1;
}

/* A client that left: nothing it sent is waited for any more; the next
 * owner of the slot counts on from there. */
void
mproc_order_release_slot (MprocOrder *order,
                          int         slot)
{
  OrderSlot *s;

  if (slot < 0)
    {
      __atomic_sub_fetch (&order->page->untracked, 1, __ATOMIC_SEQ_CST);
      return;
    }
  s = &order->page->slots[slot];
  __atomic_store_n (&s->served, MAX (load_u64 (&s->sent), load_u64 (&s->served)), __ATOMIC_RELEASE);
  __atomic_store_n (&s->sent, load_u64 (&s->served), __ATOMIC_RELEASE);
  order->used[slot] = FALSE;
}

void
mproc_order_served (MprocOrder *order,
                    int         slot)
{
  OrderSlot *s;

  if (slot < 0)
    return;
  s = &order->page->slots[slot];
  __atomic_store_n (&s->served, load_u64 (&s->served) + 1, __ATOMIC_RELEASE);
}

void
mproc_order_sent (MprocOrder *order)
{
  OrderSlot *s;

  if (order == NULL || order->slot < 0)
    return;
  s = &order->page->slots[order->slot];
  __atomic_store_n (&s->sent, load_u64 (&s->sent) + 1, __ATOMIC_RELEASE);
}

gboolean
mproc_order_wait_served (MprocOrder *order,
                         gint64      budget_usec)
{
  OrderPage *page;
  guint32 n;
  gint64 end = 0;

  if (order == NULL || order->slot < 0)
    return FALSE;
  page = order->page;
  if (__atomic_load_n (&page->untracked, __ATOMIC_SEQ_CST) != 0)
    return FALSE;
  n = MIN (__atomic_load_n (&page->n_slots, __ATOMIC_ACQUIRE), ORDER_MAX_SLOTS);
  for (guint32 i = 0; i < n; i++)
    {
      OrderSlot *s = &page->slots[i];
      guint64 sent = __atomic_load_n (&s->sent, __ATOMIC_ACQUIRE);
      guint spins = 0;

      while ((gint64) (__atomic_load_n (&s->served, __ATOMIC_ACQUIRE) - sent) < 0)
        {
          if (spins++ < 64)
            {
              mproc_cpu_relax ();
              continue;
            }
          if (end == 0)
            end = g_get_monotonic_time () + budget_usec;
          else if (g_get_monotonic_time () > end)
            return FALSE;
          sched_yield ();
        }
    }
  return TRUE;
}
