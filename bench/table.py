#!/usr/bin/python3
"""Prints bench/run's table from three JSON-lines files: ours, Python, raw."""

import json
import sys

LOWER_IS_BETTER = {'ns', 'us', 'ms'}

# Whose raw figure stands for a metric (anchors' README): a simple queue is
# compared with the plain ring, the pickled round trip with the plain one.
RAW_NAME = {
    'simplequeue_small_int': 'raw_queue_small_int',
    'simplequeue_small_bytes64': 'raw_queue_small_bytes64',
    'pipe_rtt_64_obj': 'raw_pipe_rtt_64',
    'lock_uncontended': 'raw_lock_uncontended_robust',
    'lock_contended': 'raw_lock_contended_robust',
}

# Whose Python figure stands for a metric, when it is not the same name: a
# batched update of 10 000 pairs is compared with 10 000 single sets (#6's
# target), both in ops/s; the D-Bus service rows are set beside Python's
# local pool (#9).
PY_NAME = {
    'manager_dict_update_10k': 'manager_dict_set',
    'dbus_submit_rtt': 'pool_apply_async_rtt',
    'dbus_local_apply_rtt': 'pool_apply_async_rtt',
    'dbus_map_tiny_av': 'pool_map_tiny',
    'dbus_map_tiny_array': 'pool_map_tiny',
    'dbus_map_tiny_fd': 'pool_map_tiny',
    'dbus_map_tiny_into': 'pool_map_tiny',
}


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith('{'):
                rec = json.loads(line)
                rows.setdefault(rec['metric'], rec)   # first run of a metric wins
    return rows


def fmt(x):
    if x is None:
        return '-'
    if abs(x) >= 1e6:
        return f'{x / 1e6:.3g} M'
    if abs(x) >= 1e4:
        return f'{x / 1e3:.3g} k'
    return f'{x:.3g}'


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def main():
    ours, py, raw = (load(p) for p in sys.argv[1:4])
    # the fourth file, if any: Python's workloads through the Mproc override
    via = load(sys.argv[4]) if len(sys.argv) > 4 else None
    header = ('metric', 'unit', 'ours', 'Python', 'raw', 'ours/Python', 'ours/raw', 'vs Python')
    header += ('ours via Python',) if via is not None else ()
    rows = []
    for metric, rec in ours.items():
        o = rec['value']
        p = py.get(PY_NAME.get(metric, metric), {}).get('value')
        r = raw.get(RAW_NAME.get(metric, 'raw_' + metric), {}).get('value')
        better = ratio(p, o) if rec['unit'] in LOWER_IS_BETTER else ratio(o, p)
        rows.append((metric, rec['unit'], fmt(o), fmt(p), fmt(r),
                     fmt(ratio(o, p)), fmt(ratio(o, r)),
                     '-' if better is None else f'{better:.3g}x better')
                    + ((fmt(via.get(PY_NAME.get(metric, metric), {}).get('value')),)
                       if via is not None else ()))
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    print('| ' + ' | '.join(h.ljust(w) for h, w in zip(header, widths)) + ' |')
    print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for row in rows:
        print('| ' + ' | '.join(str(c).ljust(w) for c, w in zip(row, widths)) + ' |')
    print()
    print('Medians of the repetitions; ours/Python and ours/raw are value ratios '
          '(for ms/us/ns lower is better, for rates higher is better).')
    for metric, py_metric in PY_NAME.items():
        if metric in ours:
            print(f'{metric}: its Python column is {py_metric}.')


if __name__ == '__main__':
    main()
