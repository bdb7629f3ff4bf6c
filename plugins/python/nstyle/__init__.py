"""nstyle: neural style transfer (Gatys et al.) with VGG-19, a ctypes binding over libnstyle.so.

    import nstyle
    with nstyle.Model(device="cpu") as model:
        model.set_option("size", 256)
        model.set_option("iterations", 100)
        model.set_content(rgba_bytes, width, height)            # format="rgba8"
        model.add_style(rgb_bytes, sw, sh, format="rgb8")
        model.run(lambda p: print(p.iteration, p.total))        # steps to the end
        out = model.fetch(width, height)                         # bytes, rgba8

The photo/painting balance is one knob, model.set_option("strength", 0.8) (0 keeps the photo
nearly as it is, 1 paints it over; it scales the style weight), with set_weights() as the expert
path; model.set_option("backbone", "lite") picks EfficientNet-Lite0, many times faster per
iteration than VGG-19 (previews, slow machines; its weights file is found like VGG-19's, e.g.
next to libnstyle.so). Ranges, defaults and words: nstyle.option("strength"), ("backbone").

Model.estimate_seconds() says roughly how long a run with the current content, styles and
options takes on this machine (the library probes its network once, then answers at once);
nstyle.describe_seconds() words it for a dialog ("about 3 min").

Model.run() steps in chunks sized to report progress about twice a second until the library
says the run is done (NSTYLE_DONE), honours Model.cancel() from any thread and a progress
callback that returns False; Model.step(n) is the single step underneath, for hosts that drive
the loop themselves: its Progress has `done` (from the step's status, NSTYLE_DONE) and `terms`
(the loss terms by name: content, style, tv, and temporal / histogram when present; they add up
to `loss`). Option defaults, ranges and tooltips come from nstyle.options() (the library's own
table).

Model.set_input(slot, index, pixels, width, height, format) is the one input call
(nstyle_set_input): slots "content", "style", "style_region", "style_source_region",
"content_mask", "init_image", "temporal_target", "temporal_weights" (or Input members); pixels
None clears. set_content, set_style_mask and the other per-input methods remain.

Pixels are bytes-like objects (bytes, bytearray, memoryview, array.array, ...) or numpy arrays.
Formats: "rgb8", "rgba8", "bgra8" (Qt/Cairo ARGB32 on little-endian), "rgba16" (native-endian
uint16), "rgba_f16" (half floats), "rgba_f32" (native float32, 0..1), non-premultiplied; float
NaN reads as 0 and values are clamped to 0..1 by the library. Planes (regions, masks, temporal
weights): "grey8", "grey16", "grey_f32". Every failure raises nstyle.Error (nstyle.Cancelled for
a cancelled step or run) with the engine's status and message (a model's calls:
nstyle_errmsg(model), the same from any thread; Model.errmsg()).

The library is found via $NSTYLE_LIBRARY, then next to this package (inside its folder or
beside it), then the system's search path. libnstyle.so finds libtorch through its own RUNPATH.
"""

import collections
import ctypes
import ctypes.util
import enum
import os
import math
import threading
import time

__all__ = [
    "ABI_VERSION",
    "Cancelled",
    "Error",
    "CONSTANTS",
    "Format",
    "Input",
    "MaskFormat",
    "Model",
    "Device",
    "Option",
    "OptionEffect",
    "OptionType",
    "Preview",
    "PreviewEstimate",
    "PreviewFrame",
    "PreviewText",
    "Progress",
    "Status",
    "__version__",
    "abi_version",
    "describe_seconds",
    "devices",
    "diagnostics",
    "last_error",
    "library",
    "library_path",
    "option",
    "options",
    "version",
]

#: The ABI version this binding was written for (NSTYLE_ABI_VERSION in include/nstyle.h).
ABI_VERSION = 7

#: This binding's version; the library's is version() (the same in a release).
__version__ = "0.1.0"


class Status(enum.IntEnum):
    """NstyleStatus."""

    OK = 0
    ERR_ARGUMENT = 1
    ERR_STATE = 2
    ERR_IO = 3
    ERR_MODEL = 4
    ERR_MEMORY = 5
    ERR_DEVICE = 6
    ERR_CANCELLED = 7
    ERR_NUMERIC = 8
    ERR_INTERNAL = 9
    #: Not an error: nstyle_step completed the run (since ABI 6).
    DONE = 100


class Format(enum.IntEnum):
    """NstyleFormat; methods also take the names "rgb8", "rgba8", "bgra8", "rgba16",
    "rgba_f16", "rgba_f32" (colours) and "grey8", "grey16", "grey_f32" (planes, since ABI 6)."""

    RGB8 = 0
    RGBA8 = 1
    RGBA16 = 2
    RGBA_F32 = 3
    BGRA8 = 4
    RGBA_F16 = 5
    GREY8 = 6
    GREY16 = 7
    GREY_F32 = 8


# name -> (format, bytes per pixel, numpy dtype name, channels)
_FORMATS = {
    "rgb8": (Format.RGB8, 3, "uint8", 3),
    "rgba8": (Format.RGBA8, 4, "uint8", 4),
    "rgba16": (Format.RGBA16, 8, "uint16", 4),
    "rgba_f32": (Format.RGBA_F32, 16, "float32", 4),
    "bgra8": (Format.BGRA8, 4, "uint8", 4),
    "rgba_f16": (Format.RGBA_F16, 8, "float16", 4),
}
# The planes (NstyleFormat 6..8), as _FORMATS.
_PLANE_FORMATS = {
    "grey8": (Format.GREY8, 1, "uint8", 1),
    "grey16": (Format.GREY16, 2, "uint16", 1),
    "grey_f32": (Format.GREY_F32, 4, "float32", 1),
}
_FORMAT_NAMES = {f: name for name, (f, _, _, _) in list(_FORMATS.items())
                 + list(_PLANE_FORMATS.items())}


class Input(enum.IntEnum):
    """NstyleInput: the slots Model.set_input sets or clears (since ABI 6); methods also take
    the lower-case names ("content", "style", "style_region", ...)."""

    CONTENT = 0
    STYLE = 1
    STYLE_REGION = 2
    STYLE_SOURCE_REGION = 3
    CONTENT_MASK = 4
    INIT_IMAGE = 5
    TEMPORAL_TARGET = 6
    TEMPORAL_WEIGHTS = 7


# The slots that take a plane (the others take a colour image): the default format for them.
_PLANE_INPUTS = (Input.STYLE_REGION, Input.STYLE_SOURCE_REGION, Input.CONTENT_MASK,
                 Input.TEMPORAL_WEIGHTS)


class PreviewText(enum.IntEnum):
    """NstylePreviewText: the texts Preview reads (since ABI 7)."""

    MESSAGE = 0
    TERMS = 1
    ESTIMATE = 2


class OptionType(enum.IntEnum):
    """NstyleOptionType (Option.kind is its lower-case name)."""

    INT = 0
    FLOAT = 1
    CHOICE = 2
    BOOL = 3
    LAYERS = 4


class OptionEffect(enum.IntEnum):
    """NstyleOptionEffect (Option.effect is its lower-case name)."""

    RESTART = 0
    RETARGET = 1
    LIVE = 2


