#!/usr/bin/env python3
"""Writes qtensor/testdata/golden_qtensor.json: PyTorch 1.13 reference
vectors for qtensor's tests (quantize per tensor and per channel, including
rounding ties and saturation; mean along innermost and other dimensions;
sort; topk sorted and unsorted; comparisons; max/min along a dimension).

Run with Debian's python3-torch:  /usr/bin/python3 scripts/golden_qtensor.py
The Go tests read the JSON and never need Python.
"""
import json
import math
import os

import torch

torch.manual_seed(20261126)
torch.backends.quantized.engine = "onednn" if "onednn" in torch.backends.quantized.supported_engines else torch.backends.quantized.engine

DT = {"quint8": torch.quint8, "qint8": torch.qint8, "qint32": torch.qint32}
RANGE = {"quint8": (0, 255), "qint8": (-128, 127), "qint32": (-2**31, 2**31 - 1)}


def num(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def floats(t):
    return [num(v) for v in t.flatten().tolist()]


def ints(q):
    return [int(v) for v in q.int_repr().flatten().tolist()]


def rand_q(shape, dtype, levels=None, scale=None, zp=None):
    """A per-tensor quantized tensor with random integers (few distinct
    values when levels is set, to force ties)."""
    lo, hi = RANGE[dtype]
    if dtype == "qint32":
        lo, hi = -100000, 100000
    if levels:
        vals = torch.randint(0, levels, shape) * max(1, (hi - lo) // (levels + 1)) + lo
    else:
        vals = torch.randint(lo, hi + 1, shape)
    if scale is None:
        scale = float(torch.tensor(float(torch.empty(1).uniform_(0.01, 0.2))).to(torch.float32))
    if zp is None:
        zp = int(torch.randint(lo, hi + 1, (1,))) if dtype != "qint32" else int(torch.randint(-50, 50, (1,)))
    q = torch._make_per_tensor_quantized_tensor(vals.to({"quint8": torch.uint8, "qint8": torch.int8, "qint32": torch.int32}[dtype]), scale, zp)
    return q, scale, zp


def qjson(q, dtype, scale, zp):
    return {"dtype": dtype, "shape": list(q.shape), "scale": scale, "zero_point": zp, "data": ints(q)}


out = {}

# quantize_per_tensor: random values, exact ties, saturation, huge values.
qpt = []
for dtype in ["quint8", "qint8", "qint32"]:
    for scale, zp in [(1.0, 0), (0.5, 3), (0.1, -2 if dtype != "quint8" else 7), (0.00214854861, 0), (3.0517578125e-05, 1)]:
        x = torch.cat([
            torch.randn(40) * 3,
            torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, 128.5, -128.5, 300.0, -300.0, 1e6, -1e6, 1e10, -1e10, 3.4e38, -3.4e38, float("inf"), float("-inf")]) * scale,
            torch.arange(-8, 8) * (scale / 2),
        ]).to(torch.float32)
        q = torch.quantize_per_tensor(x, scale, zp, DT[dtype])
        qpt.append({"x": floats(x), "scale": scale, "zero_point": zp, "dtype": dtype, "q": ints(q)})
out["quantize_per_tensor"] = qpt

# quantize_per_channel along every axis.
qpc = []
for dtype in ["quint8", "qint8", "qint32"]:
    for shape, axis in [([3, 4], 0), ([3, 4], 1), ([2, 3, 5], 1), ([2, 3, 5], 2), ([4, 2, 2, 3], 0)]:
        c = shape[axis]
        scales = torch.empty(c, dtype=torch.float64).uniform_(0.01, 0.5).to(torch.float32).to(torch.float64)
        lo, hi = RANGE[dtype]
        zps = torch.randint(max(lo, -20), min(hi, 20) + 1, (c,))
        x = (torch.randn(shape) * 4).to(torch.float32)
        # plant exact ties on channel 0's grid
        flat = x.flatten()
        flat[0] = 0.5 * float(scales[0]) if axis == 0 else flat[0]
        x = flat.reshape(shape)
        q = torch.quantize_per_channel(x, scales, zps, axis, DT[dtype])
        qpc.append({"x": floats(x), "shape": shape, "scales": scales.tolist(), "zero_points": zps.tolist(), "axis": axis, "dtype": dtype, "q": ints(q)})
out["quantize_per_channel"] = qpc

