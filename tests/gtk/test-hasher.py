#!/usr/bin/python3
# Runs the GTK 4 hasher (examples/gtk/: C, and the PyGObject and GJS
# versions when given) under Xvfb and drives it through its options: a full
# run, a cancel followed by a restart, and a window closed mid-work.  The
# rows it exports are checked against hashlib, its crashing file must be an
# error row while the other files go on, and no process of the application
# may be left behind.  With --screenshots DIR, the window of each run is
# saved there (docs/reference/*.png come from here).
#
# Usage: test-hasher.py [--screenshots DIR] NAME=COMMAND... (COMMAND is split
# on spaces, e.g. "c=/build/hasher" "python=/usr/bin/python3 hasher.py").
# Exits 77 when Xvfb is missing.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

tests_run = 0
failed = 0


def tap(ok, name, diag=None):
    global tests_run, failed
    tests_run += 1
    if not ok:
        failed += 1
    print(f'{"ok" if ok else "not ok"} {tests_run} - {name}', flush=True)
    if diag and not ok:
        for line in str(diag).splitlines():
            print(f'# {line}', flush=True)


def start_xvfb():
    """Starts Xvfb on a free display, returns (process, display)."""
    r, w = os.pipe()
    proc = subprocess.Popen(['Xvfb', '-displayfd', str(w), '-screen', '0', '1024x768x24',
                             '-nolisten', 'tcp', '-noreset'],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        display = f.readline().strip()
    if not display:
        proc.kill()
        proc.wait()
        raise RuntimeError('Xvfb did not start')
    return proc, ':' + display


def start_bus():
    """A private session bus: GtkApplication registers on one."""
    proc = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--print-address=1'],
                            stdout=subprocess.PIPE, text=True)
    address = proc.stdout.readline().strip()
    return proc, address