class MaskFormat(enum.IntEnum):
    """NstyleMaskFormat (since ABI 4); methods also take "grey8", "grey16", "grey_f32"."""

    GREY8 = 0
    GREY16 = 1
    GREY_F32 = 2


# name -> (format, bytes per sample, numpy dtype name, channels), as _FORMATS.
_MASK_FORMATS = {
    "grey8": (MaskFormat.GREY8, 1, "uint8", 1),
    "grey16": (MaskFormat.GREY16, 2, "uint16", 1),
    "grey_f32": (MaskFormat.GREY_F32, 4, "float32", 1),
}

#: Every constant of include/nstyle.h by its C name (tests compare it with the header).
CONSTANTS = {
    "NSTYLE_ABI_VERSION": ABI_VERSION,
    "NSTYLE_OK": Status.OK,
    "NSTYLE_ERR_ARGUMENT": Status.ERR_ARGUMENT,
    "NSTYLE_ERR_STATE": Status.ERR_STATE,
    "NSTYLE_ERR_IO": Status.ERR_IO,
    "NSTYLE_ERR_MODEL": Status.ERR_MODEL,
    "NSTYLE_ERR_MEMORY": Status.ERR_MEMORY,
    "NSTYLE_ERR_DEVICE": Status.ERR_DEVICE,
    "NSTYLE_ERR_CANCELLED": Status.ERR_CANCELLED,
    "NSTYLE_ERR_NUMERIC": Status.ERR_NUMERIC,
    "NSTYLE_ERR_INTERNAL": Status.ERR_INTERNAL,
    "NSTYLE_DONE": Status.DONE,
    "NSTYLE_RGB8": Format.RGB8,
    "NSTYLE_RGBA8": Format.RGBA8,
    "NSTYLE_RGBA16": Format.RGBA16,
    "NSTYLE_RGBA_F32": Format.RGBA_F32,
    "NSTYLE_BGRA8": Format.BGRA8,
    "NSTYLE_RGBA_F16": Format.RGBA_F16,
    "NSTYLE_GREY8": Format.GREY8,
    "NSTYLE_GREY16": Format.GREY16,
    "NSTYLE_GREY_F32": Format.GREY_F32,
    "NSTYLE_OPTION_INT": OptionType.INT,
    "NSTYLE_OPTION_FLOAT": OptionType.FLOAT,
    "NSTYLE_OPTION_CHOICE": OptionType.CHOICE,
    "NSTYLE_OPTION_BOOL": OptionType.BOOL,
    "NSTYLE_OPTION_LAYERS": OptionType.LAYERS,
    "NSTYLE_EFFECT_RESTART": OptionEffect.RESTART,
    "NSTYLE_EFFECT_RETARGET": OptionEffect.RETARGET,
    "NSTYLE_EFFECT_LIVE": OptionEffect.LIVE,
    "NSTYLE_MASK_GREY8": MaskFormat.GREY8,
    "NSTYLE_MASK_GREY16": MaskFormat.GREY16,
    "NSTYLE_MASK_GREY_F32": MaskFormat.GREY_F32,
    "NSTYLE_INPUT_CONTENT": Input.CONTENT,
    "NSTYLE_INPUT_STYLE": Input.STYLE,
    "NSTYLE_INPUT_STYLE_REGION": Input.STYLE_REGION,
    "NSTYLE_INPUT_STYLE_SOURCE_REGION": Input.STYLE_SOURCE_REGION,
    "NSTYLE_INPUT_CONTENT_MASK": Input.CONTENT_MASK,
    "NSTYLE_INPUT_INIT_IMAGE": Input.INIT_IMAGE,
    "NSTYLE_INPUT_TEMPORAL_TARGET": Input.TEMPORAL_TARGET,
    "NSTYLE_INPUT_TEMPORAL_WEIGHTS": Input.TEMPORAL_WEIGHTS,
    "NSTYLE_PREVIEW_TEXT_MESSAGE": PreviewText.MESSAGE,
    "NSTYLE_PREVIEW_TEXT_TERMS": PreviewText.TERMS,
    "NSTYLE_PREVIEW_TEXT_ESTIMATE": PreviewText.ESTIMATE,
}


def _format_name(fmt):
    if isinstance(fmt[0], MaskFormat):
        return fmt[0].name.lower()
    return _FORMAT_NAMES[fmt[0]]


class Error(Exception):
    """A failed call: `status` (a Status) and `message` (for a model's calls
    nstyle_errmsg(model), else nstyle_last_error(), or the binding's own)."""

    def __init__(self, status, message):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.message = message
        name = status.name if isinstance(status, Status) else str(status)
        super().__init__("%s: %s" % (name, message))


class Cancelled(Error):
    """A step stopped by Model.cancel() (Status.ERR_CANCELLED); the model stays usable."""


class Progress:
    """Where a model stands after a step: NstyleProgress's fields (FIELDS), `terms` (the last
    step's weighted loss terms by name, in the library's order: content, style, tv, then
    temporal and histogram when present; they add up to `loss`) and `done` (the step returned
    NSTYLE_DONE: the run is complete)."""

    #: NstyleProgress's fields, in order.
    FIELDS = ("iteration", "total", "scale", "scales", "loss", "content_loss", "style_loss",
              "tv_loss")
    __slots__ = FIELDS + ("terms", "done")

    def __init__(self, iteration=0, total=0, scale=0, scales=0, loss=0.0, content_loss=0.0,
                 style_loss=0.0, tv_loss=0.0, terms=None, done=False):
        self.iteration = iteration
        self.total = total
        self.scale = scale
        self.scales = scales
        self.loss = loss
        self.content_loss = content_loss
        self.style_loss = style_loss
        self.tv_loss = tv_loss
        self.terms = dict(terms) if terms else {}
        self.done = bool(done)

    def describe_terms(self):
        """The terms in words for a dialog: "content 1.2e+06 · style 3.4e+06 · tv 12"."""
        return " \u00b7 ".join("%s %.3g" % (name, value) for name, value in self.terms.items())

    @property
    def fraction(self):
        """iteration / total, 0..1."""
        return self.iteration / self.total if self.total else 0.0

    def _astuple(self):
        return tuple(getattr(self, k) for k in self.__slots__)

    def __eq__(self, other):
        return isinstance(other, Progress) and self._astuple() == other._astuple()

    def __repr__(self):
        return "Progress(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.__slots__)


# --------------------------------------------------------------------------- the C ABI

class _Weights(ctypes.Structure):
    _fields_ = [("content", ctypes.c_float), ("style", ctypes.c_float), ("tv", ctypes.c_float)]


class _Progress(ctypes.Structure):
    _fields_ = [
        ("iteration", ctypes.c_uint32),
        ("total", ctypes.c_uint32),
        ("scale", ctypes.c_uint32),
        ("scales", ctypes.c_uint32),
        ("loss", ctypes.c_double),
        ("content_loss", ctypes.c_double),
        ("style_loss", ctypes.c_double),
        ("tv_loss", ctypes.c_double),
    ]


class _Image(ctypes.Structure):
    """NstyleImage (since ABI 6)."""

    _fields_ = [
        ("pixels", ctypes.c_void_p),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("stride_bytes", ctypes.c_size_t),
        ("format", ctypes.c_uint32),
    ]


