#!/usr/bin/python3
"""Golden vectors for qgorgonia's quantized activations, pools, resampling,
elementwise binary ops and normalizations (package ops), from PyTorch 1.13.

    /usr/bin/python3 scripts/golden_ops_h4.py

Writes ops/testdata/h4_{activation,pool,binary,norm}.jsonl in the conformance
suite's case format (../shared/conformance/SCHEMA.md): one case per line with
"id", "op", "attrs", "inputs" and "expect". The cases use other seeds and
larger shapes than the public conformance set (so PyTorch's vectorised loops
run), both 8-bit dtypes and edge qparams. Engine: onednn, as the conformance
reference. Needs Debian's python3-torch; Go tests read the files and never
need Python.
"""
import json
import math
import os

import torch

torch.backends.quantized.engine = "onednn"
Q = torch.ops.quantized
try:
    import torch.ao.nn.quantized.functional as qF
except ImportError:  # pragma: no cover
    import torch.nn.quantized.functional as qF

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ops", "testdata")
g = torch.Generator().manual_seed(20261126)


def f32(v):
    return float(torch.tensor(v, dtype=torch.float32))


def enc(t):
    if t is None:
        return None
    if t.is_quantized:
        return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                "data": t.int_repr().flatten().tolist(), "qscheme": "per_tensor_affine",
                "scale": t.q_scale(), "zero_point": t.q_zero_point()}
    return {"dtype": "float32", "shape": list(t.shape), "data": [float(v) for v in t.flatten().tolist()]}


def rq(shape, dtype, scale=None, zp=None):
    """A random quantized tensor with random int codes."""
    lo, hi = (0, 255) if dtype == torch.quint8 else (-128, 127)
    if scale is None:
        scale = f32(0.005 + 0.05 * torch.rand(1, generator=g).item())
    if zp is None:
        zp = int(torch.randint(lo, hi + 1, (1,), generator=g).item())
    ints = torch.randint(lo, hi + 1, shape, generator=g)
    x = (ints - zp).float() * scale
    q = torch.quantize_per_tensor(x, scale, zp, dtype)
    return q


def rscale():
    return f32(0.005 + 0.05 * torch.rand(1, generator=g).item())


def rzp(dtype):
    lo, hi = (0, 255) if dtype == torch.quint8 else (-128, 127)
    return int(torch.randint(lo, hi + 1, (1,), generator=g).item())


cases = {"activation": [], "pool": [], "binary": [], "norm": []}


def add(fam, op, attrs, inputs, out):
    n = len(cases[fam])
    outs = out if isinstance(out, (list, tuple)) else [out]
    cases[fam].append({"id": "h4/%s/%s/%d" % (fam, op, n), "op": op, "attrs": attrs,
                       "inputs": [enc(t) for t in inputs], "expect": [enc(t) for t in outs]})


DT = [torch.quint8, torch.qint8]

# --- activation ---------------------------------------------------------
for dt in DT:
    for shape in [(5, 7, 11), (300,), (2, 3, 64), (1,)]:
        x = rq(shape, dt)
        add("activation", "relu", {}, [x], torch.relu(x))
        add("activation", "relu6", {}, [x], Q.relu6(x, False))
        a, b = sorted([f32(v) for v in (torch.randn(2, generator=g) * 2).tolist()])
        add("activation", "hardtanh", {"min_val": a, "max_val": b}, [x], qF.hardtanh(x, a, b))
        s, z, alpha = rscale(), rzp(dt), f32(0.5 + torch.rand(1, generator=g).item())
        add("activation", "elu", {"scale": s, "zero_point": z, "alpha": alpha}, [x], qF.elu(x, s, z, alpha))
        slope = f32(0.01 + 0.3 * torch.rand(1, generator=g).item())
        add("activation", "leaky_relu", {"negative_slope": slope}, [x], qF.leaky_relu(x, slope))
        s, z = rscale(), rzp(dt)
        add("activation", "leaky_relu", {"negative_slope": slope, "scale": s, "zero_point": z}, [x],
            qF.leaky_relu(x, slope, False, s, z))
        add("activation", "hardsigmoid", {}, [x], qF.hardsigmoid(x))
        s, z = rscale(), rzp(dt)
        add("activation", "hardswish", {"scale": s, "zero_point": z}, [x], qF.hardswish(x, s, z))
        add("activation", "sigmoid", {}, [x], torch.sigmoid(x))
        add("activation", "tanh", {}, [x], torch.tanh(x))
    # every code once, with a wide scale (saturating relu6 / tanh)
    lo, hi = (0, 255) if dt == torch.quint8 else (-128, 127)
    ints = torch.arange(lo, hi + 1)
    for s in [0.1, 0.0078125]:
        z = (lo + hi + 1) // 2
        x = torch.quantize_per_tensor((ints - z).float() * s, s, z, dt)
        add("activation", "relu6", {}, [x], Q.relu6(x, False))
        add("activation", "sigmoid", {}, [x], torch.sigmoid(x))
        add("activation", "tanh", {}, [x], torch.tanh(x))
        add("activation", "hardsigmoid", {}, [x], qF.hardsigmoid(x))
        add("activation", "hardswish", {"scale": 0.05, "zero_point": z}, [x], qF.hardswish(x, 0.05, z))
        add("activation", "elu", {"scale": 0.05, "zero_point": z, "alpha": 1.0}, [x], qF.elu(x, 0.05, z, 1.0))

