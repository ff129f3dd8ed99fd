/* hasher.c: a GTK 4 application that hashes the files of a folder on a
 * pool of worker processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The window shows a progress bar, a Cancel button and a GtkListView bound
 * to an MprocList: the list lives in a manager's server, the pool's workers
 * append one row per file to it, and every change reaches the view through
 * GListModel::items-changed.  A file the worker cannot read becomes an error
 * row; a file whose name contains "crash-me" makes the worker abort (to show
 * what a crashing worker looks like): the pool replaces the worker, the file
 * becomes an error row, and the other files go on.
 *
 * Build it with pkg-config only:
 *   cc -o hasher hasher.c $(pkg-config --cflags --libs gtk4 mproc-glib-1) -rdynamic
 *
 * Run it as `hasher [FOLDER]`.  The options below let a test (or a curious
 * user) drive it without a pointer: see tests/gtk/test-hasher.py.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <gtk/gtk.h>
#include <mproc.h>

#define ROW_TYPE "(sssx)"   /* status ("ok" or "error"), file name, SHA-256 or message, size */

/* ---- worker side: runs in the pool's processes ------------------------ */

static MprocManager *worker_manager;
static GHashTable *worker_lists;   /* list name -> MprocList */

/* The initializer: connect to the application's manager once per worker. */
static GVariant *
hasher_init (GVariant  *arg,
             gpointer   user_data,
             GError   **error)
{
  const char *address = NULL;

  g_variant_get (arg, "(&s)", &address);
  worker_manager = mproc_manager_connect (address, NULL, error);
  if (worker_manager == NULL)
    return NULL;
  worker_lists = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  return g_variant_new ("()");
}

static char *
hash_file (const char  *path,
           gint64      *size,
           GError     **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) in = g_file_read (file, NULL, error);
  guchar buf[65536];
  gssize n;

  if (in == NULL)
    return NULL;
  *size = 0;
  while ((n = g_input_stream_read (G_INPUT_STREAM (in), buf, sizeof buf, NULL, error)) > 0)
    {
      g_checksum_update (checksum, buf, n);
      *size += n;
    }
  if (n < 0)
    return NULL;
  return g_strdup (g_checksum_get_string (checksum));
}

/* One file: hash it and append its row to the run's shared list.  The
 * result returned to the application is the digest alone. */
static GVariant *
hasher_hash (GVariant  *arg,
             gpointer   user_data,
             GError   **error)
{
  const char *list_name = NULL;
  const char *path = NULL;
  guint32 delay_ms = 0;
  g_autofree char *base = NULL;
  g_autofree char *digest = NULL;
  MprocList *list;
  gint64 size = 0;

  g_variant_get (arg, "(&s&su)", &list_name, &path, &delay_ms);
  base = g_path_get_basename (path);

  if (strstr (base, "crash-me") != NULL)
    {
      /* A deliberate crash, without a core file. */
      struct rlimit none = { 0, 0 };

      setrlimit (RLIMIT_CORE, &none);
      abort ();
    }

  if (delay_ms > 0)
    g_usleep (delay_ms * G_TIME_SPAN_MILLISECOND);

  digest = hash_file (path, &size, error);
  if (digest == NULL)
    return NULL;

  list = g_hash_table_lookup (worker_lists, list_name);
  if (list == NULL)
    {
      list = mproc_list_new (worker_manager, list_name, NULL, error);
      if (list == NULL)
        return NULL;
      g_hash_table_insert (worker_lists, g_strdup (list_name), list);
    }
  if (!mproc_list_append (list, g_variant_new (ROW_TYPE, "ok", base, digest, size), NULL, error))
    return NULL;

  return g_variant_new_take_string (g_steal_pointer (&digest));
}

/* ---- application side ------------------------------------------------ */

typedef struct
{
  GtkApplication *app;
  GtkWindow *window;
  GtkProgressBar *progress;
  GtkLabel *status;
  GtkListView *view;

  MprocManager *manager;
  MprocPool *pool;

  /* the current run */
  MprocList *list;
  MprocPoolIterator *iter;
  GCancellable *cancellable;
  GFile *folder;
  GPtrArray *names;   /* file names of the run, by task index */
  guint run;
  guint n_total;
  guint n_done;
  guint n_failed;
  gboolean cancelled;
  gboolean running;
  gboolean reported;   /* the scripted end of this run is done */

  /* options (for tests and scripted use) */
  char *export_path;
  char *screenshot_path;
  int cancel_after;
  int close_after;
  int delay_ms;
  int workers;
  gboolean restart;
  gboolean quit_when_done;
  gboolean restarted;
} Hasher;

