#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/ (committed; rerun after changing the ABI
harness's input encoding). Deterministic. Needs Pillow (the set-up venv has it).

    python tests/fuzz/make_corpus.py [OUT]        (default: tests/fuzz/corpus)

images/: tiny valid PNG (RGB, RGBA, grey, grey+alpha, 16-bit, palette, Adam7 interlaced), JPEG
(baseline, progressive, grey, CMYK), TIFF (RGB, LZW, deflate, 16-bit, float, grey, RGBA), and
broken ones: truncated PNG/JPEG/TIFF, a PNG claiming 100000x100000, 65537x1 and 0x0 (CRC fixed),
a JPEG claiming 65500x65500, a TIFF claiming 100000x100000, bad CRC, garbage, a PNG with a JPEG
extension's content... all a few KB at most.

abi/: op sequences in tests/fuzz/fuzz_abi.c's encoding (see OPS below and image_desc there).
"""

import io
import os
import struct
import sys
import zlib

from PIL import Image

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def write(folder, name, data):
    path = os.path.join(OUT, folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    assert len(data) <= 8192, (name, len(data))


def gradient(mode, w=8, h=6):
    im = Image.new("RGB", (w, h))
    im.putdata([(x * 30 % 256, y * 40 % 256, (x + y) * 15 % 256) for y in range(h) for x in range(w)])
    if mode == "RGBA":
        im.putalpha(Image.linear_gradient("L").resize((w, h)))
        return im
    return im.convert(mode)


def encode(im, fmt, **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width, height, depth=8, colour=2, idat=b""):
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(idat))
            + png_chunk(b"IEND", b""))


def images():
    rgb = gradient("RGB")
    write("images", "rgb8.png", encode(rgb, "PNG"))
    write("images", "rgba8.png", encode(gradient("RGBA"), "PNG"))
    write("images", "grey8.png", encode(gradient("L"), "PNG"))
    write("images", "greyalpha8.png", encode(gradient("LA"), "PNG"))
    write("images", "grey16.png", encode(gradient("L").convert("I;16"), "PNG"))
    write("images", "palette.png", encode(gradient("P"), "PNG"))
    # 16-bit RGB PNG written by hand (Pillow writes no 16-bit RGB).
    raw = b"".join(b"\x00" + b"".join(struct.pack(">HHH", x * 8000, y * 9000, 30000) for x in range(4))
                   for y in range(3))
    write("images", "rgb16.png", png_claiming(4, 3, 16, 2, raw))
    # Adam7 interlaced 8-bit RGB, by hand: each pass filtered with filter 0.
    w, h = 9, 9
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    data = b""
    for x0, y0, dx, dy in passes:
        xs, ys = range(x0, w, dx), range(y0, h, dy)
        if not xs or not ys:
            continue
        for y in ys:
            data += b"\x00" + bytes(v for x in xs for v in (x * 25, y * 25, 100))
    ihdr_adam7 = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    write("images", "adam7.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr_adam7)
          + png_chunk(b"IDAT", zlib.compress(data)) + png_chunk(b"IEND", b""))
    png = encode(rgb, "PNG")
    write("images", "truncated.png", png[: len(png) * 2 // 3])
    write("images", "huge-100000x100000.png", png_claiming(100000, 100000))
    write("images", "huge-65537x1.png", png_claiming(65537, 1, idat=b"\x00" * 10))
    write("images", "zero-0x0.png", png_claiming(0, 0))
    write("images", "one-1x1.png", png_claiming(1, 1, idat=b"\x00\xff\x00\x00"))
    write("images", "badcrc.png", png[:29] + b"\x00\x00\x00\x00" + png[33:])
    jpeg = encode(rgb, "JPEG", quality=90)
    write("images", "baseline.jpg", jpeg)
    write("images", "progressive.jpg", encode(gradient("RGB", 16, 12), "JPEG", progressive=True))
    write("images", "grey.jpg", encode(gradient("L"), "JPEG"))
    write("images", "cmyk.jpg", encode(gradient("CMYK"), "JPEG"))
    write("images", "subsampled.jpg", encode(gradient("RGB", 17, 9), "JPEG", subsampling=2))
    write("images", "truncated.jpg", jpeg[: len(jpeg) // 2])
    write("images", "soi-only.jpg", b"\xff\xd8\xff")
    sof = jpeg.find(b"\xff\xc0")
    huge = bytearray(jpeg)
    huge[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
    write("images", "huge-65500x65500.jpg", bytes(huge))
    write("images", "rgb8.tif", encode(rgb, "TIFF"))
    write("images", "lzw.tif", encode(rgb, "TIFF", compression="tiff_lzw"))
    write("images", "deflate.tif", encode(gradient("RGBA"), "TIFF", compression="tiff_adobe_deflate"))
    write("images", "grey16.tif", encode(gradient("L").convert("I;16"), "TIFF"))
    write("images", "float.tif", encode(gradient("L").convert("F"), "TIFF"))
    write("images", "packbits.tif", encode(gradient("L"), "TIFF", compression="packbits"))
    tif = encode(rgb, "TIFF")
    write("images", "truncated.tif", tif[: len(tif) // 2])
    # TIFF claiming 100000x100000: patch ImageWidth (256) and ImageLength (257) entries.
    t = bytearray(tif)
    ifd = struct.unpack("<I", t[4:8])[0]
    for i in range(struct.unpack("<H", t[ifd:ifd + 2])[0]):
        e = ifd + 2 + 12 * i
        tag, typ = struct.unpack("<HH", t[e:e + 4])
        if tag in (256, 257):
            t[e + 2:e + 4] = struct.pack("<H", 4)  # LONG
            t[e + 8:e + 12] = struct.pack("<I", 100000)
    write("images", "huge-100000x100000.tif", bytes(t))
    write("images", "garbage.bin", bytes((i * 73 + 11) % 256 for i in range(300)))
    write("images", "png-magic-only.png", b"\x89PNG\r\n\x1a\n")
    write("images", "tiff-magic-only.tif", b"II*\x00\x08\x00\x00\x00")
    write("images", "gif.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")


# ---------------------------------------------------------------- ABI op sequences
# Each function mirrors the decoder in fuzz_abi.c byte for byte (check with NSTYLE_FUZZ_TRACE=1).
# Op bytes index OP_TABLE[byte % 32] there.
OPS = dict(misc=0, info=1, weights=2, content=4, style=7, clear=10, set_weights=11, set=13,
           get=17, find=20, create=21, result_size=22, step=23, fetch=25, free=27, cancel=29,
           guide=30)
# op_guide's kinds: masks, their clears, the initial image and the temporal term.
GUIDES = dict(style_mask=0, clear_style_mask=1, source_mask=2, clear_source_mask=3,
              content_mask=4, clear_content_mask=5, init_image=6, temporal=7, clear_temporal=8)
MODEL = 1  # a pick_model byte that keeps the live model (0 % 16 would pass NULL)
FILL = bytes([5, 0x10, 0x80, 0xF0, 0x30, 0x60, 0x90])  # fill_pixels: length - 1, bytes


def desc(kind=0, w=8, h=8, fmt=0, pad=0, null=False, huge=0):
    """image_desc: kind, w-1, h-1, format, pad, then per invalid kind its extra bytes.
    Returns (bytes, null): whether the harness then passes NULL pixels."""
    out = bytes([kind, (w - 1) % 256, (h - 1) % 256, fmt, pad])
    k = kind % 16
    if k == 14 and pad % 4 != 0:
        out += struct.pack("<H", huge)
    if k == 15:
        out += struct.pack("<H", huge) if pad % 2 else struct.pack("<HH", huge, huge)
    if 10 <= k <= 14:
        out += bytes([0 if null else 1])
    is_null = (k == 15 and pad % 2 == 0) or (10 <= k <= 14 and null)
    return out, is_null


def op_content(w=8, h=8, fmt=0, pad=0, mapped=0, kind=0, null=False):
    d, is_null = desc(kind, w, h, fmt, pad, null)
    return bytes([OPS["content"], MODEL]) + d + (b"" if is_null else bytes([mapped]) + FILL)


def op_style(w=8, h=8, fmt=0, pad=0, mapped=0, blend=None):
    d, _ = desc(0, w, h, fmt, pad)
    # blend: None keeps 1.0; else an index into pick_float's table (<200) after a 0 selector
    sel = bytes([1]) if blend is None else bytes([0, blend])
    return bytes([OPS["style"], MODEL]) + d + sel + bytes([mapped]) + FILL


def op_step(n=1):
    return bytes([OPS["step"], MODEL, n, 1])  # size stays <= 32: no cap_cost byte


def op_fetch(w=16, h=16, fmt=1, pad=0, natural=False, mapped=1, kind=0, null=False):
    d, is_null = desc(kind, w, h, fmt, pad, null)
    out = bytes([OPS["fetch"], MODEL]) + d
    if kind % 16 < 10:
        out += bytes([0 if natural else 1])
    return out + (b"" if is_null else bytes([mapped]))


def op_set(key_index, value_kind, *more):
    # pick_key kind 0 (a table key) + index; pick_value kind + what it reads
    return bytes([OPS["set"], MODEL, 0, key_index, value_kind]) + bytes(more)


def op_get(key_index, buffer_len, kind=1):
    return bytes([OPS["get"], MODEL, 0, key_index, kind, buffer_len])


def op_info(index_kind, extra=b"", null_out=False):
    return bytes([OPS["info"], index_kind]) + extra + bytes([0 if null_out else 1])


def op_find(key_index, null_out=False):
    return bytes([OPS["find"], 0, key_index, 0 if null_out else 1])


def op_guide(kind, w=8, h=8, fmt=0, index=0, weight=2, weight_map=True):
    """A guide op with a live model and style `index` (the first style added is 0; the index
    byte is read only while the model has a style)."""
    out = bytes([OPS["guide"], MODEL, GUIDES[kind], 1, index])
    if kind.startswith("clear"):
        return out
    d, _ = desc(0, w, h, fmt, 0)
    out += d + bytes([0]) + FILL
    if kind.endswith("mask"):
        return out + bytes([1])  # not zeroed
    if kind == "temporal":
        out += bytes([1, weight])
        out += bytes([1]) + bytes(range(0, 256, 256 // (w * h)))[: w * h] + bytes([1]) \
            if weight_map else bytes([0])
    return out


def weights_file(body):
    return bytes([OPS["weights"], 5]) + struct.pack("<H", len(body)) + body


def safetensors(header):
    return struct.pack("<Q", len(header)) + header


def abi():
    write("abi", "step-fetch", op_style() + op_step(2) + op_fetch(natural=True)
          + op_fetch(40, 9, 3))
    for fmt in range(6):
        write("abi", f"formats-{fmt}", op_content(12, 7, fmt, 200, fmt % 2) + op_style(9, 5, fmt, 170)
              + op_fetch(11, 13, fmt, 190, False, fmt % 2) + op_step(1)
              + op_fetch(5, 3, fmt, 0, True, 0))
    # Options: defaults, words, range ends (min, max, min-1, max+1), the extra value table.
    write("abi", "options-defaults", b"".join(op_set(i, 0) for i in range(17)) + op_style() + op_step(1))
    write("abi", "options-words", b"".join(op_set(i, 1, 1) for i in range(17)))
    write("abi", "options-ranges", b"".join(op_set(i, 2, k) for i in range(17) for k in range(4)))
    write("abi", "options-extra", b"".join(op_set(i, 3, j) for i in range(17) for j in (i * 3, i * 3 + 1)))
    write("abi", "options-random", b"".join(op_set(i, 5, 12) + b"relu1_1:0.5," for i in range(17)))
    write("abi", "get-option", b"".join(op_get(i, 40) for i in range(17)))
    write("abi", "get-option-short", b"".join(op_get(i, i % 3) + op_get(i, 0, 0) for i in range(17)))
    write("abi", "info-find", b"".join(op_info(3, bytes([k])) + op_find(k) for k in range(17))
          + op_info(0) + op_info(1, b"\x05") + op_info(2, b"\xff\xff\xff\xff") + op_info(3, b"\x00", True)
          + op_find(0, True))
    inv = b""
    for kind in range(10, 16):
        for pad in range(4):
            inv += op_content(4, 4, 1, pad, 0, kind, null=pad >= 2)
    write("abi", "invalid-images", inv)
    inv = b""
    for kind in range(10, 16):
        for pad in range(4):
            inv += op_fetch(4, 4, 3, pad, False, 1, kind, null=pad >= 2)
    write("abi", "invalid-fetch", inv)
    write("abi", "blend-weights", b"".join(op_style(blend=k) for k in range(16)) + op_step(1))
    write("abi", "set-weights", b"".join(bytes([OPS["set_weights"], MODEL, a, b, c, 1]) for a, b, c in
                                         ((0, 1, 2), (7, 1, 2), (3, 3, 3), (8, 1, 1), (10, 0, 0), (12, 0, 0), (4, 4, 4)))
          + op_style() + op_step(2))
    write("abi", "cancel-step", op_style() + bytes([OPS["cancel"], 1]) + op_step(2) + op_step(1) + op_fetch())
    # free, then calls on no model (a 0 byte: no re-create), then a create and a fresh model's
    # calls before any content (STATE).
    write("abi", "free-create", bytes([OPS["free"], OPS["result_size"], 0, 2, OPS["step"], 0, 1, 1,
                                       OPS["create"], 0, 1, OPS["result_size"], MODEL, 2])
          + op_fetch() + op_content() + op_style() + op_step(1))
    write("abi", "devices", b"".join(bytes([OPS["create"], k, 1]) for k in range(6, 14))
          + bytes([OPS["create"], 230, 4]) + b"cuda" + bytes([1]))
    header = b'{"conv1_1.weight_q":{"dtype":"U8","shape":[64,3,3,3],"data_offsets":[0,1728]},' \
             b'"conv1_1.weight_table":{"dtype":"F32","shape":[256],"data_offsets":[1728,2752]}}'
    write("abi", "weights-file", weights_file(safetensors(header) + bytes(64)))
    write("abi", "weights-paths", bytes([OPS["weights"], 0, OPS["weights"], 1, OPS["weights"], 2,
                                         OPS["weights"], 3, OPS["weights"], 4]))
    huge = b'{"conv1_1.weight_q":{"dtype":"U8","shape":[4294967296,4294967296],' \
           b'"data_offsets":[0,18446744073709551615]}}'
    write("abi", "weights-huge-shape", weights_file(safetensors(huge)))
    write("abi", "weights-header-len", weights_file(struct.pack("<Q", 2 ** 64 - 1) + b"{}"))
    write("abi", "result-size", op_content(30, 10) + bytes([OPS["result_size"], MODEL, 2])
          + op_set(0, 2, 0) + bytes([OPS["result_size"], MODEL, 3]) + op_fetch(30, 10, 2))
    # size 0 (the word "0"): the content's own size, 40 px long; the step caps it to 16 + 16.
    write("abi", "size-own", op_content(40, 20) + op_set(0, 1, 0) + bytes([OPS["result_size"], MODEL, 2])
          + op_style() + bytes([OPS["step"], MODEL, 1, 1, 16]) + op_fetch(natural=True))
    write("abi", "adam-random", op_set(6, 1, 1) + op_set(7, 1, 1) + op_style(16, 16, 4)
          + op_step(2) + op_fetch(20, 20, 5))
    write("abi", "misc", bytes([OPS["misc"], OPS["misc"]]))
    # Guides: a region and a style-image mask on the first style, a content mask, steps with
    # them, a temporal term with and without a weight map, an initial image, then the clears.
    write("abi", "guides", op_style() + op_guide("style_mask", 6, 4) + op_guide("source_mask", 4, 4, 1)
          + op_step(1) + op_guide("content_mask", 5, 5, 0) + op_step(1)
          + op_guide("temporal", 4, 4) + op_step(1) + op_guide("temporal", 4, 4, 1, weight_map=False)
          + op_guide("init_image", 8, 8, 3) + op_step(1)
          + b"".join(op_guide(k) for k in GUIDES if k.startswith("clear")) + op_step(1))

images()
abi()
print("corpus written to", OUT)
