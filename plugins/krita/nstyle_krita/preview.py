"""The dialog's preview: the current settings on a small copy of the layer (the library works at
SIDE px, so the copy is its own), with the lite backbone and ITERATIONS iterations, computed by a
worker thread with its own nstyle.Model and never touching the document.

    preview = Preview()
    number = preview.start(job)     # main thread: a core.Job (prepare()); cancels the last one
    frame = preview.take()          # main thread, from a timer: the newest Frame, or None
    preview.close()                 # cancels; the thread then frees the model and ends
                                    # (close(wait=True) joins it)

A frame is shown when a scale ends, at most every FRAME_INTERVAL seconds otherwise, and at the
end. Only the plug-in's choices are here (size, backbone, iterations, threads); the engine is the
binding's.
"""

import threading
import time

import nstyle

from .core import ENGINE_KEYS, fit_size

SIDE = 256
BACKBONE = "lite"
ITERATIONS = 100
THREADS = 1
FRAME_INTERVAL = 1.0


class Frame:
    """rgba8 pixels (width x height) of job `number`, its nstyle.Progress and the seconds since
    its start; or `error` (a message) instead of pixels."""

    def __init__(self, number, seconds, pixels=None, width=0, height=0, progress=None,
                 error=None):
        self.number, self.seconds = number, seconds
        self.pixels, self.width, self.height = pixels, width, height
        self.progress, self.error = progress, error

    @property
    def done(self):
        return self.progress is not None and self.progress.done


class Preview:
    def __init__(self):
        self._cond = threading.Condition()
        self._pending = None      # (number, job, started)
        self._current = 0
        self._quit = False
        self._frame = None
        self._model = None
        self._device = None
        self.thread = threading.Thread(target=self._work, name="nstyle-preview", daemon=True)
        self.thread.start()

    def start(self, job):
        with self._cond:
            self._current += 1
            self._pending = (self._current, job, time.monotonic())
            if self._model is not None:
                self._model.cancel()  # the step running for the previous job
            self._cond.notify()
            return self._current

    def take(self):
        with self._cond:
            frame, self._frame = self._frame, None
            return frame if frame is not None and frame.number == self._current else None

    def close(self, wait=False):
        """Stops the preview without blocking the dialog (loading the weights cannot be
        interrupted): the running step is cancelled, and the worker frees its model and ends
        within about one iteration (or once the weights are loaded)."""
        with self._cond:
            self._quit = True
            if self._model is not None:
                self._model.cancel()
            self._cond.notify()
        if wait:
            self.thread.join()

    def _is_current(self, number):
        with self._cond:
            return not self._quit and number == self._current

    def _publish(self, number, started, **kw):
        with self._cond:
            self._frame = Frame(number, time.monotonic() - started, **kw)

    def _work(self):
        try:
            self._jobs()
        finally:
            with self._cond:
                model, self._model = self._model, None
            if model is not None:
                model.close()

    def _jobs(self):
        while True:
            with self._cond:
                while not self._quit and self._pending is None:
                    self._cond.wait()
                if self._quit:
                    return
                (number, job, started), self._pending = self._pending, None
            try:
                self._run(number, job, started)
            except nstyle.Cancelled:
                pass
            except Exception as e:  # noqa: BLE001 - shown in the dialog
                self._publish(number, started, error=getattr(e, "message", str(e)))

    def _setup(self, job):
        s = job.settings
        device = None if s.device in ("", "auto") else s.device
        if self._model is None or device != self._device:
            if self._model is not None:
                self._model.close()
            model = nstyle.Model(device=device)  # loading the weights: here, not in the dialog
            with self._cond:
                self._model, self._device = model, device
        model = self._model
        values = {key: getattr(s, key) for key in ENGINE_KEYS if key != "size"}
        # threads=1: libtorch's OpenMP threads spin while they wait, so on a busy machine a
        # preview of many small operations takes many times longer on several threads (here 2 s
        # on one thread, over 100 s on two at load 4). The library sets it on the thread of
        # each step (OpenMP keeps the count per thread).
        values.update(iterations=ITERATIONS, backbone=BACKBONE, threads=THREADS)
        model.set_options(**values)
        _, _, w, h = job.rect
        model.set_content(job.content, w, h, job.fmt)
        fit_size(model, SIDE, w, h)
        model.clear_styles()
        pixels, sw, sh, stride = job.style
        model.add_style(pixels, sw, sh, "rgba8", stride=stride)
        return model

    def _run(self, number, job, started):
        model = self._setup(job)
        width, height = model.result_size()
        last_frame, last_scale = time.monotonic(), 0
        while self._is_current(number):
            try:
                p = model.step(1)
            except nstyle.Cancelled:
                continue  # superseded (checked above), or a stale cancel
            now = time.monotonic()
            if not p.done and p.scale == last_scale and now - last_frame < FRAME_INTERVAL:
                continue
            last_frame, last_scale = now, p.scale
            self._publish(number, started, pixels=model.fetch(width, height, "rgba8"),
                          width=width, height=height, progress=p)
            if p.done:
                return
