"""The settings dialog: style image, iterations, size, the three weights, preserve colours.

Every engine field's range, default (Restore Defaults) and tooltip come from the library's option
table (nstyle.options()). Values are remembered in Krita's settings (kritarc, group "nstyle") by
save() / load().
"""

from PyQt5.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                             QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton,
                             QSpinBox, QVBoxLayout, QWidget)

from .core import Settings, engine_options

GROUP = "nstyle"
DEVICES = ("auto", "cpu", "cuda")

# Fields shown, in order: (setting, label, decimals of a float field). The rest (precision,
# seed) pass through from the remembered settings.
SHOWN = (
    ("iterations", "Iterations:", None),
    ("size", "Size:", None),
    ("content_weight", "Content weight:", 3),
    ("style_weight", "Style weight:", 2),
    ("tv_weight", "Smoothness (TV) weight:", 4),
    ("preserve_colors", "Preserve colours:", None),
)
HOST_NOTES = {
    "size": "The result is scaled to the layer (or the selection's bounding box); the engine "
            "never works at more pixels than that.",
    "iterations": "More is closer to the style and slower.",
}


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
    return box.isChecked() if isinstance(box, QCheckBox) else box.value()


def _set(box, value):
    if isinstance(box, QCheckBox):
        box.setChecked(bool(value))
    else:
        box.setValue(value)


class NeuralStyleDialog(QDialog):
    def __init__(self, settings=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Neural Style")
        s = settings if settings is not None else load()
        self._hidden = s  # fields the dialog does not show (precision, seed) pass through
        self._options = engine_options()

        self.style_edit = QLineEdit(s.style)
        self.style_edit.setPlaceholderText("a painting: PNG, JPEG, ...")
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        style_row = QWidget()
        row = QHBoxLayout(style_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.style_edit, 1)
        row.addWidget(browse)

        form = QFormLayout()
        form.addRow("Style image:", style_row)
        self.fields = {}
        for key, label, decimals in SHOWN:
            opt = self._options[key]
            box = _field(opt, decimals)
            _set(box, getattr(s, key))
            box.setToolTip(tooltip(opt, HOST_NOTES.get(key)))
            setattr(self, key, box)  # d.iterations, d.size, ... (tests and callers)
            self.fields[key] = box
            form.addRow(label, box)

        self.device = QComboBox()
        self.device.setEditable(True)
        self.device.addItems(DEVICES)
        self.device.setCurrentText(s.device or "auto")
        self.device.setToolTip("auto: a CUDA GPU if there is one, else the CPU; or cpu, cuda, "
                               "cuda:N.")
        form.addRow("Device:", self.device)

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel |
                                   QDialogButtonBox.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.RestoreDefaults).clicked.connect(self.restore_defaults)
        self.buttons = buttons

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def restore_defaults(self):
        """Sets the engine fields to the library's defaults (style and device are kept)."""
        for key, box in self.fields.items():
            _set(box, self._options[key].parse_default())

    def _browse(self):
        path, _ = QFileDialog.getOpenFileName(
            self, "Style image", self.style_edit.text(),
            "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp *.gif);;All files (*)")
        if path:
            self.style_edit.setText(path)

    def settings(self):
        values = self._hidden.as_dict()
        values.update({key: _get(box) for key, box in self.fields.items()})
        values.update(
            style=self.style_edit.text().strip(),
            device=self.device.currentText().strip() or "auto",
        )
        return Settings(**values)

    def accept(self):
        save(self.settings())
        super().accept()
