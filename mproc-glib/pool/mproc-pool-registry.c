/* mproc-pool-registry.c: the registered pool targets (mproc_register_task())
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "mproc-pool-private.h"

/* --- Task registry ------------------------------------------------------ */

typedef struct
{
  MprocTaskFunc  item_func;
  MprocChunkFunc chunk_func;
  gpointer       user_data;
  GDestroyNotify destroy;
} Task;

static GMutex registry_lock;
static GHashTable *registry;
static MprocTaskResolver resolver;       /* mproc_set_task_resolver() */
static gpointer resolver_data;
static GDestroyNotify resolver_destroy;

static void
task_free (gpointer data)
{
  Task *task = data;

  if (task->destroy != NULL)
    task->destroy (task->user_data);
  g_free (task);
}

static void
register_task (const char     *name,
               MprocTaskFunc   item_func,
               MprocChunkFunc  chunk_func,
               gpointer        user_data,
               GDestroyNotify  destroy)
{
  Task *task = g_new0 (Task, 1);

  /* A spawned worker deserialises its channel before any pool code runs:
   * the type must exist by then, and registrations come first. */
  g_type_ensure (MPROC_TYPE_POOL_CHANNEL);

  task->item_func = item_func;
  task->chunk_func = chunk_func;
  task->user_data = user_data;
  task->destroy = destroy;

  g_mutex_lock (&registry_lock);
  if (registry == NULL)
    registry = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, task_free);
  g_hash_table_replace (registry, g_strdup (name), task);
  g_mutex_unlock (&registry_lock);
}

/**
 * mproc_register_task:
 * @name: the name pool calls use for the target
 * @func: (scope notified) (closure user_data) (destroy destroy): the target
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the target is replaced
 *
 * Registers a pool target that computes one task: a function of a GVariant
 * that returns a GVariant or sets a #GError.  A worker runs a chunk of a map
 * by calling @func once per item.
 *
 * Like [func@Mproc.register_target], call it at the top of main(), before
 * [func@Mproc.init], so that workers started with spawn or forkserver know the
 * target too.  Registering a name again replaces the target.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_register_task (const char     *name,
                     MprocTaskFunc   func,
                     gpointer        user_data,
                     GDestroyNotify  destroy)
{
  g_return_if_fail (name != NULL);
  g_return_if_fail (func != NULL);

  register_task (name, func, NULL, user_data, destroy);
}

/**
 * mproc_register_chunk_task:
 * @name: the name pool calls use for the target
 * @func: (scope notified) (closure user_data) (destroy destroy): the target
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the target is replaced
 *
 * Registers a pool target that computes a whole chunk of tasks in one call:
 * @func receives the items of the chunk as one array and returns the array
 * of their results.  With packed arrays (`ax`, `ad`…) this costs no
 * allocation per item, which is what makes a map over millions of tiny
 * items fast.  An apply call runs @func on a one-item array.
 *
 * Call it before [func@Mproc.init], as [func@Mproc.register_task].
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_register_chunk_task (const char     *name,
                           MprocChunkFunc  func,
                           gpointer        user_data,
                           GDestroyNotify  destroy)
{
  g_return_if_fail (name != NULL);
  g_return_if_fail (func != NULL);

  register_task (name, NULL, func, user_data, destroy);
}

/**
 * mproc_set_task_resolver:
 * @func: (nullable) (scope notified) (closure user_data) (destroy destroy): the
 *   resolver, or %NULL to remove it
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the resolver is replaced
 *
 * Sets a function that a process asks for a pool target it does not know,
 * before it gives up with %MPROC_ERROR_UNKNOWN_TARGET: the function may
 * register the target under @name ([func@Mproc.register_task] or
 * [func@Mproc.register_chunk_task]) and return %TRUE.  A language binding uses
 * it to run functions by reference, as Python's `multiprocessing` does: the
 * `Mproc` override of PyGObject resolves names that carry its own secret
 * prefix by importing the named module.  The resolver is asked for names
 * that D-Bus peers send too, so it must accept only names the program
 * made itself.
 *
 * This function is thread-safe; the resolver is called without the
 * registry's lock held, possibly from several threads.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_set_task_resolver (MprocTaskResolver func,
                         gpointer          user_data,
                         GDestroyNotify    destroy)
{
  gpointer old_data;
  GDestroyNotify old_destroy;

  g_mutex_lock (&registry_lock);
  old_data = resolver_data;
  old_destroy = resolver_destroy;
  resolver = func;
  resolver_data = user_data;
  resolver_destroy = destroy;
  g_mutex_unlock (&registry_lock);

  if (old_destroy != NULL)
    old_destroy (old_data);
}

static gboolean
resolve_task (const char *name)
{
  MprocTaskResolver func;
  gpointer data;

  g_mutex_lock (&registry_lock);
  func = resolver;
  data = resolver_data;
  g_mutex_unlock (&registry_lock);

  return func != NULL && func (name, data);
}

gboolean
mproc_pool_lookup_task (const char     *name,
                        MprocTaskFunc  *item_func,
                        MprocChunkFunc *chunk_func,
                        gpointer       *user_data)
{
  Task *task = NULL;

  g_mutex_lock (&registry_lock);
  if (registry == NULL || !g_hash_table_contains (registry, name))
    {
      g_mutex_unlock (&registry_lock);
      if (!resolve_task (name))
        return FALSE;
      g_mutex_lock (&registry_lock);
    }
  if (registry != NULL)
    task = g_hash_table_lookup (registry, name);
  if (task != NULL)
    {
      *item_func = task->item_func;
      *chunk_func = task->chunk_func;
      *user_data = task->user_data;
    }
  g_mutex_unlock (&registry_lock);

  return task != NULL;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

char **
mproc_pool_dup_task_names (void)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_mutex_lock (&registry_lock);
  if (registry != NULL)
    {
      g_hash_table_iter_init (&iter, registry);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (!g_str_equal (key, MPROC_POOL_WORKER_TARGET))
          g_ptr_array_add (names, g_strdup (key));
    }
  g_mutex_unlock (&registry_lock);

  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}
