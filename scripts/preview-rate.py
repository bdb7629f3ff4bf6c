"""How fast the library's preview driver answers (nstyle.Preview, the editors' preview): the
first (quick) frame after a start, the frames per second while it refines, and the time to the
last frame, for a start with the driver's networks already loaded (what a user waits for after
changing a setting) and for the very first one.

    NSTYLE_LIBRARY=target/release/libnstyle.so PYTHONPATH=plugins/python \\
        python3 scripts/preview-rate.py CONTENT STYLE [--device cuda] [--full-size 4000x3000]

Prints one line per start: "preview DEVICE start N: quick 0.21 s, K frames, F frames/s while
refining, last 1.9 s (I iterations), estimate E s 'words'". Needs pillow to read the images.
"""

import argparse
import sys
import time

import nstyle


def rgba(path, side):
    from PIL import Image
    image = Image.open(path).convert("RGBA")
    image.thumbnail((side, side))
    return image.tobytes(), image.width, image.height


def one_start(preview, model, full_size, limit=300.0):
    job = preview.start(model, full_size=full_size)
    started = time.monotonic()
    frames, estimate = [], None
    while time.monotonic() - started < limit:
        frame = preview.frame()
        if frame is not None and frame.job == job and (not frames or frame.serial != frames[-1][1].serial):
            frames.append((time.monotonic() - started, frame))
            if frame.error is not None:
                raise SystemExit("preview failed: %s" % frame.error)
        estimate = estimate or preview.estimate()
        if frames and frames[-1][1].done and estimate is not None:
            break
        time.sleep(0.002)
    return frames, estimate


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("content")
    parser.add_argument("style")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--full-size", default=None, help="WxH of the picture the run is for")
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    full = tuple(int(v) for v in args.full_size.split("x")) if args.full_size else None
    with nstyle.Preview(device=args.device) as preview:
        side = preview.side
        content, cw, ch = rgba(args.content, side)
        style, sw, sh = rgba(args.style, 1024)
        for start in range(args.starts):
            with nstyle.Model(device=args.device) as model:
                model.set_content(content, cw, ch)
                model.add_style(style, sw, sh)
                # A different strength each time: a real change, as a user's.
                model.set_option("strength", 0.4 + 0.1 * (start % 4))
                frames, estimate = one_start(preview, model, full)
            refined = [(t, f) for t, f in frames if not f.quick]
            rate = (len(refined) - 1) / (refined[-1][0] - refined[0][0]) \
                if len(refined) > 1 and refined[-1][0] > refined[0][0] else 0.0
            last = frames[-1]
            print("preview %s start %d: %s %.2f s, %d frames, %.1f frames/s while refining, last "
                  "%.2f s (%d iterations), estimate %s" % (
                      args.device, start + 1, "quick" if frames[0][1].quick else "first",
                      frames[0][0], len(frames), rate, last[0], last[1].progress.iteration,
                      "%.2f s %r" % (estimate.seconds, estimate.words)
                      if estimate and estimate.error is None else estimate and estimate.error),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
