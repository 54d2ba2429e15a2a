#!/usr/bin/python3
"""Golden vectors for packages observer and fake, from PyTorch 1.13.

Run by hand with Debian's python3-torch (`make golden`):

    /usr/bin/python3 scripts/golden_observer.py

Writes observer/testdata/observers.json and fake/testdata/fake.json. Tests
read these files and never need Python. Float values are written with
repr(float(x)) (exact for float32), non-finite ones as "inf"/"-inf"/"nan".

HistogramObserver: PyTorch 1.13 passes int(min)/int(max) to torch.histc; the
expectations here use a subclass whose forward is 1.13's with float bounds,
the behaviour qgorgonia implements (and PyTorch <= 1.11 and >= 2.0 have).
"""
import json
import math
import os
import warnings

import torch
from torch.ao.quantization import observer as O
from torch.ao.quantization import fake_quantize as FQ

warnings.simplefilter("ignore")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def num(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def tens(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": [num(v) for v in t.flatten().tolist()]}


def ints(t):
    return [int(v) for v in torch.as_tensor(t).flatten().tolist()]


class FloatBoundsHistogramObserver(O.HistogramObserver):
    """1.13's HistogramObserver.forward with float histc bounds."""

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach()
        min_val = self.min_val
        max_val = self.max_val
        same_values = min_val.item() == max_val.item()
        is_uninitialized = min_val == float("inf") and max_val == float("-inf")
        if is_uninitialized or same_values:
            min_val, max_val = torch.aminmax(x)
            self.min_val.resize_(min_val.shape)
            self.min_val.copy_(min_val)
            self.max_val.resize_(max_val.shape)
            self.max_val.copy_(max_val)
            torch.histc(x, self.bins, min=float(min_val), max=float(max_val), out=self.histogram)
        else:
            new_min, new_max = torch.aminmax(x)
            combined_min = torch.min(new_min, min_val)
            combined_max = torch.max(new_max, max_val)
            (combined_min, combined_max, downsample_rate, start_idx) = self._adjust_min_max(
                combined_min, combined_max, self.upsample_rate)
            combined_histogram = torch.histc(x, self.bins, min=float(combined_min), max=float(combined_max))
            if combined_min == min_val and combined_max == max_val:
                combined_histogram += self.histogram
            else:
                combined_histogram = self._combine_histograms(
                    combined_histogram, self.histogram, self.upsample_rate,
                    downsample_rate, start_idx, self.bins)
            self.histogram.detach_().resize_(combined_histogram.shape)
            self.histogram.copy_(combined_histogram)
            self.min_val.detach_().resize_(combined_min.shape)
            self.min_val.copy_(combined_min)
            self.max_val.detach_().resize_(combined_max.shape)
            self.max_val.copy_(combined_max)
        return x_orig


CLASSES = {
    "MinMaxObserver": O.MinMaxObserver,
    "MovingAverageMinMaxObserver": O.MovingAverageMinMaxObserver,
    "PerChannelMinMaxObserver": O.PerChannelMinMaxObserver,
    "MovingAveragePerChannelMinMaxObserver": O.MovingAveragePerChannelMinMaxObserver,
    "HistogramObserver": FloatBoundsHistogramObserver,
}

DT = {"quint8": torch.quint8, "qint8": torch.qint8, "qint32": torch.qint32}
QS = {n: getattr(torch, n) for n in ["per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
                                     "per_channel_symmetric", "per_channel_affine_float_qparams"]}


def kw_to_torch(kw):
    out = dict(kw)
    if "dtype" in out:
        out["dtype"] = DT[out["dtype"]]
    if "qscheme" in out:
        out["qscheme"] = QS[out["qscheme"]]
    return out


def observer_case(kind, kw, batches):
    obs = CLASSES[kind](**kw_to_torch(kw))
    for b in batches:
        obs(b)
    s, z = obs.calculate_qparams()
    exp = {"scale": [num(v) for v in s.flatten().tolist()], "zero_point": ints(z),
           "min_val": tens(obs.min_val), "max_val": tens(obs.max_val)}
    if kind == "HistogramObserver":
        exp["histogram"] = [num(v) for v in obs.histogram.tolist()]
    return {"kind": kind, "kwargs": kw, "batches": [tens(b) for b in batches], "expect": exp}


def observers():
    g = torch.Generator().manual_seed(1234)

    def rn(*shape, s=1.0):
        return torch.randn(*shape, generator=g) * s

    cases = []
    x = torch.tensor([-1.0, 2.0])
    for kw in [{}, {"reduce_range": True}, {"qscheme": "per_tensor_symmetric"},
               {"dtype": "qint8", "qscheme": "per_tensor_symmetric"},
               {"dtype": "qint8", "qscheme": "per_tensor_symmetric", "reduce_range": True},
               {"dtype": "qint8"}, {"quant_min": 0, "quant_max": 127, "qscheme": "per_tensor_symmetric"},
               {"quant_min": 0, "quant_max": 255, "reduce_range": True},
               {"dtype": "qint8", "quant_min": -128, "quant_max": 127, "reduce_range": True},
               {"dtype": "qint32"}, {"eps": 2.0 ** -12, "dtype": "qint8", "qscheme": "per_tensor_symmetric",
                                      "quant_min": -127, "quant_max": 127}]:
        cases.append(observer_case("MinMaxObserver", kw, [x]))
    cases.append(observer_case("MinMaxObserver", {}, []))
    cases.append(observer_case("MinMaxObserver", {}, [torch.zeros(3)]))
    cases.append(observer_case("MinMaxObserver", {}, [torch.tensor([-0.7, 1.3])]))
    cases.append(observer_case("MinMaxObserver", {}, [rn(3, 4), torch.zeros(0), rn(2, 5, s=3)]))
    cases.append(observer_case("MovingAverageMinMaxObserver", {}, [x, torch.tensor([-3.0, 1.0])]))
    cases.append(observer_case("MovingAverageMinMaxObserver", {"averaging_constant": 0.25, "dtype": "qint8"},
                               [rn(4, 4), rn(4, 4, s=2), rn(4, 4, s=0.5)]))
    cases.append(observer_case("PerChannelMinMaxObserver", {"ch_axis": 1, "dtype": "qint8",
                                                            "qscheme": "per_channel_symmetric"},
                               [torch.tensor([[-1.0, 2.0, 0.0], [0.5, -4.0, 0.0]])]))
    cases.append(observer_case("PerChannelMinMaxObserver", {"qscheme": "per_channel_affine_float_qparams"},
                               [torch.tensor([[-1.0, 2.0, 0.0], [0.5, 4.0, 1.0], [2.0, 2.0, 2.0]])]))
    cases.append(observer_case("PerChannelMinMaxObserver", {}, []))
    cases.append(observer_case("PerChannelMinMaxObserver", {"ch_axis": -1}, [rn(2, 3, 4), rn(2, 3, 4)]))
    cases.append(observer_case("PerChannelMinMaxObserver", {"ch_axis": 2, "reduce_range": True},
                               [rn(2, 3, 4), rn(1, 3, 4, s=2)]))
    cases.append(observer_case("MovingAveragePerChannelMinMaxObserver", {"ch_axis": 0, "averaging_constant": 0.1},
                               [rn(3, 5), rn(3, 5, s=2), rn(3, 5)]))
    h1 = torch.tensor([-4.0, -1.0, 0.0, 0.5, 1.0, 2.0, 12.0])
    cases.append(observer_case("HistogramObserver", {}, [h1]))
    cases.append(observer_case("HistogramObserver", {}, [h1, torch.tensor([-8.0, 0.0, 3.0, 16.0])]))
    cases.append(observer_case("HistogramObserver", {"bins": 4, "upsample_rate": 2},
                               [torch.tensor([0.0, 1, 2, 3, 4]), torch.tensor([0.0, 8.0]), torch.tensor([-4.0, 0.0])]))
    gg = torch.randn(10000, generator=torch.Generator().manual_seed(0)).clamp(-4, 4)
    gg[0] = -4
    gg[1] = 8
    # One case only (the file stays small); the Go test reruns this batch with
    # reduce_range and qint8 symmetric against pytorch-semantics.md §12.
    cases.append(observer_case("HistogramObserver", {}, [gg]))
    cases.append(observer_case("HistogramObserver", {"bins": 256}, [rn(8, 16), rn(8, 16, s=1.7), rn(8, 16, s=0.6)]))
    cases.append(observer_case("HistogramObserver", {"bins": 512, "dtype": "qint8"},
                               [rn(300, s=0.3) + 0.1, rn(200, s=2.5)]))
    cases.append(observer_case("HistogramObserver", {"bins": 64}, [torch.full((5,), 1.5), rn(40)]))
    cases.append(observer_case("HistogramObserver", {"bins": 64}, [torch.full((5,), 1.5)]))
    cases.append(observer_case("HistogramObserver", {}, []))
    return cases


def fake_cases():
    g = torch.Generator().manual_seed(99)

    def rn(*shape, s=1.0):
        return torch.randn(*shape, generator=g) * s

    out = {"per_tensor": [], "per_channel": [], "learnable_per_tensor": [], "learnable_per_channel": [],
           "modules": []}
    specs = [(torch.tensor([-0.505, -0.51, 1.27, 0.0, 0.3, float("nan"), float("inf"), -float("inf")]), 0.01, 50, 0, 127),
             (rn(4, 5, s=3), 0.1, 0, -128, 127), (rn(17, s=2), 0.0625, 3, 0, 15)]
    for x, s, z, lo, hi in specs:
        xr = x.clone().requires_grad_(True)
        y = torch.fake_quantize_per_tensor_affine(xr, s, z, lo, hi)
        dy = torch.randn(x.shape, generator=g)
        y.backward(dy)
        out["per_tensor"].append({"x": tens(x), "dy": tens(dy), "scale": s, "zero_point": z, "qmin": lo, "qmax": hi,
                                  "y": tens(y), "dx": tens(xr.grad)})
    for shape, axis in [((3, 4), 0), ((2, 3, 4), 1), ((2, 3, 5), 2)]:
        x = rn(*shape, s=2)
        c = shape[axis]
        sc = (torch.rand(c, generator=g) * 0.1 + 0.01).float()
        zp = torch.randint(0, 256, (c,), generator=g).int()
        xr = x.clone().requires_grad_(True)
        y = torch.fake_quantize_per_channel_affine(xr, sc, zp, axis, 0, 255)
        dy = torch.randn(shape, generator=g)
        y.backward(dy)
        out["per_channel"].append({"x": tens(x), "dy": tens(dy), "scales": [num(v) for v in sc.tolist()],
                                   "zero_points": ints(zp), "axis": axis, "qmin": 0, "qmax": 255,
                                   "y": tens(y), "dx": tens(xr.grad)})
    lspecs = [(torch.tensor([-1.5, -0.2, 0.3, 0.9, 5.0]), 0.01, 100.3, 0, 255, 1 / math.sqrt(5 * 255)),
              (rn(6, 7, s=2), 0.05, 3.5, 0, 15, 1.0), (rn(30, s=0.5), 0.02, -2.5, -128, 127, 0.5)]
    for x, s, z, lo, hi, gf in lspecs:
        xr = x.clone().requires_grad_(True)
        st = torch.tensor([s], requires_grad=True)
        zt = torch.tensor([z], requires_grad=True)
        y = torch._fake_quantize_learnable_per_tensor_affine(xr, st, zt, lo, hi, gf)
        dy = torch.randn(x.shape, generator=g)
        y.backward(dy)
        out["learnable_per_tensor"].append({"x": tens(x), "dy": tens(dy), "scale": num(st.item()), "zero_point": num(zt.item()),
                                            "qmin": lo, "qmax": hi, "grad_factor": gf, "y": tens(y), "dx": tens(xr.grad),
                                            "dscale": num(st.grad.item()), "dzero_point": num(zt.grad.item())})
    for shape, axis in [((4, 6), 0), ((2, 3, 5), 1)]:
        x = rn(*shape, s=2)
        c = shape[axis]
        st = (torch.rand(c, generator=g) * 0.1 + 0.01).requires_grad_(True)
        zt = (torch.rand(c, generator=g) * 255).requires_grad_(True)
        xr = x.clone().requires_grad_(True)
        y = torch._fake_quantize_learnable_per_channel_affine(xr, st, zt, axis, 0, 255, 1.0)
        dy = torch.randn(shape, generator=g)
        y.backward(dy)
        out["learnable_per_channel"].append({"x": tens(x), "dy": tens(dy), "scales": [num(v) for v in st.tolist()],
                                             "zero_points": [num(v) for v in zt.tolist()], "axis": axis, "qmin": 0,
                                             "qmax": 255, "grad_factor": 1.0, "y": tens(y), "dx": tens(xr.grad),
                                             "dscale": [num(v) for v in st.grad.tolist()],
                                             "dzero_point": [num(v) for v in zt.grad.tolist()]})

    def module_case(name, make, kw, batches, observer_steps=-1):
        m = make()
        m.train()
        ys = []
        for i, b in enumerate(batches):
            if i == observer_steps:
                m.disable_observer()
            ys.append(tens(m(b)))
        return {"module": name, "kwargs": kw, "observer_steps": observer_steps,
                "batches": [tens(b) for b in batches], "y": ys,
                "scale": [num(v) for v in m.scale.flatten().tolist()], "zero_point": ints(m.zero_point)}

    out["modules"].append(module_case("FakeQuantize", lambda: FQ.FakeQuantize(O.MovingAverageMinMaxObserver, 0, 255),
                                      {"observer": "MovingAverageMinMaxObserver", "quant_min": 0, "quant_max": 255},
                                      [torch.tensor([-1.0, 1.0]), torch.tensor([-3.0, 3.0]), torch.tensor([-30.0, 30.0])],
                                      observer_steps=2))
    out["modules"].append(module_case("FakeQuantize", lambda: FQ.FakeQuantize(O.MovingAverageMinMaxObserver, 0, 255, reduce_range=True),
                                      {"observer": "MovingAverageMinMaxObserver", "quant_min": 0, "quant_max": 255, "reduce_range": True},
                                      [rn(4, 4), rn(4, 4, s=2), rn(4, 4)]))
    out["modules"].append(module_case(
        "FakeQuantize", lambda: FQ.FakeQuantize(O.MovingAveragePerChannelMinMaxObserver, -128, 127, dtype=torch.qint8,
                                                qscheme=torch.per_channel_symmetric, ch_axis=0),
        {"observer": "MovingAveragePerChannelMinMaxObserver", "quant_min": -128, "quant_max": 127, "dtype": "qint8",
         "qscheme": "per_channel_symmetric", "ch_axis": 0}, [rn(3, 4), rn(3, 4, s=2)]))
    out["modules"].append(module_case(
        "FusedMovingAvgObsFakeQuantize", lambda: FQ.FusedMovingAvgObsFakeQuantize(O.MovingAverageMinMaxObserver, -128, 127,
                                                                                 dtype=torch.qint8, qscheme=torch.per_tensor_symmetric),
        {"observer": "MovingAverageMinMaxObserver", "quant_min": -128, "quant_max": 127, "dtype": "qint8",
         "qscheme": "per_tensor_symmetric"}, [torch.tensor([-1.0, 0.3, 2.0]), rn(5, s=2)]))
    out["modules"].append(module_case(
        "FusedMovingAvgObsFakeQuantize", lambda: FQ.FusedMovingAvgObsFakeQuantize(O.MovingAveragePerChannelMinMaxObserver, -128, 127,
                                                                                 dtype=torch.qint8, qscheme=torch.per_channel_symmetric),
        {"observer": "MovingAveragePerChannelMinMaxObserver", "quant_min": -128, "quant_max": 127, "dtype": "qint8",
         "qscheme": "per_channel_symmetric"}, [torch.tensor([[-1.0, 2.0], [0.5, -0.25]])]))
    out["modules"].append(module_case(
        "FusedMovingAvgObsFakeQuantize", lambda: FQ.FusedMovingAvgObsFakeQuantize(),
        {"observer": "MovingAverageMinMaxObserver", "quant_min": 0, "quant_max": 255}, [torch.zeros(4), rn(6)]))
    out["modules"].append(module_case(
        "FixedQParamsFakeQuantize", lambda: FQ.FixedQParamsFakeQuantize(O.default_fixed_qparams_range_neg1to1_observer),
        {"scale": 2.0 / 256, "zero_point": 128}, [rn(8, s=1.5)]))
    return out


def main():
    torch.manual_seed(0)
    os.makedirs(os.path.join(ROOT, "observer", "testdata"), exist_ok=True)
    os.makedirs(os.path.join(ROOT, "fake", "testdata"), exist_ok=True)
    meta = {"torch": torch.__version__, "generator": "scripts/golden_observer.py"}
    with open(os.path.join(ROOT, "observer", "testdata", "observers.json"), "w") as f:
        json.dump({"meta": meta, "cases": observers()}, f)
    with open(os.path.join(ROOT, "fake", "testdata", "fake.json"), "w") as f:
        json.dump({"meta": meta, **fake_cases()}, f)


if __name__ == "__main__":
    main()
