"""Checks of the plug-in's processing path inside Krita, run by kritarunner (see run-tests.sh):

    kritarunner -s krita_checks -f main RESULTS_FILE WORK_DIR

Writes one "PASS name" / "FAIL name: why" line per check to RESULTS_FILE (kritarunner's exit
status does not carry a Python failure) and a last line "END".
"""

import os
import sys
import threading
import traceback

from krita import Krita, Selection
from PyQt5.QtGui import QColor, QImage

import nstyle
from nstyle_krita import core

ENGINE = dict(size=32, iterations=4, device="cpu", precision="fp32", seed=7)
W, H = 40, 32

_out = None


def report(name, ok, why=""):
    line = ("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why))
    print(line, flush=True)
    _out.write(line + "\n")
    _out.flush()


def check(name, fn):
    try:
        why = fn()
        report(name, not why, why or "")
    except Exception:  # noqa: BLE001
        report(name, False, traceback.format_exc().strip().replace("\n", " | "))


# ------------------------------------------------------------------ fixtures

def make_style(path):
    img = QImage(24, 24, QImage.Format_RGB32)
    for y in range(24):
        for x in range(24):
            img.setPixelColor(x, y, QColor(240, 170, 30) if (x + y) // 4 % 2 else
                              QColor(20, 60, 200))
    assert img.save(path), path
    return path


def gradient_bgra8(w, h):
    """Krita U8 order (B,G,R,A): a colour gradient, alpha ramping left to right (1..255)."""
    px = bytearray()
    for y in range(h):
        for x in range(w):
            r, g, b = x * 255 // (w - 1), y * 255 // (h - 1), 128
            a = 1 + x * 254 // (w - 1)
            px += bytes((b, g, r, a))
    return bytes(px)


def high_frequency(bgra, w, h):
    """Mean |luma - mean of its 4 neighbours| over the interior of a bgra8 image: the detail a
    small result stretched to the layer lacks."""
    luma = [0.114 * bgra[i] + 0.587 * bgra[i + 1] + 0.299 * bgra[i + 2]
            for i in range(0, w * h * 4, 4)]
    total = 0.0
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            i = y * w + x
            total += abs(luma[i] - (luma[i - 1] + luma[i + 1] + luma[i - w] + luma[i + w]) / 4)
    return total / ((w - 2) * (h - 2))


def make_doc(depth="U8", model="RGBA", name="checks", profile=""):
    app = Krita.instance()
    doc = app.createDocument(W, H, name, model, depth, "", 72.0)
    doc.setBatchmode(True)
    bg = doc.topLevelNodes()[0]
    paint = doc.createNode("Paint", "paintlayer")
    doc.rootNode().addChildNode(paint, bg)
    if depth == "U8" and model == "RGBA":
        paint.setPixelData(gradient_bgra8(W, H), 0, 0, W, H)
    else:
        # Paint through an 8-bit layer, then convert: every depth gets the same picture.
        paint.setColorSpace("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")
        paint.setPixelData(gradient_bgra8(W, H), 0, 0, W, H)
        profile = profile or doc.colorProfile()
        assert paint.setColorSpace(model, depth, profile), (model, depth, profile)
        assert paint.colorProfile() == profile, (paint.colorProfile(), profile)
    doc.refreshProjection()
    return doc, paint


def soft_selection_bytes():
    """A soft disc (255 in the middle, fading to 0) inside a W x H canvas, one byte a pixel."""
    cx, cy, r = W * 0.45, H * 0.5, H * 0.42
    out = bytearray()
    for y in range(H):
        for x in range(W):
            d = ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2) ** 0.5
            out.append(max(0, min(255, int(round((r - d) * 40)))))
    return bytes(out)


