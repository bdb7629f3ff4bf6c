"""nstyle for Krita: Tools ▸ Scripts ▸ Neural Style… (a pykrita plug-in over the nstyle binding).

The processing path (nstyle_krita.core) needs only the `krita` module and PyQt5; the extension
is registered when the package is loaded by Krita's plug-in manager.
"""

import os
import sys

EXTENSION = None

# Installed from the release (install.sh --krita or Krita's "Import Python Plugin from File"),
# the binding, libnstyle.so, libtorch and the weights sit in vendor/ inside this folder: Krita's
# importer keeps only this folder and the .desktop file. A source install puts the binding
# beside this package instead, and then there is no vendor/.
_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
if os.path.isdir(os.path.join(_VENDOR, "nstyle")) and _VENDOR not in sys.path:
    sys.path.insert(0, _VENDOR)


def _register():
    global EXTENSION
    try:
        from krita import Krita
    except ImportError:  # imported outside Krita (docs, linters)
        return
    app = Krita.instance()
    if app is None:
        return
    from .extension import NeuralStyleExtension

    EXTENSION = NeuralStyleExtension(app)
    app.addExtension(EXTENSION)


_register()