class _OptionInfo(ctypes.Structure):
    _fields_ = [
        ("key", ctypes.c_char_p),
        ("value_type", ctypes.c_uint32),
        ("effect", ctypes.c_uint32),
        ("min", ctypes.c_double),
        ("max", ctypes.c_double),
        ("words", ctypes.c_char_p),
        ("default_value", ctypes.c_char_p),
        ("unit", ctypes.c_char_p),
        ("doc", ctypes.c_char_p),
        ("accepts", ctypes.c_char_p),
    ]


class _DeviceInfo(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("memory_bytes", ctypes.c_uint64),
        ("usable", ctypes.c_uint32),
        ("reason", ctypes.c_char_p),
    ]


class _PreviewFrame(ctypes.Structure):
    """NstylePreviewFrame (since ABI 7)."""

    _fields_ = [
        ("job", ctypes.c_uint32),
        ("serial", ctypes.c_uint32),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("quick", ctypes.c_uint32),
        ("done", ctypes.c_uint32),
        ("status", ctypes.c_int),
        ("seconds", ctypes.c_double),
        ("progress", _Progress),
    ]


class _PreviewEstimate(ctypes.Structure):
    """NstylePreviewEstimate (since ABI 7)."""

    _fields_ = [
        ("job", ctypes.c_uint32),
        ("status", ctypes.c_int),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("seconds", ctypes.c_double),
    ]


_ModelPtr = ctypes.c_void_p
_PreviewPtr = ctypes.c_void_p
_c_status = ctypes.c_int  # enum NstyleStatus

#: Every function of include/nstyle.h: name -> (restype, argtypes). The tests compare it with
#: the header.
FUNCTIONS = {
    "nstyle_abi_version": (ctypes.c_uint32, []),
    "nstyle_last_error": (ctypes.c_char_p, []),
    "nstyle_errmsg": (ctypes.c_char_p, [_ModelPtr]),
    "nstyle_model_create": (_c_status, [ctypes.c_char_p, ctypes.c_char_p,
                                        ctypes.POINTER(_ModelPtr)]),
    "nstyle_model_free": (None, [_ModelPtr]),
    "nstyle_set_content": (_c_status, [_ModelPtr, ctypes.c_void_p, ctypes.c_uint32,
                                       ctypes.c_uint32, ctypes.c_size_t, ctypes.c_uint32]),
    "nstyle_add_style": (_c_status, [_ModelPtr, ctypes.c_void_p, ctypes.c_uint32,
                                     ctypes.c_uint32, ctypes.c_size_t, ctypes.c_uint32,
                                     ctypes.c_float]),
    "nstyle_clear_styles": (_c_status, [_ModelPtr]),
    "nstyle_set_weights": (_c_status, [_ModelPtr, ctypes.POINTER(_Weights)]),
    "nstyle_set_option": (_c_status, [_ModelPtr, ctypes.c_char_p, ctypes.c_char_p]),
    "nstyle_step": (_c_status, [_ModelPtr, ctypes.c_uint32, ctypes.POINTER(_Progress)]),
    "nstyle_progress_term_count": (_c_status, [_ModelPtr, ctypes.POINTER(ctypes.c_uint32)]),
    "nstyle_progress_term": (_c_status, [_ModelPtr, ctypes.c_uint32,
                                         ctypes.POINTER(ctypes.c_char_p),
                                         ctypes.POINTER(ctypes.c_double)]),
    "nstyle_fetch_result": (_c_status, [_ModelPtr, ctypes.c_void_p, ctypes.c_uint32,
                                        ctypes.c_uint32, ctypes.c_size_t, ctypes.c_uint32]),
    "nstyle_cancel": (None, [_ModelPtr]),
    "nstyle_option_count": (ctypes.c_uint32, []),
    "nstyle_option_info": (_c_status, [ctypes.c_uint32, ctypes.POINTER(_OptionInfo)]),
    "nstyle_device_count": (ctypes.c_uint32, []),
    "nstyle_preview_create": (_c_status, [ctypes.c_char_p, ctypes.c_char_p,
                                          ctypes.POINTER(_PreviewPtr)]),
    "nstyle_preview_free": (None, [_PreviewPtr]),
    "nstyle_preview_side": (_c_status, [_PreviewPtr, ctypes.POINTER(ctypes.c_uint32)]),
    "nstyle_preview_start": (_c_status, [_PreviewPtr, _ModelPtr, ctypes.c_uint32,
                                         ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32)]),
    "nstyle_preview_frame": (_c_status, [_PreviewPtr, ctypes.POINTER(_PreviewFrame),
                                         ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32]),
    "nstyle_preview_estimate": (_c_status, [_PreviewPtr, ctypes.POINTER(_PreviewEstimate)]),
    "nstyle_preview_text": (_c_status, [_PreviewPtr, ctypes.c_uint32, ctypes.c_char_p,
                                        ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]),
    "nstyle_device_info": (_c_status, [ctypes.c_uint32, ctypes.POINTER(_DeviceInfo)]),
    "nstyle_option_find": (_c_status, [ctypes.c_char_p, ctypes.POINTER(_OptionInfo)]),
    "nstyle_get_option": (_c_status, [_ModelPtr, ctypes.c_char_p, ctypes.c_char_p,
                                      ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]),
    "nstyle_result_size": (_c_status, [_ModelPtr, ctypes.POINTER(ctypes.c_uint32),
                                       ctypes.POINTER(ctypes.c_uint32)]),
    "nstyle_estimate_seconds": (_c_status, [_ModelPtr, ctypes.POINTER(ctypes.c_double)]),
    "nstyle_style_side": (_c_status, [_ModelPtr, ctypes.POINTER(ctypes.c_uint32)]),
    "nstyle_estimate_text": (_c_status, [_ModelPtr, ctypes.c_char_p, ctypes.c_size_t,
                                         ctypes.POINTER(ctypes.c_size_t)]),
    "nstyle_describe_seconds": (_c_status, [ctypes.c_double, ctypes.c_char_p, ctypes.c_size_t,
                                            ctypes.POINTER(ctypes.c_size_t)]),
    "nstyle_version": (ctypes.c_char_p, []),
    "nstyle_diagnostics": (ctypes.c_char_p, []),
    "nstyle_set_init_image": (_c_status, [_ModelPtr, ctypes.c_void_p, ctypes.c_uint32,
                                          ctypes.c_uint32, ctypes.c_size_t, ctypes.c_uint32]),
    "nstyle_set_temporal": (_c_status, [_ModelPtr, ctypes.c_void_p, ctypes.c_uint32,
                                        ctypes.c_uint32, ctypes.c_size_t, ctypes.c_uint32,
                                        ctypes.POINTER(ctypes.c_float), ctypes.c_float]),
    "nstyle_clear_temporal": (_c_status, [_ModelPtr]),

    "nstyle_set_style_mask": (_c_status, [_ModelPtr, ctypes.c_uint32, ctypes.c_void_p,
                                          ctypes.c_uint32, ctypes.c_uint32, ctypes.c_size_t,
                                          ctypes.c_uint32]),
    "nstyle_clear_style_mask": (_c_status, [_ModelPtr, ctypes.c_uint32]),
    "nstyle_set_style_source_mask": (_c_status, [_ModelPtr, ctypes.c_uint32, ctypes.c_void_p,
                                                 ctypes.c_uint32, ctypes.c_uint32,
                                                 ctypes.c_size_t, ctypes.c_uint32]),
    "nstyle_clear_style_source_mask": (_c_status, [_ModelPtr, ctypes.c_uint32]),
    "nstyle_set_input": (_c_status, [_ModelPtr, ctypes.c_uint32, ctypes.c_uint32,
                                     ctypes.POINTER(_Image)]),

    "nstyle_set_content_mask": (_c_status, [_ModelPtr, ctypes.c_void_p, ctypes.c_uint32,
                                            ctypes.c_uint32, ctypes.c_size_t, ctypes.c_uint32]),
    "nstyle_clear_content_mask": (_c_status, [_ModelPtr]),
}

