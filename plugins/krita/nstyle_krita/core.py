"""The plug-in's processing path, free of any dialog: read a layer, run the engine, write a layer.

    job = prepare(doc, node, settings)     # main thread: reads pixels, selection, style image
    result = job.run(progress)             # any thread: the engine only, no Krita calls
    layer = commit(doc, job, result)       # main thread: a new paint layer above `node`

stylize() does the three in a row. Every failure before commit() leaves the document untouched:
prepare() raises PluginError (bad input) and job.run() nstyle.Error / nstyle.Cancelled.

This module only adapts Krita to the nstyle binding: the engine's defaults, ranges and help text
come from nstyle.options(), the working size from Model.result_size(), stepping, progress and
cancel from Model.run().

Pixels go to the library in Krita's own layout: 8-bit RGBA as B,G,R,A ("bgra8"), half and float
RGBA as R,G,B,A ("rgba_f16", "rgba_f32"); 16-bit integer RGBA (B,G,R,A, for which the library
has no format) has red and blue swapped here. Layers that are not RGBA with an sRGB tone curve
(linear or wide-gamut RGB, grey, CMYK, Lab...) are read through an unattached sRGB copy of the
same depth, and the new layer is converted back to the source layer's colour space.

With a selection the engine works on the selection's bounding box, and the new layer is shown
only inside the selection through a transparency mask made from it (soft edges kept; the user can
edit the mask). Krita before 5.2 has no scripting call that makes a usable transparency mask
(Document.createTransparencyMask): there the new layer's alpha is multiplied by the selection.
Without a selection the whole layer is processed.

With "selection_as_region" the selection is instead the style's region (spatial control, the
library's style masks): the whole layer is worked on, the style paints inside the selection and
the photo stays outside (or a second style, "outside_style", paints the rest); the boundary is
painted by the optimisation, not cut, and the new layer covers the whole layer.
"""

import array
import os
import struct
import sys

import nstyle

LAYER_NAME = "Neural Style"
MASK_NAME = "Selection"

# The settings the dialog shows and remembers that are engine options (nstyle.options() rows);
# their defaults, ranges and help text are the library's.
ENGINE_KEYS = ("strength", "backbone", "iterations", "size", "content_weight", "style_weight",
               "tv_weight", "preserve_colors", "precision", "seed")
# Settings of the host alone: (default, type). "auto" is nstyle.Model(device=None).
HOST_FIELDS = {"style": ("", str), "device": ("auto", str), "selection_as_region": (False, bool),
               "outside_style": ("", str)}
# Engine settings whose default here is the plug-in's, not the library's: size 0, the layer's
# (or selection's) own size, so the new layer is never a small result stretched unless the user
# asks for one; the dialog shows the estimate of what that costs before OK.
HOST_DEFAULTS = {"size": 0}

# Krita colour depth -> (library format of Krita's bytes, bytes per channel, swap red and blue)
_DEPTHS = {
    "U8": ("bgra8", 1, False),
    "U16": ("rgba16", 2, True),    # Krita's B,G,R,A; the library has no 16-bit BGRA
    "F16": ("rgba_f16", 2, False),
    "F32": ("rgba_f32", 4, False),
}

_PY_TYPES = {"int": int, "float": float, "bool": bool, "choice": str, "layers": str}


class PluginError(Exception):
    """Bad input found before anything ran (no style file, unsupported layer, ...)."""


def engine_options():
    """{key: nstyle.Option} of ENGINE_KEYS, from the library's option table."""
    rows = {o.key: o for o in nstyle.options()}
    return {key: rows[key] for key in ENGINE_KEYS}


def _py_type(opt):
    if opt.kind == "int" and opt.default in opt.words:
        return str  # a word by default, such as "auto"; a number otherwise
    # (An int whose default is a number, like size with its extra words 0/full, stays an int:
    # the dialog shows it in a spin box.)
    return _PY_TYPES[opt.kind]


