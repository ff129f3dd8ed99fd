/* mproc-redis-pool.h: a pool whose workers run on many hosts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-pool.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

MPROC_AVAILABLE_IN_ALL
MprocPool *mproc_pool_new_for_uri        (const char           *uri,
                                          const char           *pool_name,
                                          GCancellable         *cancellable,
                                          GError              **error);
MPROC_AVAILABLE_IN_ALL
void       mproc_pool_new_for_uri_async  (const char           *uri,
                                          const char           *pool_name,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
MPROC_AVAILABLE_IN_ALL
MprocPool *mproc_pool_new_for_uri_finish (GAsyncResult         *result,
                                          GError              **error);

MPROC_AVAILABLE_IN_ALL
GVariant  *mproc_pool_list_workers       (MprocPool            *self,
                                          GCancellable         *cancellable,
                                          GError              **error);

MPROC_AVAILABLE_IN_ALL
gboolean   mproc_pool_serve_for_uri      (const char           *uri,
                                          const char           *pool_name,
                                          guint                 n_processes,
                                          GCancellable         *cancellable,
                                          GError              **error);

G_END_DECLS
