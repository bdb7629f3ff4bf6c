#!/usr/bin/env python3
"""Temporal coherence of `nstyle.video` on a panned clip, where the true motion is known, so the
measurement needs no optical flow: the mean absolute difference (0-255) between frame t and
frame t-1 shifted by the pan, over their overlap, averaged over the clip. Compared in the same
run: every frame on its own (no warped start, no temporal term), the warped start alone, and
the warped start with the temporal term at the given weights, and the clip in two overlapping
chunks (nstyle.video.stylise_clip, the path --workers/--chunk-frames take; the default weight),
whose seam is measured on its own: the differences of the frame pairs that touch the overlap,
against the same pairs of the unchunked run. Writes a PNG of frames side by side (rows: the
variants; columns: frames) to look at.

With --method fast the variants are the fast network's output for every frame on its own, that
output blended with the previous one along the flow at each --blends value (nstyle.video's
fast path), and, unless --refine-iterations is 0, the other way to steady it: the optimisation
started from the fast output (init=fast) with the temporal term, for that many iterations. Each
row also gives frames per second (the whole run, and from the second frame on: the first pays
the style vector). --clip writes the panned source as a video, to time `python -m nstyle video`
itself on it.

    .venv/bin/python scripts/video-coherence.py \
        [--size 128] [--frames 10] [--pan 3] [--iterations 30] [--weights 1e6,3e6,1e7] \
        [--method optimize|fast] [--blends 0.5,0.7,0.8] [--refine-iterations 5] [--clip PATH] \
        [--chunk-frames 6] [--overlap 2] [--photo PATH] [--style PATH] [--strip out/coherence.png]

Without --photo/--style it uses the demo images ($NSTYLE_DEMO_DIR) or, failing those,
synthetic ones.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plugins",
                                "python"))
built = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release",
                     "libnstyle.so")
if "NSTYLE_LIBRARY" not in os.environ and os.path.exists(built):
    os.environ["NSTYLE_LIBRARY"] = os.path.normpath(built)

from nstyle.batch import BatchConfig, LocalWorkers, Stylist  # noqa: E402
from nstyle.imagefiles import read_image, write_image_atomically  # noqa: E402
from nstyle.video import (DEFAULT_FAST_BLEND, DEFAULT_TEMPORAL_WEIGHT,  # noqa: E402
                          VIDEO_DEFAULTS, ChunkStylist, plan_chunks, stylise_clip,
                          stylise_frames)


def synthetic(width, height):
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([0.5 + 0.4 * np.sin(xs / 9), 0.5 + 0.4 * np.cos(ys / 7 + xs / 13),
                    ((xs // 16 + ys // 16) % 2) * 0.6 + 0.2], axis=2)
    return (rgb * 255).astype(np.uint8)


def pair_differences(frames, pan):
    """[d_1, ...]: d_t the mean absolute difference of frame t and frame t-1 shifted by the pan."""
    return [float(np.abs(frames[t][:, :-pan].astype(float) - frames[t - 1][:, pan:]).mean())
            for t in range(1, len(frames))]


def pan_difference(frames, pan):
    return float(np.mean(pair_differences(frames, pan)))


def detail(frames):
    """Mean absolute Laplacian of the frames' grey levels: what a steadier but blurrier result
    loses (a blend that averages along a flow that is a little off softens the strokes)."""
    import cv2

    return float(np.mean([np.abs(cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY),
                                               cv2.CV_32F)).mean() for f in frames]))


def write_clip(path, frames, fps=24):
    """The frames as a video file (H.264 through imageio-ffmpeg), for timing the command."""
    import imageio_ffmpeg

    height, width = frames[0].shape[:2]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    writer = imageio_ffmpeg.write_frames(path, (width, height), fps=fps, quality=9,
                                         macro_block_size=1)
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame).tobytes())
    writer.close()


def timed(frames):
    """(list of frames, seconds for all, seconds from the first frame's arrival to the last's)."""
    started = time.monotonic()
    out, stamps = [], []
    for frame in frames:
        out.append(frame)
        stamps.append(time.monotonic())
    return out, stamps[-1] - started, stamps[-1] - stamps[0]


def variants_for(args):
    """(label, stylise_frames keywords, options set on the model first) for each variant."""
    if args.method == "fast":
        variants = [("fast, each frame on its own", {"fast_blend": 0.0}, {})]
        variants += [("fast, blend %g" % alpha, {"fast_blend": alpha}, {})
                     for alpha in map(float, args.blends.split(","))]
        if args.refine_iterations:
            variants.append(("fast start + temporal %g, %d it." % (
                DEFAULT_TEMPORAL_WEIGHT, args.refine_iterations),
                {"temporal_weight": DEFAULT_TEMPORAL_WEIGHT, "warm_start": False},
                {"method": "optimize", "init": "fast", "iterations": args.refine_iterations}))
        return variants
    variants = [("independent frames", {"temporal_weight": 0.0, "warm_start": False}, {}),
                ("warped start only", {"temporal_weight": 0.0, "warm_start": True}, {})]
    variants += [("warped start + temporal %g" % w, {"temporal_weight": w, "warm_start": True},
                  {}) for w in map(float, args.weights.split(","))]
    return variants


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--pan", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--weights", default="1e6,3e6,1e7")
    parser.add_argument("--method", choices=("optimize", "fast"), default="optimize")
    parser.add_argument("--blends", default="0.5,0.7,0.8")
    parser.add_argument("--refine-iterations", type=int, default=5)
    parser.add_argument("--clip")
    parser.add_argument("--chunk-frames", type=int, default=6)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--photo")
    parser.add_argument("--style")
    parser.add_argument("--strip", default="out/coherence.png")
    args = parser.parse_args()
    import cv2

    demo = os.environ.get("NSTYLE_DEMO_DIR", "")
    photo_path = args.photo or (os.path.join(demo, "content.png") if demo else None)
    style_path = args.style or (os.path.join(demo, "style.png") if demo else None)
    width, height = args.size, args.size * 3 // 4
    wide_width = width + args.pan * args.frames
    if photo_path and os.path.exists(photo_path):
        pixels, w, h, _ = read_image(photo_path)
        scale = max(wide_width / w, height / h)
        pixels = cv2.resize(np.ascontiguousarray(pixels[:, :, :3]),
                            (int(np.ceil(w * scale)), int(np.ceil(h * scale))),
                            interpolation=cv2.INTER_AREA)
        wide = np.ascontiguousarray(pixels[:height, :wide_width])
    else:
        wide = synthetic(wide_width, height)
    if not (style_path and os.path.exists(style_path)):
        style_path = "/tmp/nstyle-coherence-style.png"
        s = np.mgrid[0:96, 0:96]
        colours = np.array([[15, 25, 160], [230, 200, 80], [25, 100, 200]], dtype=np.uint8)
        write_image_atomically(style_path, colours[((s[1] + 2 * s[0]) // 4) % 3])
    frames = [np.ascontiguousarray(wide[:, args.pan * t:args.pan * t + width])
              for t in range(args.frames)]
    if args.clip:
        write_clip(args.clip, frames)
        print("the panned source as a video:", args.clip)
    options = dict(VIDEO_DEFAULTS, size=args.size, iterations=args.iterations)
    if args.method == "fast":
        options["method"] = "fast"
    config = BatchConfig([(style_path, 1.0)], options, device="cpu")
    stylist = Stylist(config)
    rows = []
    baseline = baseline_detail = None
    by_label = {}
    print("%d frames %dx%d panned %d px/frame, method %s, %d iterations; source %.2f"
          % (args.frames, width, height, args.pan, args.method, args.iterations,
             pan_difference(frames, args.pan)))
    for label, keywords, model_options in variants_for(args):
        for key, value in model_options.items():
            stylist.model.set_option(key, value)
        out, seconds, after_first = timed(stylise_frames(stylist, frames, **keywords))
        difference = pan_difference(out, args.pan)
        baseline = baseline or difference
        baseline_detail = baseline_detail or detail(out)
        by_label[label] = out
        print("%-40s pan difference %6.2f  (%.2fx the first row)  detail %.2fx  %6.2f s/frame"
              "  %5.2f fps  (%5.2f after the first frame)"
              % (label, difference, difference / baseline, detail(out) / baseline_detail,
                 seconds / len(out), len(out) / seconds,
                 (len(out) - 1) / after_first if after_first else 0), flush=True)
        rows.append(np.concatenate(out[:12], axis=1))
    stylist.close()

    # The clip in chunks, one worker (the same work as several workers would do, in turn).
    chunks = plan_chunks([False] * args.frames, args.chunk_frames, args.overlap)
    runner = LocalWorkers(ChunkStylist, config, 1)
    started = time.monotonic()
    try:
        chunked = list(stylise_clip(iter(frames), runner, config, DEFAULT_TEMPORAL_WEIGHT,
                                    chunk_frames=args.chunk_frames, overlap=args.overlap,
                                    fast_blend=DEFAULT_FAST_BLEND))
    finally:
        runner.close()
    seconds = time.monotonic() - started
    label = "chunks of %d, overlap %d" % (args.chunk_frames, args.overlap)
    print("%-40s pan difference %6.2f  (%.2fx the first row)  %6.2f s/frame  chunks %s"
          % (label, pan_difference(chunked, args.pan), pan_difference(chunked, args.pan)
             / baseline, seconds / len(chunked),
             " ".join("[%d,%d)" % (c.start, c.end) for c in chunks)), flush=True)
    rows.append(np.concatenate(chunked[:12], axis=1))
    # The seam: the pairs (t-1, t) with t in the overlap or right after it.
    seam = sorted({t for c in chunks if c.blend for t in range(c.start, c.end)
                   if t <= c.start + c.blend})
    if args.method == "fast":
        unchunked = by_label.get("fast, blend %g" % DEFAULT_FAST_BLEND)
        independent = by_label["fast, each frame on its own"]
    else:
        unchunked = by_label.get("warped start + temporal %g" % DEFAULT_TEMPORAL_WEIGHT)
        independent = by_label["independent frames"]

    def at_seam(out):
        d = pair_differences(out, args.pan)
        return float(np.mean([d[t - 1] for t in seam]))

    if seam:
        line = "seam (pairs ending at frames %s): chunked %.2f, independent %.2f (%.2fx)" % (
            ",".join(map(str, seam)), at_seam(chunked), at_seam(independent),
            at_seam(chunked) / at_seam(independent))
        if unchunked is not None:
            line += ", unchunked %.2f (%.2fx)" % (at_seam(unchunked),
                                                  at_seam(chunked) / at_seam(unchunked))
        print(line)
        print("per pair, chunked:   " + " ".join("%.1f" % d
                                                  for d in pair_differences(chunked, args.pan)))
        if unchunked is not None:
            print("per pair, unchunked: " + " ".join(
                "%.1f" % d for d in pair_differences(unchunked, args.pan)))
    os.makedirs(os.path.dirname(os.path.abspath(args.strip)), exist_ok=True)
    write_image_atomically(args.strip, np.concatenate(rows, axis=0))
    print("frames side by side (rows as above, first 12 frames):", args.strip)


if __name__ == "__main__":
    main()
