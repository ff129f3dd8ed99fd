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
    # A child started late on a loaded machine (a spawned interpreter can
    # take seconds) begins its 2 s wait late, and may rightly see the event
    # set: what it prints follows from when it started, not from the clock.
    started = at.get('wait_for_event_timeout: starting', 0.0)
    set_at = at.get('main: event is set', 3.0)
    late = started + 2.0 > set_at - 0.2
    timeout_lines = {'wait_for_event_timeout: e.is_set()-> False'}
    if late:
        timeout_lines.add('wait_for_event_timeout: e.is_set()-> True')
    expected = EXPECTED - {'wait_for_event_timeout: e.is_set()-> False'}
    check(method, len(lines) == 6 and expected <= set(lines) and
          len(set(lines) & timeout_lines) == 1, 'unexpected lines', lines)
    timeout_line = (set(lines) & timeout_lines).pop()
    pos = {line: i for i, line in enumerate(lines)}
    if timeout_line.endswith('False'):
        check(method, pos[timeout_line] < pos['main: event is set'] or at[timeout_line] < set_at + 0.1,
              'the timed-out wait did not return before the event was set', lines)
        check(method, at[timeout_line] < started + 2.0 + 0.9,
              'the timed-out wait returned late', lines)
    # The waker prints its line after set(); the woken process may print
    # first (it is woken within microseconds), so the "after" is checked on
    # the clock: the True line comes only once main has slept its 3 s.
    check(method, at['wait_for_event: e.is_set()-> True'] >= 2.9 and
          abs(at['wait_for_event: e.is_set()-> True'] - set_at) < 0.5,
          'the blocking wait did not return when the event was set', lines)
    for who, line in (('wait_for_event', 'wait_for_event: e.is_set()-> True'),
                      ('wait_for_event_timeout', timeout_line)):
        check(method, pos[f'{who}: starting'] < pos[line], f'{who}: lines out of order', lines)
    check(method, 2.9 <= elapsed < 15, f'took {elapsed:.1f} s, expected about 3 s')


main(check_one)
