"""pytest for the nstyle binding against the real libnstyle.so.

    NSTYLE_LIBRARY=target/release/libnstyle.so PYTHONPATH=plugins/python \
        python3 -m pytest -v plugins/python/test_nstyle.py

Engine runs are tiny (≤ 48 px, a few iterations, CPU, fp32): seconds on two cores.
"""

import array
import ctypes
import math
import os
import re
import subprocess
import sys
import threading
import time

import pytest

import nstyle

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HEADER = os.path.join(ROOT, "include", "nstyle.h")

W, H = 40, 30


def gradient_rgba8(w=W, h=H):
    return bytes(v for y in range(h) for x in range(w)
                 for v in (x * 255 // (w - 1), y * 255 // (h - 1), 128, 1 + x * 254 // (w - 1)))


def stripes_rgb8(w=24, h=24):
    return bytes(v for y in range(h) for x in range(w)
                 for v in ((240, 170, 30) if (x + y) // 4 % 2 else (20, 60, 200)))


def small_model(size=32, iterations=4, **options):
    m = nstyle.Model(device="cpu")
    m.set_option("size", size)
    m.set_option("iterations", iterations)
    m.set_option("precision", "fp32")
    for k, v in options.items():
        m.set_option(k, v)
    return m


def ready_model(**kw):
    m = small_model(**kw)
    m.set_content(gradient_rgba8(), W, H)
    m.add_style(stripes_rgb8(), 24, 24, format="rgb8")
    return m


# ----------------------------------------------------------------------------- the header

def header_functions():
    """name -> argument count of every function the header declares."""
    text = open(HEADER).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    found = {}
    for m in re.finditer(r"\b(nstyle_\w+)\s*\(([^;{]*?)\)\s*;", text, flags=re.S):
        args = " ".join(m.group(2).split())
        found[m.group(1)] = 0 if args in ("", "void") else args.count(",") + 1
    return found


def test_header_parses():
    funcs = header_functions()
    assert len(funcs) >= 12, funcs
    assert funcs["nstyle_add_style"] == 7


def test_every_header_function_is_bound_with_the_same_argument_count():
    lib = nstyle.library()
    missing = []
    for name, count in sorted(header_functions().items()):
        if name not in nstyle.FUNCTIONS:
            missing.append("%s: not in nstyle.FUNCTIONS" % name)
            continue
        restype, argtypes = nstyle.FUNCTIONS[name]
        if len(argtypes) != count:
            missing.append("%s: %d arguments in the binding, %d in the header"
                           % (name, len(argtypes), count))
        fn = getattr(lib, name)
        if fn.argtypes is None or len(fn.argtypes) != count:
            missing.append("%s: the loaded function's argtypes are %s" % (name, fn.argtypes))
    extra = sorted(set(nstyle.FUNCTIONS) - set(header_functions()))
    assert not missing and not extra, (missing, extra)


def test_version_and_diagnostics():
    cargo = open(os.path.join(ROOT, "Cargo.toml")).read()
    crate_version = re.search(r'^version = "([^"]+)"', cargo, re.M).group(1)
    assert nstyle.version() == crate_version == nstyle.__version__
    report = nstyle.diagnostics()
    assert report.startswith("nstyle  ") or report.startswith("nstyle "), report
    assert "C ABI %d" % nstyle.ABI_VERSION in report
    # The test environment names the weights ($NSTYLE_WEIGHTS): the report finds them.
    weights = os.environ["NSTYLE_WEIGHTS"]
    assert weights in report, report
    assert "libtorch_cpu.so" in report, report


def test_constants_match_the_header():
    text = open(HEADER).read()
    abi = int(re.search(r"#define NSTYLE_ABI_VERSION (\d+)", text).group(1))
    assert nstyle.ABI_VERSION == abi
    assert nstyle.abi_version() >= abi
    statuses = dict((n, int(v)) for n, v in
                    re.findall(r"NSTYLE_(OK|DONE|ERR_\w+) = (\d+)", text))
    assert {s.name: int(s) for s in nstyle.Status} == statuses
    formats = dict((n, int(v)) for n, v in
                   re.findall(r"NSTYLE_((?:RGB|BGR|GREY)\w*) = (\d+)", text))
    assert {f.name: int(f) for f in nstyle.Format} == formats
    inputs = dict((n, int(v)) for n, v in re.findall(r"NSTYLE_INPUT_(\w+) = (\d+)", text))
    assert {i.name: int(i) for i in nstyle.Input} == inputs
    body = re.search(r"typedef struct NstyleProgress \{(.*?)\} NstyleProgress;", text, re.S)
    body = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
    fields = re.findall(r"(\w+(?:,\s*\w+)*);", body)
    names = [n.strip() for decl in fields for n in decl.split(",")]
    names = [n.split()[-1] for n in names]
    assert list(nstyle.Progress.FIELDS) == names


def test_every_header_constant_and_struct_field_is_in_the_module():
    text = open(HEADER).read()
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    constants = dict((n, int(v)) for n, v in re.findall(r"\b(NSTYLE_\w+) = (\d+)", code))
    constants["NSTYLE_ABI_VERSION"] = nstyle.ABI_VERSION
    assert len(constants) >= 40, constants
    assert {k: int(v) for k, v in nstyle.CONSTANTS.items()} == constants
    source = open(nstyle.__file__).read()
    structs = {"NstyleProgress": nstyle._Progress, "NstyleOptionInfo": nstyle._OptionInfo,
               "NstyleImage": nstyle._Image, "NstyleWeights": nstyle._Weights,
               "NstyleDeviceInfo": nstyle._DeviceInfo, "NstylePreviewFrame": nstyle._PreviewFrame,
               "NstylePreviewEstimate": nstyle._PreviewEstimate}
    assert set(re.findall(r"typedef struct (\w+) \{", code)) == set(structs)
    for name, cls in structs.items():
        body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (name, name), code, re.S).group(1)
        fields = [n.strip().split()[-1].lstrip("*") for decl in re.findall(r"([^;]+);", body)
                  for n in decl.split(",")]
        assert [f for f, _ in cls._fields_] == fields, name
        for field in fields:
            assert '"%s"' % field in source


# ----------------------------------------------------------------------------- running

def test_progress_reports_iterations_scales_and_losses():
    with ready_model(iterations=5) as m:
        seen = []
        while True:
            p = m.step(2)
            seen.append(p)
            if p.done:
                break
        assert [p.iteration for p in seen] == [2, 4, 5]
        for p in seen:
            assert p.total == 5
            assert p.scales >= 1 and 0 <= p.scale < p.scales
            for v in (p.loss, p.content_loss, p.style_loss, p.tv_loss):
                assert math.isfinite(v) and v >= 0
            assert p.loss > 0
        assert [p.done for p in seen] == [False, False, True]
        again = m.step(3)
        assert again.iteration == again.total == 5 and again.done
        assert len(m.fetch(W, H)) == W * H * 4


def test_cancel_from_another_thread():
    with ready_model(iterations=100000) as m:
        m.step(1)  # warm: the next step is all iterations
        outcome = []

        def work():
            try:
                m.step(100000)
                outcome.append("finished")
            except nstyle.Cancelled as e:
                outcome.append(e)
        t = threading.Thread(target=work)
        t.start()
        time.sleep(0.5)
        asked = time.monotonic()
        m.cancel()
        t.join(60)
        assert not t.is_alive(), "step still running 60 s after cancel()"
        assert len(outcome) == 1 and isinstance(outcome[0], nstyle.Cancelled), outcome
        assert outcome[0].status == nstyle.Status.ERR_CANCELLED
        assert isinstance(outcome[0], nstyle.Error)
        print("cancel took %.2f s" % (time.monotonic() - asked))
        # still usable
        p = m.step(1)
        assert p.iteration >= 2
        assert len(m.fetch(W, H)) == W * H * 4


def test_step_says_done_through_its_status():
    with ready_model(iterations=3, scales=1) as m:
        lib = nstyle.library()
        progress = nstyle._Progress()
        assert lib.nstyle_step(m._h(), 2, progress) == nstyle.Status.OK
        assert (progress.iteration, progress.total) == (2, 3)
        assert lib.nstyle_step(m._h(), 5, progress) == nstyle.Status.DONE
        assert progress.iteration == progress.total == 3
        assert lib.nstyle_step(m._h(), 1, progress) == nstyle.Status.DONE  # nothing left
        p = m.step(1)
        assert p.done and p.iteration == 3          # DONE is not an error
        m.set_option("iterations", 5)               # a restart: not done any more
        p = m.step(1)
        assert not p.done and p.iteration == 1


def test_cancel_between_steps_does_not_stop_the_next_step():
    with ready_model(iterations=10) as m:
        m.cancel()                                  # no step runs: forgotten
        assert m.step(2).iteration == 2
        m.cancel()
        assert m.step(1).iteration == 3
        # run() keeps its own flag: a cancel between its steps stops it
        seen = []

        def cancel_once(p):
            seen.append(p.iteration)
            if len(seen) == 1:
                m.cancel()
        with pytest.raises(nstyle.Cancelled):
            m.run(cancel_once, chunk=1)
        assert seen == [4]
        # ... and is not held against the next run
        m.cancel()
        assert m.run(chunk=3).done


def test_errmsg_is_the_models_and_reads_the_same_from_another_thread():
    with small_model() as m, small_model() as other:
        assert m.errmsg() == "no error"
        with pytest.raises(nstyle.Error) as e:
            m.set_option("no_such_option", 1)
        failed = []

        def elsewhere():
            failed.append(m.errmsg())
            try:
                other.set_option("size", 8)        # another model fails on this thread
            except nstyle.Error as err:
                failed.append(err.message)
        t = threading.Thread(target=elsewhere)
        t.start()
        t.join(30)
        assert failed[0] == e.value.message and "no_such_option" in failed[0]
        assert m.errmsg() == e.value.message        # the other model's failure is its own
        assert other.errmsg() == failed[1] and "no_such_option" not in failed[1]
        m.set_option("size", 32)                    # a success keeps the last failure
        assert m.errmsg() == e.value.message
        # a worker's failure reads the same on the host's thread
        box = []
        t = threading.Thread(target=lambda: box.append(
            pytest.raises(nstyle.Error, m.step, 1).value))
        t.start()
        t.join(30)
        assert box[0].status == nstyle.Status.ERR_STATE and m.errmsg() == box[0].message


def test_progress_terms_add_up_to_the_loss():
    with ready_model(iterations=3, scales=1) as m:
        p = m.step(1)
        assert list(p.terms) == ["content", "style", "tv"]
        assert sum(p.terms.values()) == pytest.approx(p.loss, rel=1e-6)
        assert (p.terms["content"], p.terms["style"], p.terms["tv"]) == \
            (p.content_loss, p.style_loss, p.tv_loss)
        assert "content %.3g" % p.content_loss in p.describe_terms()
        target = bytes([255, 0, 255]) * (W * H)
        m.set_temporal(target, W, H, weight=1e3, format="rgb8")
        p = m.step(1)
        assert list(p.terms) == ["content", "style", "tv", "temporal"]
        assert p.terms["temporal"] > 0
        assert sum(p.terms.values()) == pytest.approx(p.loss, rel=1e-6)
        lib = nstyle.library()
        name, value = nstyle.ctypes.c_char_p(), nstyle.ctypes.c_double()
        assert lib.nstyle_progress_term(m._h(), 4, name, value) == nstyle.Status.ERR_ARGUMENT
        assert "out of range" in m.errmsg()


def test_set_input_runs_to_done_and_refuses_a_plane_in_a_colour_slot():
    def result(use_set_input):
        with small_model(iterations=3, scales=1, seed=5) as m:
            if use_set_input:
                m.set_input("content", 0, gradient_rgba8(), W, H)
                m.set_input(nstyle.Input.STYLE, 0, stripes_rgb8(), 24, 24, format="rgb8")
                m.set_input("style_region", 0, left_half_grey8(), W, H)
                m.set_input("style_region", 0, None)    # cleared again
            else:
                m.set_content(gradient_rgba8(), W, H)
                m.add_style(stripes_rgb8(), 24, 24, format="rgb8")
            final = m.run()
            assert final.done and final.iteration == 3
            return m.fetch(W, H)
    assert result(True) == result(False)
    with ready_model() as m:
        for slot, fmt in (("content", "grey8"), ("style", "grey16"), ("init_image", "grey_f32"),
                          ("content_mask", "rgba8"), ("style_region", "rgb8")):
            bpp = {"grey8": 1, "grey16": 2, "grey_f32": 4, "rgba8": 4, "rgb8": 3}[fmt]
            with pytest.raises(nstyle.Error) as e:
                m.set_input(slot, 0, bytes(W * H * bpp), W, H, format=fmt)
            assert e.value.status == nstyle.Status.ERR_ARGUMENT, slot
            assert e.value.message == m.errmsg() and "input" in e.value.message
        with pytest.raises(nstyle.Error) as e:
            m.set_input("content", 0, None)           # the content cannot be cleared
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error) as e:
            m.set_input("style_region", 3, left_half_grey8(), W, H)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error) as e:
            m.set_input("temporal_weights", 0, left_half_grey8(), W, H)
        assert e.value.status == nstyle.Status.ERR_STATE
        with pytest.raises(nstyle.Error) as e:
            m.set_input(99, 0, None)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT and "unknown input" in e.value.message
        with pytest.raises(nstyle.Error):
            m.set_input("no_such_slot", 0, None)
        m.set_input("style", 1, stripes_rgb8(), 24, 24, format="rgb8")   # adds a second style
        m.set_input("style", 1, None)                                     # removes it
        with pytest.raises(nstyle.Error):
            m.set_input("style", 1, None)
        assert m.step(1).iteration == 1          # nothing above broke the model


def test_close_cancels_a_running_step():
    m = ready_model(iterations=100000)
    m.step(1)
    errors = []

    def work():
        try:
            m.step(100000)
        except nstyle.Error as e:
            errors.append(e)
    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.3)
    m.close()
    t.join(60)
    assert not t.is_alive()
    assert m.closed
    assert errors and isinstance(errors[0], nstyle.Cancelled)


