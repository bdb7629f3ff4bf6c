"""Tools ▸ Scripts ▸ Neural Style…: the dialog, a worker thread running the job (the binding's
Model.run steps the engine and reports progress) behind a progress dialog with a working Cancel,
the new layer on success, a message box on failure."""

import os
import threading
import time

from krita import Extension, Krita
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import QDialog, QMessageBox, QProgressDialog

import nstyle

from . import core
from .dialog import NeuralStyleDialog

ACTION_ID = "nstyle_neural_style"
ACTION_TEXT = "Neural Style\u2026"
TITLE = "Neural Style"


def main_window():
    window = Krita.instance().activeWindow()
    return window.qwindow() if window is not None else None


def show_error(message, parent=None):
    box = QMessageBox(QMessageBox.Critical, TITLE, message, QMessageBox.Ok,
                      parent if parent is not None else main_window())
    box.setObjectName("nstyle_error")
    box.exec_()


class Run:
    """One run: the job on a worker thread, a progress dialog polled by a timer (main thread).

    outcome after it ends: "done" (layer is the new layer), "cancelled" or "error" (message)."""

    POLL_MS = 100

    def __init__(self, doc, job, on_end=None, parent=None):
        self.doc = doc
        self.job = job
        self.on_end = on_end
        self.outcome = None
        self.layer = None
        self.message = None
        self.progress = None       # latest nstyle.Progress (written by the worker)
        self._result = None
        self._error = None
        self._started = time.monotonic()
        self.elapsed = None

        dialog = QProgressDialog("Starting the engine\u2026", "Cancel", 0, job.total, parent)
        dialog.setWindowTitle(TITLE)
        dialog.setObjectName("nstyle_progress")
        dialog.setWindowModality(Qt.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.cancel)
        self.dialog = dialog

        self.thread = threading.Thread(target=self._work, name="nstyle-worker", daemon=True)
        self.timer = QTimer()
        self.timer.setInterval(self.POLL_MS)
        self.timer.timeout.connect(self._poll)

    def start(self):
        self.dialog.show()
        self.thread.start()
        self.timer.start()
        return self

    def cancel(self):
        self.dialog.setLabelText("Cancelling\u2026")
        self.job.cancel()

    def _work(self):
        try:
            self._result = self.job.run(self._on_progress)
        except BaseException as e:  # reported on the main thread
            self._error = e

    def _on_progress(self, p):
        self.progress = p

    def _poll(self):
        p = self.progress
        if p is not None and not self.dialog.wasCanceled():
            self.dialog.setMaximum(max(p.total, 1))
            self.dialog.setValue(min(p.iteration, p.total))
            self.dialog.setLabelText(
                "Iteration %d of %d (scale %d of %d)\n%s"
                % (p.iteration, p.total, p.scale + 1, p.scales, p.describe_terms()))
        if self.thread.is_alive():
            return
        self.timer.stop()
        self.dialog.close()
        self.elapsed = time.monotonic() - self._started
        error = self._error
        if error is None:
            try:
                self.layer = core.commit(self.doc, self.job, self._result)
                self.doc.setActiveNode(self.layer)
                self.outcome = "done"
            except Exception as e:  # noqa: BLE001 - shown to the user
                error = e
        if isinstance(error, nstyle.Cancelled):
            self.outcome = "cancelled"
        elif error is not None:
            self.outcome = "error"
            if isinstance(error, nstyle.Error):
                self.message = "The style transfer failed: %s" % error.message
            else:
                self.message = "The style transfer failed: %s" % error
            show_error(self.message, self.dialog.parent())
        self._result = None
        if os.environ.get("NSTYLE_KRITA_SELFTEST"):  # the self-test's log: how each run ended
            print("  [nstyle] run ended: %s in %.1f s%s" % (
                self.outcome, self.elapsed, ": " + self.message if self.message else ""),
                flush=True)
        if self.on_end is not None:
            self.on_end(self)


class NeuralStyleExtension(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.runs = []
        self.ended_runs = 0  # how many runs have ended, however (the self-test waits on it)
        self.dialog = None

    def setup(self):
        pass

    def createActions(self, window):
        action = window.createAction(ACTION_ID, ACTION_TEXT, "tools/scripts")
        action.setToolTip("Restyle the active layer after a painting (neural style transfer)")
        action.triggered.connect(self.run_interactive)

    def run_interactive(self):
        app = Krita.instance()
        doc = app.activeDocument()
        if doc is None:
            show_error("Open an image first.")
            return
        try:
            self.dialog = NeuralStyleDialog(parent=main_window(), source=(doc, doc.activeNode()))
        except nstyle.Error as e:  # the library did not load: nothing to ask for
            from .dialog import show_diagnostics
            show_diagnostics(main_window(), "the nstyle library is not usable: %s" % e.message)
            return
        accepted = self.dialog.exec_() == QDialog.Accepted
        settings = self.dialog.settings()
        self.dialog = None
        if os.environ.get("NSTYLE_KRITA_SELFTEST"):
            print("  [nstyle] dialog %s" % ("accepted" if accepted else "closed"), flush=True)
        if accepted:
            self.start(doc, doc.activeNode(), settings)

    def start(self, doc, node, settings, on_end=None):
        """Starts a run on `node` of `doc`; returns the Run, or None after showing why not."""
        parent = main_window()
        try:
            job = core.prepare(doc, node, settings)
        except (core.PluginError, nstyle.Error) as e:
            show_error(e.message if isinstance(e, nstyle.Error) else str(e), parent)
            if on_end is not None:
                on_end(None)
            return None

        def ended(run):
            if run in self.runs:
                self.runs.remove(run)
            self.ended_runs += 1
            if on_end is not None:
                on_end(run)

        run = Run(doc, job, ended, parent)
        self.runs.append(run)
        return run.start()
