/* semaphore.c: the seed's multiprocessing_semaphore.py (scenarios.md §6)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Semaphore(3) lets at most three of ten workers ("0" … "9") run at once.
 * The "active pool" (the names of the running workers, in the order they
 * became active) lives in shared memory: one MprocValue per worker holding
 * the order in which it became active (0: inactive), guarded by an
 * MprocLock, until the manager's shared list can replace it.
 */

#include <stdio.h>

#include <mproc.h>

#define N_WORKERS 10

typedef struct
{
  MprocLock  *lock;
  MprocValue *order;             /* activation counter */
  MprocValue *slots[N_WORKERS];  /* per worker: its activation number, 0 if inactive */
} ActivePool;

static void
active_pool_init (ActivePool *pool)
{
  pool->lock = mproc_lock_new (NULL);
  pool->order = mproc_value_new (MPROC_VALUE_TYPE_INT64, FALSE, NULL);
  for (guint i = 0; i < N_WORKERS; i++)
    pool->slots[i] = mproc_value_new (MPROC_VALUE_TYPE_INT64, FALSE, NULL);
}

static void
active_pool_add_to (ActivePool   *pool,
                    MprocProcess *process)
{
  mproc_process_add_object (process, MPROC_SHAREABLE (pool->lock));
  mproc_process_add_object (process, MPROC_SHAREABLE (pool->order));
  for (guint i = 0; i < N_WORKERS; i++)
    mproc_process_add_object (process, MPROC_SHAREABLE (pool->slots[i]));
}

/* Objects 1 … of @process, as added by active_pool_add_to(). */
static void
active_pool_from (ActivePool   *pool,
                  MprocProcess *process)
{
  pool->lock = mproc_process_get_object (process, 1);
  pool->order = mproc_process_get_object (process, 2);
  for (guint i = 0; i < N_WORKERS; i++)
    pool->slots[i] = mproc_process_get_object (process, 3 + i);
}

static void
active_pool_set (ActivePool *pool,
                 guint       index,
                 gboolean    active)
{
  MPROC_LOCK_AUTO_LOCK (pool->lock, locker);
  mproc_value_set_int (pool->slots[index],
                       active ? mproc_value_add (pool->order, 1) : 0);
}

/* Python's str() of the list of active names. */
static char *
active_pool_to_string (ActivePool *pool)
{
  MPROC_LOCK_AUTO_LOCK (pool->lock, locker);
  GString *out = g_string_new ("[");
  gint64 last = 0;

  for (;;)
    {
      gint64 next = 0;
      guint which = 0;

      for (guint i = 0; i < N_WORKERS; i++)
        {
          gint64 o = mproc_value_get_int (pool->slots[i]);

          if (o > last && (next == 0 || o < next))
            {
              next = o;
              which = i;
            }
        }
      if (next == 0)
        break;
      g_string_append_printf (out, "%s'%u'", last != 0 ? ", " : "", which);
      last = next;
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

static int
worker (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocSemaphore *s = mproc_process_get_object (process, 0);
  guint index = (guint) g_variant_get_int32 (args);
  g_autofree char *list = NULL;
  g_autoptr(GRand) rand = g_rand_new ();   /* seeded per process, also under fork */
  ActivePool pool;

  active_pool_from (&pool, process);
  if (!mproc_semaphore_acquire (s, -1, NULL, NULL))
    return 1;
  active_pool_set (&pool, index, TRUE);
  list = active_pool_to_string (&pool);
  printf ("Now running: %s\n", list);
  g_usleep (g_rand_int_range (rand, 0, G_USEC_PER_SEC));
  active_pool_set (&pool, index, FALSE);
  mproc_semaphore_release (s, NULL);
  return 0;
}

int
main (int argc, char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocSemaphore) s = NULL;
  MprocProcess *jobs[N_WORKERS];
  ActivePool pool;

  setvbuf (stdout, NULL, _IOLBF, 0);
  mproc_register_target ("worker", worker, NULL, NULL);
  mproc_init (&argc, &argv);

  s = mproc_semaphore_new (3, &error);
  if (s == NULL)
    g_error ("%s", error->message);
  active_pool_init (&pool);

  for (guint i = 0; i < N_WORKERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("%u", i);

      jobs[i] = mproc_process_new ("worker", g_variant_new_int32 (i));
      mproc_process_set_name (jobs[i], name);
      mproc_process_add_object (jobs[i], MPROC_SHAREABLE (s));
      active_pool_add_to (&pool, jobs[i]);
      if (!mproc_process_start (jobs[i], &error))
        g_error ("%s", error->message);
    }

  for (guint i = 0; i < N_WORKERS; i++)
    {
      g_autofree char *list = NULL;

      mproc_process_join (jobs[i], -1, NULL, NULL);
      list = active_pool_to_string (&pool);
      printf ("Now running: %s\n", list);
      g_object_unref (jobs[i]);
    }

  g_object_unref (pool.lock);
  g_object_unref (pool.order);
  for (guint i = 0; i < N_WORKERS; i++)
    g_object_unref (pool.slots[i]);
  return 0;
}