def run_to_end(seed, init="random"):
    with ready_model(iterations=3, seed=seed, init=init) as m:
        m.step(3)
        return m.fetch(W, H)


def test_results_are_deterministic_with_a_seed():
    a, b = run_to_end(11), run_to_end(11)
    assert a == b
    assert run_to_end(12) != a


# ----------------------------------------------------------------------------- errors

def test_errors_carry_status_and_engine_message():
    with pytest.raises(nstyle.Error) as e:
        nstyle.Model(weights="/nonexistent/weights.safetensors", device="cpu")
    assert e.value.status == nstyle.Status.ERR_IO
    assert "/nonexistent/weights.safetensors" in e.value.message
    assert e.value.message == nstyle.last_error()
    assert e.value.message in str(e.value)

    with pytest.raises(nstyle.Error) as e:
        nstyle.Model(device="cuda:63")
    assert e.value.status == nstyle.Status.ERR_DEVICE and e.value.message

    with small_model() as m:
        with pytest.raises(nstyle.Error) as e:
            m.set_option("no_such_option", 1)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        assert "no_such_option" in e.value.message
        assert e.value.message == m.errmsg() == nstyle.last_error()
        with pytest.raises(nstyle.Error) as e:
            m.set_option("size", 8)  # under the 16 px minimum (0 means full size)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT and e.value.message
        with pytest.raises(nstyle.Error) as e:
            m.set_weights(5, -1, 0.01)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error) as e:
            m.set_weights(float("nan"), 100, 0.01)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error) as e:
            m.step(1)  # no content, no style
        assert e.value.status == nstyle.Status.ERR_STATE and e.value.message
        m.set_content(gradient_rgba8(), W, H)
        with pytest.raises(nstyle.Error) as e:
            m.step(1)  # no style
        assert e.value.status == nstyle.Status.ERR_STATE
        m.add_style(stripes_rgb8(), 24, 24, format="rgb8")
        m.clear_styles()
        with pytest.raises(nstyle.Error):
            m.step(1)


