"""Times the plug-in's processing path inside Krita on real images (not part of `make test`):

    QT_QPA_PLATFORM=offscreen PYTHONPATH=plugins/python:plugins/krita:plugins/krita/test \
        NSTYLE_LIBRARY=target/release/libnstyle.so \
        kritarunner -s krita_bench -f main CONTENT STYLE [SIZE [ITERATIONS [DEVICE]]]

SIZE and ITERATIONS default to the library's defaults ("-" also means the default). Prints the
times of prepare (read the layer and the style), run (the engine) and commit (the new layer),
the working size the library chose and the engine's final progress.
"""

import time

from krita import Krita

import nstyle
from nstyle_krita import core


def main(args):
    args = list(args[0]) if args and isinstance(args[0], (list, tuple)) else list(args)
    content, style = args[0], args[1]
    given = {}
    for key, index in (("size", 2), ("iterations", 3)):
        if len(args) > index and args[index] != "-":
            given[key] = int(args[index])
    device = args[4] if len(args) > 4 else "auto"
    doc = Krita.instance().openDocument(content)
    doc.setBatchmode(True)
    doc.waitForDone()
    node = doc.topLevelNodes()[-1]
    settings = core.Settings(style=style, device=device, **given)
    t0 = time.monotonic()
    job = core.prepare(doc, node, settings)
    t1 = time.monotonic()
    last = []
    result = job.run(last.append)
    t2 = time.monotonic()
    layer = core.commit(doc, job, result)
    doc.waitForDone()
    t3 = time.monotonic()
    p = last[-1]
    print("BENCH image %dx%d (%s/%s), working size %dx%d, %d iterations over %d scales, "
          "device %s, library %s" % (doc.width(), doc.height(), node.colorModel(),
                                     node.colorDepth(), job.result_size[0], job.result_size[1],
                                     p.iteration, p.scales, device,
                                     nstyle.library_path()), flush=True)
    print("BENCH prepare %.2f s, run %.2f s, commit %.2f s, total %.2f s; loss %.4g; "
          "new layer %r" % (t1 - t0, t2 - t1, t3 - t2, t3 - t0, p.loss, layer.name()),
          flush=True)
    doc.close()
    return 0
