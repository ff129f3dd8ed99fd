/* fuzz-ring.c: ring records as a hostile sharer writes them
 *
 * A ring is attached; one record is put the ordinary way (so that the
 * positions say "data"), then the data area is overwritten with the input,
 * record headers included, and the consumer reads until the ring is empty
 * or refuses.  Calls mproc_ring_shm_size(), mproc_ring_init_shared(),
 * mproc_ring_new(), mproc_ring_put(), mproc_ring_get(), mproc_ring_free().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gio/gio.h>

#include <mproc.h>

#include "mproc-error.h"
#include "mproc-ring-private.h"
#include "mproc-shm-private.h"
#include "fuzz-target.h"

#define CAPACITY 4096

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* a streamed message announced up to the default 1 GiB is allocated,
   * and under ASan filled: slow, and not what this target looks for */
  mproc_set_max_message_size (1024 * 1024);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) record = NULL;
  MprocShm *shm;
  MprocRing *ring;
  guint8 *area;
  gsize n = MIN (size, CAPACITY);
  int efd;

  shm = mproc_shm_new (mproc_ring_shm_size (CAPACITY), "fuzz-ring", &error);
  g_assert_no_error (error);
  mproc_ring_init_shared (shm, 0, CAPACITY, 0, 0);
  efd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  ring = mproc_ring_new (shm, 0, efd, &error);
  close (efd);
  g_assert_no_error (error);

  /* one record as long as the input, then its bytes replaced */
  record = g_bytes_new_take (g_malloc0 (MAX (n, 16) - 8), MAX (n, 16) - 8);
  g_assert_true (mproc_ring_put (ring, NULL, record, -1, NULL, 0, 0, NULL, &error));
  area = (guint8 *) mproc_shm_get_data (shm) + mproc_ring_shm_size (CAPACITY) - CAPACITY;
  memcpy (area, data, n);

  for (guint i = 0; i < 8; i++)
    {
      g_autoptr(GBytes) got = NULL;

      g_clear_error (&error);
      got = mproc_ring_get (ring, -1, NULL, 0, NULL, &error);
      if (got == NULL)
        {
          g_assert_nonnull (error);
          break;
        }
    }
  mproc_ring_free (ring);
  mproc_shm_unref (shm);
  return 0;
}
