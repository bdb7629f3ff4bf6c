"""The plug-in's processing path, free of any dialog: read a layer, run the engine, write a layer.

    job = prepare(doc, node, settings)     # main thread: reads pixels, selection, style image
    result = job.run(progress)             # any thread: the engine only, no Krita calls
    layer = commit(doc, job, result)       # main thread: a new paint layer above `node`

stylize() does the three in a row. Every failure before commit() leaves the document untouched:
prepare() raises PluginError (bad input) and job.run() nstyle.Error / nstyle.Cancelled.

Pixel layouts: Krita keeps 8- and 16-bit RGBA as B,G,R,A and half/float RGBA as R,G,B,A; the
engine wants R,G,B,A, so 8/16-bit rows are swizzled, half floats widened to float32 and back.
Layers that are not RGBA with an sRGB tone curve (linear or wide-gamut RGB, grey, CMYK, Lab...)
are read through an unattached sRGB copy of the same depth, and the new layer is converted back
to the source layer's colour space. With a selection only its bounding box is processed and the
new layer's alpha is multiplied by the selection (transparent outside it).
"""

import array
import os
import struct
import sys
import time

import nstyle

LAYER_NAME = "Neural Style"
MIN_SIDE = 16       # the engine needs both sides of its working image >= 16 px
MAX_SIZE = 16384    # the engine's largest `size`
CHUNK_SECONDS = 0.5  # run() steps the engine about this long between progress reports

# Krita colour depth -> (engine format, bytes per channel in Krita, B,G,R order in Krita)
_DEPTHS = {
    "U8": ("rgba8", 1, True),
    "U16": ("rgba16", 2, True),
    "F16": ("rgba_f32", 2, False),
    "F32": ("rgba_f32", 4, False),
}


class PluginError(Exception):
    """Bad input found before anything ran (no style file, unsupported layer, ...)."""


class Settings:
    """What the dialog asks for, plus the engine knobs a test or an expert may set."""

    FIELDS = {
        # name: (default, type)
        "style": ("", str),
        "iterations": (300, int),
        "size": (512, int),
        "content_weight": (5.0, float),
        "style_weight": (100.0, float),
        "tv_weight": (0.01, float),
        "preserve_colors": (False, bool),
        "device": ("auto", str),
        "precision": ("auto", str),
        "seed": (0, int),
    }

    def __init__(self, **values):
        for name, (default, _) in self.FIELDS.items():
            setattr(self, name, default)
        for name, value in values.items():
            if name not in self.FIELDS:
                raise TypeError("unknown setting %r" % name)
            setattr(self, name, self.FIELDS[name][1](value))

    def as_dict(self):
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self):
        return "Settings(%s)" % ", ".join("%s=%r" % kv for kv in self.as_dict().items())


# ----------------------------------------------------------------------------- pixels

def swap_red_blue(data, bytes_per_channel):
    """B,G,R,A <-> R,G,B,A for 1- or 2-byte channels; returns a new bytes object."""
    if bytes_per_channel == 1:
        src = bytes(data)
        out = bytearray(src)
        out[0::4] = src[2::4]
        out[2::4] = src[0::4]
        return bytes(out)
    src = array.array("H")
    src.frombytes(bytes(data))
    out = array.array("H", src)
    out[0::4] = src[2::4]
    out[2::4] = src[0::4]
    return out.tobytes()


def half_to_float(data):
    n = len(data) // 2
    return array.array("f", struct.unpack("=%de" % n, bytes(data))).tobytes()


def float_to_half(data):
    values = array.array("f")
    values.frombytes(bytes(data))
    clamped = [min(max(v, -65504.0), 65504.0) for v in values]
    return struct.pack("=%de" % len(clamped), *clamped)


SRGB_PROFILE = "sRGB-elle-V2-srgbtrc.icc"  # Krita's own sRGB, shipped with every Krita


def is_srgb(profile):
    """True for an sRGB profile with the sRGB tone curve (what VGG was trained on)."""
    p = profile.lower()
    return "srgb" in p and not any(t in p for t in ("g10", "linear", "scrgb", "esrgb"))


def engine_space(node):
    """(engine format, depth, converted): how the layer's pixels reach the engine. RGBA layers
    with an sRGB profile go as they are; any other layer (linear or wide-gamut RGB, grey, CMYK,
    Lab, ...) goes through an sRGB copy of the same depth (converted=True)."""
    model, depth, profile = node.colorModel(), node.colorDepth(), node.colorProfile()
    if depth not in _DEPTHS:
        raise PluginError("Layer \u201c%s\u201d has an unsupported colour depth (%s)."
                          % (node.name(), depth))
    converted = not (model == "RGBA" and is_srgb(profile))
    return _DEPTHS[depth][0], depth, converted


