#!/usr/bin/python3
"""Generate a held-out conformance set (testdata/heldout/<family>.jsonl).

Run by hand with /usr/bin/python3 (PyTorch 1.13):

    /usr/bin/python3 scripts/gen_heldout.py

Every family of /work/shared/conformance/OPS.md except workflow gets cases in
the public schema (SCHEMA.md): other seeds, odd shapes (1 element, prime
sizes, empty, 0-dim), extreme qparams, ties, every dtype and per-channel axis,
and inputs PyTorch rejects (expect_error).  Expectations are real PyTorch 1.13
calls, made as OPS.md says (engine onednn; qnnpack where onednn rejects the
case).  A case is kept only if it is valid under SCHEMA.md section 6: for the
static quantized operators the engine's result must pass the operator's rule
against exact arithmetic (the float64 result on the dequantized operands,
rounded half to even with the output qparams); cases that fail that filter are
dropped and reported on stderr.  A case meant as an error is dropped if
PyTorch accepts it, and a case meant as valid is dropped if PyTorch rejects
it, so every expectation is what PyTorch really does.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.ao.nn.quantized.functional as qF
import torch.ao.quantization.observer as O
import torch.ao.quantization.fake_quantize as FQ

Q = torch.ops.quantized
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "heldout")

DT = {"quint8": torch.quint8, "qint8": torch.qint8, "qint32": torch.qint32}
STORE = {"quint8": torch.uint8, "qint8": torch.int8, "qint32": torch.int32}
RANGE = {"quint8": (0, 255), "qint8": (-128, 127), "qint32": (-2 ** 31, 2 ** 31 - 1)}
NAME = {torch.quint8: "quint8", torch.qint8: "qint8", torch.qint32: "qint32"}
QS = {n: getattr(torch, n) for n in ["per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
                                     "per_channel_symmetric"]}

torch.set_num_threads(1)


def f32(v):
    """The float32 nearest to v, as a Python float."""
    return struct.unpack("f", struct.pack("f", v))[0]


def fnum(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def enc(t):
    """Encode a tensor as a schema Tensor object."""
    if t.is_quantized:
        d = {"dtype": NAME[t.dtype], "shape": list(t.shape),
             "data": [int(v) for v in t.int_repr().flatten().tolist()]}
        if t.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
            d.update(qscheme="per_tensor_affine", scale=float(t.q_scale()), zero_point=int(t.q_zero_point()))
        else:
            d.update(qscheme="per_channel_affine",
                     scales=[float(v) for v in t.q_per_channel_scales().tolist()],
                     zero_points=[int(v) for v in t.q_per_channel_zero_points().tolist()],
                     axis=int(t.q_per_channel_axis()))
        return d
    if t.dtype == torch.float32:
        return {"dtype": "float32", "shape": list(t.shape), "data": [fnum(v) for v in t.flatten().tolist()]}
    if t.dtype == torch.bool:
        return {"dtype": "bool", "shape": list(t.shape), "data": [bool(v) for v in t.flatten().tolist()]}
    names = {torch.int64: "int64", torch.int32: "int32", torch.int8: "int8", torch.uint8: "uint8"}
    return {"dtype": names[t.dtype], "shape": list(t.shape), "data": [int(v) for v in t.flatten().tolist()]}


class Gen:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def randn(self, *shape, scale=1.0):
        return (torch.randn(tuple(shape), generator=self.g) * scale).float()

    def rand(self, *shape):
        return torch.rand(tuple(shape), generator=self.g)

    def randint(self, lo, hi, shape):
        """Integers in [lo, hi] inclusive."""
        return torch.randint(lo, hi + 1, tuple(shape), generator=self.g, dtype=torch.int64)

    def uniform(self, lo, hi):
        return lo + (hi - lo) * float(torch.rand(1, generator=self.g))

    def scale(self, lo=0.005, hi=0.05):
        return f32(self.uniform(lo, hi))

    def zp(self, dt, lo=None, hi=None):
        a, b = RANGE[dt]
        if dt == "qint32":
            a, b = -1000, 1000
        a = a if lo is None else lo
        b = b if hi is None else hi
        return int(self.randint(a, b, [1])[0])

    def q(self, shape, dt="quint8", scale=None, zp=None, lo=None, hi=None):
        """A random per-tensor quantized tensor."""
        scale = self.scale() if scale is None else scale
        zp = self.zp(dt) if zp is None else zp
        a, b = RANGE[dt]
        if dt == "qint32":
            a, b = zp - 3000, zp + 3000
        a = a if lo is None else lo
        b = b if hi is None else hi
        ints = self.randint(a, b, shape).to(STORE[dt])
        return torch._make_per_tensor_quantized_tensor(ints, scale, zp)

    def qc(self, shape, axis, dt="qint8", zero_zp=False):
        """A random per-channel quantized tensor."""
        c = shape[axis]
        scales = torch.tensor([self.scale(0.001, 0.02) for _ in range(c)], dtype=torch.float64)
        zps = torch.zeros(c, dtype=torch.int64) if zero_zp else self.randint(RANGE[dt][0] // 2, RANGE[dt][1] // 2, [c])
        a, b = RANGE[dt]
        ints = self.randint(a, b, shape).to(STORE[dt])
        return torch._make_per_channel_quantized_tensor(ints, scales, zps, axis)


def qround(x, scale, zp, dt):
    """Exact arithmetic: float64 x rounded half to even with qparams (scale, zp), clamped."""
    a, b = RANGE[dt]
    return torch.clamp(torch.round(x.double() / scale) + zp, a, b).long()


RULES = {"EXACT": (0, 0.0, 0), "ELEMWISE": (1, 0.02, 1), "NORM": (1, 0.02, 1), "GEMM": (1, 0.02, 1),
         "AVERAGE": (1, 0.25, 2)}


def rule_ok(got, ref, rule):
    lsb, frac, slack = RULES[rule]
    g = got.int_repr().long().flatten()
    r = ref.long().flatten()
    d = (g - r).abs()
    n = g.numel()
    if n == 0:
        return True
    if int(d.max()) > lsb:
        return False
    allowed = int(math.floor(frac * n)) + slack if lsb > 0 else 0
    return int((d != 0).sum()) <= allowed


class Family:
    def __init__(self, name):
        self.name = name
        self.cases = []
        self.n = {}
        self.dropped = 0

    def add(self, op, attrs, inputs, fn, engine="onednn", error=False, ref=None, rule=None, note=None,
            qnnpack_fallback=False):
        """Run fn() under engine and record the case.

        error: the case is meant to be rejected by PyTorch.
        ref: a function of the outputs giving the exact-arithmetic integer
             data of output 0 (a long tensor), checked under rule.
        qnnpack_fallback: if onednn rejects a valid case, take qnnpack's.
        """
        k = self.n.get(op, 0)
        cid = "%s/h%d" % (op, k)
        case = {"id": cid, "op": op, "attrs": attrs, "inputs": [None if t is None else enc(t) for t in inputs]}
        eng = engine
        try:
            if eng in ("onednn", "qnnpack"):
                torch.backends.quantized.engine = eng
            outs = fn()
        except Exception as e:  # noqa: BLE001
            outs, err = None, e
            if not error and qnnpack_fallback and eng == "onednn":
                eng = "qnnpack"
                try:
                    torch.backends.quantized.engine = eng
                    outs = fn()
                except Exception as e2:  # noqa: BLE001
                    err = e2
            if outs is None:
                if not error:
                    self.drop(cid, "PyTorch rejects it: %s" % str(err).split("\n")[0][:160])
                    return
                case["expect_error"] = True
                case["error_text"] = str(err).split("\n")[0][:300]
                case["engine"] = "both" if engine != "n/a" else "n/a"
                self.n[op] = k + 1
                self.cases.append(case)
                return
        finally:
            torch.backends.quantized.engine = "onednn"
        if error:
            self.drop(cid, "PyTorch accepts it")
            return
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        if ref is not None:
            try:
                r = ref(outs)
            except Exception:  # noqa: BLE001
                r = None  # float PyTorch rejects it: no exact-arithmetic reference
            if r is None or not rule_ok(outs[0], r, rule):
                # Still valid if PyTorch's other engine passes (SCHEMA.md section 6.2).
                other = "qnnpack" if eng == "onednn" else "onednn"
                try:
                    torch.backends.quantized.engine = other
                    alt = fn()
                    alt = alt[0] if isinstance(alt, (list, tuple)) else alt
                except Exception:  # noqa: BLE001
                    alt = None
                finally:
                    torch.backends.quantized.engine = "onednn"
                if alt is None or alt.dtype != outs[0].dtype or alt.shape != outs[0].shape or \
                        not rule_ok(outs[0], alt.int_repr().long(), rule):
                    self.drop(cid, "%s result fails %s against exact arithmetic (%s) and %s" % (
                        eng, rule, "none" if r is None else "computed", other))
                    return
                note = (note + "; " if note else "") + "%s; %s agrees" % (
                    "no float reference" if r is None else "outside %s of exact arithmetic" % rule, other)
        case["expect"] = [enc(t.detach() if t.requires_grad else t) for t in outs]
        case["engine"] = eng
        if note:
            case["note"] = note
        self.n[op] = k + 1
        self.cases.append(case)

    def drop(self, cid, why):
        self.dropped += 1
        sys.stderr.write("%s: dropped %s: %s\n" % (self.name, cid, why))

    def write(self):
        for extra in EXTRA.get(self.name, []):
            extra(self)
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, self.name + ".jsonl"), "w") as f:
            for c in self.cases:
                f.write(json.dumps(c, separators=(",", ":")) + "\n")
        sys.stderr.write("%s: %d cases (%d dropped)\n" % (self.name, len(self.cases), self.dropped))


# ---------------------------------------------------------------------------
# quantize
# ---------------------------------------------------------------------------
def fam_quantize():
    fm = Family("quantize")
    G = Gen(1101)
    # per-tensor: dtypes, odd shapes, extreme qparams, ties
    shapes = [[1], [], [0], [13], [2, 0, 3], [3, 1, 7], [2, 3, 5, 2]]
    for dt in ["quint8", "qint8", "qint32"]:
        a, b = RANGE[dt]
        for i, shp in enumerate(shapes):
            s = G.scale(0.002, 0.2)
            zp = [G.zp(dt), a, b][i % 3] if dt != "qint32" else [G.zp(dt), 0, -5][i % 3]
            x = G.randn(*shp, scale=2.0)
            fm.add("quantize_per_tensor", dict(scale=s, zero_point=zp, dtype=dt), [x],
                   lambda x=x, s=s, zp=zp, dt=dt: torch.quantize_per_tensor(x, s, zp, DT[dt]))
        # ties: scale a power of two, x on half steps
        for s in [0.5, 0.0625, 2.0]:
            x = (torch.arange(-12, 13, dtype=torch.float32) + 0.5) * s
            zp = 0 if dt != "quint8" else 100
            fm.add("quantize_per_tensor", dict(scale=s, zero_point=zp, dtype=dt), [x],
                   lambda x=x, s=s, zp=zp, dt=dt: torch.quantize_per_tensor(x, s, zp, DT[dt]))
        # tiny and huge scales, saturation
        for s in [f32(1e-9), f32(3.1e-5), f32(1234.5), f32(1e7)]:
            x = G.randn(11, scale=1000.0)
            zp = G.zp(dt)
            fm.add("quantize_per_tensor", dict(scale=s, zero_point=zp, dtype=dt), [x],
                   lambda x=x, s=s, zp=zp, dt=dt: torch.quantize_per_tensor(x, s, zp, DT[dt]))
    # infinite and huge inputs: PyTorch's int64 conversion overflows to the minimum, which clamps to qmin.
    # (NaN also gives qmin in PyTorch; the library rejects NaN by design, so no NaN here.)
    xn = torch.tensor([float("inf"), float("-inf"), 2.5, 3e38, -3e38, 1.0, 0.0, -1.0])
    for dt in ["quint8", "qint8", "qint32"]:
        fm.add("quantize_per_tensor", dict(scale=f32(1e-3), zero_point=3, dtype=dt), [xn],
               lambda dt=dt: torch.quantize_per_tensor(xn, f32(1e-3), 3, DT[dt]))
        sc = [f32(1e-3), 1.0]
        fm.add("quantize_per_channel", dict(scales=sc, zero_points=[3, 0], axis=0, dtype=dt), [xn.reshape(2, 4)],
               lambda dt=dt, sc=sc: torch.quantize_per_channel(xn.reshape(2, 4), torch.tensor(sc, dtype=torch.float64),
                                                               torch.tensor([3, 0]), 0, DT[dt]))
    # reciprocal vs division: scale 0.1 etc. with x = k*scale
    for s in [f32(0.1), f32(0.3), f32(0.7), f32(0.01)]:
        x = (torch.arange(-40, 41, dtype=torch.float32) * s + s / 2).float()
        fm.add("quantize_per_tensor", dict(scale=s, zero_point=3, dtype="qint8"), [x],
               lambda x=x, s=s: torch.quantize_per_tensor(x, s, 3, torch.qint8))
    # errors
    for dt, zp in [("quint8", -1), ("quint8", 256), ("qint8", 128), ("qint8", -129), ("qint32", 2 ** 31)]:
        x = G.randn(4)
        fm.add("quantize_per_tensor", dict(scale=0.1, zero_point=zp, dtype=dt), [x],
               lambda x=x, zp=zp, dt=dt: torch.quantize_per_tensor(x, 0.1, zp, DT[dt]), engine="both", error=True)
    # per-channel on every axis
    for dt in ["quint8", "qint8", "qint32"]:
        for shp in [[3, 5], [2, 3, 4], [1, 2, 3, 2], [5, 1], [2, 0, 3]]:
            for axis in range(len(shp)):
                c = shp[axis]
                scales = [G.scale(0.005, 0.05) for _ in range(c)]
                a, b = RANGE[dt]
                if dt == "qint32":
                    zps = [G.zp(dt) for _ in range(c)]
                else:
                    zps = [[G.zp(dt), a, b][j % 3] for j in range(c)]
                x = G.randn(*shp, scale=2.0)
                fm.add("quantize_per_channel", dict(scales=scales, zero_points=zps, axis=axis, dtype=dt), [x],
                       lambda x=x, sc=scales, zp=zps, ax=axis, dt=dt: torch.quantize_per_channel(
                           x, torch.tensor(sc, dtype=torch.float64), torch.tensor(zp), ax, DT[dt]))
    # per-channel ties
    x = (torch.arange(-6, 6, dtype=torch.float32).reshape(3, 4) + 0.5)
    fm.add("quantize_per_channel", dict(scales=[1.0, 0.5, 0.25], zero_points=[0, 1, -1], axis=0, dtype="qint8"), [x],
           lambda x=x: torch.quantize_per_channel(x, torch.tensor([1.0, 0.5, 0.25], dtype=torch.float64),
                                                  torch.tensor([0, 1, -1]), 0, torch.qint8))
    # per-channel errors: negative axis, axis == rank, wrong count, zp out of range
    for axis, sc, zps, dt in [(-1, [0.1] * 4, [0] * 4, "quint8"), (2, [0.1] * 3, [0] * 3, "quint8"),
                              (0, [0.1] * 2, [0] * 2, "qint8"), (1, [0.1] * 4, [0, 0, 300, 0], "quint8"),
                              (1, [0.1] * 4, [0, -129, 0, 0], "qint8")]:
        x = G.randn(3, 4)
        fm.add("quantize_per_channel", dict(scales=sc, zero_points=zps, axis=axis, dtype=dt), [x],
               lambda x=x, sc=sc, zp=zps, ax=axis, dt=dt: torch.quantize_per_channel(
                   x, torch.tensor(sc, dtype=torch.float64), torch.tensor(zp), ax, DT[dt]), engine="both", error=True)
    # dequantize / int_repr
    ins = []
    for dt in ["quint8", "qint8", "qint32"]:
        a, b = RANGE[dt]
        ins += [G.q([1], dt), G.q([], dt), G.q([0, 3], dt), G.q([3, 7], dt, zp=a if dt != "qint32" else 0),
                G.q([2, 5], dt, zp=b if dt != "qint32" else 7, scale=f32(1e-6)),
                G.q([4], dt, scale=f32(5000.25))]
        for shp, axis in [([3, 4], 0), ([3, 4], 1), ([2, 3, 5], 2), ([1, 2, 2], 1), ([2, 0, 3], 1), ([0, 2], 1)]:
            ins.append(G.qc(shp, axis, dt))
    for q in ins:
        fm.add("dequantize", {}, [q], lambda q=q: q.dequantize())
        fm.add("int_repr", {}, [q], lambda q=q: q.int_repr())
    fm.write()


# ---------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------
def fam_compare():
    fm = Family("compare")
    G = Gen(2202)
    ops = {"eq": torch.eq, "ne": torch.ne, "ge": torch.ge, "le": torch.le, "gt": torch.gt, "lt": torch.lt}
    pairs = []
    # same qparams, near values
    a = G.q([7], "quint8", scale=0.1, zp=100, lo=95, hi=105)
    b = G.q([7], "quint8", scale=0.1, zp=100, lo=95, hi=105)
    pairs.append((a, b))
    # different qparams, equal values after dequantization
    a = torch._make_per_tensor_quantized_tensor(torch.tensor([0, 2, 4, 6, 8, 10], dtype=torch.uint8), 0.5, 4)
    b = torch._make_per_tensor_quantized_tensor(torch.tensor([2, 3, 4, 5, 6, 6], dtype=torch.uint8), 1.0, 4)
    pairs.append((a, b))
    # broadcasting
    pairs.append((G.q([3, 1], "qint8", scale=0.25, zp=0, lo=-4, hi=4), G.q([1, 4], "qint8", scale=0.25, zp=1, lo=-4, hi=4)))
    pairs.append((G.q([2, 3, 4], "quint8", scale=0.5, zp=10, lo=5, hi=15), G.q([4], "quint8", scale=0.5, zp=10, lo=5, hi=15)))
    pairs.append((G.q([], "qint8", scale=0.5, zp=0, lo=-3, hi=3), G.q([5], "qint8", scale=0.5, zp=0, lo=-3, hi=3)))
    pairs.append((G.q([0, 3], "quint8"), G.q([3], "quint8")))
    pairs.append((G.q([5], "qint32", scale=0.125, zp=0, lo=-8, hi=8), G.q([5], "qint32", scale=0.25, zp=2, lo=-4, hi=6)))
    for op, f in ops.items():
        for a, b in pairs:
            fm.add(op, {}, [a, b], lambda a=a, b=b, f=f: f(a, b))
        # scalar other, including exactly representable equality
        x = G.q([2, 5], "quint8", scale=0.25, zp=8, lo=0, hi=16)
        for other in [0.5, -1.75, f32(G.uniform(-1, 1)), 0.0, 1e9]:
            fm.add(op, dict(other=other), [x], lambda x=x, f=f, o=other: f(x, o))
        x = G.q([], "qint8", scale=0.5, zp=-3, lo=-6, hi=0)
        fm.add(op, dict(other=-0.5), [x], lambda x=x, f=f: f(x, -0.5))
        # broadcast error
        a, b = G.q([3], "quint8"), G.q([4], "quint8")
        fm.add(op, {}, [a, b], lambda a=a, b=b, f=f: f(a, b), engine="both", error=True)
    # equal
    base = G.q([2, 3], "quint8", scale=0.1, zp=5)
    ints = base.int_repr()
    same = torch._make_per_tensor_quantized_tensor(ints.clone(), 0.1, 5)
    other_scale = torch._make_per_tensor_quantized_tensor(ints.clone(), 0.1 + 1e-7, 5)
    other_zp = torch._make_per_tensor_quantized_tensor(ints.clone(), 0.1, 6)
    ints2 = ints.clone()
    ints2[1, 2] = (int(ints2[1, 2]) + 1) % 256
    other_data = torch._make_per_tensor_quantized_tensor(ints2, 0.1, 5)
    reshaped = torch._make_per_tensor_quantized_tensor(ints.clone().reshape(3, 2), 0.1, 5)
    as_qint8 = torch._make_per_tensor_quantized_tensor((ints.long() - 128).to(torch.int8), 0.1, -123)
    pc1 = G.qc([3, 4], 0, "qint8")
    pc2 = torch._make_per_channel_quantized_tensor(pc1.int_repr().clone(), pc1.q_per_channel_scales(),
                                                   pc1.q_per_channel_zero_points(), 0)
    pc3 = torch._make_per_channel_quantized_tensor(pc1.int_repr().clone(), pc1.q_per_channel_scales() * 2,
                                                   pc1.q_per_channel_zero_points(), 0)
    pt_of_pc = torch._make_per_tensor_quantized_tensor(pc1.int_repr().clone(), 0.01, 0)
    e0a, e0b = G.q([0], "quint8", scale=0.2, zp=1), G.q([0], "quint8", scale=0.2, zp=1)
    d0a = G.q([], "qint32", scale=0.5, zp=0)
    d0b = torch._make_per_tensor_quantized_tensor(d0a.int_repr().clone(), 0.5, 0)
    for a, b in [(base, same), (base, other_scale), (base, other_zp), (base, other_data), (base, reshaped),
                 (base, as_qint8), (pc1, pc2), (pc1, pc3), (pc1, pt_of_pc), (e0a, e0b), (d0a, d0b)]:
        fm.add("equal", {}, [a, b], lambda a=a, b=b: torch.tensor(torch.equal(a, b)))
    fm.write()


# ---------------------------------------------------------------------------
# reduce
# ---------------------------------------------------------------------------
def fam_reduce():
    fm = Family("reduce")
    G = Gen(3303)
    xs = [G.q([1], "quint8"), G.q([], "qint8"), G.q([13], "qint8"), G.q([3, 5], "quint8", lo=100, hi=104),
          G.q([2, 3, 7], "qint32"), G.q([2, 1, 3, 2], "quint8"), G.q([5, 4], "qint8", lo=-2, hi=2)]
    for x in xs:
        nd = x.dim()
        for op, f in [("max", torch.max), ("min", torch.min)]:
            fm.add(op, {}, [x], lambda x=x, f=f: f(x))
            # compare.py's index check cannot address a 0-dim input: no dim cases there
            for d in range(-nd, nd):
                for keep in [False, True]:
                    fm.add(op, dict(dim=d, keepdim=keep), [x], lambda x=x, f=f, d=d, k=keep: list(f(x, d, k)))
        fm.add("mean", {}, [x], lambda x=x: torch.mean(x))
        if nd >= 1:
            dims = [[0], [-1], list(range(nd))] + ([[0, -1], [1]] if nd >= 2 else [])
            for dl in dims:
                for keep in [False, True]:
                    fm.add("mean", dict(dim=dl, keepdim=keep), [x], lambda x=x, dl=dl, k=keep: torch.mean(x, dl, k))
        for d in range(-nd, nd):
            for desc in [False, True]:
                fm.add("sort", dict(dim=d, descending=desc, stable=True), [x],
                       lambda x=x, d=d, desc=desc: list(torch.sort(x, dim=d, descending=desc, stable=True)))
            fm.add("sort", dict(dim=d, descending=True, stable=False), [x],
                   lambda x=x, d=d: list(torch.sort(x, dim=d, descending=True, stable=False)))
            size = x.shape[d]
            for k in sorted(set([0, 1, size, (size + 1) // 2])):
                for largest in [True, False]:
                    fm.add("topk", dict(k=k, dim=d, largest=largest, sorted=True), [x],
                           lambda x=x, k=k, d=d, l=largest: list(torch.topk(x, k, d, l, True)))
            fm.add("topk", dict(k=size + 1, dim=d, largest=True, sorted=True), [x],
                   lambda x=x, k=size + 1, d=d: list(torch.topk(x, k, d, True, True)), engine="both", error=True)
        fm.add("max", dict(dim=max(nd, 1), keepdim=False), [x], lambda x=x, d=max(nd, 1): list(torch.max(x, d, False)),
               engine="both", error=True)
    # mean over many ties
    x = torch._make_per_tensor_quantized_tensor(torch.tensor([[0, 1], [2, 3], [1, 2], [0, 3]], dtype=torch.uint8), 0.1, 0)
    for dl in [[0], [1], [0, 1]]:
        fm.add("mean", dict(dim=dl, keepdim=False), [x], lambda x=x, dl=dl: torch.mean(x, dl, False))
    # empty reductions
    e = G.q([0, 4], "quint8")
    fm.add("max", {}, [e], lambda e=e: torch.max(e), engine="both", error=True)
    fm.add("max", dict(dim=1, keepdim=False), [e], lambda e=e: list(torch.max(e, 1, False)))
    fm.add("sort", dict(dim=0, descending=False, stable=True), [e],
           lambda e=e: list(torch.sort(e, dim=0, descending=False, stable=True)))
    fm.add("topk", dict(k=2, dim=1, largest=True, sorted=True), [e], lambda e=e: list(torch.topk(e, 2, 1, True, True)))
    fm.write()


# ---------------------------------------------------------------------------
# shape
# ---------------------------------------------------------------------------
def fam_shape():
    fm = Family("shape")
    G = Gen(4404)
    x = G.q([2, 3, 5], "qint8")
    for q in [x, G.q([], "quint8"), G.q([0, 2], "qint32"), G.q([1], "quint8")]:
        fm.add("clone", {}, [q], lambda q=q: q.clone())
    for s, e in [(0, -1), (1, 2), (-2, -1), (0, 0), (2, 2), (-3, 1)]:
        fm.add("flatten", dict(start_dim=s, end_dim=e), [x], lambda s=s, e=e: torch.flatten(x, s, e))
    z = G.q([], "qint8")
    fm.add("flatten", dict(start_dim=0, end_dim=-1), [z], lambda: torch.flatten(z, 0, -1))
    fm.add("flatten", dict(start_dim=2, end_dim=1), [x], lambda: torch.flatten(x, 2, 1), engine="both", error=True)
    fm.add("flatten", dict(start_dim=0, end_dim=3), [x], lambda: torch.flatten(x, 0, 3), engine="both", error=True)
    for shp in [[30], [-1], [5, -1, 2], [1, 30, 1], [3, 2, 5], [2, 15]]:
        fm.add("view", dict(shape=shp), [x], lambda shp=shp: x.view(*shp))
    q1 = G.q([1], "quint8")
    fm.add("view", dict(shape=[1, 1]), [q1], lambda: q1.view(1, 1))
    for shp in [[7, -1], [-1, -1], [31]]:
        fm.add("view", dict(shape=shp), [x], lambda shp=shp: x.view(*shp), engine="both", error=True)
    for d in range(-3, 3):
        for i in [0, -1, 1]:
            fm.add("select", dict(dim=d, index=i), [x], lambda d=d, i=i: x.select(d, i))
    fm.add("select", dict(dim=1, index=-4), [x], lambda: x.select(1, -4), engine="both", error=True)
    fm.add("select", dict(dim=3, index=0), [x], lambda: x.select(3, 0), engine="both", error=True)
    for d, s, e, st in [(2, 1, 4, 2), (2, -3, None, 1), (0, 0, 100, 1), (1, 2, 1, 1), (-1, None, -1, 3),
                        (1, -100, 2, 1), (2, 4, 5, 7), (0, 1, 2, 1)]:
        a = dict(dim=d, start=s, end=e, step=st)
        fm.add("slice", a, [x], lambda d=d, s=s, e=e, st=st: x[(slice(None),) * (d % 3) + (slice(s, e, st),)])
    fm.add("slice", dict(dim=0, start=0, end=2, step=0), [x], lambda: x[slice(0, 2, 0)], engine="both", error=True)
    y = G.q([3, 1], "quint8")
    for size in [[3, 4], [2, 3, 6], [-1, 1], [0, 3, 2], [1, 3, 1]]:
        fm.add("expand", dict(size=size), [y], lambda size=size: y.expand(*size))
    z = G.q([], "qint32")
    fm.add("expand", dict(size=[2, 3]), [z], lambda: z.expand(2, 3))
    fm.add("expand", dict(size=[3]), [y], lambda: y.expand(3), engine="both", error=True)
    fm.add("expand", dict(size=[-1, 4, 1]), [y], lambda: y.expand(-1, 4, 1), engine="both", error=True)
    fm.write()


# ---------------------------------------------------------------------------
# observers
# ---------------------------------------------------------------------------
class FloatBoundsHistogramObserver(O.HistogramObserver):
    """1.13's HistogramObserver.forward with float histc bounds (OPS.md)."""

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