def test_binding_checks_buffers_before_calling_the_library():
    with small_model() as m:
        with pytest.raises(nstyle.Error) as e:
            m.set_content(b"\0" * (W * H * 4 - 1), W, H)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error) as e:
            m.set_content(gradient_rgba8(), W, H, stride=W * 4 - 1)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error) as e:
            m.set_content(gradient_rgba8(), W, H, format="cmyk")
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error):
            m.set_content(gradient_rgba8(), 0, H)
        with pytest.raises(nstyle.Error):
            m.set_content(12345, W, H)
        m.set_content(gradient_rgba8(), W, H)
        with pytest.raises(nstyle.Error):
            m.fetch_into(bytes(W * H * 4), W, H)  # read-only
        with pytest.raises(nstyle.Error):
            m.fetch_into(bytearray(W * H * 4 - 1), W, H)


def test_closed_model():
    m = small_model()
    with m:
        pass
    assert m.closed
    m.close()  # idempotent
    m.cancel()  # harmless
    with pytest.raises(nstyle.Error) as e:
        m.set_option("size", 32)
    assert e.value.status == nstyle.Status.ERR_STATE


# ----------------------------------------------------------------------------- pixels

def to_format(rgba8, fmt):
    """rgba8 bytes in another format (as the engine reads it)."""
    if fmt == "rgba8":
        return rgba8
    if fmt == "rgb8":
        return bytes(b for i, b in enumerate(rgba8) if i % 4 != 3)
    if fmt == "rgba16":
        return array.array("H", (v * 257 for v in rgba8)).tobytes()
    return array.array("f", (v / 255.0 for v in rgba8)).tobytes()


