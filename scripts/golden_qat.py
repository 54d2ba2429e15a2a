#!/usr/bin/python3
"""Golden vectors for package qat from PyTorch 1.13 (run by hand:
/usr/bin/python3 scripts/golden_qat.py; writes qat/testdata/qat_golden.json).

Each case builds a float module (nn.Linear, nn.Conv*d or a torch.nn.intrinsic
fused module) with seeded weights and batch-norm state, turns it into its QAT
module with from_float and a weight fake-quantizer, and records for every
step: the input, the module output, the batch-norm running statistics after
the step, the weight fake-quantizer's scale and zero point, and the gradients
of sum(out * r) for a seeded r. Steps run in train mode unless marked "eval";
"freeze" steps call freeze_bn_stats first; "sgd" cases take an SGD step
(lr, no momentum) after each backward and record the parameters.
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.intrinsic as nni
import torch.nn.intrinsic.qat as nniqat
import torch.nn.qat as nnqat
from torch.ao.quantization import QConfig, fake_quantize as FQ

WFQ = {
    "per_channel": FQ.default_per_channel_weight_fake_quant,
    "per_tensor": FQ.default_weight_fake_quant,
    "fused_per_channel": FQ.default_fused_per_channel_wt_fake_quant,
    "fused_per_tensor": FQ.default_fused_wt_fake_quant,
}


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def conv_cls(nd):
    return {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[nd]


def bn_cls(nd):
    return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[nd]


def make(spec, gen):
    kind = spec["kind"]
    params = {}

    def rnd(*shape, scale=1.0):
        return (torch.randn(*shape, generator=gen) * scale).float()

    if kind in ("Linear", "LinearReLU", "LinearBn1d"):
        lin = nn.Linear(spec["in"], spec["out"], bias=spec["bias"])
        with torch.no_grad():
            lin.weight.copy_(rnd(spec["out"], spec["in"], scale=0.5))
            if spec["bias"]:
                lin.bias.copy_(rnd(spec["out"], scale=0.2))
        first = lin
    else:
        nd = spec["nd"]
        conv = conv_cls(nd)(spec["in"], spec["out"], spec["kernel"], stride=spec["stride"],
                            padding=spec["padding"], dilation=spec["dilation"], groups=spec["groups"],
                            bias=spec["bias"])
        with torch.no_grad():
            conv.weight.copy_(rnd(*conv.weight.shape, scale=0.4))
            if spec["bias"]:
                conv.bias.copy_(rnd(spec["out"], scale=0.2))
        first = conv
    params["weight"] = flat(first.weight)
    if spec["bias"]:
        params["bias"] = flat(first.bias)
    bn = None
    if "Bn" in kind:
        nd = spec.get("nd", 1)
        bn = bn_cls(nd)(spec["out"], eps=spec["eps"], momentum=spec["momentum"])
        with torch.no_grad():
            bn.weight.copy_(rnd(spec["out"], scale=0.5) + 1.0)
            bn.bias.copy_(rnd(spec["out"], scale=0.3))
            bn.running_mean.copy_(rnd(spec["out"], scale=0.3))
            bn.running_var.copy_(torch.rand(spec["out"], generator=gen) + 0.5)
        params["bn.weight"] = flat(bn.weight)
        params["bn.bias"] = flat(bn.bias)
        params["bn.running_mean"] = flat(bn.running_mean)
        params["bn.running_var"] = flat(bn.running_var)
    relu = nn.ReLU()
    if kind == "Linear":
        fl, qcls = first, nnqat.Linear
    elif kind == "LinearReLU":
        fl, qcls = nni.LinearReLU(first, relu), nniqat.LinearReLU
    elif kind == "LinearBn1d":
        fl, qcls = nni.LinearBn1d(first, bn), nniqat.LinearBn1d
    elif kind.startswith("ConvBnReLU"):
        fl = getattr(nni, kind)(first, bn, relu)
        qcls = getattr(nniqat, kind)
    elif kind.startswith("ConvBn"):
        fl = getattr(nni, kind)(first, bn)
        qcls = getattr(nniqat, kind)
    elif kind.startswith("ConvReLU"):
        fl = getattr(nni, kind)(first, relu)
        qcls = getattr(nniqat, kind)
    else:
        fl, qcls = first, getattr(nnqat, kind)
    qc = QConfig(activation=FQ.default_fake_quant, weight=WFQ[spec["wfq"]])
    fl.qconfig = qc
    first.qconfig = qc
    m = qcls.from_float(fl)
    m.train()
    return m, params


def run_case(name, spec, steps, seed):
    gen = torch.Generator().manual_seed(seed)
    m, params = make(spec, gen)
    named = dict(m.named_parameters())
    opt = torch.optim.SGD(m.parameters(), lr=spec["lr"]) if spec.get("lr") else None
    out_steps = []
    for st in steps:
        mode = st.get("mode", "train")
        if mode == "freeze":
            m.freeze_bn_stats()
        elif mode == "update":
            m.update_bn_stats()
        m.train(mode != "eval")
        x = torch.randn(*st["shape"], generator=gen).float()
        r = torch.randn(*st["out_shape"], generator=gen).float() if "out_shape" in st else None
        for p in m.parameters():
            p.grad = None
        y = m(x)
        rec = {"mode": mode, "x": flat(x), "shape": list(x.shape), "out": flat(y), "out_shape": list(y.shape)}
        if r is None:
            r = torch.randn(*y.shape, generator=gen).float()
        (y * r).sum().backward()
        rec["r"] = flat(r)
        rec["grads"] = {k: flat(p.grad) for k, p in named.items() if p.grad is not None}
        wfq = m.weight_fake_quant
        rec["scale"] = flat(wfq.scale)
        rec["zero_point"] = [int(v) for v in wfq.zero_point.reshape(-1).tolist()]
        if hasattr(m, "bn"):
            rec["running_mean"] = flat(m.bn.running_mean)
            rec["running_var"] = flat(m.bn.running_var)
        if opt is not None:
            opt.step()
            rec["params"] = {k: flat(p) for k, p in named.items()}
        out_steps.append(rec)
    case = {"name": name, "spec": spec, "params": params, "steps": out_steps}
    if hasattr(m, "bn"):
        w, b = torch.nn.utils.fusion.fuse_conv_bn_weights(
            m.weight, m.bias, m.bn.running_mean, m.bn.running_var, m.bn.eps, m.bn.weight, m.bn.bias) \
            if "Conv" in spec["kind"] else torch.nn.utils.fusion.fuse_linear_bn_weights(
            m.weight, m.bias if m.bias is not None else torch.zeros(spec["out"]),
            m.bn.running_mean, m.bn.running_var, m.bn.eps, m.bn.weight, m.bn.bias)
        case["folded_weight"], case["folded_bias"] = flat(w), flat(b)
    return case


def conv(kind, nd, cin, cout, k, wfq, bias=False, stride=1, padding=0, dilation=1, groups=1, eps=1e-5,
         momentum=0.1, lr=None):
    s = {"kind": kind, "nd": nd, "in": cin, "out": cout, "kernel": k, "stride": stride, "padding": padding,
         "dilation": dilation, "groups": groups, "bias": bias, "wfq": wfq, "eps": eps, "momentum": momentum}
    if lr:
        s["lr"] = lr
    return s


def main():
    torch.backends.quantized.engine = "onednn" if "onednn" in torch.backends.quantized.supported_engines else "fbgemm"
    cases = []
    tr = lambda shape, **kw: dict(shape=shape, **kw)
    cases.append(run_case("convbn2d_per_channel",
                          conv("ConvBn2d", 2, 3, 4, 3, "per_channel", padding=1),
                          [tr([2, 3, 5, 5]), tr([2, 3, 5, 5]), tr([3, 3, 4, 6]), tr([2, 3, 5, 5], mode="eval")], 1))
    cases.append(run_case("convbnrelu2d_per_tensor_freeze",
                          conv("ConvBnReLU2d", 2, 2, 3, 3, "per_tensor", bias=True, stride=2, padding=1, momentum=0.3),
                          [tr([2, 2, 6, 6]), tr([2, 2, 6, 6]), tr([2, 2, 6, 6], mode="freeze"),
                           tr([2, 2, 6, 6], mode="update"), tr([1, 2, 6, 6], mode="eval")], 2))
    cases.append(run_case("convbn2d_fused_per_channel_groups",
                          conv("ConvBn2d", 2, 4, 4, 3, "fused_per_channel", bias=True, groups=2, dilation=2,
                               padding=2, eps=1e-3),
                          [tr([2, 4, 6, 5]), tr([2, 4, 6, 5]), tr([2, 4, 6, 5], mode="eval")], 3))
    cases.append(run_case("convbnrelu1d_fused_per_tensor",
                          conv("ConvBnReLU1d", 1, 3, 5, 3, "fused_per_tensor", padding=1),
                          [tr([4, 3, 7]), tr([4, 3, 7]), tr([2, 3, 7], mode="eval")], 4))
    cases.append(run_case("convbn3d_per_channel",
                          conv("ConvBn3d", 3, 2, 3, 2, "per_channel", bias=True),
                          [tr([2, 2, 3, 4, 3]), tr([2, 2, 3, 4, 3]), tr([1, 2, 3, 4, 3], mode="eval")], 5))
    cases.append(run_case("convbnrelu2d_sgd",
                          conv("ConvBnReLU2d", 2, 2, 3, 3, "per_channel", bias=True, padding=1, lr=0.05),
                          [tr([2, 2, 5, 5]), tr([2, 2, 5, 5]), tr([2, 2, 5, 5]), tr([2, 2, 5, 5], mode="eval")], 6))
    cases.append(run_case("conv2d_per_channel",
                          conv("Conv2d", 2, 3, 4, 3, "per_channel", bias=True, stride=2),
                          [tr([2, 3, 7, 7]), tr([2, 3, 7, 7])], 7))
    cases.append(run_case("convrelu2d_fused_per_tensor",
                          conv("ConvReLU2d", 2, 2, 3, 2, "fused_per_tensor", bias=True),
                          [tr([2, 2, 4, 4]), tr([2, 2, 4, 4])], 8))
    cases.append(run_case("conv1d_per_tensor",
                          conv("Conv1d", 1, 2, 3, 3, "per_tensor", padding=1),
                          [tr([2, 2, 6]), tr([2, 2, 6])], 9))
    cases.append(run_case("convrelu3d_per_channel",
                          conv("ConvReLU3d", 3, 2, 2, 2, "per_channel", bias=True),
                          [tr([1, 2, 3, 3, 3]), tr([1, 2, 3, 3, 3])], 10))
    lin = lambda kind, i, o, wfq, bias=True, eps=1e-5, momentum=0.1, lr=None: dict(
        kind=kind, **{"in": i, "out": o}, bias=bias, wfq=wfq, eps=eps, momentum=momentum, **({"lr": lr} if lr else {}))
    cases.append(run_case("linear_per_tensor", lin("Linear", 5, 3, "per_tensor"),
                          [tr([4, 5]), tr([2, 3, 5])], 11))
    cases.append(run_case("linearrelu_per_channel_sgd", lin("LinearReLU", 4, 6, "per_channel", lr=0.1),
                          [tr([3, 4]), tr([3, 4]), tr([3, 4])], 12))
    cases.append(run_case("linearbn1d_fused_per_channel", lin("LinearBn1d", 4, 3, "fused_per_channel", bias=False),
                          [tr([5, 4]), tr([5, 4]), tr([5, 4], mode="freeze"), tr([3, 4], mode="eval")], 13))
    out = os.path.join(os.path.dirname(__file__), "..", "qat", "testdata", "qat_golden.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f)
    print("wrote", len(cases), "cases to", out)


if __name__ == "__main__":
    main()
