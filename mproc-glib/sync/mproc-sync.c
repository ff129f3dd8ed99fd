/* mproc-sync.c: what the synchronisation primitives share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-sync-private.h.
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-owner-private.h"
#include "mproc-rlock.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"

G_STATIC_ASSERT (sizeof (MprocWaitShared) <= MPROC_SYNC_STATE_OFFSET);

struct _MprocSync
{
  MprocShm       *shm;
  MprocWaitPoint *wp;
  guint           generation;   /* fork generation wp was made in */
  GMutex          mutex;        /* serialises the rebuild of wp */
  gboolean        recursive;    /* of the lock in the state, if any */
};

/* ------------------------------------------------------------------------ */
/* Handle                                                                   */

static MprocSync *
sync_new_take (MprocShm  *shm,
               int        event_fd,
               GError   **error)
{
  MprocSync *sync;
  MprocWaitPoint *wp;

  wp = mproc_wait_point_new (mproc_shm_get_data (shm), event_fd, error);
  if (wp == NULL)
    {
      mproc_shm_unref (shm);
      return NULL;
    }

  sync = g_new0 (MprocSync, 1);
  sync->shm = shm;
  sync->wp = wp;
  sync->generation = mproc_fork_generation ();
  g_mutex_init (&sync->mutex);

  return sync;
}

/* A fresh, zeroed state of @state_size bytes. */
MprocSync *
mproc_sync_new (gsize        state_size,
                const char  *debug_name,
                GError     **error)
{
  MprocShm *shm;

  shm = mproc_shm_new (MPROC_SYNC_STATE_OFFSET + state_size, debug_name, error);
  if (shm == NULL)
    return NULL;

  return sync_new_take (shm, -1, error);
}

/* @handle is "(hh)" as made by mproc_sync_serialize(); the memfd must hold
 * at least the state this class expects. */
MprocSync *
mproc_sync_new_from_handle (GVariant  *handle,
                            GArray    *fds,
                            gsize      state_size,
                            GError   **error)
{
  g_autoptr(GVariant) shm_h = NULL;
  g_autoptr(GVariant) event_h = NULL;
  MprocShm *shm;
  int shm_fd;
  int event_fd;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("(hh)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed synchronisation object"));
      return NULL;
    }

  shm_h = g_variant_get_child_value (handle, 0);
  event_h = g_variant_get_child_value (handle, 1);

  shm_fd = mproc_shareable_steal_fd (fds, shm_h, error);
  if (shm_fd < 0)
    return NULL;
  shm = mproc_shm_new_from_fd (shm_fd, MPROC_SYNC_STATE_OFFSET + state_size, error);
  if (shm == NULL)
    return NULL;

  event_fd = mproc_shareable_steal_fd (fds, event_h, error);
  if (event_fd < 0)
    {
      mproc_shm_unref (shm);
      return NULL;
    }

  return sync_new_take (shm, event_fd, error);
}

static int
dup_fd (int       fd,
        GError  **error)
{
  int copy = fcntl (fd, F_DUPFD_CLOEXEC, 3);

  if (copy < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to duplicate file descriptor: %s"), g_strerror (errsv));
    }
  return copy;
}

/* Returns "(hh)", appending two dup()ed fds to @fds. */
GVariant *
mproc_sync_serialize (MprocSync  *sync,
                      GArray     *fds,
                      GError    **error)
{
  int shm_fd;
  int event_fd;

  shm_fd = dup_fd (mproc_shm_get_fd (sync->shm), error);
  if (shm_fd < 0)
    return NULL;
  event_fd = dup_fd (mproc_wait_point_get_fd (mproc_sync_get_wait_point (sync)), error);
  if (event_fd < 0)
    {
      mproc_clear_fd (&shm_fd);
      return NULL;
    }

  g_array_append_val (fds, shm_fd);
  g_array_append_val (fds, event_fd);
  return g_variant_new ("(hh)", fds->len - 2, fds->len - 1);
}

void
mproc_sync_free (MprocSync *sync)
{
  if (sync == NULL)
    return;

  g_clear_pointer (&sync->wp, mproc_wait_point_free);
  g_clear_pointer (&sync->shm, mproc_shm_unref);
  g_mutex_clear (&sync->mutex);
  g_free (sync);
}