def to_engine(data, depth):
    """Krita pixel bytes of `depth` -> engine bytes in the format layer_format() named."""
    _, bpc, bgr = _DEPTHS[depth]
    if bgr:
        return swap_red_blue(data, bpc)
    if depth == "F16":
        return half_to_float(data)
    return bytes(data)


def from_engine(data, depth):
    """Engine bytes -> Krita pixel bytes of `depth` (inverse of to_engine)."""
    _, bpc, bgr = _DEPTHS[depth]
    if bgr:
        return swap_red_blue(data, bpc)
    if depth == "F16":
        return float_to_half(data)
    return bytes(data)


def region(doc):
    """The (x, y, w, h) to process: the selection's bounds within the canvas, else the canvas."""
    sel = doc.selection()
    x, y, w, h = 0, 0, doc.width(), doc.height()
    if sel is not None and sel.width() > 0 and sel.height() > 0:
        x0, y0 = max(sel.x(), 0), max(sel.y(), 0)
        x1, y1 = min(sel.x() + sel.width(), w), min(sel.y() + sel.height(), h)
        if x1 <= x0 or y1 <= y0:
            raise PluginError("The selection lies outside the canvas.")
        x, y, w, h = x0, y0, x1 - x0, y1 - y0
    return x, y, w, h


def selection_mask(doc, rect):
    """One byte (0..255) per pixel of rect from the global selection, or None if none."""
    sel = doc.selection()
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return None
    x, y, w, h = rect
    mask = bytes(sel.pixelData(x, y, w, h))
    if len(mask) != w * h:
        raise PluginError("Unexpected selection data (%d bytes for %dx%d)." % (len(mask), w, h))
    if mask.count(255) == len(mask):
        return None
    return mask


def read_layer(node, rect):
    """The layer's pixels in rect as (engine bytes, engine format, depth, converted). Never
    changes the layer: a conversion works on an unattached duplicate."""
    fmt, depth, converted = engine_space(node)
    source = node
    if converted:
        source = node.duplicate()
        if source is None or not source.setColorSpace("RGBA", depth, SRGB_PROFILE):
            raise PluginError("Cannot convert layer \u201c%s\u201d (%s/%s, %s) to sRGB for the "
                              "engine." % (node.name(), node.colorModel(), depth,
                                           node.colorProfile()))
    x, y, w, h = rect
    raw = bytes(source.pixelData(x, y, w, h))
    expected = w * h * 4 * (1 if depth == "U8" else 2 if depth in ("U16", "F16") else 4)
    if len(raw) != expected:
        raise PluginError("Unexpected layer data (%d bytes, expected %d)." % (len(raw), expected))
    return to_engine(raw, depth), fmt, depth, converted