OBS = {"MinMaxObserver": O.MinMaxObserver, "MovingAverageMinMaxObserver": O.MovingAverageMinMaxObserver,
       "PerChannelMinMaxObserver": O.PerChannelMinMaxObserver,
       "MovingAveragePerChannelMinMaxObserver": O.MovingAveragePerChannelMinMaxObserver,
       "HistogramObserver": FloatBoundsHistogramObserver}


def obs_kwargs(attrs):
    kw = {}
    for k, v in attrs.items():
        if k == "dtype":
            kw[k] = DT[v]
        elif k == "qscheme":
            kw[k] = QS[v]
        elif k in ("observer", "observer_steps"):
            continue
        else:
            kw[k] = v
    return kw


def run_observer(op, attrs, batches):
    obs = OBS[op](**obs_kwargs(attrs))
    for b in batches:
        obs(b)
    scale, zp = obs.calculate_qparams()
    outs = [scale.float().reshape(-1), zp.to(torch.int64).reshape(-1), obs.min_val.float(), obs.max_val.float()]
    if op == "HistogramObserver":
        outs.append(obs.histogram.float())
    return outs


def fam_observers():
    fm = Family("observers")
    G = Gen(5505)
    pt = ["MinMaxObserver", "MovingAverageMinMaxObserver"]
    pc = ["PerChannelMinMaxObserver", "MovingAveragePerChannelMinMaxObserver"]
    combos = [("quint8", "affine", False, None), ("quint8", "affine", True, None), ("qint8", "affine", False, None),
              ("qint8", "affine", True, None), ("qint8", "symmetric", False, None), ("qint8", "symmetric", True, None),
              ("quint8", "symmetric", False, None), ("qint32", "affine", False, None),
              ("qint32", "symmetric", False, None), ("quint8", "affine", False, (0, 7)),
              ("qint8", "symmetric", False, (-4, 3)), ("qint8", "affine", False, (-1, 0)),
              ("quint8", "affine", False, (0, 1)), ("qint8", "affine", False, (-128, 127))]
    batchsets = [
        lambda shp: [G.randn(*shp, scale=3.0), G.randn(*shp, scale=0.5) + 4.0],
        lambda shp: [],
        lambda shp: [torch.zeros(shp)],
        lambda shp: [G.randn(*shp).abs() + 0.5, torch.empty([0] + list(shp[1:])), G.randn(*shp).abs() + 1],
        lambda shp: [-(G.randn(*shp).abs()) - 1e-3],
        lambda shp: [G.randn(*shp, scale=1e-8)],
        lambda shp: [G.randn(*shp, scale=1e6), G.randn(*shp)],
        lambda shp: [torch.full(shp, 2.5)],
    ]
    for op in pt:
        for i, (dt, sym, rr, custom) in enumerate(combos):
            attrs = dict(dtype=dt, qscheme="per_tensor_" + sym, reduce_range=rr)
            if custom:
                attrs.update(quant_min=custom[0], quant_max=custom[1])
            if op.startswith("Moving"):
                attrs["averaging_constant"] = [f32(0.01), f32(0.3), 1.0, f32(0.75)][i % 4]
            shp = [[7], [2, 3, 5], [1], [4, 3]][i % 4]
            bs = batchsets[i % len(batchsets)](shp)
            fm.add(op, attrs, bs, lambda op=op, a=attrs, bs=bs: run_observer(op, a, bs), engine="n/a")
        for bsf in batchsets:
            bs = bsf([3, 4])
            attrs = dict(dtype="quint8", qscheme="per_tensor_affine", reduce_range=False)
            if op.startswith("Moving"):
                attrs["averaging_constant"] = f32(0.2)
            fm.add(op, attrs, bs, lambda op=op, a=attrs, bs=bs: run_observer(op, a, bs), engine="n/a")
        # errors: symmetric quint8 with reduce_range; custom range without 0; qmin > qmax
        for a in [dict(dtype="quint8", qscheme="per_tensor_symmetric", reduce_range=True),
                  dict(dtype="quint8", qscheme="per_tensor_affine", reduce_range=False, quant_min=1, quant_max=9),
                  dict(dtype="qint8", qscheme="per_tensor_affine", reduce_range=False, quant_min=5, quant_max=-5)]:
            bs = [G.randn(5)]
            fm.add(op, a, bs, lambda op=op, a=a, bs=bs: run_observer(op, a, bs), engine="n/a", error=True)
    for op in pc:
        for i, (dt, sym, rr, custom) in enumerate(combos):
            for shp, ax in [([4, 3], 0), ([2, 5, 3], 1), ([2, 3, 4], 2), ([3, 4], -1), ([2, 3, 2], -3), ([1, 6], 0)]:
                if (i + ax) % 3:
                    continue
                attrs = dict(dtype=dt, qscheme="per_channel_" + sym, reduce_range=rr, ch_axis=ax)
                if custom:
                    attrs.update(quant_min=custom[0], quant_max=custom[1])
                if op.startswith("Moving"):
                    attrs["averaging_constant"] = [f32(0.01), f32(0.3), 1.0][i % 3]
                bs = batchsets[(i + ax) % len(batchsets)](shp)
                fm.add(op, attrs, bs, lambda op=op, a=attrs, bs=bs: run_observer(op, a, bs), engine="n/a")
        for a in [dict(dtype="quint8", qscheme="per_channel_symmetric", reduce_range=True, ch_axis=0),
                  dict(dtype="quint8", qscheme="per_channel_affine", reduce_range=False, ch_axis=2)]:
            bs = [G.randn(3, 4)]
            fm.add(op, a, bs, lambda op=op, a=a, bs=bs: run_observer(op, a, bs), engine="n/a", error=True)
    op = "HistogramObserver"
    for i, (dt, sym, rr, bins) in enumerate([("quint8", "affine", False, 64), ("qint8", "symmetric", False, 128),
                                             ("quint8", "affine", True, 256), ("qint8", "affine", False, 2048),
                                             ("quint8", "symmetric", False, 33), ("qint8", "affine", True, 100)]):
        attrs = dict(dtype=dt, qscheme="per_tensor_" + sym, reduce_range=rr, bins=bins)
        if i % 2:
            attrs["upsample_rate"] = [16, 128, 7][i % 3]
        bs = [[G.randn(6, 11, scale=2.0), G.randn(6, 11, scale=0.3) + 2.5, G.randn(6, 11, scale=4.0)],
              [G.randn(37), G.randn(37) * 0.5],
              [torch.full([5], 1.5), G.randn(5)],
              [G.randn(4, 9, scale=3.0)],
              [G.rand(50) * 3 + 1, G.rand(50) * 3 - 2],
              [G.randn(8, 8)]][i]
        fm.add(op, attrs, bs, lambda a=attrs, bs=bs: run_observer(op, a, bs), engine="n/a")
    fm.add(op, dict(dtype="quint8", qscheme="per_tensor_affine", reduce_range=False, bins=16), [],
           lambda: run_observer(op, dict(dtype="quint8", qscheme="per_tensor_affine", reduce_range=False, bins=16), []),
           engine="n/a")
    fm.write()


