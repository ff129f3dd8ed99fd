#!/usr/bin/python3
# hasher.py: hasher.c in PyGObject — a GTK 4 application that hashes the
# files of a folder on a pool of worker processes
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The workers append one row per file to an Mproc.List held by a manager's
# server; the window's Gtk.ListView is bound to that list (a Gio.ListModel).
# A file whose name contains "crash-me" makes its worker abort: the pool
# replaces the worker and the file becomes an error row.  Options: see
# hasher.c (--export, --screenshot, --cancel-after, --restart,
# --close-after, --quit, --delay-ms, --workers).

import hashlib
import os
import resource
import sys

import gi
gi.require_version('Mproc', '1')
gi.require_version('Gtk', '4.0')
from gi.repository import GLib, Gio, Mproc  # noqa: E402

ROW_TYPE = '(sssx)'   # status ("ok" or "error"), file name, SHA-256 or message, size

# ---- worker side: runs in the pool's processes ---------------------------

worker = {'manager': None, 'lists': {}}


def hasher_init(arg):
    """The pool's initializer: connect to the application's manager."""
    (address,) = arg.unpack()
    worker['manager'] = Mproc.Manager.connect(address, None)
    return GLib.Variant('()', ())


def hasher_hash(arg):
    """One file: hash it, append its row to the run's list, return the digest."""
    list_name, path, delay_ms = arg.unpack()
    name = os.path.basename(path)
    if 'crash-me' in name:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))   # a deliberate crash, no core file
        os.abort()
    if delay_ms:
        GLib.usleep(delay_ms * 1000)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, 'rb') as f:
            while chunk := f.read(65536):
                digest.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise GLib.Error.new_literal(Gio.io_error_quark(), f'{name}: {e.strerror}',
                                     int(Gio.io_error_from_errno(e.errno)))
    lst = worker['lists'].get(list_name)
    if lst is None:
        lst = worker['lists'][list_name] = Mproc.List.new(worker['manager'], list_name, None)
    Mproc.List.append(lst, GLib.Variant(ROW_TYPE, ('ok', name, digest.hexdigest(), size)), None)
    return GLib.Variant('s', digest.hexdigest())


# Before Mproc.init(): a worker runs this file up to there.
Mproc.register_task('hasher-init', hasher_init)
Mproc.register_task('hasher-hash', hasher_hash)
Mproc.init()

from gi.repository import Gtk  # noqa: E402  (the workers need no GTK)


# ---- application side ----------------------------------------------------