static void hasher_start (Hasher *self, GFile *folder);

static void
set_action_enabled (Hasher     *self,
                    const char *name,
                    gboolean    enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self->app), name);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

static void
update_progress (Hasher *self)
{
  g_autofree char *text = NULL;

  gtk_progress_bar_set_fraction (self->progress,
                                 self->n_total > 0 ? (double) self->n_done / self->n_total : 0.0);
  text = g_strdup_printf ("%u / %u", self->n_done, self->n_total);
  gtk_progress_bar_set_text (self->progress, text);
}

/* Appends the rows the view shows, one per line, then a summary line: one
 * block per run. */
static void
export_results (Hasher *self)
{
  g_autoptr(GString) out = g_string_new (NULL);
  GListModel *model = G_LIST_MODEL (self->list);
  FILE *file;
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MprocListItem) item = g_list_model_get_item (model, i);
      const char *status, *name, *text;
      gint64 size;

      g_variant_get (mproc_list_item_get_value (item), "(&s&s&sx)", &status, &name, &text, &size);
      g_string_append_printf (out, "%s\t%s\t%s\t%" G_GINT64_FORMAT "\n", status, name, text, size);
    }
  g_string_append_printf (out, "state\t%s\t%u\t%u\n",
                          self->cancelled ? "cancelled" : "done", self->n_done, self->n_total);
  file = fopen (self->export_path, "a");
  if (file != NULL && fputs (out->str, file) < 0)
    g_clear_pointer (&file, fclose);
  if (file == NULL || fclose (file) != 0)
    g_printerr ("hasher: cannot write %s: %s\n", self->export_path, g_strerror (errno));
}

/* Renders the window into a PNG, as it is on screen. */
static void
take_screenshot (Hasher *self)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (GTK_WIDGET (self->window));
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  int width = gtk_widget_get_width (GTK_WIDGET (self->window));
  int height = gtk_widget_get_height (GTK_WIDGET (self->window));

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  if (node == NULL)
    return;
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (self->window)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, self->screenshot_path))
    g_printerr ("hasher: cannot write %s\n", self->screenshot_path);
}

static gboolean
finish_scripted (gpointer user_data)
{
  Hasher *self = user_data;

  if (self->screenshot_path != NULL)
    take_screenshot (self);
  if (self->export_path != NULL)
    export_results (self);
  if (self->quit_when_done)
    g_application_quit (G_APPLICATION (self->app));
  return G_SOURCE_REMOVE;
}

/* The workers append their rows through the manager, the errors are
 * appended here: a finished run is complete once the list holds a row per
 * file (or at once when it was cancelled). */
static void
maybe_finish_scripted (Hasher *self)
{
  if (self->running || self->list == NULL || self->reported)
    return;
  if (!self->cancelled && g_list_model_get_n_items (G_LIST_MODEL (self->list)) < self->n_total)
    return;
  self->reported = TRUE;
  if (self->cancelled && self->restart && !self->restarted)
    {
      if (self->export_path != NULL)
        export_results (self);
      self->restarted = TRUE;
      hasher_start (self, self->folder);
      return;
    }
  /* let the view draw the last rows before the screenshot */
  g_timeout_add (300, finish_scripted, self);
}

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Hasher     *self)
{
  maybe_finish_scripted (self);
}

static void
on_item (MprocPoolIterator *iter,
         guint              index,
         GVariant          *value,
         const GError      *error,
         Hasher            *self)
{
  if (iter != self->iter)
    return;
  self->n_done++;

  if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    self->n_done--;
  else if (error != NULL)
    {
      g_autoptr(GError) append_error = NULL;

      self->n_failed++;
      if (!mproc_list_append (self->list,
                              g_variant_new (ROW_TYPE, "error", g_ptr_array_index (self->names, index),
                                             error->message, (gint64) -1),
                              NULL, &append_error))
        g_printerr ("hasher: %s\n", append_error->message);
    }
  update_progress (self);

  if (self->cancel_after > 0 && self->n_done == (guint) self->cancel_after && !self->restarted)
    g_action_group_activate_action (G_ACTION_GROUP (self->app), "cancel", NULL);
  if (self->close_after > 0 && self->n_done == (guint) self->close_after)
    gtk_window_close (self->window);
}