# ---------------------------------------------------------------------------
# fake_quant
# ---------------------------------------------------------------------------
def fq_pt(x, g, s, zp, lo, hi):
    x = x.clone().requires_grad_(True)
    y = torch.fake_quantize_per_tensor_affine(x, s, zp, lo, hi)
    y.backward(g)
    return [y.detach(), x.grad]


def fq_pc(x, g, sc, zps, axis, lo, hi):
    x = x.clone().requires_grad_(True)
    y = torch.fake_quantize_per_channel_affine(x, torch.tensor(sc, dtype=torch.float32),
                                               torch.tensor(zps, dtype=torch.int32), axis, lo, hi)
    y.backward(g)
    return [y.detach(), x.grad]


def fq_learn(x, g, s, zp, axis, lo, hi, gf):
    x = x.clone().requires_grad_(True)
    s = s.clone().requires_grad_(True)
    zp = zp.clone().requires_grad_(True)
    if axis is None:
        y = torch._fake_quantize_learnable_per_tensor_affine(x, s, zp, lo, hi, gf)
    else:
        y = torch._fake_quantize_learnable_per_channel_affine(x, s, zp, axis, lo, hi, gf)
    y.backward(g)
    return [y.detach(), x.grad, s.grad.reshape(s.shape), zp.grad.reshape(zp.shape)]


def run_fakequantize(attrs, batches):
    kw = obs_kwargs(attrs)
    obs = OBS[attrs["observer"]]
    m = FQ.FakeQuantize(observer=obs, **kw)
    m.train()
    outs = []
    for i, x in enumerate(batches):
        if i == attrs.get("observer_steps", -1):
            m.disable_observer()
        outs.append(m(x).detach())
    return outs + [m.scale.float().reshape(-1).clone(), m.zero_point.to(torch.int64).reshape(-1).clone()]


def fam_fake_quant():
    fm = Family("fake_quant")
    G = Gen(6606)
    for lo, hi in [(0, 255), (-128, 127), (0, 15), (-8, 7), (0, 1), (-2 ** 31, 2 ** 31 - 1), (3, 3)]:
        for shp in [[1], [], [0], [13], [2, 3, 5]]:
            s = G.scale(0.01, 0.2)
            zp = int(G.randint(lo, hi, [1])[0]) if hi - lo < 2 ** 20 else 17
            x = G.randn(*shp, scale=3.0)
            g = G.randn(*shp)
            fm.add("fake_quantize_per_tensor_affine", dict(scale=s, zero_point=zp, quant_min=lo, quant_max=hi),
                   [x, g], lambda x=x, g=g, s=s, zp=zp, lo=lo, hi=hi: fq_pt(x, g, s, zp, lo, hi), engine="n/a")
    # ties and tiny / huge scales
    for s in [0.25, f32(0.1), f32(1e-6), f32(1e4)]:
        x = (torch.arange(-20, 20, dtype=torch.float32) + 0.5) * s
        g = torch.ones(40)
        fm.add("fake_quantize_per_tensor_affine", dict(scale=s, zero_point=0, quant_min=-10, quant_max=10), [x, g],
               lambda x=x, g=g, s=s: fq_pt(x, g, s, 0, -10, 10), engine="n/a")
    xn = torch.tensor([float("inf"), float("-inf"), float("nan"), 3e38, -3e38, 1.0, 0.0, -1.0])
    for lo, hi in [(0, 255), (-128, 127)]:
        g = G.randn(8)
        fm.add("fake_quantize_per_tensor_affine", dict(scale=f32(0.1), zero_point=3, quant_min=lo, quant_max=hi),
               [xn, g], lambda g=g, lo=lo, hi=hi: fq_pt(xn, g, f32(0.1), 3, lo, hi), engine="n/a")
        fm.add("fake_quantize_per_channel_affine", dict(scales=[f32(0.1), 1.0], zero_points=[3, 0], axis=0,
                                                       quant_min=lo, quant_max=hi),
               [xn.reshape(2, 4), g.reshape(2, 4)],
               lambda g=g, lo=lo, hi=hi: fq_pc(xn.reshape(2, 4), g.reshape(2, 4), [f32(0.1), 1.0], [3, 0], 0, lo, hi),
               engine="n/a")
    for a in [dict(scale=0.1, zero_point=-1, quant_min=0, quant_max=255),
              dict(scale=0.1, zero_point=0, quant_min=10, quant_max=5)]:
        x, g = G.randn(4), G.randn(4)
        fm.add("fake_quantize_per_tensor_affine", a, [x, g],
               lambda x=x, g=g, a=a: fq_pt(x, g, a["scale"], a["zero_point"], a["quant_min"], a["quant_max"]),
               engine="n/a", error=True)
    for shp in [[3, 4], [2, 3, 5], [1, 1], [2, 0, 3], [3, 2, 2, 2]]:
        for axis in range(len(shp)):
            c = shp[axis]
            lo, hi = [(0, 255), (-128, 127), (0, 15)][axis % 3]
            sc = [G.scale(0.01, 0.3) for _ in range(c)]
            zps = [int(v) for v in G.randint(lo, hi, [c])]
            x, g = G.randn(*shp, scale=2.0), G.randn(*shp)
            fm.add("fake_quantize_per_channel_affine", dict(scales=sc, zero_points=zps, axis=axis, quant_min=lo,
                                                           quant_max=hi), [x, g],
                   lambda x=x, g=g, sc=sc, zps=zps, ax=axis, lo=lo, hi=hi: fq_pc(x, g, sc, zps, ax, lo, hi),
                   engine="n/a")
    for axis, zps, lo, hi in [(-1, [0, 0, 0, 0], 0, 255), (2, [0] * 4, 0, 255), (1, [0, 300, 0, 0], 0, 255),
                              (1, [0] * 4, 9, 3)]:
        x, g = G.randn(3, 4), G.randn(3, 4)
        sc = [0.1] * 4
        fm.add("fake_quantize_per_channel_affine", dict(scales=sc, zero_points=zps, axis=axis, quant_min=lo,
                                                       quant_max=hi), [x, g],
               lambda x=x, g=g, zps=zps, ax=axis, lo=lo, hi=hi: fq_pc(x, g, [0.1] * 4, zps, ax, lo, hi),
               engine="n/a", error=True)
    # learnable
    for lo, hi in [(0, 255), (-128, 127), (0, 7)]:
        for gf in [1.0, 0.25]:
            for shp in [[1], [3, 7], [11]]:
                x, g = G.randn(*shp, scale=2.0), G.randn(*shp)
                s = torch.tensor([G.scale(0.02, 0.2)])
                zp = torch.tensor([float(int(G.randint(lo, hi, [1])[0])) + [0.0, 0.3, -0.4][len(shp) % 3]])
                fm.add("fake_quantize_learnable_per_tensor_affine", dict(quant_min=lo, quant_max=hi, grad_factor=gf),
                       [x, g, s, zp], lambda x=x, g=g, s=s, zp=zp, lo=lo, hi=hi, gf=gf:
                       fq_learn(x, g, s, zp, None, lo, hi, gf), engine="n/a")
            for shp, axis in [([3, 5], 0), ([2, 4, 3], 1), ([2, 3, 4], 2), ([1, 6], 1)]:
                c = shp[axis]
                x, g = G.randn(*shp, scale=2.0), G.randn(*shp)
                s = torch.tensor([G.scale(0.02, 0.2) for _ in range(c)])
                zp = torch.tensor([float(int(v)) for v in G.randint(lo, hi, [c])])
                fm.add("fake_quantize_learnable_per_channel_affine",
                       dict(axis=axis, quant_min=lo, quant_max=hi, grad_factor=gf), [x, g, s, zp],
                       lambda x=x, g=g, s=s, zp=zp, ax=axis, lo=lo, hi=hi, gf=gf:
                       fq_learn(x, g, s, zp, ax, lo, hi, gf), engine="n/a")
    # FakeQuantize modules
    cfgs = [
        dict(observer="MinMaxObserver", dtype="quint8", qscheme="per_tensor_affine", reduce_range=False,
             quant_min=0, quant_max=127),
        dict(observer="MinMaxObserver", dtype="qint8", qscheme="per_tensor_symmetric", reduce_range=True,
             quant_min=-128, quant_max=127),
        dict(observer="MinMaxObserver", dtype="quint8", qscheme="per_tensor_affine", reduce_range=False,
             quant_min=0, quant_max=15, observer_steps=1),
        dict(observer="MovingAverageMinMaxObserver", dtype="quint8", qscheme="per_tensor_affine", reduce_range=True,
             quant_min=0, quant_max=255, averaging_constant=f32(0.25), observer_steps=2),
        dict(observer="MovingAverageMinMaxObserver", dtype="qint8", qscheme="per_tensor_affine", reduce_range=False,
             quant_min=-8, quant_max=7, averaging_constant=1.0),
        dict(observer="MovingAverageMinMaxObserver", dtype="qint8", qscheme="per_tensor_symmetric",
             reduce_range=False, quant_min=-128, quant_max=127, observer_steps=0),
        dict(observer="PerChannelMinMaxObserver", dtype="qint8", qscheme="per_channel_symmetric", reduce_range=False,
             quant_min=-128, quant_max=127, ch_axis=1),
        dict(observer="PerChannelMinMaxObserver", dtype="quint8", qscheme="per_channel_affine", reduce_range=True,
             quant_min=0, quant_max=255, ch_axis=-1),
        dict(observer="MovingAveragePerChannelMinMaxObserver", dtype="qint8", qscheme="per_channel_affine",
             reduce_range=False, quant_min=-128, quant_max=127, ch_axis=2, averaging_constant=f32(0.5)),
        dict(observer="MovingAveragePerChannelMinMaxObserver", dtype="quint8", qscheme="per_channel_affine",
             reduce_range=False, quant_min=0, quant_max=255, ch_axis=0, averaging_constant=f32(0.1),
             observer_steps=1),
    ]
    for a in cfgs:
        shp = [2, 3, 4]
        bs = [G.randn(*shp, scale=2.0), G.randn(*shp) + 1.0, G.randn(*shp, scale=3.0)]
        # FakeQuantize rejects a negative ch_axis ("`axis` must be between 0 and ...").
        fm.add("FakeQuantize", a, bs, lambda a=a, bs=bs: run_fakequantize(a, bs), engine="n/a",
               error=a.get("ch_axis", 0) < 0)
    fm.write()