class Hasher(Gtk.Application):
    def __init__(self):
        super().__init__(application_id='org.gnome.Mproc.Example.Hasher',
                         flags=Gio.ApplicationFlags.HANDLES_OPEN | Gio.ApplicationFlags.NON_UNIQUE)
        self.window = None
        self.manager = None
        self.pool = None
        self.list = None
        self.iter = None
        self.cancellable = None
        self.folder = None
        self.names = []
        self.run_number = 0
        self.n_total = self.n_done = self.n_failed = 0
        self.cancelled = self.running = self.reported = False
        self.opts = {'export': None, 'screenshot': None, 'cancel-after': 0, 'restart': False,
                     'close-after': 0, 'quit': False, 'delay-ms': 0, 'workers': 0}
        self.restarted = False
        for name, arg, text in [
                ('export', GLib.OptionArg.STRING, 'Write the rows to FILE when the run ends'),
                ('screenshot', GLib.OptionArg.STRING, 'Save the window as a PNG when the run ends'),
                ('cancel-after', GLib.OptionArg.INT, 'Press Cancel after N files'),
                ('restart', GLib.OptionArg.NONE, 'Start again after a cancel'),
                ('close-after', GLib.OptionArg.INT, 'Close the window after N files'),
                ('quit', GLib.OptionArg.NONE, 'Quit when the run ends'),
                ('delay-ms', GLib.OptionArg.INT, 'Let each task sleep MS first'),
                ('workers', GLib.OptionArg.INT, 'Number of worker processes')]:
            self.add_main_option(name, 0, GLib.OptionFlags.NONE, arg, text, None)

    # -- options and life cycle

    def do_handle_local_options(self, options):
        for key in self.opts:
            value = options.lookup_value(key, None)
            if value is not None:
                self.opts[key] = value.unpack()
        return -1

    def do_startup(self):
        Gtk.Application.do_startup(self)
        for name, handler in [('open-folder', self.on_open_folder), ('cancel', self.on_cancel),
                              ('quit', lambda *a: self.window and self.window.close())]:
            action = Gio.SimpleAction.new(name, None)
            action.connect('activate', handler)
            self.add_action(action)
        self.set_accels_for_action('app.quit', ['<Control>q'])
        self.set_accels_for_action('app.cancel', ['Escape'])
        self.lookup_action('cancel').set_enabled(False)

        # The manager's server holds the results; the workers reach it by its
        # address, given to them by the pool's initializer.
        self.manager = Mproc.Manager.new()
        self.manager.start(None)
        self.pool = Mproc.Pool.new_full(None, self.opts['workers'], 'hasher-init',
                                        GLib.Variant('(s)', (self.manager.get_address(),)), 0)
        self.build_window()

    def do_activate(self):
        self.window.present()

    def do_open(self, files, n_files, hint):
        self.activate()
        if files:
            self.start(files[0])

    def do_shutdown(self):
        # nothing may outlive the application
        if self.cancellable is not None:
            self.cancellable.cancel()
        self.stop_run()
        self.list = None
        if self.pool is not None:
            self.pool.terminate()
            Mproc.Pool.join(self.pool, -1, None)
            self.pool = None
        if self.manager is not None:
            self.manager.shutdown(None)
            self.manager = None
        Gtk.Application.do_shutdown(self)

    # -- the window

    def build_window(self):
        self.window = Gtk.ApplicationWindow(application=self, title='Hasher',
                                            default_width=640, default_height=420)
        header = Gtk.HeaderBar()
        open_button = Gtk.Button.new_with_mnemonic('_Open Folder…')
        open_button.set_action_name('app.open-folder')
        cancel_button = Gtk.Button.new_with_mnemonic('_Cancel')
        cancel_button.set_action_name('app.cancel')
        header.pack_start(open_button)
        header.pack_end(cancel_button)
        self.window.set_titlebar(header)

        self.progress = Gtk.ProgressBar(show_text=True, text='')
        self.status = Gtk.Label(label='Open a folder to hash its files', xalign=0)
        factory = Gtk.SignalListItemFactory()
        factory.connect('setup', self.setup_row)
        factory.connect('bind', self.bind_row)
        self.view = Gtk.ListView(factory=factory)
        scrolled = Gtk.ScrolledWindow(child=self.view, vexpand=True)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6, margin_start=12,
                      margin_end=12, margin_top=12, margin_bottom=12)
        for child in (self.progress, self.status, scrolled):
            box.append(child)
        self.window.set_child(box)

    @staticmethod
    def setup_row(factory, item):
        box = Gtk.Box(spacing=12, margin_start=6, margin_end=6, margin_top=3, margin_bottom=3)
        box.append(Gtk.Image())
        box.append(Gtk.Label(xalign=0, width_chars=18, ellipsize=3))   # Pango.EllipsizeMode.END
        text = Gtk.Label(xalign=0, ellipsize=3, hexpand=True)
        text.add_css_class('monospace')
        text.add_css_class('dim-label')
        box.append(text)
        item.set_child(box)

    @staticmethod
    def bind_row(factory, item):
        status, name, detail, size = item.get_item().get_value().unpack()
        icon = item.get_child().get_first_child()
        label = icon.get_next_sibling()
        text = label.get_next_sibling()
        icon.set_from_icon_name('emblem-ok-symbolic' if status == 'ok' else 'dialog-error-symbolic')
        label.set_text(name)
        text.set_text(detail)
        if status == 'ok':
            text.remove_css_class('error')
        else:
            text.add_css_class('error')

    def update_progress(self):
        self.progress.set_fraction(self.n_done / self.n_total if self.n_total else 0.0)
        self.progress.set_text(f'{self.n_done} / {self.n_total}')

    # -- a run

    def start(self, folder):
        if self.running:
            return
        self.stop_run()
        self.folder = folder
        # a new shared list per run: late rows of a cancelled run land in
        # the old one
        self.run_number += 1
        list_name = f'hasher-run-{self.run_number}'
        self.names = []
        tasks = []
        try:
            for info in folder.enumerate_children('standard::name,standard::type',
                                                  Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, None):
                if info.get_file_type() == Gio.FileType.REGULAR:
                    self.names.append(info.get_name())
                    tasks.append((list_name, folder.get_child(info.get_name()).get_path(),
                                  self.opts['delay-ms']))
        except GLib.Error as e:
            self.status.set_text(e.message)
            return

        self.list = Mproc.List.new(self.manager, list_name, None)
        self.list.watch(None)
        self.list.connect('items-changed', lambda *a: self.maybe_finish_scripted())
        self.view.set_model(Gtk.NoSelection(model=self.list))

        self.n_total = len(tasks)
        self.n_done = self.n_failed = 0
        self.cancelled = self.reported = False
        self.running = True
        self.cancellable = Gio.Cancellable()
        self.iter = Mproc.Pool.imap_unordered(self.pool, 'hasher-hash', GLib.Variant('a(ssu)', tasks),
                                              1, -1, self.cancellable)
        self.iter.connect('item', self.on_item)
        self.iter.connect('finished', self.on_finished)

        self.window.set_title(folder.get_basename())
        self.status.set_text('Hashing…')
        self.lookup_action('cancel').set_enabled(True)
        self.lookup_action('open-folder').set_enabled(False)
        self.update_progress()

    def stop_run(self):
        if self.iter is not None:
            self.iter.disconnect_by_func(self.on_item)
            self.iter.disconnect_by_func(self.on_finished)
        self.iter = None
        self.cancellable = None
        if self.list is not None:
            self.list.unwatch()

    def on_item(self, iterator, index, value, error):
        if iterator is not self.iter:
            return
        if error is not None and error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED):
            return
        self.n_done += 1
        if error is not None:
            self.n_failed += 1
            Mproc.List.append(self.list, GLib.Variant(ROW_TYPE, ('error', self.names[index],
                                                                  error.message, -1)), None)
        self.update_progress()
        if self.n_done == self.opts['cancel-after'] and not self.restarted:
            self.activate_action('cancel', None)
        if self.n_done == self.opts['close-after']:
            self.window.close()

    def on_finished(self, iterator):
        if iterator is not self.iter:
            return
        self.running = False
        self.lookup_action('cancel').set_enabled(False)
        self.lookup_action('open-folder').set_enabled(True)
        if self.cancelled:
            self.status.set_text(f'Cancelled after {self.n_done} of {self.n_total} files')
        else:
            self.status.set_text(f'{self.n_done - self.n_failed} files hashed, {self.n_failed} failed')
        self.maybe_finish_scripted()

    def on_cancel(self, action, parameter):
        if self.running:
            self.cancelled = True
            self.cancellable.cancel()

    def on_open_folder(self, action, parameter):
        dialog = Gtk.FileChooserNative.new('Choose a Folder', self.window,
                                           Gtk.FileChooserAction.SELECT_FOLDER, None, None)

        def on_response(dialog, response):
            if response == Gtk.ResponseType.ACCEPT:
                self.start(dialog.get_file())
            self.dialog = None
        dialog.connect('response', on_response)
        self.dialog = dialog   # keep it alive while it is shown
        dialog.show()

    # -- scripted use (tests)

    def maybe_finish_scripted(self):
        # workers append their rows through the manager: a finished run is
        # complete once the list has a row per file (or at once if cancelled)
        if self.running or self.list is None or self.reported:
            return
        if not self.cancelled and self.list.get_n_items() < self.n_total:
            return
        self.reported = True
        if self.cancelled and self.opts['restart'] and not self.restarted:
            if self.opts['export']:
                self.export_results()
            self.restarted = True
            self.start(self.folder)
            return
        GLib.timeout_add(300, self.finish_scripted)   # let the last rows be drawn

    def finish_scripted(self):
        if self.opts['screenshot']:
            self.take_screenshot()
        if self.opts['export']:
            self.export_results()
        if self.opts['quit']:
            self.quit()
        return GLib.SOURCE_REMOVE

    def export_results(self):
        lines = []
        for i in range(self.list.get_n_items()):
            status, name, text, size = self.list.get_item(i).get_value().unpack()
            lines.append(f'{status}\t{name}\t{text}\t{size}\n')
        lines.append(f'state\t{"cancelled" if self.cancelled else "done"}\t{self.n_done}\t{self.n_total}\n')
        with open(self.opts['export'], 'a') as f:
            f.writelines(lines)

    def take_screenshot(self):
        width, height = self.window.get_width(), self.window.get_height()
        snapshot = Gtk.Snapshot()
        Gtk.WidgetPaintable.new(self.window).snapshot(snapshot, width, height)
        renderer = self.window.get_native().get_renderer()
        if gi.version_info < (3, 46):
            # an older PyGObject (Debian 12 has 3.42) cannot hold a
            # GskRenderNode, and finds out only after GTK made it: do the
            # same three calls on GTK's C functions instead
            render_to_png(snapshot, renderer, width, height, self.opts['screenshot'])
            return
        node = snapshot.to_node()
        if node is None:
            return
        from gi.repository import Graphene
        rect = Graphene.Rect().init(0, 0, width, height)
        texture = renderer.render_texture(node, rect)
        texture.save_to_png(self.opts['screenshot'])


