#!/usr/bin/env python3
"""Golden vectors for package eager (run by hand with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/golden_eager.py

writes eager/testdata/golden_eager.json with

* "static": a model with fused conv+bn+relu, a 1x1 conv, Hardswish, a
  FloatFunctional residual add, LayerNorm, AvgPool2d, Flatten and Linear,
  taken through fuse_modules, prepare (a named qconfig), calibration and
  convert on the onednn engine: the float state dict, the batches, the
  evaluation input, every converted module's output scale and zero point,
  the int codes entering the DeQuantStub and the output;
* "dynamic": Sequential(Linear, GRUCell, RNNCell(relu), Linear) through
  quantize_dynamic (default qint8 spec): state dict, input and output;
* "gru": a 2-layer bidirectional GRU through quantize_dynamic: output
  sequence and h_n;

and eager/testdata/workflow_variants.jsonl, conformance cases of the
workflow family (cmd/qconform) with variants of the public ones.
"""
import json
import os

import torch
import torch.nn as nn
import torch.ao.quantization as tq
from torch.ao.nn.quantized import FloatFunctional

torch.backends.quantized.engine = "onednn"


class Static(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.hs = nn.Hardswish()
        self.ff = FloatFunctional()
        self.ln = nn.LayerNorm([4, 6, 6])
        self.pool = nn.AvgPool2d(2)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(36, 5)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu(self.bn(self.conv(x)))
        y = self.hs(self.conv2(x))
        x = self.ff.add(x, y)
        x = self.ln(x)
        x = self.pool(x)
        x = self.flat(x)
        x = self.fc(x)
        return self.dequant(x)


def tensors(sd):
    return {k: {"shape": list(v.shape), "data": v.detach().float().flatten().tolist()}
            for k, v in sd.items() if k.find("num_batches_tracked") < 0}


def flat(t):
    return {"shape": list(t.shape), "data": t.detach().flatten().tolist()}


def static_case(qname, seed):
    torch.manual_seed(seed)
    m = Static()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-0.2, 0.2)
        m.bn.running_var.uniform_(0.5, 1.5)
        m.bn.weight.uniform_(0.5, 1.5)
        m.bn.bias.uniform_(-0.2, 0.2)
        m.ln.weight.uniform_(0.5, 1.5)
        m.ln.bias.uniform_(-0.2, 0.2)
    m.eval()
    sd = tensors(m.state_dict())
    batches = [torch.randn(3, 2, 6, 6) for _ in range(3)]
    x = torch.randn(4, 2, 6, 6)
    f = tq.fuse_modules(m, [["conv", "bn", "relu"]])
    # Not get_default_qconfig: 1.13's HistogramObserver truncates its bounds
    # with int(), which package observer does not reproduce on purpose.
    f.qconfig = {"default": tq.default_qconfig, "per_channel": tq.default_per_channel_qconfig}[qname]
    tq.prepare(f, inplace=True)
    with torch.no_grad():
        for b in batches:
            f(b)
    tq.convert(f, inplace=True)
    codes = {}
    f.dequant.register_forward_pre_hook(lambda mod, inp: codes.setdefault("q", inp[0]))
    with torch.no_grad():
        y = f(x)
    q = codes["q"]
    qparams = {}
    for name in ["quant", "conv", "conv2", "hs", "ff", "ln", "fc"]:
        mod = getattr(f, name)
        qparams[name] = [float(mod.scale), int(mod.zero_point)]
    return {"qconfig": qname, "state_dict": sd, "batches": [flat(b) for b in batches], "x": flat(x),
            "qparams": qparams, "q": {"shape": list(q.shape), "data": q.int_repr().flatten().tolist(),
                                      "scale": q.q_scale(), "zero_point": q.q_zero_point()},
            "y": flat(y)}