# ---------------------------------------------------------------------------
# linear and conv
# ---------------------------------------------------------------------------
def wq(G, shape, per_channel, axis=0, zp_nonzero=False):
    if per_channel:
        c = shape[axis]
        sc = torch.tensor([G.scale(0.002, 0.02) for _ in range(c)], dtype=torch.float64)
        zps = G.randint(-3, 3, [c]) if zp_nonzero else torch.zeros(c, dtype=torch.int64)
        ints = G.randint(-128, 127, shape).to(torch.int8)
        return torch._make_per_channel_quantized_tensor(ints, sc, zps, axis)
    return G.q(shape, "qint8", scale=G.scale(0.002, 0.02), zp=(int(G.randint(-5, 5, [1])[0]) or 1) if zp_nonzero else 0)


def out_qparams(G, x, w, b, fn, relu):
    """Output qparams that roughly cover the float result."""
    y = fn(x.dequantize(), w.dequantize(), b)
    lo, hi = float(y.min()) if y.numel() else -1.0, float(y.max()) if y.numel() else 1.0
    if relu:
        lo = 0.0
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    s = f32(max((hi - lo) / 255.0, 1e-4) * G.uniform(0.6, 1.1))
    zp = int(min(255, max(0, round(-lo / s))))
    return s, zp


def fam_linear():
    fm = Family("linear")
    G = Gen(7707)
    for op in ["linear", "linear_relu"]:
        relu = op == "linear_relu"
        for xs, n, pc, bias, wzp in [([1, 1], 1, False, True, False), ([3, 7], 5, False, True, False),
                                     ([2, 3, 11], 13, True, False, False), ([0, 4], 3, False, True, False),
                                     ([5, 17], 1, True, True, False), ([4, 9], 6, False, True, True),
                                     ([2, 5], 3, True, True, True), ([1, 2, 2, 3], 2, False, False, False),
                                     ([7, 31], 19, True, True, False)]:
            k = xs[-1]
            x = G.q(xs, "quint8", zp=G.zp("quint8"))
            w = wq(G, [n, k], pc, zp_nonzero=wzp)
            b = G.randn(n) if bias else None
            s, zp = out_qparams(G, x, w, b, F.linear, relu)

            def call(x=x, w=w, b=b, s=s, zp=zp, relu=relu):
                p = Q.linear_prepack(w, b)
                return (Q.linear_relu if relu else Q.linear)(x, p, s, zp)

            def ref(outs, x=x, w=w, b=b, relu=relu):
                y = F.linear(x.dequantize().double(), w.dequantize().double(), None if b is None else b.double())
                if relu:
                    y = y.clamp(min=0)
                return qround(y, outs[0].q_scale(), outs[0].q_zero_point(), "quint8")

            fm.add(op, dict(scale=s, zero_point=zp), [x, w, b], call, ref=ref, rule="GEMM",
                   engine="qnnpack" if wzp else "onednn")
        # extreme output qparams: saturation at both ends, zp at the ends
        for s, zp in [(f32(1e-4), 0), (f32(1e-4), 255), (f32(10.0), 128), (f32(0.5), 0)]:
            x = G.q([3, 8], "quint8")
            w = wq(G, [4, 8], False)
            b = G.randn(4)

            def call(x=x, w=w, b=b, s=s, zp=zp, relu=relu):
                return (Q.linear_relu if relu else Q.linear)(x, Q.linear_prepack(w, b), s, zp)

            def ref(outs, x=x, w=w, b=b, relu=relu):
                y = F.linear(x.dequantize().double(), w.dequantize().double(), b.double())
                if relu:
                    y = y.clamp(min=0)
                return qround(y, outs[0].q_scale(), outs[0].q_zero_point(), "quint8")

            fm.add(op, dict(scale=s, zero_point=zp), [x, w, b], call, ref=ref, rule="GEMM")
    # errors: mismatched K, bias size
    x, w = G.q([2, 5], "quint8"), wq(G, [3, 4], False)
    fm.add("linear", dict(scale=0.1, zero_point=0), [x, w, None],
           lambda: Q.linear(x, Q.linear_prepack(w, None), 0.1, 0), engine="both", error=True)
    x, w = G.q([2, 4], "quint8"), wq(G, [3, 4], False)
    fm.add("linear", dict(scale=0.1, zero_point=0), [x, w, G.randn(5)],
           lambda: Q.linear(x, Q.linear_prepack(w, G.randn(5)), 0.1, 0), engine="both", error=True)
    fm.write()


def conv_ref(outs, fn, x, w, b, relu, **kw):
    y = fn(x.dequantize().double(), w.dequantize().double(), None if b is None else b.double(), **kw)
    if relu:
        y = y.clamp(min=0)
    return qround(y, outs[0].q_scale(), outs[0].q_zero_point(), "quint8")


