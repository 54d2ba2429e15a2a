// Package nn is the PyTorch-style module tree Gorgonia lacks: float
// layers (torch.nn counterparts) that own their parameters, contain named
// children, and build Gorgonia nodes when run on an input node.
//
// # The contract
//
// A Module builds its computation on the graph of its input:
//
//	y, err := nn.Call(model, x) // pre-hooks, model.Forward(x), output hooks
//
// Rebuilding is cheap and is how the model changes: eager quantization
// (fuse, prepare, convert) swaps modules in the tree and the caller calls
// Forward again on a fresh ExprGraph, because a Gorgonia graph cannot be
// rewritten from outside its package.
//
//   - Children are named and ordered (Sequential names them "0", "1", …).
//     Get(m, "features.0") and Set(m, "features.0", repl) address them by
//     dotted path; NamedModules walks the tree in pre-order. A composite
//     module keeps its children in its Base and looks them up at Forward
//     time (Base.Child), so that Set takes effect on the next Forward.
//   - Base, embedded in every module, carries the training flag
//     (Train(mode) propagates to children; Eval(m) is Train(false)), an
//     opaque QConfig for eager.Prepare, and hook lists: PreHooks run on the
//     input and OutputHooks on the output inside Call, which is where
//     prepare attaches output observers (PyTorch's activation_post_process
//     and forward hooks). Containers run children through Call.
//     FloatFunctional's methods run its OutputHooks on their results.
//   - Parameters are float32 *tensor.Dense values (Parameter.Data). Every
//     Forward on a graph binds an input node to the same Dense (one node
//     per parameter per graph), so gorgonia.Grad, BindDualValues and a
//     Solver's Step update the module in place: Learnables(m, g) returns
//     those nodes. LoadStateDict copies into the same storage, so graphs
//     already built see loaded values.
//   - StateDict and LoadStateDict use PyTorch's names and layouts (Linear
//     weight (out, in); Conv weight (out, in/groups, k…); ConvTranspose
//     weight (in, out/groups, k…); LSTM weight_ih_l{k}[_reverse] (4H, I)
//     with gate order i, f, g, o; GRU gates r, z, n; BatchNorm
//     running_mean, running_var, num_batches_tracked), so a PyTorch
//     state_dict maps over key by key; ReadNpz/LoadNpzFile and
//     WriteNpz/SaveNpzFile carry it as a NumPy .npz archive
//     (np.savez(path, **{k: v.numpy() for k, v in sd.items()})).
//   - Clone deep-copies parameters, buffers and children; QConfig and hook
//     functions are shared.
//   - Initialisation follows PyTorch's distributions (kaiming-uniform
//     weights, U(±1/√fan_in) biases, U(±1/√H) for recurrent layers,
//     N(0, 1) embeddings) from WithSeed/WithRand or a package source that
//     ManualSeed reseeds; the random streams are Go's, not PyTorch's.
//
// One model may be built into several graphs, concurrently too; create
// their machines one at a time (gorgonia.NewTapeMachine writes into every
// bound value, including shared parameters) and do not train two graphs
// of one model at once.
//
// Train versus eval is decided when Forward builds the graph (BatchNorm
// batch statistics and running-stat updates, Dropout masks), not when a
// VM is created: rebuild the graph after switching modes.
//
// # Numerics and gradients
//
// Forward outputs and gradients match PyTorch 1.13 float32 to a relative
// 1e-5 with an absolute floor of 1e-6·max(1, max|reference|) (the tests
// compare against golden files from scripts/golden_nn.py; sums in another
// order differ in the last bits). The
// package adds its own Gorgonia ops where Gorgonia has none or where its
// ops were found wrong: N-d unfold/fold (convolution, transposed
// convolution, groups, dilation), pools with PyTorch's ceil-mode and
// padding rules, span broadcasts and reductions (biases, normalizations),
// separable axis maps (adaptive pooling, interpolation), elementwise
// activations, embedding gather, dropout and the BatchNorm running-stat
// update. Each is an SDOp with SymDiff (TapeMachine) and an ADOp with
// DoDiff (LispMachine), returns errors instead of panicking, and has
// gradients checked against finite differences and the TapeMachine against
// the LispMachine. Gorgonia v0.9.18 ops these checks found wrong are not
// used: InverseSqrt (wrong symbolic gradient), OuterProd (failing or wrong
// gradient), Mul on (1, n) or (n, 1) matrices (they become vectors or a
// dot product), Reshape (its output aliases the
// input, and its LispMachine gradient overwrites instead of accumulating)
// and Slice/Concat (strided views, dropped unit axes, wrong LispMachine
// gradients); the package's matmul (BLAS transpose flags), reshape, narrow
// and cat ops replace them.
package nn
