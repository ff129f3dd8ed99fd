/* semaphore.c: the seed's multiprocessing_semaphore.py (scenarios.md §6)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Semaphore(3) lets at most three of ten workers ("0" … "9") run at once.
 * The "active pool" holds the names of the running workers in a list
 * served by a manager, guarded by a lock, as the seed's ActivePool does.
 */

#include <stdio.h>

#include <mproc.h>

#define N_WORKERS 10

typedef struct
{
  MprocList *active;   /* served by the manager: every process sees it */
  MprocLock *lock;
} ActivePool;

static void
active_pool_add_to (ActivePool   *pool,
                    MprocProcess *process)
{
  mproc_process_add_object (process, MPROC_SHAREABLE (pool->active));
  mproc_process_add_object (process, MPROC_SHAREABLE (pool->lock));
}

/* Objects 1 and 2 of @process, as added by active_pool_add_to(). */
static void
active_pool_from (ActivePool   *pool,
                  MprocProcess *process)
{
  pool->active = mproc_process_get_object (process, 1);
  pool->lock = mproc_process_get_object (process, 2);
}

static void
active_pool_make_active (ActivePool *pool,
                         const char *name)
{
  MPROC_LOCK_AUTO_LOCK (pool->lock, locker);
  mproc_list_append (pool->active, g_variant_new_string (name), NULL, NULL);
}

static void
active_pool_make_inactive (ActivePool *pool,
                           const char *name)
{
  MPROC_LOCK_AUTO_LOCK (pool->lock, locker);
  mproc_list_remove (pool->active, g_variant_new_string (name), NULL, NULL);
}

/* Python's str() of the list of active names. */
static char *
active_pool_to_string (ActivePool *pool)
{
  MPROC_LOCK_AUTO_LOCK (pool->lock, locker);
  g_autoptr(GVariant) items = mproc_list_slice (pool->active, 0, G_MAXINT64, NULL, NULL);
  GString *out = g_string_new ("[");

  for (gsize i = 0; items != NULL && i < g_variant_n_children (items); i++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (items, i);
      g_autoptr(GVariant) name = g_variant_get_variant (boxed);

      g_string_append_printf (out, "%s'%s'", i > 0 ? ", " : "", g_variant_get_string (name, NULL));
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

static int
worker (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocSemaphore *s = mproc_process_get_object (process, 0);
  const char *name = mproc_process_get_name (mproc_current_process ());
  g_autofree char *list = NULL;
  g_autoptr(GRand) rand = g_rand_new ();   /* seeded per process, also under fork */
  ActivePool pool;

  active_pool_from (&pool, process);
  if (!mproc_semaphore_acquire (s, -1, NULL, NULL))
    return 1;
  active_pool_make_active (&pool, name);
  list = active_pool_to_string (&pool);
  printf ("Now running: %s\n", list);
  g_usleep (g_rand_int_range (rand, 0, G_USEC_PER_SEC));
  active_pool_make_inactive (&pool, name);
  mproc_semaphore_release (s, NULL);
  return 0;
}

int
main (int argc, char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocSemaphore) s = NULL;
  g_autoptr(MprocManager) manager = NULL;
  MprocProcess *jobs[N_WORKERS];
  ActivePool pool;

  /* Line by line, in the children too: they run main() up to mproc_init(). */
  setvbuf (stdout, NULL, _IOLBF, 0);
  mproc_register_target ("worker", worker, NULL, NULL);
  mproc_init (&argc, &argv);

  manager = mproc_manager_new ();
  if (!mproc_manager_start (manager, NULL, &error) ||
      (pool.active = mproc_list_new (manager, NULL, NULL, &error)) == NULL ||
      (s = mproc_semaphore_new (3, &error)) == NULL)
    g_error ("%s", error->message);
  pool.lock = mproc_lock_new (NULL);

  for (guint i = 0; i < N_WORKERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("%u", i);

      jobs[i] = mproc_process_new ("worker", NULL);
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

  g_object_unref (pool.active);
  g_object_unref (pool.lock);
  mproc_manager_shutdown (manager, NULL, NULL);
  return 0;
}