def soft_selection_bounds(values):
    xs = [i % W for i, v in enumerate(values) if v]
    ys = [i // W for i, v in enumerate(values) if v]
    return min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1


def nodes(doc):
    out = []

    def walk(node, depth):
        for child in node.childNodes():
            out.append((depth, child.name(), child.type(), child.uniqueId().toString()))
            walk(child, depth + 1)
    walk(doc.rootNode(), 0)
    return out


def paint_layers(doc):
    return [n for n in doc.rootNode().childNodes() if n.type() == "paintlayer"]


def snapshot(doc):
    """Everything a failed run must leave as it was: the node tree, every layer's pixels and
    the projection."""
    doc.waitForDone()
    doc.refreshProjection()
    pixels = [bytes(n.pixelData(0, 0, W, H)) for n in doc.rootNode().childNodes()
              if n.type() == "paintlayer"]
    return nodes(doc), pixels, bytes(doc.pixelData(0, 0, W, H))


def alpha8(data):
    return data[3::4]


# ------------------------------------------------------------------ checks

def main(args):
    global _out
    args = list(args[0]) if args and isinstance(args[0], (list, tuple)) else list(args)
    results, work = args[0], args[1]
    os.makedirs(work, exist_ok=True)
    _out = open(results, "w")
    try:
        run_checks(work)
    except Exception:  # noqa: BLE001 - a broken fixture fails the run, visibly
        report("checks_ran_to_the_end", False,
               traceback.format_exc().strip().replace("\n", " | "))
    finally:
        _out.write("END\n")
        _out.close()
    return 0


def run_checks(work):
    style = make_style(os.path.join(work, "style.png"))
    settings = core.Settings(style=style, **ENGINE)
    print("library:", nstyle.library_path(), file=sys.stderr)

    def defaults_from_the_library():
        plain = core.Settings()
        for key in core.ENGINE_KEYS:
            want = core.HOST_DEFAULTS.get(key, nstyle.option(key).parse_default())
            if getattr(plain, key) != want:
                return "Settings().%s is %r, the library's default %r" % (
                    key, getattr(plain, key), want)
        try:
            core.check_settings(core.Settings(**dict(settings.as_dict(), iterations=2000000)))
            return "iterations 2000000 accepted"
        except core.PluginError as e:
            if nstyle.option("iterations").accepts not in str(e):
                return "message %r" % str(e)
        return None

    check("settings_default_to_the_library", defaults_from_the_library)

    def lite_and_strength():
        # strength and the lite backbone reach the library (read back) and lite runs in Krita
        doc, paint = make_doc(name="lite")
        try:
            before = snapshot(doc)
            job = core.prepare(doc, paint, core.Settings(**dict(
                settings.as_dict(), strength=0.9, backbone="lite")))
            result = job.run()
            if job.engine_values != {"strength": "0.9", "backbone": "lite"}:
                return "the library read back %s" % job.engine_values
            if len(result) != W * H * 4 or len(set(result)) < 16:
                return "result of %d bytes, %d distinct" % (len(result), len(set(result)))
            return None if snapshot(doc) == before else "document changed by run()"
        finally:
            doc.close()

    check("strength_and_lite_backbone_reach_the_library", lite_and_strength)

    def full_resolution():
        # size 0 (the default) works at the layer's own size; size 24 also returns a layer of
        # that size, stretched from 24 px: the full-size result keeps far more fine detail.
        fw, fh = 96, 72
        doc = Krita.instance().createDocument(fw, fh, "full", "RGBA", "U8", "", 72.0)
        doc.setBatchmode(True)
        paint = doc.createNode("Paint", "paintlayer")
        doc.rootNode().addChildNode(paint, doc.topLevelNodes()[0])
        # A photo with fine detail of its own (a gradient with a fine pattern over it, opaque):
        # what a result worked at full size keeps and a stretched 24 px one cannot have.
        px = bytearray()
        for y in range(fh):
            for x in range(fw):
                fine = ((x * 7 + y * 13) % 5) * 24
                px += bytes((60 + fine, min(255, y * 200 // fh + fine), x * 200 // fw, 255))
        paint.setPixelData(bytes(px), 0, 0, fw, fh)
        doc.refreshProjection()
        try:
            runs = {}
            for size in (0, 24):
                job = core.prepare(doc, paint, core.Settings(**dict(
                    settings.as_dict(), size=size, iterations=6)))
                result = job.run()
                if len(result) != fw * fh * 4:
                    return "size %d: %d bytes, not %dx%d" % (size, len(result), fw, fh)
                runs[size] = (job.result_size, high_frequency(result, fw, fh))
            print("  full resolution: working %s, detail %.3f; size 24: working %s, detail "
                  "%.3f" % (runs[0] + runs[24]), file=sys.stderr)
            if runs[0][0] != (fw, fh):
                return "size 0 worked at %s, not the layer's %dx%d" % (runs[0][0], fw, fh)
            if not runs[0][1] > 1.5 * runs[24][1]:
                return "detail %.3f at full size vs %.3f stretched" % (runs[0][1], runs[24][1])
            return None
        finally:
            doc.close()

    check("full_resolution_is_the_layers_own_size_not_stretched", full_resolution)

    # 1. the whole layer, RGBA 8-bit
    doc, paint = make_doc()
    before_nodes, before_pixels, _ = snapshot(doc)
    source_before = bytes(paint.pixelData(0, 0, W, H))
    layer = core.stylize(doc, paint, settings)
    doc.waitForDone()
    layers = paint_layers(doc)

    def one_layer():
        if len(layers) != 3 or len(nodes(doc)) != len(before_nodes) + 1:
            return "node tree %s -> %s" % (before_nodes, nodes(doc))
        names = [n.name() for n in doc.rootNode().childNodes()]
        if names != ["Background", "Paint", core.LAYER_NAME]:
            return "layers bottom to top: %s" % names
        if layer.colorDepth() != "U8" or layer.colorModel() != "RGBA":
            return "new layer is %s/%s" % (layer.colorModel(), layer.colorDepth())
        return None

    def source_identical():
        now = bytes(paint.pixelData(0, 0, W, H))
        return None if now == source_before else "source layer changed"

    def alpha_kept():
        out = bytes(layer.pixelData(0, 0, W, H))
        return None if alpha8(out) == alpha8(source_before) else "alpha differs"

    def restyled():
        out = bytes(layer.pixelData(0, 0, W, H))
        rgb = [(a, b) for i, (a, b) in enumerate(zip(out, source_before)) if i % 4 != 3]
        diff = sum(1 for a, b in rgb if abs(a - b) > 2)
        return None if diff > len(rgb) // 10 else "only %d channel values changed" % diff

    check("one_new_layer_above_source", one_layer)
    check("source_pixels_identical", source_identical)
    check("alpha_kept", alpha_kept)
    check("result_is_restyled", restyled)
    doc.close()

    # 2. a selection confines the change
    doc, paint = make_doc(name="selection")
    sx, sy, sw, sh = 8, 6, 16, 12
    sel = Selection()
    sel.select(sx, sy, sw, sh, 255)
    doc.setSelection(sel)
    _, _, proj_before = snapshot(doc)
    source_before = bytes(paint.pixelData(0, 0, W, H))
    layer = core.stylize(doc, paint, settings)
    doc.waitForDone()
    doc.refreshProjection()

    def confined():
        out = bytes(layer.pixelData(0, 0, W, H))
        proj = bytes(doc.pixelData(0, 0, W, H))
        inside_changed = 0
        for y in range(H):
            for x in range(W):
                i = (y * W + x) * 4
                inside = sx <= x < sx + sw and sy <= y < sy + sh
                if not inside:
                    if out[i + 3] != 0:
                        return "new layer opaque outside the selection at %d,%d" % (x, y)
                    if proj[i:i + 4] != proj_before[i:i + 4]:
                        return "image changed outside the selection at %d,%d" % (x, y)
                else:
                    if out[i + 3] != source_before[i + 3]:
                        return "alpha not kept inside the selection at %d,%d" % (x, y)
                    if any(abs(out[i + c] - source_before[i + c]) > 2 for c in range(3)):
                        inside_changed += 1
        if inside_changed < sw * sh // 4:
            return "only %d pixels changed inside the selection" % inside_changed
        if bytes(paint.pixelData(0, 0, W, H)) != source_before:
            return "source layer changed"
        masks = [c.type() for c in layer.childNodes()]
        if masks != (["transparencymask"] if core.can_make_masks(doc) else []):
            return "children of the new layer: %s" % masks
        return None

    check("selection_confines_change", confined)
    doc.close()

    # a soft, non-rectangular selection: Krita 5.2+ shows the new layer through a transparency
    # mask equal to the selection (alpha kept); older Krita multiplies the alpha by it
    def soft(depth):
        doc_, paint_ = make_doc(depth, "RGBA", "soft" + depth, "sRGB-elle-V2-srgbtrc.icc")
        try:
            values = soft_selection_bytes()
            sel_ = Selection()
            sel_.setPixelData(values, 0, 0, W, H)
            doc_.setSelection(sel_)
            _, _, proj0 = snapshot(doc_)
            job = core.prepare(doc_, paint_, settings)
            x, y, w, h = job.rect
            want_rect = soft_selection_bounds(values)
            if (x, y, w, h) != want_rect:
                return "worked on %s, the selection's bounds are %s" % (job.rect, want_rect)
            layer_ = core.commit(doc_, job, job.run())
            doc_.waitForDone()
            doc_.refreshProjection()
            proj1 = bytes(doc_.pixelData(0, 0, W, H))
            masks = [(c.name(), c.type()) for c in layer_.childNodes()]
            got, src = _as_u8(layer_, doc_)[3::4], _as_u8(paint_, doc_)[3::4]
            inside = [x <= i % W < x + w and y <= i // W < y + h for i in range(W * H)]
            if core.can_make_masks(doc_):
                if masks != [(core.MASK_NAME, "transparencymask")]:
                    return "children of the new layer: %s" % masks
                mask = bytes(layer_.childNodes()[0].pixelData(0, 0, W, H))
                if mask != values:
                    diff = [i for i in range(W * H) if mask[i] != values[i]]
                    return "mask differs from the selection at %d pixels, e.g. %d: %d vs %d" % (
                        len(diff), diff[0], mask[diff[0]], values[diff[0]])
                worst = max(abs(g - s_) for g, s_, k in zip(got, src, inside) if k)
                why = None if worst <= 1 else "layer alpha not kept (off by %d)" % worst
                print("  %s: transparency mask (Krita 5.2+)" % depth, file=sys.stderr)
            else:
                if masks:
                    return "unexpected children %s" % masks
                worst = max(abs(g - s_ * m / 255) for g, s_, m, k
                            in zip(got, src, values, inside) if k)
                why = None if worst <= 1.5 else "alpha off by up to %.1f/255" % worst
                print("  %s: alpha multiplied (no transparency masks in this Krita)" % depth,
                      file=sys.stderr)
            bpp = len(proj1) // (W * H)  # the projection has the document's depth
            px0 = [proj0[i * bpp:(i + 1) * bpp] for i in range(W * H)]
            px1 = [proj1[i * bpp:(i + 1) * bpp] for i in range(W * H)]
            for i in range(W * H):
                if values[i] == 0 and px0[i] != px1[i]:
                    return "image changed outside the selection at %d,%d" % (i % W, i // W)
            changed = sum(1 for i in range(W * H) if values[i] == 255 and px0[i] != px1[i])
            if changed < values.count(255) // 4:
                return "only %d fully selected pixels changed" % changed
            return why
        finally:
            doc_.close()

    check("soft_selection_u8", lambda: soft("U8"))
    check("soft_selection_u16", lambda: soft("U16"))

    # a selection too thin for the library at its smallest size is worked on larger
    def thin():
        doc_, paint_ = make_doc(name="thin")
        try:
            sel_ = Selection()
            sel_.select(0, 10, W, 3, 255)
            doc_.setSelection(sel_)
            job = core.prepare(doc_, paint_, settings)
            layer_ = core.commit(doc_, job, job.run())
            doc_.waitForDone()
            rw, rh = job.result_size
            if min(rw, rh) < nstyle.option("size").minimum:
                return "working size %s" % (job.result_size,)
            out = bytes(layer_.pixelData(0, 10, W, 3))
            print("  thin 40x3 selection worked on at %dx%d" % (rw, rh), file=sys.stderr)
            return None if any(out) else "empty result"
        finally:
            doc_.close()

    check("thin_selection_worked_on_larger", thin)

    # the selection as the style's region (library style masks): the whole layer is worked on,
    # the style paints inside, the photo stays outside or a second style paints it
    def region_run(outside_style=""):
        doc_, paint_ = make_doc(name="region")
        try:
            sel_ = Selection()
            sel_.select(0, 0, W // 2, H, 255)
            doc_.setSelection(sel_)
            source = bytes(paint_.pixelData(0, 0, W, H))
            layer_ = core.stylize(doc_, paint_, core.Settings(**dict(
                settings.as_dict(), iterations=12, selection_as_region=True,
                outside_style=outside_style)))
            doc_.waitForDone()
            out = bytes(layer_.pixelData(0, 0, W, H))
            if bytes(paint_.pixelData(0, 0, W, H)) != source:
                return "source layer changed", None
            if layer_.childNodes():
                return "the new layer has children: %s" % [
                    c.type() for c in layer_.childNodes()], None
            if any(out[i + 3] != source[i + 3] for i in range(0, W * H * 4, 4)):
                return "alpha not kept across the whole layer (masked, not painted?)", None

            def change(x0, x1):
                total = 0
                for y in range(H):
                    for x in range(x0, x1):
                        i = (y * W + x) * 4
                        total += sum(abs(out[i + c] - source[i + c]) for c in range(3))
                return total / (3.0 * H * (x1 - x0))
            return None, (change(0, 3 * W // 8), change(3 * W // 4, W))
        finally:
            doc_.close()

    def region_keeps_photo_outside():
        why, sides = region_run()
        if why:
            return why
        inside, outside = sides
        print("  region, photo kept outside: mean change %.1f inside, %.1f far outside"
              % sides, file=sys.stderr)
        if not (inside > 8 and outside < inside / 3):
            return "change %.1f inside, %.1f far outside" % sides
        return None

    check("selection_as_region_paints_inside_keeps_photo_outside", region_keeps_photo_outside)

    def region_second_style_outside():
        second = os.path.join(work, "second-style.png")
        img = QImage(24, 24, QImage.Format_RGB32)
        for y in range(24):
            for x in range(24):
                img.setPixelColor(x, y, QColor(230, 30, 40) if x // 3 % 2 else QColor(30, 200, 60))
        assert img.save(second), second
        why, sides = region_run(outside_style=second)
        if why:
            return why
        print("  region, second style outside: mean change %.1f inside, %.1f far outside"
              % sides, file=sys.stderr)
        if sides[1] < 8:
            return "the second style hardly changed the outside: %.1f" % sides[1]
        return None

    check("selection_as_region_second_style_paints_outside", region_second_style_outside)

    def region_empty_selection():
        # Krita keeps no selection that selects nothing: an empty one is no selection.
        doc_, paint_ = make_doc(name="region-empty")
        try:
            before = snapshot(doc_)
            try:
                core.stylize(doc_, paint_, core.Settings(**dict(
                    settings.as_dict(), selection_as_region=True)))
                return "no error raised"
            except core.PluginError as e:
                message = str(e)
            if snapshot(doc_) != before:
                return "document changed"
            return None if "Nothing is selected" in message else "message %r" % message
        finally:
            doc_.close()

    check("selection_as_region_without_selection_is_error_document_unchanged",
          region_empty_selection)

    # 3. failures leave the document as it was
    def unchanged_after(settings_, expected_exc, name_, doc_args=()):
        doc_, paint_ = make_doc(*doc_args, name=name_)
        before = snapshot(doc_)
        try:
            core.stylize(doc_, paint_, settings_)
            return "no error raised"
        except expected_exc as e:
            message = str(e)
        finally:
            after = snapshot(doc_)
            doc_.close()
        if after != before:
            return "document changed"
        if not message:
            return "empty error message"
        print("  %s: %s" % (name_, message), file=sys.stderr)
        return None

    missing = os.path.join(work, "no-such-style.png")
    check("missing_style_file_is_error_document_unchanged",
          lambda: unchanged_after(core.Settings(**dict(settings.as_dict(), style=missing)),
                                  core.PluginError, "missing"))
    not_image = os.path.join(work, "not-an-image.png")
    with open(not_image, "w") as f:
        f.write("this is not a PNG\n")
    check("unreadable_style_file_is_error_document_unchanged",
          lambda: unchanged_after(core.Settings(**dict(settings.as_dict(), style=not_image)),
                                  core.PluginError, "corrupt"))

    def engine_error():
        why = unchanged_after(core.Settings(**dict(settings.as_dict(), device="cuda:63")),
                              nstyle.Error, "engine-error")
        return why

    check("engine_error_is_exception_document_unchanged", engine_error)

    def cancel():
        doc_, paint_ = make_doc(name="cancel")
        before = snapshot(doc_)
        longest = int(nstyle.option("iterations").maximum)
        long_settings = core.Settings(**dict(settings.as_dict(), iterations=longest))
        job = core.prepare(doc_, paint_, long_settings)
        seen = []
        outcome = []

        def work():
            try:
                job.run(lambda p: seen.append(p.iteration), chunk=1)
                outcome.append("finished")
            except nstyle.Cancelled:
                outcome.append("cancelled")
            except Exception as e:  # noqa: BLE001
                outcome.append(repr(e))
        t = threading.Thread(target=work)
        t.start()
        import time
        deadline = time.monotonic() + 60
        while not seen and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        job.cancel()
        t.join(60)
        after = snapshot(doc_)
        doc_.close()
        if t.is_alive():
            return "the run did not stop"
        if outcome != ["cancelled"]:
            return "outcome %s" % outcome
        return None if after == before else "document changed"

    check("cancel_from_another_thread", cancel)

    def cancel_between_steps():
        # ABI 6: the library's cancel stops only a running step; the job's own flag stops the
        # run between steps (here from the progress callback, when no step runs), and a job
        # cancelled before its run never starts one. The document is never changed.
        doc_, paint_ = make_doc(name="cancel_between")
        before = snapshot(doc_)
        long_settings = core.Settings(**dict(settings.as_dict(), iterations=50))
        outcomes = []
        for when in ("between", "before"):
            job = core.prepare(doc_, paint_, long_settings)
            seen = []

            def progress(p, job=job, seen=seen):
                seen.append((p.iteration, p.done, dict(p.terms)))
                job.cancel()
            if when == "before":
                job.cancel()
            try:
                job.run(progress, chunk=1)
                outcomes.append((when, "finished", seen))
            except nstyle.Cancelled:
                outcomes.append((when, "cancelled", seen))
        after = snapshot(doc_)
        doc_.close()
        between, before_ = outcomes
        if between[1] != "cancelled" or len(between[2]) != 1:
            return "cancel between steps: %s" % (between,)
        iteration, done, terms = between[2][0]
        if iteration != 1 or done or list(terms)[:3] != ["content", "style", "tv"]:
            return "progress %s" % (between[2],)
        if before_[1:] != ("cancelled", []):
            return "cancel before the run: %s" % (before_,)
        return None if after == before else "document changed"

    check("cancel_between_steps_and_before_the_run", cancel_between_steps)

    # 4. other depths: the pixel path, then a run; the new layer keeps the depth
    pixel_path_checks(settings)
    for depth, model in (("U16", "RGBA"), ("F16", "RGBA"), ("F32", "RGBA"), ("U8", "GRAYA")):
        def other_depth(depth=depth, model=model):
            doc_, paint_ = make_doc(depth, model, name=depth)
            src = bytes(paint_.pixelData(0, 0, W, H))
            new = core.stylize(doc_, paint_, settings)
            doc_.waitForDone()
            why = None
            if (new.colorModel(), new.colorDepth()) != (model, depth):
                why = "new layer is %s/%s" % (new.colorModel(), new.colorDepth())
            elif bytes(paint_.pixelData(0, 0, W, H)) != src:
                why = "source changed"
            elif bytes(new.pixelData(0, 0, W, H)) == src:
                why = "result equals the source"
            elif [n.name() for n in doc_.rootNode().childNodes()] != \
                    ["Background", "Paint", core.LAYER_NAME]:
                why = "layers %s" % [n.name() for n in doc_.rootNode().childNodes()]
            else:
                # alpha: compare through 8-bit copies of both layers
                a = _alpha_as_u8(new, doc_)
                b = _alpha_as_u8(paint_, doc_)
                if max(abs(x - y) for x, y in zip(a, b)) > 1:
                    why = "alpha not kept"
            doc_.close()
            return why
        check("run_%s_%s" % (model.lower(), depth.lower()), other_depth)


def _as_u8(node, doc):
    clone = node.duplicate()
    doc.rootNode().addChildNode(clone, None)
    clone.setColorSpace("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")
    data = bytes(clone.pixelData(0, 0, W, H))
    clone.remove()
    return data


def _engine_pixel(data, fmt, x, y):
    """(r, g, b, a) in 0..1 of pixel x,y of engine-format bytes."""
    import struct
    code, size, scale = {"rgba8": ("4B", 4, 255.0), "bgra8": ("4B", 4, 255.0),
                         "rgba16": ("=4H", 8, 65535.0), "rgba_f16": ("=4e", 8, 1.0),
                         "rgba_f32": ("=4f", 16, 1.0)}[fmt]
    px = [v / scale for v in struct.unpack_from(code, data, (y * W + x) * size)]
    return [px[2], px[1], px[0], px[3]] if fmt == "bgra8" else px


def _as_library_reads_it(job):
    """job.content as the library reads it: R,G,B,A float32 bytes (before any step the result
    is the content; the working size is the region's, so nothing is resampled)."""
    with nstyle.Model(device="cpu") as model:
        model.set_option("size", max(W, H))
        model.set_content(job.content, W, H, job.fmt)
        return model.fetch(W, H, "rgba_f32")


def pixel_path_checks(settings):
    """Each depth: Krita's bytes go to the library in Krita's own layout (no conversion in
    Python except the red/blue swap of 16-bit integer layers), the library reads R,G,B,A in the
    right order, and a layer read, handed to the engine and fetched back before any step (the
    initial image) and committed equals the source within rounding."""
    for depth, model, profile, converted in PIXEL_PATHS:
        def pixel_path(depth=depth, model=model, profile=profile, converted=converted):
            doc_, paint_ = make_doc(depth, model, "px" + depth, profile)
            try:
                job = core.prepare(doc_, paint_, settings)
                if job.converted != converted:
                    return "converted=%s for %s/%s %s" % (job.converted, model, depth,
                                                          paint_.colorProfile())
                want_fmt = {"U8": "bgra8", "U16": "rgba16", "F16": "rgba_f16",
                            "F32": "rgba_f32"}[depth]
                if job.fmt != want_fmt:
                    return "library format %s for %s" % (job.fmt, depth)
                if not converted and depth != "U16" and \
                        job.content != bytes(paint_.pixelData(0, 0, W, H)):
                    return "the library gets other bytes than Krita's"
                seen = _as_library_reads_it(job)
                if model != "RGBA":
                    r, g, b, a = _engine_pixel(seen, "rgba_f32", W - 1, 0)
                    if not (abs(r - g) < 0.02 and abs(g - b) < 0.02):
                        return "grey pixel in the engine: %s" % ([r, g, b, a],)
                    return _round_trip(doc_, paint_, job)
                # top right: red 255, green 0, blue 128, alpha 255 (the engine always sees sRGB)
                r, g, b, a = _engine_pixel(seen, "rgba_f32", W - 1, 0)
                if not (r > 0.97 and g < 0.03 and 0.45 < b < 0.56 and a > 0.99):
                    return "top-right pixel as the library reads it: %s" % ([r, g, b, a],)
                r, g, b, a = _engine_pixel(seen, "rgba_f32", 0, H - 1)
                if not (r < 0.03 and g > 0.97 and a < 0.03):
                    return "bottom-left pixel as the library reads it: %s" % ([r, g, b, a],)
                return _round_trip(doc_, paint_, job)
            finally:
                doc_.close()
        check("pixel_path_%s_%s_%s" % (model.lower(), depth.lower(),
                                       "converted" if converted else "direct"), pixel_path)


# depth, model, profile ("" = Krita's default for the depth: sRGB TRC for U8, linear above),
# whether the plug-in must convert to sRGB for the engine
PIXEL_PATHS = [
    ("U8", "RGBA", "", False),
    ("U16", "RGBA", "sRGB-elle-V2-srgbtrc.icc", False),
    ("U16", "RGBA", "", True),
    ("F16", "RGBA", "sRGB-elle-V2-srgbtrc.icc", False),
    ("F16", "RGBA", "", True),
    ("F32", "RGBA", "sRGB-elle-V2-srgbtrc.icc", False),
    ("F32", "RGBA", "", True),
    ("U8", "GRAYA", "", True),
]


def _round_trip(doc, paint, job):
    """The job's content through the engine (fetched before any step: the initial image) and
    commit() equals the source layer within rounding; the new layer is in the source's space."""
    with nstyle.Model(device="cpu") as model:
        model.set_option("size", max(W, H))
        model.set_option("precision", "fp32")
        model.set_content(job.content, W, H, job.fmt)
        back = model.fetch(W, H, job.fmt)
    layer = core.commit(doc, job, back)
    doc.waitForDone()
    space = lambda n: (n.colorModel(), n.colorDepth(), n.colorProfile())  # noqa: E731
    if space(layer) != space(paint):
        return "new layer in %s, source in %s" % (space(layer), space(paint))
    got, want = _as_u8(layer, doc), _as_u8(paint, doc)
    worst = max(abs(x - y) for x, y in zip(got, want))
    return "round trip differs by up to %d/255" % worst if worst > 2 else None


def _alpha_as_u8(node, doc):
    clone = node.duplicate()
    doc.rootNode().addChildNode(clone, None)
    clone.setColorSpace("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")
    data = bytes(clone.pixelData(0, 0, W, H))
    clone.remove()
    return data[3::4]
