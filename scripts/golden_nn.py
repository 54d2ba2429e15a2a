#!/usr/bin/python3
"""Golden outputs of torch.nn float modules for package nn.

Run by hand with Debian's python3-torch (PyTorch 1.13):
    /usr/bin/python3 scripts/golden_nn.py
Writes nn/testdata/golden.json: a list of cases, each with the module type,
its constructor arguments, its full state dict (PyTorch names), the inputs,
and the outputs (plus state after a training-mode forward where relevant).
The Go tests rebuild each module, load the state dict and compare.
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(1234)
torch.set_num_threads(1)
assert torch.__version__.startswith("1.13"), torch.__version__


def T(t):
    t = t.detach().contiguous()
    if t.dtype == torch.int64:
        return {"shape": list(t.shape), "dtype": "int64", "data": t.reshape(-1).tolist()}
    return {"shape": list(t.shape), "dtype": "float32", "data": [float(v) for v in t.reshape(-1).tolist()]}


def randomize(m):
    # Non-trivial values for every float parameter and buffer.
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.randn_like(p) * 0.5)
        for name, b in m.named_buffers():
            if b.dtype == torch.float32:
                if "var" in name:
                    b.copy_(torch.rand_like(b) + 0.5)
                else:
                    b.copy_(torch.randn_like(b) * 0.3)
    return m


cases = []


def add(name, typ, args, m, inputs, train=False, extra_inputs=None, forward=None):
    m.train(train)
    sd = {k: T(v) for k, v in m.state_dict().items()}
    with torch.no_grad():
        if forward is None:
            outs = m(*inputs)
        else:
            outs = forward(m, *inputs)
    if not isinstance(outs, (tuple, list)):
        outs = [outs]
    flat = []
    for o in outs:
        if isinstance(o, (tuple, list)):
            flat.extend(o)
        else:
            flat.append(o)
    case = {
        "name": name, "type": typ, "args": args, "train": train,
        "state": sd, "inputs": [T(x) for x in inputs], "outputs": [T(o) for o in flat],
    }
    if train:
        case["state_after"] = {k: T(v) for k, v in m.state_dict().items()}
    cases.append(case)


x = torch.randn
# Linear
add("linear_2d", "Linear", {"in": 5, "out": 3}, randomize(nn.Linear(5, 3)), [x(4, 5)])
add("linear_3d", "Linear", {"in": 5, "out": 3}, randomize(nn.Linear(5, 3)), [x(2, 3, 5)])
add("linear_nobias", "Linear", {"in": 6, "out": 2, "bias": False}, randomize(nn.Linear(6, 2, bias=False)), [x(3, 6)])

# Convolutions
add("conv2d_basic", "Conv2d", {"in": 3, "out": 4, "kernel": [3], "padding": [1]},
    randomize(nn.Conv2d(3, 4, 3, padding=1)), [x(2, 3, 6, 6)])
add("conv2d_groups", "Conv2d",
    {"in": 4, "out": 6, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0], "dilation": [1, 2], "groups": 2},
    randomize(nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)), [x(2, 4, 9, 8)])
add("conv2d_depthwise_nobias", "Conv2d", {"in": 3, "out": 3, "kernel": [3], "groups": 3, "bias": False},
    randomize(nn.Conv2d(3, 3, 3, groups=3, bias=False)), [x(1, 3, 5, 5)])
add("conv1d", "Conv1d", {"in": 3, "out": 4, "kernel": [3], "stride": [2], "padding": [1]},
    randomize(nn.Conv1d(3, 4, 3, stride=2, padding=1)), [x(2, 3, 10)])
add("conv3d", "Conv3d", {"in": 2, "out": 4, "kernel": [2, 3, 3], "stride": [1, 2, 1], "padding": [1]},
    randomize(nn.Conv3d(2, 4, (2, 3, 3), stride=(1, 2, 1), padding=1)), [x(1, 2, 4, 6, 5)])
add("conv_transpose2d", "ConvTranspose2d",
    {"in": 4, "out": 6, "kernel": [3], "stride": [2], "padding": [1], "output_padding": [1], "groups": 2},
    randomize(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)), [x(2, 4, 5, 4)])
add("conv_transpose1d", "ConvTranspose1d", {"in": 3, "out": 2, "kernel": [4], "stride": [3], "padding": [1], "dilation": [2]},
    randomize(nn.ConvTranspose1d(3, 2, 4, stride=3, padding=1, dilation=2)), [x(2, 3, 5)])
add("conv_transpose3d", "ConvTranspose3d", {"in": 2, "out": 2, "kernel": [2], "stride": [2]},
    randomize(nn.ConvTranspose3d(2, 2, 2, stride=2)), [x(1, 2, 2, 3, 2)])

# Normalization
add("batchnorm2d_train", "BatchNorm2d", {"features": 3}, randomize(nn.BatchNorm2d(3)), [x(4, 3, 5, 5) * 2 + 1], train=True)
add("batchnorm2d_eval", "BatchNorm2d", {"features": 3}, randomize(nn.BatchNorm2d(3)), [x(2, 3, 4, 4)])
add("batchnorm1d_train_2d", "BatchNorm1d", {"features": 4, "momentum": 0.3}, randomize(nn.BatchNorm1d(4, momentum=0.3)), [x(8, 4)], train=True)
add("batchnorm1d_eval_3d", "BatchNorm1d", {"features": 4, "eps": 1e-3}, randomize(nn.BatchNorm1d(4, eps=1e-3)), [x(2, 4, 6)])
add("batchnorm3d_train", "BatchNorm3d", {"features": 2}, randomize(nn.BatchNorm3d(2)), [x(2, 2, 3, 3, 2)], train=True)
add("layernorm_last", "LayerNorm", {"shape": [6]}, randomize(nn.LayerNorm(6)), [x(3, 4, 6)])
add("layernorm_2axes", "LayerNorm", {"shape": [3, 4], "eps": 1e-3}, randomize(nn.LayerNorm([3, 4], eps=1e-3)), [x(2, 3, 4)])
add("groupnorm", "GroupNorm", {"groups": 2, "channels": 6}, randomize(nn.GroupNorm(2, 6)), [x(2, 6, 3, 3)])
add("instancenorm2d_affine", "InstanceNorm2d", {"features": 3, "affine": True},
    randomize(nn.InstanceNorm2d(3, affine=True)), [x(2, 3, 4, 5)])
add("instancenorm1d", "InstanceNorm1d", {"features": 3}, nn.InstanceNorm1d(3), [x(2, 3, 7)])

# Activations on a fixed grid including the kinks.
grid = torch.cat([torch.linspace(-7, 7, 57), torch.tensor([-3.0, 3.0, 0.0, 6.0, -1.0, 1.0, 1e-3, -1e-3])]).reshape(5, 13)
for typ, m, args in [
    ("ReLU", nn.ReLU(), {}), ("ReLU6", nn.ReLU6(), {}), ("ELU", nn.ELU(0.7), {"alpha": 0.7}),
    ("LeakyReLU", nn.LeakyReLU(0.2), {"slope": 0.2}), ("Hardtanh", nn.Hardtanh(-2.0, 1.5), {"min": -2.0, "max": 1.5}),
    ("Hardsigmoid", nn.Hardsigmoid(), {}), ("Hardswish", nn.Hardswish(), {}), ("Sigmoid", nn.Sigmoid(), {}),
    ("Tanh", nn.Tanh(), {}), ("GELU", nn.GELU(), {}), ("SiLU", nn.SiLU(), {}),
]:
    add("act_" + typ, typ, args, m, [grid])

# Pools
add("maxpool2d", "MaxPool2d", {"kernel": [3], "stride": [2], "padding": [1]}, nn.MaxPool2d(3, 2, 1), [x(2, 3, 7, 8)])
add("maxpool2d_ceil_dil", "MaxPool2d", {"kernel": [2, 3], "stride": [2, 2], "padding": [1], "dilation": [2, 1], "ceil": True},
    nn.MaxPool2d((2, 3), (2, 2), 1, dilation=(2, 1), ceil_mode=True), [x(1, 2, 9, 8)])
add("avgpool2d", "AvgPool2d", {"kernel": [3], "stride": [2], "padding": [1]}, nn.AvgPool2d(3, 2, 1), [x(2, 2, 7, 6)])
add("avgpool2d_ceil_nopad", "AvgPool2d", {"kernel": [3], "stride": [2], "padding": [1], "ceil": True, "count_include_pad": False},
    nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), [x(1, 2, 8, 7)])
add("avgpool2d_divisor", "AvgPool2d", {"kernel": [2], "divisor": 3}, nn.AvgPool2d(2, divisor_override=3), [x(1, 2, 4, 6)])
add("adaptive_avgpool2d", "AdaptiveAvgPool2d", {"out": [3, 2]}, nn.AdaptiveAvgPool2d((3, 2)), [x(2, 3, 7, 5)])
add("adaptive_avgpool2d_1", "AdaptiveAvgPool2d", {"out": [1, 1]}, nn.AdaptiveAvgPool2d(1), [x(2, 3, 4, 4)])

# Upsample
add("upsample_nearest_scale", "Upsample", {"scale": [2.0], "mode": "nearest"}, nn.Upsample(scale_factor=2, mode="nearest"), [x(1, 2, 3, 4)])
add("upsample_nearest_size", "Upsample", {"size": [5, 7], "mode": "nearest"}, nn.Upsample(size=(5, 7), mode="nearest"), [x(1, 2, 3, 4)])
add("upsample_bilinear", "Upsample", {"scale": [1.5], "mode": "bilinear"}, nn.Upsample(scale_factor=1.5, mode="bilinear"), [x(1, 2, 4, 5)])
add("upsample_bilinear_ac", "Upsample", {"size": [7, 3], "mode": "bilinear", "align_corners": True},
    nn.Upsample(size=(7, 3), mode="bilinear", align_corners=True), [x(2, 1, 4, 5)])
add("upsample_linear", "Upsample", {"scale": [2.5], "mode": "linear"}, nn.Upsample(scale_factor=2.5, mode="linear"), [x(2, 3, 4)])

# Flatten, Embedding
add("flatten", "Flatten", {}, nn.Flatten(), [x(2, 3, 2, 2)])
emb = randomize(nn.Embedding(10, 4, padding_idx=2))
add("embedding", "Embedding", {"num": 10, "dim": 4, "padding_idx": 2}, emb, [torch.tensor([[1, 2, 9], [0, 2, 5]])])

# Recurrent
def lstm_fwd(m, inp, h0, c0):
    out, (hn, cn) = m(inp, (h0, c0))
    return [out, hn, cn]


def gru_fwd(m, inp, h0):
    out, hn = m(inp, h0)
    return [out, hn]


add("lstm_2layer", "LSTM", {"in": 4, "hidden": 5, "layers": 2}, nn.LSTM(4, 5, num_layers=2),
    [x(6, 3, 4), x(2, 3, 5), x(2, 3, 5)], forward=lstm_fwd)
add("lstm_bidir_nobias", "LSTM", {"in": 3, "hidden": 2, "layers": 2, "bidirectional": True, "bias": False},
    nn.LSTM(3, 2, num_layers=2, bidirectional=True, bias=False), [x(4, 2, 3), x(4, 2, 2), x(4, 2, 2)], forward=lstm_fwd)
add("lstm_batch_first", "LSTM", {"in": 3, "hidden": 4, "layers": 1, "batch_first": True}, nn.LSTM(3, 4, batch_first=True),
    [x(2, 5, 3), torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)], forward=lstm_fwd)
add("gru_2layer", "GRU", {"in": 4, "hidden": 3, "layers": 2}, nn.GRU(4, 3, num_layers=2), [x(5, 2, 4), x(2, 2, 3)], forward=gru_fwd)
add("gru_bidir", "GRU", {"in": 3, "hidden": 2, "layers": 1, "bidirectional": True}, nn.GRU(3, 2, bidirectional=True),
    [x(4, 3, 3), x(2, 3, 2)], forward=gru_fwd)


def lstmcell_fwd(m, inp, h, c):
    return list(m(inp, (h, c)))


add("lstmcell", "LSTMCell", {"in": 4, "hidden": 3}, nn.LSTMCell(4, 3), [x(2, 4), x(2, 3), x(2, 3)], forward=lstmcell_fwd)
add("grucell", "GRUCell", {"in": 4, "hidden": 3}, nn.GRUCell(4, 3), [x(2, 4), x(2, 3)])
add("rnncell_tanh", "RNNCell", {"in": 4, "hidden": 3}, nn.RNNCell(4, 3), [x(2, 4), x(2, 3)])
add("rnncell_relu", "RNNCell", {"in": 4, "hidden": 3, "nonlinearity": "relu"}, nn.RNNCell(4, 3, nonlinearity="relu"),
    [x(2, 4), x(2, 3)])

# A small CNN as Sequential (eval mode)
cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(4 * 3 * 3, 5))
randomize(cnn)
add("sequential_cnn", "SequentialCNN", {}, cnn, [x(2, 1, 6, 6)])
# The same state dict as NumPy archives (plain and deflated), the bridge
# users take from PyTorch to nn.LoadNpzFile.
os.makedirs("nn/testdata", exist_ok=True)
np.savez("nn/testdata/sequential_cnn.npz", **{k: v.numpy() for k, v in cnn.state_dict().items()})
np.savez_compressed("nn/testdata/sequential_cnn_deflated.npz", **{k: v.numpy() for k, v in cnn.state_dict().items()})

# Edge cases: degenerate matmul shapes, unbatched inputs, options.
add("linear_out1", "Linear", {"in": 4, "out": 1}, randomize(nn.Linear(4, 1)), [x(3, 4)])
add("linear_in1", "Linear", {"in": 1, "out": 3}, randomize(nn.Linear(1, 3)), [x(5, 1)])
add("linear_row", "Linear", {"in": 4, "out": 3}, randomize(nn.Linear(4, 3)), [x(1, 4)])
add("linear_1d_input", "Linear", {"in": 4, "out": 2}, randomize(nn.Linear(4, 2)), [x(4)])
add("conv1d_1x1", "Conv1d", {"in": 1, "out": 3, "kernel": [1]}, randomize(nn.Conv1d(1, 3, 1)), [x(2, 1, 5)])
add("conv2d_unbatched", "Conv2d", {"in": 2, "out": 3, "kernel": [3]}, randomize(nn.Conv2d(2, 3, 3)), [x(2, 5, 5)])
add("conv3d_groups_dilation", "Conv3d",
    {"in": 4, "out": 4, "kernel": [2], "groups": 2, "dilation": [1, 2, 1], "padding": [0, 1, 1], "stride": [1, 1, 2]},
    randomize(nn.Conv3d(4, 4, 2, groups=2, dilation=(1, 2, 1), padding=(0, 1, 1), stride=(1, 1, 2))), [x(1, 4, 4, 6, 6)])
add("conv_transpose2d_dilation", "ConvTranspose2d",
    {"in": 2, "out": 3, "kernel": [3, 2], "stride": [2, 3], "padding": [1, 0], "dilation": [2, 1], "output_padding": [1, 2]},
    randomize(nn.ConvTranspose2d(2, 3, (3, 2), stride=(2, 3), padding=(1, 0), dilation=(2, 1), output_padding=(1, 2))), [x(2, 2, 3, 4)])
add("conv_transpose1d_depthwise", "ConvTranspose1d", {"in": 3, "out": 3, "kernel": [3], "groups": 3, "bias": False},
    randomize(nn.ConvTranspose1d(3, 3, 3, groups=3, bias=False)), [x(2, 3, 4)])
add("batchnorm2d_cumulative", "BatchNorm2d", {"features": 3, "momentum": None}, randomize(nn.BatchNorm2d(3, momentum=None)),
    [x(2, 3, 3, 3)], train=True)
add("batchnorm2d_plain", "BatchNorm2d", {"features": 3, "affine": False, "track": False},
    nn.BatchNorm2d(3, affine=False, track_running_stats=False), [x(2, 3, 3, 3)])
add("layernorm_noaffine", "LayerNorm", {"shape": [5], "affine": False}, nn.LayerNorm(5, elementwise_affine=False), [x(2, 5)])
add("groupnorm_3d", "GroupNorm", {"groups": 3, "channels": 6, "eps": 1e-3}, randomize(nn.GroupNorm(3, 6, eps=1e-3)), [x(2, 6, 5)])
add("instancenorm1d_unbatched", "InstanceNorm1d", {"features": 3}, nn.InstanceNorm1d(3), [x(3, 7)])
add("instancenorm3d", "InstanceNorm3d", {"features": 2}, nn.InstanceNorm3d(2), [x(1, 2, 3, 3, 3)])
add("maxpool2d_unbatched", "MaxPool2d", {"kernel": [2, 3], "stride": [1, 2]}, nn.MaxPool2d((2, 3), (1, 2)), [x(2, 5, 7)])
add("avgpool2d_ceil_countpad", "AvgPool2d", {"kernel": [3], "stride": [2], "padding": [1], "ceil": True},
    nn.AvgPool2d(3, 2, 1, ceil_mode=True), [x(1, 2, 6, 5)])
add("adaptive_avgpool2d_uneven", "AdaptiveAvgPool2d", {"out": [2, 4]}, nn.AdaptiveAvgPool2d((2, 4)), [x(1, 2, 5, 7)])
add("adaptive_avgpool2d_grow", "AdaptiveAvgPool2d", {"out": [5, 4]}, nn.AdaptiveAvgPool2d((5, 4)), [x(1, 1, 3, 3)])
add("upsample_nearest_3d", "Upsample", {"scale": [2.0, 1.5, 3.0], "mode": "nearest"},
    nn.Upsample(scale_factor=(2.0, 1.5, 3.0), mode="nearest"), [x(1, 1, 2, 4, 2)])
add("upsample_trilinear_ac", "Upsample", {"size": [3, 4, 5], "mode": "trilinear", "align_corners": True},
    nn.Upsample(size=(3, 4, 5), mode="trilinear", align_corners=True), [x(1, 2, 2, 3, 2)])
add("upsample_nearest_1d", "Upsample", {"size": [7], "mode": "nearest"}, nn.Upsample(size=7, mode="nearest"), [x(1, 2, 3)])
add("upsample_bilinear_down", "Upsample", {"size": [3, 2], "mode": "bilinear"}, nn.Upsample(size=(3, 2), mode="bilinear"), [x(1, 1, 7, 5)])
add("embedding_3d_idx", "Embedding", {"num": 6, "dim": 3}, randomize(nn.Embedding(6, 3)), [torch.tensor([[[0, 5], [3, 3]], [[1, 2], [4, 0]]])])
add("flatten_dims", "Flatten", {"start": 0, "end": 1}, nn.Flatten(0, 1), [x(2, 3, 4)])
add("rnn_relu_2layer", "RNN", {"in": 3, "hidden": 4, "layers": 2, "nonlinearity": "relu"}, nn.RNN(3, 4, 2, nonlinearity="relu"),
    [x(5, 2, 3), x(2, 2, 4)], forward=gru_fwd)
add("rnn_tanh_bidir_bf", "RNN", {"in": 3, "hidden": 2, "layers": 1, "bidirectional": True, "batch_first": True},
    nn.RNN(3, 2, bidirectional=True, batch_first=True), [x(2, 4, 3), x(2, 2, 2)], forward=gru_fwd)
add("gru_batch_first", "GRU", {"in": 3, "hidden": 4, "layers": 1, "batch_first": True}, nn.GRU(3, 4, batch_first=True),
    [x(2, 5, 3), x(1, 2, 4)], forward=gru_fwd)
add("lstm_unbatched", "LSTM", {"in": 3, "hidden": 4, "layers": 1}, nn.LSTM(3, 4), [x(5, 3), x(1, 4), x(1, 4)], forward=lstm_fwd)
add("lstm_eval_dropout", "LSTM", {"in": 3, "hidden": 4, "layers": 2, "dropout": 0.5}, nn.LSTM(3, 4, 2, dropout=0.5),
    [x(3, 2, 3), x(2, 2, 4), x(2, 2, 4)], forward=lstm_fwd)
add("lstmcell_unbatched", "LSTMCell", {"in": 3, "hidden": 2}, nn.LSTMCell(3, 2), [x(3), x(2), x(2)], forward=lstmcell_fwd)
add("linear_vec_to_scalar", "Linear", {"in": 4, "out": 1}, randomize(nn.Linear(4, 1)), [x(4)])
add("instancenorm2d_track_train", "InstanceNorm2d", {"features": 3, "track": True, "momentum": 0.2},
    randomize(nn.InstanceNorm2d(3, momentum=0.2, track_running_stats=True)), [x(2, 3, 4, 3)], train=True)
add("instancenorm1d_track_eval", "InstanceNorm1d", {"features": 2, "track": True, "affine": True},
    randomize(nn.InstanceNorm1d(2, affine=True, track_running_stats=True)), [x(3, 2, 5)])
add("softmax_dim1", "Softmax", {"dim": 1}, nn.Softmax(dim=1), [x(2, 3, 4) * 3])
add("log_softmax_last", "LogSoftmax", {"dim": -1}, nn.LogSoftmax(dim=-1), [x(3, 5) * 10])
add("maxpool1d", "MaxPool1d", {"kernel": 3, "stride": 2, "padding": 1, "ceil": True}, nn.MaxPool1d(3, 2, 1, ceil_mode=True), [x(2, 3, 8)])
add("maxpool1d_dil_unbatched", "MaxPool1d", {"kernel": 2, "stride": 1, "dilation": 2}, nn.MaxPool1d(2, 1, dilation=2), [x(3, 7)])
add("avgpool1d", "AvgPool1d", {"kernel": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    nn.AvgPool1d(3, 2, 1, count_include_pad=False), [x(2, 2, 9)])
add("adaptive_avgpool1d", "AdaptiveAvgPool1d", {"out": 4}, nn.AdaptiveAvgPool1d(4), [x(2, 3, 7)])
add("embedding_bag_mean_fixed_pad", "EmbeddingBag", {"num": 7, "dim": 3, "mode": "mean", "padding_idx": 1},
    randomize(nn.EmbeddingBag(7, 3, mode="mean", padding_idx=1)), [torch.tensor([[0, 1, 2], [1, 1, 1], [6, 5, 6]])])
add("embedding_bag_max_offsets", "EmbeddingBag", {"num": 6, "dim": 4, "mode": "max"},
    randomize(nn.EmbeddingBag(6, 4, mode="max")), [torch.tensor([2, 4, 4, 0, 5, 1]), torch.tensor([0, 3, 3, 4])])
add("act_GELU_tanh", "GELU", {"approximate": "tanh"}, nn.GELU(approximate="tanh"), [grid])
add("conv2d_same_even", "Conv2d", {"in": 2, "out": 3, "kernel": [4, 3], "dilation": [1, 2], "same": True},
    randomize(nn.Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2))), [x(1, 2, 6, 7)])
add("conv1d_same", "Conv1d", {"in": 2, "out": 2, "kernel": [4], "same": True, "groups": 2},
    randomize(nn.Conv1d(2, 2, 4, padding="same", groups=2)), [x(2, 2, 5)])
add("prelu_channels", "PReLU", {"num": 3}, randomize(nn.PReLU(3)), [x(2, 3, 4)])
add("prelu_shared", "PReLU", {"num": 1}, randomize(nn.PReLU()), [x(3, 5)])
add("grucell_nobias", "GRUCell", {"in": 3, "hidden": 2, "bias": False}, nn.GRUCell(3, 2, bias=False), [x(4, 3), x(4, 2)])

# Gradients: loss = sum_i sum(y_i * R_i) with fixed random R_i; PyTorch's
# gradients of the float inputs and of every parameter.
grad_cases = []


def addgrad(name, typ, args, m, inputs, train=False, forward=None):
    m.train(train)
    sd = {k: T(v) for k, v in m.state_dict().items()}
    ins = [t.clone().requires_grad_(t.dtype == torch.float32) for t in inputs]
    outs = m(*ins) if forward is None else forward(m, *ins)
    if not isinstance(outs, (tuple, list)):
        outs = [outs]
    flat = []
    for o in outs:
        flat.extend(o if isinstance(o, (tuple, list)) else [o])
    rs = [torch.randn_like(o) for o in flat]
    loss = sum((o * r).sum() for o, r in zip(flat, rs))
    loss.backward()
    grad_cases.append({
        "name": name, "type": typ, "args": args, "train": train, "state": sd,
        "inputs": [T(t) for t in inputs], "outputs": [T(o) for o in flat], "r": [T(r) for r in rs],
        "input_grads": [T(t.grad) if t.grad is not None else None for t in ins],
        "param_grads": {k: T(p.grad) for k, p in m.named_parameters() if p.grad is not None},
    })


addgrad("conv2d_groups", "Conv2d",
        {"in": 4, "out": 6, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0], "dilation": [1, 2], "groups": 2},
        randomize(nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)), [x(2, 4, 7, 6)])
addgrad("conv_transpose2d", "ConvTranspose2d",
        {"in": 4, "out": 6, "kernel": [3], "stride": [2], "padding": [1], "output_padding": [1], "groups": 2},
        randomize(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)), [x(2, 4, 3, 3)])
addgrad("batchnorm2d_train", "BatchNorm2d", {"features": 3}, randomize(nn.BatchNorm2d(3)), [x(4, 3, 3, 3)], train=True)
addgrad("batchnorm1d_eval", "BatchNorm1d", {"features": 4}, randomize(nn.BatchNorm1d(4)), [x(3, 4)])
addgrad("layernorm", "LayerNorm", {"shape": [2, 3]}, randomize(nn.LayerNorm([2, 3])), [x(4, 2, 3)])
addgrad("groupnorm", "GroupNorm", {"groups": 2, "channels": 4}, randomize(nn.GroupNorm(2, 4)), [x(2, 4, 5)])
addgrad("maxpool2d", "MaxPool2d", {"kernel": [3], "stride": [2], "padding": [1], "ceil": True},
        nn.MaxPool2d(3, 2, 1, ceil_mode=True), [x(2, 2, 6, 7)])
addgrad("avgpool2d", "AvgPool2d", {"kernel": [3], "stride": [2], "padding": [1], "ceil": True, "count_include_pad": False},
        nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), [x(1, 2, 6, 7)])
addgrad("adaptive_avgpool2d", "AdaptiveAvgPool2d", {"out": [2, 3]}, nn.AdaptiveAvgPool2d((2, 3)), [x(1, 2, 5, 7)])
addgrad("upsample_bilinear", "Upsample", {"scale": [1.7], "mode": "bilinear"}, nn.Upsample(scale_factor=1.7, mode="bilinear"),
        [x(1, 2, 3, 4)])
addgrad("hardswish", "Hardswish", {}, nn.Hardswish(), [x(3, 8) * 3])
addgrad("elu", "ELU", {"alpha": 0.7}, nn.ELU(0.7), [x(3, 8)])
addgrad("embedding", "Embedding", {"num": 6, "dim": 3, "padding_idx": 0}, randomize(nn.Embedding(6, 3, padding_idx=0)),
        [torch.tensor([[0, 1, 1], [5, 0, 2]])])
addgrad("lstm_2layer_bidir", "LSTM", {"in": 3, "hidden": 4, "layers": 2, "bidirectional": True}, nn.LSTM(3, 4, 2, bidirectional=True),
        [x(5, 2, 3), x(4, 2, 4), x(4, 2, 4)], forward=lstm_fwd)
addgrad("gru", "GRU", {"in": 3, "hidden": 4, "layers": 2}, nn.GRU(3, 4, 2), [x(4, 2, 3), x(2, 2, 4)], forward=gru_fwd)
addgrad("softmax", "Softmax", {"dim": 0}, nn.Softmax(dim=0), [x(4, 3)])
addgrad("log_softmax", "LogSoftmax", {"dim": 1}, nn.LogSoftmax(dim=1), [x(2, 5, 2)])
addgrad("embedding_bag_sum_psw", "EmbeddingBag", {"num": 6, "dim": 3, "mode": "sum"},
        randomize(nn.EmbeddingBag(6, 3, mode="sum")), [torch.tensor([1, 2, 2, 5, 0]), torch.tensor([0, 2, 2]), x(5)])
addgrad("embedding_bag_mean", "EmbeddingBag", {"num": 6, "dim": 3, "mode": "mean", "padding_idx": 0},
        randomize(nn.EmbeddingBag(6, 3, mode="mean", padding_idx=0)), [torch.tensor([[1, 0, 3], [0, 0, 4]])])
addgrad("embedding_bag_max", "EmbeddingBag", {"num": 6, "dim": 3, "mode": "max"},
        randomize(nn.EmbeddingBag(6, 3, mode="max")), [torch.tensor([1, 2, 3, 3, 5]), torch.tensor([0, 1, 4])])
addgrad("gelu", "GELU", {}, nn.GELU(), [x(3, 7) * 2])
addgrad("gelu_tanh", "GELU", {"approximate": "tanh"}, nn.GELU(approximate="tanh"), [x(3, 7) * 2])
addgrad("silu", "SiLU", {}, nn.SiLU(), [x(3, 7) * 2])
addgrad("prelu", "PReLU", {"num": 3}, randomize(nn.PReLU(3)), [x(2, 3, 4)])
addgrad("linear", "Linear", {"in": 5, "out": 3}, randomize(nn.Linear(5, 3)), [x(2, 4, 5)])

os.makedirs("nn/testdata", exist_ok=True)
with open("nn/testdata/golden.json", "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
xent = []
for n, c, scale in [(4, 5, 1.0), (3, 2, 30.0), (1, 7, 0.1)]:
    logits = (x(n, c) * scale).requires_grad_(True)
    target = torch.randint(0, c, (n,))
    loss = torch.nn.functional.cross_entropy(logits, target)
    loss.backward()
    xent.append({"logits": T(logits), "target": T(target), "loss": float(loss), "grad": T(logits.grad)})
with open("nn/testdata/golden_grad.json", "w") as f:
    json.dump({"torch": torch.__version__, "cases": grad_cases, "cross_entropy": xent}, f)
print(len(cases), "forward cases and", len(grad_cases), "gradient cases written to nn/testdata")
