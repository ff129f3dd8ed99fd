/* mproc-manager-table.c: the server's dict, keys and values as bytes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-manager-table-private.h for the design.
 */

#include "config.h"

#include <string.h>

#include "mproc-manager-table-private.h"

#define INLINE_SIZE   16
#define MIN_CAPACITY  8
#define SLOT_EMPTY    0u
#define SLOT_REMOVED  1u
#define SLOT_FIRST    2u    /* index values from here on are entry numbers + 2 */

typedef union
{
  guint8  bytes[INLINE_SIZE];
  guint8 *heap;
} Blob;

typedef struct
{
  guint64 hash;
  gsize   key_size;     /* 0: a removed entry (a boxed value is never empty) */
  gsize   value_size;
  Blob    key;
  Blob    value;
} Entry;

struct _MprocTable
{
  Entry   *entries;     /* in insertion order, with holes */
  guint    n_entries;   /* used, holes included */
  guint    n_alloc;
  guint    n_live;
  guint32 *index;
  guint    capacity;    /* a power of two */
};

/* Per process: a client cannot choose keys that collide. */
static guint64 hash_seed;
static gsize hash_seed_set;

/* CPython's probe sequence: every slot is visited, and the high bits of
 * the hash matter early. */
#define PROBE_NEXT(i, perturb, mask) \
  ((perturb) >>= 5, (i) = ((i) * 5 + 1 + (guint) (perturb)) & (mask))

static inline const guint8 *
blob_data (const Blob *b,
           gsize       size)
{
  return size <= INLINE_SIZE ? b->bytes : b->heap;
}

static inline void
blob_store (Blob         *b,
            const guint8 *data,
            gsize         size)
{
  if (size <= INLINE_SIZE)
    memcpy (b->bytes, data, size);
  else
    b->heap = g_memdup2 (data, size);
}

static inline void
blob_clear (Blob  *b,
            gsize  size)
{
  if (size > INLINE_SIZE)
    g_free (b->heap);
}