@pytest.mark.parametrize("fmt,bpp", [("rgb8", 3), ("rgba8", 4), ("rgba16", 8), ("rgba_f32", 16)])
def test_formats_round_trip_before_any_step(fmt, bpp):
    src = gradient_rgba8()
    with small_model(size=max(W, H)) as m:
        m.set_content(to_format(src, fmt), W, H, format=fmt)
        for out_fmt in ("rgba8", fmt):
            out = m.fetch(W, H, out_fmt)
            assert len(out) == W * H * {"rgb8": 3, "rgba8": 4, "rgba16": 8, "rgba_f32": 16}[out_fmt]
        back = m.fetch(W, H, "rgba8")
    worst = max(abs(a - b) for i, (a, b) in enumerate(zip(back, src)) if i % 4 != 3)
    assert worst <= 2
    alpha = back[3::4]
    if fmt == "rgb8":
        assert set(alpha) == {255}
    else:
        assert max(abs(a - b) for a, b in zip(alpha, src[3::4])) <= 1


def test_stride_and_buffer_kinds_give_the_same_content():
    src = gradient_rgba8()
    stride = W * 4 + 12
    padded = b"".join(src[y * W * 4:(y + 1) * W * 4] + b"\xee" * 12 for y in range(H))
    variants = [
        (src, None), (bytearray(src), None), (memoryview(src), None),
        (array.array("B", src), None), (padded, stride), (memoryview(padded)[0:], stride),
    ]
    results = []
    with small_model(size=max(W, H)) as m:
        for pixels, s in variants:
            m.set_content(pixels, W, H, stride=s)
            results.append(m.fetch(W, H))
        out = bytearray(stride * H)
        m.fetch_into(out, W, H, stride=stride)
    assert all(r == results[0] for r in results)
    assert b"".join(out[y * stride:y * stride + W * 4] for y in range(H)) == results[0]


