/* mproc-title.c: names a child process where top, ps and GNOME System
 * Monitor look: /proc/PID/comm and the command line
 *
 * The kernel keeps the command line in the process's own memory, between
 * the arg_start and arg_end addresses of /proc/PID/stat; rewriting that
 * memory changes what `ps -o args` shows, for C, Python and GJS programs
 * alike. A spawned child (and so the fork server and its children) is
 * executed with a spare variable first in its environment, which lies
 * right after the arguments and lends them room for a title longer than
 * the original command line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "mproc-runtime-private.h"

#define TITLE_SPACE_ENV "MPROC_TITLE_SPACE"

/* The program's short name, found once before the first rewrite and
 * inherited by forked children. */
static char *title_program;
static gsize title_room;

static gboolean
is_interpreter (const char *name)
{
  return g_str_has_prefix (name, "python") || g_str_has_prefix (name, "pypy") ||
         g_str_equal (name, "gjs") || g_str_equal (name, "gjs-console");
}

/* "primes" for "./primes --x", "python3 -u primes.py", "gjs primes.js" and
 * "python3 -c CODE primes.py" (how a binding's bootstrap starts a child). */
static char *
program_from_cmdline (const char *args,
                      gsize       len)
{
  g_autofree char *base = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *chosen = NULL;
  char *dot;

  for (gsize i = 0; i < len; i += strlen (args + i) + 1)
    g_ptr_array_add (argv, (gpointer) (args + i));
  if (argv->len == 0)
    return g_strdup ("mproc");

  base = g_path_get_basename (argv->pdata[0]);
  if (!is_interpreter (base))
    return g_steal_pointer (&base);

  for (guint i = 1; i < argv->len && chosen == NULL; i++)
    {
      const char *arg = argv->pdata[i];

      if (g_str_equal (arg, "-m") && i + 1 < argv->len)
        chosen = argv->pdata[i + 1];
      /* options whose value is the next argument, not the program */
      else if (g_str_equal (arg, "-c") || g_str_equal (arg, "-W") || g_str_equal (arg, "-X"))
        i++;
      else if (arg[0] != '-' && arg[0] != '\0')
        chosen = arg;
    }
  if (chosen == NULL)
    return g_steal_pointer (&base);
  g_free (base);
  base = g_path_get_basename (chosen);
  dot = strrchr (base, '.');
  if (dot != NULL && dot != base)
    *dot = '\0';
  return g_steal_pointer (&base);
}

/* Fields 48 and 49 of /proc/self/stat: where the arguments lie. */
static gboolean
get_arg_area (char **start,
              char **end)
{
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after_comm;

  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL))
    return FALSE;
  /* comm may hold spaces and parentheses: skip to the last ')' */
  after_comm = strrchr (stat, ')');
  if (after_comm == NULL || after_comm[1] != ' ')
    return FALSE;
  fields = g_strsplit (after_comm + 2, " ", -1);
  /* fields[0] is field 3 */
  if (g_strv_length (fields) < 47)
    return FALSE;
  *start = (char *) (guintptr) g_ascii_strtoull (fields[45], NULL, 10);
  *end = (char *) (guintptr) g_ascii_strtoull (fields[46], NULL, 10);
  return *start != NULL && *end > *start;
}

static void
set_cmdline (char       *start,
             char       *end,
             const char *name)
{
  g_autofree char *title = NULL;
  const char *space;
  gsize room, len;

  if (title_program == NULL)
    {
      title_program = program_from_cmdline (start, end - start);
      title_room = end - start;
      space = g_getenv (TITLE_SPACE_ENV);
      if (space != NULL && space - strlen (TITLE_SPACE_ENV "=") == end)
        {
          /* out of the environment before its memory is reused */
          title_room += strlen (TITLE_SPACE_ENV "=") + strlen (space);
          unsetenv (TITLE_SPACE_ENV);
        }
    }
  room = title_room;

  title = g_strdup_printf ("%s: %s", title_program, name);
  len = MIN (strlen (title), room - 1);
  memcpy (start, title, len);
  /* the rest reads as empty arguments; past the original end, the kernel
   * shows up to the first NUL */
  memset (start + len, '\0', room - len);
}

void
mproc_title_set (const char *name)
{
  char *start, *end;

  if (get_arg_area (&start, &end))
    set_cmdline (start, end, name);
  /* comm: 15 bytes, what top shows; last, so that once it is set both are */
  prctl (PR_SET_NAME, name, 0, 0, 0);
}

char **
mproc_title_environ_add_space (char **envp)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  char **ret;

  /* first, so that it lies right after the arguments */
  g_strv_builder_add (builder, TITLE_SPACE_ENV "=" "................................................");
  for (guint i = 0; envp[i] != NULL; i++)
    if (!g_str_has_prefix (envp[i], TITLE_SPACE_ENV "="))
      g_strv_builder_add (builder, envp[i]);
  ret = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  g_strfreev (envp);
  return ret;
}
