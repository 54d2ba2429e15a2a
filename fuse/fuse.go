package fuse

import (
	"fmt"
	"strings"

	"github.com/qgorgonia/qgorgonia/nn"
)

// FuserMethod builds the module that replaces one fused group, PyTorch's
// fuser methods (fuse_conv_bn, fuse_conv_bn_relu, fuse_linear_bn, the
// sequential wrappers, ...): mods are the group's modules in order, isQAT
// selects fuse_modules_qat semantics (keep batch norms for training)
// instead of fuse_modules' eval-mode folding. It must not change mods
// except by taking them as children of the result.
type FuserMethod func(isQAT bool, mods ...nn.Module) (nn.Module, error)

// PatternKey is the key of a fuser-method table: the modules' TypeNames
// joined by commas, e.g. "Conv2d,BatchNorm2d,ReLU".
func PatternKey(typeNames ...string) string { return strings.Join(typeNames, ",") }

// defaultMethods is DEFAULT_OP_LIST_TO_FUSER_METHOD of PyTorch 1.13.
var defaultMethods = map[string]FuserMethod{
	"Conv1d,BatchNorm1d":          fuseConvBN,
	"Conv1d,BatchNorm1d,ReLU":     fuseConvBNReLU,
	"Conv2d,BatchNorm2d":          fuseConvBN,
	"Conv2d,BatchNorm2d,ReLU":     fuseConvBNReLU,
	"Conv3d,BatchNorm3d":          fuseConvBN,
	"Conv3d,BatchNorm3d,ReLU":     fuseConvBNReLU,
	"Conv1d,ReLU":                 fuseConvReLU,
	"Conv2d,ReLU":                 fuseConvReLU,
	"Conv3d,ReLU":                 fuseConvReLU,
	"Linear,BatchNorm1d":          fuseLinearBN,
	"Linear,ReLU":                 fuseLinearReLU,
	"BatchNorm2d,ReLU":            fuseBNReLU,
	"BatchNorm3d,ReLU":            fuseBNReLU,
	"ConvTranspose1d,BatchNorm1d": fuseConvTransposeBN,
	"ConvTranspose2d,BatchNorm2d": fuseConvTransposeBN,
	"ConvTranspose3d,BatchNorm3d": fuseConvTransposeBN,
}

// DefaultFuserMethods returns a copy of PyTorch 1.13's
// DEFAULT_OP_LIST_TO_FUSER_METHOD keyed by PatternKey:
//
//	Conv{1,2,3}d, BatchNorm{1,2,3}d [, ReLU]   eval: folded Conv (+ ConvReLU);  QAT: ConvBn / ConvBnReLU
//	Conv{1,2,3}d, ReLU                          ConvReLU{1,2,3}d
//	Linear, BatchNorm1d                          eval: folded Linear;  QAT: LinearBn1d
//	Linear, ReLU                                 LinearReLU
//	BatchNorm{2,3}d, ReLU                        BNReLU{2,3}d
//	ConvTranspose{1,2,3}d, BatchNorm{1,2,3}d     eval: folded ConvTranspose;  QAT: error
func DefaultFuserMethods() map[string]FuserMethod {
	out := make(map[string]FuserMethod, len(defaultMethods))
	for k, v := range defaultMethods {
		out[k] = v
	}
	return out
}

// Option configures FuseModules and FuseModulesQAT.
type Option func(*options)

type options struct {
	inPlace    bool
	additional map[string]FuserMethod
}

// InPlace makes FuseModules modify and return the model itself (PyTorch's
// inplace=True) instead of a deep copy (nn.Module.Clone).
func InPlace() Option { return func(o *options) { o.inPlace = true } }

// WithFuserMethod adds or overrides the fuser method of a pattern of
// module TypeNames (PyTorch's fuse_custom_config_dict
// "additional_fuser_method_mapping"); user modules fuse this way.
func WithFuserMethod(pattern []string, f FuserMethod) Option {
	key := PatternKey(pattern...)
	return func(o *options) {
		if o.additional == nil {
			o.additional = map[string]FuserMethod{}
		}
		o.additional[key] = f
	}
}