def dynamic_case(seed):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(5, 6), nn.GRUCell(6, 4), nn.RNNCell(4, 4, nonlinearity="relu"), nn.Linear(4, 3)).eval()
    sd = tensors(m.state_dict())
    x = torch.randn(7, 5)
    q = tq.quantize_dynamic(m)
    with torch.no_grad():
        y = q(x)
    return {"state_dict": sd, "x": flat(x), "y": flat(y), "types": [type(c).__name__ for c in q]}


def gru_case(seed):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.GRU(5, 6, 2, bidirectional=True)).eval()
    sd = tensors(m.state_dict())
    x = torch.randn(4, 3, 5)
    q = tq.quantize_dynamic(m)
    with torch.no_grad():
        y, h = q[0](x)
    return {"state_dict": sd, "x": flat(x), "y": flat(y), "h": flat(h), "types": [type(c).__name__ for c in q]}


# ---- workflow variants (OPS.md "workflow" semantics, shapes and options the
# public cases do not cover); cmd/qconform/workflow_test.go scores them with
# the WORKFLOW / DYN_WORKFLOW rules.
O = tq.observer

def qconfig(name):
    act = O.MinMaxObserver.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=False)
    wpt = O.MinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    wpc = O.PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
    return {"minmax_per_tensor": tq.QConfig(act, wpt), "minmax_per_tensor_rr": tq.default_qconfig,
            "minmax_per_channel": tq.QConfig(act, wpc),
            "movingavg_per_channel": tq.QConfig(O.MovingAverageMinMaxObserver.with_args(averaging_constant=0.01, dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=False), wpc),
            "qat_default_per_channel": tq.get_default_qat_qconfig("onednn"),
            "qat_fakequant_per_channel": tq.get_default_qat_qconfig("onednn", version=0),
            "qat_fakequant_per_tensor_rr": tq.default_qat_qconfig,
            "dynamic_qint8": tq.default_dynamic_qconfig, "dynamic_qint8_per_channel": tq.per_channel_dynamic_qconfig}[name]

def build(arch):
    layers, params = [], []
    for s in arch:
        t = s["type"]
        if t == "quant_stub": m = tq.QuantStub()
        elif t == "dequant_stub": m = tq.DeQuantStub()
        elif t == "conv2d":
            m = nn.Conv2d(s["in"], s["out"], s["kernel"], stride=s["stride"], padding=s["padding"], bias=s["bias"])
            params += [m.weight] + ([m.bias] if s["bias"] else [])
        elif t == "batchnorm2d":
            m = nn.BatchNorm2d(s["features"], eps=s["eps"], momentum=s["momentum"])
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5); m.bias.uniform_(-0.3, 0.3); m.running_mean.uniform_(-0.3, 0.3); m.running_var.uniform_(0.5, 1.5)
            params += [m.weight, m.bias, m.running_mean, m.running_var]
        elif t == "relu": m = nn.ReLU()
        elif t == "maxpool2d": m = nn.MaxPool2d(s["kernel"], stride=s["stride"])
        elif t == "flatten": m = nn.Flatten()
        elif t == "linear":
            m = nn.Linear(s["in"], s["out"], bias=s["bias"])
            params += [m.weight] + ([m.bias] if s["bias"] else [])
        elif t == "lstm":
            m = nn.LSTM(s["input_size"], s["hidden_size"], s["num_layers"])
            for k in range(s["num_layers"]):
                params += [getattr(m, n + "_l%d" % k) for n in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]]
        layers.append(m)
    return layers, [p.detach().clone() for p in params]

class WfSeq(nn.Sequential):
    def forward(self, x):
        for m in self:
            x = m(x)
            if isinstance(x, tuple): x = x[0]
        return x

def enc(t):
    return {"dtype": "float32", "shape": list(t.shape), "data": t.detach().flatten().tolist()}