/* The wait point of this process: an object inherited through fork()
 * makes its own on first use (one atomic load when nothing changed). */
MprocWaitPoint *
mproc_sync_get_wait_point (MprocSync *sync)
{
  guint generation = mproc_fork_generation ();
  MprocWaitPoint *wp;

  if (G_LIKELY ((guint) g_atomic_int_get (&sync->generation) == generation))
    return g_atomic_pointer_get (&sync->wp);

  g_mutex_lock (&sync->mutex);
  if (sync->generation != generation)
    {
      int fd = fcntl (mproc_wait_point_get_fd (sync->wp), F_DUPFD_CLOEXEC, 3);
      MprocWaitPoint *fresh = NULL;

      if (fd >= 0)
        fresh = mproc_wait_point_new (mproc_shm_get_data (sync->shm), fd, NULL);
      if (fresh != NULL)
        {
          /* The inherited handle is inert here: freeing it only closes
           * its fds. */
          mproc_wait_point_free (sync->wp);
          g_atomic_pointer_set (&sync->wp, fresh);
          g_atomic_int_set (&sync->generation, generation);
        }
      else
        g_error ("Cannot rebuild a wait point after fork: %s", g_strerror (errno));
    }
  wp = sync->wp;
  g_mutex_unlock (&sync->mutex);

  return wp;
}

gpointer
mproc_sync_get_state (MprocSync *sync)
{
  return (char *) mproc_shm_get_data (sync->shm) + MPROC_SYNC_STATE_OFFSET;
}

MprocWaitShared *
mproc_sync_get_wait_shared (MprocSync *sync)
{
  return mproc_shm_get_data (sync->shm);
}

void
mproc_sync_wake (MprocSync *sync,
                 int        n)
{
  mproc_wait_point_wake (mproc_sync_get_wait_point (sync), n);
}

void
mproc_sync_set_recursive (MprocSync *sync,
                          gboolean   recursive)
{
  sync->recursive = recursive != FALSE;
}

gboolean
mproc_sync_get_recursive (MprocSync *sync)
{
  return sync->recursive;
}

/* ------------------------------------------------------------------------ */
/* Blocking on an async operation                                           */

void
mproc_sync_block_begin (MprocSyncBlock *block)
{
  block->context = g_main_context_new ();
  block->result = NULL;
  g_main_context_push_thread_default (block->context);
}

void
mproc_sync_block_cb (GObject      *source_object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  MprocSyncBlock *block = user_data;

  block->result = g_object_ref (result);
}

GAsyncResult *
mproc_sync_block_end (MprocSyncBlock *block)
{
  while (block->result == NULL)
    g_main_context_iteration (block->context, TRUE);
  g_main_context_pop_thread_default (block->context);
  /* Let what the operation left (a retiring wait source) go now. */
  while (g_main_context_iteration (block->context, FALSE))
    ;
  g_main_context_unref (block->context);
  block->context = NULL;

  return g_steal_pointer (&block->result);
}

/* ------------------------------------------------------------------------ */
/* Death watch                                                              */

struct _MprocDeathWatch
{
  GMainContext   *context;
  GSource        *source;
  int            *pids;
  int            *pidfds;
  guint           n;
  MprocDeathFunc  func;
  gpointer        user_data;
};

typedef struct
{
  GSource          source;
  MprocDeathWatch *watch;
  gpointer        *tags;
} DeathSource;

static gboolean
death_source_dispatch (GSource     *gsource,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  DeathSource *ds = (DeathSource *) gsource;
  MprocDeathWatch *watch = ds->watch;

  for (guint i = 0; i < watch->n; i++)
    {
      if (g_source_query_unix_fd (gsource, ds->tags[i]) != 0)
        {
          int pid = watch->pids[i];

          /* Fire once: the pidfd stays readable. The callback may
           * re-target or free the watch. */
          watch->func (watch->user_data, pid);
          return G_SOURCE_CONTINUE;
        }
    }

  return G_SOURCE_CONTINUE;
}