def test_numpy_arrays():
    np = pytest.importorskip("numpy")
    src = np.frombuffer(gradient_rgba8(), dtype=np.uint8).reshape(H, W, 4)
    with small_model(size=max(W, H)) as m:
        m.set_content(src, W, H)
        want = m.fetch(W, H)
        # a non-contiguous view (every other column of a wider image) and padded rows
        wide = np.zeros((H, W * 2, 4), dtype=np.uint8)
        wide[:, ::2] = src
        m.set_content(wide[:, ::2], W, H)
        assert m.fetch(W, H) == want
        padded = np.zeros((H, W + 3, 4), dtype=np.uint8)
        padded[:, :W] = src
        m.set_content(padded[:, :W], W, H)
        assert m.fetch(W, H) == want
        m.set_content(src.astype(np.float32) / 255.0, W, H, format="rgba_f32")
        arr = m.fetch_array(W, H)
        assert arr.shape == (H, W, 4) and arr.dtype == np.uint8
        assert int(np.abs(arr.astype(int) - src.astype(int)).max()) <= 2
        with pytest.raises(nstyle.Error):
            m.set_content(src.astype(np.uint16), W, H)  # rgba8 wants uint8
        m.add_style(np.frombuffer(stripes_rgb8(), np.uint8).reshape(24, 24, 3), 24, 24,
                    format="rgb8", weight=0.5)
        m.set_option("iterations", 1)
        assert m.step(1).done
        out = np.empty((H, W, 4), dtype=np.uint16)
        m.fetch_into(out, W, H, format="rgba16")
        assert out.max() > 255


# ----------------------------------------------------------------------------- finding the library

def _probe(env, pythonpath):
    env = dict(env, PYTHONPATH=pythonpath)
    code = "import nstyle; print(nstyle.library_path()); print(nstyle.abi_version())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)


def test_library_found_from_env_then_next_to_the_package(tmp_path):
    lib = nstyle.library_path()
    env = {k: v for k, v in os.environ.items() if k != "NSTYLE_LIBRARY"}
    # 1. $NSTYLE_LIBRARY
    r = _probe(dict(env, NSTYLE_LIBRARY=lib), HERE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == lib
    # 2. next to the package: a copy of the package with the library beside it
    site = tmp_path / "site"
    pkg = site / "nstyle"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(open(nstyle.__file__).read())
    os.symlink(os.path.realpath(lib), site / "libnstyle.so")
    r = _probe(env, str(site))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == str(site / "libnstyle.so")
    # $NSTYLE_LIBRARY wins over the copy next to the package, and a bad one is an Error
    r = _probe(dict(env, NSTYLE_LIBRARY=str(tmp_path / "nope.so")), str(site))
    assert r.returncode != 0 and "nstyle.Error" in r.stderr and "nope.so" in r.stderr


# ----------------------------------------------------------------------------- option table

def test_option_table_gives_defaults_ranges_and_current_values():
    rows = {o.key: o for o in nstyle.options()}
    # the header's option list is rendered from the same table: defaults and integer ranges
    documented = dict(re.findall(r"^ \* - `(\w+)`: .*\(default `([^`]*)`;", open(HEADER).read(),
                                 flags=re.M))
    assert documented and {k: o.default for k, o in rows.items()} == documented
    for key, lo, hi in re.findall(r"^ \* - `(\w+)`: .*a whole number in (\d+)\.\.=(\d+)",
                                  open(HEADER).read(), flags=re.M):
        assert (rows[key].minimum, rows[key].maximum) == (float(lo), float(hi)), key
    assert rows["size"].kind == "int" and rows["size"].unit == "px"
    assert rows["size"].parse_default() == int(documented["size"])
    assert rows["optimizer"].words == ["lbfgs", "adam"]
    assert rows["scales"].words == ["auto"] and rows["scales"].effect == "restart"
    with nstyle.Model(device="cpu") as m:
        for row in rows.values():
            m.set_option(row.key, row.default)
            m.set_option(row.key, m.get_option(row.key))
        m.set_option("iterations", 7)
        assert m.get_option("iterations") == "7"
        with pytest.raises(nstyle.Error) as e:
            m.get_option("no_such_option")
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error) as e:
            m.result_size()
        assert e.value.status == nstyle.Status.ERR_STATE
        m.set_content(bytes(48 * 40 * 4), 48, 40)
        m.set_option("size", 100)
        assert m.result_size() == (100, 83)


def test_bgra8_and_half_float_pixels_round_trip():
    with nstyle.Model(device="cpu") as m:
        m.set_option("size", 16)
        bgra = bytes([10, 20, 30, 255] * 16 * 16)
        m.set_content(bgra, 16, 16, format="bgra8")
        assert m.fetch(16, 16, format="bgra8") == bgra
        rgba = m.fetch(16, 16, format="rgba8")
        assert rgba[:4] == bytes([30, 20, 10, 255])


def test_option_finds_one_row_and_set_weights_defaults_come_from_the_table():
    size = nstyle.option("size")
    assert size.key == "size"
    assert size.default == {o.key: o for o in nstyle.options()}["size"].default
    with pytest.raises(nstyle.Error) as e:
        nstyle.option("no_such_option")
    assert e.value.status == nstyle.Status.ERR_ARGUMENT
    with nstyle.Model(device="cpu") as m:
        m.set_weights(1, 2, 3)
        m.set_weights(style=7)
        for key, want in (("content_weight", nstyle.option("content_weight").parse_default()),
                          ("style_weight", 7.0),
                          ("tv_weight", nstyle.option("tv_weight").parse_default())):
            assert float(m.get_option(key)) == pytest.approx(want), key