def render_to_png(snapshot, renderer, width, height, path):
    """gtk_snapshot_to_node() + gsk_renderer_render_texture() +
    gdk_texture_save_to_png() through ctypes, for a PyGObject that cannot
    pass render nodes."""
    import ctypes

    def pointer(obj):
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype = ctypes.c_void_p
        get.argtypes = [ctypes.py_object, ctypes.c_char_p]
        return get(obj.__gpointer__, None)

    class Rect(ctypes.Structure):
        _fields_ = [('x', ctypes.c_float), ('y', ctypes.c_float),
                    ('width', ctypes.c_float), ('height', ctypes.c_float)]

    gtk = ctypes.CDLL('libgtk-4.so.1')
    gtk.gtk_snapshot_to_node.restype = ctypes.c_void_p
    gtk.gtk_snapshot_to_node.argtypes = [ctypes.c_void_p]
    gtk.gsk_renderer_render_texture.restype = ctypes.c_void_p
    gtk.gsk_renderer_render_texture.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.POINTER(Rect)]
    gtk.gdk_texture_save_to_png.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    gtk.gsk_render_node_unref.argtypes = [ctypes.c_void_p]
    gtk.g_object_unref.argtypes = [ctypes.c_void_p]

    node = gtk.gtk_snapshot_to_node(pointer(snapshot))
    if not node:
        return
    rect = Rect(0, 0, width, height)
    texture = gtk.gsk_renderer_render_texture(pointer(renderer), node, ctypes.byref(rect))
    gtk.gsk_render_node_unref(node)
    if not texture:
        return
    if not gtk.gdk_texture_save_to_png(texture, os.fsencode(path)):
        print(f'hasher: cannot write {path}', file=sys.stderr)
    gtk.g_object_unref(texture)

if __name__ == '__main__':
    sys.exit(Hasher().run(sys.argv))
