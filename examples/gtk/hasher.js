#!/usr/bin/env gjs
// hasher.js: hasher.c in GJS — a GTK 4 application that hashes the files of
// a folder on a pool of worker processes
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The workers append one row per file to an Mproc.List held by a manager's
// server; the window's Gtk.ListView is bound to that list (a Gio.ListModel).
// A file whose name contains "crash-me" kills its worker: the pool replaces
// the worker and the file becomes an error row.  Under gjs the default start
// method is spawn: each worker is a fresh gjs that runs this script up to
// Mproc.init(), which then serves tasks.  Options: see hasher.c.

imports.gi.versions.Mproc = '1';
imports.gi.versions.Gtk = '4.0';
const {GLib, Gio, Mproc} = imports.gi;

const ROW_TYPE = '(sssx)';   // status ("ok" or "error"), file name, SHA-256 or message, size

// ---- worker side: runs in the pool's processes ----------------------------

let workerManager = null;
const workerLists = new Map();

// The pool's initializer: connect to the application's manager.
function hasherInit(arg) {
    const [address] = arg.deepUnpack();
    workerManager = Mproc.Manager.connect(address, null);
    return new GLib.Variant('()', []);
}

// One file: hash it, append its row to the run's list, return the digest.
function hasherHash(arg) {
    const [listName, path, delayMs] = arg.deepUnpack();
    const name = GLib.path_get_basename(path);
    if (name.includes('crash-me')) {
        // a deliberate crash: the worker dies by a signal
        const pid = new Gio.Credentials().get_unix_pid();
        GLib.spawn_command_line_sync(`kill -KILL ${pid}`);
    }
    if (delayMs > 0)
        GLib.usleep(delayMs * 1000);
    const [, contents] = Gio.File.new_for_path(path).load_contents(null);   // throws a GLib.Error
    const digest = GLib.compute_checksum_for_bytes(GLib.ChecksumType.SHA256, contents);
    let list = workerLists.get(listName);
    if (list === undefined) {
        list = Mproc.List.new(workerManager, listName, null);
        workerLists.set(listName, list);
    }
    list.append(new GLib.Variant(ROW_TYPE, ['ok', name, digest, contents.length]), null);
    return new GLib.Variant('s', digest);
}

// Before Mproc.init(): a worker runs this script up to there.
Mproc.register_task('hasher-init', hasherInit);
Mproc.register_task('hasher-hash', hasherHash);
Mproc.init(null);

const {Gtk, Graphene} = imports.gi;   // the workers need no GTK

// ---- application side -----------------------------------------------------

const opts = {
    'export': null, 'screenshot': null, 'cancel-after': 0, 'restart': false,
    'close-after': 0, 'quit': false, 'delay-ms': 0, 'workers': 0,
};

const app = new Gtk.Application({
    application_id: 'org.gnome.Mproc.Example.Hasher',
    flags: Gio.ApplicationFlags.HANDLES_OPEN | Gio.ApplicationFlags.NON_UNIQUE,
});
for (const [name, arg, text] of [
    ['export', GLib.OptionArg.STRING, 'Write the rows to FILE when the run ends'],
    ['screenshot', GLib.OptionArg.STRING, 'Save the window as a PNG when the run ends'],
    ['cancel-after', GLib.OptionArg.INT, 'Press Cancel after N files'],
    ['restart', GLib.OptionArg.NONE, 'Start again after a cancel'],
    ['close-after', GLib.OptionArg.INT, 'Close the window after N files'],
    ['quit', GLib.OptionArg.NONE, 'Quit when the run ends'],
    ['delay-ms', GLib.OptionArg.INT, 'Let each task sleep MS first'],
    ['workers', GLib.OptionArg.INT, 'Number of worker processes'],
])
    app.add_main_option(name, 0, GLib.OptionFlags.NONE, arg, text, null);

const state = {
    window: null, progress: null, status: null, view: null,
    manager: null, pool: null,
    list: null, iter: null, cancellable: null, folder: null, names: [],
    run: 0, nTotal: 0, nDone: 0, nFailed: 0,
    cancelled: false, running: false, reported: false, restarted: false,
};

app.connect('handle-local-options', (_app, options) => {
    for (const key of Object.keys(opts)) {
        const value = options.lookup_value(key, null);
        if (value !== null)
            opts[key] = value.unpack();
    }
    return -1;
});

function setEnabled(name, enabled) {
    app.lookup_action(name).set_enabled(enabled);
}