def fam_conv():
    fm = Family("conv")
    G = Gen(8808)
    specs = {
        1: (F.conv1d, {"conv": Q.conv1d, "relu": Q.conv1d_relu, "pack": Q.conv1d_prepack}),
        2: (F.conv2d, {"conv": Q.conv2d, "relu": Q.conv2d_relu, "pack": Q.conv2d_prepack}),
        3: (F.conv3d, {"conv": Q.conv3d, "relu": Q.conv3d_relu, "pack": Q.conv3d_prepack}),
    }
    # (nd, N, C, spatial, O, k, stride, padding, dilation, groups, per_channel, bias, wzp)
    cfgs = [
        (1, 1, 1, [1], 1, [1], [1], [0], [1], 1, False, True, False),
        (1, 2, 3, [13], 4, [3], [2], [1], [2], 1, True, True, False),
        (1, 1, 6, [11], 9, [5], [3], [2], [1], 3, False, False, False),
        (1, 0, 2, [7], 2, [3], [1], [1], [1], 1, False, True, False),
        (1, 1, 4, [9], 4, [3], [1], [0], [3], 4, True, True, False),
        (1, 2, 2, [8], 3, [2], [1], [1], [1], 1, False, True, True),
        (2, 1, 3, [7, 5], 5, [3, 2], [2, 1], [1, 0], [1, 2], 1, True, True, False),
        (2, 2, 4, [6, 6], 6, [3, 3], [1, 1], [2, 2], [2, 2], 2, False, True, False),
        (2, 1, 5, [5, 7], 5, [1, 3], [1, 3], [0, 1], [1, 1], 5, True, False, False),
        (2, 1, 1, [1, 1], 1, [1, 1], [1, 1], [0, 0], [1, 1], 1, False, True, False),
        (2, 1, 3, [11, 3], 7, [5, 3], [3, 2], [2, 1], [1, 1], 1, False, True, False),
        (2, 1, 2, [4, 4], 3, [3, 3], [1, 1], [1, 1], [1, 1], 1, True, True, True),
        (2, 0, 3, [5, 5], 2, [3, 3], [1, 1], [1, 1], [1, 1], 1, False, True, False),
        (2, 3, 6, [3, 4], 4, [2, 2], [2, 2], [1, 1], [1, 1], 2, True, True, False),
        (3, 1, 2, [3, 4, 5], 3, [2, 2, 3], [1, 2, 1], [1, 0, 1], [1, 1, 2], 1, True, True, False),
        (3, 2, 4, [5, 3, 3], 4, [3, 1, 2], [2, 1, 1], [1, 0, 1], [1, 1, 1], 2, False, False, False),
        (3, 1, 3, [2, 2, 2], 3, [1, 1, 1], [1, 1, 1], [0, 0, 0], [1, 1, 1], 3, False, True, False),
    ]
    for nd, N, C, sp, Oc, k, st, pd, dl, gr, pc, bias, wzp in cfgs:
        fn, qops = specs[nd]
        for relu in [False, True]:
            op = "conv%dd%s" % (nd, "_relu" if relu else "")
            x = G.q([N, C] + sp, "quint8")
            w = wq(G, [Oc, C // gr] + k, pc, zp_nonzero=wzp)
            b = G.randn(Oc) if bias else None
            kw = dict(stride=st, padding=pd, dilation=dl, groups=gr)
            s, zp = out_qparams(G, x, w, b, lambda a, c, d, kw=kw: fn(a, c, d, **kw), relu)

            def call(x=x, w=w, b=b, s=s, zp=zp, relu=relu, qops=qops, st=st, pd=pd, dl=dl, gr=gr):
                p = qops["pack"](w, b, st, pd, dl, gr)
                return (qops["relu"] if relu else qops["conv"])(x, p, s, zp)

            fm.add(op, dict(stride=st, padding=pd, dilation=dl, groups=gr, scale=s, zero_point=zp), [x, w, b], call,
                   ref=lambda outs, x=x, w=w, b=b, relu=relu, fn=fn, kw=kw: conv_ref(outs, fn, x, w, b, relu, **kw),
                   rule="GEMM", engine="qnnpack" if wzp else "onednn")
    # errors: channel mismatch, groups not dividing
    x, w = G.q([1, 3, 5, 5], "quint8"), wq(G, [2, 2, 3, 3], False)
    fm.add("conv2d", dict(stride=[1, 1], padding=[0, 0], dilation=[1, 1], groups=1, scale=0.1, zero_point=0),
           [x, w, None], lambda: Q.conv2d(x, Q.conv2d_prepack(w, None, [1, 1], [0, 0], [1, 1], 1), 0.1, 0),
           engine="both", error=True)
    x, w = G.q([1, 4, 7], "quint8"), wq(G, [3, 2, 3], False)
    fm.add("conv1d", dict(stride=[1], padding=[0], dilation=[1], groups=2, scale=0.1, zero_point=0),
           [x, w, None], lambda: Q.conv1d(x, Q.conv1d_prepack(w, None, [1], [0], [1], 2), 0.1, 0),
           engine="both", error=True)
    x, w = G.q([1, 2, 2, 2], "quint8"), wq(G, [2, 2, 3, 3], False)
    fm.add("conv2d", dict(stride=[1, 1], padding=[0, 0], dilation=[1, 1], groups=1, scale=0.1, zero_point=0),
           [x, w, None], lambda: Q.conv2d(x, Q.conv2d_prepack(w, None, [1, 1], [0, 0], [1, 1], 1), 0.1, 0),
           engine="both", error=True)
    # transposed
    tspecs = {1: (F.conv_transpose1d, Q.conv_transpose1d, Q.conv_transpose1d_prepack),
              2: (F.conv_transpose2d, Q.conv_transpose2d, Q.conv_transpose2d_prepack)}
    tcfgs = [
        (1, 1, 3, [7], 4, [3], [2], [1], [0], [1], 1, False, True),
        (1, 2, 4, [5], 6, [4], [3], [2], [2], [1], 2, False, False),
        (1, 1, 2, [6], 2, [3], [1], [0], [0], [2], 1, True, True),
        (1, 1, 1, [1], 1, [1], [1], [0], [0], [1], 1, False, True),
        (2, 1, 3, [4, 5], 5, [3, 2], [2, 1], [1, 0], [0, 0], [1, 1], 1, False, True),
        (2, 2, 4, [3, 3], 4, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], 2, False, True),
        (2, 1, 2, [5, 4], 3, [2, 3], [1, 2], [0, 1], [0, 1], [2, 1], 1, True, False),
        (2, 1, 6, [2, 3], 3, [3, 3], [3, 3], [1, 2], [2, 0], [1, 1], 3, False, True),
        (2, 0, 2, [3, 3], 2, [2, 2], [1, 1], [0, 0], [0, 0], [1, 1], 1, False, True),
    ]
    for nd, N, C, sp, Oc, k, st, pd, op_, dl, gr, pc, bias in tcfgs:
        fn, qconv, qpack = tspecs[nd]
        op = "conv_transpose%dd" % nd
        x = G.q([N, C] + sp, "quint8")
        w = wq(G, [C, Oc // gr] + k, pc, axis=1)
        b = G.randn(Oc) if bias else None
        kw = dict(stride=st, padding=pd, output_padding=op_, groups=gr, dilation=dl)
        s, zp = out_qparams(G, x, w, b, lambda a, c, d, kw=kw: fn(a, c, d, **kw), False)
        eng = "qnnpack" if (pc or any(op_)) else "onednn"

        def call(x=x, w=w, b=b, s=s, zp=zp, qconv=qconv, qpack=qpack, st=st, pd=pd, op_=op_, dl=dl, gr=gr):
            return qconv(x, qpack(w, b, st, pd, op_, dl, gr), s, zp)

        fm.add(op, dict(stride=st, padding=pd, dilation=dl, groups=gr, output_padding=op_, scale=s, zero_point=zp),
               [x, w, b], call, engine=eng,
               ref=lambda outs, x=x, w=w, b=b, fn=fn, kw=kw: conv_ref(outs, fn, x, w, b, False, **kw), rule="GEMM")
    fm.write()


# ---------------------------------------------------------------------------
# activation
# ---------------------------------------------------------------------------
def act_ref(f):
    def ref(outs, x, f=f):
        dt = NAME[outs[0].dtype]
        return qround(f(x.dequantize().double()), outs[0].q_scale(), outs[0].q_zero_point(), dt)
    return ref


def fam_activation():
    fm = Family("activation")
    G = Gen(9909)
    xs = [G.q([2, 3, 5], "quint8"), G.q([13], "qint8"), G.q([1], "quint8"), G.q([], "qint8"), G.q([0, 3], "quint8"),
          G.q([3, 7], "quint8", zp=0), G.q([3, 7], "quint8", zp=255), G.q([4, 5], "qint8", zp=-128),
          G.q([4, 5], "qint8", zp=127), G.q([2, 9], "quint8", scale=f32(1e-4)), G.q([2, 9], "qint8", scale=f32(2.0))]
    for i, x in enumerate(xs):
        def A(op, attrs, fn, f, rule):
            fm.add(op, attrs, [x], fn, ref=lambda outs, x=x: act_ref(f)(outs, x), rule=rule)
        A("relu", {}, lambda x=x: torch.relu(x), lambda t: t.clamp(min=0), "EXACT")
        A("relu6", {}, lambda x=x: Q.relu6(x, False), lambda t: t.clamp(0, 6), "EXACT")
        lo, hi = [(-0.5, 0.5), (0.1, 0.3), (-2.0, -1.0), (-1.0, 1.0)][i % 4]
        lo, hi = f32(lo), f32(hi)
        A("hardtanh", dict(min_val=lo, max_val=hi), lambda x=x, lo=lo, hi=hi: qF.hardtanh(x, lo, hi),
          lambda t, lo=lo, hi=hi: t.clamp(lo, hi), "EXACT")
        s, zp = G.scale(0.005, 0.03), G.zp(NAME[x.dtype])
        for alpha in [1.0, f32(0.37)]:
            A("elu", dict(scale=s, zero_point=zp, alpha=alpha), lambda x=x, s=s, zp=zp, a=alpha: qF.elu(x, s, zp, a),
              lambda t, a=alpha: F.elu(t, a), "ELEMWISE")
        for ns in [f32(0.01), f32(0.2), f32(-0.5), 0.0, f32(1.5)]:
            A("leaky_relu", dict(negative_slope=ns), lambda x=x, ns=ns: qF.leaky_relu(x, ns),
              lambda t, ns=ns: F.leaky_relu(t, ns), "ELEMWISE")
        A("leaky_relu", dict(negative_slope=f32(0.1), scale=s, zero_point=zp),
          lambda x=x, s=s, zp=zp: qF.leaky_relu(x, f32(0.1), False, s, zp),
          lambda t: F.leaky_relu(t, f32(0.1)), "ELEMWISE")
        A("hardsigmoid", {}, lambda x=x: qF.hardsigmoid(x), F.hardsigmoid, "ELEMWISE")
        A("hardswish", dict(scale=s, zero_point=zp), lambda x=x, s=s, zp=zp: qF.hardswish(x, s, zp), F.hardswish,
          "ELEMWISE")
        A("sigmoid", {}, lambda x=x: torch.sigmoid(x), torch.sigmoid, "ELEMWISE")
        A("tanh", {}, lambda x=x: torch.tanh(x), torch.tanh, "ELEMWISE")
    fm.write()


# ---------------------------------------------------------------------------
# pool
# ---------------------------------------------------------------------------
def fam_pool():
    fm = Family("pool")
    G = Gen(10110)

    def same_q(outs, y64):
        o = outs[0]
        return qround(y64, o.q_scale(), o.q_zero_point(), NAME[o.dtype])

    inputs = [G.q([1, 2, 7, 5], "quint8"), G.q([2, 3, 6, 6], "qint8"), G.q([1, 1, 11, 13], "quint8", zp=0),
              G.q([1, 1, 1, 1], "quint8"), G.q([0, 2, 5, 5], "quint8")]
    mp = [dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True),
          dict(kernel_size=[2, 3], stride=[2, 1], padding=[1, 0], dilation=[2, 1], ceil_mode=False),
          dict(kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=True),
          dict(kernel_size=3, stride=3, padding=1, dilation=2, ceil_mode=True),
          dict(kernel_size=1, stride=1, padding=0, dilation=1, ceil_mode=False),
          dict(kernel_size=[3, 1], stride=[1, 2], padding=[1, 0], dilation=1, ceil_mode=True)]
    for x in inputs:
        for a in mp:
            def call(x=x, a=a):
                return F.max_pool2d(x, a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"])

            def ref(outs, x=x, a=a):
                y = F.max_pool2d(x.dequantize().double(), a["kernel_size"], a["stride"], a["padding"], a["dilation"],
                                 a["ceil_mode"])
                return same_q(outs, y)
            fm.add("max_pool2d", a, [x], call, ref=ref if x.numel() else None, rule="EXACT")
    fm.add("max_pool2d", dict(kernel_size=3, stride=1, padding=2, dilation=1, ceil_mode=False), [inputs[0]],
           lambda: F.max_pool2d(inputs[0], 3, 1, 2, 1, False), engine="both", error=True)
    fm.add("max_pool2d", dict(kernel_size=3, stride=1, padding=0, dilation=1, ceil_mode=False), [inputs[3]],
           lambda: F.max_pool2d(inputs[3], 3, 1, 0, 1, False), engine="both", error=True)
    ap = [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=None),
          dict(kernel_size=[2, 3], stride=[1, 2], padding=[1, 1], ceil_mode=False, count_include_pad=True,
               divisor_override=None),
          dict(kernel_size=2, stride=None, padding=0, ceil_mode=True, count_include_pad=True, divisor_override=None),
          dict(kernel_size=3, stride=1, padding=1, ceil_mode=False, count_include_pad=False, divisor_override=None),
          dict(kernel_size=2, stride=2, padding=1, ceil_mode=True, count_include_pad=True, divisor_override=7),
          dict(kernel_size=[3, 2], stride=[2, 2], padding=[1, 0], ceil_mode=False, count_include_pad=False,
               divisor_override=2),
          dict(kernel_size=1, stride=1, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)]
    for x in inputs:
        for a in ap:
            def call(x=x, a=a):
                return F.avg_pool2d(x, a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"],
                                    a["count_include_pad"], a["divisor_override"])

            def ref(outs, x=x, a=a):
                y = F.avg_pool2d(x.dequantize().double(), a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"],
                                 a["count_include_pad"], a["divisor_override"])
                return same_q(outs, y)
            fm.add("avg_pool2d", a, [x], call, ref=ref, rule="AVERAGE")
    x3s = [G.q([1, 2, 5, 4, 3], "quint8"), G.q([2, 1, 3, 3, 3], "qint8"), G.q([1, 1, 1, 1, 1], "quint8")]
    ap3 = [dict(kernel_size=2, stride=1, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=None),
           dict(kernel_size=[3, 2, 1], stride=[2, 1, 1], padding=[1, 1, 0], ceil_mode=False, count_include_pad=True,
                divisor_override=None),
           dict(kernel_size=2, stride=2, padding=1, ceil_mode=True, count_include_pad=True, divisor_override=3),
           dict(kernel_size=1, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None)]
    for x in x3s:
        for a in ap3:
            def call(x=x, a=a):
                return F.avg_pool3d(x, a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"],
                                    a["count_include_pad"], a["divisor_override"])

            def ref(outs, x=x, a=a):
                y = F.avg_pool3d(x.dequantize().double(), a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"],
                                 a["count_include_pad"], a["divisor_override"])
                return same_q(outs, y)
            fm.add("avg_pool3d", a, [x], call, ref=ref, rule="AVERAGE")
    for x in inputs[:4]:
        h, w = x.shape[2], x.shape[3]
        for osz in [[1, 1], [h, w], [3, 2], [h + 2, w + 1], [1, w], [5, 5]]:
            fm.add("adaptive_avg_pool2d", dict(output_size=osz), [x],
                   lambda x=x, osz=osz: F.adaptive_avg_pool2d(x, osz),
                   ref=lambda outs, x=x, osz=osz: same_q(outs, F.adaptive_avg_pool2d(x.dequantize().double(), osz)),
                   rule="AVERAGE")
    for x in inputs[:4]:
        h, w = x.shape[2], x.shape[3]
        for a in [dict(size=[2 * h + 1, w + 3], mode="nearest"), dict(size=[max(h - 2, 1), 1], mode="nearest"),
                  dict(scale_factor=1.5, mode="nearest"), dict(scale_factor=0.7, mode="nearest"),
                  dict(size=[h + 3, 2 * w], mode="bilinear", align_corners=False),
                  dict(size=[h + 3, 2 * w], mode="bilinear", align_corners=True),
                  dict(size=[1, max(w - 1, 1)], mode="bilinear", align_corners=True),
                  dict(size=[1, 1], mode="bilinear", align_corners=False),
                  dict(scale_factor=2.5, mode="bilinear", align_corners=False),
                  dict(scale_factor=1.75, mode="bilinear", align_corners=True),
                  dict(scale_factor=0.6, mode="bilinear", align_corners=False)]:
            kw = dict(a)

            def call(x=x, kw=kw):
                return F.interpolate(x, **kw)

            def ref(outs, x=x, kw=kw):
                return same_q(outs, F.interpolate(x.dequantize().double(), **kw))
            fm.add("interpolate", a, [x], call, ref=ref, rule="AVERAGE")
    fm.write()


# ---------------------------------------------------------------------------
# binary
# ---------------------------------------------------------------------------
def fam_binary():
    fm = Family("binary")
    G = Gen(11211)
    pairs = [([2, 3, 4], [2, 3, 4], "quint8"), ([3, 1], [1, 5], "quint8"), ([4], [2, 3, 4], "qint8"),
             ([], [3, 2], "quint8"), ([1], [1], "qint8"), ([0, 3], [1, 3], "quint8"), ([2, 1, 3], [4, 1], "qint8"),
             ([5, 7], [5, 7], "qint32")]
    fns = {"add": (Q.add, lambda a, b: a + b, False), "add_relu": (Q.add_relu, lambda a, b: a + b, True),
           "mul": (Q.mul, lambda a, b: a * b, False), "mul_relu": (Q.mul_relu, lambda a, b: a * b, True)}
    for op, (qf, ff, relu) in fns.items():
        for sa, sb, dt in pairs:
            a, b = G.q(sa, dt), G.q(sb, dt)
            if dt == "qint32":
                a, b = G.q(sa, dt, lo=-2000, hi=2000, scale=f32(1e-3)), G.q(sb, dt, lo=-2000, hi=2000, scale=f32(1e-3))
            y = ff(a.dequantize(), b.dequantize())
            lo, hi = min(float(y.min()) if y.numel() else 0, 0), max(float(y.max()) if y.numel() else 1, 0)
            s = f32(max((hi - lo) / 250, 1e-4))
            zp = int(RANGE[dt][0] + round(-lo / s)) if dt != "qint32" else 3
            zp = max(min(zp, RANGE[dt][1]), RANGE[dt][0])

            def ref(outs, a=a, b=b, ff=ff, relu=relu, dt=dt):
                y = ff(a.dequantize().double(), b.dequantize().double())
                if relu:
                    y = y.clamp(min=0)
                return qround(y, outs[0].q_scale(), outs[0].q_zero_point(), dt)
            fm.add(op, dict(scale=s, zero_point=zp), [a, b], lambda a=a, b=b, s=s, zp=zp, qf=qf: qf(a, b, s, zp),
                   ref=ref, rule="ELEMWISE")
        # saturating output qparams
        a, b = G.q([3, 4], "quint8"), G.q([3, 4], "quint8")
        fm.add(op, dict(scale=f32(1e-3), zero_point=255), [a, b], lambda a=a, b=b, qf=qf: qf(a, b, f32(1e-3), 255),
               ref=lambda outs, a=a, b=b, ff=ff, relu=relu: qround(
                   ff(a.dequantize().double(), b.dequantize().double()).clamp(min=0 if relu else -1e300),
                   outs[0].q_scale(), outs[0].q_zero_point(), "quint8"), rule="ELEMWISE")
        a, b = G.q([3], "quint8"), G.q([4], "quint8")
        fm.add(op, dict(scale=0.1, zero_point=0), [a, b], lambda a=a, b=b, qf=qf: qf(a, b, 0.1, 0), engine="both",
               error=True)
    for op, qf, ff in [("add_scalar", Q.add_scalar, lambda a, o: a + o), ("mul_scalar", Q.mul_scalar, lambda a, o: a * o)]:
        xs = [G.q([2, 5], "quint8"), G.q([7], "qint8"), G.q([], "quint8"), G.q([3, 3], "quint8", zp=0),
              G.q([3, 3], "quint8", zp=255), G.q([2, 2], "qint8", zp=-128), G.q([0], "quint8")]
        for x in xs:
            for other in [f32(0.37), f32(-1.3), 0.0, f32(-0.01), 3.0, f32(1e-6), f32(100.0)]:
                def ref(outs, x=x, other=other, ff=ff):
                    return qround(ff(x.dequantize().double(), other), outs[0].q_scale(), outs[0].q_zero_point(),
                                  NAME[x.dtype])
                fm.add(op, dict(other=other), [x], lambda x=x, o=other, qf=qf: qf(x, o), ref=ref, rule="ELEMWISE")
    for shapes, dim, dt in [([[2, 3], [4, 3]], 0, "quint8"), ([[2, 3], [2, 1], [2, 5]], -1, "qint8"),
                            ([[1, 2, 3]], 1, "quint8"), ([[2, 0, 3], [2, 2, 3]], 1, "quint8"),
                            ([[3, 2, 2], [3, 2, 1]], -1, "quint8"), ([[1], [1], [1]], 0, "qint8"),
                            ([[2, 2], [2, 2]], -2, "qint32")]:
        qs = [G.q(s, dt) for s in shapes]
        s = G.scale(0.01, 0.05)
        zp = G.zp(dt)

        def ref(outs, qs=qs, dim=dim, dt=dt):
            return qround(torch.cat([q.dequantize().double() for q in qs], dim), outs[0].q_scale(),
                          outs[0].q_zero_point(), dt)
        fm.add("cat", dict(dim=dim, scale=s, zero_point=zp), qs, lambda qs=qs, dim=dim, s=s, zp=zp: Q.cat(qs, dim, s, zp),
               ref=ref, rule="ELEMWISE")
    qs = [G.q([2, 3], "quint8"), G.q([3, 3], "quint8")]
    fm.add("cat", dict(dim=1, scale=0.1, zero_point=0), qs, lambda qs=qs: Q.cat(qs, 1, 0.1, 0), engine="both",
           error=True)
    qs = [G.q([2, 3], "quint8"), G.q([2, 3], "quint8")]
    fm.add("cat", dict(dim=2, scale=0.1, zero_point=0), qs, lambda qs=qs: Q.cat(qs, 2, 0.1, 0), engine="both",
           error=True)
    fm.write()


# ---------------------------------------------------------------------------
# norm
# ---------------------------------------------------------------------------
def fam_norm():
    fm = Family("norm")
    G = Gen(12312)

    def oq(y, dt):
        lo, hi = min(float(y.min()), 0) if y.numel() else -1, max(float(y.max()), 0) if y.numel() else 1
        s = f32(max((hi - lo) / 250, 1e-4))
        zp = max(min(int(RANGE[dt][0] + round(-lo / s)), RANGE[dt][1]), RANGE[dt][0])
        return s, zp

    def refq(outs, y):
        return qround(y, outs[0].q_scale(), outs[0].q_zero_point(), NAME[outs[0].dtype])

    for op, shp, dt, eps in [("batch_norm1d", [3, 4], "quint8", 1e-5), ("batch_norm1d", [2, 5, 7], "qint8", 1e-3),
                             ("batch_norm1d", [1, 1], "quint8", f32(0.5)), ("batch_norm2d", [2, 3, 4, 5], "qint8", 1e-5),
                             ("batch_norm2d", [1, 7, 1, 1], "quint8", 1e-5), ("batch_norm3d", [1, 2, 3, 2, 3], "qint8", 1e-5),
                             ("batch_norm2d", [0, 3, 2, 2], "quint8", 1e-5), ("batch_norm1d", [2, 3, 0], "qint8", 1e-5),
                             ("batch_norm2d", [1, 3, 0, 2], "quint8", 1e-5), ("batch_norm3d", [0, 2, 1, 2, 1], "quint8", 1e-5)]:
        eps = f32(eps)
        x = G.q(shp, dt)
        c = shp[1]
        w, b, m, v = G.randn(c), G.randn(c), G.randn(c), G.rand(c) + 0.1
        y64 = F.batch_norm(x.dequantize().double(), m.double(), v.double(), w.double(), b.double(), False, 0.0, eps)
        s, zp = oq(y64, dt)
        fm.add(op, dict(eps=eps, scale=s, zero_point=zp), [x, w, b, m, v],
               lambda x=x, w=w, b=b, m=m, v=v, eps=eps, s=s, zp=zp, op=op: getattr(Q, op)(x, w, b, m, v, eps, s, zp),
               ref=lambda outs, y64=y64: refq(outs, y64), rule="NORM")
    for shp, ns, dt, wb in [([2, 3, 8], [8], "quint8", True), ([3, 4, 5], [4, 5], "qint8", True),
                            ([5, 7], [7], "quint8", False), ([2, 2, 3, 2], [3, 2], "quint8", True),
                            ([4, 1], [1], "quint8", True), ([2, 6], [6], "qint8", False), ([0, 5], [5], "quint8", True)]:
        x = G.q(shp, dt)
        w = G.randn(*ns) if wb else None
        b = G.randn(*ns) if wb else None
        eps = f32(1e-5)
        y64 = F.layer_norm(x.dequantize().double(), ns, None if w is None else w.double(),
                           None if b is None else b.double(), eps)
        s, zp = oq(y64, dt)
        fm.add("layer_norm", dict(normalized_shape=ns, eps=eps, scale=s, zero_point=zp), [x, w, b],
               lambda x=x, ns=ns, w=w, b=b, eps=eps, s=s, zp=zp: Q.layer_norm(x, ns, w, b, eps, s, zp),
               ref=lambda outs, y64=y64: refq(outs, y64), rule="NORM")
    for shp, g, dt in [([2, 6, 3, 3], 3, "quint8"), ([1, 4, 5], 1, "qint8"), ([2, 4, 2, 2], 4, "quint8"),
                       ([1, 6, 2, 1, 2], 2, "quint8"), ([3, 5], 5, "quint8"), ([0, 4, 3], 2, "quint8")]:
        x = G.q(shp, dt)
        c = shp[1]
        w, b = G.randn(c), G.randn(c)
        eps = f32(1e-5)
        y64 = F.group_norm(x.dequantize().double(), g, w.double(), b.double(), eps)
        s, zp = oq(y64, dt)
        fm.add("group_norm", dict(num_groups=g, eps=eps, scale=s, zero_point=zp), [x, w, b],
               lambda x=x, g=g, w=w, b=b, eps=eps, s=s, zp=zp: Q.group_norm(x, g, w, b, eps, s, zp),
               ref=lambda outs, y64=y64: refq(outs, y64), rule="NORM")
    x = G.q([1, 6, 2, 2], "quint8")
    w, b = G.randn(6), G.randn(6)
    fm.add("group_norm", dict(num_groups=4, eps=1e-5, scale=0.1, zero_point=0), [x, w, b],
           lambda: Q.group_norm(x, 4, w, b, 1e-5, 0.1, 0), engine="both", error=True)
    for shp, dt in [([2, 3, 7], "quint8"), ([1, 2, 3, 4], "qint8"), ([2, 2, 2, 3, 2], "quint8"), ([1, 5, 1, 2], "quint8")]:
        x = G.q(shp, dt)
        c = shp[1]
        w, b = G.randn(c), G.randn(c)
        eps = f32(1e-5)
        y64 = F.instance_norm(x.dequantize().double(), None, None, w.double(), b.double(), True, 0.0, eps)
        s, zp = oq(y64, dt)
        fm.add("instance_norm", dict(eps=eps, scale=s, zero_point=zp), [x, w, b],
               lambda x=x, w=w, b=b, eps=eps, s=s, zp=zp: Q.instance_norm(x, w, b, eps, s, zp),
               ref=lambda outs, y64=y64: refq(outs, y64), rule="NORM")
    fm.write()


# ---------------------------------------------------------------------------
# dynamic
# ---------------------------------------------------------------------------
class Wrap(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x, h):
        return self.m(x, h)


def dyn_qconfig(wq_scheme):
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig
    return default_dynamic_qconfig if wq_scheme == "per_tensor_symmetric" else per_channel_dynamic_qconfig


def run_lstm(a, ins):
    m = nn.LSTM(a["input_size"], a["hidden_size"], a["num_layers"], bias=a["bias"], batch_first=a["batch_first"],
                bidirectional=a["bidirectional"])
    x, h0, c0 = ins[:3]
    ws = ins[3:]
    dirs = 2 if a["bidirectional"] else 1
    names = []
    for l in range(a["num_layers"]):
        for d in range(dirs):
            sfx = "_l%d%s" % (l, "_reverse" if d else "")
            names += ["weight_ih" + sfx, "weight_hh" + sfx] + (["bias_ih" + sfx, "bias_hh" + sfx] if a["bias"] else [])
    with torch.no_grad():
        for n, t in zip(names, ws):
            getattr(m, n).copy_(t)
    w = Wrap(m).eval()
    qm = torch.ao.quantization.quantize_dynamic(w, {nn.LSTM: dyn_qconfig(a["weight_qscheme"])}, dtype=torch.qint8)
    with torch.no_grad():
        out, (h, c) = qm(x, (h0, c0))
    return [out, h, c]


def run_cell(kind, a, ins):
    cls = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}[kind]
    kw = dict(bias=a["bias"])
    if kind == "rnn":
        kw["nonlinearity"] = a["nonlinearity"]
    m = cls(a["input_size"], a["hidden_size"], **kw)
    if kind == "lstm":
        x, h, c = ins[:3]
        ws = ins[3:]
        state = (h, c)
    else:
        x, h = ins[:2]
        ws = ins[2:]
        state = h
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if a["bias"] else [])
    with torch.no_grad():
        for n, t in zip(names, ws):
            getattr(m, n).copy_(t)
    w = Wrap(m).eval()
    qm = torch.ao.quantization.quantize_dynamic(w, {cls: dyn_qconfig(a["weight_qscheme"])}, dtype=torch.qint8)
    with torch.no_grad():
        out = qm(x, state)
    return list(out) if isinstance(out, tuple) else [out]