# --- pool ------------------------------------------------------------------
for dt in DT:
    for shape in [(2, 3, 9, 10), (1, 40, 7, 6)]:
        x = rq(shape, dt)
        for k, s, p, d, c in [(2, 2, 0, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 2, False), ([3, 2], [2, 1], [1, 0], [1, 2], True)]:
            add("pool", "max_pool2d", {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "ceil_mode": c}, [x],
                torch.nn.functional.max_pool2d(x, k, s, p, d, c))
        for k, s, p, c, cip, dov in [(2, 2, 0, False, True, None), (3, 2, 1, True, True, None), (3, 2, 1, True, False, None),
                                     ([3, 2], [1, 2], [1, 1], False, False, None), (3, 3, 1, False, True, 7), (2, 1, 0, True, True, 3)]:
            add("pool", "avg_pool2d", {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": c, "count_include_pad": cip,
                                       "divisor_override": dov}, [x],
                torch.nn.functional.avg_pool2d(x, k, s, p, c, cip, dov))
        for o in [[1, 1], [4, 3], [9, 10], [5, 7], [2, 8]]:
            add("pool", "adaptive_avg_pool2d", {"output_size": o}, [x], torch.nn.functional.adaptive_avg_pool2d(x, o))
        for attrs in [{"size": [13, 5], "mode": "nearest"}, {"scale_factor": 2.0, "mode": "nearest"},
                      {"scale_factor": 0.7, "mode": "nearest"}, {"size": [4, 17], "mode": "bilinear", "align_corners": False},
                      {"size": [4, 17], "mode": "bilinear", "align_corners": True},
                      {"scale_factor": 1.7, "mode": "bilinear", "align_corners": False},
                      {"scale_factor": 2.5, "mode": "bilinear", "align_corners": True},
                      {"size": [1, 1], "mode": "bilinear", "align_corners": True},
                      {"scale_factor": [1.1, 2.0], "mode": "nearest"}, {"scale_factor": 2.0000001, "mode": "nearest"},
                      {"scale_factor": [1.0, 1.5], "mode": "bilinear", "align_corners": False}]:
            y = torch.nn.functional.interpolate(x, size=attrs.get("size"), scale_factor=attrs.get("scale_factor"),
                                                mode=attrs["mode"], align_corners=attrs.get("align_corners"))
            add("pool", "interpolate", attrs, [x], y)
    for shape in [(1, 3, 5, 6, 7), (2, 17, 4, 4, 3)]:
        x = rq(shape, dt)
        for k, s, p, c, cip, dov in [(2, 2, 0, False, True, None), (3, 2, 1, True, True, None), (3, 2, 1, False, False, None),
                                     ([3, 2, 2], [1, 2, 1], [1, 1, 0], True, False, None), (2, 1, 0, False, True, 5)]:
            add("pool", "avg_pool3d", {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": c, "count_include_pad": cip,
                                       "divisor_override": dov}, [x],
                torch.nn.functional.avg_pool3d(x, k, s, p, c, cip, dov))

