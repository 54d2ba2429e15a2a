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
  sequence and h_n.
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


def main():
    out = {"torch": torch.__version__,
           "static": [static_case("default", 1), static_case("per_channel", 2)],
           "dynamic": dynamic_case(3), "gru": gru_case(4)}
    path = os.path.join(os.path.dirname(__file__), "..", "eager", "testdata", "golden_eager.json")
    with open(path, "w") as fh:
        json.dump(out, fh)
    print("wrote", path)


if __name__ == "__main__":
    main()