def fam_dynamic():
    fm = Family("dynamic")
    G = Gen(13413)
    for xs, n, pc, bias, rr in [([1, 1], 1, False, True, True), ([3, 7], 5, True, True, False),
                                ([2, 3, 11], 4, False, False, True), ([0, 4], 3, False, True, True),
                                ([5, 17], 2, True, False, True), ([4, 6], 3, False, True, False),
                                ([2, 2, 2, 3], 5, True, True, True)]:
        k = xs[-1]
        x = G.randn(*xs, scale=2.0)
        w = wq(G, [n, k], pc)
        b = G.randn(n) if bias else None
        fm.add("linear_dynamic", dict(reduce_range=rr), [x, w, b],
               lambda x=x, w=w, b=b, rr=rr: Q.linear_dynamic(x, Q.linear_prepack(w, b), rr))
    # all-zero input, constant input, single element
    for x in [torch.zeros(2, 3), torch.full([2, 3], 1.5), torch.tensor([[-0.75]])]:
        k = x.shape[-1]
        w = wq(G, [2, k], False)
        b = G.randn(2)
        fm.add("linear_dynamic", dict(reduce_range=True), [x, w, b],
               lambda x=x, w=w, b=b: Q.linear_dynamic(x, Q.linear_prepack(w, b), True))
    x, w = G.randn(2, 5), wq(G, [3, 4], False)
    fm.add("linear_dynamic", dict(reduce_range=True), [x, w, None],
           lambda: Q.linear_dynamic(x, Q.linear_prepack(w, None), True), engine="both", error=True)
    note = "FBGEMM is not in the generating build; emulated with torch._saturate_weight_to_fp16 + half()"
    for xs, n in [([1, 1], 1), ([3, 9], 4), ([2, 2, 5], 3)]:
        x = G.randn(*xs)
        w = G.randn(n, xs[-1])
        w.view(-1)[0] = 1e5
        if w.numel() > 1:
            w.view(-1)[1] = 1e-6
        if w.numel() > 2:
            w.view(-1)[2] = -7e4
        b = G.randn(n)
        fm.add("linear_dynamic_fp16", {}, [x, w, b],
               lambda x=x, w=w, b=b: F.linear(x, torch._saturate_weight_to_fp16(w).half().float(), b),
               engine="n/a", note=note)
    for I, H, L, bias, bf, bi, wqs, T, B in [(3, 2, 1, True, False, True, "per_tensor_symmetric", 4, 2),
                                             (2, 5, 2, False, False, False, "per_channel_symmetric", 3, 1),
                                             (4, 3, 2, True, True, True, "per_channel_symmetric", 2, 3),
                                             (1, 1, 1, True, False, False, "per_tensor_symmetric", 1, 1),
                                             (5, 4, 3, True, False, False, "per_tensor_symmetric", 5, 2)]:
        a = dict(input_size=I, hidden_size=H, num_layers=L, bias=bias, batch_first=bf, bidirectional=bi,
                 weight_qscheme=wqs)
        dirs = 2 if bi else 1
        x = G.randn(*([B, T, I] if bf else [T, B, I]))
        h0, c0 = G.randn(L * dirs, B, H, scale=0.5), G.randn(L * dirs, B, H, scale=0.5)
        ws = []
        for l in range(L):
            for d in range(dirs):
                inn = I if l == 0 else H * dirs
                ws += [G.randn(4 * H, inn, scale=0.5), G.randn(4 * H, H, scale=0.5)]
                if bias:
                    ws += [G.randn(4 * H, scale=0.3), G.randn(4 * H, scale=0.3)]
        ins = [x, h0, c0] + ws
        # quantize_dynamic asserts mod.bias: PyTorch rejects bias=False.
        fm.add("quantized_lstm", a, ins, lambda a=a, ins=ins: run_lstm(a, ins), error=not bias)
    for kind, op, gates in [("lstm", "quantized_lstm_cell_dynamic", 4), ("gru", "quantized_gru_cell_dynamic", 3),
                            ("rnn", "quantized_rnn_tanh_cell_dynamic", 1), ("rnn", "quantized_rnn_relu_cell_dynamic", 1)]:
        for I, H, B, bias, wqs in [(3, 2, 1, True, "per_channel_symmetric"), (6, 5, 3, False, "per_tensor_symmetric"),
                                   (1, 1, 2, True, "per_tensor_symmetric")]:
            a = dict(input_size=I, hidden_size=H, bias=bias, weight_qscheme=wqs)
            if kind == "rnn":
                a["nonlinearity"] = "tanh" if "tanh" in op else "relu"
            x = G.randn(B, I, scale=2.0)
            ins = [x, G.randn(B, H, scale=0.5)] + ([G.randn(B, H, scale=0.5)] if kind == "lstm" else [])
            ins += [G.randn(gates * H, I, scale=0.5), G.randn(gates * H, H, scale=0.5)]
            if bias:
                ins += [G.randn(gates * H, scale=0.3), G.randn(gates * H, scale=0.3)]
            fm.add(op, a, ins, lambda kind=kind, a=a, ins=ins: run_cell(kind, a, ins), error=not bias)
    fm.write()


