#!/usr/bin/python3
"""Golden values for package numeric from PyTorch 1.13's Numeric Suite helpers.

Run by hand with Debian's python3-torch:  /usr/bin/python3 scripts/golden_numeric.py
Writes numeric/testdata/golden_metrics.json:
  pairs: x, y float32 vectors with torch.ao.ns.fx.utils.compute_sqnr,
         compute_cosine_similarity, (x-y).abs().max() and .mean()
  quant: a float32 tensor quantized by torch.quantize_per_tensor /
         quantize_per_channel, its int_repr codes, the fraction of codes at
         the dtype's qmin and qmax, and compute_sqnr(x, q.dequantize())
"""
import json
import os

import torch
from torch.ao.ns.fx.utils import compute_cosine_similarity, compute_sqnr

torch.manual_seed(20261126)
out = {"torch": torch.__version__, "pairs": [], "quant": []}


def f32(t):
    return [float(v) for v in t.reshape(-1).tolist()]


for n, noise in [(1, 0.5), (7, 0.01), (64, 0.1), (1000, 0.001), (4097, 0.3)]:
    x = torch.randn(n) * 3
    y = x + torch.randn(n) * noise
    out["pairs"].append({
        "x": f32(x), "y": f32(y),
        "sqnr": float(compute_sqnr(x, y)),
        "cosine": float(compute_cosine_similarity(x, y)),
        "max_abs": float((x - y).abs().max()),
        "mean_abs": float((x - y).abs().mean()),
    })

RANGES = {"quint8": (0, 255), "qint8": (-128, 127)}
DT = {"quint8": torch.quint8, "qint8": torch.qint8}
cases = [
    ("per_tensor", "quint8", [3, 5], [0.02], [128], 0),
    ("per_tensor", "quint8", [100], [0.005], [10], 0),  # most values clamp
    ("per_tensor", "qint8", [4, 4, 3], [0.05], [0], 0),
    ("per_channel", "qint8", [4, 6], [0.01, 0.02, 0.05, 0.1], [0, 0, 0, 0], 0),
    ("per_channel", "quint8", [2, 3, 5], [0.03, 0.004, 0.06], [120, 3, 128], 1),
]
for scheme, dt, shape, scales, zps, axis in cases:
    x = torch.randn(*shape) * 1.5
    if scheme == "per_tensor":
        q = torch.quantize_per_tensor(x, scales[0], zps[0], DT[dt])
    else:
        q = torch.quantize_per_channel(x, torch.tensor(scales, dtype=torch.float64),
                                       torch.tensor(zps), axis, DT[dt])
    codes = q.int_repr().to(torch.int64)
    lo, hi = RANGES[dt]
    out["quant"].append({
        "scheme": scheme, "dtype": dt, "shape": shape, "scales": scales,
        "zero_points": zps, "axis": axis, "x": f32(x),
        "codes": [int(v) for v in codes.reshape(-1).tolist()],
        "dequantized": f32(q.dequantize()),
        "sqnr": float(compute_sqnr(x, q.dequantize())),
        "sat_low": float((codes == lo).double().mean()),
        "sat_high": float((codes == hi).double().mean()),
    })

path = os.path.join(os.path.dirname(__file__), "..", "numeric", "testdata", "golden_metrics.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", os.path.normpath(path))


# ---------------------------------------------------------------------------
# End to end: the Numeric Suite on a quantized MLP.
#   Sequential(QuantStub, Linear(8, 16), ReLU, Linear(16, 4), DeQuantStub),
#   fused [1, 2], default_qconfig (onednn engine), calibrated on one batch.
# Writes numeric/testdata/golden_suite.json: the float state dict, the
# calibration and evaluation batches, and compute_sqnr of every entry of
# compare_weights, compare_model_outputs and compare_model_stub (with a
# ShadowLogger that keeps whole outputs, and with PyTorch's own, which keeps
# only the first sample of a batch).
import copy

import torch.ao.nn.intrinsic as nni
import torch.ao.ns._numeric_suite as ns
import torch.nn as tnn
from torch.ao.quantization import (DeQuantStub, QuantStub, convert,
                                   default_qconfig, fuse_modules, prepare)

torch.manual_seed(7)
torch.backends.quantized.engine = "onednn"  # Debian's torch has no FBGEMM
model = tnn.Sequential(QuantStub(), tnn.Linear(8, 16), tnn.ReLU(), tnn.Linear(16, 4), DeQuantStub()).eval()
state = {k: v.clone() for k, v in model.state_dict().items()}
calib = torch.randn(64, 8)
data = torch.randn(32, 8) * 1.2
fused = fuse_modules(copy.deepcopy(model), [["1", "2"]])
fused.qconfig = default_qconfig
prepared = prepare(copy.deepcopy(fused))
prepared(calib)
qmodel = convert(prepared)

suite = {"state": {k: {"shape": list(v.shape), "data": f32(v)} for k, v in state.items()},
         "calib": {"shape": list(calib.shape), "data": f32(calib)},
         "data": {"shape": list(data.shape), "data": f32(data)},
         "weights": {}, "outputs": {}, "shadow": {}}
for key, d in ns.compare_weights(fused.state_dict(), qmodel.state_dict()).items():
    name = key.split(".")[0] + ".weight"
    suite["weights"][name] = float(compute_sqnr(d["float"], d["quantized"].dequantize()))
for key, d in ns.compare_model_outputs(copy.deepcopy(fused), copy.deepcopy(qmodel), data).items():
    fl, qu = d["float"][0], d["quantized"][0]
    if qu.is_quantized:
        qu = qu.dequantize()
    suite["outputs"][key.split(".")[0]] = float(compute_sqnr(fl, qu))


class FullShadowLogger(ns.ShadowLogger):
    """ShadowLogger without its batch slicing: PyTorch 1.13's ShadowLogger
    takes x[0] whenever len(x) > 1 (meant for tuple outputs), which for a
    batched tensor keeps only the first sample."""

    def forward(self, x, y):
        if isinstance(x, tuple):
            x = x[0]
        if isinstance(y, tuple):
            y = y[0]
        self.stats["quantized"].append(x.detach())
        self.stats["float"].append(y.detach())


swap = {tnn.Linear, nni.LinearReLU}
for field, logger in (("shadow", FullShadowLogger), ("shadow_first_sample", ns.ShadowLogger)):
    suite[field] = {}
    stub = ns.compare_model_stub(copy.deepcopy(fused), copy.deepcopy(qmodel), swap, data, logger_cls=logger)
    for key, d in stub.items():
        fl, qu = d["float"][0], d["quantized"][0]
        if qu.is_quantized:
            qu = qu.dequantize()
        suite[field][key.split(".")[0]] = float(compute_sqnr(fl, qu))
path = os.path.join(os.path.dirname(__file__), "..", "numeric", "testdata", "golden_suite.json")
with open(path, "w") as f:
    json.dump(suite, f)
print("wrote", os.path.normpath(path), {k: suite[k] for k in ("weights", "outputs", "shadow", "shadow_first_sample")})
