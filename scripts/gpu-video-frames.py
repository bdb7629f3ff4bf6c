"""Per-frame cost and coherence of video stylisation on a device, without OpenCV: a known pan
(a 512 px window moving PAN px a frame across the photo), so the "flow" is a shift and the
warp a crop. Each frame runs as `python -m nstyle video` runs it (nstyle.batch.Stylist's
calls: the content, the previous result warped as the start and the temporal target, weight 0
where the shift uncovers new pixels), with the video defaults (one scale). Prints seconds per
frame and the coherence figure of scripts/video-coherence.py (mean |frame t - frame t-1
shifted| over the overlap), chained against independent frames, in one run on one device.

    python scripts/gpu-video-frames.py CONTENT STYLE [--device cuda] [--frames 10] [--size 512]

Needs numpy and pillow; the library from NSTYLE_LIBRARY (or beside the package).
"""
import argparse
import statistics
import time

import numpy as np
from PIL import Image

import nstyle
from nstyle.video import DEFAULT_TEMPORAL_WEIGHT, VIDEO_DEFAULTS

PAN = 4

parser = argparse.ArgumentParser()
parser.add_argument("content")
parser.add_argument("style")
parser.add_argument("--device", default="cuda")
parser.add_argument("--frames", type=int, default=10)
parser.add_argument("--size", type=int, default=512)
args = parser.parse_args()

width, height = args.size, args.size * 3 // 4
photo = Image.open(args.content).convert("RGB")
photo = np.asarray(photo.resize((width + PAN * args.frames, height), Image.LANCZOS))
style = np.asarray(Image.open(args.style).convert("RGB"))
frames = [np.ascontiguousarray(photo[:, t * PAN:t * PAN + width]) for t in range(args.frames)]


def run(chained):
    model = nstyle.Model(device=args.device)
    for key, value in dict(VIDEO_DEFAULTS, size=args.size).items():
        model.set_option(key, str(value))
    model.add_style(np.ascontiguousarray(style), style.shape[1], style.shape[0], format="rgb8")
    results, seconds, previous = [], [], None
    weights = np.ones((height, width), np.float32)
    weights[:, width - PAN:] = 0  # uncovered by the pan: no target there
    for frame in frames:
        started = time.monotonic()
        model.set_content(frame, width, height, format="rgb8")
        model.clear_temporal()
        if chained and previous is not None:
            warped = np.ascontiguousarray(np.concatenate(
                [previous[:, PAN:], previous[:, -PAN:]], axis=1))
            model.set_init_image(warped, width, height, format="rgb8")
            model.set_temporal(warped, width, height, weights=weights,
                               weight=DEFAULT_TEMPORAL_WEIGHT, format="rgb8")
        elif model.get_option("init") == "image":
            model.set_option("init", "content")
        model.run()
        result = model.fetch_array(width, height, format="rgb8")[:, :, :3].copy()
        seconds.append(time.monotonic() - started)
        results.append(result)
        previous = result
    model.close()
    change = [np.abs(b[:, :width - PAN].astype(float) - a[:, PAN:].astype(float)).mean()
              for a, b in zip(results, results[1:])]
    return seconds, statistics.mean(change)


for label, chained in (("independent", False), ("chained", True)):
    seconds, change = run(chained)
    later = seconds[1:]  # the first frame also loads the network and warms the device
    print(f"{label}: {args.device} {width}x{height}, {len(frames)} frames: first {seconds[0]:.2f} s, "
          f"then median {statistics.median(later):.2f} s/frame (min {min(later):.2f}, "
          f"max {max(later):.2f}); mean |t - (t-1 shifted)| = {change:.2f}")
