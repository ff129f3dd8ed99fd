/* pool-module.c: the targets of examples/pool as a module of mproc-worker
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With MPROC_POOL_URI set, examples/pool (and examples/python/pool.py)
 * sends its tasks to the pool "pool-example" on Redis; workers on any
 * host serve it with:
 *
 *   mproc-worker --uri "$MPROC_POOL_URI" --pool pool-example -m DIR
 *
 * where DIR holds this module.
 */

#include <gmodule.h>
#include <mproc.h>

#include "mproc-worker-module.h"

static GVariant *
do_calculation (GVariant  *data,
                gpointer   user_data,
                GError   **error)
{
  if (!g_variant_is_of_type (data, G_VARIANT_TYPE_INT64))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE, "do_calculation takes an int64");
      return NULL;
    }
  return g_variant_new_int64 (g_variant_get_int64 (data) * 2);
}

G_MODULE_EXPORT gboolean
mproc_worker_module_init (GError **error)
{
  mproc_register_task ("do_calculation", do_calculation, NULL, NULL);
  return TRUE;
}