# --- binary ----------------------------------------------------------------
for dt in DT:
    for sa, sb in [((4, 5, 7), (4, 5, 7)), ((300,), (300,)), ((3, 70), (70,)), ((2, 1, 66), (2, 5, 66))]:
        a = rq(sa, dt)
        b = rq(sb, dt)
        s, z = rscale(), rzp(dt)
        add("binary", "add", {"scale": s, "zero_point": z}, [a, b], Q.add(a, b, s, z))
        add("binary", "add_relu", {"scale": s, "zero_point": z}, [a, b], Q.add_relu(a, b, s, z))
        s, z = rscale(), rzp(dt)
        add("binary", "mul", {"scale": s, "zero_point": z}, [a, b], Q.mul(a, b, s, z))
        add("binary", "mul_relu", {"scale": s, "zero_point": z}, [a, b], Q.mul_relu(a, b, s, z))
    for c in [0.37, -0.51, 5.0, -9.0, 1e-3, 0.0, 2.5, -2.5]:
        a = rq((6, 13), dt)
        add("binary", "add_scalar", {"other": c}, [a], Q.add_scalar(a, c))
        add("binary", "mul_scalar", {"other": c}, [a], Q.mul_scalar(a, c))
    for shapes, dim in [([(2, 3, 4), (2, 5, 4)], 1), ([(3, 4), (3, 4), (1, 4)], 0), ([(2, 2, 70), (2, 2, 3)], -1)]:
        xs = [rq(s, dt) for s in shapes]
        s, z = rscale(), rzp(dt)
        add("binary", "cat", {"dim": dim, "scale": s, "zero_point": z}, xs, Q.cat(xs, dim, s, z))

# --- norm ------------------------------------------------------------------


def rf(shape, lo=-1.0, hi=1.0):
    return (torch.rand(shape, generator=g) * (hi - lo) + lo).float()


for dt in DT:
    for op, shape in [("batch_norm1d", (3, 5)), ("batch_norm1d", (2, 40, 6)), ("batch_norm2d", (2, 3, 4, 5)),
                      ("batch_norm2d", (2, 37, 3, 3)), ("batch_norm2d", (1, 12, 2, 2)), ("batch_norm3d", (1, 9, 2, 3, 2))]:
        x = rq(shape, dt)
        C = shape[1]
        w, b, m, v = rf(C, 0.5, 1.5), rf(C), rf(C, -0.5, 0.5), rf(C, 0.2, 2.0)
        eps, s, z = 1e-5, rscale(), rzp(dt)
        fn = getattr(Q, op)
        add("norm", op, {"eps": eps, "scale": s, "zero_point": z}, [x, w, b, m, v], fn(x, w, b, m, v, eps, s, z))
    for shape, ns, aff in [((2, 3, 8), [8], True), ((4, 70), [70], True), ((2, 5, 33), [5, 33], False), ((3, 2, 40), [40], True)]:
        x = rq(shape, dt)
        w, b = (rf(ns, 0.5, 1.5), rf(ns)) if aff else (None, None)
        s, z = rscale(), rzp(dt)
        add("norm", "layer_norm", {"normalized_shape": ns, "eps": 1e-5, "scale": s, "zero_point": z}, [x, w, b],
            Q.layer_norm(x, ns, w, b, 1e-5, s, z))
    for shape, G in [((2, 4, 3, 3), 2), ((1, 6, 50), 3), ((2, 8, 2, 2, 9), 4), ((1, 4, 70), 1), ((2, 4, 260), 2)]:
        x = rq(shape, dt)
        w, b = rf(shape[1], 0.5, 1.5), rf(shape[1])
        s, z = rscale(), rzp(dt)
        add("norm", "group_norm", {"num_groups": G, "eps": 1e-5, "scale": s, "zero_point": z}, [x, w, b],
            Q.group_norm(x, G, w, b, 1e-5, s, z))
    for shape in [(2, 3, 7), (1, 4, 9, 8), (1, 2, 3, 3, 4), (1, 3, 16, 17)]:
        x = rq(shape, dt)
        w, b = rf(shape[1], 0.5, 1.5), rf(shape[1])
        s, z = rscale(), rzp(dt)
        add("norm", "instance_norm", {"eps": 1e-5, "scale": s, "zero_point": z}, [x, w, b],
            Q.instance_norm(x, w, b, 1e-5, s, z))

os.makedirs(OUT, exist_ok=True)
for fam, cs in cases.items():
    with open(os.path.join(OUT, "h4_%s.jsonl" % fam), "w") as f:
        for c in cs:
            f.write(json.dumps(c, separators=(",", ":")) + "\n")
    print(fam, len(cs))
