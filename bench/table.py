#!/usr/bin/python3
"""Prints bench/run's tables from JSON-lines files: ours, Python, raw, and
with --peers the peers a user would pick instead (../shared/anchors/peers_*),
whose lines are named peer_<system>_<metric>; with --via, Python's own
workloads run through the Mproc override (bench/py_ours.py).  The scale_* series
("<series>@<x>") go into tables of their own and, with --charts DIR, into one
SVG chart per series (bench/charts.py)."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import charts  # noqa: E402

LOWER_IS_BETTER = {'ns', 'us', 'ms'}

# Whose raw figure stands for a metric (anchors' README): a simple queue is
# compared with the plain ring, the pickled round trip with the plain one.
RAW_NAME = {
    'simplequeue_small_int': 'raw_queue_small_int',
    'queue_small_int_typed': 'raw_queue_small_int',
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
    'queue_small_int_typed': 'queue_small_int',
    'dbus_submit_rtt': 'pool_apply_async_rtt',
    'dbus_local_apply_rtt': 'pool_apply_async_rtt',
    'dbus_map_tiny_av': 'pool_map_tiny',
    'dbus_map_tiny_array': 'pool_map_tiny',
    'dbus_map_tiny_fd': 'pool_map_tiny',
    'dbus_map_tiny_into': 'pool_map_tiny',
    # one update of 10 000 pairs beside Python's remote manager's single sets
    'redis_dict_update_10k': 'redis_dict_set',
}

# The peers' workload names (anchors' README: "after bench/run's raw
# mapping"): a simple queue against the peers' queues, the pickled round
# trip against theirs.
PEER_NAME = {
    'simplequeue_small_int': 'queue_small_int',
    'simplequeue_small_bytes64': 'queue_small_bytes64',
    'pipe_rtt_64_obj': 'pipe_rtt_64',
}

# Where a peer wins a row (ours/best peer below 1) for a reason of design,
# the note printed under the table.
PEER_NOTES = {}

# Scaling series: title, x axis, y axis (log).
SERIES = {
    'scale_queue_size': ('Queue throughput against message size', 'message size (bytes)'),
    'scale_queue_pc': ('Queue throughput against producers × consumers', 'producers × consumers'),
    'scale_pool_map_items': ('Pool map (default chunksize) against item count', 'items'),
    'scale_pool_map_chunksize': ('Pool map of 20 000 items against chunksize', 'chunksize'),
    'scale_manager_clients': ('Manager dict sets against the number of clients', 'clients'),
    'scale_process_burst': ('Process start (fork) against processes started at once', 'processes'),
}


def load(path):
    rows = {}
    if path is None:
        return rows
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


def better(unit, ours, other):
    """How many times better ours is than other (above 1: ours wins)."""
    return ratio(other, ours) if unit in LOWER_IS_BETTER else ratio(ours, other)


def best_peer(peers, name, unit):
    """(system, value) of the best peer line named peer_<system>_<name>."""
    best = None
    for metric, rec in peers.items():
        if not (metric.startswith('peer_') and metric.endswith('_' + name)):
            continue
        system = metric[len('peer_'):-len('_' + name)]
        if not system:
            continue
        v = rec['value']
        if best is None or (v < best[1] if unit in LOWER_IS_BETTER else v > best[1]):
            best = (system, v)
    return best or (None, None)


def print_table(header, rows):
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    print('| ' + ' | '.join(h.ljust(w) for h, w in zip(header, widths)) + ' |')
    print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for row in rows:
        print('| ' + ' | '.join(str(c).ljust(w) for c, w in zip(row, widths)) + ' |')


# A row is a dict of what is known about one metric; the columns of the main
# table are (header, function of the row) so that one more is one more entry.
def row_of(metric, rec, py, raw, peers, via):
    unit = rec['unit']
    system, peer = best_peer(peers, PEER_NAME.get(metric, PY_NAME.get(metric, metric)), unit)
    return {
        'metric': metric, 'unit': unit, 'ours': rec['value'],
        'py': py.get(PY_NAME.get(metric, metric), {}).get('value'),
        # py_ours.py runs Python's workload of the row under Python's name
        'via': via.get(PY_NAME.get(metric, metric), {}).get('value'),
        'raw': raw.get(RAW_NAME.get(metric, 'raw_' + metric), {}).get('value'),
        'peer_system': system, 'peer': peer,
    }


def times(x):
    return '-' if x is None else f'{x:.3g}x'


MAIN_COLUMNS = [
    ('metric', lambda r: r['metric']),
    ('unit', lambda r: r['unit']),
    ('ours', lambda r: fmt(r['ours'])),
    ('Python', lambda r: fmt(r['py'])),
    ('raw', lambda r: fmt(r['raw'])),
    ('best peer', lambda r: r['peer_system'] or '-'),
    ('peer', lambda r: fmt(r['peer'])),
    ('ours/Python', lambda r: fmt(ratio(r['ours'], r['py']))),
    ('ours/raw', lambda r: fmt(ratio(r['ours'], r['raw']))),
    ('vs Python', lambda r: times(better(r['unit'], r['ours'], r['py'])) + ' better'
     if r['py'] is not None else '-'),
    ('vs best peer', lambda r: times(better(r['unit'], r['ours'], r['peer']))),
]

# Added when --via is given: the same workload as Python's, through the
# override, and how it compares with Python's multiprocessing.
VIA_COLUMNS = [
    ('ours via Python', lambda r: fmt(r['via'])),
    ('via vs Python', lambda r: times(better(r['unit'], r['via'], r['py']))
     if r['via'] is not None else '-'),
]


def main_table(ours, py, raw, peers, via=None):
    rows = [row_of(m, rec, py, raw, peers, via or {}) for m, rec in ours.items() if '@' not in m]
    if not rows:
        return
    columns = MAIN_COLUMNS + (VIA_COLUMNS if via is not None else [])
    print_table(tuple(h for h, _ in columns), [tuple(f(r) for _, f in columns) for r in rows])
    print()
    print('Medians of the repetitions; ours/Python and ours/raw are value ratios '
          '(for ms/us/ns lower is better, for rates higher is better); "vs" columns say '
          'how many times better ours is (below 1x the other wins).')
    for metric, py_metric in PY_NAME.items():
        if metric in ours:
            print(f'{metric}: its Python column is {py_metric}.')
    for r in rows:
        b = better(r['unit'], r['ours'], r['peer'])
        if b is not None and b < 1:
            print(f"{r['metric']}: {r['peer_system']} wins ({b:.3g}x). "
                  + PEER_NOTES.get(r['metric'], ''))


def scale_data(ours, py, peers):
    """{series: {'x': [..], 'ours': {x: v}, 'Python': {...}, <system>: {...}}, units}"""
    data = {}
    for source, recs in (('ours', ours), ('Python', py), (None, peers)):
        for metric, rec in recs.items():
            if '@' not in metric:
                continue
            name, x = metric.split('@', 1)
            who = source
            if who is None:
                if not name.startswith('peer_'):
                    continue
                who, _, name = name[len('peer_'):].partition('_scale_')
                name = 'scale_' + name
            if name not in SERIES:
                continue
            s = data.setdefault(name, {'x': [], 'unit': rec['unit'], 'lines': {}})
            if x not in s['x']:
                s['x'].append(x)
            s['lines'].setdefault(who, {})[x] = rec['value']
    return data


def x_label(series, x):
    if series == 'scale_queue_size':
        n = int(x)
        for unit, size in (('MiB', 1 << 20), ('KiB', 1 << 10)):
            if n >= size:
                return f'{n // size} {unit}'
        return f'{n} B'
    if series == 'scale_queue_pc':
        return x.replace('x', '×')
    n = int(x)
    return f'10^{len(x) - 1}' if x.startswith('1') and set(x[1:]) <= {'0'} and n >= 1000 else x


def scale_tables(data, chart_dir):
    for series, s in data.items():
        title, xname = SERIES[series]
        lines = s['lines']
        unit = s['unit']
        peers = [w for w in lines if w not in ('ours', 'Python')]
        print()
        print(f'{series} — {title} ({unit})')
        header = [xname, 'ours', 'Python'] + peers + ['vs Python', 'vs best peer']
        rows = []
        for x in s['x']:
            o = lines.get('ours', {}).get(x)
            p = lines.get('Python', {}).get(x)
            pv = [lines[w].get(x) for w in peers]
            known = [v for v in pv if v is not None]
            best = (min(known) if unit in LOWER_IS_BETTER else max(known)) if known else None
            rows.append([x_label(series, x), fmt(o), fmt(p)] + [fmt(v) for v in pv]
                        + [times(better(unit, o, p)) if o is not None else '-',
                           times(better(unit, o, best)) if o is not None else '-'])
        print_table(header, rows)
        if chart_dir:
            order = ['ours', 'Python'] + peers
            path = os.path.join(chart_dir, f'perf-{series.replace("_", "-")}.svg')
            charts.line_chart(path, title, xname, unit + (', lower is better' if unit in LOWER_IS_BETTER else ''),
                              [x_label(series, x) for x in s['x']],
                              [(w if w in ('ours', 'Python') else f'{w} (peer)',
                                [lines[w].get(x) for x in s['x']]) for w in order])
            print(f'chart: {path}')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    ap.add_argument('ours')
    ap.add_argument('python')
    ap.add_argument('raw')
    ap.add_argument('--peers', help='JSON lines of peers_py.py, peers_c and bench/scale.py peers')
    ap.add_argument('--charts', metavar='DIR', help='write one SVG chart per scale_* series here')
    ap.add_argument('--via', help="JSON lines of bench/py_ours.py (Python's workloads through the override)")
    args = ap.parse_args()
    ours, py, raw, peers = load(args.ours), load(args.python), load(args.raw), load(args.peers)
    main_table(ours, py, raw, peers, None if args.via is None else load(args.via))
    scale_tables(scale_data(ours, py, peers), args.charts)


if __name__ == '__main__':
    main()
