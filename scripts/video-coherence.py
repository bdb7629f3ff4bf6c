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

    .venv/bin/python scripts/video-coherence.py \
        [--size 128] [--frames 10] [--pan 3] [--iterations 30] [--weights 1e6,3e6,1e7] \
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
from nstyle.video import (DEFAULT_TEMPORAL_WEIGHT, VIDEO_DEFAULTS, ChunkStylist,  # noqa: E402
                          plan_chunks, stylise_clip, stylise_frames)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--pan", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--weights", default="1e6,3e6,1e7")
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
    config = BatchConfig([(style_path, 1.0)], dict(VIDEO_DEFAULTS, size=args.size,
                                                   iterations=args.iterations), device="cpu")
    stylist = Stylist(config)
    variants = [("independent frames", 0.0, False), ("warped start only", 0.0, True)]
    variants += [("warped start + temporal %g" % w, w, True)
                 for w in map(float, args.weights.split(","))]
    rows = []
    baseline = None
    by_label = {}
    print("%d frames %dx%d panned %d px/frame, %d iterations; source %.2f"
          % (args.frames, width, height, args.pan, args.iterations,
             pan_difference(frames, args.pan)))
    for label, weight, warm in variants:
        started = time.monotonic()
        out = list(stylise_frames(stylist, frames, temporal_weight=weight, warm_start=warm))
        seconds = time.monotonic() - started
        difference = pan_difference(out, args.pan)
        baseline = baseline or difference
        by_label[label] = out
        print("%-32s pan difference %6.2f  (%.2fx independent)  %5.1f s/frame"
              % (label, difference, difference / baseline, seconds / len(out)), flush=True)
        rows.append(np.concatenate(out[:12], axis=1))
    stylist.close()

    # The clip in chunks, one worker (the same work as several workers would do, in turn).
    chunks = plan_chunks([False] * args.frames, args.chunk_frames, args.overlap)
    runner = LocalWorkers(ChunkStylist, config, 1)
    started = time.monotonic()
    try:
        chunked = list(stylise_clip(iter(frames), runner, config, DEFAULT_TEMPORAL_WEIGHT,
                                    chunk_frames=args.chunk_frames, overlap=args.overlap))
    finally:
        runner.close()
    seconds = time.monotonic() - started
    label = "chunks of %d, overlap %d" % (args.chunk_frames, args.overlap)
    print("%-32s pan difference %6.2f  (%.2fx independent)  %5.1f s/frame  chunks %s"
          % (label, pan_difference(chunked, args.pan), pan_difference(chunked, args.pan)
             / baseline, seconds / len(chunked),
             " ".join("[%d,%d)" % (c.start, c.end) for c in chunks)), flush=True)
    rows.append(np.concatenate(chunked[:12], axis=1))
    # The seam: the pairs (t-1, t) with t in the overlap or right after it.
    seam = sorted({t for c in chunks if c.blend for t in range(c.start, c.end)
                   if t <= c.start + c.blend})
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
