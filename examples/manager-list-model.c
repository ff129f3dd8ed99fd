/* manager-list-model.c: a GListModel shared between processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A child appends five names to a list held by a manager's server, one
 * every 50 ms; the parent's main loop sees the list change through
 * GListModel::items-changed (as a GtkListView bound to it would) and quits
 * once the child has finished. Prints one line per change:
 *   items-changed: position P, removed R, added A -> [names]
 */

#include <mproc.h>

static int
appender (MprocProcess *process,
          GVariant     *args,
          gpointer      user_data)
{
  MprocList *list = mproc_process_get_object (process, 0);
  const char *names[] = { "ant", "bee", "cat", "dog", "eel" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_usleep (50000);
      if (!mproc_list_append (list, g_variant_new_string (names[i]), NULL, NULL))
        return 1;
    }
  return 0;
}

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  GMainLoop  *loop)
{
  g_autoptr(GString) out = g_string_new (NULL);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MprocListItem) item = g_list_model_get_item (model, i);

      g_string_append_printf (out, "%s%s", i > 0 ? ", " : "",
                              g_variant_get_string (mproc_list_item_get_value (item), NULL));
    }
  g_print ("items-changed: position %u, removed %u, added %u -> [%s]\n", position, removed, added, out->str);
  if (n == 5)
    g_main_loop_quit (loop);
}

int
main (int argc, char *argv[])
{
  g_autoptr(MprocManager) mgr = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(MprocProcess) child = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;

  mproc_register_target ("appender", appender, NULL, NULL);
  mproc_init (&argc, &argv);

  mgr = mproc_manager_new ();
  if (!mproc_manager_start (mgr, NULL, &error) ||
      (list = mproc_list_new (mgr, NULL, NULL, &error)) == NULL)
    g_error ("%s", error->message);

  child = mproc_process_new ("appender", NULL);
  mproc_process_add_object (child, MPROC_SHAREABLE (list));
  if (!mproc_process_start (child, &error))
    g_error ("%s", error->message);

  /* Follow the list from this thread's main context: a snapshot first
   * (items-changed for what is already there), then every change. */
  loop = g_main_loop_new (NULL, FALSE);
  g_signal_connect (list, "items-changed", G_CALLBACK (on_items_changed), loop);
  if (!mproc_list_watch (list, NULL, &error))
    g_error ("%s", error->message);
  if (g_list_model_get_n_items (G_LIST_MODEL (list)) < 5)
    g_main_loop_run (loop);
  if (!mproc_process_join (child, -1, NULL, &error))
    g_error ("%s", error->message);

  g_clear_object (&child);
  g_signal_handlers_disconnect_by_func (list, on_items_changed, loop);
  mproc_list_unwatch (list);
  g_clear_object (&list);
  mproc_manager_shutdown (mgr, NULL, NULL);
  return 0;
}
