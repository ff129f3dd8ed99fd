/* mproc-worker-modules.c: loading the target modules of a worker program
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Shared by mproc-worker-service (a pool on D-Bus) and mproc-worker (a
 * worker of a pool on Redis).  Both load their modules before
 * mproc_init(), so that every process of theirs, re-executed under the
 * spawn and forkserver start methods, registers the same targets.
 */

#include "config.h"

#include <glib/gi18n.h>
#include <gmodule.h>
#include <mproc.h>

#include "mproc-worker-module.h"
#include "mproc-worker-modules.h"

/* --- Modules ----------------------------------------------------------------- */

static gboolean
load_module (const char  *path,
             GError     **error)
{
  MprocWorkerModuleInitFunc init = NULL;
  GModule *module;

  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot load module “%s”: %s"), path, g_module_error ());
      return FALSE;
    }
  if (!g_module_symbol (module, MPROC_WORKER_MODULE_INIT_SYMBOL, (gpointer *) &init) || init == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Module “%s” has no %s() entry point"), path, MPROC_WORKER_MODULE_INIT_SYMBOL);
      g_module_close (module);
      return FALSE;
    }
  if (!init (error))
    {
      g_prefix_error (error, _("Module “%s” failed to initialise: "), path);
      g_module_close (module);
      return FALSE;
    }
  /* its targets stay registered: the module stays loaded */
  g_module_make_resident (module);
  return TRUE;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

gboolean
mproc_worker_load_modules (char   **dirs,
                           guint   *n_loaded,
                           GError **error)
{
  *n_loaded = 0;
  for (guint d = 0; dirs[d] != NULL; d++)
    {
      g_autoptr(GDir) dir = NULL;
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      dir = g_dir_open (dirs[d], 0, error);
      if (dir == NULL)
        {
          g_prefix_error (error, _("Cannot read the modules directory: "));
          return FALSE;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        if (g_str_has_suffix (name, ".so"))
          g_ptr_array_add (names, g_strdup (name));
      /* the same order in every process, whatever readdir() says */
      g_ptr_array_sort (names, compare_strings);

      for (guint i = 0; i < names->len; i++)
        {
          g_autofree char *path = g_build_filename (dirs[d], names->pdata[i], NULL);

          if (!load_module (path, error))
            return FALSE;
          (*n_loaded)++;
        }
    }
  return TRUE;
}