_LIB_NAME = "libnstyle.so"
_lib = None
_lib_path = None
_lib_lock = threading.Lock()


def _candidates():
    env = os.environ.get("NSTYLE_LIBRARY")
    if env:
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    paths = [os.path.join(here, _LIB_NAME), os.path.join(os.path.dirname(here), _LIB_NAME)]
    return [p for p in paths if os.path.exists(p)], False


def library():
    """The loaded libnstyle (a ctypes.CDLL with every prototype set); loads it on first use."""
    global _lib, _lib_path
    with _lib_lock:
        if _lib is not None:
            return _lib
        paths, explicit = _candidates()
        if not paths:
            found = ctypes.util.find_library("nstyle")
            paths = [found or _LIB_NAME]
        errors = []
        lib = None
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
                _lib_path = path
                break
            except OSError as e:
                errors.append("%s: %s" % (path, e))
        if lib is None:
            where = "$NSTYLE_LIBRARY" if explicit else \
                "next to the nstyle package or on the system's library path"
            raise Error(Status.ERR_IO, "cannot load libnstyle.so (%s): %s"
                        % (where, "; ".join(errors)))
        for name, (restype, argtypes) in FUNCTIONS.items():
            try:
                fn = getattr(lib, name)
            except AttributeError:
                raise Error(Status.ERR_INTERNAL, "%s lacks %s (an older library?)"
                            % (_lib_path, name)) from None
            fn.restype = restype
            fn.argtypes = argtypes
        version = lib.nstyle_abi_version()
        if version < ABI_VERSION:
            raise Error(Status.ERR_INTERNAL, "%s has ABI version %d, this binding needs %d"
                        % (_lib_path, version, ABI_VERSION))
        _lib = lib
        return lib


def library_path():
    """The path libnstyle was loaded from (loads it if needed)."""
    library()
    return _lib_path


def describe_seconds(seconds):
    """A time in words for a dialog: "about 40 s", "about 3 min", "about 2 h 10 min" (the
    library's words, nstyle_describe_seconds: the same as its estimates and `nstyle run
    --estimate`)."""
    lib = library()
    needed = ctypes.c_size_t(0)
    lib.nstyle_describe_seconds(float(seconds), None, 0, ctypes.byref(needed))
    buf = ctypes.create_string_buffer(max(needed.value, 1))
    _check(lib.nstyle_describe_seconds(float(seconds), buf, len(buf), None))
    return buf.value.decode("utf-8")


def version():
    """nstyle_version() of the loaded library, e.g. "0.1.0"."""
    return library().nstyle_version().decode("utf-8")


def diagnostics():
    """The library's self-check as text (nstyle_diagnostics(): versions, libtorch, device,
    weights and their checksums), ending in "status: ok" or PROBLEM lines. When the library
    itself cannot be loaded, says that and why instead of raising."""
    try:
        lib = library()
    except Error as e:
        return "library: %s\nPROBLEM: %s\n" % (_lib_path or "not loaded", e)
    return lib.nstyle_diagnostics().decode("utf-8", "replace")


def abi_version():
    """nstyle_abi_version() of the loaded library."""
    return int(library().nstyle_abi_version())


def last_error():
    """nstyle_last_error(): message of the last failed call on this thread (for a model's
    calls, Model.errmsg() is the one to read)."""
    raw = library().nstyle_last_error()
    return raw.decode("utf-8", "replace") if raw else ""


class Option:
    """One row of the library's option table (NstyleOptionInfo): what a host shows and checks.

    key, kind ("int", "float", "choice", "bool", "layers"), effect ("restart", "retarget",
    "live"), minimum/maximum (numbers; 0 for the others), words (choices, or words accepted
    besides numbers such as "auto"), default (text), unit, doc, accepts (the values in words).
    """

    KINDS = ("int", "float", "choice", "bool", "layers")
    EFFECTS = ("restart", "retarget", "live")

    def __init__(self, info):
        text = lambda raw: raw.decode("utf-8") if raw else ""  # noqa: E731
        self.key = text(info.key)
        self.kind = self.KINDS[info.value_type]
        self.effect = self.EFFECTS[info.effect]
        self.minimum = info.min
        self.maximum = info.max
        self.words = [w for w in text(info.words).split(",") if w]
        self.default = text(info.default_value)
        self.unit = text(info.unit)
        self.doc = text(info.doc)
        self.accepts = text(info.accepts)

    def parse_default(self):
        """The default as a Python value: int, float, bool, or the text itself."""
        if self.kind == "int" and self.default not in self.words:
            return int(self.default)
        if self.kind == "float":
            return float(self.default)
        if self.kind == "bool":
            return self.default == "1"
        return self.default

    def __repr__(self):
        return "Option(%r, %s, default %r)" % (self.key, self.kind, self.default)


def options():
    """The library's option table, in display order: a list of Option."""
    lib = library()
    rows = []
    for index in range(lib.nstyle_option_count()):
        info = _OptionInfo()
        _check(lib.nstyle_option_info(index, ctypes.byref(info)))
        rows.append(Option(info))
    return rows


#: A device a host can offer (nstyle_device_info): `id` for Model(device=...), `name` for a menu,
#: `memory_bytes`, and `reason` why it cannot be used (None when it can).
Device = collections.namedtuple("Device", "id name memory_bytes reason")


def devices():
    """The CPU, then each GPU the NVIDIA driver reports (nstyle_device_count/_info): a list of
    Device. The first call looks for the CUDA half, as the first "auto" or "cuda" model does."""
    lib = library()
    found = []
    for index in range(lib.nstyle_device_count()):
        info = _DeviceInfo()
        _check(lib.nstyle_device_info(index, ctypes.byref(info)))
        found.append(Device(_text(info.id), _text(info.name), int(info.memory_bytes),
                            None if info.usable else _text(info.reason)))
    return found


def _text(raw):
    """A static string of the library's as str."""
    return raw.decode("utf-8", "replace")


def option(key):
    """One row of the option table by key (nstyle_option_find); Error ERR_ARGUMENT if unknown."""
    info = _OptionInfo()
    k = key.encode("utf-8") if isinstance(key, str) else key
    _check(library().nstyle_option_find(k, ctypes.byref(info)))
    return Option(info)


def _check(status, handle=None):
    """Raises for a failed status (NSTYLE_OK and NSTYLE_DONE are successes). `handle`: the
    model the call was on (its message is nstyle_errmsg(handle)); None for calls without one."""
    if status != Status.OK and status != Status.DONE:
        lib = library()
        raw = lib.nstyle_errmsg(handle) if handle is not None else lib.nstyle_last_error()
        message = raw.decode("utf-8", "replace") if raw else ""
        if status == Status.ERR_CANCELLED:
            raise Cancelled(status, message)
        raise Error(status, message)


