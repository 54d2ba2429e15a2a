#!/usr/bin/python3
"""Golden vectors for qgorgonia's GEMM-based quantized ops (package ops):
linear, convolutions, transposed convolutions, dynamic linear and the
dynamic LSTM, from PyTorch 1.13.

    /usr/bin/python3 scripts/golden_ops_h5.py

Writes ops/testdata/h5_{linear,conv,dynamic}.jsonl in the conformance
suite's case format (../shared/conformance/SCHEMA.md): one case per line with
"id", "op", "attrs", "inputs" and "expect". The cases use other seeds and
larger shapes than the public conformance set: 3-D linear inputs, depthwise
and single-channel convolutions (the direct kernel), 1x1 convolutions (the
pointwise GEMM path), strides, dilations and groups together, windows that
overhang the input and an output size of 0 (PyTorch's truncating size
formula), and bidirectional, batch-first, multi-layer LSTMs. Engine: onednn, the conformance
reference (exact arithmetic for linear and conv). Needs Debian's
python3-torch; Go tests read the files and never need Python.
"""
import json
import os

import torch
import torch.nn as nn

torch.backends.quantized.engine = "onednn"
Q = torch.ops.quantized
try:
    import torch.ao.nn.quantized.dynamic as nnqd  # noqa: F401
    from torch.ao.quantization import quantize_dynamic, default_dynamic_qconfig, per_channel_dynamic_qconfig
except ImportError:  # pragma: no cover
    from torch.quantization import quantize_dynamic, default_dynamic_qconfig, per_channel_dynamic_qconfig

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ops", "testdata")
g = torch.Generator().manual_seed(5052026)


def f32(v):
    return float(torch.tensor(v, dtype=torch.float32))


def enc(t):
    if t is None:
        return None
    if t.is_quantized:
        d = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
             "data": t.int_repr().flatten().tolist()}
        if t.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
            d.update(qscheme="per_channel_affine", scales=t.q_per_channel_scales().tolist(),
                     zero_points=t.q_per_channel_zero_points().tolist(), axis=t.q_per_channel_axis())
        else:
            d.update(qscheme="per_tensor_affine", scale=t.q_scale(), zero_point=t.q_zero_point())
        return d
    return {"dtype": "float32", "shape": list(t.shape), "data": [float(v) for v in t.flatten().tolist()]}


def rscale(lo=0.005, span=0.05):
    return f32(lo + span * torch.rand(1, generator=g).item())


def qx(shape):
    """A random quint8 per-tensor activation."""
    scale = rscale(0.005, 0.03)
    zp = int(torch.randint(0, 256, (1,), generator=g).item())
    ints = torch.randint(0, 256, shape, generator=g)
    return torch.quantize_per_tensor((ints - zp).float() * scale, scale, zp, torch.quint8)


def qw(shape, per_channel, axis=0):
    """A random qint8 weight (zero points 0, as ONEDNN requires)."""
    ints = torch.randint(-128, 128, shape, generator=g)
    if per_channel:
        n = shape[axis]
        scales = torch.tensor([rscale(0.001, 0.01) for _ in range(n)], dtype=torch.float64)
        zps = torch.zeros(n, dtype=torch.int64)
        view = [1] * len(shape)
        view[axis] = n
        x = ints.float() * scales.float().view(view)
        return torch.quantize_per_channel(x, scales, zps, axis, torch.qint8)
    s = rscale(0.001, 0.01)
    return torch.quantize_per_tensor(ints.float() * s, s, 0, torch.qint8)


def bias(n):
    return torch.randn(n, generator=g) * 0.5


def out_qparams():
    return rscale(0.01, 0.05), int(torch.randint(0, 256, (1,), generator=g).item())


def write(name, cases):
    with open(os.path.join(OUT, "h5_%s.jsonl" % name), "w") as f:
        for c in cases:
            f.write(json.dumps(c) + "\n")


def linear_cases():
    cases = []
    shapes = [((2, 3, 19), 13), ((7, 64), 33), ((1, 1, 1, 5), 3), ((0, 8), 4), ((5, 129), 17)]
    for i, (xs, n) in enumerate(shapes):
        for pc in (False, True):
            for relu in (False, True):
                x = qx(xs)
                w = qw((n, xs[-1]), pc)
                b = bias(n) if i % 2 == 0 else None
                s, z = out_qparams()
                if relu:
                    z = int(z) // 4
                fn = Q.linear_relu if relu else Q.linear
                y = fn(x, Q.linear_prepack(w, b), s, z)
                op = "linear_relu" if relu else "linear"
                cases.append({"id": "h5/%s/%d" % (op, len(cases)), "op": op, "attrs": {"scale": s, "zero_point": z},
                              "inputs": [enc(x), enc(w), enc(b)], "expect": [enc(y)]})
    return cases


