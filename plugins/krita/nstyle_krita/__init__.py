"""nstyle for Krita: Tools ▸ Scripts ▸ Neural Style… (a pykrita plug-in over the nstyle binding).

The processing path (nstyle_krita.core) needs only the `krita` module and PyQt5; the extension
is registered when the package is loaded by Krita's plug-in manager.
"""

EXTENSION = None


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
