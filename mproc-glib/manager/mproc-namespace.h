/* mproc-namespace.h: a namespace held by a manager's server
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

#define MPROC_TYPE_NAMESPACE (mproc_namespace_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocNamespace, mproc_namespace, MPROC, NAMESPACE, GObject)

MPROC_AVAILABLE_IN_1_0
MprocNamespace *mproc_namespace_new (MprocManager  *manager,
                                    const char    *name,
                                    GCancellable  *cancellable,
                                    GError       **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocManager *mproc_namespace_get_manager (MprocNamespace *self);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_namespace_watch (MprocNamespace *self,
                                   GCancellable   *cancellable,
                                   GError        **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_namespace_unwatch (MprocNamespace *self);

MPROC_AVAILABLE_IN_1_0
gboolean    mproc_namespace_set (MprocNamespace  *self,
                                 const char      *name,
                                 GVariant        *value,
                                 GCancellable    *cancellable,
                                 GError         **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_namespace_set_async (MprocNamespace      *self,
                                       const char          *name,
                                       GVariant            *value,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_namespace_set_finish (MprocNamespace  *self,
                                        GAsyncResult    *result,
                                        GError         **error);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_namespace_get (MprocNamespace  *self,
                                 const char      *name,
                                 GCancellable    *cancellable,
                                 GError         **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_namespace_get_async (MprocNamespace      *self,
                                       const char          *name,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant *  mproc_namespace_get_finish (MprocNamespace  *self,
                                        GAsyncResult    *result,
                                        GError         **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_namespace_has (MprocNamespace  *self,
                                 const char      *name,
                                 gboolean        *out_value,
                                 GCancellable    *cancellable,
                                 GError         **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_namespace_has_async (MprocNamespace      *self,
                                       const char          *name,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_namespace_has_finish (MprocNamespace  *self,
                                        GAsyncResult    *result,
                                        gboolean        *out_value,
                                        GError         **error);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_namespace_delete (MprocNamespace  *self,
                                    const char      *name,
                                    GCancellable    *cancellable,
                                    GError         **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_namespace_delete_async (MprocNamespace      *self,
                                          const char          *name,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_namespace_delete_finish (MprocNamespace  *self,
                                           GAsyncResult    *result,
                                           GError         **error);
MPROC_AVAILABLE_IN_1_0
char **     mproc_namespace_list_names (MprocNamespace  *self,
                                        GCancellable    *cancellable,
                                        GError         **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_namespace_list_names_async (MprocNamespace      *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
char **     mproc_namespace_list_names_finish (MprocNamespace  *self,
                                               GAsyncResult    *result,
                                               GError         **error) G_GNUC_WARN_UNUSED_RESULT;
G_END_DECLS