# dequantize, including per-channel scales that are not float32 values
# (PyTorch multiplies in double there) and qint32 integers beyond 2**24.
deq = []
for dtype, lo, hi in [("quint8", 0, 256), ("qint8", -128, 128), ("qint32", -2**31, 2**31 - 1)]:
    st = {"quint8": torch.uint8, "qint8": torch.int8, "qint32": torch.int32}[dtype]
    ints_ = torch.randint(lo, hi, (3, 40)).to(st)
    if dtype == "qint32":
        ints_[0, :8] = torch.tensor([2**24 + 1, 2**24 + 3, -2**24 - 1, 2**25 + 1, 2**31 - 1, -2**31, 123456789, 7], dtype=torch.int32)
    for scales in [[0.1, 1 / 3, 0.123456789], [0.25, 0.5, 0.0078125]]:
        zps = [0, 5, -7] if dtype != "quint8" else [0, 5, 200]
        pcq = torch._make_per_channel_quantized_tensor(ints_, torch.tensor(scales, dtype=torch.float64), torch.tensor(zps), 0)
        deq.append({"q": {"dtype": dtype, "shape": [3, 40], "data": ints_.flatten().tolist(), "qscheme": "per_channel_affine",
                          "scales": scales, "zero_points": zps, "axis": 0}, "out": floats(pcq.dequantize())})
        x = (torch.randn(3, 40) * 20).to(torch.float32)
        qq = torch.quantize_per_channel(x, torch.tensor(scales, dtype=torch.float64), torch.tensor(zps), 0, DT[dtype])
        qpc.append({"x": floats(x), "shape": [3, 40], "scales": scales, "zero_points": zps, "axis": 0, "dtype": dtype, "q": ints(qq)})
        ptq = torch._make_per_tensor_quantized_tensor(ints_, scales[2], zps[2])
        deq.append({"q": {"dtype": dtype, "shape": [3, 40], "data": ints_.flatten().tolist(), "qscheme": "per_tensor_affine",
                          "scale": scales[2], "zero_point": zps[2]}, "out": floats(ptq.dequantize())})
out["dequantize"] = deq

# mean: innermost dims (integer path) and others (float cascade path).
means = []
mean_shapes = [
    ([4, 5], None), ([4, 5], [0]), ([4, 5], [1]), ([4, 5], [0, 1]),
    ([5, 3], [0]), ([40, 37], [0]), ([37, 40], [0]), ([3, 20, 9], [1]), ([17, 5, 3], [0, 2]),
    ([70, 4], [0]), ([2, 300, 3], [1]), ([5, 8, 8], [0, 1]), ([64, 40], [0]), ([9, 33, 2], [0, 1]),
    ([3, 5, 4, 6], [1, 3]), ([3, 5, 4, 6], [0, 2]), ([3, 5, 4, 6], [2, 3]), ([3, 5, 4, 6], [-1]),
    ([3, 1, 4], [1]), ([1, 12, 1], [1]), ([2, 3, 4], [0, 1, 2]), ([130, 3], [0]), ([3, 130], [0]),
    ([70, 6], [0]), ([20, 4, 9], [0, 2]), ([5, 3, 20], [0, 2]), ([40, 3, 11], [0, 2]), ([2, 70, 12], [1]), ([50, 40], [0]),
    ([16, 17], [0]), ([17, 16], [0]), ([33, 9], [0]), ([4, 300], [1]), ([300, 8], [0]),
]
for dtype in ["quint8", "qint8", "qint32"]:
    for shape, dims in mean_shapes:
        for keepdim in [False, True]:
            if (dims is None or math.prod(shape) > 1000) and keepdim:
                continue
            q, scale, zp = rand_q(shape, dtype, levels=6 if len(means) % 3 == 0 else None)
            m = q.mean() if dims is None else q.mean(dims, keepdim)
            assert m.q_scale() == scale and m.q_zero_point() == zp
            means.append({"x": qjson(q, dtype, scale, zp), "dims": dims, "keepdim": keepdim,
                          "shape": list(m.shape), "out": ints(m)})
out["mean"] = means

# sort (stable, both directions, with ties) and max/min along a dim.
sorts = []
for dtype in ["quint8", "qint8", "qint32"]:
    for shape, dim in [([4, 6], 0), ([4, 6], 1), ([3, 5, 7], 1), ([2, 300], 1), ([70, 2], 0)]:
        for desc in [False, True]:
            q, scale, zp = rand_q(shape, dtype, levels=5)
            v, i = torch.sort(q, dim=dim, descending=desc, stable=True)
            sorts.append({"x": qjson(q, dtype, scale, zp), "dim": dim, "descending": desc,
                          "values": ints(v), "indices": i.flatten().tolist()})
