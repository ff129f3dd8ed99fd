/* test-manager-table.c: the server's dict table, against a model
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The table lives in the manager's server process, whose leaks the other
 * tests cannot see: here it runs in the test itself, under ASan's leak
 * check, through random sets, replacements, removals and clears, with
 * keys and values short (inline) and long (apart), and is compared with a
 * model (a GHashTable and the insertion order) after every step.
 */

#include <string.h>

#include <mproc.h>

#include "mproc-manager-table-private.h"
#include "test-util.h"

/* The boxed form of @value (its `v` serialisation), as the server's table
 * gets it. */
static GBytes *
boxed (GVariant *value)
{
  g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_variant (value));

  return g_variant_get_data_as_bytes (v);
}

static GVariant *
random_key (GRand *rand)
{
  switch (g_rand_int_range (rand, 0, 4))
    {
    case 0:
      return g_variant_new_int64 (g_rand_int_range (rand, 0, 300));
    case 1:
      /* the same bytes as an int64 key, another type: another key */
      return g_variant_new_uint64 (g_rand_int_range (rand, 0, 300));
    case 2:
      {
        g_autofree char *s = g_strdup_printf ("key-%d-%0*d", g_rand_int_range (rand, 0, 200),
                                              g_rand_int_range (rand, 0, 40), 0);

        return g_variant_new_string (s);
      }
    default:
      return g_variant_new_parsed ("(%i, %s)", g_rand_int_range (rand, 0, 50), "tuple key");
    }
}

static GVariant *
random_value (GRand *rand)
{
  if (g_rand_boolean (rand))
    return g_variant_new_int32 (g_rand_int (rand));
  else
    {
      g_autofree char *s = g_strdup_printf ("value-%u-%0*d", g_rand_int (rand),
                                            g_rand_int_range (rand, 0, 100), 0);

      return g_variant_new_string (s);
    }
}

typedef struct
{
  GHashTable *values;   /* boxed key (GBytes) -> boxed value (GBytes) */
  GPtrArray  *order;    /* GBytes keys present, in insertion order */
} Model;

static void
check (MprocTable *table,
       Model      *m)
{
  const guint8 *key, *value;
  gsize key_size, value_size;
  guint position = 0, next = 0, n = 0;

  g_assert_cmpuint (mproc_table_size (table), ==, g_hash_table_size (m->values));
  while (mproc_table_next (table, &position, &key, &key_size, &value, &value_size))
    {
      g_autoptr(GBytes) k = g_bytes_new (key, key_size);
      GBytes *expected;
      const guint8 *found;
      gsize found_size;

      /* in insertion order (the model's order holds the present keys) */
      g_assert_cmpuint (next, <, m->order->len);
      g_assert_true (g_bytes_equal (m->order->pdata[next], k));
      next++;
      expected = g_hash_table_lookup (m->values, k);
      g_assert_nonnull (expected);
      g_assert_cmpmem (value, value_size, g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
      found = mproc_table_lookup (table, key, key_size, &found_size);
      g_assert_true (found == value);
      n++;
    }
  g_assert_cmpuint (n, ==, g_hash_table_size (m->values));
}

/* Drops a removed key from @m's order: set again, it goes last. */
static void
model_forget (Model  *m,
              GBytes *key)
{
  for (guint i = 0; i < m->order->len; i++)
    if (g_bytes_equal (m->order->pdata[i], key))
      {
        g_ptr_array_remove_index (m->order, i);
        return;
      }
}

static void
test_table_random (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  MprocTable *table = mproc_table_new ();
  Model m;

  g_test_summary ("Random sets, removals and clears keep the contents, the insertion order "
                  "and the lookups of a model; nothing leaks");
  m.values = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                    (GDestroyNotify) g_bytes_unref, (GDestroyNotify) g_bytes_unref);
  m.order = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (guint step = 0; step < 20000; step++)
    {
      int what = g_rand_int_range (rand, 0, 1000);
      g_autoptr(GBytes) key = boxed (random_key (rand));
      gsize key_size;
      const guint8 *key_data = g_bytes_get_data (key, &key_size);

      if (what < 600)
        {
          g_autoptr(GBytes) value = boxed (random_value (rand));
          gsize value_size;
          const guint8 *value_data = g_bytes_get_data (value, &value_size);
          gboolean added = mproc_table_set (table, key_data, key_size, value_data, value_size);

          g_assert_cmpint (added, ==, !g_hash_table_contains (m.values, key));
          if (added)
            g_ptr_array_add (m.order, g_bytes_ref (key));
          g_hash_table_insert (m.values, g_bytes_ref (key), g_bytes_ref (value));
        }
      else if (what < 950)
        {
          g_autoptr(GVariant) taken = NULL;
          gboolean present = g_hash_table_contains (m.values, key);

          g_assert_cmpint (mproc_table_remove (table, key_data, key_size, &taken), ==, present);
          if (present)
            {
              GBytes *expected = g_hash_table_lookup (m.values, key);

              g_variant_ref_sink (taken);
              g_assert_cmpmem (g_variant_get_data (taken), g_variant_get_size (taken),
                               g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
              g_hash_table_remove (m.values, key);
              model_forget (&m, key);
            }
          else
            g_assert_null (taken);
        }
      else if (what < 998)
        mproc_table_reserve (table, g_rand_int_range (rand, 0, 500));
      else
        {
          mproc_table_clear (table);
          g_hash_table_remove_all (m.values);
          g_ptr_array_set_size (m.order, 0);
        }
      if (step % 97 == 0)
        check (table, &m);
    }
  check (table, &m);

  mproc_table_free (table);
  g_hash_table_unref (m.values);
  g_ptr_array_unref (m.order);
}

static void
test_table_grow (void)
{
  MprocTable *table = mproc_table_new ();
  const guint n = 100000;

  g_test_summary ("A table grows to many keys in one reserved batch and one by one, "
                  "and empties, keeping the first value's place and the last value");
  mproc_table_reserve (table, n);
  for (guint round = 0; round < 2; round++)
    for (guint64 i = 0; i < n; i++)
      {
        guint8 key[10], value[10];
        guint64 v = i * 3 + round;

        memcpy (key, &i, 8);
        key[8] = '\0';
        key[9] = 't';
        memcpy (value, &v, 8);
        value[8] = '\0';
        value[9] = 't';
        g_assert_cmpint (mproc_table_set (table, key, sizeof key, value, sizeof value), ==, round == 0);
      }
  g_assert_cmpuint (mproc_table_size (table), ==, n);
  {
    const guint8 *key, *value;
    gsize key_size, value_size;
    guint position = 0;
    guint64 i = 0;

    while (mproc_table_next (table, &position, &key, &key_size, &value, &value_size))
      {
        guint64 k, v;

        memcpy (&k, key, 8);
        memcpy (&v, value, 8);
        g_assert_cmpuint (k, ==, i);
        g_assert_cmpuint (v, ==, i * 3 + 1);
        i++;
      }
    g_assert_cmpuint (i, ==, n);
  }
  for (guint64 i = 0; i < n; i++)
    {
      guint8 key[10];

      memcpy (key, &i, 8);
      key[8] = '\0';
      key[9] = 't';
      g_assert_true (mproc_table_remove (table, key, sizeof key, NULL));
    }
  g_assert_cmpuint (mproc_table_size (table), ==, 0);
  mproc_table_free (table);
}

int
main (int argc, char *argv[])
{
  test_init (&argc, &argv);

  g_test_add_func ("/mproc/manager/table/random", test_table_random);
  g_test_add_func ("/mproc/manager/table/grow", test_table_grow);

  return g_test_run ();
}
