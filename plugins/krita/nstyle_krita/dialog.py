"""The settings dialog: style image, strength (photo to painting), quality (the backbone),
iterations, size, preserve colours, the raw loss weights under "Advanced", and a preview.

Every engine field's range, default (Restore Defaults), choices and tooltip come from the
library's option table (nstyle.options()). Values are remembered in Krita's settings (kritarc,
group "nstyle") by save() / load(). Given a source (document, layer), the dialog shows a preview
of the current settings (preview.Preview), restarted a moment after any change and stopped when
the dialog closes.
"""

import os
import time

from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QImage, QPixmap, QStandardItemModel
from PyQt5.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                             QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                             QLineEdit, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget)

from . import core
from .core import HOST_DEFAULTS, Settings, engine_options

GROUP = "nstyle"
AUTO = "auto"  # the library picks (nstyle.Model(device=None))
DEVICE_ROW_CHARS = 28

# Fields shown, in order: (setting, label, decimals of a float field). The rest (precision,
# seed) pass through from the remembered settings.
SHOWN = (
    ("strength", "Strength: photo \u25c2\u25b8 painting:", 2),
    ("backbone", "Quality:", None),
    ("iterations", "Iterations:", None),
    ("size", "Size:", None),
    ("preserve_colors", "Preserve colours:", None),
    ("content_weight", "Content weight:", 3),
    ("style_weight", "Style weight:", 2),
    ("tv_weight", "Smoothness (TV) weight:", 4),
)
ADVANCED = ("content_weight", "style_weight", "tv_weight")  # under "Advanced: loss weights"
# How the dialog names the backbone's words; a word not listed shows as it is.
WORD_LABELS = {"vgg19": "Best (VGG-19)", "lite": "Fast (Lite)"}
SLIDER_STEPS = 100    # the strength slider's positions over the option's range
PREVIEW_SETTLE_MS = 300
PREVIEW_POLL_MS = 100
HOST_NOTES = {
    "size": "Full resolution (0, the default) works at the layer's (or the selection's "
            "bounding box's) own size; a smaller size is faster and its result is scaled up to "
            "the layer. The estimate under the preview says what OK will cost on this machine.",
    "iterations": "More is closer to the style and slower.",
}


def show_diagnostics(parent=None, problem=None):
    """The library's self-check in a window the user can copy from (and why it could not
    start, when that is the reason it is shown)."""
    from PyQt5.QtWidgets import QPlainTextEdit
    box = QDialog(parent)
    box.setObjectName("nstyle_diagnostics")
    box.setWindowTitle("Neural Style: diagnostics")
    text = QPlainTextEdit()
    text.setReadOnly(True)
    body = core.nstyle.diagnostics()
    if problem:
        body = "Neural Style could not start: %s\n\n%s" % (problem, body)
    text.setPlainText(body)
    text.setMinimumSize(640, 320)
    close = QDialogButtonBox(QDialogButtonBox.Close)
    close.rejected.connect(box.reject)
    layout = QVBoxLayout(box)
    layout.addWidget(QLabel("Paste this into a bug report:"))
    layout.addWidget(text)
    layout.addWidget(close)
    box.text = text  # for the tests
    if os.environ.get("NSTYLE_KRITA_DIAGNOSTICS_NO_EXEC"):
        return box
    box.exec_()
    return box


def _settings_api():
    try:
        from krita import Krita
        return Krita.instance()
    except ImportError:  # outside Krita: nothing is remembered
        return None


def load():
    """The remembered Settings (the library's defaults where nothing is stored or a value is
    unreadable)."""
    api = _settings_api()
    values = {}
    for name, (default, kind) in Settings.fields().items():
        if api is None:
            continue
        raw = api.readSetting(GROUP, name, "")
        if raw == "":
            continue
        try:
            if kind is bool:
                values[name] = raw.lower() in ("1", "true", "yes")
            else:
                values[name] = kind(raw)
        except ValueError:
            pass
    return Settings(**values)


def save(settings):
    api = _settings_api()
    if api is None:
        return
    for name, value in settings.as_dict().items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        api.writeSetting(GROUP, name, str(value))


def tooltip(opt, note=None):
    """The option's help line, the values it takes and its default, from the table."""
    unit = " " + opt.unit if opt.unit else ""
    default = {"0": "off", "1": "on"}.get(opt.default, opt.default) if opt.kind == "bool" \
        else opt.default + unit
    text = "%s%s.\nAccepts %s; default %s." % (opt.doc[:1].upper(), opt.doc[1:], opt.accepts,
                                               default)
    return text + ("\n" + note if note else "")