def _format(fmt):
    if isinstance(fmt, str):
        key = fmt.lower()
        if key not in _FORMATS:
            raise Error(Status.ERR_ARGUMENT, "unknown pixel format %r (one of %s)"
                        % (fmt, ", ".join(_FORMATS)))
        return _FORMATS[key]
    try:
        return _FORMATS[_FORMAT_NAMES[Format(fmt)]]
    except (ValueError, KeyError):
        raise Error(Status.ERR_ARGUMENT, "unknown pixel format %r" % (fmt,)) from None


def _mask_format(fmt):
    """A mask format (the names, MaskFormat or the plane Formats) as its plane Format entry."""
    if isinstance(fmt, str) and fmt.lower() in _PLANE_FORMATS:
        return _PLANE_FORMATS[fmt.lower()]
    if isinstance(fmt, Format) and fmt in _FORMAT_NAMES and _FORMAT_NAMES[fmt] in _PLANE_FORMATS:
        return _PLANE_FORMATS[_FORMAT_NAMES[fmt]]
    if not isinstance(fmt, (str, bool)) and isinstance(fmt, int):
        for name, entry in _MASK_FORMATS.items():
            if entry[0] == fmt:
                return _PLANE_FORMATS[name]
    raise Error(Status.ERR_ARGUMENT, "unknown mask format %r (one of %s)"
                % (fmt, ", ".join(_MASK_FORMATS)))


def _any_format(fmt):
    """A colour or plane format by name or number, for set_input (the library checks that it
    suits the slot)."""
    if isinstance(fmt, MaskFormat) or isinstance(fmt, str) and fmt.lower() in _PLANE_FORMATS:
        return _mask_format(fmt)
    if isinstance(fmt, int) and not isinstance(fmt, bool) \
            and fmt in (Format.GREY8, Format.GREY16, Format.GREY_F32):
        return _PLANE_FORMATS[_FORMAT_NAMES[Format(fmt)]]
    return _format(fmt)


def _input(slot):
    if isinstance(slot, str):
        try:
            return Input[slot.upper()]
        except KeyError:
            raise Error(Status.ERR_ARGUMENT, "unknown input %r (one of %s)" % (
                slot, ", ".join(i.name.lower() for i in Input))) from None
    return _index(slot, "input")   # an unknown number is the library's to refuse


