#!/usr/bin/env python3
"""Writes the clean-system test's images into a folder with nothing but the standard library:
content.png (64x48, a smooth photo-like gradient with a disc), style.png (32x32, an orange and
blue checkerboard) and the C example's content.ppm and style.ppm (24x20, 20x20)."""

import os
import struct
import sys
import zlib


def png(path, width, height, pixel):
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel(x, y))
                    for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(rows)))
        f.write(chunk(b"IEND", b""))


def ppm(path, width, height, pixel):
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (width, height))
        f.write(bytes(c for y in range(height) for x in range(width) for c in pixel(x, y)))


def content(x, y):
    disc = (x - 40) ** 2 + (y - 20) ** 2 < 120
    return (200, 60, 40) if disc else (x * 3, 80 + y * 2, 200 - x * 2)


def checker(x, y):
    return (240, 170, 30) if (x + y) // 4 % 2 else (20, 60, 200)


out = sys.argv[1]
png(os.path.join(out, "content.png"), 64, 48, content)
png(os.path.join(out, "style.png"), 32, 32, checker)
ppm(os.path.join(out, "content.ppm"), 24, 20, lambda x, y: (x * 10, y * 12, 128))
ppm(os.path.join(out, "style.ppm"), 20, 20, checker)
