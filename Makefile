# qgorgonia: make demo | make demo-lstm | make test | make bench | make golden | make conformance CASES=DIR
GO ?= go
PYTHON ?= /usr/bin/python3
CASES ?= ../shared/conformance/cases
STATICCHECK_VERSION ?= v0.8.2
GOBIN ?= $(shell $(GO) env GOPATH)/bin

.PHONY: demo demo-lstm test vet staticcheck bench golden conformance tools

# Runs examples/mnist end to end (Fashion-MNIST from Debian's
# dataset-fashion-mnist, installed when missing); demo-lstm runs
# examples/lstm (the King James Bible from bible-kjv).
demo:
	@dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y dataset-fashion-mnist)
	$(GO) run ./examples/mnist -out out/mnist -json out/mnist/results.json
	@echo "results: out/mnist/results.json; int8 models: out/mnist/ptq_per_tensor.qgm, ptq_per_channel.qgm, qat.qgm; float: out/mnist/float.qgm"

demo-lstm:
	@dpkg -s bible-kjv >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y bible-kjv)
	$(GO) run ./examples/lstm -out out/lstm -json out/lstm/results.json
	@echo "results: out/lstm/results.json; models: out/lstm/float.qgm, int8_dynamic.qgm, fp16_dynamic.qgm (rerun without training: go run ./examples/lstm -load out/lstm/float.qgm)"

test: vet
	$(GO) test ./...
	$(GO) test -tags purego ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

tools:
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: tools
	$(GOBIN)/staticcheck ./...

bench:
	$(GO) run ./bench -json bench.jsonl

# Regenerates every package's golden test files (scripts/golden_*.py write
# <pkg>/testdata) from PyTorch 1.13; installs Debian's python3-torch if needed.
# scripts/gen_heldout.py (testdata/heldout) is run by hand the same way.
golden:
	@$(PYTHON) -c "import torch" 2>/dev/null || (apt-get update -qq && apt-get install -y -qq python3-torch)
	for f in scripts/golden_*.py; do $(PYTHON) $$f || exit 1; done

# Runs the conformance cases in CASES (a directory of .jsonl files) and
# scores them with compare.py (COMPARE; e.g. CASES=testdata/heldout).
COMPARE ?= ../shared/conformance/compare.py
conformance:
	@mkdir -p out
	$(GO) build -o out/qconform ./cmd/qconform
	cat $(CASES)/*.jsonl > out/cases.jsonl
	./out/qconform < out/cases.jsonl > out/results.jsonl
	$(PYTHON) $(COMPARE) out/cases.jsonl out/results.jsonl || python3 $(COMPARE) out/cases.jsonl out/results.jsonl