def wf_case(cid, op, arch, fuse, qname, batches, x):
    layers, params = build(arch)
    model = WfSeq(*layers)
    out = {"id": cid, "op": op, "engine": "onednn",
           "attrs": {"arch": arch, "fuse": fuse, "qconfig": qname, "num_params": len(params), "num_batches": len(batches), "engine": "onednn"},
           "inputs": [enc(p) for p in params] + [enc(b) for b in batches] + [enc(x)]}
    names = [[str(i) for i in g] for g in fuse]
    with torch.no_grad():
        if op == "eager_dynamic":
            model.eval(); qc = qconfig(qname)
            q = tq.quantize_dynamic(model, {nn.LSTM: qc, nn.Linear: qc}, dtype=torch.qint8)
            out["expect"] = [enc(q(x))]
            return out
        if op == "eager_static":
            model.eval(); model = tq.fuse_modules(model, names) if names else model; model.qconfig = qconfig(qname); tq.prepare(model, inplace=True)
        else:
            model.train(); model = tq.fuse_modules_qat(model, names) if names else model; model.qconfig = qconfig(qname); tq.prepare_qat(model, inplace=True)
        for b in batches: model(b)
        model.eval(); tq.convert(model, inplace=True)
        scales, zps, cap = [], [], {}
        for m in model:
            if hasattr(m, "scale") and not isinstance(m, (nn.ReLU,)):
                scales.append(float(m.scale)); zps.append(int(m.zero_point))
        model[-1].register_forward_pre_hook(lambda mod, inp: cap.setdefault("q", inp[0]))
        y = model(x)
        q = cap["q"]
        out["expect"] = [{"dtype": "float32", "shape": [len(scales)], "data": scales}, {"dtype": "int64", "shape": [len(zps)], "data": zps},
                         {"dtype": "quint8", "shape": list(q.shape), "data": q.int_repr().flatten().tolist(), "qscheme": "per_tensor_affine", "scale": q.q_scale(), "zero_point": q.q_zero_point()}, enc(y)]
    return out



