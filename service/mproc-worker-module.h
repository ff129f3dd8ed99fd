/* mproc-worker-module.h: the entry point of a mproc-worker-service module
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mproc-worker-service loads every `*.so` file of its modules directory with
 * GModule and calls the module's entry point, which registers the module's
 * pool targets:
 *
 *   #include <mproc.h>
 *   #include <mproc-worker-module.h>
 *
 *   static GVariant *
 *   thumbnail (GVariant *arg, gpointer user_data, GError **error)
 *   { ... }
 *
 *   G_MODULE_EXPORT gboolean
 *   mproc_worker_module_init (GError **error)
 *   {
 *     mproc_register_task ("org.example.Thumbnail", thumbnail, NULL, NULL);
 *     return TRUE;
 *   }
 *
 * Build it as a shared module against mproc-glib-1:
 *
 *   cc -shared -fPIC -o thumbnail.so thumbnail.c $(pkg-config --cflags --libs mproc-glib-1)
 *
 * The entry point runs in the service and again in each process that
 * starts workers (the service executes itself again under the spawn and
 * forkserver start methods), always before mproc_init(): it must do
 * nothing but register targets, the same ones each time.  Name targets
 * with a reverse-DNS prefix so that modules do not collide; a later
 * registration of a name replaces the earlier one.  Return %FALSE with
 * @error set to refuse to load: the service then exits with that message.
 */

#pragma once

#include <glib.h>
#include <gmodule.h>

G_BEGIN_DECLS

/**
 * MPROC_WORKER_MODULE_INIT_SYMBOL:
 *
 * The name of the symbol mproc-worker-service looks up in a module:
 * a #MprocWorkerModuleInitFunc.
 *
 * Since: 0.1
 * Stability: Unstable
 */
#define MPROC_WORKER_MODULE_INIT_SYMBOL "mproc_worker_module_init"

/**
 * MprocWorkerModuleInitFunc:
 * @error: return location for a #GError
 *
 * The entry point of a module of mproc-worker-service: registers the
 * module's pool targets with mproc_register_task() and
 * mproc_register_chunk_task().
 *
 * Returns: %TRUE, or %FALSE with @error set if the module cannot work
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef gboolean (*MprocWorkerModuleInitFunc) (GError **error);

/* Declared here so that a module's definition is checked against it. */
G_MODULE_EXPORT gboolean mproc_worker_module_init (GError **error);

G_END_DECLS
