"""Tests of nstyle.batch, nstyle.video and `python -m nstyle batch|video` against the real
library (make batch-test). Small: 48–64 px, a few iterations. The Ray tests start a local Ray on
loopback with 2 CPUs and stop it at the end."""

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import nstyle
from nstyle.batch import BatchConfig, plan_jobs, run_batch
from nstyle.imagefiles import read_image, write_image_atomically

OPTIONS = {"size": 48, "iterations": 4, "scales": 1, "stop_tolerance": 0}


def photo(width, height, phase=0.0):
    """A smooth synthetic photo with some structure (RGB uint8)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(xs / 7.0 + phase)
    g = 0.5 + 0.4 * np.cos(ys / 5.0 + xs / 11.0)
    b = ((xs // 8 + ys // 8) % 2) * 0.6 + 0.2
    return (np.stack([r, g, b], axis=2) * 255).astype(np.uint8)


def stripes(size=48):
    ys, xs = np.mgrid[0:size, 0:size]
    stripe = ((xs + 2 * ys) // 4) % 3
    colours = np.array([[15, 25, 160], [230, 200, 80], [25, 100, 200]], dtype=np.uint8)
    return colours[stripe]


@pytest.fixture()
def folder(tmp_path):
    """inputs/ with three photos and a broken file; style.png beside it."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i in range(3):
        write_image_atomically(str(inputs / ("photo%d.png" % i)), photo(64, 48, phase=i))
    (inputs / "broken.png").write_bytes(b"this is not a png")
    write_image_atomically(str(tmp_path / "style.png"), stripes())
    return tmp_path


def config(folder, **kw):
    return BatchConfig([(str(folder / "style.png"), 1.0)], dict(OPTIONS), device="cpu", **kw)