# ----------------------------------------------------------------------------- run()

def test_run_reports_monotonic_progress_to_the_end():
    with ready_model(iterations=6) as m:
        seen = []
        final = m.run(seen.append)
        assert final.done and final.iteration == final.total == 6
        assert seen and seen[-1] == final
        its = [p.iteration for p in seen]
        assert its == sorted(set(its)), its          # strictly increasing
        assert all(p.total == 6 for p in seen)
        again = m.run()                              # already done: returns at once
        assert again.iteration == 6


def test_run_fixed_and_adaptive_chunks():
    with ready_model(iterations=7, scales=1) as m:
        seen = []
        m.run(lambda p: seen.append(p.iteration), chunk=3)
        assert seen == [3, 6, 7]
    with ready_model(iterations=5, scales=1) as m:
        seen = []
        m.run(lambda p: seen.append(p.iteration), interval=1e-9)   # every chunk is 1
        assert seen == [1, 2, 3, 4, 5]
    with ready_model(iterations=10, scales=1) as m:
        seen = []
        m.run(lambda p: seen.append(p.iteration), interval=3600)   # doubles each time
        assert seen == [1, 3, 7, 10]
    with ready_model(iterations=6, size=48, scales=2) as m:
        seen = []
        m.run(lambda p: seen.append((p.iteration, p.scale)), interval=3600)
        # the first chunk after a scale change is one iteration
        changed = [i for i in range(1, len(seen)) if seen[i][1] != seen[i - 1][1]]
        assert changed and seen[-1][0] == 6, seen
        for i in changed:
            if i + 1 < len(seen):
                assert seen[i + 1][0] - seen[i][0] == 1, seen
    with small_model() as m:
        for bad in (0, -1, 1.5, True):
            with pytest.raises(nstyle.Error):
                m.run(chunk=bad)
        for bad in (0, -1, float("nan"), "x"):
            with pytest.raises(nstyle.Error):
                m.run(interval=bad)


def test_run_gives_the_same_image_as_one_step():
    with ready_model(iterations=4) as m:
        m.step(4)
        want = m.fetch(W, H)
    with ready_model(iterations=4) as m:
        m.run(chunk=1)
        assert m.fetch(W, H) == want


def test_run_cancelled_from_another_thread_model_usable():
    with ready_model(iterations=100000) as m:
        seen = []
        outcome = []
        started = threading.Event()

        def progress(p):
            seen.append(p.iteration)
            started.set()

        def work():
            try:
                m.run(progress)
                outcome.append("finished")
            except nstyle.Cancelled as e:
                outcome.append(e)
        t = threading.Thread(target=work)
        t.start()
        assert started.wait(60), "no progress within 60 s"
        m.cancel()
        t.join(60)
        assert not t.is_alive(), "run() still going 60 s after cancel()"
        assert len(outcome) == 1 and isinstance(outcome[0], nstyle.Cancelled), outcome
        assert outcome[0].status == nstyle.Status.ERR_CANCELLED
        assert seen == sorted(seen) and seen[-1] < 100000
        p = m.step(1)                                # usable, continues
        assert p.iteration >= seen[-1] + 1


def test_run_stopped_by_the_callback():
    with ready_model(iterations=8, scales=1) as m:
        seen = []

        def stop_after_two(p):
            seen.append(p.iteration)
            return len(seen) < 2                     # False on the second call
        with pytest.raises(nstyle.Cancelled) as e:
            m.run(stop_after_two, chunk=2)
        assert e.value.status == nstyle.Status.ERR_CANCELLED
        assert seen == [2, 4]
        # a callback that raises: the exception comes through, the model stays usable
        calls = []

        def boom(p):
            calls.append(p.iteration)
            raise KeyError("stop")
        with pytest.raises(KeyError):
            m.run(boom, chunk=1)
        assert calls == [5]
        final = m.run(chunk=20)
        assert final.done and final.iteration == 8


def test_strength_reaches_the_library_and_is_checked_against_its_range():
    opt = nstyle.option("strength")
    assert opt.kind == "float" and opt.effect == "live"
    assert "strength" in [o.key for o in nstyle.options()]
    with small_model() as m:
        assert float(m.get_option("strength")) == opt.parse_default()
        m.set_option("strength", 0.9)
        assert m.get_option("strength") == "0.9"
        with pytest.raises(nstyle.Error) as e:
            m.set_option("strength", opt.maximum + 1)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT and opt.accepts in e.value.message
        assert m.get_option("strength") == "0.9"


def test_strength_changes_the_result():
    def result(strength):
        with ready_model(seed=3) as m:
            m.set_option("strength", strength)
            m.run()
            return m.fetch(W, H)
    low, high = result(0.0), result(1.0)
    assert low != high  # (4 iterations: a small but certain difference)