class Settings:
    """What the dialog asks for, plus the engine knobs a test or an expert may set. Engine
    settings default to the library's defaults."""

    @staticmethod
    def fields():
        """{name: (default, type)}: HOST_FIELDS and ENGINE_KEYS with the library's defaults."""
        out = dict(HOST_FIELDS)
        for key, opt in engine_options().items():
            out[key] = (HOST_DEFAULTS.get(key, opt.parse_default()), _py_type(opt))
        return out

    def __init__(self, **values):
        fields = self.fields()
        self._names = tuple(fields)
        for name, (default, _) in fields.items():
            setattr(self, name, default)
        for name, value in values.items():
            if name not in fields:
                raise TypeError("unknown setting %r" % name)
            setattr(self, name, fields[name][1](value))

    def as_dict(self):
        return {name: getattr(self, name) for name in self._names}

    def __repr__(self):
        return "Settings(%s)" % ", ".join("%s=%r" % kv for kv in self.as_dict().items())


def check_settings(settings):
    """PluginError, in the library's words, for an engine setting outside the option table's
    range or words."""
    for key, opt in engine_options().items():
        value = getattr(settings, key)
        if key == "size" and value == 0:
            continue  # the region's own size (the library's word for it: 0 or full)
        if opt.kind in ("int", "float") and not isinstance(value, str):
            if not opt.minimum <= value <= opt.maximum:
                raise PluginError("%s must be %s, not %s." % (key.replace("_", " ").capitalize(),
                                                              opt.accepts, value))
        elif opt.kind == "choice" and value not in opt.words:
            raise PluginError("%s must be %s, not %r." % (key.replace("_", " ").capitalize(),
                                                         opt.accepts, value))


# ----------------------------------------------------------------------------- pixels

def swap_red_blue_16(data):
    """B,G,R,A <-> R,G,B,A for 2-byte channels; returns a new bytes object."""
    src = array.array("H")
    src.frombytes(bytes(data))
    out = array.array("H", src)
    out[0::4] = src[2::4]
    out[2::4] = src[0::4]
    return out.tobytes()


SRGB_PROFILE = "sRGB-elle-V2-srgbtrc.icc"  # Krita's own sRGB, shipped with every Krita


def is_srgb(profile):
    """True for an sRGB profile with the sRGB tone curve (what VGG was trained on)."""
    p = profile.lower()
    return "srgb" in p and not any(t in p for t in ("g10", "linear", "scrgb", "esrgb"))


def engine_space(node):
    """(library format, depth, converted): how the layer's pixels reach the engine. RGBA layers
    with an sRGB profile go as they are; any other layer (linear or wide-gamut RGB, grey, CMYK,
    Lab, ...) goes through an sRGB copy of the same depth (converted=True)."""
    model, depth, profile = node.colorModel(), node.colorDepth(), node.colorProfile()
    if depth not in _DEPTHS:
        raise PluginError("Layer \u201c%s\u201d has an unsupported colour depth (%s)."
                          % (node.name(), depth))
    converted = not (model == "RGBA" and is_srgb(profile))
    return _DEPTHS[depth][0], depth, converted


def to_engine(data, depth):
    """Krita's RGBA pixel bytes of `depth` -> the bytes the library reads (the same except
    16-bit integer, whose red and blue are swapped)."""
    return swap_red_blue_16(data) if _DEPTHS[depth][2] else bytes(data)


def from_engine(data, depth):
    """The library's bytes -> Krita's (inverse of to_engine)."""
    return swap_red_blue_16(data) if _DEPTHS[depth][2] else bytes(data)


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
    """One byte (0..255) per pixel of rect from the global selection, or None without one."""
    sel = doc.selection()
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return None
    x, y, w, h = rect
    mask = bytes(sel.pixelData(x, y, w, h))
    if len(mask) != w * h:
        raise PluginError("Unexpected selection data (%d bytes for %dx%d)." % (len(mask), w, h))
    return mask