def workflow_variants():
    torch.manual_seed(7)
    Q = {"type": "quant_stub"}; D = {"type": "dequant_stub"}
    def conv(i, o, k, s=1, p=0, b=True): return {"type": "conv2d", "in": i, "out": o, "kernel": k, "stride": s, "padding": p, "bias": b}
    def bn(f): return {"type": "batchnorm2d", "features": f, "eps": 1e-5, "momentum": 0.1}
    R = {"type": "relu"}
    def lin(i, o, b=True): return {"type": "linear", "in": i, "out": o, "bias": b}
    cases = []
    arch1 = [Q, conv(2, 3, 3, 2, 1, False), bn(3), R, {"type": "maxpool2d", "kernel": 2, "stride": 1}, conv(3, 4, 1, 1, 0, True), bn(4), {"type": "flatten"}, lin(64, 7, False), R, D]
    # conv3: 2x10x10 -> stride2 pad1 -> 5x5; maxpool k2 s1 -> 4x4; conv 1x1 -> 4x4x4=64
    for op, qn in [("eager_static", "minmax_per_tensor"), ("eager_static", "movingavg_per_channel"), ("eager_static", "minmax_per_tensor_rr"),
                   ("eager_qat_observe", "qat_default_per_channel"), ("eager_qat_observe", "qat_fakequant_per_tensor_rr"), ("eager_qat_observe", "qat_fakequant_per_channel")]:
        bs = [torch.randn(4, 2, 10, 10) for _ in range(3)]
        cases.append(wf_case("v/%s/%s" % (op, qn), op, arch1, [[1, 2, 3], [5, 6], [8, 9]], qn, bs, torch.randn(3, 2, 10, 10)))
    arch2 = [Q, lin(12, 8), R, lin(8, 8, False), lin(8, 4), R, D]
    for op, qn in [("eager_static", "minmax_per_channel"), ("eager_qat_observe", "qat_default_per_channel")]:
        cases.append(wf_case("v2/%s/%s" % (op, qn), op, arch2, [[1, 2], [4, 5]], qn, [torch.randn(5, 12) for _ in range(2)], torch.randn(3, 12)))
    for qn in ["dynamic_qint8", "dynamic_qint8_per_channel"]:
        cases.append(wf_case("vd/lstm2/" + qn, "eager_dynamic", [{"type": "lstm", "input_size": 5, "hidden_size": 6, "num_layers": 2}, {"type": "relu"}, lin(6, 3, False)], [], qn, [], torch.randn(4, 2, 5)))
        cases.append(wf_case("vd/lin/" + qn, "eager_dynamic", [lin(7, 9, False), R, lin(9, 2)], [], qn, [], torch.randn(6, 7)))
    torch.manual_seed(11)
    Q = {"type": "quant_stub"}; D = {"type": "dequant_stub"}; R = {"type": "relu"}
    def conv(i, o, k, s=1, p=0, b=True): return {"type": "conv2d", "in": i, "out": o, "kernel": k, "stride": s, "padding": p, "bias": b}
    def lin(i, o, b=True): return {"type": "linear", "in": i, "out": o, "bias": b}
    arch = [Q, conv(1, 3, 2, 1, 0), R, {"type": "maxpool2d", "kernel": 3, "stride": 2}, {"type": "flatten"}, lin(12, 4), R, lin(4, 4), D]
    # 1x8x8 -> conv k2 -> 7x7 -> maxpool k3 s2 -> 3x3 ... 3*3*3=27
    arch[5] = lin(27, 4)
    for op, qn in [("eager_static", "minmax_per_channel"), ("eager_qat_observe", "qat_fakequant_per_channel"), ("eager_static", "movingavg_per_channel")]:
        cases.append(wf_case("n/%s/%s" % (op, qn), op, arch, [], qn, [torch.randn(2, 1, 8, 8) for _ in range(2)], torch.randn(2, 1, 8, 8)))
        cases.append(wf_case("f/%s/%s" % (op, qn), op, arch, [[1, 2], [5, 6]], qn, [torch.randn(2, 1, 8, 8) for _ in range(1)], torch.randn(5, 1, 8, 8)))

    return cases


def memoryless_case(seed):
    """Observers with averaging constant 1 are memoryless: PyTorch observes
    a module's input with a pre-hook, and a fused module additionally runs
    the observer child on its output inside its Sequential forward."""
    torch.manual_seed(seed)
    m = nn.Sequential(tq.QuantStub(), nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3), tq.DeQuantStub()).eval()
    sd = tensors(m.state_dict())
    batches = [torch.randn(6, 4) for _ in range(2)]
    f = tq.fuse_modules(m, [["1", "2"]])
    f.qconfig = tq.QConfig(activation=O.MovingAverageMinMaxObserver.with_args(averaging_constant=1),
                           weight=tq.default_weight_observer)
    tq.prepare(f, inplace=True)
    with torch.no_grad():
        for b in batches:
            f(b)
    tq.convert(f, inplace=True)
    return {"state_dict": sd, "batches": [flat(b) for b in batches],
            "qparams": {k: [float(getattr(f, k).scale), int(getattr(f, k).zero_point)] for k in ["0", "1", "3"]}}


def main():
    out = {"torch": torch.__version__,
           "static": [static_case("default", 1), static_case("per_channel", 2)],
           "dynamic": dynamic_case(3), "gru": gru_case(4), "memoryless": memoryless_case(5)}
    path = os.path.join(os.path.dirname(__file__), "..", "eager", "testdata", "golden_eager.json")
    with open(path, "w") as fh:
        json.dump(out, fh)
    print("wrote", path)
    path = os.path.join(os.path.dirname(__file__), "..", "eager", "testdata", "workflow_variants.jsonl")
    with open(path, "w") as fh:
        for c in workflow_variants():
            fh.write(json.dumps(c) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