function updateProgress() {
    state.progress.set_fraction(state.nTotal > 0 ? state.nDone / state.nTotal : 0);
    state.progress.set_text(`${state.nDone} / ${state.nTotal}`);
}

function exportResults() {
    let out = '';
    for (let i = 0; i < state.list.get_n_items(); i++) {
        const [status, name, text, size] = state.list.get_item(i).get_value().deepUnpack();
        out += `${status}\t${name}\t${text}\t${size}\n`;
    }
    out += `state\t${state.cancelled ? 'cancelled' : 'done'}\t${state.nDone}\t${state.nTotal}\n`;
    const stream = Gio.File.new_for_path(opts['export']).append_to(Gio.FileCreateFlags.NONE, null);
    stream.write_all(new TextEncoder().encode(out), null);
    stream.close(null);
}

function takeScreenshot() {
    const width = state.window.get_width();
    const height = state.window.get_height();
    const snapshot = new Gtk.Snapshot();
    Gtk.WidgetPaintable.new(state.window).snapshot(snapshot, width, height);
    const node = snapshot.to_node();
    if (node === null)
        return;
    const rect = new Graphene.Rect().init(0, 0, width, height);
    const texture = state.window.get_native().get_renderer().render_texture(node, rect);
    texture.save_to_png(opts['screenshot']);
}

function finishScripted() {
    if (opts['screenshot'])
        takeScreenshot();
    if (opts['export'])
        exportResults();
    if (opts['quit'])
        app.quit();
    return GLib.SOURCE_REMOVE;
}

// Workers append their rows through the manager: a finished run is complete
// once the list has a row per file (or at once when it was cancelled).
function maybeFinishScripted() {
    if (state.running || state.list === null || state.reported)
        return;
    if (!state.cancelled && state.list.get_n_items() < state.nTotal)
        return;
    state.reported = true;
    if (state.cancelled && opts['restart'] && !state.restarted) {
        if (opts['export'])
            exportResults();
        state.restarted = true;
        start(state.folder);
        return;
    }
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 300, finishScripted);   // let the last rows be drawn
}

function onItem(iter, index, value, error) {
    if (iter !== state.iter)
        return;
    if (error !== null && error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED))
        return;
    state.nDone++;
    if (error !== null) {
        state.nFailed++;
        state.list.append(new GLib.Variant(ROW_TYPE, ['error', state.names[index], error.message, -1]), null);
    }
    updateProgress();
    if (state.nDone === opts['cancel-after'] && !state.restarted)
        app.activate_action('cancel', null);
    if (state.nDone === opts['close-after'])
        state.window.close();
}

function onFinished(iter) {
    if (iter !== state.iter)
        return;
    state.running = false;
    setEnabled('cancel', false);
    setEnabled('open-folder', true);
    state.status.set_text(state.cancelled
        ? `Cancelled after ${state.nDone} of ${state.nTotal} files`
        : `${state.nDone - state.nFailed} files hashed, ${state.nFailed} failed`);
    maybeFinishScripted();
}

function stopRun() {
    if (state.iter !== null) {
        state.iter.disconnect(state.itemId);
        state.iter.disconnect(state.finishedId);
    }
    state.iter = null;
    state.cancellable = null;
    if (state.list !== null) {
        state.list.disconnect(state.changedId);
        state.list.unwatch();
    }
}