// FuseModules is torch.ao.quantization.fuse_modules (eval-mode fusion for
// post-training quantization): every group of dotted module paths, such as
// {"features.0", "features.1", "features.2"}, is replaced by one module made
// by the group's fuser method (DefaultFuserMethods, WithFuserMethod): the
// first path gets the fused module, the others an nn.Identity in the first
// module's training mode. The first module's pre-hooks and the last
// module's output hooks move to the fused module. Conv+BN and Linear+BN
// fold the batch norm into the weights with its running statistics
// (FuseConvBNWeights, FuseLinearBNWeights), which requires the modules to be
// in eval mode.
//
// The model is deep-copied first unless InPlace is given. Errors name the
// group and path: a path that does not exist, a pattern of types with no
// fuser method, modules in training mode for a folding, mismatched channel
// counts. On error the model passed in is unchanged when not InPlace;
// InPlace stops at the failing group (earlier groups stay fused).
func FuseModules(model nn.Module, groups [][]string, opts ...Option) (nn.Module, error) {
	return fuseModules("fuse_modules", model, groups, false, opts)
}

// FuseModulesQAT is torch.ao.quantization.fuse_modules_qat: as FuseModules
// with training-mode patterns: Conv+BN(+ReLU) become ConvBn{1,2,3}d /
// ConvBnReLU{1,2,3}d and Linear+BN LinearBn1d, which keep the batch norm
// as a child so that QAT (package qat) can train it; a batch norm must be
// affine, track running statistics and have the preceding layer's channel
// count. ConvTranspose+BN cannot be fused for QAT (an error, as in PyTorch).
func FuseModulesQAT(model nn.Module, groups [][]string, opts ...Option) (nn.Module, error) {
	return fuseModules("fuse_modules_qat", model, groups, true, opts)
}

func fuseModules(op string, model nn.Module, groups [][]string, isQAT bool, opts []Option) (nn.Module, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if model == nil {
		return nil, fmt.Errorf("fuse: %s: model is nil", op)
	}
	if !o.inPlace {
		model = model.Clone()
	}
	for _, grp := range groups {
		if err := fuseGroup(op, model, grp, isQAT, o.additional); err != nil {
			return nil, err
		}
	}
	return model, nil
}

func fuseGroup(op string, model nn.Module, paths []string, isQAT bool, additional map[string]FuserMethod) error {
	if len(paths) == 0 {
		return fmt.Errorf("fuse: %s: empty group", op)
	}
	mods := make([]nn.Module, len(paths))
	types := make([]string, len(paths))
	seen := map[string]bool{}
	for i, p := range paths {
		if p == "" {
			return fmt.Errorf("fuse: %s: group %q: the root module cannot be fused", op, paths)
		}
		if seen[p] {
			return fmt.Errorf("fuse: %s: group %q names %q twice", op, paths, p)
		}
		seen[p] = true
		m, err := nn.Get(model, p)
		if err != nil {
			return fmt.Errorf("fuse: %s: group %q: %w", op, paths, err)
		}
		mods[i], types[i] = m, m.TypeName()
	}
	key := PatternKey(types...)
	method := additional[key]
	if method == nil {
		method = defaultMethods[key]
	}
	if method == nil {
		return fmt.Errorf("fuse: %s: cannot fuse modules %q: no fuser method for types (%s)", op, paths, key)
	}
	fused, err := method(isQAT, mods...)
	if err != nil {
		return fmt.Errorf("fuse: %s: group %q: %w", op, paths, err)
	}
	if fused == nil {
		return fmt.Errorf("fuse: %s: group %q: fuser method returned no module", op, paths)
	}
	first, last := mods[0].ModuleBase(), mods[len(mods)-1].ModuleBase()
	fb := fused.ModuleBase()
	if fused != mods[0] {
		fb.PreHooks = append(fb.PreHooks, first.PreHooks...)
		first.PreHooks = nil
	}
	if fused != mods[len(mods)-1] {
		fb.OutputHooks = append(fb.OutputHooks, last.OutputHooks...)
		last.OutputHooks = nil
	}
	training := first.Training()
	if err := nn.Set(model, paths[0], fused); err != nil {
		return fmt.Errorf("fuse: %s: %w", op, err)
	}
	for _, p := range paths[1:] {
		id := nn.NewIdentity()
		id.Train(training)
		if err := nn.Set(model, p, id); err != nil {
			return fmt.Errorf("fuse: %s: %w", op, err)
		}
	}
	return nil
}

