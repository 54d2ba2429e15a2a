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
