/* mproc-pool.h: a pool of worker processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-context.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

/**
 * MprocTaskFunc:
 * @arg: (transfer none): the argument of one task
 * @user_data: the data given to [func@Mproc.register_task]
 * @error: return location for a #GError
 *
 * A pool target: computes the result of one task in a worker process.
 *
 * Returns: (transfer full) (nullable): the result (a floating reference is
 *   sunk), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef GVariant *(*MprocTaskFunc) (GVariant  *arg,
                                    gpointer   user_data,
                                    GError   **error);

/**
 * MprocChunkFunc:
 * @items: (transfer none): an array of task arguments (type `aT`)
 * @user_data: the data given to [func@Mproc.register_chunk_task]
 * @error: return location for a #GError
 *
 * A pool target that computes a whole chunk of tasks at once: the fast path
 * for tiny tasks, which can read a packed array such as `ax` with
 * g_variant_get_fixed_array() and build the results with
 * g_variant_new_fixed_array() without one allocation per item.
 *
 * Returns: (transfer full) (nullable): an array with one result per item
 *   of @items, in the same order, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef GVariant *(*MprocChunkFunc) (GVariant  *items,
                                     gpointer   user_data,
                                     GError   **error);

/**
 * MprocPoolProgressFunc:
 * @n_done: how many items are done
 * @n_items: how many items the call has
 * @user_data: the data given with the function
 *
 * Follows the progress of a map call, in the pool's main context.
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef void (*MprocPoolProgressFunc) (guint    n_done,
                                       guint    n_items,
                                       gpointer user_data);

MPROC_AVAILABLE_IN_1_0
void mproc_register_task       (const char     *name,
                                MprocTaskFunc   func,
                                gpointer        user_data,
                                GDestroyNotify  destroy);
MPROC_AVAILABLE_IN_1_0
void mproc_register_chunk_task (const char     *name,
                                MprocChunkFunc  func,
                                gpointer        user_data,
                                GDestroyNotify  destroy);

/**
 * MprocTaskResolver:
 * @name: the name of a pool target this process does not know
 * @user_data: the data given to [func@Mproc.set_task_resolver]
 *
 * Registers the pool target @name if it can: see [func@Mproc.set_task_resolver].
 *
 * Returns: %TRUE if @name is registered now
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef gboolean (*MprocTaskResolver) (const char *name,
                                       gpointer    user_data);

MPROC_AVAILABLE_IN_0_2
void mproc_set_task_resolver   (MprocTaskResolver func,
                                gpointer          user_data,
                                GDestroyNotify    destroy);

#define MPROC_TYPE_POOL_ITERATOR (mproc_pool_iterator_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocPoolIterator, mproc_pool_iterator, MPROC, POOL_ITERATOR, GObject)

#define MPROC_TYPE_POOL (mproc_pool_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocPool, mproc_pool, MPROC, POOL, GObject)

MPROC_AVAILABLE_IN_1_0
MprocPool         *mproc_pool_new                  (guint                  processes,
                                                    GError               **error);
MPROC_AVAILABLE_IN_1_0
MprocPool         *mproc_pool_new_full             (MprocContext          *context,
                                                    guint                  processes,
                                                    const char            *initializer,
                                                    GVariant              *initargs,
                                                    guint                  maxtasksperchild,
                                                    GError               **error);

MPROC_AVAILABLE_IN_ALL
void               mproc_pool_new_async            (MprocContext          *context,
                                                    guint                  processes,
                                                    GCancellable          *cancellable,
                                                    GAsyncReadyCallback    callback,
                                                    gpointer               user_data);
MPROC_AVAILABLE_IN_ALL
MprocPool         *mproc_pool_new_finish           (GAsyncResult          *result,
                                                    GError               **error);

MPROC_AVAILABLE_IN_ALL
int                mproc_pool_get_cancel_grace     (MprocPool             *self);
MPROC_AVAILABLE_IN_ALL
void               mproc_pool_set_cancel_grace     (MprocPool             *self,
                                                    int                    grace_ms);
MPROC_AVAILABLE_IN_ALL
GCancellable      *mproc_pool_task_get_cancellable (void);

MPROC_AVAILABLE_IN_1_0
guint              mproc_pool_get_processes        (MprocPool             *self);
MPROC_AVAILABLE_IN_1_0
guint              mproc_pool_get_maxtasksperchild (MprocPool             *self);
MPROC_AVAILABLE_IN_1_0
MprocContext      *mproc_pool_get_context          (MprocPool             *self);
MPROC_AVAILABLE_IN_1_0
const char        *mproc_pool_get_initializer      (MprocPool             *self);
MPROC_AVAILABLE_IN_1_0
guint              mproc_pool_get_n_workers        (MprocPool             *self);
MPROC_AVAILABLE_IN_1_0
int               *mproc_pool_dup_worker_pids      (MprocPool             *self,
                                                    guint                 *n_pids);

MPROC_AVAILABLE_IN_1_0
GVariant          *mproc_pool_apply                (MprocPool             *self,
                                                    const char            *target,
                                                    GVariant              *arg,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable,
                                                    GError               **error);
MPROC_AVAILABLE_IN_1_0
void               mproc_pool_apply_async          (MprocPool             *self,
                                                    const char            *target,
                                                    GVariant              *arg,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable,
                                                    GAsyncReadyCallback    callback,
                                                    gpointer               user_data);
MPROC_AVAILABLE_IN_1_0
GVariant          *mproc_pool_apply_finish         (MprocPool             *self,
                                                    GAsyncResult          *result,
                                                    GError               **error);

MPROC_AVAILABLE_IN_1_0
GVariant          *mproc_pool_map                  (MprocPool             *self,
                                                    const char            *target,
                                                    GVariant              *items,
                                                    guint                  chunksize,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable,
                                                    GError               **error);
MPROC_AVAILABLE_IN_1_0
void               mproc_pool_map_async            (MprocPool             *self,
                                                    const char            *target,
                                                    GVariant              *items,
                                                    guint                  chunksize,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable,
                                                    MprocPoolProgressFunc  progress_func,
                                                    gpointer               progress_data,
                                                    GDestroyNotify         progress_notify,
                                                    GAsyncReadyCallback    callback,
                                                    gpointer               user_data);
MPROC_AVAILABLE_IN_1_0
GVariant          *mproc_pool_map_finish           (MprocPool             *self,
                                                    GAsyncResult          *result,
                                                    GError               **error);

MPROC_AVAILABLE_IN_1_0
GVariant          *mproc_pool_starmap              (MprocPool             *self,
                                                    const char            *target,
                                                    GVariant              *items,
                                                    guint                  chunksize,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable,
                                                    GError               **error);
MPROC_AVAILABLE_IN_1_0
void               mproc_pool_starmap_async        (MprocPool             *self,
                                                    const char            *target,
                                                    GVariant              *items,
                                                    guint                  chunksize,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable,
                                                    GAsyncReadyCallback    callback,
                                                    gpointer               user_data);
MPROC_AVAILABLE_IN_1_0
GVariant          *mproc_pool_starmap_finish       (MprocPool             *self,
                                                    GAsyncResult          *result,
                                                    GError               **error);

MPROC_AVAILABLE_IN_1_0
MprocPoolIterator *mproc_pool_imap                 (MprocPool             *self,
                                                    const char            *target,
                                                    GVariant              *items,
                                                    guint                  chunksize,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable);
MPROC_AVAILABLE_IN_1_0
MprocPoolIterator *mproc_pool_imap_unordered       (MprocPool             *self,
                                                    const char            *target,
                                                    GVariant              *items,
                                                    guint                  chunksize,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable);

MPROC_AVAILABLE_IN_1_0
void               mproc_pool_close                (MprocPool             *self);
MPROC_AVAILABLE_IN_1_0
void               mproc_pool_terminate            (MprocPool             *self);
MPROC_AVAILABLE_IN_1_0
gboolean           mproc_pool_join                 (MprocPool             *self,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable,
                                                    GError               **error);
MPROC_AVAILABLE_IN_0_2
void               mproc_pool_join_async           (MprocPool             *self,
                                                    gint64                 timeout_usec,
                                                    GCancellable          *cancellable,
                                                    GAsyncReadyCallback    callback,
                                                    gpointer               user_data);
MPROC_AVAILABLE_IN_1_0
gboolean           mproc_pool_join_finish          (MprocPool             *self,
                                                    GAsyncResult          *result,
                                                    GError               **error);

MPROC_AVAILABLE_IN_1_0
GVariant          *mproc_pool_iterator_next        (MprocPoolIterator     *self,
                                                    guint                 *out_index,
                                                    GCancellable          *cancellable,
                                                    GError               **error);
MPROC_AVAILABLE_IN_1_0
void               mproc_pool_iterator_next_async  (MprocPoolIterator     *self,
                                                    GCancellable          *cancellable,
                                                    GAsyncReadyCallback    callback,
                                                    gpointer               user_data);
MPROC_AVAILABLE_IN_1_0
GVariant          *mproc_pool_iterator_next_finish (MprocPoolIterator     *self,
                                                    GAsyncResult          *result,
                                                    guint                 *out_index,
                                                    GError               **error);
MPROC_AVAILABLE_IN_1_0
guint              mproc_pool_iterator_get_n_items (MprocPoolIterator     *self);
MPROC_AVAILABLE_IN_1_0
guint              mproc_pool_iterator_get_n_done  (MprocPoolIterator     *self);
MPROC_AVAILABLE_IN_1_0
gboolean           mproc_pool_iterator_is_ordered  (MprocPoolIterator     *self);

G_END_DECLS