def session_processes(sid):
    """Pids of live processes in session @sid (the app and all it started)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(')') + 2:].split()
        # fields[0] is the state, [3] the session id
        if int(fields[3]) == sid and fields[0] != 'Z':
            pids.append(int(entry))
    return pids


def make_folder(root):
    """Files to hash: random sizes, one that crashes its worker, one the
    worker cannot read (when not root: root reads anything)."""
    folder = os.path.join(root, 'photos')
    os.mkdir(folder)
    expected = {}
    for i in range(18):
        data = os.urandom(1000 + i * 37_000)
        name = f'file-{i:02d}.bin'
        with open(os.path.join(folder, name), 'wb') as f:
            f.write(data)
        expected[name] = (hashlib.sha256(data).hexdigest(), len(data))
    with open(os.path.join(folder, 'crash-me.bin'), 'wb') as f:
        f.write(b'boom')
    unreadable = None
    if os.geteuid() != 0:
        unreadable = 'secret.bin'
        path = os.path.join(folder, unreadable)
        with open(path, 'wb') as f:
            f.write(b'secret')
        os.chmod(path, 0)
    os.mkdir(os.path.join(folder, 'a-subfolder'))   # not a file: skipped
    return folder, expected, unreadable


def read_export(path):
    """The blocks of rows the application exported, one per run."""
    blocks = []
    rows = []
    with open(path) as f:
        for line in f:
            fields = line.rstrip('\n').split('\t')
            if fields[0] == 'state':
                blocks.append({'rows': rows, 'state': fields[1],
                               'n_done': int(fields[2]), 'n_total': int(fields[3])})
                rows = []
            else:
                rows.append(fields)
    return blocks


def check_rows(label, block, expected, unreadable, complete):
    ok_rows = {r[1]: (r[2], int(r[3])) for r in block['rows'] if r[0] == 'ok'}
    error_rows = {r[1]: r[2] for r in block['rows'] if r[0] == 'error'}
    bad = {n: v for n, v in ok_rows.items() if expected.get(n) != v}
    tap(not bad, f'{label}: every hash row matches hashlib', bad)
    tap(len(block['rows']) == len(ok_rows) + len(error_rows),
        f'{label}: rows are "ok" or "error"', block['rows'])
    if complete:
        n_files = len(expected) + 1 + (1 if unreadable else 0)
        tap(block['state'] == 'done' and block['n_done'] == block['n_total'] == n_files,
            f'{label}: the run finished with all {n_files} files', block)
        tap(set(ok_rows) == set(expected), f'{label}: a row per readable file',
            set(expected) ^ set(ok_rows))
        msg = error_rows.get('crash-me.bin', '')
        tap('crash-me.bin' not in ok_rows and ('died' in msg or 'signal' in msg),
            f'{label}: the crashing file is an error row (the worker died)', error_rows)
        if unreadable:
            tap(unreadable in error_rows, f'{label}: the unreadable file is an error row', error_rows)


def run_app(command, args, env, timeout=120):
    """Runs the app in a session of its own; returns (rc, elapsed, output,
    pids left in its session)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(command + args, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, time.monotonic() - t0, out, []
    elapsed = time.monotonic() - t0
    # the workers and servers exit on their own once the app is gone;
    # give them a moment, then look for stragglers
    left = session_processes(proc.pid)
    deadline = time.monotonic() + 3
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = session_processes(proc.pid)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.returncode, elapsed, out, left


def test_app(name, command, env, root, screenshots):
    folder, expected, unreadable = make_folder(os.path.join(root, name))
    export = os.path.join(root, name, 'export.tsv')
    png = os.path.join(root, name, 'done.png')

    # 1. a full run, with its screenshot
    rc, elapsed, out, left = run_app(command, ['--workers=2', f'--export={export}',
                                               f'--screenshot={png}', '--quit', folder], env)
    tap(rc == 0, f'{name}: full run exits 0 ({elapsed:.1f} s)', out)
    tap(not left, f'{name}: full run leaves no process', left)
    blocks = read_export(export) if os.path.exists(export) else []
    tap(len(blocks) == 1, f'{name}: full run exported one block', out)
    if blocks:
        check_rows(f'{name} full run', blocks[0], expected, unreadable, complete=True)
    header = b''
    if os.path.exists(png):
        with open(png, 'rb') as f:
            header = f.read(24)
    width = int.from_bytes(header[16:20], 'big') if len(header) == 24 else 0
    tap(header[:8] == b'\x89PNG\r\n\x1a\n' and width >= 400,
        f'{name}: screenshot is a PNG ({width} px wide)', out)
    if screenshots and os.path.exists(png):
        shutil.copy(png, os.path.join(screenshots, f'hasher-{name}.png'))

    # 2. cancel after 3 files, then start again and finish
    os.unlink(export)
    cancelled_png = os.path.join(root, name, 'cancelled.png')
    rc, elapsed, out, left = run_app(command, ['--workers=2', '--delay-ms=150', '--cancel-after=3',
                                               '--restart', f'--export={export}',
                                               f'--screenshot={cancelled_png}', '--quit', folder], env)
    tap(rc == 0, f'{name}: cancel and restart exits 0 ({elapsed:.1f} s)', out)
    tap(not left, f'{name}: cancel and restart leaves no process', left)
    blocks = read_export(export) if os.path.exists(export) else []
    tap(len(blocks) == 2, f'{name}: cancel and restart exported two blocks', blocks)
    if len(blocks) == 2:
        first = blocks[0]
        tap(first['state'] == 'cancelled' and 3 <= first['n_done'] < first['n_total'],
            f'{name}: the first run was cancelled after 3 of {first["n_total"]} files', first)
        check_rows(f'{name} cancelled run', first, expected, unreadable, complete=False)
        check_rows(f'{name} restarted run', blocks[1], expected, unreadable, complete=True)

    # 3. the window closed while files are being hashed
    rc, elapsed, out, left = run_app(command, ['--workers=2', '--delay-ms=400', '--close-after=2',
                                               folder], env, timeout=60)
    tap(rc == 0 and elapsed < 30, f'{name}: closing mid-work exits 0 at once ({elapsed:.1f} s)', out)
    tap(not left, f'{name}: closing mid-work leaves no process', left)


def main():
    args = sys.argv[1:]
    screenshots = None
    if args[:1] == ['--screenshots']:
        screenshots = args[1]
        args = args[2:]
        os.makedirs(screenshots, exist_ok=True)
    apps = [a.split('=', 1) for a in args]

    if not apps:
        print('1..0 # SKIP GTK 4 not found')
        return 77
    if shutil.which('Xvfb') is None or shutil.which('dbus-daemon') is None:
        print('1..0 # SKIP Xvfb or dbus-daemon missing')
        return 77

    xvfb, display = start_xvfb()
    bus, address = start_bus()
    try:
        env = dict(os.environ)
        env.update({
            'DISPLAY': display,
            'GDK_BACKEND': 'x11',
            'DBUS_SESSION_BUS_ADDRESS': address,
            'GTK_A11Y': 'none',
            'NO_AT_BRIDGE': '1',
            'GSK_RENDERER': 'cairo',     # no GL in Xvfb; the same pixels
            'GSETTINGS_BACKEND': 'memory',
        })
        env.pop('WAYLAND_DISPLAY', None)
        # criticals of GTK itself (theme parsing under Xvfb) are not ours
        env['G_DEBUG'] = 'gc-friendly'
        with tempfile.TemporaryDirectory(prefix='mproc-hasher-') as root:
            for name, command in apps:
                os.mkdir(os.path.join(root, name))
                test_app(name, command.split(' '), env, root, screenshots)
    finally:
        for proc in (bus, xvfb):
            proc.terminate()
            proc.wait()
    print(f'1..{tests_run}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