static void
on_finished (MprocPoolIterator *iter,
             Hasher            *self)
{
  g_autofree char *text = NULL;

  if (iter != self->iter)
    return;
  self->running = FALSE;
  set_action_enabled (self, "cancel", FALSE);
  set_action_enabled (self, "open-folder", TRUE);
  if (self->cancelled)
    text = g_strdup_printf ("Cancelled after %u of %u files", self->n_done, self->n_total);
  else
    text = g_strdup_printf ("%u files hashed, %u failed", self->n_done - self->n_failed, self->n_failed);
  gtk_label_set_text (self->status, text);
  maybe_finish_scripted (self);
}

static void
stop_run (Hasher *self)
{
  if (self->iter != NULL)
    g_signal_handlers_disconnect_by_data (self->iter, self);
  g_clear_object (&self->iter);
  g_clear_object (&self->cancellable);
  if (self->list != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->list, self);
      mproc_list_unwatch (self->list);
    }
}

static void
hasher_start (Hasher *self,
              GFile  *folder)
{
  g_autoptr(GVariantBuilder) tasks = g_variant_builder_new (G_VARIANT_TYPE ("a(ssu)"));
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GtkNoSelection) selection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *list_name = NULL;
  g_autofree char *title = NULL;
  GFileInfo *info;

  if (self->running)
    return;
  stop_run (self);
  g_set_object (&self->folder, folder);
  g_clear_pointer (&self->names, g_ptr_array_unref);
  self->names = g_ptr_array_new_with_free_func (g_free);

  /* A new shared list per run: rows of a cancelled run that a worker was
   * still hashing land in the old list, not in this one. */
  list_name = g_strdup_printf ("hasher-run-%u", ++self->run);

  children = g_file_enumerate_children (folder, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, &error);
  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, &error)) != NULL)
    {
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR)
        {
          g_autoptr(GFile) child = g_file_get_child (folder, g_file_info_get_name (info));
          g_autofree char *path = g_file_get_path (child);

          g_ptr_array_add (self->names, g_strdup (g_file_info_get_name (info)));
          g_variant_builder_add (tasks, "(ssu)", list_name, path, (guint32) self->delay_ms);
        }
      g_object_unref (info);
    }
  if (error != NULL)
    {
      gtk_label_set_text (self->status, error->message);
      return;
    }

  g_clear_object (&self->list);
  self->list = mproc_list_new (self->manager, list_name, NULL, &error);
  if (self->list == NULL || !mproc_list_watch (self->list, NULL, &error))
    {
      gtk_label_set_text (self->status, error->message);
      return;
    }
  g_signal_connect (self->list, "items-changed", G_CALLBACK (on_items_changed), self);
  selection = gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->list)));
  gtk_list_view_set_model (self->view, GTK_SELECTION_MODEL (selection));

  self->n_total = self->names->len;
  self->n_done = self->n_failed = 0;
  self->cancelled = FALSE;
  self->reported = FALSE;
  self->running = TRUE;
  self->cancellable = g_cancellable_new ();
  self->iter = mproc_pool_imap_unordered (self->pool, "hasher-hash", g_variant_builder_end (tasks),
                                          1, -1, self->cancellable);
  g_signal_connect (self->iter, "item", G_CALLBACK (on_item), self);
  g_signal_connect (self->iter, "finished", G_CALLBACK (on_finished), self);

  title = g_file_get_basename (folder);
  gtk_window_set_title (self->window, title);
  gtk_label_set_text (self->status, "Hashing…");
  set_action_enabled (self, "cancel", TRUE);
  set_action_enabled (self, "open-folder", FALSE);
  update_progress (self);
}

static void
on_folder_chosen (GtkNativeDialog *dialog,
                  int              response,
                  Hasher          *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      hasher_start (self, folder);
    }
  g_object_unref (dialog);
}

