/* test-pool-helper.c: a small program pool workers run instead of the test
 * (MprocPool:executable): it registers the same targets and lets
 * mproc_init() run the worker
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "test-pool-targets.h"

int
main (int argc, char *argv[])
{
  test_pool_register_targets ();
  g_set_prgname ("test-pool-helper");
  /* returns only when not started as a worker */
  mproc_init (&argc, &argv);
  g_printerr ("test-pool-helper: run by MprocPool only\n");
  return 2;
}
