/* mproc-dict.h: a dictionary held by a manager's server
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

#define MPROC_TYPE_DICT (mproc_dict_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocDict, mproc_dict, MPROC, DICT, GObject)

MPROC_AVAILABLE_IN_1_0
MprocDict  *mproc_dict_new (MprocManager  *manager,
                            const char    *name,
                            GCancellable  *cancellable,
                            GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocManager *mproc_dict_get_manager (MprocDict *self);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_watch (MprocDict     *self,
                              GCancellable  *cancellable,
                              GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_unwatch (MprocDict *self);

MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_set (MprocDict     *self,
                            GVariant      *key,
                            GVariant      *value,
                            GCancellable  *cancellable,
                            GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_set_async (MprocDict           *self,
                                  GVariant            *key,
                                  GVariant            *value,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_set_finish (MprocDict     *self,
                                   GAsyncResult  *result,
                                   GError       **error);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_get (MprocDict     *self,
                            GVariant      *key,
                            GCancellable  *cancellable,
                            GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_get_async (MprocDict           *self,
                                  GVariant            *key,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_get_finish (MprocDict     *self,
                                   GAsyncResult  *result,
                                   GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_get_default (MprocDict     *self,
                                    GVariant      *key,
                                    GVariant      *default_value,
                                    GCancellable  *cancellable,
                                    GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_get_default_async (MprocDict           *self,
                                          GVariant            *key,
                                          GVariant            *default_value,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_get_default_finish (MprocDict     *self,
                                           GAsyncResult  *result,
                                           GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_contains (MprocDict     *self,
                                 GVariant      *key,
                                 gboolean      *out_value,
                                 GCancellable  *cancellable,
                                 GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_contains_async (MprocDict           *self,
                                       GVariant            *key,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_contains_finish (MprocDict     *self,
                                        GAsyncResult  *result,
                                        gboolean      *out_value,
                                        GError       **error);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_remove (MprocDict     *self,
                               GVariant      *key,
                               GCancellable  *cancellable,
                               GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_remove_async (MprocDict           *self,
                                     GVariant            *key,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_remove_finish (MprocDict     *self,
                                      GAsyncResult  *result,
                                      GError       **error);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_pop (MprocDict     *self,
                            GVariant      *key,
                            GVariant      *default_value,
                            GCancellable  *cancellable,
                            GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_pop_async (MprocDict           *self,
                                  GVariant            *key,
                                  GVariant            *default_value,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_pop_finish (MprocDict     *self,
                                   GAsyncResult  *result,
                                   GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_setdefault (MprocDict     *self,
                                   GVariant      *key,
                                   GVariant      *value,
                                   GCancellable  *cancellable,
                                   GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_setdefault_async (MprocDict           *self,
                                         GVariant            *key,
                                         GVariant            *value,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_setdefault_finish (MprocDict     *self,
                                          GAsyncResult  *result,
                                          GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_update (MprocDict     *self,
                               GVariant      *pairs,
                               GCancellable  *cancellable,
                               GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_update_async (MprocDict           *self,
                                     GVariant            *pairs,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_update_finish (MprocDict     *self,
                                      GAsyncResult  *result,
                                      GError       **error);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_keys (MprocDict     *self,
                             GCancellable  *cancellable,
                             GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_keys_async (MprocDict           *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_keys_finish (MprocDict     *self,
                                    GAsyncResult  *result,
                                    GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_values (MprocDict     *self,
                               GCancellable  *cancellable,
                               GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_values_async (MprocDict           *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_values_finish (MprocDict     *self,
                                      GAsyncResult  *result,
                                      GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_items (MprocDict     *self,
                              GCancellable  *cancellable,
                              GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_items_async (MprocDict           *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_dict_items_finish (MprocDict     *self,
                                     GAsyncResult  *result,
                                     GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gssize      mproc_dict_len (MprocDict     *self,
                            GCancellable  *cancellable,
                            GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_len_async (MprocDict           *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gssize      mproc_dict_len_finish (MprocDict     *self,
                                   GAsyncResult  *result,
                                   GError       **error);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_clear (MprocDict     *self,
                              GCancellable  *cancellable,
                              GError       **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_dict_clear_async (MprocDict           *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_dict_clear_finish (MprocDict     *self,
                                     GAsyncResult  *result,
                                     GError       **error);
G_END_DECLS
