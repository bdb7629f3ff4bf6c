"""Writes the GIMP tests' inputs into DIR: content.png (48 x 48, smooth colours, a disc and
stripes) and style.png (40 x 40, an orange and blue checkerboard of 4-pixel squares, as the
GIMP 2.10 tests draw it with plug-in-checkerboard), both for GIMP 3 (which has no plasma or
checkerboard plug-in to draw them), and style2.png (40 x 40, red and green diagonal stripes 3
pixels wide: the second style of the region tests, both versions)."""

import math
import sys

from PIL import Image

out = sys.argv[1]
content = Image.new("RGB", (48, 48))
for y in range(48):
    for x in range(48):
        r = int(128 + 100 * math.sin(x / 5.0))
        g = int(128 + 100 * math.cos(y / 4.0))
        b = 200 if (x - 30) ** 2 + (y - 18) ** 2 < 100 else (60 if (x + y) // 6 % 2 else 140)
        content.putpixel((x, y), (r, g, b))
content.save(f"{out}/content.png")
style = Image.new("RGB", (40, 40))
for y in range(40):
    for x in range(40):
        style.putpixel((x, y), (240, 170, 30) if (x // 4 + y // 4) % 2 else (20, 60, 200))
style.save(f"{out}/style.png")
style2 = Image.new("RGB", (40, 40))
for y in range(40):
    for x in range(40):
        style2.putpixel((x, y), (220, 30, 40) if (x + y) // 3 % 2 else (30, 200, 60))
style2.save(f"{out}/style2.png")