def can_make_masks(doc):
    """True where Krita's scripting can make a transparency mask with pixels (Krita 5.2+)."""
    return hasattr(doc, "createTransparencyMask")


def read_layer(node, rect):
    """The layer's pixels in rect as (library bytes, library format, depth, converted). Never
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
    expected = w * h * 4 * _DEPTHS[depth][1]
    if len(raw) != expected:
        raise PluginError("Unexpected layer data (%d bytes, expected %d)." % (len(raw), expected))
    return to_engine(raw, depth), fmt, depth, converted


def multiply_alpha(data, fmt, mask):
    """Multiplies the alpha (the 4th channel in every format used here) by mask/255; for Krita
    without transparency masks. mask None or all 255: unchanged."""
    if mask is None or mask.count(255) == len(mask):
        return bytes(data)
    if fmt in ("bgra8", "rgba8"):
        out = bytearray(data)
        out[3::4] = bytes((a * m + 127) // 255 for a, m in zip(out[3::4], mask))
        return bytes(out)
    if fmt == "rgba16":
        values = array.array("H")
        values.frombytes(bytes(data))
        values[3::4] = array.array("H", ((a * m + 127) // 255
                                         for a, m in zip(values[3::4], mask)))
        return values.tobytes()
    code = {"rgba_f16": "e", "rgba_f32": "f"}[fmt]
    values = list(struct.unpack("=%d%s" % (len(data) // struct.calcsize(code), code), data))
    values[3::4] = [a * m / 255.0 for a, m in zip(values[3::4], mask)]
    return struct.pack("=%d%s" % (len(values), code), *values)


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
    return bytes(ptr), w, h, image.bytesPerLine()


# ----------------------------------------------------------------------------- the job

def fit_size(model, requested, width, height):
    """Sets the engine's `size` for a width x height content already set on `model` and returns
    Model.result_size(). The requested size (0: the region's own, full resolution), but no
    larger than the region (a small selection is not worked on at more pixels than it has); a
    region so thin that the library's working image would be narrower than its smallest `size`
    is worked on larger, within its range."""
    if requested == 0:
        # The region's own size: the library's rule (within the option's range, and raised
        # until the working image is not too thin), as in every host.
        model.set_option("size", 0)
        return model.result_size()
    opt = nstyle.option("size")
    lo, hi = int(opt.minimum), int(opt.maximum)
    size = max(lo, min(requested, max(width, height), hi))
    model.set_option("size", size)
    w, h = model.result_size()
    if min(w, h) < lo and size < hi:
        size = min(hi, -(-lo * max(width, height) // min(width, height)))
        model.set_option("size", size)
        w, h = model.result_size()
        while min(w, h) < lo and size < hi:  # the library's rounding decides
            size += 1
            model.set_option("size", size)
            w, h = model.result_size()
    return w, h


class Job:
    """Everything the engine needs, read from the document; run() touches no Krita object."""

    def __init__(self, node, rect, content, fmt, depth, mask, style, settings, converted=False,
                 use_mask_layer=False, region_mask=None, outside=None):
        self.node = node
        self.converted = converted  # content was converted to sRGB; convert the result back
        self.rect = rect
        self.content = content
        self.fmt = fmt
        self.depth = depth
        self.mask = mask            # selection bytes over rect, or None
        self.use_mask_layer = use_mask_layer  # commit() adds a transparency mask
        self.style = style          # (rgba8 bytes, w, h, stride)
        self.region_mask = region_mask  # selection bytes over rect: the style's region, or None
        self.outside = outside      # the style painting outside the region (as style), or None
        self.settings = settings
        self.result_size = None     # the engine's working size, set by run()
        self.engine_values = {}     # strength and backbone as the library read them, by run()
        self._model = None
        self._cancelled = False

    @property
    def total(self):
        return self.settings.iterations

    def add_styles(self, model):
        """The job's styles on `model` (after its content): the style, with the selection as its
        region in region mode, and the style for the rest if there is one."""
        _, _, w, h = self.rect
        model.clear_styles()
        pixels, sw, sh, stride = self.style
        model.add_style(pixels, sw, sh, "rgba8", stride=stride)
        if self.region_mask is not None:
            model.set_style_mask(0, self.region_mask, w, h, "grey8")
        if self.outside is not None:
            pixels, sw, sh, stride = self.outside
            model.add_style(pixels, sw, sh, "rgba8", stride=stride)

    def run(self, progress=None, chunk=None):
        """Runs the engine; returns the result in the library format `fmt` at the region's
        size (alpha multiplied by the selection where commit() cannot add a mask). progress(p)
        gets an nstyle.Progress after every chunk (nstyle.Model.run: about twice a second, or
        `chunk` iterations). Raises nstyle.Error / nstyle.Cancelled."""
        s = self.settings
        _, _, w, h = self.rect
        device = None if s.device in ("", "auto") else s.device
        with nstyle.Model(device=device) as model:
            self._model = model
            try:
                for key in ENGINE_KEYS:
                    if key != "size":
                        model.set_option(key, getattr(s, key))
                model.set_content(self.content, w, h, self.fmt)
                self.result_size = fit_size(model, s.size, w, h)
                self.add_styles(model)
                self.engine_values = {k: model.get_option(k) for k in ("strength", "backbone")}
                if self._cancelled:  # cancel() came before the run: nothing stops it otherwise
                    raise nstyle.Cancelled(nstyle.Status.ERR_CANCELLED, "cancelled")

                def report(p):
                    answer = progress(p) if progress is not None else None
                    # The job's own flag, between steps (the library's cancel stops only the
                    # step that is running).
                    return False if self._cancelled else answer
                model.run(report, chunk=chunk)
                result = model.fetch(w, h, self.fmt)
            finally:
                self._model = None
        if not self.use_mask_layer:
            result = multiply_alpha(result, self.fmt, self.mask)
        return result

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
    check_settings(settings)
    style = load_style(settings.style)
    doc.waitForDone()
    if settings.selection_as_region:
        rect = (0, 0, doc.width(), doc.height())
        region_mask = selection_mask(doc, rect)
        # As in GIMP: the option paints the selection, so nothing selected is an error, not
        # the style over everything (that is what the option off does).
        if region_mask is None or not any(region_mask):
            raise PluginError("Nothing is selected: select the region to paint, or untick "
                              "\"Paint the style inside the selection\".")
        outside = load_style(settings.outside_style) if settings.outside_style else None
        content, fmt, depth, converted = read_layer(node, rect)
        return Job(node, rect, content, fmt, depth, None, style, settings, converted,
                   region_mask=region_mask, outside=outside)
    rect = region(doc)
    content, fmt, depth, converted = read_layer(node, rect)
    mask = selection_mask(doc, rect)
    return Job(node, rect, content, fmt, depth, mask, style, settings, converted,
               use_mask_layer=mask is not None and can_make_masks(doc))


def commit(doc, job, result, name=LAYER_NAME):
    """A new paint layer above job.node holding `result` (main thread), with a transparency
    mask from the selection if the job has one (Krita 5.2+); returns the layer."""
    node = job.node
    final = (node.colorModel(), node.colorDepth(), node.colorProfile())
    engine = ("RGBA", job.depth, SRGB_PROFILE) if job.converted else final
    layer = doc.createNode(name, "paintlayer")
    x, y, w, h = job.rect
    for space in (engine, final):
        if (layer.colorModel(), layer.colorDepth(), layer.colorProfile()) != space:
            if not layer.setColorSpace(*space):
                raise PluginError("Cannot make a layer in %s/%s, %s." % space)
        if space is engine:
            layer.setPixelData(from_engine(result, job.depth), x, y, w, h)
    if job.use_mask_layer and job.mask is not None:
        # made before the layer joins the document, so the layer (not the mask) stays active
        mask = doc.createTransparencyMask(MASK_NAME)
        layer.addChildNode(mask, None)
        mask.setPixelData(job.mask, x, y, w, h)
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
