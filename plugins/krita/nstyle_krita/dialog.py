"""The settings dialog: style image, iterations, size, the three weights, preserve colours.

Values are remembered in Krita's settings (kritarc, group "nstyle") by save() / load().
"""

from PyQt5.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                             QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton,
                             QSpinBox, QVBoxLayout, QWidget)

from .core import Settings

GROUP = "nstyle"
DEVICES = ("auto", "cpu", "cuda")


def _settings_api():
    try:
        from krita import Krita
        return Krita.instance()
    except ImportError:  # outside Krita: nothing is remembered
        return None


def load():
    """The remembered Settings (defaults where nothing is stored or a value is unreadable)."""
    api = _settings_api()
    values = {}
    for name, (default, kind) in Settings.FIELDS.items():
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


def _spin(minimum, maximum, value, step=1):
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _dspin(value, maximum, decimals):
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(0.0, maximum)
    box.setSingleStep(10 ** -min(decimals, 2) if decimals else 1)
    box.setValue(value)
    return box


class NeuralStyleDialog(QDialog):
    def __init__(self, settings=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Neural Style")
        s = settings if settings is not None else load()
        self._hidden = s  # fields the dialog does not show (precision, seed) pass through

        self.style_edit = QLineEdit(s.style)
        self.style_edit.setPlaceholderText("a painting: PNG, JPEG, ...")
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        style_row = QWidget()
        row = QHBoxLayout(style_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.style_edit, 1)
        row.addWidget(browse)

        self.iterations = _spin(1, 100000, s.iterations, 50)
        self.size = _spin(16, 16384, s.size, 64)
        self.size.setSuffix(" px")
        self.size.setToolTip("Longest side the engine works at; the result is scaled to the "
                             "layer (or selection) size.")
        self.content_weight = _dspin(s.content_weight, 1e6, 3)
        self.style_weight = _dspin(s.style_weight, 1e9, 2)
        self.tv_weight = _dspin(s.tv_weight, 1e3, 4)
        self.preserve_colors = QCheckBox("Keep the layer's colours")
        self.preserve_colors.setChecked(s.preserve_colors)
        self.device = QComboBox()
        self.device.setEditable(True)
        self.device.addItems(DEVICES)
        self.device.setCurrentText(s.device or "auto")

        form = QFormLayout()
        form.addRow("Style image:", style_row)
        form.addRow("Iterations:", self.iterations)
        form.addRow("Size:", self.size)
        form.addRow("Content weight:", self.content_weight)
        form.addRow("Style weight:", self.style_weight)
        form.addRow("Smoothness (TV) weight:", self.tv_weight)
        form.addRow("Preserve colours:", self.preserve_colors)
        form.addRow("Device:", self.device)

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _browse(self):
        path, _ = QFileDialog.getOpenFileName(
            self, "Style image", self.style_edit.text(),
            "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp *.gif);;All files (*)")
        if path:
            self.style_edit.setText(path)

    def settings(self):
        values = self._hidden.as_dict()
        values.update(
            style=self.style_edit.text().strip(),
            iterations=self.iterations.value(),
            size=self.size.value(),
            content_weight=self.content_weight.value(),
            style_weight=self.style_weight.value(),
            tv_weight=self.tv_weight.value(),
            preserve_colors=self.preserve_colors.isChecked(),
            device=self.device.currentText().strip() or "auto",
        )
        return Settings(**values)

    def accept(self):
        save(self.settings())
        super().accept()