def conv_cases():
    cases = []
    # (dims, x shape, out channels, kernel, stride, padding, dilation, groups, transposed, output_padding)
    specs = [
        (2, (2, 6, 11, 9), 6, (3, 3), (1, 1), (1, 1), (1, 1), 6, False, None),   # depthwise
        (2, (1, 8, 10, 12), 8, (3, 3), (2, 2), (1, 1), (1, 1), 8, False, None),  # depthwise, stride 2
        (2, (3, 1, 12, 10), 5, (5, 5), (1, 1), (2, 2), (1, 1), 1, False, None),  # single channel
        (2, (2, 1, 9, 9), 4, (3, 2), (2, 1), (0, 1), (2, 1), 1, False, None),    # single channel, dilated
        (2, (2, 16, 7, 6), 12, (1, 1), (1, 1), (0, 0), (1, 1), 1, False, None),  # pointwise
        (2, (1, 12, 9, 8), 9, (3, 3), (2, 1), (1, 2), (2, 1), 3, False, None),   # groups, dilation, stride
        (2, (0, 4, 6, 6), 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, False, None),    # empty batch
        (2, (1, 4, 8, 8), 8, (3, 3), (1, 1), (1, 1), (1, 1), 4, False, None),    # 1 input channel per group, multiplier 2
        (2, (2, 2, 4, 1), 3, (3, 3), (3, 3), (0, 0), (1, 1), 1, False, None),    # window overhangs the input
        (2, (1, 3, 5, 2), 3, (3, 3), (2, 4), (0, 1), (1, 1), 3, False, None),    # depthwise, overhang
        (2, (1, 2, 4, 4), 2, (3, 3), (1, 1), (0, 0), (2, 2), 1, False, None),    # output size 0
        (1, (2, 6, 17), 4, (4,), (3,), (2,), (1,), 2, False, None),
        (3, (1, 3, 5, 6, 5), 4, (3, 2, 3), (1, 2, 1), (1, 0, 1), (1, 1, 2), 1, False, None),
        (3, (1, 4, 4, 5, 5), 4, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 4, False, None),  # depthwise 3-D
        (2, (1, 4, 5, 6), 6, (3, 3), (2, 2), (1, 1), (1, 1), 2, True, (0, 0)),
        (2, (2, 3, 4, 5), 4, (2, 3), (1, 2), (0, 1), (2, 1), 1, True, (0, 0)),
        (1, (1, 4, 9), 6, (3,), (2,), (1,), (2,), 2, True, (0,)),
    ]
    for i, (dims, xs, o, k, st, pad, dil, grp, tr, opad) in enumerate(specs):
        for pc in (False, True):
            if tr and pc:
                continue  # ONEDNN rejects per-channel transposed weights
            relu = (not tr) and pc
            x = qx(xs)
            c = xs[1]
            wshape = (c, o // grp) + k if tr else (o, c // grp) + k
            w = qw(wshape, pc, axis=0)
            b = bias(o) if i % 3 != 2 else None
            s, z = out_qparams()
            name = ("conv_transpose%dd" % dims) if tr else ("conv%dd" % dims)
            if relu:
                name += "_relu"
                z = z // 4
            attrs = {"stride": list(st), "padding": list(pad), "dilation": list(dil), "groups": grp,
                     "scale": s, "zero_point": z}
            if tr:
                attrs["output_padding"] = list(opad)
                packed = getattr(Q, "conv_transpose%dd_prepack" % dims)(w, b, list(st), list(pad), list(opad), list(dil), grp)
            else:
                packed = getattr(Q, "conv%dd_prepack" % dims)(w, b, list(st), list(pad), list(dil), grp)
            y = getattr(Q, name)(x, packed, s, z)
            cases.append({"id": "h5/%s/%d" % (name, len(cases)), "op": name, "attrs": attrs,
                          "inputs": [enc(x), enc(w), enc(b)], "expect": [enc(y)]})
    return cases


def dynamic_cases():
    cases = []
    for i, (xs, n) in enumerate([((3, 4, 37), 11), ((6, 130), 9), ((2, 1, 3, 8), 5)]):
        for pc in (False, True):
            for rr in (True, False):
                x = torch.randn(xs, generator=g) * (1 + i)
                w = qw((n, xs[-1]), pc)
                b = bias(n)
                y = Q.linear_dynamic(x, Q.linear_prepack(w, b), rr)
                cases.append({"id": "h5/linear_dynamic/%d" % len(cases), "op": "linear_dynamic",
                              "attrs": {"reduce_range": rr}, "inputs": [enc(x), enc(w), enc(b)], "expect": [enc(y)]})
    # Multi-layer LSTMs, bidirectional and batch-first.
    for (inp, hid, layers, bf, bidir, T, B) in [(5, 4, 2, False, True, 4, 3), (3, 6, 2, True, True, 5, 2),
                                                (7, 5, 3, True, False, 3, 2)]:
        for scheme, qc in (("per_tensor_symmetric", default_dynamic_qconfig),
                           ("per_channel_symmetric", per_channel_dynamic_qconfig)):
            torch.manual_seed(len(cases))
            lstm = nn.LSTM(inp, hid, layers, batch_first=bf, bidirectional=bidir)
            wrapper = nn.Sequential(lstm)
            q = quantize_dynamic(wrapper, {nn.LSTM: qc}, dtype=torch.qint8)
            dirs = 2 if bidir else 1
            x = torch.randn((B, T, inp) if bf else (T, B, inp), generator=g)
            h0 = torch.randn(layers * dirs, B, hid, generator=g) * 0.5
            c0 = torch.randn(layers * dirs, B, hid, generator=g) * 0.5
            out, (hn, cn) = q[0](x, (h0, c0))
            ins = [enc(x), enc(h0), enc(c0)]
            for l in range(layers):
                for sfx in ([""] + (["_reverse"] if bidir else [])):
                    for nm in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                        ins.append(enc(getattr(lstm, "%s_l%d%s" % (nm, l, sfx)).detach()))
            attrs = {"input_size": inp, "hidden_size": hid, "num_layers": layers, "bias": True,
                     "batch_first": bf, "bidirectional": bidir, "weight_qscheme": scheme}
            cases.append({"id": "h5/quantized_lstm/%d" % len(cases), "op": "quantized_lstm", "attrs": attrs,
                          "inputs": ins, "expect": [enc(out.detach()), enc(hn.detach()), enc(cn.detach())]})
    return cases


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write("linear", linear_cases())
    write("conv", conv_cases())
    write("dynamic", dynamic_cases())
