/* mproc-worker-modules.h: loading the target modules of a worker program
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Loads every *.so of each of @dirs (NULL-terminated), in name order, and
 * runs its init function; the modules stay loaded. */
gboolean mproc_worker_load_modules (char   **dirs,
                                    guint   *n_loaded,
                                    GError **error);

G_END_DECLS