def no_partial_files(directory):
    return [n for n in os.listdir(directory) if ".partial" in n] == []


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_clones_venv_runs_this_checkouts_package_and_the_shared_one_none():
    """`make setup` makes .venv a venv of this clone layered over the shared one, with the
    package installed editable: from anywhere, without PYTHONPATH, its python imports this
    checkout's nstyle and the shared packages; the shared venv (every clone's) has no nstyle."""
    marker = os.path.join(ROOT, ".venv", "shared-venv")
    if not os.path.exists(marker):
        pytest.skip("no layered .venv here (make venv makes it)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-c",
                          "import nstyle, torch, ray, cv2, imageio_ffmpeg, sys;"
                          " print(nstyle.__file__); print(sys.prefix)"],
                         cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    package, prefix = run.stdout.split()
    assert package == os.path.join(ROOT, "plugins", "python", "nstyle", "__init__.py")
    assert prefix == os.path.join(ROOT, ".venv")
    with open(marker) as f:
        shared = f.read().strip()
    assert not os.path.islink(os.path.join(ROOT, ".venv"))
    assert os.path.realpath(shared) != os.path.realpath(os.path.join(ROOT, ".venv"))
    run = subprocess.run([os.path.join(shared, "bin", "python"), "-c", "import nstyle"],
                         cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "No module named 'nstyle'" in run.stderr


def test_local_batch_records_the_bad_input_and_resumes(folder):
    out = folder / "out"
    out.mkdir()
    jobs, skipped = plan_jobs([str(folder / "inputs")], str(out))
    assert len(jobs) == 4 and skipped == []
    summary = run_batch(jobs, config(folder), engine="local", workers=1, output_dir=str(out))
    assert sorted(os.path.basename(r["input"]) for r in summary["done"]) == \
        ["photo0.png", "photo1.png", "photo2.png"]
    assert [os.path.basename(r["input"]) for r in summary["failed"]] == ["broken.png"]
    failures = [json.loads(line) for line in open(out / "failures.jsonl")]
    assert len(failures) == 1 and "broken.png" in failures[0]["error"]
    for i in range(3):
        pixels, width, height, fmt = read_image(str(out / ("photo%d.png" % i)))
        assert (width, height, fmt) == (64, 48, "rgb8")
        # Stylised, not a copy of the photo.
        assert np.abs(pixels.astype(int) - photo(64, 48, phase=i)).mean() > 2
    assert not (out / "broken.png").exists()
    assert no_partial_files(out)

    # A re-run skips what is there: only the broken file (and a deleted output) are tried.
    os.unlink(out / "photo1.png")
    before = os.path.getmtime(out / "photo0.png")
    jobs, skipped = plan_jobs([str(folder / "inputs")], str(out))
    assert sorted(os.path.basename(j[0]) for j in jobs) == ["broken.png", "photo1.png"]
    assert len(skipped) == 2
    summary = run_batch(jobs, config(folder), engine="local", output_dir=str(out),
                        skipped=skipped)
    assert len(summary["done"]) == 1 and len(summary["failed"]) == 1
    assert os.path.getmtime(out / "photo0.png") == before
    assert (out / "photo1.png").exists()


def test_a_stopped_stylist_stops_between_steps_and_before_its_next_picture(folder):
    # ABI 6: a cancel stops only the running step, so Stylist.stop() (an interrupted clip) keeps
    # its own flag: the run it interrupts and every later picture raise Cancelled.
    from nstyle.batch import Stylist
    stylist = Stylist(BatchConfig([(str(folder / "style.png"), 1.0)],
                                  dict(OPTIONS, iterations=50), device="cpu"))
    try:
        frame = photo(64, 48)
        steps = []
        run = stylist.model.run

        def run_and_stop(progress=None, **kw):       # stop() from the first progress report
            def report(p):
                steps.append(p.iteration)
                stylist.stop()
                return progress(p) if progress else None
            return run(report, chunk=1, **kw)
        stylist.model.run = run_and_stop
        with pytest.raises(nstyle.Cancelled):
            stylist.stylise(frame, 64, 48, "rgb8")
        assert steps == [1]
        stylist.model.run = run
        with pytest.raises(nstyle.Cancelled):
            stylist.stylise(frame, 64, 48, "rgb8")
        assert stylist.model.step(1).iteration == 1   # usable (set_content restarted the run)
    finally:
        stylist.close()


def test_cli_batch_exit_status_and_summary(folder):
    out = folder / "cli-out"
    env = dict(os.environ)
    command = [sys.executable, "-m", "nstyle", "batch", "--style", str(folder / "style.png"),
               "--input", str(folder / "inputs"), "--output", str(out), "--size", "48",
               "--iterations", "3", "--scales", "1", "--device", "cpu"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr
    assert "3 done, 0 skipped (already there), 1 failed" in run.stderr
    assert (out / "failures.jsonl").exists()
    # Everything done: a second run has nothing to do.
    os.unlink(folder / "inputs" / "broken.png")
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "0 done, 3 skipped" in run.stderr
    assert not (out / "failures.jsonl").exists()


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs on loopback only, stopped at the end."""
    from nstyle.batch import keep_ray_on_loopback

    keep_ray_on_loopback()
    import ray

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    try:
        assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
        yield ray
    finally:
        ray.shutdown()


def test_ray_batch_survives_a_worker_that_kills_itself(folder, local_ray):
    out = folder / "ray-out"
    out.mkdir()
    for i in range(3, 5):
        write_image_atomically(str(folder / "inputs" / ("photo%d.png" % i)), photo(64, 48, i))
    marker = folder / "crashed"
    jobs, _ = plan_jobs([str(folder / "inputs")], str(out))
    started = time.monotonic()
    summary = run_batch(jobs, config(folder, crash_once=str(marker)), engine="ray", workers=2,
                        output_dir=str(out))
    elapsed = time.monotonic() - started
    assert marker.exists(), "the fault was not injected"
    crashed_pid, crashed_actor = marker.read_text().split()
    crashed_pid = int(crashed_pid)
    done = sorted(os.path.basename(r["input"]) for r in summary["done"])
    assert done == ["photo%d.png" % i for i in range(5)], summary
    assert [os.path.basename(r["input"]) for r in summary["failed"]] == ["broken.png"]
    # Nothing done twice, nothing lost, no half files; the crashed worker did not finish one.
    assert len(summary["done"]) == len(set(r["input"] for r in summary["done"]))
    assert crashed_pid not in {r["pid"] for r in summary["done"]}
    assert no_partial_files(out)
    # The crashed actor came back in a new process and did the image it died on (and more).
    crashed_at = os.path.getmtime(marker)
    restarted = [r for r in summary["done"] if r["actor"] == crashed_actor]
    assert restarted, "the restarted worker did no image"
    assert all(r["pid"] != crashed_pid for r in restarted)
    print("\nray batch with one worker crash: %d images in %.1f s; the restarted worker was "
          "ready %.1f s after the crash and did %d image(s), the other %d"
          % (len(summary["done"]), elapsed, restarted[0]["worker_ready"] - crashed_at,
             len(restarted), len(summary["done"]) - len(restarted)))


# --------------------------------------------------------------------------- video

PAN = 2            # pixels per frame
FRAMES = 6
FPS = 12


def panned_clip(path, width=64, height=48, with_audio=True):
    """A photo panned PAN px a frame to the left (so frame t = frame t-1 shifted by PAN)."""
    import imageio_ffmpeg

    wide = photo(width + PAN * FRAMES, height)
    silent = str(path) + ".silent.mp4"
    writer = imageio_ffmpeg.write_frames(silent, (width, height), fps=FPS, quality=10,
                                         macro_block_size=1)
    writer.send(None)
    for t in range(FRAMES):
        writer.send(np.ascontiguousarray(wide[:, PAN * t:PAN * t + width]).tobytes())
    writer.close()
    if not with_audio:
        os.replace(silent, path)
        return
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", silent,
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=%f" % (FRAMES / FPS),
                    "-c:v", "copy", "-c:a", "aac", "-shortest", str(path)], check=True)
    os.unlink(silent)


def pan_difference(frames):
    """Mean absolute difference (0–255) between frame t and frame t-1 shifted by the pan, over
    their overlap: 0 is perfectly coherent."""
    diffs = [np.abs(frames[t][:, :-PAN].astype(float) - frames[t - 1][:, PAN:]).mean()
             for t in range(1, len(frames))]
    return float(np.mean(diffs))


def read_all(path):
    from nstyle.video import read_video

    meta, frames = read_video(str(path))
    return meta, [f.copy() for f in frames]


def test_video_keeps_frames_size_rate_and_audio_and_the_temporal_term_steadies_it(tmp_path):
    from nstyle.video import stylise_video

    clip = tmp_path / "clip.mp4"
    panned_clip(clip)
    write_image_atomically(str(tmp_path / "style.png"), stripes())
    cfg = BatchConfig([(str(tmp_path / "style.png"), 1.0)],
                      {"size": 64, "iterations": 8, "scales": 1}, device="cpu")
    steady = tmp_path / "steady.mp4"
    plain = tmp_path / "plain.mp4"
    assert stylise_video(str(clip), str(steady), cfg) == FRAMES
    assert stylise_video(str(clip), str(plain), cfg, temporal_weight=0,
                         warm_start=False) == FRAMES
    source_meta, source_frames = read_all(clip)
    for path in (steady, plain):
        meta, frames = read_all(path)
        assert len(frames) == FRAMES
        assert meta["size"] == source_meta["size"] == (64, 48)
        assert meta["fps"] == pytest.approx(FPS)
        assert meta.get("audio_codec"), "the audio track was dropped"
    assert no_partial_files(tmp_path)
    _, steady_frames = read_all(steady)
    _, plain_frames = read_all(plain)
    source, with_term, without = (pan_difference(f) for f in
                                  (source_frames, steady_frames, plain_frames))
    print("pan difference: source %.2f, with temporal term %.2f, without %.2f (ratio %.2f)"
          % (source, with_term, without, with_term / without))
    assert with_term < 0.8 * without


def test_reliability_masks_disocclusions_and_borders():
    from nstyle.video import flows, reliability, warp

    # A square moving 4 px right over a textured background that stays.
    background = photo(64, 48)
    previous, current = background.copy(), background.copy()
    previous[16:32, 16:32] = 250
    current[16:32, 20:36] = 250
    grey = [np.ascontiguousarray(f.mean(axis=2).astype(np.uint8)) for f in (previous, current)]
    backward, forward = flows(grey[0], grey[1])
    mask = reliability(backward, forward)
    assert mask.dtype == np.float32 and mask.shape == (48, 64)
    # Far from the square everything is trusted; at its trailing edge (uncovered background) and
    # around its outline much is not.
    assert mask[40:, :].mean() > 0.9
    assert mask[14:34, 14:38].mean() < mask[40:, :].mean()
    warped = warp(previous, backward)
    assert warped.shape == previous.shape


def test_scene_cuts_are_found_and_a_pan_is_not_one():
    from nstyle.video import flows, is_scene_cut, reliability

    def grey(rgb):
        return np.ascontiguousarray(rgb.mean(axis=2).astype(np.uint8))

    wide = photo(64 + 3, 48)
    before, panned = grey(wide[:, :64]), grey(wide[:, 3:])
    other = grey(stripes(64)[:48])
    backward, forward = flows(before, panned)
    assert not is_scene_cut(before, panned, reliability(backward, forward))
    backward, forward = flows(before, other)
    assert is_scene_cut(before, other, reliability(backward, forward))


class StandInModel:
    """The part of nstyle.Model the video sequence code touches, without a network."""

    def __init__(self, method="optimize"):
        self.method = method

    def get_option(self, key):
        assert key == "method", key
        return self.method

    def set_content(self, pixels, width, height, format):
        self.size = (width, height)

    def result_size(self):
        return self.size

    def fetch_array(self, width, height, format):
        return np.zeros((height, width, 3), np.uint8)


class StandInStylist:
    """A Stylist whose every picture is one flat grey: `levels[k]` for its k-th call (RGBA)."""

    def __init__(self, method="optimize", levels=None):
        self.model = StandInModel(method)
        self.levels = levels
        self.calls = []

    def stylise(self, frame, width, height, fmt, init=None, temporal=None, out_size=None):
        self.calls.append((init is not None, temporal is not None))
        level = self.levels[len(self.calls) - 1] if self.levels else 128
        return np.dstack([np.full(frame.shape, level, np.uint8),
                          np.full(frame.shape[:2], 255, np.uint8)])


def pan_then_cut():
    """Three frames: a photo, the photo panned 3 px to the left, then another picture."""
    wide = photo(64 + 3, 48)
    return [wide[:, :64].copy(), wide[:, 3:].copy(), stripes(64)[:48].copy()]


def test_a_scene_cut_restarts_the_temporal_chain():
    """stylise_frames with a stand-in for the model: the frame after a pan gets the warped
    start and the temporal target, the frame after a cut neither."""
    from nstyle.video import stylise_frames

    stylist = StandInStylist()
    out = list(stylise_frames(stylist, pan_then_cut(), temporal_weight=1.0))
    assert len(out) == 3 and out[0].shape == (48, 64, 3)
    assert stylist.calls == [(False, False), (True, True), (False, False)]


def test_the_fast_method_blends_the_warped_previous_output_and_a_cut_restarts_it():
    """method=fast with a stand-in network whose outputs are flat greys 0, 200, 100: the frame
    after the pan is c·α·0 + (1 − c·α)·200 (c the flow's reliability: 1 inside, 0 on the strip
    the pan reveals at the right edge), the frame after the cut its own output alone; the
    optimisation's init and temporal target are never set."""
    from nstyle.video import stylise_frames

    stylist = StandInStylist("fast", levels=[0, 200, 100])
    out = list(stylise_frames(stylist, pan_then_cut(), fast_blend=0.7))
    assert stylist.calls == [(False, False)] * 3
    assert (out[0] == 0).all()
    inside = out[1][8:40, 8:48].astype(float)
    assert np.abs(inside - 200 * 0.3).max() <= 1      # c = 1 there: 70 % of the warped black
    assert (out[1][:, -2:] == 200).all()              # revealed: nothing to keep
    assert (out[2] == 100).all()                      # a new shot: no blend
    # fast_blend 0: every frame is the network's output on its own.
    stylist = StandInStylist("fast", levels=[0, 200, 100])
    out = list(stylise_frames(stylist, pan_then_cut(), fast_blend=0))
    assert [int(f.mean()) for f in out] == [0, 200, 100]


def test_fast_video_runs_and_its_blend_steadies_a_pan(tmp_path):
    """`method=fast` through the file path on the real network: frame count and size kept, and
    on the panned clip the default blend changes much less from frame to frame (the pan taken
    out) than the network's output for each frame on its own (fast_blend 0), which shifts its
    brush texture with every frame the pan does not move by a multiple of the network's stride
    (4 px; the pan is 2 px)."""
    from nstyle.video import DEFAULT_FAST_BLEND, stylise_video

    clip = tmp_path / "clip.mp4"
    panned_clip(clip, with_audio=False)
    write_image_atomically(str(tmp_path / "style.png"), stripes())
    cfg = BatchConfig([(str(tmp_path / "style.png"), 1.0)], {"size": 64, "method": "fast"},
                      device="cpu")
    blended, per_frame = tmp_path / "blended.mp4", tmp_path / "per-frame.mp4"
    assert stylise_video(str(clip), str(blended), cfg) == FRAMES
    assert stylise_video(str(clip), str(per_frame), cfg, fast_blend=0) == FRAMES
    source_meta, source_frames = read_all(clip)
    results = {}
    for path in (blended, per_frame):
        meta, frames = read_all(path)
        assert len(frames) == FRAMES and meta["size"] == source_meta["size"]
        # Stylised, not the photo.
        assert np.abs(frames[0].astype(int) - source_frames[0]).mean() > 5
        results[path] = pan_difference(frames)
    print("fast video pan difference: blend %g %.2f, per frame %.2f (ratio %.2f)"
          % (DEFAULT_FAST_BLEND, results[blended], results[per_frame],
             results[blended] / results[per_frame]))
    assert results[blended] < 0.6 * results[per_frame]
    with pytest.raises(ValueError):
        stylise_video(str(clip), str(tmp_path / "never.mp4"), cfg, fast_blend=1.0)
    assert not (tmp_path / "never.mp4").exists() and no_partial_files(tmp_path)


# --------------------------------------------------------------------------- video chunks

def test_chunk_plan_covers_every_frame_and_overlaps_only_inside_a_shot():
    from nstyle.video import Chunk, plan_chunks

    # 23 frames, a cut at frame 13: shots [0, 13) and [13, 23).
    cuts = [i == 13 for i in range(23)]
    chunks = plan_chunks(cuts, chunk_frames=6, overlap=2)
    assert chunks == [Chunk(0, 6, 0), Chunk(4, 10, 2), Chunk(8, 13, 2),
                      Chunk(13, 19, 0), Chunk(17, 23, 2)]
    for earlier, later in zip(chunks, chunks[1:]):
        # Consecutive chunks share exactly `blend` frames, none across the cut.
        assert earlier.end - later.start == later.blend
        assert later.blend == (0 if later.start == 13 else 2)
    assert all(c.end - c.start <= 6 for c in chunks)
    # Each frame is owned once: a chunk's own frames are the ones after its blend.
    owned = [f for c in chunks for f in range(c.start + c.blend, c.end)]
    assert owned == list(range(23))
    # 0: whole shots; the first frame's flag means nothing; an empty clip has no chunk.
    assert plan_chunks(cuts, 0, 2) == [Chunk(0, 13, 0), Chunk(13, 23, 0)]
    assert plan_chunks([True] * 3, 0, 0) == [Chunk(0, 1, 0), Chunk(1, 2, 0), Chunk(2, 3, 0)]
    assert plan_chunks([], 6, 2) == []
    # A chunk boundary right before a cut: the cut wins, the short chunk keeps its overlap.
    assert plan_chunks([i == 7 for i in range(9)], 6, 2) == \
        [Chunk(0, 6, 0), Chunk(4, 7, 2), Chunk(7, 9, 0)]
    for chunk_frames, overlap in ((6, 4), (1, 0), (-1, 0), (6, -1)):
        with pytest.raises(ValueError):
            plan_chunks(cuts, chunk_frames, overlap)


def test_assembler_cross_fades_each_overlap_and_yields_every_frame_once():
    from nstyle.video import assemble, plan_chunks

    cuts = [i == 13 for i in range(23)]
    chunks = plan_chunks(cuts, chunk_frames=6, overlap=2)

    def result(c, frame):  # chunk c's result for frame `frame`: a flat grey of its own
        return np.full((4, 5, 3), 40 * c + frame, np.uint8)

    results = [(chunk, [result(c, f) for f in range(chunk.start, chunk.end)])
               for c, chunk in enumerate(chunks)]
    out = list(assemble(iter(results), overlap=2))
    assert len(out) == 23 and all(f.shape == (4, 5, 3) for f in out)
    expected, faded = {}, []
    for c, chunk in enumerate(chunks):
        for f in range(chunk.start + chunk.blend, chunk.end):
            expected[f] = 40 * c + f
        for j in range(chunk.blend):       # weight of the later chunk: 1/3, 2/3
            f = chunk.start + j
            w = (j + 1) / (chunk.blend + 1)
            expected[f] = round((40 * (c - 1) + f) * (1 - w) + (40 * c + f) * w)
            faded.append(f)
    for f, frame in enumerate(out):
        assert (frame == expected[f]).all(), (f, frame[0, 0, 0], expected[f])
    # The fades are where the plan overlaps: frames 4, 5, 8, 9 and 17, 18.
    assert faded == [4, 5, 8, 9, 17, 18]
    # A chunk that comes back short is an error, not a shifted clip.
    with pytest.raises(ValueError):
        list(assemble(iter([(chunks[0], [result(0, 0)] * 5)]), overlap=2))


def test_two_chunks_on_two_local_workers_cross_fade_their_overlap(tmp_path):
    """stylise_clip with 6 frames, chunks of 4 overlapping by 2 ([0, 4) and [2, 6)), on 2
    in-process workers: every chunk gets its own frames, both run, and the output is the
    first chunk's frames 0-1, the fades of frames 2-3 and the second chunk's frames 4-5."""
    from nstyle.batch import LocalWorkers
    from nstyle.video import Chunk, ChunkStylist, cross_fade, stylise_clip

    write_image_atomically(str(tmp_path / "style.png"), stripes())
    cfg = BatchConfig([(str(tmp_path / "style.png"), 1.0)],
                      {"size": 48, "iterations": 4, "scales": 1, "stop_tolerance": 0},
                      device="cpu").with_defaults(scales=1)
    wide = photo(48 + PAN * 6, 36)
    frames = [np.ascontiguousarray(wide[:, PAN * t:PAN * t + 48]) for t in range(6)]

    class Recording(LocalWorkers):
        def __init__(self, *a):
            super().__init__(ChunkStylist, *a)
            self.inputs, self.results, self.threads = [], [], set()

        def _call(self, method, args):
            self.threads.add(threading.get_ident())
            return super()._call(method, args)

        def submit(self, method, chunk_frames, chunk_flows, *rest):
            self.inputs.append((chunk_frames, chunk_flows))
            return super().submit(method, chunk_frames, chunk_flows, *rest)

        def result(self, task):
            self.results.append(super().result(task))
            return self.results[-1]

    runner = Recording(cfg, 2)
    done = []
    try:
        out = list(stylise_clip(iter(frames), runner, cfg, chunk_frames=4, overlap=2,
                                on_chunk=done.append))
    finally:
        runner.close()
    assert done == [Chunk(0, 4, 0), Chunk(2, 6, 2)]
    assert len(runner.threads) == 2, "the two chunks did not run on two workers"
    for (chunk_frames, chunk_flows), chunk in zip(runner.inputs, done):
        assert all((a == b).all() for a, b in zip(chunk_frames, frames[chunk.start:chunk.end]))
        assert len(chunk_frames) == 4 and chunk_flows[0] is None
        assert all(f is not None and not f.cut for f in chunk_flows[1:])
    first, second = runner.results
    assert len(out) == 6 and all(f.shape == (36, 48, 3) for f in out)
    assert (out[0] == first[0]).all() and (out[1] == first[1]).all()
    assert (out[2] == cross_fade(first[2], second[0], 1 / 3)).all()
    assert (out[3] == cross_fade(first[3], second[1], 2 / 3)).all()
    assert (out[4] == second[2]).all() and (out[5] == second[3]).all()
    # Stylised, and the two chunks' versions of a shared frame are not the same picture.
    assert np.abs(out[0].astype(int) - frames[0]).mean() > 2
    assert np.abs(first[2].astype(int) - second[0]).mean() > 0.5


def check_video_file(path, source_meta):
    meta, frames = read_all(path)
    assert len(frames) == FRAMES
    assert meta["size"] == source_meta["size"]
    assert meta["fps"] == pytest.approx(FPS)
    assert meta.get("audio_codec"), "the audio track was dropped"
    return frames


def test_video_in_chunks_on_local_and_ray_workers_keeps_the_clip(tmp_path, local_ray):
    """The file path end to end: 6 frames in chunks of 4 overlapping by 2 on 2 local workers
    and on 2 Ray actors (the module's Ray, on loopback), where one actor kills its own process
    in the middle of its first frame: frame count, size, rate and audio kept, frames in order
    (each nearer its own source frame than the far end's), the crashed chunk retried."""
    from nstyle.video import stylise_video

    clip = tmp_path / "clip.mp4"
    panned_clip(clip)
    write_image_atomically(str(tmp_path / "style.png"), stripes())
    cfg = BatchConfig([(str(tmp_path / "style.png"), 1.0)],
                      {"size": 48, "iterations": 4, "scales": 1}, device="cpu")
    source_meta, source_frames = read_all(clip)
    chunks = {}
    marker = tmp_path / "crashed"
    for engine in ("local", "ray"):
        out = tmp_path / ("chunked-%s.mp4" % engine)
        seen = chunks.setdefault(engine, [])
        if engine == "ray":
            cfg.crash_once = str(marker)
        assert stylise_video(str(clip), str(out), cfg, engine=engine, workers=2,
                             chunk_frames=4, overlap=2, on_chunk=seen.append) == FRAMES
        frames = check_video_file(out, source_meta)
        # In order: frame t is nearer to source frame t's content than to the far end's.
        for t in (0, FRAMES - 1):
            near = np.abs(frames[t].astype(int) - source_frames[t]).mean()
            far = np.abs(frames[t].astype(int) - source_frames[FRAMES - 1 - t]).mean()
            assert near < far, (engine, t, near, far)
    assert marker.exists(), "the fault was not injected"
    assert [(c.start, c.end) for c in chunks["local"]] == [(0, 4), (2, 6)]
    assert chunks["ray"] == chunks["local"]
    assert no_partial_files(tmp_path)


def test_cli_video_refuses_bad_input_clearly_and_writes_nothing(tmp_path):
    write_image_atomically(str(tmp_path / "style.png"), stripes())
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 but not a video")
    clip = tmp_path / "clip.mp4"
    panned_clip(clip, with_audio=False)
    cases = [([str(tmp_path / "missing.mp4")], "no such file"),
             ([str(broken)], "not a video ffmpeg can read"),
             ([str(clip), "--chunk-frames", "4", "--overlap", "3"], "at most half the chunk")]
    for extra, message in cases:
        out = tmp_path / "out.mp4"
        command = [sys.executable, "-m", "nstyle", "video", extra[0], str(out), "--style",
                   str(tmp_path / "style.png"), "--size", "48", "--iterations", "2",
                   "--device", "cpu"] + extra[1:]
        run = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert run.returncode == 2, run.stderr
        assert message in run.stderr and len(run.stderr.splitlines()) == 1, run.stderr
        assert not out.exists() and no_partial_files(tmp_path)
