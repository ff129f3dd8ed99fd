/* manager-dict.c: the seed's multiprocessing_manager_dict.py (§7)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ten processes each store one key in a dict held by a manager's server;
 * the parent prints the dict once they are done.
 */

#include <mproc.h>

static int
worker (MprocProcess *process,
        GVariant     *args,
        gpointer      user_data)
{
  MprocDict *d = mproc_process_get_object (process, 0);
  g_autoptr(GError) error = NULL;
  gint64 key, value;

  g_variant_get (args, "(xx)", &key, &value);
  if (!mproc_dict_set (d, g_variant_new_int64 (key), g_variant_new_int64 (value), NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  return 0;
}

static int
compare_keys (gconstpointer a,
              gconstpointer b)
{
  gint64 x = g_variant_get_int64 (*(GVariant **) a);
  gint64 y = g_variant_get_int64 (*(GVariant **) b);

  return x < y ? -1 : x > y;
}

int
main (int argc, char *argv[])
{
  g_autoptr(MprocManager) mgr = NULL;
  g_autoptr(MprocDict) d = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(GString) out = g_string_new ("Results: {");
  g_autoptr(GError) error = NULL;
  MprocProcess *jobs[10];

  mproc_register_target ("worker", worker, NULL, NULL);
  mproc_init (&argc, &argv);

  mgr = mproc_manager_new ();
  if (!mproc_manager_start (mgr, NULL, &error) ||
      (d = mproc_dict_new (mgr, NULL, NULL, &error)) == NULL)
    g_error ("%s", error->message);

  for (int i = 0; i < 10; i++)
    {
      jobs[i] = mproc_process_new ("worker", g_variant_new ("(xx)", (gint64) i, (gint64) i * 2));
      mproc_process_add_object (jobs[i], MPROC_SHAREABLE (d));
      if (!mproc_process_start (jobs[i], &error))
        g_error ("%s", error->message);
    }
  for (int i = 0; i < 10; i++)
    {
      if (!mproc_process_join (jobs[i], -1, NULL, &error))
        g_error ("%s", error->message);
      g_object_unref (jobs[i]);
    }

  /* like Python 3's dict, printed in key order */
  items = mproc_dict_keys (d, NULL, &error);
  if (items == NULL)
    g_error ("%s", error->message);
  for (gsize i = 0; i < g_variant_n_children (items); i++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (items, i);

      g_ptr_array_add (keys, g_variant_get_variant (boxed));
    }
  g_ptr_array_sort (keys, compare_keys);
  for (guint i = 0; i < keys->len; i++)
    {
      g_autoptr(GVariant) value = mproc_dict_get (d, keys->pdata[i], NULL, &error);

      if (value == NULL)
        g_error ("%s", error->message);
      g_string_append_printf (out, "%s%" G_GINT64_FORMAT ": %" G_GINT64_FORMAT, i > 0 ? ", " : "",
                              g_variant_get_int64 (keys->pdata[i]), g_variant_get_int64 (value));
    }
  g_string_append (out, "}");
  g_print ("%s\n", out->str);

  g_clear_object (&d);
  mproc_manager_shutdown (mgr, NULL, NULL);
  return 0;
}