def _index(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 32:
        raise Error(Status.ERR_ARGUMENT, "%s must be an integer >= 0, not %r" % (what, value))
    return value


def _dim(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2 ** 32:
        raise Error(Status.ERR_ARGUMENT, "%s must be a positive integer, not %r" % (what, value))
    return value


def _numpy_of(obj):
    """numpy's module if obj is a numpy array, else None (numpy is never imported otherwise)."""
    mod = type(obj).__module__
    if mod == "numpy" or mod.startswith("numpy."):
        import numpy
        if isinstance(obj, numpy.ndarray):
            return numpy
    return None


class _Pixels:
    """A read or write view of a caller's pixel buffer: pointer, length, keep-alive."""

    def __init__(self, pixels, width, height, fmt, stride, writable):
        _, bpp, dtype, channels = fmt
        row = width * bpp
        np = _numpy_of(pixels)
        if np is not None:
            if pixels.dtype != np.dtype(dtype):
                raise Error(Status.ERR_ARGUMENT, "a %s array needs dtype %s, not %s"
                            % (_format_name(fmt), dtype, pixels.dtype))
            if stride is None and pixels.ndim >= 2 and pixels.shape[0] == height \
                    and pixels.strides[0] > 0 and pixels[0].nbytes == row \
                    and pixels[0].flags.c_contiguous and not pixels.flags.c_contiguous:
                stride = pixels.strides[0]          # rows contiguous, padded apart
                size = stride * (height - 1) + row
                base = pixels.__array_interface__["data"][0]
                if writable and not pixels.flags.writeable:
                    raise Error(Status.ERR_ARGUMENT, "the output array is read-only")
                self.keep = pixels
                self.ptr = ctypes.c_void_p(base)
                self.stride = stride
                self._check_len(size, size, width, height, stride, row)
                return
            if not pixels.flags.c_contiguous:
                if writable:
                    raise Error(Status.ERR_ARGUMENT, "the output array must be C-contiguous")
                pixels = np.ascontiguousarray(pixels)
            if writable and not pixels.flags.writeable:
                raise Error(Status.ERR_ARGUMENT, "the output array is read-only")
            self.keep = pixels
            self.ptr = ctypes.c_void_p(pixels.ctypes.data)
            length = pixels.nbytes
        else:
            try:
                view = memoryview(pixels)
            except TypeError:
                raise Error(Status.ERR_ARGUMENT, "pixels must be a bytes-like object or a "
                            "numpy array, not %s" % type(pixels).__name__) from None
            if not view.c_contiguous:
                if writable:
                    raise Error(Status.ERR_ARGUMENT, "the output buffer must be contiguous")
                view = memoryview(view.tobytes())
            view = view.cast("B")
            length = view.nbytes
            if view.readonly:
                if writable:
                    raise Error(Status.ERR_ARGUMENT, "the output buffer is read-only")
                obj = view.obj
                if isinstance(obj, bytes) and len(obj) == length:
                    self.keep = obj                  # bytes: pass its own storage, no copy
                    self.ptr = ctypes.cast(ctypes.c_char_p(obj), ctypes.c_void_p)
                else:
                    copy = (ctypes.c_char * max(length, 1)).from_buffer_copy(view.tobytes())
                    self.keep = copy
                    self.ptr = ctypes.cast(copy, ctypes.c_void_p)
            else:
                carr = (ctypes.c_char * length).from_buffer(view) if length else None
                self.keep = (view, carr)
                self.ptr = ctypes.cast(carr, ctypes.c_void_p) if carr is not None else None
        if stride is None:
            stride = row
        self.stride = stride
        self._check_len(length, stride * (height - 1) + row, width, height, stride, row)

    @staticmethod
    def _check_len(length, needed, width, height, stride, row):
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < row:
            raise Error(Status.ERR_ARGUMENT, "stride %r is shorter than a row (%d bytes)"
                        % (stride, row))
        if length < needed:
            raise Error(Status.ERR_ARGUMENT, "%d bytes of pixels, %d×%d with stride %d needs %d"
                        % (length, width, height, stride, needed))


def _option_value(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


class Model:
    """A style-transfer model (NstyleModel): the network, the images, the settings, the run.

    weights: path of the VGG-19 safetensors (None: the library's own search);
    device: None/"auto", "cpu", "cuda", "cuda:N".
    A context manager; close() frees it (also on garbage collection). One thread at a time
    may use it (calls are serialised here too); cancel() may be called from any thread.
    A failed call raises Error with the model's own message (nstyle_errmsg), which errmsg()
    also reads from any thread.
    """

    def __init__(self, weights=None, device=None):
        self._lib = library()
        self._handle = None
        self._lock = threading.Lock()          # serialises calls, and close() against them
        self._cancel_lock = threading.Lock()   # cancel() against close()
        self._cancels = 0                      # cancel() calls so far: run() checks between steps
        handle = _ModelPtr()
        w = os.fsencode(weights) if weights is not None else None
        d = device.encode("utf-8") if isinstance(device, str) else device
        _check(self._lib.nstyle_model_create(w, d, ctypes.byref(handle)))
        self._handle = handle

    # -- life cycle

    def close(self):
        """Frees the model. A step running in another thread is cancelled first (again and
        again until it returns: a cancel stops only a step that is running). Idempotent."""
        if self._handle is None:
            return
        while True:
            self.cancel()
            if self._lock.acquire(timeout=0.05):
                break
        try:
            with self._cancel_lock:
                handle, self._handle = self._handle, None
                if handle is not None:
                    self._lib.nstyle_model_free(handle)
        finally:
            self._lock.release()

    @property
    def closed(self):
        return self._handle is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            if getattr(self, "_handle", None) is not None:
                self._lib.nstyle_model_free(self._handle)
                self._handle = None
        except Exception:
            pass

    def _h(self):
        if self._handle is None:
            raise Error(Status.ERR_STATE, "the model is closed")
        return self._handle

    def _call(self, function, *args):
        """function(handle, *args) under the lock; raises Error with nstyle_errmsg(model).
        Returns the status (NSTYLE_OK or NSTYLE_DONE)."""
        with self._lock:
            handle = self._h()
            status = function(handle, *args)
            _check(status, handle)
        return status

    def errmsg(self):
        """nstyle_errmsg(model): the message of the last call on this model that failed, from
        whichever thread made it ("no error" before any)."""
        handle = self._handle
        if handle is None:
            raise Error(Status.ERR_STATE, "the model is closed")
        raw = self._lib.nstyle_errmsg(handle)
        return raw.decode("utf-8", "replace") if raw else ""

    # -- images

    def set_input(self, slot, index, pixels, width=0, height=0, format=None, stride=None):
        """nstyle_set_input: sets input `slot` (an Input or its name: "content", "style",
        "style_region", "style_source_region", "content_mask", "init_image",
        "temporal_target", "temporal_weights") to `pixels` (copied), or clears it when pixels
        is None (width, height and format are then ignored). index: the style's number for
        the style slots (for "style" the number after the last adds a style), 0 for the others.
        format: a colour format ("rgba8", ...) or a plane format ("grey8", "grey16",
        "grey_f32"); None is "grey8" for the plane slots and "rgba8" for the others. A colour
        image where a plane goes (or the other way round) is the library's ERR_ARGUMENT."""
        slot = _input(slot)
        index = _index(index, "index")
        if pixels is None:
            self._call(self._lib.nstyle_set_input, slot, index, None)
            return
        if format is None:
            format = "grey8" if slot in _PLANE_INPUTS else "rgba8"
        fmt = _any_format(format)
        buf = _Pixels(pixels, _dim(width, "width"), _dim(height, "height"), fmt, stride, False)
        image = _Image(buf.ptr, width, height, buf.stride, fmt[0])
        self._call(self._lib.nstyle_set_input, slot, index, ctypes.byref(image))
        del buf

    def set_content(self, pixels, width, height, format="rgba8", stride=None):
        """Sets the content image (copied); restarts the run. Alpha is carried to the result."""
        self.set_input(Input.CONTENT, 0, pixels, width, height, _format(format)[0], stride)

    def add_style(self, pixels, width, height, format="rgba8", stride=None, weight=1.0):
        """Adds a style image (copied) with a blend weight; takes effect from the next step."""
        fmt = _format(format)
        buf = _Pixels(pixels, _dim(width, "width"), _dim(height, "height"), fmt, stride, False)
        self._call(self._lib.nstyle_add_style, buf.ptr, width, height, buf.stride, fmt[0],
                   float(weight))

    def clear_styles(self):
        """Removes every style image."""
        self._call(self._lib.nstyle_clear_styles)

    def set_init_image(self, pixels, width, height, format="rgba8", stride=None):
        """Starts the run from this image (copied) instead of the content, e.g. the previous
        video frame's result warped to this frame. Restarts the run."""
        self.set_input(Input.INIT_IMAGE, 0, pixels, width, height, _format(format)[0], stride)

    def set_temporal(self, pixels, width, height, weights=None, weight=1.0, format="rgba8",
                     stride=None):
        """Pulls the result towards a target image (copied) where `weights` is high (video:
        the previous stylised frame warped by optical flow, weights 0 where the flow is not
        reliable). weights: None (1 everywhere) or width*height floats in 0..1, row-major (a
        float32 numpy array of shape (height, width), or any sequence of numbers). weight: the
        term's weight. Keeps the current image; replaces an earlier target."""
        fmt = _format(format)
        buf = _Pixels(pixels, _dim(width, "width"), _dim(height, "height"), fmt, stride, False)
        count = width * height
        mask = None
        if weights is not None:
            np = _numpy_of(weights)
            if np is not None:
                array = np.ascontiguousarray(weights, dtype=np.float32)
                if array.size != count:
                    raise Error(Status.ERR_ARGUMENT, "%d weights for a %dx%d target, which "
                                "needs %d" % (array.size, width, height, count))
                mask = array
                mask_ptr = array.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            else:
                values = list(weights)
                if len(values) != count:
                    raise Error(Status.ERR_ARGUMENT, "%d weights for a %dx%d target, which "
                                "needs %d" % (len(values), width, height, count))
                mask = (ctypes.c_float * count)(*values)
                mask_ptr = ctypes.cast(mask, ctypes.POINTER(ctypes.c_float))
        else:
            mask_ptr = None
        self._call(self._lib.nstyle_set_temporal, buf.ptr, width, height, buf.stride, fmt[0],
                   mask_ptr, float(weight))
        del mask

    def clear_temporal(self):
        """Removes the temporal target (a plain run again, from the current image)."""
        self._call(self._lib.nstyle_clear_temporal)

    # -- regions (since ABI 4)

    def set_style_mask(self, style_index, pixels, width, height, format="grey8", stride=None):
        """Gives style `style_index` (0-based, in the order added) a region: a grey mask over
        the content (any size, stretched to it; 0 outside, full inside, soft edges kept) where
        that style paints. Styles without a region share the rest; where none reaches the photo
        stays. format: "grey8", "grey16" or "grey_f32" (finite, 0..1)."""
        fmt = _mask_format(format)
        self.set_input(Input.STYLE_REGION, _index(style_index, "style_index"), pixels, width,
                       height, fmt[0], stride)

    def clear_style_mask(self, style_index):
        """Removes style `style_index`'s region."""
        self.set_input(Input.STYLE_REGION, _index(style_index, "style_index"), None)

    def set_style_source_mask(self, style_index, pixels, width, height, format="grey8",
                              stride=None):
        """Takes style `style_index`'s style only from the masked part of its own image."""
        fmt = _mask_format(format)
        self.set_input(Input.STYLE_SOURCE_REGION, _index(style_index, "style_index"), pixels,
                       width, height, fmt[0], stride)

    def clear_style_source_mask(self, style_index):
        """Removes the mask over style `style_index`'s image."""
        self.set_input(Input.STYLE_SOURCE_REGION, _index(style_index, "style_index"), None)

    # -- content mask (since ABI 5)

    def set_content_mask(self, pixels, width, height, format="grey8", stride=None):
        """More photo where a grey mask over the content says: the content term weighs
        content_mask_gain times (option, default 10) as much inside. Same formats as
        set_style_mask."""
        fmt = _mask_format(format)
        self.set_input(Input.CONTENT_MASK, 0, pixels, width, height, fmt[0], stride)

    def clear_content_mask(self):
        """Removes the content mask."""
        self.set_input(Input.CONTENT_MASK, 0, None)

    # -- settings

    def set_weights(self, content=None, style=None, tv=None):
        """Loss weights (finite, >= 0); a weight left out (None) is the library's default
        (options' content_weight, style_weight, tv_weight). No restart."""
        given = {"content_weight": content, "style_weight": style, "tv_weight": tv}
        defaults = {o.key: o for o in options() if o.key in given} \
            if None in given.values() else {}
        content, style, tv = (float(v) if v is not None else defaults[k].parse_default()
                              for k, v in given.items())
        weights = _Weights(content, style, tv)
        self._call(self._lib.nstyle_set_weights, ctypes.byref(weights))

    def set_option(self, key, value):
        """Sets an option (see include/nstyle.h): e.g. ("size", 512), ("preserve_colors", True)."""
        k = key.encode("utf-8") if isinstance(key, str) else key
        v = _option_value(value).encode("utf-8")
        self._call(self._lib.nstyle_set_option, k, v)

    def set_options(self, **options):
        """set_option for each keyword."""
        for key, value in options.items():
            self.set_option(key, value)

    def get_option(self, key):
        """The current value of an option, as text set_option accepts."""
        k = key.encode("utf-8") if isinstance(key, str) else key
        needed = ctypes.c_size_t(0)
        with self._lock:
            handle = self._h()
            status = self._lib.nstyle_get_option(handle, k, None, 0, ctypes.byref(needed))
            if needed.value == 0:
                _check(status, handle)
            buf = ctypes.create_string_buffer(needed.value)
            _check(self._lib.nstyle_get_option(handle, k, buf, needed.value, None), handle)
        return buf.value.decode("utf-8")

    def result_size(self):
        """(width, height) of the result for the current content and settings, as the library
        rounds them (needs a content)."""
        w, h = ctypes.c_uint32(0), ctypes.c_uint32(0)
        self._call(self._lib.nstyle_result_size, ctypes.byref(w), ctypes.byref(h))
        return w.value, h.value

    def estimate_seconds(self):
        """Roughly how many seconds a run with the current content, styles and options takes
        on this machine (the library probes its network once, about a second, then answers at
        once). An upper bound when stop_tolerance ends scales early. Needs a content and a
        style (Error with ERR_STATE before)."""
        seconds = ctypes.c_double(0.0)
        self._call(self._lib.nstyle_estimate_seconds, ctypes.byref(seconds))
        return seconds.value

    def style_side(self):
        """The longest side a style image is used at for the current content and options
        (nstyle_style_side): reading a style larger than this gains nothing."""
        side = ctypes.c_uint32(0)
        self._call(self._lib.nstyle_style_side, ctypes.byref(side))
        return int(side.value)

    def estimate_text(self):
        """The estimate as a dialog says it (nstyle_estimate_text): "about 40 s on this
        machine", and whether other programs kept cores busy while it was measured."""
        needed = ctypes.c_size_t(0)
        with self._lock:
            handle = self._h()
            status = self._lib.nstyle_estimate_text(handle, None, 0, ctypes.byref(needed))
            if needed.value == 0:
                _check(status, handle)
            buf = ctypes.create_string_buffer(needed.value)
            _check(self._lib.nstyle_estimate_text(handle, buf, needed.value, None), handle)
        return buf.value.decode("utf-8")

    # -- running

    def _terms(self, handle):
        """The last step's loss terms by name (nstyle_progress_term_count/_term), in order."""
        count = ctypes.c_uint32(0)
        _check(self._lib.nstyle_progress_term_count(handle, ctypes.byref(count)), handle)
        terms = {}
        name = ctypes.c_char_p()
        value = ctypes.c_double(0.0)
        for i in range(count.value):
            _check(self._lib.nstyle_progress_term(handle, i, ctypes.byref(name),
                                                  ctypes.byref(value)), handle)
            terms[name.value.decode("utf-8")] = value.value
        return terms

    def step(self, n=1):
        """Runs up to n more iterations; returns a Progress whose `done` says the library
        returned NSTYLE_DONE (the run is complete: this step did the last iteration, or there
        was nothing left to do) and whose `terms` are the loss terms by name. Raises Cancelled
        if cancel() stopped it while it ran (a cancel made while no step runs does not stop the
        next step)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 2 ** 32:
            raise Error(Status.ERR_ARGUMENT, "iterations must be an integer >= 0, not %r" % (n,))
        progress = _Progress()
        with self._lock:
            handle = self._h()
            status = self._lib.nstyle_step(handle, n, ctypes.byref(progress))
            _check(status, handle)
            terms = self._terms(handle)
        return Progress(*(getattr(progress, k) for k in Progress.FIELDS), terms=terms,
                        done=status == Status.DONE)

    def run(self, progress=None, chunk=None, interval=0.5):
        """Steps until the library says the run is done (NSTYLE_DONE) and returns the final
        Progress.

        progress(p), if given, is called with a Progress after every chunk, in this thread and
        with no lock held (it may fetch() a preview). Returning False from it stops the run
        (Cancelled is raised, unless that was the last chunk); an exception it raises stops the
        run and propagates.
        cancel() from any other thread while run() goes on stops it within about one
        iteration (the library stops the step that is running; a cancel that comes between two
        steps is seen here before the next one): run() raises Cancelled. Either way the model
        stays usable: run() or step() again continues from the last finished iteration.

        chunk: iterations per step, or None (default) to size each chunk from the measured time
        per iteration so that it takes about `interval` seconds (default 0.5): the first chunk
        is one iteration, a chunk is at most twice the previous one, shrinks at once when
        iterations get slower, and starts again at one iteration whenever a new (larger,
        slower) scale begins. So progress comes about every `interval` seconds; only a chunk
        that runs into the next scale, or a single iteration that is itself slower, takes
        longer (about a second or two at the default).
        """
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int)
                                  or not 0 < chunk < 2 ** 32):
            raise Error(Status.ERR_ARGUMENT, "chunk must be None or an integer >= 1, not %r"
                        % (chunk,))
        try:
            interval = float(interval)
        except (TypeError, ValueError):
            interval = float("nan")
        if not (math.isfinite(interval) and interval > 0):
            raise Error(Status.ERR_ARGUMENT, "interval must be a positive number of seconds")
        cancels = self._cancels        # a cancel() from now on stops this run
        n = chunk or 1
        last = None                    # the previous chunk's Progress
        while True:
            started = time.monotonic()
            p = self.step(n)
            elapsed = time.monotonic() - started
            answer = progress(p) if progress is not None else None
            if p.done:
                return p
            if answer is False:
                raise Cancelled(Status.ERR_CANCELLED, "stopped by the progress callback")
            if self._cancels != cancels:
                raise Cancelled(Status.ERR_CANCELLED, "cancelled between steps")
            if chunk is None:
                if last is not None and p.scale != last.scale:
                    n = 1              # a new scale: measure its (slower) iterations afresh
                else:
                    done = p.iteration - last.iteration if last is not None else n
                    per_iteration = elapsed / max(done, 1)
                    fit = int(interval / per_iteration) if per_iteration > 0 else 2 * n
                    n = max(1, min(2 * n, fit, 2 ** 32 - 1))
            last = p

    def cancel(self):
        """Stops a running step() (it raises Cancelled) or run() (it raises Cancelled, also
        when the cancel comes between its steps). A cancel while neither runs is forgotten: the
        next step() or run() goes on. Any thread."""
        with self._cancel_lock:
            self._cancels += 1
            if self._handle is not None:
                self._lib.nstyle_cancel(self._handle)

    def fetch_into(self, pixels, width, height, format="rgba8", stride=None):
        """Writes the current image into a writable buffer (or numpy array)."""
        fmt = _format(format)
        buf = _Pixels(pixels, _dim(width, "width"), _dim(height, "height"), fmt, stride, True)
        self._call(self._lib.nstyle_fetch_result, buf.ptr, width, height, buf.stride, fmt[0])
        return pixels

    def fetch(self, width, height, format="rgba8"):
        """The current image at width×height (resampled), tightly packed, as bytes."""
        fmt = _format(format)
        _dim(width, "width")
        _dim(height, "height")
        out = bytearray(width * height * fmt[1])
        self.fetch_into(out, width, height, format)
        return bytes(out)

    def fetch_array(self, width, height, format="rgba8"):
        """The current image as a numpy array (height, width, channels); needs numpy."""
        import numpy
        fmt = _format(format)
        out = numpy.empty((_dim(height, "height"), _dim(width, "width"), fmt[3]),
                          dtype=fmt[2])
        return self.fetch_into(out, width, height, format)


#: One frame of a Preview: `job` (Preview.start's number), `serial` (grows with every frame:
#: show one whose serial changed), `width`, `height`, `quick` (the feed-forward network's
#: picture, before the optimiser refines it), `done` (the job's last frame), `seconds` (since
#: the start), `progress` (a Progress), `pixels` (bytes, tightly packed rows in the format
#: asked for; None when the job failed), `error` (an Error when it failed, else None), `note`
#: (what did not stop it, e.g. why there is no quick picture; None if nothing) and `terms`
#: (the loss terms in words).
PreviewFrame = collections.namedtuple(
    "PreviewFrame", "job serial width height quick done seconds progress pixels error note terms")

#: A Preview's estimate of the full run: `job`, `seconds`, `words` ("about 40 s on this
#: machine"), the result's `width` and `height`; or `error` (an Error: why there is none).
PreviewEstimate = collections.namedtuple("PreviewEstimate",
                                         "job seconds words width height error")


class Preview:
    """The library's preview driver (nstyle_preview_*): what a dialog shows while its user
    changes settings. A thread of the library's own shows the feed-forward network's picture
    first, refines it with the optimiser (the light backbone on the CPU, the run's own on a
    GPU), then estimates the full run; each start() supersedes the job that runs.

        preview = nstyle.Preview(device="auto")
        model = nstyle.Model(...)            # set up as for the full run, the content read at
        ...                                  # about preview.side
        preview.start(model, full_size=(4000, 3000))
        frame = preview.frame()              # poll: None until the job's first frame
        preview.close()
    """

    def __init__(self, weights=None, device=None):
        self._lib = library()
        handle = _PreviewPtr()
        w = os.fsencode(weights) if weights is not None else None
        d = device.encode("utf-8") if device is not None else None
        _check(self._lib.nstyle_preview_create(w, d, ctypes.byref(handle)))
        self._handle = handle
        self._lock = threading.Lock()

    def _h(self):
        if self._handle is None:
            raise Error(Status.ERR_STATE, "the preview is closed")
        return self._handle

    @property
    def side(self):
        """The longest side the preview works at (256 on the CPU, 512 on a GPU): read the
        content at about this size."""
        side = ctypes.c_uint32(0)
        with self._lock:
            _check(self._lib.nstyle_preview_side(self._h(), ctypes.byref(side)))
        return int(side.value)

    def start(self, model, full_size=None):
        """Starts previewing the run `model` (a Model) is set up for; its options and inputs are
        copied now. full_size: (width, height) of the picture the full run works on when the
        model's content is a reduced copy of it, for the estimate. Returns the job number."""
        width, height = full_size if full_size is not None else (0, 0)
        job = ctypes.c_uint32(0)
        for value, what in ((width, "width"), (height, "height")):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 32:
                raise Error(Status.ERR_ARGUMENT,
                            "full %s must be an integer >= 0, not %r" % (what, value))
        with model._lock, self._lock:
            _check(self._lib.nstyle_preview_start(self._h(), model._h(), width, height,
                                                  ctypes.byref(job)))
        return int(job.value)

    def _text(self, which):
        needed = ctypes.c_size_t(0)
        self._lib.nstyle_preview_text(self._h(), which, None, 0, ctypes.byref(needed))
        buf = ctypes.create_string_buffer(max(needed.value, 1))
        _check(self._lib.nstyle_preview_text(self._h(), which, buf, len(buf), None))
        return buf.value.decode("utf-8")

    def frame(self, format="rgba8"):
        """The newest job's newest frame (a PreviewFrame, its pixels tightly packed bytes in
        `format`), or None before its first one. Needs no numpy (editors' Pythons may lack
        it)."""
        fmt = _format(format)
        info = _PreviewFrame()
        with self._lock:
            _check(self._lib.nstyle_preview_frame(self._h(), ctypes.byref(info), None, 0,
                                                  fmt[0]))
            if info.job == 0:
                return None
            pixels = None
            if info.status == Status.OK:
                # A newer frame may have come since: it has the same size (the job's), and the
                # call below fills `info` again to match the pixels it writes.
                buf = ctypes.create_string_buffer(info.width * info.height * fmt[1])
                _check(self._lib.nstyle_preview_frame(
                    self._h(), ctypes.byref(info), buf, info.width * fmt[1], fmt[0]))
                pixels = buf.raw
            message = self._text(PreviewText.MESSAGE) or None
            terms = self._text(PreviewText.TERMS)
        progress = Progress(*(getattr(info.progress, k) for k in Progress.FIELDS),
                            done=bool(info.done))
        error = None
        if info.status != Status.OK:
            error = Error(Status(info.status), message or "")
        return PreviewFrame(int(info.job), int(info.serial), int(info.width), int(info.height),
                            bool(info.quick), bool(info.done), float(info.seconds), progress,
                            pixels, error, None if error else message, terms)

    def estimate(self):
        """The newest job's estimate of the full run (a PreviewEstimate), or None before it is
        made (after the job's last frame)."""
        info = _PreviewEstimate()
        with self._lock:
            _check(self._lib.nstyle_preview_estimate(self._h(), ctypes.byref(info)))
            if info.job == 0:
                return None
            words = self._text(PreviewText.ESTIMATE)
        if info.status != Status.OK:
            return PreviewEstimate(int(info.job), None, None, None, None,
                                   Error(Status(info.status), words))
        return PreviewEstimate(int(info.job), float(info.seconds), words, int(info.width),
                               int(info.height), None)

    def close(self):
        """Stops the job (within about one iteration) and frees the driver. Idempotent."""
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.nstyle_preview_free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