static void
death_source_finalize (GSource *gsource)
{
  g_free (((DeathSource *) gsource)->tags);
}

static GSourceFuncs death_source_funcs = {
  NULL, NULL, death_source_dispatch, death_source_finalize, NULL, NULL,
};

MprocDeathWatch *
mproc_death_watch_new (GMainContext   *context,
                       MprocDeathFunc  func,
                       gpointer        user_data)
{
  MprocDeathWatch *watch = g_new0 (MprocDeathWatch, 1);

  watch->context = context != NULL ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  watch->func = func;
  watch->user_data = user_data;

  return watch;
}

static void
death_watch_clear (MprocDeathWatch *watch)
{
  if (watch->source != NULL)
    {
      g_source_destroy (watch->source);
      g_clear_pointer (&watch->source, g_source_unref);
    }
  for (guint i = 0; i < watch->n; i++)
    mproc_clear_fd (&watch->pidfds[i]);
  g_clear_pointer (&watch->pids, g_free);
  g_clear_pointer (&watch->pidfds, g_free);
  watch->n = 0;
}

gboolean
mproc_death_watch_set (MprocDeathWatch *watch,
                       const int       *pids,
                       guint            n_pids,
                       gboolean         is_thread)
{
  DeathSource *ds;

  if (watch->source != NULL && n_pids == watch->n &&
      memcmp (pids, watch->pids, n_pids * sizeof (int)) == 0)
    return TRUE;

  death_watch_clear (watch);
  if (n_pids == 0)
    return TRUE;

  watch->pids = g_memdup2 (pids, n_pids * sizeof (int));
  watch->pidfds = g_new (int, n_pids);
  for (guint i = 0; i < n_pids; i++)
    watch->pidfds[i] = -1;
  watch->n = n_pids;

  for (guint i = 0; i < n_pids; i++)
    {
      watch->pidfds[i] = mproc_owner_open_pidfd (pids[i], is_thread);
      if (watch->pidfds[i] < 0)
        {
          death_watch_clear (watch);
          return FALSE;
        }
    }

  watch->source = g_source_new (&death_source_funcs, sizeof (DeathSource));
  g_source_set_static_name (watch->source, "[mproc] death watch");
  ds = (DeathSource *) watch->source;
  ds->watch = watch;
  ds->tags = g_new (gpointer, n_pids);
  for (guint i = 0; i < n_pids; i++)
    ds->tags[i] = g_source_add_unix_fd (watch->source, watch->pidfds[i], G_IO_IN);
  g_source_attach (watch->source, watch->context);

  return TRUE;
}

void
mproc_death_watch_free (MprocDeathWatch *watch)
{
  if (watch == NULL)
    return;
  death_watch_clear (watch);
  g_main_context_unref (watch->context);
  g_free (watch);
}

GVariant *
mproc_sync_serialize_optional_lock (struct _MprocRLock  *lock,
                                    GArray              *fds,
                                    GError             **error)
{
  GVariant *description = NULL;

  if (lock != NULL)
    {
      description = mproc_shareable_serialize (MPROC_SHAREABLE (lock), fds, error);
      if (description == NULL)
        return NULL;
    }
  return g_variant_new_maybe (G_VARIANT_TYPE ("(sv)"), description);
}

gboolean
mproc_sync_deserialize_optional_lock (GVariant            *description,
                                      GArray              *fds,
                                      struct _MprocRLock **lock,
                                      GError             **error)
{
  g_autoptr(GVariant) inner = NULL;
  MprocShareable *object;

  *lock = NULL;
  if (!g_variant_is_of_type (description, G_VARIANT_TYPE ("m(sv)")))
    goto malformed;
  inner = g_variant_get_maybe (description);
  if (inner == NULL)
    return TRUE;

  object = mproc_shareable_deserialize (inner, fds, error);
  if (object == NULL)
    return FALSE;
  if (!MPROC_IS_RLOCK (object))
    {
      g_object_unref (object);
      goto malformed;
    }
  *lock = (struct _MprocRLock *) object;
  return TRUE;

malformed:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a malformed synchronisation object"));
  return FALSE;
}
