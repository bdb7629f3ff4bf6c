"""The dialog's preview: the library's preview driver (nstyle.Preview, nstyle_preview_*), fed a
model set up as the full run would be. What the preview shows, when, at which size and with
which network is the library's (the feed-forward network's quick picture first, then the
optimiser's refinement, and the full run's estimate); this is only Krita's side of it.

    preview = Preview()
    number = preview.start(job)     # main thread: a core.Job (prepare()); supersedes the last
    frame = preview.take()          # main thread, from a timer: a new Frame, or None
    estimate = preview.take_estimate()  # a new Estimate of the full run, or None
    preview.close()                 # stops the driver without blocking the dialog
"""

import threading

import nstyle

from .core import ENGINE_KEYS, fit_size

#: The preview picture's side in the dialog: the library's side on the CPU.
SIDE = 256


class Frame:
    """rgba8 pixels (width x height) of job `number`, its nstyle.Progress, the seconds since its
    start, whether it is the quick picture, the loss terms and the library's note in words; or
    `error` (a message) instead of pixels."""

    def __init__(self, number, seconds, pixels=None, width=0, height=0, progress=None,
                 error=None, quick=False, terms="", note=None):
        self.number, self.seconds = number, seconds
        self.pixels, self.width, self.height = pixels, width, height
        self.progress, self.error = progress, error
        self.quick, self.terms, self.note = quick, terms, note

    @property
    def done(self):
        return self.progress is not None and self.progress.done


class Estimate:
    """The full run of job `number`: `seconds` and the library's words for it (the time, and
    whether other programs kept cores busy), the working size and the region (the new layer's
    size); or `error` instead."""

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
        self._driver = None
        self._device = None
        self._current = 0
        self._shown = 0           # the serial of the frame taken last
        self._shown_estimate = 0  # the job whose estimate was taken last
        self._region = (0, 0)
        self._closing = None      # the thread that frees the driver, once close() was called

    def start(self, job):
        """Starts previewing `job`'s settings; returns the job number (errors: nstyle.Error)."""
        s = job.settings
        device = None if s.device in ("", "auto") else s.device
        if self._driver is None or device != self._device:
            if self._driver is not None:
                self._driver.close()
            self._driver, self._device = nstyle.Preview(device=device), device
        _, _, w, h = job.rect
        with nstyle.Model(device=device) as model:  # a settings holder: no weights are read
            model.set_options(**{key: getattr(s, key) for key in ENGINE_KEYS if key != "size"})
            model.set_content(job.content, w, h, job.fmt)
            fit_size(model, s.size, w, h)
            job.add_styles(model)  # with the selection as the style's region in region mode
            self._current = self._driver.start(model)
        self._region = (w, h)
        return self._current

    def take(self):
        frame = self._driver.frame() if self._driver is not None else None
        if frame is None or frame.job != self._current or frame.serial == self._shown:
            return None
        self._shown = frame.serial
        if frame.error is not None:
            return Frame(frame.job, frame.seconds, error=frame.error.message or str(frame.error))
        return Frame(frame.job, frame.seconds, pixels=frame.pixels, width=frame.width,
                     height=frame.height, progress=frame.progress, quick=frame.quick,
                     terms=frame.terms, note=frame.note)

    def take_estimate(self):
        estimate = self._driver.estimate() if self._driver is not None else None
        if estimate is None or estimate.job != self._current \
                or estimate.job == self._shown_estimate:
            return None
        self._shown_estimate = estimate.job
        if estimate.error is not None:
            return Estimate(estimate.job, region=self._region, error=estimate.error.message)
        return Estimate(estimate.job, estimate.seconds, (estimate.width, estimate.height),
                        self._region, words=estimate.words)

    def close(self, wait=False):
        """Stops the preview without blocking the dialog: the driver stops its job within about
        one iteration (or once a load of weights under way ends), on a thread of its own."""
        driver, self._driver = self._driver, None
        if driver is not None and self._closing is None:
            self._closing = threading.Thread(target=driver.close, name="nstyle-preview-close",
                                             daemon=True)
            self._closing.start()
        if wait and self._closing is not None:
            self._closing.join()

    def closed(self):
        """Whether close() was called and the driver is freed."""
        return self._closing is not None and not self._closing.is_alive()
