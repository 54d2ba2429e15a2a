package fuse

import (
	"fmt"
	"strconv"

	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
)

// Fused is implemented by every fused float module of this package
// (torch.nn.intrinsic's _FusedModule): a sequence of float modules kept as
// children "0", "1"[, "2"] and run in order, as nn.Sequential does. A QAT or
// quantized twin is made from the children.
type Fused interface {
	nn.Module
	// Modules returns the children in order (the modules themselves, not
	// copies), looked up at call time so that nn.Set on "0" … takes effect.
	Modules() []nn.Module
}

// chain is the body shared by the fused modules: children "0", "1", …
// run in order through nn.Call, exactly like nn.Sequential.
type chain struct {
	nn.Base
	nn.Stateless
}

func newChain(mods ...nn.Module) (chain, error) {
	var c chain
	for i, m := range mods {
		if m == nil {
			return c, fmt.Errorf("fuse: module %d is nil", i)
		}
		if err := c.AddModule(strconv.Itoa(i), m); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Modules returns the children in order.
func (c *chain) Modules() []nn.Module {
	ch := c.Children()
	out := make([]nn.Module, len(ch))
	for i, x := range ch {
		out[i] = x.Module
	}
	return out
}

// Forward runs the children in order (nn.Sequential's forward).
func (c *chain) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	var err error
	for _, ch := range c.Children() {
		if x, err = nn.Call(ch.Module, x); err != nil {
			return nil, fmt.Errorf("%w (in fused child %s)", err, ch.Name)
		}
	}
	return x, nil
}

func (c *chain) cloneChain() chain { return chain{Base: c.CloneBase()} }

func (c *chain) at(i int) nn.Module { return c.Child(strconv.Itoa(i)) }

// convDim returns the number of spatial axes of a plain (not transposed)
// nn.Conv1d/2d/3d, or 0.
func convDim(m nn.Module) int {
	switch m.(type) {
	case *nn.Conv1d:
		return 1
	case *nn.Conv2d:
		return 2
	case *nn.Conv3d:
		return 3
	}
	return 0
}

// convOut returns the output channel count of a convolution module.
func convOut(m nn.Module) int {
	switch c := m.(type) {
	case *nn.Conv1d:
		return c.OutChannels
	case *nn.Conv2d:
		return c.OutChannels
	case *nn.Conv3d:
		return c.OutChannels
	}
	return -1
}

// checkConv checks that m is an nn.Conv{nd}d.
func checkConv(op string, m nn.Module, nd int) error {
	if m == nil || convDim(m) != nd {
		return fmt.Errorf("fuse: %s: first module is %s, want Conv%dd", op, typeName(m), nd)
	}
	return nil
}

// checkBN checks that m is an nn.BatchNorm{nd}d with features channels
// (features < 0: any).
func checkBN(op string, m nn.Module, nd, features int) error {
	bn, ok := m.(*nn.BatchNorm)
	want := fmt.Sprintf("BatchNorm%dd", nd)
	if !ok || bn.TypeName() != want {
		return fmt.Errorf("fuse: %s: batch norm is %s, want %s", op, typeName(m), want)
	}
	if features >= 0 && bn.NumFeatures != features {
		return fmt.Errorf("fuse: %s: %s has %d features, the preceding layer %d outputs", op, want, bn.NumFeatures, features)
	}
	return nil
}

func typeName(m nn.Module) string {
	if m == nil {
		return "<nil>"
	}
	return m.TypeName()
}

// ConvBn1d is torch.nn.intrinsic.ConvBn1d: Conv1d then BatchNorm1d,
// children "0" and "1". FuseModulesQAT makes it; qat.ConvBn1d is its QAT
// twin.
type ConvBn1d struct{ chain }

// ConvBn2d is torch.nn.intrinsic.ConvBn2d: Conv2d then BatchNorm2d,
// children "0" and "1". FuseModulesQAT makes it; qat.ConvBn2d is its QAT
// twin.
type ConvBn2d struct{ chain }

// ConvBn3d is torch.nn.intrinsic.ConvBn3d: Conv3d then BatchNorm3d,
// children "0" and "1".
type ConvBn3d struct{ chain }

// ConvBnReLU1d is torch.nn.intrinsic.ConvBnReLU1d: Conv1d, BatchNorm1d,
// ReLU (children "0", "1", "2").
type ConvBnReLU1d struct{ chain }

// ConvBnReLU2d is torch.nn.intrinsic.ConvBnReLU2d: Conv2d, BatchNorm2d,
// ReLU (children "0", "1", "2").
type ConvBnReLU2d struct{ chain }

// ConvBnReLU3d is torch.nn.intrinsic.ConvBnReLU3d: Conv3d, BatchNorm3d,
// ReLU (children "0", "1", "2").
type ConvBnReLU3d struct{ chain }

// ConvReLU1d is torch.nn.intrinsic.ConvReLU1d: Conv1d then ReLU (children
// "0", "1").
type ConvReLU1d struct{ chain }

// ConvReLU2d is torch.nn.intrinsic.ConvReLU2d: Conv2d then ReLU (children
// "0", "1").
type ConvReLU2d struct{ chain }

// ConvReLU3d is torch.nn.intrinsic.ConvReLU3d: Conv3d then ReLU (children
// "0", "1").
type ConvReLU3d struct{ chain }

// LinearReLU is torch.nn.intrinsic.LinearReLU: Linear then ReLU (children
// "0", "1").
type LinearReLU struct{ chain }

// LinearBn1d is torch.nn.intrinsic.LinearBn1d: Linear then BatchNorm1d
// (children "0", "1"); made by FuseModulesQAT.
type LinearBn1d struct{ chain }

// BNReLU2d is torch.nn.intrinsic.BNReLU2d: BatchNorm2d then ReLU (children
// "0", "1").
type BNReLU2d struct{ chain }

// BNReLU3d is torch.nn.intrinsic.BNReLU3d: BatchNorm3d then ReLU (children
// "0", "1").
type BNReLU3d struct{ chain }

func newConvBn(nd int, conv, bn nn.Module) (chain, error) {
	op := fmt.Sprintf("ConvBn%dd", nd)
	if err := checkConv(op, conv, nd); err != nil {
		return chain{}, err
	}
	if err := checkBN(op, bn, nd, convOut(conv)); err != nil {
		return chain{}, err
	}
	return newChain(conv, bn)
}

func newConvBnReLU(nd int, conv, bn nn.Module, relu *nn.ReLU) (chain, error) {
	op := fmt.Sprintf("ConvBnReLU%dd", nd)
	if err := checkConv(op, conv, nd); err != nil {
		return chain{}, err
	}
	if err := checkBN(op, bn, nd, convOut(conv)); err != nil {
		return chain{}, err
	}
	if relu == nil {
		return chain{}, fmt.Errorf("fuse: %s: relu is nil", op)
	}
	return newChain(conv, bn, relu)
}

func newConvReLU(nd int, conv nn.Module, relu *nn.ReLU) (chain, error) {
	op := fmt.Sprintf("ConvReLU%dd", nd)
	if err := checkConv(op, conv, nd); err != nil {
		return chain{}, err
	}
	if relu == nil {
		return chain{}, fmt.Errorf("fuse: %s: relu is nil", op)
	}
	return newChain(conv, relu)
}

// NewConvBn1d returns ConvBn1d(conv, bn); bn must have conv.OutChannels
// features. The modules are held, not copied.
func NewConvBn1d(conv *nn.Conv1d, bn *nn.BatchNorm) (*ConvBn1d, error) {
	c, err := newConvBn(1, notNil(conv), notNil(bn))
	return wrap(&ConvBn1d{c}, err)
}

// NewConvBn2d returns ConvBn2d(conv, bn); bn must be a BatchNorm2d with
// conv.OutChannels features. The modules are held, not copied.
func NewConvBn2d(conv *nn.Conv2d, bn *nn.BatchNorm) (*ConvBn2d, error) {
	c, err := newConvBn(2, notNil(conv), notNil(bn))
	return wrap(&ConvBn2d{c}, err)
}

// NewConvBn3d returns ConvBn3d(conv, bn); see NewConvBn2d.
func NewConvBn3d(conv *nn.Conv3d, bn *nn.BatchNorm) (*ConvBn3d, error) {
	c, err := newConvBn(3, notNil(conv), notNil(bn))
	return wrap(&ConvBn3d{c}, err)
}

// NewConvBnReLU1d returns ConvBnReLU1d(conv, bn, relu); see NewConvBn2d.
func NewConvBnReLU1d(conv *nn.Conv1d, bn *nn.BatchNorm, relu *nn.ReLU) (*ConvBnReLU1d, error) {
	c, err := newConvBnReLU(1, notNil(conv), notNil(bn), relu)
	return wrap(&ConvBnReLU1d{c}, err)
}

// NewConvBnReLU2d returns ConvBnReLU2d(conv, bn, relu); see NewConvBn2d.
func NewConvBnReLU2d(conv *nn.Conv2d, bn *nn.BatchNorm, relu *nn.ReLU) (*ConvBnReLU2d, error) {
	c, err := newConvBnReLU(2, notNil(conv), notNil(bn), relu)
	return wrap(&ConvBnReLU2d{c}, err)
}

// NewConvBnReLU3d returns ConvBnReLU3d(conv, bn, relu); see NewConvBn2d.
func NewConvBnReLU3d(conv *nn.Conv3d, bn *nn.BatchNorm, relu *nn.ReLU) (*ConvBnReLU3d, error) {
	c, err := newConvBnReLU(3, notNil(conv), notNil(bn), relu)
	return wrap(&ConvBnReLU3d{c}, err)
}

// NewConvReLU1d returns ConvReLU1d(conv, relu).
func NewConvReLU1d(conv *nn.Conv1d, relu *nn.ReLU) (*ConvReLU1d, error) {
	c, err := newConvReLU(1, notNil(conv), relu)
	return wrap(&ConvReLU1d{c}, err)
}

// NewConvReLU2d returns ConvReLU2d(conv, relu).
func NewConvReLU2d(conv *nn.Conv2d, relu *nn.ReLU) (*ConvReLU2d, error) {
	c, err := newConvReLU(2, notNil(conv), relu)
	return wrap(&ConvReLU2d{c}, err)
}

// NewConvReLU3d returns ConvReLU3d(conv, relu).
func NewConvReLU3d(conv *nn.Conv3d, relu *nn.ReLU) (*ConvReLU3d, error) {
	c, err := newConvReLU(3, notNil(conv), relu)
	return wrap(&ConvReLU3d{c}, err)
}

// NewLinearReLU returns LinearReLU(linear, relu).
func NewLinearReLU(linear *nn.Linear, relu *nn.ReLU) (*LinearReLU, error) {
	if linear == nil || relu == nil {
		return nil, fmt.Errorf("fuse: LinearReLU: nil module (linear %v, relu %v)", linear != nil, relu != nil)
	}
	c, err := newChain(linear, relu)
	return wrap(&LinearReLU{c}, err)
}

// NewLinearBn1d returns LinearBn1d(linear, bn); bn must be a BatchNorm1d
// with linear.OutFeatures features.
func NewLinearBn1d(linear *nn.Linear, bn *nn.BatchNorm) (*LinearBn1d, error) {
	if linear == nil {
		return nil, fmt.Errorf("fuse: LinearBn1d: linear is nil")
	}
	if err := checkBN("LinearBn1d", notNil(bn), 1, linear.OutFeatures); err != nil {
		return nil, err
	}
	c, err := newChain(linear, bn)
	return wrap(&LinearBn1d{c}, err)
}

// NewBNReLU2d returns BNReLU2d(bn, relu); bn must be a BatchNorm2d.
func NewBNReLU2d(bn *nn.BatchNorm, relu *nn.ReLU) (*BNReLU2d, error) {
	c, err := newBNReLU(2, bn, relu)
	return wrap(&BNReLU2d{c}, err)
}

// NewBNReLU3d returns BNReLU3d(bn, relu); bn must be a BatchNorm3d.
func NewBNReLU3d(bn *nn.BatchNorm, relu *nn.ReLU) (*BNReLU3d, error) {
	c, err := newBNReLU(3, bn, relu)
	return wrap(&BNReLU3d{c}, err)
}

func newBNReLU(nd int, bn *nn.BatchNorm, relu *nn.ReLU) (chain, error) {
	op := fmt.Sprintf("BNReLU%dd", nd)
	if err := checkBN(op, notNil(bn), nd, -1); err != nil {
		return chain{}, err
	}
	if relu == nil {
		return chain{}, fmt.Errorf("fuse: %s: relu is nil", op)
	}
	return newChain(bn, relu)
}

func wrap[T any](m *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// notNil turns a typed nil pointer of the module types fusion handles into
// a nil interface.
func notNil(m nn.Module) nn.Module {
	isNil := false
	switch v := m.(type) {
	case *nn.Conv1d:
		isNil = v == nil
	case *nn.Conv2d:
		isNil = v == nil
	case *nn.Conv3d:
		isNil = v == nil
	case *nn.BatchNorm:
		isNil = v == nil
	case *nn.Linear:
		isNil = v == nil
	case *nn.ReLU:
		isNil = v == nil
	}
	if isNil {
		return nil
	}
	return m
}

// TypeName returns "ConvBn1d".
func (m *ConvBn1d) TypeName() string { return "ConvBn1d" }

// TypeName returns "ConvBn2d".
func (m *ConvBn2d) TypeName() string { return "ConvBn2d" }

// TypeName returns "ConvBn3d".
func (m *ConvBn3d) TypeName() string { return "ConvBn3d" }

// TypeName returns "ConvBnReLU1d".
func (m *ConvBnReLU1d) TypeName() string { return "ConvBnReLU1d" }

// TypeName returns "ConvBnReLU2d".
func (m *ConvBnReLU2d) TypeName() string { return "ConvBnReLU2d" }

// TypeName returns "ConvBnReLU3d".
func (m *ConvBnReLU3d) TypeName() string { return "ConvBnReLU3d" }

// TypeName returns "ConvReLU1d".
func (m *ConvReLU1d) TypeName() string { return "ConvReLU1d" }

// TypeName returns "ConvReLU2d".
func (m *ConvReLU2d) TypeName() string { return "ConvReLU2d" }

// TypeName returns "ConvReLU3d".
func (m *ConvReLU3d) TypeName() string { return "ConvReLU3d" }

// TypeName returns "LinearReLU".
func (m *LinearReLU) TypeName() string { return "LinearReLU" }

// TypeName returns "LinearBn1d".
func (m *LinearBn1d) TypeName() string { return "LinearBn1d" }

// TypeName returns "BNReLU2d".
func (m *BNReLU2d) TypeName() string { return "BNReLU2d" }

// TypeName returns "BNReLU3d".
func (m *BNReLU3d) TypeName() string { return "BNReLU3d" }

// Clone deep-copies the module and its children.
func (m *ConvBn1d) Clone() nn.Module { return &ConvBn1d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *ConvBn2d) Clone() nn.Module { return &ConvBn2d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *ConvBn3d) Clone() nn.Module { return &ConvBn3d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *ConvBnReLU1d) Clone() nn.Module { return &ConvBnReLU1d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *ConvBnReLU2d) Clone() nn.Module { return &ConvBnReLU2d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *ConvBnReLU3d) Clone() nn.Module { return &ConvBnReLU3d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *ConvReLU1d) Clone() nn.Module { return &ConvReLU1d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *ConvReLU2d) Clone() nn.Module { return &ConvReLU2d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *ConvReLU3d) Clone() nn.Module { return &ConvReLU3d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *LinearReLU) Clone() nn.Module { return &LinearReLU{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *LinearBn1d) Clone() nn.Module { return &LinearBn1d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *BNReLU2d) Clone() nn.Module { return &BNReLU2d{m.cloneChain()} }

// Clone deep-copies the module and its children.
func (m *BNReLU3d) Clone() nn.Module { return &BNReLU3d{m.cloneChain()} }

// Conv returns child "0" (nil if it was replaced by another type).
func (m *ConvBn1d) Conv() *nn.Conv1d { c, _ := m.at(0).(*nn.Conv1d); return c }

// BN returns child "1" (nil if it was replaced by another type).
func (m *ConvBn1d) BN() *nn.BatchNorm { b, _ := m.at(1).(*nn.BatchNorm); return b }

// Conv returns child "0" (nil if it was replaced by another type).
func (m *ConvBn2d) Conv() *nn.Conv2d { c, _ := m.at(0).(*nn.Conv2d); return c }

// BN returns child "1" (nil if it was replaced by another type).
func (m *ConvBn2d) BN() *nn.BatchNorm { b, _ := m.at(1).(*nn.BatchNorm); return b }

// Conv returns child "0" (nil if it was replaced by another type).
func (m *ConvBn3d) Conv() *nn.Conv3d { c, _ := m.at(0).(*nn.Conv3d); return c }

// BN returns child "1" (nil if it was replaced by another type).
func (m *ConvBn3d) BN() *nn.BatchNorm { b, _ := m.at(1).(*nn.BatchNorm); return b }

// Conv returns child "0" (nil if it was replaced by another type).
func (m *ConvBnReLU1d) Conv() *nn.Conv1d { c, _ := m.at(0).(*nn.Conv1d); return c }

// BN returns child "1" (nil if it was replaced by another type).
func (m *ConvBnReLU1d) BN() *nn.BatchNorm { b, _ := m.at(1).(*nn.BatchNorm); return b }

// Conv returns child "0" (nil if it was replaced by another type).
func (m *ConvBnReLU2d) Conv() *nn.Conv2d { c, _ := m.at(0).(*nn.Conv2d); return c }

// BN returns child "1" (nil if it was replaced by another type).
func (m *ConvBnReLU2d) BN() *nn.BatchNorm { b, _ := m.at(1).(*nn.BatchNorm); return b }

// Conv returns child "0" (nil if it was replaced by another type).
func (m *ConvBnReLU3d) Conv() *nn.Conv3d { c, _ := m.at(0).(*nn.Conv3d); return c }

// BN returns child "1" (nil if it was replaced by another type).
func (m *ConvBnReLU3d) BN() *nn.BatchNorm { b, _ := m.at(1).(*nn.BatchNorm); return b }

// Conv returns child "0" (nil if it was replaced by another type).
func (m *ConvReLU1d) Conv() *nn.Conv1d { c, _ := m.at(0).(*nn.Conv1d); return c }

// Conv returns child "0" (nil if it was replaced by another type).
func (m *ConvReLU2d) Conv() *nn.Conv2d { c, _ := m.at(0).(*nn.Conv2d); return c }

// Conv returns child "0" (nil if it was replaced by another type).
func (m *ConvReLU3d) Conv() *nn.Conv3d { c, _ := m.at(0).(*nn.Conv3d); return c }

// Linear returns child "0" (nil if it was replaced by another type).
func (m *LinearReLU) Linear() *nn.Linear { l, _ := m.at(0).(*nn.Linear); return l }

// Linear returns child "0" (nil if it was replaced by another type).
func (m *LinearBn1d) Linear() *nn.Linear { l, _ := m.at(0).(*nn.Linear); return l }

// BN returns child "1" (nil if it was replaced by another type).
func (m *LinearBn1d) BN() *nn.BatchNorm { b, _ := m.at(1).(*nn.BatchNorm); return b }

// BN returns child "0" (nil if it was replaced by another type).
func (m *BNReLU2d) BN() *nn.BatchNorm { b, _ := m.at(0).(*nn.BatchNorm); return b }

// BN returns child "0" (nil if it was replaced by another type).
func (m *BNReLU3d) BN() *nn.BatchNorm { b, _ := m.at(0).(*nn.BatchNorm); return b }
