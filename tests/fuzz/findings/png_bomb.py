#!/usr/bin/env python3
"""Writes an 8192x8192 16-bit RGBA PNG of zeros (510 KB) to the path given. Decoded it is 512 MiB,
inside the decoding limits imageio sets from the memory budget (80 % of free RAM), so `load`
accepts it and converts it (to_rgba32f, then RGB and alpha vectors): `nstyle run --content
bomb.png --size 16 ...` peaks at ~2.9 GB resident on the 24 GB reference machine (/usr/bin/time
-v; 789a611), ~5.7x the decoded image and ~5800x the file. Within the budget, so not a contract
violation; an observation for the memory estimate. Not committed as a file (too big for the
corpus)."""
import struct
import sys
import zlib

w = h = 8192
row = b"\x00" + bytes(w * 8)
c = zlib.compressobj(9)
idat = b"".join(c.compress(row) for _ in range(h)) + c.flush()


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


with open(sys.argv[1], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 6, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
