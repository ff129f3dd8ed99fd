/* mproc-list.h: a list held by a manager's server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-manager.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_LIST_ITEM (mproc_list_item_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocListItem, mproc_list_item, MPROC, LIST_ITEM, GObject)

MPROC_AVAILABLE_IN_1_0
MprocListItem *mproc_list_item_new       (GVariant      *value) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
GVariant      *mproc_list_item_get_value (MprocListItem *self);

#define MPROC_TYPE_LIST (mproc_list_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocList, mproc_list, MPROC, LIST, GObject)

MPROC_AVAILABLE_IN_1_0
MprocList  *mproc_list_new (MprocManager  *manager,
                            const char    *name,
                            GCancellable  *cancellable,
                            GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocManager *mproc_list_get_manager (MprocList *self);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_watch (MprocList     *self,
                              GCancellable  *cancellable,
                              GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_unwatch (MprocList *self);

MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_append (MprocList     *self,
                               GVariant      *value,
                               GCancellable  *cancellable,
                               GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_append_async (MprocList           *self,
                                     GVariant            *value,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_append_finish (MprocList     *self,
                                      GAsyncResult  *result,
                                      GError       **error);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_extend (MprocList     *self,
                               GVariant      *values,
                               GCancellable  *cancellable,
                               GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_extend_async (MprocList           *self,
                                     GVariant            *values,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_extend_finish (MprocList     *self,
                                      GAsyncResult  *result,
                                      GError       **error);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_insert (MprocList     *self,
                               gint64         index,
                               GVariant      *value,
                               GCancellable  *cancellable,
                               GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_insert_async (MprocList           *self,
                                     gint64               index,
                                     GVariant            *value,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_insert_finish (MprocList     *self,
                                      GAsyncResult  *result,
                                      GError       **error);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_list_get (MprocList     *self,
                            gint64         index,
                            GCancellable  *cancellable,
                            GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_list_get_async (MprocList           *self,
                                  gint64               index,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_list_get_finish (MprocList     *self,
                                   GAsyncResult  *result,
                                   GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_set (MprocList     *self,
                            gint64         index,
                            GVariant      *value,
                            GCancellable  *cancellable,
                            GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_set_async (MprocList           *self,
                                  gint64               index,
                                  GVariant            *value,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_set_finish (MprocList     *self,
                                   GAsyncResult  *result,
                                   GError       **error);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_remove (MprocList     *self,
                               GVariant      *value,
                               GCancellable  *cancellable,
                               GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_remove_async (MprocList           *self,
                                     GVariant            *value,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_remove_finish (MprocList     *self,
                                      GAsyncResult  *result,
                                      GError       **error);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_list_pop (MprocList     *self,
                            gint64         index,
                            GCancellable  *cancellable,
                            GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_list_pop_async (MprocList           *self,
                                  gint64               index,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_list_pop_finish (MprocList     *self,
                                   GAsyncResult  *result,
                                   GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gssize      mproc_list_index (MprocList     *self,
                              GVariant      *value,
                              GCancellable  *cancellable,
                              GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_index_async (MprocList           *self,
                                    GVariant            *value,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gssize      mproc_list_index_finish (MprocList     *self,
                                     GAsyncResult  *result,
                                     GError       **error);
MPROC_AVAILABLE_IN_1_0
gssize      mproc_list_count (MprocList     *self,
                              GVariant      *value,
                              GCancellable  *cancellable,
                              GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_count_async (MprocList           *self,
                                    GVariant            *value,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gssize      mproc_list_count_finish (MprocList     *self,
                                     GAsyncResult  *result,
                                     GError       **error);
MPROC_AVAILABLE_IN_1_0
gssize      mproc_list_len (MprocList     *self,
                            GCancellable  *cancellable,
                            GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_len_async (MprocList           *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gssize      mproc_list_len_finish (MprocList     *self,
                                   GAsyncResult  *result,
                                   GError       **error);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_list_slice (MprocList     *self,
                              gint64         start,
                              gint64         stop,
                              GCancellable  *cancellable,
                              GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_list_slice_async (MprocList           *self,
                                    gint64               start,
                                    gint64               stop,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_list_slice_finish (MprocList     *self,
                                     GAsyncResult  *result,
                                     GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_clear (MprocList     *self,
                              GCancellable  *cancellable,
                              GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_list_clear_async (MprocList           *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_list_clear_finish (MprocList     *self,
                                     GAsyncResult  *result,
                                     GError       **error);
G_END_DECLS