out["sort"] = sorts

extrema = []
for dtype in ["quint8", "qint8"]:
    for shape, dim in [([4, 6], 0), ([4, 6], -1), ([3, 5, 7], 1)]:
        for keepdim in [False, True]:
            q, scale, zp = rand_q(shape, dtype)
            vmax, imax = torch.max(q, dim, keepdim)
            vmin, imin = torch.min(q, dim, keepdim)
            extrema.append({"x": qjson(q, dtype, scale, zp), "dim": dim, "keepdim": keepdim, "shape": list(vmax.shape),
                            "max": ints(vmax), "max_indices": imax.flatten().tolist(),
                            "min": ints(vmin), "min_indices": imin.flatten().tolist()})
out["extrema"] = extrema

# topk, unsorted included: the value order is PyTorch's nth_element order.
topks = []
for dtype in ["quint8", "qint8", "qint32"]:
    for shape, dim, k in [([10], 0, 3), ([7, 9], 1, 4), ([9, 7], 0, 5), ([3, 40], 1, 7), ([50, 3], 0, 13),
                          ([2, 200], 1, 2), ([2, 200], 1, 3), ([2, 200], 1, 40), ([1, 400], 1, 50), ([5, 17], 1, 17),
                          ([4, 6], 1, 0), ([3, 64], 1, 1), ([3, 65], 1, 2)]:
        for largest in [True, False]:
            for srt in [True, False]:
                for levels in [None, 4]:
                    if levels and math.prod(shape) > 100:
                        continue
                    q, scale, zp = rand_q(shape, dtype, levels=levels)
                    v, i = torch.topk(q, k, dim, largest, srt)
                    topks.append({"x": qjson(q, dtype, scale, zp), "k": k, "dim": dim, "largest": largest, "sorted": srt,
                                  "values": ints(v), "indices": i.flatten().tolist()})
out["topk"] = topks

# comparisons: tensor-tensor with broadcasting and different qparams, and
# tensor-scalar (the scalar is compared as a float32).
cmps = []
ops = {"eq": torch.eq, "ne": torch.ne, "ge": torch.ge, "le": torch.le, "gt": torch.gt, "lt": torch.lt}
for name, fn in ops.items():
    for sa, sb in [([3, 4], [3, 4]), ([3, 1], [1, 4]), ([2, 3, 4], [4]), ([5], [])]:
        a, s1, z1 = rand_q(sa, "quint8", levels=5, scale=0.1, zp=100)
        b, s2, z2 = rand_q(sb, "quint8", levels=5, scale=0.05, zp=50)
        r = fn(a, b)
        cmps.append({"op": name, "a": qjson(a, "quint8", s1, z1), "b": qjson(b, "quint8", s2, z2),
                     "shape": list(r.shape), "out": r.flatten().tolist()})
    a, s1, z1 = rand_q([12], "qint8", scale=0.1, zp=0)
    for other in [0.1, 0.30000001192092896, 0.3, -1.2, 1e-9, 12.7]:
        r = fn(a, other)
        cmps.append({"op": name, "a": qjson(a, "qint8", s1, z1), "other": other, "shape": list(r.shape), "out": r.flatten().tolist()})
out["compare"] = cmps

# view-like ops on per-tensor and per-channel tensors: shapes, integers
# and the resulting qparams (per-channel select/slice rules).
def qfull(q):
    d = {"shape": list(q.shape), "data": ints(q), "dtype": str(q.dtype).replace("torch.", "")}
    if q.qscheme() == torch.per_tensor_affine:
        d.update(qscheme="per_tensor_affine", scale=q.q_scale(), zero_point=q.q_zero_point())
    else:
        d.update(qscheme="per_channel_affine", scales=q.q_per_channel_scales().tolist(),
                 zero_points=q.q_per_channel_zero_points().tolist(), axis=q.q_per_channel_axis())
    return d


def pc_tensor(shape, axis, dtype="qint8"):
    c = shape[axis]
    scales = torch.empty(c, dtype=torch.float64).uniform_(0.01, 0.5).to(torch.float32).to(torch.float64)
    zps = torch.randint(-10, 10, (c,)) if dtype == "qint8" else torch.randint(0, 20, (c,))
    return torch.quantize_per_channel(torch.randn(shape) * 3, scales, zps, axis, DT[dtype])


