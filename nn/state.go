package nn

import (
	"fmt"
	"sort"
	"strings"

	"gorgonia.org/tensor"
)

// StateDictKeys lists m's state-dict keys in PyTorch's order: for each
// module in pre-order, its parameters then its buffers, with dotted names
// ("features.0.weight", "1.running_mean", "lstm.weight_ih_l0").
func StateDictKeys(m Module) []string {
	var keys []string
	for _, e := range stateEntries(m) {
		keys = append(keys, e.Name)
	}
	return keys
}

func stateEntries(m Module) []Named {
	var out []Named
	seen := map[*Parameter]bool{}
	for _, nm := range NamedModules(m) {
		for _, list := range [][]Named{nm.Module.NamedParameters(), nm.Module.NamedBuffers()} {
			for _, p := range list {
				if p.Param == nil || p.Param.Data == nil || seen[p.Param] {
					continue
				}
				seen[p.Param] = true
				out = append(out, Named{joinPath(nm.Path, p.Name), p.Param})
			}
		}
	}
	return out
}

// StateDict returns m's parameters and buffers by PyTorch name. The tensors
// are the module's own storage (as PyTorch's state_dict shares storage);
// clone them to keep a snapshot.
func StateDict(m Module) map[string]*tensor.Dense {
	sd := map[string]*tensor.Dense{}
	for _, e := range stateEntries(m) {
		sd[e.Name] = e.Param.Data
	}
	return sd
}

// LoadStateDict copies the tensors of sd into m's parameters and buffers
// in place (graphs already built see the new values). Every tensor must
// have the key's shape and dtype. With strict, keys missing from sd and
// keys of sd that m does not have are errors too (PyTorch's
// load_state_dict(strict=True)); on any error nothing is copied. A missing
// BatchNorm num_batches_tracked is set to 0, as PyTorch does for a plain
// dict.
func LoadStateDict(m Module, sd map[string]*tensor.Dense, strict bool) error {
	entries := stateEntries(m)
	var problems []string
	known := map[string]bool{}
	type job struct {
		dst *tensor.Dense
		src *tensor.Dense
	}
	var jobs []job
	for _, e := range entries {
		known[e.Name] = true
		src, ok := sd[e.Name]
		if (!ok || src == nil) && isBatchCounter(e.Name) {
			// PyTorch's BatchNorm fills a missing counter of a plain dict
			// with 0 (_load_from_state_dict, state dicts before version 2).
			src, ok = tensor.New(tensor.FromScalar(int64(0))), true
		}
		if !ok || src == nil {
			if strict {
				problems = append(problems, fmt.Sprintf("missing key %q", e.Name))
			}
			continue
		}
		dst := e.Param.Data
		if !src.Shape().Eq(dst.Shape()) && !(src.Shape().IsScalarEquiv() && dst.Shape().IsScalarEquiv()) {
			problems = append(problems, fmt.Sprintf("key %q: shape %v, module has %v", e.Name, src.Shape(), dst.Shape()))
			continue
		}
		if src.Dtype() != dst.Dtype() {
			problems = append(problems, fmt.Sprintf("key %q: dtype %v, module has %v", e.Name, src.Dtype(), dst.Dtype()))
			continue
		}
		jobs = append(jobs, job{dst, src})
	}
	if strict {
		var extra []string
		for k := range sd {
			if !known[k] {
				extra = append(extra, fmt.Sprintf("unexpected key %q", k))
			}
		}
		sort.Strings(extra)
		problems = append(problems, extra...)
	}
	if len(problems) > 0 {
		return fmt.Errorf("nn: load state dict: %s", strings.Join(problems, "; "))
	}
	for _, j := range jobs {
		src := j.src
		if src.RequiresIterator() {
			src = src.Materialize().(*tensor.Dense)
		}
		if src.Shape().IsScalarEquiv() && j.dst.Shape().TotalSize() == 1 {
			j.dst.Set(0, src.Get(0))
			continue
		}
		if err := tensor.Copy(j.dst, src); err != nil {
			return fmt.Errorf("nn: load state dict: copy: %w", err)
		}
	}
	return nil
}

func isBatchCounter(key string) bool {
	return key == "num_batches_tracked" || strings.HasSuffix(key, ".num_batches_tracked")
}
