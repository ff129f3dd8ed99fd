/* namespaces-mutable.c: the seed's multiprocessing_namespaces_mutable.py (§9)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The parent stores an empty list in a namespace attribute. The producer
 * gets it and appends to what it got: a copy (a GVariant is immutable, so
 * "appending" builds a new list in the producer only), never set again, so
 * the consumer sees an empty list before and after the event. To publish a
 * change, set the attribute again with mproc_namespace_set().
 */

#include <mproc.h>

static int
producer (MprocProcess *process,
          GVariant     *args,
          gpointer      user_data)
{
  MprocNamespace *ns = mproc_process_get_object (process, 0);
  MprocEvent *event = mproc_process_get_object (process, 1);
  g_autoptr(GVariant) my_list = NULL;
  g_autoptr(GVariant) local = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;
  GVariantIter iter;
  const char *item;

  my_list = mproc_namespace_get (ns, "my_list", NULL, &error);
  if (my_list == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  /* "my_list.append('This is the value')": changes the local copy only */
  g_variant_builder_init (&builder, G_VARIANT_TYPE_STRING_ARRAY);
  g_variant_iter_init (&iter, my_list);
  while (g_variant_iter_next (&iter, "&s", &item))
    g_variant_builder_add (&builder, "s", item);
  g_variant_builder_add (&builder, "s", "This is the value");
  local = g_variant_ref_sink (g_variant_builder_end (&builder));
  mproc_event_set (event);
  return 0;
}

static void
print_list (const char     *when,
            MprocNamespace *ns)
{
  g_autoptr(GVariant) my_list = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = g_string_new ("[");
  GVariantIter iter;
  const char *item;
  gboolean first = TRUE;

  my_list = mproc_namespace_get (ns, "my_list", NULL, &error);
  if (my_list == NULL)
    {
      g_printerr ("%s\n", error->message);
      return;
    }
  g_variant_iter_init (&iter, my_list);
  while (g_variant_iter_next (&iter, "&s", &item))
    {
      g_string_append_printf (out, "%s'%s'", first ? "" : ", ", item);
      first = FALSE;
    }
  g_string_append (out, "]");
  g_print ("%s event, consumer got: %s\n", when, out->str);
}

static int
consumer (MprocProcess *process,
          GVariant     *args,
          gpointer      user_data)
{
  MprocNamespace *ns = mproc_process_get_object (process, 0);
  MprocEvent *event = mproc_process_get_object (process, 1);

  print_list ("Before", ns);
  mproc_event_wait (event, -1, NULL, NULL);
  print_list ("After", ns);
  return 0;
}

int
main (int argc, char *argv[])
{
  g_autoptr(MprocManager) mgr = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(MprocEvent) event = NULL;
  g_autoptr(MprocProcess) c = NULL;
  g_autoptr(MprocProcess) p = NULL;
  g_autoptr(GError) error = NULL;

  mproc_register_target ("producer", producer, NULL, NULL);
  mproc_register_target ("consumer", consumer, NULL, NULL);
  mproc_init (&argc, &argv);

  mgr = mproc_manager_new ();
  if (!mproc_manager_start (mgr, NULL, &error) ||
      (ns = mproc_namespace_new (mgr, NULL, NULL, &error)) == NULL ||
      (event = mproc_event_new (&error)) == NULL ||
      !mproc_namespace_set (ns, "my_list", g_variant_new_strv (NULL, 0), NULL, &error))
    g_error ("%s", error->message);

  p = mproc_process_new ("producer", NULL);
  c = mproc_process_new ("consumer", NULL);
  mproc_process_add_object (p, MPROC_SHAREABLE (ns));
  mproc_process_add_object (p, MPROC_SHAREABLE (event));
  mproc_process_add_object (c, MPROC_SHAREABLE (ns));
  mproc_process_add_object (c, MPROC_SHAREABLE (event));

  if (!mproc_process_start (c, &error) || !mproc_process_start (p, &error) ||
      !mproc_process_join (c, -1, NULL, &error) || !mproc_process_join (p, -1, NULL, &error))
    g_error ("%s", error->message);

  g_clear_object (&c);
  g_clear_object (&p);
  g_clear_object (&ns);
  mproc_manager_shutdown (mgr, NULL, NULL);
  return 0;
}
