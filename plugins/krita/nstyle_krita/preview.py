"""The dialog's preview: the current settings on a small copy of the layer (the library works at
SIDE px, so the copy is its own), with the lite backbone and ITERATIONS iterations, computed by a
worker thread with its own nstyle.Model and never touching the document.

    preview = Preview()
    number = preview.start(job)     # main thread: a core.Job (prepare()); cancels the last one
    frame = preview.take()          # main thread, from a timer: the newest Frame, or None
    estimate = preview.take_estimate()  # the newest Estimate of the full run, or None
    preview.close()                 # cancels; the thread then frees the model and ends
                                    # (close(wait=True) joins it)

Before each preview the worker asks the library how long the full run with the job's own
settings (quality, iterations, size) would take on this machine (Model.estimate_seconds: a probe
of the network, about a second the first time, then cached), on the job's content at the
region's size.

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


class Estimate:
    """The full run of job `number`: `seconds` (Model.estimate_seconds) and the library's words
    for it (Model.estimate_text: the time, and whether other programs kept cores busy), the
    working size and the region (the new layer's size); or `error` instead."""

    def __init__(self, number, seconds=0.0, size=(0, 0), region=(0, 0), error=None, words=""):
        self.number, self.seconds, self.size, self.region = number, seconds, size, region
        self.error, self.words = error, words

    @property
    def full(self):
        return self.size == self.region

    def text(self):
        if self.error:
            return "Full run: %s" % self.error
        if self.full:
            return "Full run: %d \u00d7 %d px (the layer's own size), %s" % (
                self.size + (self.words,))
        return "Full run: %d \u00d7 %d px, scaled to the layer's %d \u00d7 %d; %s" % (
            self.size + self.region + (self.words,))


class Preview:
    def __init__(self):
        self._cond = threading.Condition()
        self._pending = None      # (number, job, started)
        self._current = 0
        self._quit = False
        self._frame = None
        self._estimate = None
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

    def take_estimate(self):
        with self._cond:
            estimate, self._estimate = self._estimate, None
            return estimate if estimate is not None and estimate.number == self._current \
                else None

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

    def _model_for(self, job):
        s = job.settings
        device = None if s.device in ("", "auto") else s.device
        if self._model is None or device != self._device:
            if self._model is not None:
                self._model.close()
            model = nstyle.Model(device=device)  # loading the weights: here, not in the dialog
            with self._cond:
                self._model, self._device = model, device
        return self._model

    def _setup(self, job, full=False):
        """The job on the worker's model: as the full run would do it (full=True, for the
        estimate), or as the preview (lite, few iterations, SIDE px)."""
        s = job.settings
        model = self._model_for(job)
        values = {key: getattr(s, key) for key in ENGINE_KEYS if key != "size"}
        if full:
            # The full run's threads (0: libtorch's default, every core): the worker's model
            # keeps the preview's one thread otherwise, and the probe would time that.
            values.update(threads=0)
        else:
            # threads=1: libtorch's OpenMP threads spin while they wait, so on a busy machine a
            # preview of many small operations takes many times longer on several threads (here
            # 2 s on one thread, over 100 s on two at load 4). The library sets it on the thread
            # of each step (OpenMP keeps the count per thread).
            values.update(iterations=ITERATIONS, backbone=BACKBONE, threads=THREADS)
        model.set_options(**values)
        _, _, w, h = job.rect
        model.set_content(job.content, w, h, job.fmt)
        fit_size(model, s.size if full else SIDE, w, h)
        job.add_styles(model)  # with the selection as the style's region in region mode
        return model

    def _estimate_full_run(self, number, job):
        _, _, w, h = job.rect
        try:
            model = self._setup(job, full=True)
            estimate = Estimate(number, model.estimate_seconds(), model.result_size(), (w, h),
                                words=model.estimate_text())
        except nstyle.Error as e:
            estimate = Estimate(number, region=(w, h), error=e.message)
        with self._cond:
            self._estimate = estimate

    def _run(self, number, job, started):
        if self._is_current(number):
            self._estimate_full_run(number, job)
        model = self._setup(job)
        width, height = model.result_size()
        last_frame, last_scale = time.monotonic(), 0
        while self._is_current(number):  # the worker's own check between steps
            try:
                p = model.step(1)
            except nstyle.Cancelled:
                return  # superseded or closing: start() and close() cancel only then
            now = time.monotonic()
            if not p.done and p.scale == last_scale and now - last_frame < FRAME_INTERVAL:
                continue
            last_frame, last_scale = now, p.scale
            self._publish(number, started, pixels=model.fetch(width, height, "rgba8"),
                          width=width, height=height, progress=p)
            if p.done:
                return