def _field(opt, decimals):
    """A spin box or check box for an option, with the table's range and tooltip."""
    if opt.kind == "bool":
        box = QCheckBox("Keep the layer's colours")
    elif opt.kind == "choice":
        box = QComboBox()
        for word in opt.words:
            box.addItem(WORD_LABELS.get(word, word), word)
    elif opt.kind == "int":
        box = QSpinBox()
        box.setRange(int(opt.minimum), int(min(opt.maximum, 2 ** 31 - 1)))
        box.setSingleStep(max(1, int(opt.parse_default()) // 8))
    else:
        box = QDoubleSpinBox()
        box.setDecimals(decimals)
        box.setRange(opt.minimum, opt.maximum)
        box.setSingleStep(10 ** -min(decimals, 2) if decimals else 1)
    if opt.unit and hasattr(box, "setSuffix"):
        box.setSuffix(" " + opt.unit)
    return box


def _get(box):
    if isinstance(box, QComboBox):
        return box.currentData()
    return box.isChecked() if isinstance(box, QCheckBox) else box.value()


def _set(box, value):
    if isinstance(box, QCheckBox):
        box.setChecked(bool(value))
    elif isinstance(box, QComboBox):
        box.setCurrentIndex(max(0, box.findData(value)))
    else:
        box.setValue(value)


def _changed(box):
    """The box's signal for a new value."""
    if isinstance(box, QCheckBox):
        return box.toggled
    if isinstance(box, QComboBox):
        return box.currentIndexChanged
    return box.valueChanged


def device_combo(devices):
    """A combo box of "Auto", then each of the library's devices (nstyle.devices()) by name, its
    id as the item's data; a device the library cannot use is greyed out (not selectable), with
    its reason in the row and in its tooltip."""
    box = QComboBox()
    box.setObjectName("nstyle_device")
    # A long reason must not widen the dialog: the box keeps a name's width and cuts the rest
    # (the popup and the row's tooltip show it).
    box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(DEVICE_ROW_CHARS)
    box.addItem("Auto", AUTO)
    box.setItemData(0, "The library picks: a CUDA GPU when one can be used, else the CPU.",
                    Qt.ToolTipRole)
    for device in devices:
        if device.reason is None:
            box.addItem(device.name, device.id)
            box.setItemData(box.count() - 1, "%s (%s)" % (device.name, device.id), Qt.ToolTipRole)
            continue
        box.addItem("%s \u2014 cannot be used: %s" % (device.name, device.reason), device.id)
        box.setItemData(box.count() - 1, device.reason, Qt.ToolTipRole)
        model = box.model()
        if isinstance(model, QStandardItemModel):
            model.item(box.count() - 1).setEnabled(False)
    box.setToolTip("Where the style transfer runs (the preview and its estimate too). "
                   "Auto: the library picks, a CUDA GPU when one can be used, else the CPU.")
    return box


def set_device(box, device):
    """Makes `device` (an id, or "auto"/"") the combo's choice. An id the list does not have (a
    GPU gone since it was remembered, or a test's) gets a row of its own, so the run says why it
    fails instead of silently running elsewhere."""
    device = device or AUTO
    index = box.findData(device)
    if index < 0:
        box.addItem("%s (not found on this machine)" % device, device)
        index = box.count() - 1
    box.setCurrentIndex(index)


def _with_slider(box):
    """A row of a slider over the spin box's range and the spin box, kept in step."""
    slider = QSlider(Qt.Horizontal)
    slider.setRange(0, SLIDER_STEPS)
    lo, hi = box.minimum(), box.maximum()
    to_slider = lambda v: int(round((v - lo) / (hi - lo) * SLIDER_STEPS))  # noqa: E731
    slider.setValue(to_slider(box.value()))
    slider.valueChanged.connect(lambda i: box.setValue(lo + (hi - lo) * i / SLIDER_STEPS))
    box.valueChanged.connect(lambda v: slider.setValue(to_slider(v)))
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(slider, 1)
    layout.addWidget(box)
    row.slider = slider
    return row


class NeuralStyleDialog(QDialog):
    """source: (document, layer) to preview on, or None for no preview."""

    def __init__(self, settings=None, parent=None, source=None):
        super().__init__(parent)
        self.setWindowTitle("Neural Style")
        s = settings if settings is not None else load()
        self._hidden = s  # fields the dialog does not show (precision, seed) pass through
        self._options = engine_options()

        self.style_edit = QLineEdit(s.style)
        self.style_edit.setPlaceholderText("a painting: PNG, JPEG, ...")
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(lambda: self._browse(self.style_edit, "Style image"))
        style_row = QWidget()
        row = QHBoxLayout(style_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.style_edit, 1)
        row.addWidget(browse)

        form = QFormLayout()
        form.addRow("Style image:", style_row)

        # Regions: the selection as the style's region (the library's style masks), the rest
        # kept as the photo or painted in a second style.
        self.region_box = QCheckBox("Paint the style inside the selection, blend the edge")
        self.region_box.setChecked(bool(s.selection_as_region))
        self.region_box.setToolTip(
            "On: the whole layer is worked on; the style paints inside the selection (soft "
            "edges kept) and the optimisation paints across its edge; outside stays the photo, "
            "or takes the style below. The new layer covers the whole layer.\nOff: the "
            "selection's bounding box is worked on and the new layer is cut to the selection.")
        self.outside_edit = QLineEdit(s.outside_style)
        self.outside_edit.setPlaceholderText("keep the photo")
        self.outside_edit.setToolTip("A second style image for outside the selection (empty: "
                                     "the photo stays there). Used when the box above is on.")
        outside_browse = QPushButton("Browse\u2026")
        outside_browse.clicked.connect(lambda: self._browse(self.outside_edit, "Outside style"))
        outside_row = QWidget()
        row = QHBoxLayout(outside_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.outside_edit, 1)
        row.addWidget(outside_browse)
        form.addRow("Selection:", self.region_box)
        form.addRow("Outside the selection:", outside_row)
        advanced = QFormLayout()
        self.advanced = QGroupBox("Advanced: loss weights")
        self.advanced.setCheckable(True)   # unchecked: folded away (the values still apply)
        self.advanced.setChecked(False)
        holder = QWidget()
        holder.setLayout(advanced)
        holder.setVisible(False)
        self.advanced.toggled.connect(holder.setVisible)
        QVBoxLayout(self.advanced).addWidget(holder)
        self.fields = {}
        for key, label, decimals in SHOWN:
            opt = self._options[key]
            box = _field(opt, decimals)
            if key == "size":
                # 0 is the plug-in's "full resolution": the layer's own size.
                box.setMinimum(0)
                box.setSpecialValueText(self._full_resolution_text(source))
            _set(box, getattr(s, key))
            box.setToolTip(tooltip(opt, HOST_NOTES.get(key)))
            setattr(self, key, box)  # d.iterations, d.size, ... (tests and callers)
            self.fields[key] = box
            widget = _with_slider(box) if key == "strength" else box
            (advanced if key in ADVANCED else form).addRow(label, widget)

        self.device = device_combo(core.nstyle.devices())
        set_device(self.device, s.device)
        form.addRow("Device:", self.device)
        form.addRow(self.advanced)

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel |
                                   QDialogButtonBox.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.RestoreDefaults).clicked.connect(self.restore_defaults)
        diagnostics = buttons.addButton("Diagnostics\u2026", QDialogButtonBox.HelpRole)
        diagnostics.setToolTip("What Neural Style found on this machine: versions, libraries, "
                               "device and weights. For bug reports.")
        diagnostics.clicked.connect(lambda: show_diagnostics(self))
        self.buttons = buttons

        settings_box = QVBoxLayout()
        settings_box.addLayout(form)
        settings_box.addStretch(1)
        top = QHBoxLayout()
        top.addLayout(settings_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)

        self.preview = None
        self.source = source
        if source is not None:
            self._build_preview(top)

    @staticmethod
    def _full_resolution_text(source):
        """The size box's text at 0: "Full resolution (W × H)" with the region's pixels."""
        if source is not None:
            try:
                _, _, w, h = core.region(source[0])
                return "Full resolution (%d \u00d7 %d)" % (w, h)
            except (core.PluginError, AttributeError):
                pass
        return "Full resolution"

    # -- the preview

    def _build_preview(self, top):
        from .preview import SIDE, Preview

        self.preview_image = QLabel()
        self.preview_image.setObjectName("nstyle_preview")
        self.preview_image.setFixedSize(SIDE, SIDE)
        self.preview_image.setAlignment(Qt.AlignCenter)
        self.preview_image.setToolTip(
            "The current settings on a small copy of the layer: first the feed-forward network's "
            "quick picture, then refined with the light network and few iterations; the image is "
            "not changed. OK runs the full job with the chosen quality.")
        self.preview_status = QLabel(" ")
        # The library's words (terms, a note, an error naming a file) wrap under the preview.
        self.preview_status.setWordWrap(True)
        self.preview_status.setMaximumWidth(SIDE)
        self.estimate_label = QLabel("Full run: estimating\u2026")
        self.estimate_label.setObjectName("nstyle_estimate")
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setMaximumWidth(SIDE)
        self.estimate_label.setToolTip(
            "What OK starts: the result's size and roughly how long it takes here (measured on "
            "this machine, updated as the settings change; often less, since scales end early "
            "once they settle).")
        box = QGroupBox("Preview")
        column = QVBoxLayout(box)
        column.addWidget(self.preview_image)
        column.addWidget(self.preview_status)
        column.addWidget(self.estimate_label)
        self.estimates = []        # every Estimate shown: the tests read it
        top.addWidget(box)
        self.preview = Preview()
        self.preview_frames = []   # (number, seconds since the change, Frame): the tests read it
        self._changed_at = None
        self._start_delay = 0.0
        self._restart = QTimer(self)
        self._restart.setSingleShot(True)
        self._restart.setInterval(PREVIEW_SETTLE_MS)
        self._restart.timeout.connect(self._start_preview)
        self._poll = QTimer(self)
        self._poll.setInterval(PREVIEW_POLL_MS)
        self._poll.timeout.connect(self._poll_preview)
        self._poll.start()
        self.style_edit.textChanged.connect(self.preview_changed)
        self.region_box.toggled.connect(self.preview_changed)
        self.outside_edit.textChanged.connect(self.preview_changed)
        self.device.currentIndexChanged.connect(self.preview_changed)
        for box in self.fields.values():
            _changed(box).connect(self.preview_changed)
        self.preview_changed()

    def preview_changed(self, *_):
        """A setting changed: the preview restarts a moment later."""
        if self.preview is None:
            return
        if self._changed_at is None:
            self._changed_at = time.monotonic()
        self._restart.start()

    def _start_preview(self):
        doc, node = self.source
        changed_at, self._changed_at = self._changed_at or time.monotonic(), None
        try:
            job = core.prepare(doc, node, self.settings())
        except (core.PluginError, core.nstyle.Error) as e:
            self.preview_status.setText(str(e) if isinstance(e, core.PluginError) else e.message)
            return
        self._start_delay = time.monotonic() - changed_at
        try:
            self.preview_number = self.preview.start(job)
        except core.nstyle.Error as e:
            self.preview_status.setText(e.message)
            return
        self.preview_status.setText("Preview: starting\u2026")

    def _poll_preview(self):
        estimate = self.preview.take_estimate() if self.preview is not None else None
        if estimate is not None:
            self.estimate_label.setText(estimate.text())
            self.estimates.append(estimate)
        frame = self.preview.take() if self.preview is not None else None
        if frame is None:
            return
        if frame.error:
            self.preview_status.setText(frame.error)
            return
        image = QImage(frame.pixels, frame.width, frame.height, frame.width * 4,
                       QImage.Format_RGBA8888).copy()
        self.preview_image.setPixmap(QPixmap.fromImage(image))
        p = frame.progress
        if frame.quick:
            state = ("Preview (quick, %d \u00d7 %d)" % (frame.width, frame.height) if frame.done
                     else "Quick preview; refining\u2026")
        else:
            state = ("Preview (fast, %d \u00d7 %d)" % (frame.width, frame.height) if frame.done
                     else "Preview: %d of %d\u2026" % (p.iteration, p.total))
        self.preview_status.setText(state + ("\n" + frame.terms if frame.terms else "")
                                    + ("\n" + frame.note if frame.note else ""))
        self.preview_frames.append((frame.number, frame.seconds + self._start_delay, frame))

    def stop_preview(self):
        """Stops the preview: the library's driver stops and is freed on a thread of its own
        (Preview.close), so OK and Cancel answer at once."""
        if self.preview is not None:
            self._poll.stop()
            self._restart.stop()
            self.preview.close()
            self.preview = None

    def done(self, result):
        self.stop_preview()
        super().done(result)

    # -- settings

    def restore_defaults(self):
        """Sets the engine fields to the library's defaults, size to full resolution (style
        and device are kept)."""
        for key, box in self.fields.items():
            _set(box, HOST_DEFAULTS.get(key, self._options[key].parse_default()))

    def set_device(self, device):
        """Chooses the device `device` (an id, or "auto")."""
        set_device(self.device, device)

    def _browse(self, edit, title):
        path, _ = QFileDialog.getOpenFileName(
            self, title, edit.text(),
            "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp *.gif);;All files (*)")
        if path:
            edit.setText(path)

    def settings(self):
        values = self._hidden.as_dict()
        values.update({key: _get(box) for key, box in self.fields.items()})
        values.update(
            style=self.style_edit.text().strip(),
            device=self.device.currentData() or AUTO,
            selection_as_region=self.region_box.isChecked(),
            outside_style=self.outside_edit.text().strip(),
        )
        return Settings(**values)

    def accept(self):
        save(self.settings())
        super().accept()