static void
open_folder_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  Hasher *self = user_data;
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new ("Choose a Folder", self->window,
                                        GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, NULL, NULL);
  g_signal_connect (dialog, "response", G_CALLBACK (on_folder_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
cancel_activated (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  Hasher *self = user_data;

  if (!self->running)
    return;
  self->cancelled = TRUE;
  g_cancellable_cancel (self->cancellable);
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  Hasher *self = user_data;

  if (self->window != NULL)
    gtk_window_close (self->window);
}

static void
setup_row (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  user_data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *icon = gtk_image_new ();
  GtkWidget *name = gtk_label_new (NULL);
  GtkWidget *text = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_width_chars (GTK_LABEL (name), 18);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_xalign (GTK_LABEL (text), 0);
  gtk_label_set_ellipsize (GTK_LABEL (text), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (text, TRUE);
  gtk_widget_add_css_class (text, "monospace");
  gtk_widget_add_css_class (text, "dim-label");
  gtk_box_append (GTK_BOX (box), icon);
  gtk_box_append (GTK_BOX (box), name);
  gtk_box_append (GTK_BOX (box), text);
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 3);
  gtk_widget_set_margin_bottom (box, 3);
  gtk_list_item_set_child (item, box);
}

static void
bind_row (GtkSignalListItemFactory *factory,
          GtkListItem              *item,
          gpointer                  user_data)
{
  MprocListItem *row = gtk_list_item_get_item (item);
  GtkWidget *icon = gtk_widget_get_first_child (gtk_list_item_get_child (item));
  GtkWidget *name = gtk_widget_get_next_sibling (icon);
  GtkWidget *text = gtk_widget_get_next_sibling (name);
  const char *status, *file, *detail;
  gint64 size;

  g_variant_get (mproc_list_item_get_value (row), "(&s&s&sx)", &status, &file, &detail, &size);
  gtk_image_set_from_icon_name (GTK_IMAGE (icon),
                                g_str_equal (status, "ok") ? "emblem-ok-symbolic" : "dialog-error-symbolic");
  gtk_label_set_text (GTK_LABEL (name), file);
  gtk_label_set_text (GTK_LABEL (text), detail);
  if (g_str_equal (status, "ok"))
    gtk_widget_remove_css_class (text, "error");
  else
    gtk_widget_add_css_class (text, "error");
}

static void
build_window (Hasher *self)
{
  GtkWidget *header = gtk_header_bar_new ();
  GtkWidget *open = gtk_button_new_with_mnemonic ("_Open Folder…");
  GtkWidget *cancel = gtk_button_new_with_mnemonic ("_Cancel");
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  self->window = GTK_WINDOW (gtk_application_window_new (self->app));
  gtk_window_set_title (self->window, "Hasher");
  gtk_window_set_default_size (self->window, 640, 420);

  gtk_actionable_set_action_name (GTK_ACTIONABLE (open), "app.open-folder");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (cancel), "app.cancel");
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), open);
  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), cancel);
  gtk_window_set_titlebar (self->window, header);

  self->progress = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  gtk_progress_bar_set_show_text (self->progress, TRUE);
  gtk_progress_bar_set_text (self->progress, "");
  self->status = GTK_LABEL (gtk_label_new ("Open a folder to hash its files"));
  gtk_label_set_xalign (self->status, 0);

  g_signal_connect (factory, "setup", G_CALLBACK (setup_row), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row), self);
  self->view = GTK_LIST_VIEW (gtk_list_view_new (NULL, g_object_ref (factory)));
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), GTK_WIDGET (self->view));
  gtk_widget_set_vexpand (scrolled, TRUE);

  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->progress));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->status));
  gtk_box_append (GTK_BOX (box), scrolled);
  gtk_window_set_child (self->window, box);
  g_object_add_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
}