function start(folder) {
    if (state.running)
        return;
    stopRun();
    state.folder = folder;
    // a new shared list per run: late rows of a cancelled run land in the old one
    const listName = `hasher-run-${++state.run}`;
    const tasks = [];
    state.names = [];
    try {
        const children = folder.enumerate_children('standard::name,standard::type',
            Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
        for (let info; (info = children.next_file(null)) !== null;) {
            if (info.get_file_type() === Gio.FileType.REGULAR) {
                state.names.push(info.get_name());
                tasks.push([listName, folder.get_child(info.get_name()).get_path(), opts['delay-ms']]);
            }
        }
    } catch (e) {
        state.status.set_text(e.message);
        return;
    }

    state.list = Mproc.List.new(state.manager, listName, null);
    state.list.watch(null);
    state.changedId = state.list.connect('items-changed', () => maybeFinishScripted());
    state.view.set_model(new Gtk.NoSelection({model: state.list}));

    state.nTotal = tasks.length;
    state.nDone = state.nFailed = 0;
    state.cancelled = state.reported = false;
    state.running = true;
    state.cancellable = new Gio.Cancellable();
    state.iter = state.pool.imap_unordered('hasher-hash', new GLib.Variant('a(ssu)', tasks),
        1, -1, state.cancellable);
    state.itemId = state.iter.connect('item', onItem);
    state.finishedId = state.iter.connect('finished', onFinished);

    state.window.set_title(folder.get_basename());
    state.status.set_text('Hashing…');
    setEnabled('cancel', true);
    setEnabled('open-folder', false);
    updateProgress();
}

function buildWindow() {
    state.window = new Gtk.ApplicationWindow({
        application: app, title: 'Hasher', default_width: 640, default_height: 420,
    });
    const header = new Gtk.HeaderBar();
    const openButton = Gtk.Button.new_with_mnemonic('_Open Folder…');
    openButton.set_action_name('app.open-folder');
    const cancelButton = Gtk.Button.new_with_mnemonic('_Cancel');
    cancelButton.set_action_name('app.cancel');
    header.pack_start(openButton);
    header.pack_end(cancelButton);
    state.window.set_titlebar(header);

    state.progress = new Gtk.ProgressBar({show_text: true, text: ''});
    state.status = new Gtk.Label({label: 'Open a folder to hash its files', xalign: 0});
    const factory = new Gtk.SignalListItemFactory();
    factory.connect('setup', (_f, item) => {
        const box = new Gtk.Box({
            spacing: 12, margin_start: 6, margin_end: 6, margin_top: 3, margin_bottom: 3,
        });
        box.append(new Gtk.Image());
        box.append(new Gtk.Label({xalign: 0, width_chars: 18, ellipsize: 3}));
        const text = new Gtk.Label({xalign: 0, ellipsize: 3, hexpand: true});
        text.add_css_class('monospace');
        text.add_css_class('dim-label');
        box.append(text);
        item.set_child(box);
    });
    factory.connect('bind', (_f, item) => {
        const [status, name, detail] = item.get_item().get_value().deepUnpack();
        const icon = item.get_child().get_first_child();
        const label = icon.get_next_sibling();
        const text = label.get_next_sibling();
        icon.set_from_icon_name(status === 'ok' ? 'emblem-ok-symbolic' : 'dialog-error-symbolic');
        label.set_text(name);
        text.set_text(detail);
        if (status === 'ok')
            text.remove_css_class('error');
        else
            text.add_css_class('error');
    });
    state.view = new Gtk.ListView({factory});
    const scrolled = new Gtk.ScrolledWindow({child: state.view, vexpand: true});
    const box = new Gtk.Box({
        orientation: Gtk.Orientation.VERTICAL, spacing: 6,
        margin_start: 12, margin_end: 12, margin_top: 12, margin_bottom: 12,
    });
    box.append(state.progress);
    box.append(state.status);
    box.append(scrolled);
    state.window.set_child(box);
}

app.connect('startup', () => {
    const actions = {
        'open-folder': () => {
            const dialog = Gtk.FileChooserNative.new('Choose a Folder', state.window,
                Gtk.FileChooserAction.SELECT_FOLDER, null, null);
            dialog.connect('response', (d, response) => {
                if (response === Gtk.ResponseType.ACCEPT)
                    start(d.get_file());
                state.dialog = null;
            });
            state.dialog = dialog;   // keep it alive while it is shown
            dialog.show();
        },
        'cancel': () => {
            if (state.running) {
                state.cancelled = true;
                state.cancellable.cancel();
            }
        },
        'quit': () => state.window?.close(),
    };
    for (const [name, handler] of Object.entries(actions)) {
        const action = new Gio.SimpleAction({name});
        action.connect('activate', handler);
        app.add_action(action);
    }
    app.set_accels_for_action('app.quit', ['<Control>q']);
    app.set_accels_for_action('app.cancel', ['Escape']);
    setEnabled('cancel', false);

    // The manager's server holds the results; the workers reach it by its
    // address, given to them by the pool's initializer.  No context is
    // chosen: under gjs the default one spawns.
    state.manager = Mproc.Manager.new();
    state.manager.start(null);
    state.pool = Mproc.Pool.new_full(null, opts['workers'], 'hasher-init',
        new GLib.Variant('(s)', [state.manager.get_address()]), 0);
    buildWindow();
});

app.connect('activate', () => state.window.present());

app.connect('open', (_app, files) => {
    app.activate();
    if (files.length > 0)
        start(files[0]);
});

// Nothing may outlive the application.
app.connect('shutdown', () => {
    state.cancellable?.cancel();
    stopRun();
    state.list = null;
    if (state.pool !== null) {
        state.pool.terminate();
        state.pool.join(-1, null);
    }
    state.manager?.shutdown(null);
});

app.run([imports.system.programInvocationName].concat(ARGV));