def test_lite_backbone_runs():
    assert nstyle.option("backbone").words == ["vgg19", "lite"]
    with ready_model() as m:
        m.set_option("backbone", "lite")
        assert m.get_option("backbone") == "lite"
        p = m.run()
        assert p.done
        out = m.fetch(W, H)
        assert len(out) == W * H * 4 and out != gradient_rgba8()


def test_estimate_needs_a_content_and_a_style_then_grows_with_the_work():
    with small_model() as m:
        with pytest.raises(nstyle.Error) as e:
            m.estimate_seconds()
        assert e.value.status == nstyle.Status.ERR_STATE
        assert "content" in str(e.value)
        m.set_content(gradient_rgba8(), W, H)
        with pytest.raises(nstyle.Error) as e:
            m.estimate_seconds()
        assert e.value.status == nstyle.Status.ERR_STATE
        m.add_style(stripes_rgb8(), 24, 24, format="rgb8")
        small = m.estimate_seconds()
        assert 0 < small < float("inf")
        m.set_option("iterations", 40)
        longer = m.estimate_seconds()
        m.set_option("size", 0)            # the content's own 40×30
        m.set_option("iterations", 4)
        larger = m.estimate_seconds()
        assert longer > small and larger > small
        # In words, from the library: the time and this machine.
        text = m.estimate_text()
        assert text.startswith("about ") or text.startswith("under a second"), text
        assert "on this machine" in text
        # Estimating starts nothing: the run begins at iteration 0.
        assert m.step(1).iteration == 1


def test_devices_list_the_cpu_first_and_say_why_a_gpu_is_unusable():
    devices = nstyle.devices()
    assert devices[0].id == "cpu" and devices[0].name.startswith("CPU (")
    assert devices[0].reason is None and devices[0].memory_bytes > 0
    for index, gpu in enumerate(devices[1:]):
        assert gpu.id == "cuda:%d" % index
        assert gpu.reason is None or gpu.reason  # a reason is never empty
    past = nstyle._DeviceInfo()
    with pytest.raises(nstyle.Error, match="out of range"):
        nstyle._check(nstyle.library().nstyle_device_info(len(devices), ctypes.byref(past)))


def test_preview_shows_the_quick_picture_then_refines_then_estimates():
    with nstyle.Preview(device="cpu") as preview, ready_model() as model:
        assert preview.side == 256
        job = preview.start(model, full_size=(W * 4, H * 4))
        frames, deadline = [], time.monotonic() + 120
        while time.monotonic() < deadline and not (frames and frames[-1].done):
            frame = preview.frame()
            if frame is not None and (not frames or frame.serial != frames[-1].serial):
                frames.append(frame)
            time.sleep(0.01)
        assert frames and frames[0].quick and frames[-1].done
        assert all(f.job == job and f.error is None for f in frames)
        last = frames[-1]
        assert (last.width, last.height) == (W, H) and len(last.pixels) == W * H * 4
        assert last.terms.startswith("content ")
        while preview.estimate() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        estimate = preview.estimate()
        assert estimate.job == job and estimate.error is None
        assert "on this machine" in estimate.words and estimate.seconds > 0
        with pytest.raises(nstyle.Error, match="full width"):
            preview.start(model, full_size=(-1, 5))
    with pytest.raises(nstyle.Error, match="closed"):
        preview.start(model)


def test_a_preview_job_that_cannot_run_says_why():
    with nstyle.Preview(device="cpu") as preview, small_model() as model:
        model.set_content(gradient_rgba8(), W, H)  # no style
        preview.start(model)
        deadline = time.monotonic() + 60
        frame = preview.frame()
        while (frame is None or not frame.done) and time.monotonic() < deadline:
            time.sleep(0.01)
            frame = preview.frame()
        assert frame.pixels is None and frame.error.status == nstyle.Status.ERR_STATE
        assert "no style" in str(frame.error)


def test_describe_seconds_in_words():
    assert nstyle.describe_seconds(0.2) == "under a second"
    assert nstyle.describe_seconds(float("nan")) == "under a second"
    assert nstyle.describe_seconds(7.4) == "about 7 s"
    assert nstyle.describe_seconds(42) == "about 40 s"
    assert nstyle.describe_seconds(185) == "about 3 min"
    assert nstyle.describe_seconds(7800) == "about 2 h 10 min"


# ----------------------------------------------------------------------------- video (ABI 4)