static void
on_startup (GApplication *app,
            Hasher       *self)
{
  const GActionEntry entries[] = {
    { "open-folder", open_folder_activated },
    { "cancel", cancel_activated },
    { "quit", quit_activated },
  };
  g_autoptr(GError) error = NULL;
  const char *accels_quit[] = { "<Control>q", NULL };
  const char *accels_cancel[] = { "Escape", NULL };

  g_action_map_add_action_entries (G_ACTION_MAP (app), entries, G_N_ELEMENTS (entries), self);
  gtk_application_set_accels_for_action (self->app, "app.quit", accels_quit);
  gtk_application_set_accels_for_action (self->app, "app.cancel", accels_cancel);
  set_action_enabled (self, "cancel", FALSE);

  /* The manager's server holds the results; the workers reach it by its
   * address, given to them by the pool's initializer. */
  self->manager = mproc_manager_new ();
  if (!mproc_manager_start (self->manager, NULL, &error) ||
      (self->pool = mproc_pool_new_full (NULL, self->workers > 0 ? (guint) self->workers : 0,
                                         "hasher-init",
                                         g_variant_new ("(s)", mproc_manager_get_address (self->manager)),
                                         0, &error)) == NULL)
    {
      g_printerr ("hasher: %s\n", error->message);
      g_application_quit (app);
      return;
    }
  build_window (self);
}

static void
on_activate (GApplication *app,
             Hasher       *self)
{
  if (self->window != NULL)
    gtk_window_present (self->window);
}

static void
on_open (GApplication  *app,
         GFile        **files,
         int            n_files,
         const char    *hint,
         Hasher        *self)
{
  on_activate (app, self);
  if (n_files > 0 && self->window != NULL)
    hasher_start (self, files[0]);
}

/* Nothing may outlive the application: stop the run, the workers and the
 * manager's server before returning from main(). */
static void
on_shutdown (GApplication *app,
             Hasher       *self)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  stop_run (self);
  g_clear_object (&self->list);
  if (self->pool != NULL)
    {
      mproc_pool_terminate (self->pool);
      mproc_pool_join (self->pool, -1, NULL, NULL);
    }
  g_clear_object (&self->pool);
  if (self->manager != NULL)
    mproc_manager_shutdown (self->manager, NULL, NULL);
  g_clear_object (&self->manager);
}

int
main (int   argc,
      char *argv[])
{
  Hasher self = { 0 };
  const GOptionEntry options[] = {
    { "export", 0, 0, G_OPTION_ARG_FILENAME, &self.export_path, "Write the rows to FILE when the run ends", "FILE" },
    { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &self.screenshot_path, "Save the window as a PNG when the run ends", "FILE" },
    { "cancel-after", 0, 0, G_OPTION_ARG_INT, &self.cancel_after, "Press Cancel after N files", "N" },
    { "restart", 0, 0, G_OPTION_ARG_NONE, &self.restart, "Start again after a cancel", NULL },
    { "close-after", 0, 0, G_OPTION_ARG_INT, &self.close_after, "Close the window after N files", "N" },
    { "quit", 0, 0, G_OPTION_ARG_NONE, &self.quit_when_done, "Quit when the run ends", NULL },
    { "delay-ms", 0, 0, G_OPTION_ARG_INT, &self.delay_ms, "Let each task sleep MS first", "MS" },
    { "workers", 0, 0, G_OPTION_ARG_INT, &self.workers, "Number of worker processes", "N" },
    { NULL }
  };
  int status;

  /* Before anything else: in a worker, mproc_init() runs the pool's loop and
   * never returns. */
  mproc_register_task ("hasher-init", hasher_init, NULL, NULL);
  mproc_register_task ("hasher-hash", hasher_hash, NULL, NULL);
  mproc_init (&argc, &argv);

  self.app = gtk_application_new ("org.gnome.Mproc.Example.Hasher",
                                  G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE);
  g_application_add_main_option_entries (G_APPLICATION (self.app), options);
  g_signal_connect (self.app, "startup", G_CALLBACK (on_startup), &self);
  g_signal_connect (self.app, "activate", G_CALLBACK (on_activate), &self);
  g_signal_connect (self.app, "open", G_CALLBACK (on_open), &self);
  g_signal_connect (self.app, "shutdown", G_CALLBACK (on_shutdown), &self);

  status = g_application_run (G_APPLICATION (self.app), argc, argv);

  g_clear_object (&self.folder);
  g_clear_pointer (&self.names, g_ptr_array_unref);
  g_clear_pointer (&self.export_path, g_free);
  g_clear_pointer (&self.screenshot_path, g_free);
  g_object_unref (self.app);
  return status;
}
