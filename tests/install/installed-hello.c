/* installed-hello.c: a program built out of the tree against an installed
 * mproc-glib, with nothing but `pkg-config --cflags --libs mproc-glib-1`.
 * It starts one process and makes one call fail, printing the error's
 * message (translated when LANGUAGE asks for it).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <locale.h>

#include <mproc.h>

static int
square (MprocProcess *process,
        GVariant     *args,
        gpointer      user_data)
{
  gint32 n = g_variant_get_int32 (args);

  return n * n;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MprocProcess) p = NULL;
  g_autoptr(MprocQueue) q = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;

  /* As every GNOME application does (gtk_init() does it for GTK ones):
   * without it, the C library stays in the "C" locale and ignores
   * LANGUAGE. */
  setlocale (LC_ALL, "");

  mproc_register_target ("square", square, NULL, NULL);
  mproc_init (&argc, &argv);

  p = mproc_process_new ("square", g_variant_new_int32 (3));
  if (!mproc_process_start (p, &error) ||
      !mproc_process_join (p, -1, NULL, &error))
    {
      g_printerr ("installed-hello: %s\n", error->message);
      return 1;
    }
  g_print ("exit code %d\n", mproc_process_get_exit_code (p));

  /* One failing call: nothing to get from an empty queue. */
  q = mproc_queue_new (0, &error);
  g_assert_no_error (error);
  v = mproc_queue_get (q, 0, NULL, &error);
  if (v != NULL || !g_error_matches (error, MPROC_ERROR, MPROC_ERROR_EMPTY))
    {
      g_printerr ("installed-hello: expected MPROC_ERROR_EMPTY\n");
      return 1;
    }
  g_print ("error: %s\n", error->message);
  return 0;
}