def apply_mask(data, fmt, mask):
    """Multiplies the alpha of engine-format pixels by mask/255 (mask None: unchanged)."""
    if mask is None:
        return bytes(data)
    if fmt == "rgba8":
        out = bytearray(data)
        alpha = out[3::4]
        out[3::4] = bytes((a * m + 127) // 255 for a, m in zip(alpha, mask))
        return bytes(out)
    code = {"rgba16": "H", "rgba_f32": "f"}[fmt]
    values = array.array(code)
    values.frombytes(bytes(data))
    alpha = values[3::4]
    if code == "H":
        values[3::4] = array.array("H", ((a * m + 127) // 255 for a, m in zip(alpha, mask)))
    else:
        values[3::4] = array.array("f", (a * m / 255.0 for a, m in zip(alpha, mask)))
    return values.tobytes()


def load_style(path):
    """A style image file as (rgba8 bytes, width, height); PluginError if unreadable."""
    from PyQt5.QtGui import QImage

    if not path:
        raise PluginError("No style image chosen.")
    if not os.path.isfile(path):
        raise PluginError("Style image not found: %s" % path)
    image = QImage(path)
    if image.isNull():
        raise PluginError("Cannot read the style image %s (unknown or damaged format)." % path)
    image = image.convertToFormat(QImage.Format_RGBA8888)
    w, h = image.width(), image.height()
    ptr = image.constBits()
    ptr.setsize(image.byteCount())
    stride = image.bytesPerLine()
    data = bytes(ptr)
    if stride != w * 4:
        data = b"".join(data[r * stride:r * stride + w * 4] for r in range(h))
    return data, w, h


# ----------------------------------------------------------------------------- the job

class Job:
    """Everything the engine needs, read from the document; run() touches no Krita object."""

    def __init__(self, node, rect, content, fmt, depth, mask, style, settings, converted=False):
        self.node = node
        self.converted = converted  # content was converted to sRGB; convert the result back
        self.rect = rect
        self.content = content
        self.fmt = fmt
        self.depth = depth
        self.mask = mask
        self.style = style          # (rgba8 bytes, w, h)
        self.settings = settings
        self._model = None
        self._cancelled = False

    @property
    def total(self):
        return self.settings.iterations

    def working_size(self):
        """The engine's `size`: the setting, but no larger than the region, and large enough
        that the short side is at least MIN_SIDE pixels (VGG's five poolings need 16)."""
        _, _, w, h = self.rect
        long, short = max(w, h), min(w, h)
        size = max(MIN_SIDE, min(self.settings.size, long))
        if size * short // long < MIN_SIDE:
            size = -(-MIN_SIDE * long // short) + 1
        if size > MAX_SIZE:
            raise PluginError("The region (%d\u00d7%d) is too thin to restyle; its short side "
                              "must be at least 1/%d of its long side." % (w, h, MAX_SIZE // 16))
        return size

    def run(self, progress=None, chunk=None):
        """Runs the engine; returns the result (engine format, masked). progress(p) is called
        after every chunk (`chunk` iterations, default: about CHUNK_SECONDS of work) with an
        nstyle.Progress. Raises nstyle.Error / nstyle.Cancelled."""
        s = self.settings
        _, _, w, h = self.rect
        device = None if s.device in ("", "auto") else s.device
        with nstyle.Model(device=device) as model:
            self._model = model
            try:
                if self._cancelled:
                    raise nstyle.Cancelled(nstyle.Status.ERR_CANCELLED, "cancelled")
                model.set_option("size", self.working_size())
                model.set_option("iterations", s.iterations)
                model.set_option("preserve_colors", bool(s.preserve_colors))
                model.set_option("seed", s.seed)
                if s.precision and s.precision != "auto":
                    model.set_option("precision", s.precision)
                model.set_weights(s.content_weight, s.style_weight, s.tv_weight)
                model.set_content(self.content, w, h, self.fmt)
                model.add_style(self.style[0], self.style[1], self.style[2], "rgba8")
                if self._cancelled:
                    model.cancel()
                n = chunk or 1
                while True:
                    started = time.monotonic()
                    p = model.step(n)
                    if progress is not None:
                        progress(p)
                    if p.done:
                        break
                    if not chunk:  # about CHUNK_SECONDS a chunk, for a lively progress bar
                        per_iteration = (time.monotonic() - started) / n
                        n = max(1, min(100, int(CHUNK_SECONDS / max(per_iteration, 1e-6))))
                result = model.fetch(w, h, self.fmt)
            finally:
                self._model = None
        return apply_mask(result, self.fmt, self.mask)

    def cancel(self):
        """Stops run() (from any thread); it raises nstyle.Cancelled soon after."""
        self._cancelled = True
        model = self._model
        if model is not None:
            model.cancel()


def prepare(doc, node, settings):
    """Reads what the job needs from the document (main thread). PluginError on bad input."""
    if doc is None:
        raise PluginError("No document is open.")
    if node is None:
        raise PluginError("No active layer.")
    if node.type() not in ("paintlayer", "grouplayer", "filelayer", "vectorlayer",
                           "clonelayer", "filllayer"):
        raise PluginError("The active node (%s) is not a layer with pixels." % node.type())
    if settings.iterations < 1:
        raise PluginError("Iterations must be at least 1.")
    style = load_style(settings.style)
    doc.waitForDone()
    rect = region(doc)
    content, fmt, depth, converted = read_layer(node, rect)
    mask = selection_mask(doc, rect)
    job = Job(node, rect, content, fmt, depth, mask, style, settings, converted)
    job.working_size()  # PluginError for a region the engine cannot take
    return job


def commit(doc, job, result, name=LAYER_NAME):
    """A new paint layer above job.node holding `result` (main thread); returns it."""
    node = job.node
    final = (node.colorModel(), node.colorDepth(), node.colorProfile())
    engine = ("RGBA", job.depth, SRGB_PROFILE) if job.converted else final
    layer = doc.createNode(name, "paintlayer")
    for space in (engine, final):
        if (layer.colorModel(), layer.colorDepth(), layer.colorProfile()) != space:
            if not layer.setColorSpace(*space):
                raise PluginError("Cannot make a layer in %s/%s, %s." % space)
        if space is engine:
            x, y, w, h = job.rect
            layer.setPixelData(from_engine(result, job.depth), x, y, w, h)
    parent = node.parentNode() or doc.rootNode()
    parent.addChildNode(layer, node)
    doc.refreshProjection()
    return layer


def stylize(doc, node, settings, progress=None):
    """prepare + run + commit in this thread; returns the new layer."""
    job = prepare(doc, node, settings)
    result = job.run(progress)
    return commit(doc, job, result)


def log(*args):
    print("nstyle_krita:", *args, file=sys.stderr)
