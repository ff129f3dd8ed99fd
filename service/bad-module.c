/* bad-module.c: a mproc-worker-service module that refuses to load (tests)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <mproc.h>

#include "mproc-worker-module.h"

G_MODULE_EXPORT gboolean
mproc_worker_module_init (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "this test module always refuses to load");
  return FALSE;
}