static inline guint64
hash_mix (guint64 h)
{
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

static guint64
bytes_hash (const guint8 *p,
            gsize         n)
{
  guint64 h = hash_seed ^ (n * 0x9e3779b97f4a7c15ull);
  guint64 w;

  for (; n >= 8; p += 8, n -= 8)
    {
      memcpy (&w, p, 8);
      h = (h ^ w) * 0x9e3779b97f4a7c15ull;
      h ^= h >> 29;
    }
  if (n > 0)
    {
      w = 0;
      memcpy (&w, p, n);
      h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    }
  return hash_mix (h);
}

static inline guint
usable (guint capacity)
{
  return capacity / 3 * 2;
}

MprocTable *
mproc_table_new (void)
{
  MprocTable *t = g_new0 (MprocTable, 1);

  if (g_once_init_enter (&hash_seed_set))
    {
      hash_seed = (guint64) g_random_int () << 32 | g_random_int ();
      g_once_init_leave (&hash_seed_set, 1);
    }
  t->capacity = MIN_CAPACITY;
  t->index = g_new0 (guint32, t->capacity);
  return t;
}

static void
free_entries (MprocTable *t)
{
  for (guint i = 0; i < t->n_entries; i++)
    if (t->entries[i].key_size != 0)
      {
        blob_clear (&t->entries[i].key, t->entries[i].key_size);
        blob_clear (&t->entries[i].value, t->entries[i].value_size);
      }
}

void
mproc_table_free (MprocTable *t)
{
  if (t == NULL)
    return;
  free_entries (t);
  g_free (t->entries);
  g_free (t->index);
  g_free (t);
}

guint
mproc_table_size (MprocTable *t)
{
  return t->n_live;
}

/* The slot of @key (*found), or the first one where it could go. */
static guint
find_slot (MprocTable   *t,
           guint64       hash,
           const guint8 *key,
           gsize         key_size,
           gboolean     *found)
{
  guint mask = t->capacity - 1;
  guint i = hash & mask;
  guint free_slot = G_MAXUINT;

  for (guint64 perturb = hash;; PROBE_NEXT (i, perturb, mask))
    {
      guint32 slot = t->index[i];
      const Entry *e;

      if (slot == SLOT_EMPTY)
        {
          *found = FALSE;
          return free_slot != G_MAXUINT ? free_slot : i;
        }
      if (slot == SLOT_REMOVED)
        {
          if (free_slot == G_MAXUINT)
            free_slot = i;
          continue;
        }
      e = &t->entries[slot - SLOT_FIRST];
      if (e->hash == hash && e->key_size == key_size &&
          memcmp (blob_data (&e->key, key_size), key, key_size) == 0)
        {
          *found = TRUE;
          return i;
        }
    }
}

/* Squeezes the holes out of the entries and makes an index for @n_more
 * more keys (and as many again, so that growth is amortised). */
static void
rebuild (MprocTable *t,
         guint       n_more)
{
  guint64 need = (guint64) t->n_live + MAX (n_more, t->n_live) + 1;
  guint capacity = MIN_CAPACITY, n = 0;

  if (need > G_MAXUINT32 / 2)
    g_error ("mproc: a manager dict cannot hold more than %u keys", G_MAXUINT32 / 4);
  while (usable (capacity) < need)
    capacity *= 2;

  for (guint i = 0; i < t->n_entries; i++)
    if (t->entries[i].key_size != 0)
      t->entries[n++] = t->entries[i];
  t->n_entries = n;
  if (t->n_alloc < need)
    {
      t->n_alloc = need;
      t->entries = g_renew (Entry, t->entries, t->n_alloc);
    }

  g_free (t->index);
  t->capacity = capacity;
  t->index = g_new0 (guint32, capacity);
  for (guint e = 0; e < n; e++)
    {
      guint mask = capacity - 1;
      guint64 hash = t->entries[e].hash;
      guint i = hash & mask;

      for (guint64 perturb = hash; t->index[i] != SLOT_EMPTY; PROBE_NEXT (i, perturb, mask))
        ;
      t->index[i] = e + SLOT_FIRST;
    }
}

void
mproc_table_reserve (MprocTable *t,
                     gsize       n_more)
{
  /* a hint from a request: never more than a table can hold */
  n_more = MIN (n_more, G_MAXUINT32 / 8 - MIN (t->n_live, G_MAXUINT32 / 8));
  if ((guint64) t->n_entries + n_more >= usable (t->capacity))
    rebuild (t, (guint) n_more);
}

gboolean
mproc_table_set (MprocTable   *t,
                 const guint8 *key,
                 gsize         key_size,
                 const guint8 *value,
                 gsize         value_size)
{
  guint64 hash = bytes_hash (key, key_size);
  gboolean found;
  guint i = find_slot (t, hash, key, key_size, &found);
  Entry *e;

  g_assert (key_size > 0 && value_size > 0);
  if (found)
    {
      e = &t->entries[t->index[i] - SLOT_FIRST];
      blob_clear (&e->value, e->value_size);
      blob_store (&e->value, value, value_size);
      e->value_size = value_size;
      return FALSE;
    }

  if (t->n_entries + 1 >= usable (t->capacity))
    {
      rebuild (t, 1);
      i = find_slot (t, hash, key, key_size, &found);
    }
  if (t->n_entries == t->n_alloc)
    {
      t->n_alloc = MAX (MIN_CAPACITY, t->n_alloc * 2);
      t->entries = g_renew (Entry, t->entries, t->n_alloc);
    }
  e = &t->entries[t->n_entries];
  e->hash = hash;
  e->key_size = key_size;
  e->value_size = value_size;
  blob_store (&e->key, key, key_size);
  blob_store (&e->value, value, value_size);
  t->index[i] = t->n_entries + SLOT_FIRST;
  t->n_entries++;
  t->n_live++;
  return TRUE;
}

const guint8 *
mproc_table_lookup (MprocTable   *t,
                    const guint8 *key,
                    gsize         key_size,
                    gsize        *value_size)
{
  gboolean found;
  guint i = find_slot (t, bytes_hash (key, key_size), key, key_size, &found);
  const Entry *e;

  if (!found)
    return NULL;
  e = &t->entries[t->index[i] - SLOT_FIRST];
  *value_size = e->value_size;
  return blob_data (&e->value, e->value_size);
}

gboolean
mproc_table_remove (MprocTable   *t,
                    const guint8 *key,
                    gsize         key_size,
                    GVariant    **value)
{
  gboolean found;
  guint i = find_slot (t, bytes_hash (key, key_size), key, key_size, &found);
  Entry *e;

  if (!found)
    return FALSE;
  e = &t->entries[t->index[i] - SLOT_FIRST];
  if (value != NULL)
    *value = mproc_table_boxed_new (blob_data (&e->value, e->value_size), e->value_size);
  blob_clear (&e->key, e->key_size);
  blob_clear (&e->value, e->value_size);
  e->key_size = 0;
  t->index[i] = SLOT_REMOVED;
  t->n_live--;
  return TRUE;
}

void
mproc_table_clear (MprocTable *t)
{
  free_entries (t);
  t->n_entries = t->n_live = 0;
  t->n_alloc = 0;
  g_clear_pointer (&t->entries, g_free);
  g_free (t->index);
  t->capacity = MIN_CAPACITY;
  t->index = g_new0 (guint32, t->capacity);
}

gboolean
mproc_table_next (MprocTable    *t,
                  guint         *position,
                  const guint8 **key,
                  gsize         *key_size,
                  const guint8 **value,
                  gsize         *value_size)
{
  for (; *position < t->n_entries; (*position)++)
    {
      const Entry *e = &t->entries[*position];

      if (e->key_size == 0)
        continue;
      *key = blob_data (&e->key, e->key_size);
      *key_size = e->key_size;
      *value = blob_data (&e->value, e->value_size);
      *value_size = e->value_size;
      (*position)++;
      return TRUE;
    }
  return FALSE;
}

GVariant *
mproc_table_boxed_new (const guint8 *data,
                       gsize         size)
{
  gpointer copy = g_memdup2 (data, size);

  return g_variant_new_from_data (G_VARIANT_TYPE_VARIANT, copy, size, TRUE, g_free, copy);
}