# ---------------------------------------------------------------------------
# fusion
# ---------------------------------------------------------------------------
def fam_fusion():
    from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights
    fm = Family("fusion")
    G = Gen(14514)
    for wshape, tr, has_b, has_w, has_bb, eps in [([5, 3, 3], False, True, True, True, 1e-5),
                                                  ([4, 2, 3, 3], False, False, True, True, 1e-3),
                                                  ([3, 2, 2, 2, 2], False, True, False, False, 1e-5),
                                                  ([3, 4, 3, 3], True, True, True, True, 1e-5),
                                                  ([2, 6, 4], True, False, True, False, f32(0.1)),
                                                  ([1, 1, 1, 1], False, True, True, True, 1e-5),
                                                  ([6, 1, 3, 3], False, True, True, True, 1e-5)]:
        eps = f32(eps)
        c = wshape[1] if tr else wshape[0]
        w = G.randn(*wshape)
        b = G.randn(c) if has_b else None
        rm, rv = G.randn(c), G.rand(c) + 0.05
        bw = G.randn(c) if has_w else None
        bb = G.randn(c) if has_bb else None

        def call(w=w, b=b, rm=rm, rv=rv, bw=bw, bb=bb, eps=eps, tr=tr):
            fw, fb = fuse_conv_bn_weights(w, b, rm, rv, eps, bw if bw is not None else torch.ones_like(rm),
                                          bb if bb is not None else torch.zeros_like(rm), tr)
            return [fw.detach(), fb.detach()]
        fm.add("fuse_conv_bn_weights", dict(eps=eps, transpose=tr), [w, b, rm, rv, bw, bb], call, engine="n/a")
    for n, k, has_b in [(3, 7, True), (1, 1, False), (6, 2, True)]:
        w = G.randn(n, k)
        b = G.randn(n) if has_b else None
        rm, rv, bw, bb = G.randn(n), G.rand(n) + 0.05, G.randn(n), G.randn(n)
        eps = f32(1e-5)

        def call(w=w, b=b, rm=rm, rv=rv, bw=bw, bb=bb, eps=eps):
            fw, fb = fuse_linear_bn_weights(w, b if b is not None else torch.zeros_like(rm), rm, rv, eps, bw, bb)
            return [fw.detach(), fb.detach()]
        fm.add("fuse_linear_bn_weights", dict(eps=eps), [w, b, rm, rv, bw, bb], call, engine="n/a")
    fm.write()


# ---------------------------------------------------------------------------
# second round: more edge cases, appended to the families above
# ---------------------------------------------------------------------------
def more_activation(fm):
    G = Gen(20001)
    for x in [G.q([3, 4], "qint8", zp=-5), G.q([2, 7], "quint8", scale=f32(0.2)), G.q([1, 1, 5], "quint8", zp=128)]:
        def A(op, attrs, fn, f, rule, x=x):
            fm.add(op, attrs, [x], fn, ref=lambda outs, x=x: act_ref(f)(outs, x), rule=rule)
        for lo, hi in [(0.0, 0.0), (f32(-0.3), f32(-0.3)), (f32(1e-3), f32(2e-3)), (-1e4, 1e4)]:
            A("hardtanh", dict(min_val=lo, max_val=hi), lambda x=x, lo=lo, hi=hi: qF.hardtanh(x, lo, hi),
              lambda t, lo=lo, hi=hi: t.clamp(lo, hi), "EXACT")
        s, zp = G.scale(0.002, 0.05), G.zp(NAME[x.dtype])
        for alpha in [0.0, f32(2.5)]:
            A("elu", dict(scale=s, zero_point=zp, alpha=alpha), lambda x=x, s=s, zp=zp, a=alpha: qF.elu(x, s, zp, a),
              lambda t, a=alpha: F.elu(t, a), "ELEMWISE")
        a, b = RANGE[NAME[x.dtype]]
        for s2, zp2 in [(f32(1e-3), a), (f32(1e-3), b), (f32(0.5), 0)]:
            A("hardswish", dict(scale=s2, zero_point=zp2), lambda x=x, s=s2, zp=zp2: qF.hardswish(x, s, zp), F.hardswish,
              "ELEMWISE")
            A("leaky_relu", dict(negative_slope=f32(0.05), scale=s2, zero_point=zp2),
              lambda x=x, s=s2, zp=zp2: qF.leaky_relu(x, f32(0.05), False, s, zp), lambda t: F.leaky_relu(t, f32(0.05)),
              "ELEMWISE")


