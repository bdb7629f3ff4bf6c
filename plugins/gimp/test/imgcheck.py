"""Pixel checks on the PNGs the GIMP tests export (Pillow). Exit 0 when the check holds.

  imgcheck.py differ A B [MIN_MEAN]          colour channels differ (mean |A-B| > MIN_MEAN, 0..255)
  imgcheck.py alpha-same A B                 alpha channels equal (both must have alpha)
  imgcheck.py region-same A B X0 Y0 X1 Y1    all channels equal inside [X0,X1) x [Y0,Y1)
  imgcheck.py region-differ A B X0 Y0 X1 Y1  colour channels differ inside the box
  imgcheck.py gray A                         a one-channel (+alpha) image
  imgcheck.py size A W H                     A is W x H
  imgcheck.py varied A                       not one flat colour (some channel spans > 32 levels)
  imgcheck.py depth A BITS                   A is stored with BITS per channel
  imgcheck.py change A B X0 X1              prints the mean |A-B| of the colour channels (0..255)
                                             over the columns [X0,X1), full height (always 0)
  imgcheck.py sharper A B [RATIO]            A has RATIO (default 1.5) times B's high-frequency
                                             energy (mean |luma - mean of its 4 neighbours|)
"""

import sys

from PIL import Image


def rgba(path):
    return Image.open(path).convert("RGBA")


def mean_diff(a, b, box=None):
    a, b = rgba(a), rgba(b)
    if a.size != b.size:
        print(f"sizes differ: {a.size} vs {b.size}", file=sys.stderr)
        return None
    if box:
        a, b = a.crop(box), b.crop(box)
    pa, pb = list(a.getdata()), list(b.getdata())
    total = sum(abs(x[c] - y[c]) for x, y in zip(pa, pb) for c in range(3))
    return total / (3 * max(1, len(pa)))


def high_frequency(path):
    """Mean |L - mean of the 4 neighbours| over the interior: what a stretched small result
    lacks."""
    luma = Image.open(path).convert("L")
    w, h = luma.size
    px = luma.load()
    total = 0.0
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            around = (px[x - 1, y] + px[x + 1, y] + px[x, y - 1] + px[x, y + 1]) / 4.0
            total += abs(px[x, y] - around)
    return total / max(1, (w - 2) * (h - 2))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "differ":
        d = mean_diff(args[0], args[1])
        limit = float(args[2]) if len(args) > 2 else 1.0
        print(f"mean |diff| = {d}", file=sys.stderr)
        return d is not None and d > limit
    if cmd == "alpha-same":
        a, b = Image.open(args[0]), Image.open(args[1])
        if "A" not in a.mode or "A" not in b.mode:
            print(f"modes {a.mode} {b.mode}", file=sys.stderr)
            return False
        return list(a.getchannel("A").getdata()) == list(b.getchannel("A").getdata())
    if cmd in ("region-same", "region-differ"):
        box = tuple(int(v) for v in args[2:6])
        if cmd == "region-same":
            a, b = rgba(args[0]).crop(box), rgba(args[1]).crop(box)
            return a.size == b.size and list(a.getdata()) == list(b.getdata())
        d = mean_diff(args[0], args[1], box)
        print(f"mean |diff| in {box} = {d}", file=sys.stderr)
        return d is not None and d > 1.0
    if cmd == "gray":
        return Image.open(args[0]).mode in ("L", "LA", "I;16", "I")
    if cmd == "varied":
        return any(hi - lo > 32 for lo, hi in rgba(args[0]).convert("RGB").getextrema())
    if cmd == "size":
        return Image.open(args[0]).size == (int(args[1]), int(args[2]))
    if cmd == "depth":
        with open(args[0], "rb") as f:
            head = f.read(32)
        return head[24] == int(args[1])  # IHDR bit depth
    if cmd == "change":
        h = Image.open(args[0]).size[1]
        d = mean_diff(args[0], args[1], (int(args[2]), 0, int(args[3]), h))
        print(f"{d:.2f}")
        return d is not None
    if cmd == "sharper":
        a, b = high_frequency(args[0]), high_frequency(args[1])
        ratio = float(args[2]) if len(args) > 2 else 1.5
        print(f"high-frequency energy {a:.3f} vs {b:.3f}", file=sys.stderr)
        return a > ratio * b
    raise SystemExit(f"unknown check {cmd}")


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv) else 1)
