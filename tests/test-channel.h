/* test-channel.h: a socket-backed shared object, for the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <mproc.h>

G_BEGIN_DECLS

#define TEST_TYPE_CHANNEL (test_channel_get_type ())
G_DECLARE_FINAL_TYPE (TestChannel, test_channel, TEST, CHANNEL, GObject)

void      test_channel_new_pair (TestChannel **a,
                                 TestChannel **b);
gboolean  test_channel_send     (TestChannel  *self,
                                 GVariant     *value,
                                 GError      **error);
GVariant *test_channel_recv     (TestChannel  *self,
                                 gint64        timeout_usec,
                                 GError      **error);
int       test_channel_get_fd   (TestChannel  *self);

G_END_DECLS