// sameMode checks PyTorch's assertion that the modules of a group share
// their training mode.
func sameMode(mods ...nn.Module) error {
	for _, m := range mods[1:] {
		if m.ModuleBase().Training() != mods[0].ModuleBase().Training() {
			return fmt.Errorf("%s and %s must both be in the same mode (train or eval)", mods[0].TypeName(), m.TypeName())
		}
	}
	return nil
}

func arity(mods []nn.Module, n int) error {
	if len(mods) != n {
		return fmt.Errorf("got %d modules, want %d", len(mods), n)
	}
	for i, m := range mods {
		if notNil(m) == nil {
			return fmt.Errorf("module %d is nil", i)
		}
	}
	return nil
}

// checkQATBN is fuse_conv_bn's QAT assertions.
func checkQATBN(bn *nn.BatchNorm, channels int) error {
	if bn.NumFeatures != channels {
		return fmt.Errorf("output channels %d must match num_features %d of %s", channels, bn.NumFeatures, bn.TypeName())
	}
	if bn.Weight == nil || bn.Bias == nil {
		return fmt.Errorf("only %s with affine=True can be fused for QAT", bn.TypeName())
	}
	if bn.RunningMean == nil || bn.RunningVar == nil {
		return fmt.Errorf("only %s with track_running_stats=True can be fused for QAT", bn.TypeName())
	}
	return nil
}

func fuseConvBN(isQAT bool, mods ...nn.Module) (nn.Module, error) {
	if err := arity(mods, 2); err != nil {
		return nil, err
	}
	if err := sameMode(mods...); err != nil {
		return nil, err
	}
	bn, ok := mods[1].(*nn.BatchNorm)
	if !ok {
		return nil, fmt.Errorf("second module is %s, want a batch norm", mods[1].TypeName())
	}
	if !isQAT {
		return FoldConvBN(mods[0], bn)
	}
	if err := checkQATBN(bn, convOut(mods[0])); err != nil {
		return nil, err
	}
	switch c := mods[0].(type) {
	case *nn.Conv1d:
		return NewConvBn1d(c, bn)
	case *nn.Conv2d:
		return NewConvBn2d(c, bn)
	case *nn.Conv3d:
		return NewConvBn3d(c, bn)
	}
	return nil, fmt.Errorf("cannot fuse train modules %s, %s", mods[0].TypeName(), bn.TypeName())
}

func fuseConvBNReLU(isQAT bool, mods ...nn.Module) (nn.Module, error) {
	if err := arity(mods, 3); err != nil {
		return nil, err
	}
	if err := sameMode(mods...); err != nil {
		return nil, err
	}
	bn, ok := mods[1].(*nn.BatchNorm)
	if !ok {
		return nil, fmt.Errorf("second module is %s, want a batch norm", mods[1].TypeName())
	}
	relu, ok := mods[2].(*nn.ReLU)
	if !ok {
		return nil, fmt.Errorf("third module is %s, want ReLU", mods[2].TypeName())
	}
	if isQAT {
		if err := checkQATBN(bn, convOut(mods[0])); err != nil {
			return nil, err
		}
		switch c := mods[0].(type) {
		case *nn.Conv1d:
			return NewConvBnReLU1d(c, bn, relu)
		case *nn.Conv2d:
			return NewConvBnReLU2d(c, bn, relu)
		case *nn.Conv3d:
			return NewConvBnReLU3d(c, bn, relu)
		}
		return nil, fmt.Errorf("cannot fuse train modules %s, %s, ReLU", mods[0].TypeName(), bn.TypeName())
	}
	folded, err := FoldConvBN(mods[0], bn)
	if err != nil {
		return nil, err
	}
	if m, ok, err := convReLU(folded, relu); ok {
		return m, err
	}
	return nil, fmt.Errorf("cannot fuse eval modules %s, %s, ReLU", mods[0].TypeName(), bn.TypeName())
}