def test_init_image_and_temporal_target():
    magenta = bytes([255, 0, 255]) * (W * H)
    with ready_model(iterations=3, scales=1) as m:
        m.set_init_image(magenta, W, H, format="rgb8")
        assert m.get_option("init") == "image"
        start = m.fetch(W, H, format="rgb8")
        assert start[3 * (H // 2 * W + W // 2):][:3] == bytes([255, 0, 255])
        # A weight map of the wrong length is refused here, bad values by the library.
        with pytest.raises(nstyle.Error) as e:
            m.set_temporal(magenta, W, H, weights=[1.0] * (W * H - 1), format="rgb8")
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error) as e:
            m.set_temporal(magenta, W, H, weights=[float("nan")] * (W * H), format="rgb8")
        assert e.value.status == nstyle.Status.ERR_ARGUMENT and "0..1" in e.value.message
        with pytest.raises(nstyle.Error) as e:
            m.set_temporal(magenta, W, H, weight=-1, format="rgb8")
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        m.set_temporal(magenta, W, H, weights=[0.5] * (W * H), weight=1e6, format="rgb8")
        p = m.step(10)
        assert p.done and p.loss > p.content_loss + p.style_loss + p.tv_loss
        m.clear_temporal()
        m.set_option("init", "content")
        assert m.get_option("init") == "content"


# ----------------------------------------------------------------------------- regions (ABI 4)

def left_half_grey8(w=W, h=H):
    return bytes(255 if x < w // 2 else 0 for y in range(h) for x in range(w))


def test_mask_formats_match_the_header():
    text = open(HEADER).read()
    formats = dict((n, int(v)) for n, v in re.findall(r"NSTYLE_MASK_(\w+) = (\d+)", text))
    assert {f.name: int(f) for f in nstyle.MaskFormat} == formats


def test_style_mask_misuse_gets_a_status_and_a_reason():
    with small_model() as m:
        with pytest.raises(nstyle.Error) as e:
            m.set_style_mask(0, left_half_grey8(), W, H)  # no style yet
        assert e.value.status == nstyle.Status.ERR_ARGUMENT and "no style 0" in e.value.message
        m.set_content(gradient_rgba8(), W, H)
        m.add_style(stripes_rgb8(), 24, 24, format="rgb8")
        with pytest.raises(nstyle.Error) as e:
            m.clear_style_mask(1)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT
        with pytest.raises(nstyle.Error) as e:
            m.set_style_mask(0, bytes(W * H), W, H)  # 0 everywhere
        assert "0 everywhere" in e.value.message
        nan = array.array("f", [float("nan")] + [1.0] * (W * H - 1)).tobytes()
        with pytest.raises(nstyle.Error) as e:
            m.set_style_mask(0, nan, W, H, format="grey_f32")
        assert e.value.status == nstyle.Status.ERR_ARGUMENT and "finite" in e.value.message
        with pytest.raises(nstyle.Error):
            m.set_style_mask(0, left_half_grey8(), 0, H)
        with pytest.raises(nstyle.Error):
            m.set_style_mask(0, left_half_grey8(), W, H, format="rgb8")
        with pytest.raises(nstyle.Error):
            m.set_style_source_mask(-1, left_half_grey8(), W, H)
        # The library's own checks, past the binding's.
        lib = nstyle.library()
        assert lib.nstyle_set_style_mask(m._h(), 0, None, W, H, W, 0) == nstyle.Status.ERR_ARGUMENT
        assert lib.nstyle_set_style_mask(m._h(), 0, left_half_grey8(), W, H, W, 3) \
            == nstyle.Status.ERR_ARGUMENT
        assert lib.nstyle_clear_style_mask(None, 0) == nstyle.Status.ERR_ARGUMENT
        m.step(1)  # nothing above changed the model


def test_a_content_mask_changes_the_result_misuse_is_refused_and_clearing_restores():
    def result(mask=None, clear=False):
        with ready_model(iterations=4) as m:
            m.set_option("content_mask_gain", "100")
            if mask is not None:
                m.set_content_mask(mask, W, H)
            if clear:
                m.step(1)
                m.clear_content_mask()
                m.set_content(gradient_rgba8(), W, H)  # restart: only the mask's absence counts
            m.run()
            return m.fetch(W, H)

    plain = result()
    assert result(left_half_grey8()) != plain
    assert result(left_half_grey8(), clear=True) == plain
    with small_model() as m:
        with pytest.raises(nstyle.Error) as e:
            m.set_content_mask(bytes(W * H), W, H)
        assert e.value.status == nstyle.Status.ERR_ARGUMENT and "0 everywhere" in e.value.message
        with pytest.raises(nstyle.Error):
            m.set_content_mask(left_half_grey8(), W, H, format="rgb8")
        assert nstyle.library().nstyle_clear_content_mask(None) == nstyle.Status.ERR_ARGUMENT
        m.clear_content_mask()


def test_a_style_mask_changes_the_result_and_clearing_it_restores_it():
    def result(mask=None, source_mask=False):
        with ready_model(iterations=4) as m:
            if mask is not None:
                fmt, data = mask
                m.set_style_mask(0, data, W, H, format=fmt)
                if source_mask:
                    m.set_style_source_mask(0, left_half_grey8(24, 24), 24, 24)
                m.step(1)
                m.clear_style_mask(0)
                m.clear_style_source_mask(0)
                m.set_content(gradient_rgba8(), W, H)  # restart: only the masks' absence counts
            m.run()
            return m.fetch(W, H)

    plain = result()
    assert result(("grey8", left_half_grey8()), source_mask=True) == plain
    with ready_model(iterations=4) as m:
        grey16 = array.array("H", [65535 if x < W // 2 else 0
                                   for y in range(H) for x in range(W)]).tobytes()
        m.set_style_mask(0, grey16, W, H, format="grey16")
        m.run()
        assert m.fetch(W, H) != plain