views = []
pt, _, _ = rand_q([3, 4, 5], "quint8")
pt2, _, _ = rand_q([3, 1, 5], "qint8")
pc = pc_tensor([3, 4, 5], 1)
calls = [
    (pt, "reshape", [[5, -1, 3]], lambda q: q.reshape(5, -1, 3)),
    (pt, "flatten", [1, 2], lambda q: torch.flatten(q, 1, 2)),
    (pt, "select", [1, -2], lambda q: q.select(1, -2)),
    (pt, "slice", [2, -4, 100, 2], lambda q: q[:, :, -4:100:2]),
    (pt, "slice", [0, -100, -1, 1], lambda q: q[-100:-1]),
    (pt, "slice", [1, 3, 1, 1], lambda q: q[:, 3:1]),
    (pt, "narrow", [2, -3, 2], lambda q: torch.narrow(q, 2, -3, 2)),
    (pt2, "expand", [[2, 3, 4, -1]], lambda q: q.expand(2, 3, 4, -1)),
    (pt, "transpose", [0, 2], lambda q: q.transpose(0, 2)),
    (pt, "permute", [[2, 0, 1]], lambda q: q.permute(2, 0, 1)),
    (pt, "as_strided", [[2, 3], [7, 2], 3], lambda q: torch.as_strided(q, (2, 3), (7, 2), 3)),
    (pt2, "squeeze", [], lambda q: q.squeeze()),
    (pt, "unsqueeze", [-1], lambda q: q.unsqueeze(-1)),
    (pt, "index_select", [1, [3, 0, 3]], lambda q: torch.index_select(q, 1, torch.tensor([3, 0, 3]))),
    (pc, "select", [1, 2], lambda q: q.select(1, 2)),
    (pc, "select", [0, 1], lambda q: q.select(0, 1)),
    (pc, "select", [2, -1], lambda q: q.select(2, -1)),
    (pc, "slice", [1, 1, 3, 1], lambda q: q[:, 1:3]),
    (pc, "slice", [1, 0, 4, 3], lambda q: q[:, 0:4:3]),
    (pc, "slice", [1, 2, 3, 1], lambda q: q[:, 2:3]),
    (pc, "slice", [2, 1, 4, 2], lambda q: q[:, :, 1:4:2]),
    (pc, "narrow", [1, 1, 2], lambda q: torch.narrow(q, 1, 1, 2)),
    (pc, "unsqueeze", [0], lambda q: q.unsqueeze(0)),
    (pc, "unsqueeze", [2], lambda q: q.unsqueeze(2)),
]
m23 = torch.tensor([[True, False, False, True, False]])
calls += [
    (pt2.reshape(3, 5), "t", [], lambda q: q.t()),
    (pt, "split", [2, 1], lambda q: torch.split(q, 2, 1)),
    (pt, "chunk", [3, -1], lambda q: torch.chunk(q, 3, -1)),
    (pt, "chunk", [2, 0], lambda q: torch.chunk(q, 2, 0)),
    (pt, "unbind", [1], lambda q: torch.unbind(q, 1)),
    (pc, "unbind", [1], lambda q: torch.unbind(q, 1)),
    (pc, "split", [3, 1], lambda q: torch.split(q, 3, 1)),
    (pt2, "repeat", [[2, 1, 2, 3]], lambda q: q.repeat(2, 1, 2, 3)),
    (pt, "masked_fill", [[[True, False, False, True, False]], 0.7], lambda q: q.masked_fill(m23, 0.7)),
]
for q, name, args, fn in calls:
    r = fn(q)
    out_ = [qfull(p) for p in r] if isinstance(r, (tuple, list)) else qfull(r)
    views.append({"x": qfull(q), "op": name, "args": args, "out": out_})
pcs = pc_tensor([3, 1, 4], 2)
views.append({"x": qfull(pcs), "op": "squeeze", "args": [], "out": qfull(pcs.squeeze())})
out["views"] = views

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qtensor", "testdata", "golden_qtensor.json")
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, "generator": "scripts/golden_qtensor.py", **out}, f, separators=(",", ":"))
print("wrote", os.path.normpath(path), sum(len(v) for v in out.values()), "vectors")