// convReLU fuses a Conv1d, Conv2d or Conv3d with relu; ok is false for any
// other module.
func convReLU(conv nn.Module, relu *nn.ReLU) (fused nn.Module, ok bool, err error) {
	switch c := conv.(type) {
	case *nn.Conv1d:
		fused, err = NewConvReLU1d(c, relu)
	case *nn.Conv2d:
		fused, err = NewConvReLU2d(c, relu)
	case *nn.Conv3d:
		fused, err = NewConvReLU3d(c, relu)
	default:
		return nil, false, nil
	}
	return fused, true, err
}

func fuseConvReLU(_ bool, mods ...nn.Module) (nn.Module, error) {
	if err := arity(mods, 2); err != nil {
		return nil, err
	}
	relu, ok := mods[1].(*nn.ReLU)
	if !ok {
		return nil, fmt.Errorf("second module is %s, want ReLU", mods[1].TypeName())
	}
	if m, ok, err := convReLU(mods[0], relu); ok {
		return m, err
	}
	return nil, fmt.Errorf("first module is %s, want Conv1d, Conv2d or Conv3d", mods[0].TypeName())
}

func fuseLinearBN(isQAT bool, mods ...nn.Module) (nn.Module, error) {
	if err := arity(mods, 2); err != nil {
		return nil, err
	}
	if err := sameMode(mods...); err != nil {
		return nil, err
	}
	lin, ok := mods[0].(*nn.Linear)
	if !ok {
		return nil, fmt.Errorf("first module is %s, want Linear", mods[0].TypeName())
	}
	bn, ok := mods[1].(*nn.BatchNorm)
	if !ok {
		return nil, fmt.Errorf("second module is %s, want BatchNorm1d", mods[1].TypeName())
	}
	if !isQAT {
		return FoldLinearBN(lin, bn)
	}
	if err := checkQATBN(bn, lin.OutFeatures); err != nil {
		return nil, err
	}
	return NewLinearBn1d(lin, bn)
}

func fuseLinearReLU(_ bool, mods ...nn.Module) (nn.Module, error) {
	if err := arity(mods, 2); err != nil {
		return nil, err
	}
	lin, ok := mods[0].(*nn.Linear)
	if !ok {
		return nil, fmt.Errorf("first module is %s, want Linear", mods[0].TypeName())
	}
	relu, ok := mods[1].(*nn.ReLU)
	if !ok {
		return nil, fmt.Errorf("second module is %s, want ReLU", mods[1].TypeName())
	}
	return NewLinearReLU(lin, relu)
}

func fuseBNReLU(_ bool, mods ...nn.Module) (nn.Module, error) {
	if err := arity(mods, 2); err != nil {
		return nil, err
	}
	bn, ok := mods[0].(*nn.BatchNorm)
	if !ok {
		return nil, fmt.Errorf("first module is %s, want a batch norm", mods[0].TypeName())
	}
	relu, ok := mods[1].(*nn.ReLU)
	if !ok {
		return nil, fmt.Errorf("second module is %s, want ReLU", mods[1].TypeName())
	}
	if bn.TypeName() == "BatchNorm3d" {
		return NewBNReLU3d(bn, relu)
	}
	return NewBNReLU2d(bn, relu)
}

func fuseConvTransposeBN(isQAT bool, mods ...nn.Module) (nn.Module, error) {
	if err := arity(mods, 2); err != nil {
		return nil, err
	}
	if err := sameMode(mods...); err != nil {
		return nil, err
	}
	if isQAT {
		return nil, fmt.Errorf("fusing %s+%s is not supported in QAT", mods[0].TypeName(), mods[1].TypeName())
	}
	bn, ok := mods[1].(*nn.BatchNorm)
	if !ok {
		return nil, fmt.Errorf("second module is %s, want a batch norm", mods[1].TypeName())
	}
	return FoldConvBN(mods[0], bn)
}
