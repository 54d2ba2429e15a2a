#!/usr/bin/env python3
"""PyTorch side of qgorgonia's benchmark harness (go run ./bench).

Runs as a server: reads one JSON command per line on stdin and answers one
JSON line on stdout, so that the Go harness can interleave PyTorch trials
with its own. Commands:

  {"cmd": "hello"}  -> {"torch": version, "engines": [...], "threads": n}
  {"cmd": "setup", "workload": name, "spec": {...}}  -> {"ok": true, "impls": [...]}
  {"cmd": "trial", "workload": name, "impl": impl, "threads": n, "min_ms": t}
      -> {"seconds_per_call": s, "cpu_seconds_per_call": c, "calls": n}
         (wall-clock and process CPU time per call)

Impls for linear and conv: torch_int8_onednn (static quantized linear/conv
on the onednn engine: quint8 activations, qint8 per-tensor symmetric weights,
float bias, quint8 output), torch_f32 (F.linear / F.conv2d with PyTorch's
default float backends). For lstm (spec t, b, in, hidden, layers):
torch_int8_dynamic_onednn (torch.ao.quantization.quantize_dynamic of an
nn.LSTM with the default qint8 dynamic qconfig, run on the onednn engine),
torch_f32 (the float nn.LSTM); both from zero states.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F

torch.manual_seed(0)
state = {}


def setup_lstm(name, spec):
    t, b, i, h, layers = spec["t"], spec["b"], spec["in"], spec["hidden"], spec["layers"]
    torch.backends.quantized.engine = "onednn"
    m = torch.nn.LSTM(i, h, layers).eval()
    # quantize_dynamic swaps only submodules, never the module it is given:
    # passed a bare nn.LSTM it returns a float copy. Wrap it.
    q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(m), {torch.nn.LSTM}, dtype=torch.qint8)[0]
    if not isinstance(q, torch.ao.nn.quantized.dynamic.LSTM):
        raise TypeError("quantize_dynamic left %s unquantized" % type(q).__name__)
    x = torch.randn(t, b, i)
    q(x)  # fail here, at setup, if the engine cannot run it
    state[name] = {"torch_int8_dynamic_onednn": lambda: q(x), "torch_f32": lambda: m(x)}


def setup(name, spec):
    kind = spec["kind"]
    if kind == "lstm":
        return setup_lstm(name, spec)
    if kind == "linear":
        m, k, n = spec["m"], spec["k"], spec["n"]
        x = torch.randn(m, k)
        w = torch.randn(n, k) * 0.05
        b = torch.randn(n)
        args = dict(x=x, w=w, b=b)
    else:
        x = torch.randn(spec["n"], spec["c"], spec["h"], spec["w"])
        g = spec.get("groups", 1)
        w = torch.randn(spec["k"], spec["c"] // g, spec["kh"], spec["kw"]) * 0.05
        b = torch.randn(spec["k"])
        args = dict(x=x, w=w, b=b, pad=spec.get("pad", 0), groups=g)
    torch.backends.quantized.engine = "onednn"
    qx = torch.quantize_per_tensor(args["x"], 0.05, 128, torch.quint8)
    qw = torch.quantize_per_tensor(args["w"], float(args["w"].abs().max()) / 127, 0, torch.qint8)
    if kind == "linear":
        packed = torch.ops.quantized.linear_prepack(qw, args["b"])
        int8 = lambda: torch.ops.quantized.linear(qx, packed, 0.1, 64)
        f32 = lambda: F.linear(args["x"], args["w"], args["b"])
    else:
        p = args["pad"]
        packed = torch.ops.quantized.conv2d_prepack(qw, args["b"], [1, 1], [p, p], [1, 1], args["groups"])
        int8 = lambda: torch.ops.quantized.conv2d(qx, packed, 0.1, 64)
        f32 = lambda: F.conv2d(args["x"], args["w"], args["b"], 1, p, 1, args["groups"])
    state[name] = {"torch_int8_onednn": int8, "torch_f32": f32}


def trial(name, impl, threads, min_ms):
    torch.set_num_threads(threads)
    f = state[name][impl]
    with torch.no_grad():
        f()
        calls = 0
        t0, c0 = time.perf_counter(), time.process_time()
        while True:
            f()
            calls += 1
            el = time.perf_counter() - t0
            if el * 1e3 >= min_ms:
                break
        cpu = time.process_time() - c0
    return {"seconds_per_call": el / calls, "cpu_seconds_per_call": cpu / calls, "calls": calls}


def main():
    for line in sys.stdin:
        cmd = json.loads(line)
        c = cmd["cmd"]
        if c == "hello":
            out = {"torch": torch.__version__, "engines": torch.backends.quantized.supported_engines,
                   "threads": torch.get_num_threads()}
        elif c == "setup":
            with torch.no_grad():
                setup(cmd["workload"], cmd["spec"])
            out = {"ok": True, "impls": list(state[cmd["workload"]])}
        elif c == "trial":
            out = trial(cmd["workload"], cmd["impl"], cmd["threads"], cmd["min_ms"])
        else:
            out = {"error": "unknown command " + c}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
