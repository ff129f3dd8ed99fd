#!/usr/bin/python3
# Checks examples/event (scenarios.md §3 and §12): False before the event is
# set, True after; a timed-out wait is not an error.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sync_check_common import check, main, run_timed  # noqa: E402

EXPECTED = {
    'main: waiting before calling Event.set()',
    'wait_for_event: starting',
    'wait_for_event_timeout: starting',
    'wait_for_event_timeout: e.is_set()-> False',
    'main: event is set',
    'wait_for_event: e.is_set()-> True',
}


def check_one(program, method):
    timed, elapsed = run_timed(program, method)
    lines = [line for _, line in timed]
    at = {line: t for t, line in timed}
    check(method, len(lines) == 6 and set(lines) == EXPECTED, 'unexpected lines', lines)
    pos = {line: i for i, line in enumerate(lines)}
    check(method, pos['wait_for_event_timeout: e.is_set()-> False'] < pos['main: event is set'],
          'the timed-out wait did not return before the event was set', lines)
    # The waker prints its line after set(); the woken process may print
    # first (it is woken within microseconds), so the "after" is checked on
    # the clock: the True line comes only once main has slept its 3 s.
    set_at = at['main: event is set']
    check(method, at['wait_for_event: e.is_set()-> True'] >= 2.9 and
          abs(at['wait_for_event: e.is_set()-> True'] - set_at) < 0.5,
          'the blocking wait did not return when the event was set', lines)
    check(method, at['wait_for_event_timeout: e.is_set()-> False'] < 2.9,
          'the timed-out wait returned late', lines)
    for who in ('wait_for_event', 'wait_for_event_timeout'):
        check(method, pos[f'{who}: starting'] < pos[f'{who}: e.is_set()-> ' +
                                                     ('True' if who == 'wait_for_event' else 'False')],
              f'{who}: lines out of order', lines)
    check(method, 2.9 <= elapsed < 15, f'took {elapsed:.1f} s, expected about 3 s')


main(check_one)