def more_pool(fm):
    G = Gen(20002)

    def same_q(outs, y64):
        o = outs[0]
        return qround(y64, o.q_scale(), o.q_zero_point(), NAME[o.dtype])
    xs = [G.q([1, 2, 9, 8], "quint8"), G.q([2, 1, 5, 11], "qint8"), G.q([1, 3, 2, 3], "quint8", zp=255)]
    for x in xs:
        for a in [dict(kernel_size=[3, 2], stride=[2, 3], padding=[1, 1], dilation=[1, 2], ceil_mode=True),
                  dict(kernel_size=2, stride=1, padding=1, dilation=1, ceil_mode=False),
                  dict(kernel_size=[1, 2], stride=[3, 1], padding=0, dilation=[1, 1], ceil_mode=True)]:
            fm.add("max_pool2d", a, [x], lambda x=x, a=a: F.max_pool2d(x, a["kernel_size"], a["stride"], a["padding"],
                                                                        a["dilation"], a["ceil_mode"]),
                   ref=lambda outs, x=x, a=a: same_q(outs, F.max_pool2d(x.dequantize().double(), a["kernel_size"],
                                                                        a["stride"], a["padding"], a["dilation"],
                                                                        a["ceil_mode"])), rule="EXACT")
        for a in [dict(kernel_size=[2, 2], stride=[3, 2], padding=[1, 1], ceil_mode=True, count_include_pad=False,
                       divisor_override=None),
                  dict(kernel_size=[2, 3], stride=1, padding=[1, 1], ceil_mode=True, count_include_pad=True,
                       divisor_override=1),
                  dict(kernel_size=2, stride=2, padding=0, ceil_mode=False, count_include_pad=False,
                       divisor_override=3)]:
            fm.add("avg_pool2d", a, [x], lambda x=x, a=a: F.avg_pool2d(x, a["kernel_size"], a["stride"], a["padding"],
                                                                        a["ceil_mode"], a["count_include_pad"],
                                                                        a["divisor_override"]),
                   ref=lambda outs, x=x, a=a: same_q(outs, F.avg_pool2d(x.dequantize().double(), a["kernel_size"],
                                                                        a["stride"], a["padding"], a["ceil_mode"],
                                                                        a["count_include_pad"],
                                                                        a["divisor_override"])), rule="AVERAGE")
        h, w = x.shape[2], x.shape[3]
        for a in [dict(scale_factor=1.3333, mode="nearest"), dict(scale_factor=3.0, mode="nearest"),
                  dict(size=[h, w], mode="bilinear", align_corners=False),
                  dict(size=[2 * h - 1, 3 * w - 2], mode="bilinear", align_corners=True),
                  dict(size=[1, 1], mode="bilinear", align_corners=True), dict(size=[h, w], mode="nearest"),
                  dict(scale_factor=0.5, mode="bilinear", align_corners=True)]:
            kw = dict(a)
            fm.add("interpolate", a, [x], lambda x=x, kw=kw: F.interpolate(x, **kw),
                   ref=lambda outs, x=x, kw=kw: same_q(outs, F.interpolate(x.dequantize().double(), **kw)),
                   rule="AVERAGE")
        for osz in [[2, 7], [h - 1, 1], [7, w + 5]]:
            fm.add("adaptive_avg_pool2d", dict(output_size=osz), [x], lambda x=x, osz=osz: F.adaptive_avg_pool2d(x, osz),
                   ref=lambda outs, x=x, osz=osz: same_q(outs, F.adaptive_avg_pool2d(x.dequantize().double(), osz)),
                   rule="AVERAGE")
    # one channel or a 1x1 plane: PyTorch's channels-last kernels
    for x in [G.q([3, 1, 6, 7], "qint8", zp=-37), G.q([1, 1, 9, 4], "quint8", zp=201), G.q([2, 6, 1, 1], "qint8", zp=55),
              G.q([1, 13, 1, 1], "quint8", zp=3)]:
        for a in [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True, divisor_override=None),
                  dict(kernel_size=2, stride=1, padding=1, ceil_mode=False, count_include_pad=False,
                       divisor_override=None),
                  dict(kernel_size=1, stride=1, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=3)]:
            fm.add("avg_pool2d", a, [x], lambda x=x, a=a: F.avg_pool2d(x, a["kernel_size"], a["stride"], a["padding"],
                                                                        a["ceil_mode"], a["count_include_pad"],
                                                                        a["divisor_override"]),
                   ref=lambda outs, x=x, a=a: same_q(outs, F.avg_pool2d(x.dequantize().double(), a["kernel_size"],
                                                                        a["stride"], a["padding"], a["ceil_mode"],
                                                                        a["count_include_pad"],
                                                                        a["divisor_override"])), rule="AVERAGE")
        mp = dict(kernel_size=2, stride=1, padding=1, dilation=1, ceil_mode=False)
        fm.add("max_pool2d", mp, [x], lambda x=x: F.max_pool2d(x, 2, 1, 1, 1, False),
               ref=lambda outs, x=x: same_q(outs, F.max_pool2d(x.dequantize().double(), 2, 1, 1, 1, False)), rule="EXACT")
        h, w = x.shape[2], x.shape[3]
        for osz in [[1, 1], [max(h // 2, 1), max(w - 2, 1)], [h, w], [2, 3]]:
            fm.add("adaptive_avg_pool2d", dict(output_size=osz), [x], lambda x=x, osz=osz: F.adaptive_avg_pool2d(x, osz),
                   ref=lambda outs, x=x, osz=osz: same_q(outs, F.adaptive_avg_pool2d(x.dequantize().double(), osz)),
                   rule="AVERAGE")
        for a in [dict(size=[h + 2, w + 3], mode="bilinear", align_corners=False),
                  dict(size=[2 * h, 2 * w], mode="bilinear", align_corners=True), dict(scale_factor=1.5, mode="nearest")]:
            kw = dict(a)
            fm.add("interpolate", a, [x], lambda x=x, kw=kw: F.interpolate(x, **kw),
                   ref=lambda outs, x=x, kw=kw: same_q(outs, F.interpolate(x.dequantize().double(), **kw)),
                   rule="AVERAGE")
    # zero output sizes: an output height of 0 is an empty tensor, a width of 0 an error
    xz = G.q([1, 2, 1, 3], "quint8")
    for a, err in [(dict(scale_factor=0.5, mode="nearest"), False),
                   (dict(scale_factor=0.5, mode="bilinear", align_corners=False), False),
                   (dict(size=[0, 2], mode="nearest"), False), (dict(size=[2, 0], mode="bilinear", align_corners=True), True),
                   (dict(scale_factor=0.2, mode="nearest"), True)]:
        kw = dict(a)
        fm.add("interpolate", a, [xz], lambda kw=kw: F.interpolate(xz, **kw), error=err,
               engine="both" if err else "onednn",
               ref=None if err else (lambda outs, kw=kw: same_q(outs, F.interpolate(xz.dequantize().double(), **kw))),
               rule="AVERAGE")
    for x in [G.q([2, 3, 1, 1, 1], "qint8", zp=11), G.q([1, 4, 1, 1, 1], "quint8", zp=130)]:
        for cip in [True, False]:
            a = dict(kernel_size=2, stride=1, padding=1, ceil_mode=False, count_include_pad=cip, divisor_override=None)
            fm.add("avg_pool3d", a, [x], lambda x=x, cip=cip: F.avg_pool3d(x, 2, 1, 1, False, cip, None),
                   ref=lambda outs, x=x, cip=cip: same_q(outs, F.avg_pool3d(x.dequantize().double(), 2, 1, 1, False, cip,
                                                                            None)), rule="AVERAGE")
    x3 = G.q([1, 2, 4, 5, 6], "qint8")
    for a in [dict(kernel_size=[1, 2, 3], stride=[1, 2, 3], padding=[0, 1, 1], ceil_mode=True, count_include_pad=False,
                   divisor_override=None),
              dict(kernel_size=3, stride=2, padding=1, ceil_mode=False, count_include_pad=False, divisor_override=None),
              dict(kernel_size=[2, 2, 2], stride=1, padding=0, ceil_mode=False, count_include_pad=True,
                   divisor_override=9)]:
        fm.add("avg_pool3d", a, [x3], lambda a=a: F.avg_pool3d(x3, a["kernel_size"], a["stride"], a["padding"],
                                                               a["ceil_mode"], a["count_include_pad"],
                                                               a["divisor_override"]),
               ref=lambda outs, a=a: same_q(outs, F.avg_pool3d(x3.dequantize().double(), a["kernel_size"], a["stride"],
                                                               a["padding"], a["ceil_mode"], a["count_include_pad"],
                                                               a["divisor_override"])), rule="AVERAGE")


def more_conv(fm):
    G = Gen(20003)
    specs = {1: (F.conv1d, Q.conv1d, Q.conv1d_prepack), 2: (F.conv2d, Q.conv2d, Q.conv2d_prepack),
             3: (F.conv3d, Q.conv3d, Q.conv3d_prepack)}
    for nd, N, C, sp, Oc, k, st, pd, dl, gr, pc, wzp in [
            (2, 2, 8, [9, 7], 8, [3, 3], [2, 2], [1, 1], [1, 1], 8, True, False),
            (2, 1, 4, [10, 10], 6, [3, 5], [1, 2], [3, 2], [3, 1], 2, True, False),
            (3, 1, 4, [3, 5, 4], 4, [2, 3, 2], [2, 1, 1], [0, 1, 1], [1, 2, 1], 2, True, False),
            (1, 3, 5, [17], 10, [4], [2], [3], [2], 5, False, False),
            (2, 1, 3, [6, 6], 4, [3, 3], [2, 2], [1, 1], [1, 1], 1, False, True),
            (1, 1, 2, [5], 3, [5], [1], [2], [1], 1, True, True)]:
        fn, qconv, qpack = specs[nd]
        x = G.q([N, C] + sp, "quint8")
        w = wq(G, [Oc, C // gr] + k, pc, zp_nonzero=wzp)
        b = G.randn(Oc)
        kw = dict(stride=st, padding=pd, dilation=dl, groups=gr)
        s, zp = out_qparams(G, x, w, b, lambda a, c, d, kw=kw: fn(a, c, d, **kw), False)
        fm.add("conv%dd" % nd, dict(stride=st, padding=pd, dilation=dl, groups=gr, scale=s, zero_point=zp), [x, w, b],
               lambda x=x, w=w, b=b, s=s, zp=zp, qconv=qconv, qpack=qpack, st=st, pd=pd, dl=dl, gr=gr:
               qconv(x, qpack(w, b, st, pd, dl, gr), s, zp),
               ref=lambda outs, x=x, w=w, b=b, fn=fn, kw=kw: conv_ref(outs, fn, x, w, b, False, **kw), rule="GEMM",
               engine="qnnpack" if wzp else "onednn")
    tspecs = {1: (F.conv_transpose1d, Q.conv_transpose1d, Q.conv_transpose1d_prepack),
              2: (F.conv_transpose2d, Q.conv_transpose2d, Q.conv_transpose2d_prepack)}
    for nd, N, C, sp, Oc, k, st, pd, op_, dl, gr, pc in [
            (2, 1, 4, [3, 4], 6, [3, 2], [2, 3], [1, 0], [0, 0], [2, 1], 2, False),
            (1, 2, 3, [6], 3, [3], [3], [0], [2], [1], 3, True),
            (2, 1, 2, [2, 2], 4, [1, 1], [2, 2], [0, 0], [1, 1], [1, 1], 1, True)]:
        fn, qconv, qpack = tspecs[nd]
        x = G.q([N, C] + sp, "quint8")
        w = wq(G, [C, Oc // gr] + k, pc, axis=1)
        b = G.randn(Oc)
        kw = dict(stride=st, padding=pd, output_padding=op_, groups=gr, dilation=dl)
        s, zp = out_qparams(G, x, w, b, lambda a, c, d, kw=kw: fn(a, c, d, **kw), False)
        eng = "qnnpack" if (pc or any(op_)) else "onednn"
        fm.add("conv_transpose%dd" % nd, dict(stride=st, padding=pd, dilation=dl, groups=gr, output_padding=op_,
                                              scale=s, zero_point=zp), [x, w, b],
               lambda x=x, w=w, b=b, s=s, zp=zp, qconv=qconv, qpack=qpack, st=st, pd=pd, op_=op_, dl=dl, gr=gr:
               qconv(x, qpack(w, b, st, pd, op_, dl, gr), s, zp), engine=eng,
               ref=lambda outs, x=x, w=w, b=b, fn=fn, kw=kw: conv_ref(outs, fn, x, w, b, False, **kw), rule="GEMM")


def more_linear(fm):
    G = Gen(20004)
    for xs, n, pc, relu in [([2, 300], 7, True, False), ([3, 64], 33, False, True), ([1, 5, 1], 4, True, False)]:
        x = G.q(xs, "quint8")
        w = wq(G, [n, xs[-1]], pc)
        b = G.randn(n, scale=10.0)
        s, zp = out_qparams(G, x, w, b, F.linear, relu)
        op = "linear_relu" if relu else "linear"
        fm.add(op, dict(scale=s, zero_point=zp), [x, w, b],
               lambda x=x, w=w, b=b, s=s, zp=zp, relu=relu: (Q.linear_relu if relu else Q.linear)(
                   x, Q.linear_prepack(w, b), s, zp),
               ref=lambda outs, x=x, w=w, b=b, relu=relu: qround(
                   F.linear(x.dequantize().double(), w.dequantize().double(), b.double()).clamp(
                       min=0 if relu else -1e300), outs[0].q_scale(), outs[0].q_zero_point(), "quint8"), rule="GEMM")


def more_dynamic(fm):
    G = Gen(20005)
    for xs, n, pc, rr in [([3, 129], 5, True, True), ([2, 7], 3, False, False), ([4, 4], 2, True, False)]:
        x = G.randn(*xs, scale=3.0)
        if xs == [4, 4]:
            x = -x.abs() - 0.5
        w = wq(G, [n, xs[-1]], pc)
        b = G.randn(n)
        fm.add("linear_dynamic", dict(reduce_range=rr), [x, w, b],
               lambda x=x, w=w, b=b, rr=rr: Q.linear_dynamic(x, Q.linear_prepack(w, b), rr))


def more_reduce(fm):
    G = Gen(20006)
    x = G.q([4, 6], "qint32", lo=-5, hi=5)
    fm.add("mean", {}, [x], lambda: torch.mean(x))
    fm.add("mean", dict(dim=[-1, 0], keepdim=True), [x], lambda: torch.mean(x, [-1, 0], True))
    fm.add("mean", dict(dim=[1], keepdim=False), [x], lambda: torch.mean(x, [1], False))
    for d in [0, 1]:
        fm.add("topk", dict(k=3, dim=d, largest=False, sorted=True), [x], lambda d=d: list(torch.topk(x, 3, d, False, True)))
        fm.add("sort", dict(dim=d, descending=True, stable=True), [x],
               lambda d=d: list(torch.sort(x, dim=d, descending=True, stable=True)))
    y = G.q([3, 5], "quint8", lo=0, hi=1)
    fm.add("mean", dict(dim=[0, 0], keepdim=False), [y], lambda: torch.mean(y, [0, 0], False), engine="both", error=True)
    fm.add("mean", dict(dim=[2], keepdim=False), [y], lambda: torch.mean(y, [2], False), engine="both", error=True)
    fm.add("sort", dict(dim=2, descending=False, stable=True), [y],
           lambda: list(torch.sort(y, dim=2, descending=False, stable=True)), engine="both", error=True)


def more_shape(fm):
    G = Gen(20007)
    z = G.q([], "quint8")
    fm.add("view", dict(shape=[1]), [z], lambda: z.view(1))
    q11 = G.q([1, 1], "qint8")
    fm.add("view", dict(shape=[]), [q11], lambda: q11.view([]))
    fm.add("view", dict(shape=[-1]), [z], lambda: z.view(-1))
    e = G.q([0, 3], "quint8")
    fm.add("view", dict(shape=[3, 0]), [e], lambda: e.view(3, 0))
    fm.add("view", dict(shape=[-1, 0]), [e], lambda: e.view(-1, 0), engine="both", error=True)
    fm.add("slice", dict(dim=0, start=0, end=5, step=2), [e], lambda: e[0:5:2])
    q5 = G.q([5], "qint32")
    fm.add("flatten", dict(start_dim=0, end_dim=0), [q5], lambda: torch.flatten(q5, 0, 0))
    fm.add("expand", dict(size=[-1]), [z], lambda: z.expand(-1), engine="both", error=True)
    q113 = G.q([1, 1, 3], "quint8")
    fm.add("expand", dict(size=[2, 0, 3]), [q113], lambda: q113.expand(2, 0, 3))
    q1 = G.q([1], "qint8")
    fm.add("select", dict(dim=0, index=0), [q1], lambda: q1.select(0, 0))


def more_fake_quant(fm):
    G = Gen(20008)
    for lo, hi in [(0, 255), (-128, 127)]:
        for zpv in [3.5, 2.5, -300.0, 1000.0, 127.49]:
            x, g = G.randn(2, 5, scale=2.0), G.randn(2, 5)
            s = torch.tensor([G.scale(0.02, 0.2)])
            zp = torch.tensor([zpv])
            fm.add("fake_quantize_learnable_per_tensor_affine", dict(quant_min=lo, quant_max=hi, grad_factor=1.0),
                   [x, g, s, zp], lambda x=x, g=g, s=s, zp=zp, lo=lo, hi=hi: fq_learn(x, g, s, zp, None, lo, hi, 1.0),
                   engine="n/a")
        x, g = G.randn(3, 4, scale=2.0), G.randn(3, 4)
        s = torch.tensor([G.scale(0.02, 0.2) for _ in range(4)])
        zp = torch.tensor([0.5, 1.5, -2.5, 300.0])
        fm.add("fake_quantize_learnable_per_channel_affine", dict(axis=1, quant_min=lo, quant_max=hi, grad_factor=1.0),
               [x, g, s, zp], lambda x=x, g=g, s=s, zp=zp, lo=lo, hi=hi: fq_learn(x, g, s, zp, 1, lo, hi, 1.0),
               engine="n/a")
    a = dict(observer="HistogramObserver", dtype="quint8", qscheme="per_tensor_affine", reduce_range=False,
             quant_min=0, quant_max=255)
    bs = [G.randn(4, 5, scale=2.0), G.randn(4, 5) + 1.0]
    fm.add("FakeQuantize", a, bs, lambda: run_fakequantize(a, bs), engine="n/a")


def more_observers(fm):
    G = Gen(20009)
    for op in ["PerChannelMinMaxObserver", "MovingAveragePerChannelMinMaxObserver"]:
        attrs = dict(dtype="quint8", qscheme="per_channel_affine", reduce_range=False, ch_axis=1)
        if op.startswith("Moving"):
            attrs["averaging_constant"] = f32(0.5)
        bs = [G.randn(2, 3), torch.empty(0, 3), G.randn(2, 3) * 4]
        fm.add(op, attrs, bs, lambda op=op, a=attrs, bs=bs: run_observer(op, a, bs), engine="n/a")
    op = "HistogramObserver"
    for attrs, bs in [(dict(dtype="quint8", qscheme="per_tensor_affine", reduce_range=False, bins=32),
                       [torch.full([6], 1.0), torch.full([6], 1.0), G.randn(6)]),
                      (dict(dtype="qint8", qscheme="per_tensor_symmetric", reduce_range=True, bins=64),
                       [-(G.rand(20) * 3) - 0.1, -(G.rand(20))]),
                      (dict(dtype="quint8", qscheme="per_tensor_affine", reduce_range=False, bins=10),
                       [G.randn(3), torch.empty(0), G.randn(30, scale=5.0)])]:
        fm.add(op, attrs, bs, lambda a=attrs, bs=bs: run_observer(op, a, bs), engine="n/a")


EXTRA = {"activation": [more_activation], "pool": [more_pool], "conv": [more_conv], "linear": [more_linear],
         "dynamic": [more_dynamic], "reduce": [more_reduce], "shape": [more_shape], "fake_quant": [more_fake_quant],
         "observers": [more_observers]}

FAMILIES = {"quantize": fam_quantize, "compare": fam_compare, "reduce": fam_reduce, "shape": fam_shape,
            "observers": fam_observers, "fake_quant": fam_fake_quant, "linear": fam_linear, "conv": fam_conv,
            "activation": fam_activation, "pool": fam_pool, "binary": fam_binary, "norm": fam_norm,
            "dynamic": fam_dynamic, "fusion": fam_fusion}

if __name__ == "__main__":
    names = sys.argv[1:] or list(FAMILIES)
    for n in names:
        FAMILIES[n]()
