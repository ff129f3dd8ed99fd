/* fuzz-replay.c: the main() of a fuzz target built without libFuzzer:
 * feeds it every file of the corpus directories named on the command line,
 * so that the corpus runs as an ordinary test under any compiler.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdio.h>

#include <glib.h>

#include "fuzz-target.h"

int
main (int argc, char *argv[])
{
  guint n = 0;

  LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GDir) dir = NULL;
      g_autoptr(GError) error = NULL;
      const char *name;

      dir = g_dir_open (argv[i], 0, &error);
      if (dir == NULL)
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (argv[i], name, NULL);
          g_autofree char *contents = NULL;
          gsize size;

          if (!g_file_get_contents (path, &contents, &size, &error))
            {
              fprintf (stderr, "%s\n", error->message);
              return 1;
            }
          LLVMFuzzerTestOneInput ((const uint8_t *) contents, size);
          n++;
        }
    }
  printf ("1..1\nok 1 - %u inputs replayed\n", n);
  return 0;
}
