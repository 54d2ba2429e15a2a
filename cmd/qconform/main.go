// Command qconform runs the PyTorch 1.13 quantization conformance cases of
// ../shared/conformance (SCHEMA.md, OPS.md) against qgorgonia.
//
//	go run ./cmd/qconform < cases.jsonl > results.jsonl
//
// It reads one case per line from standard input and writes one result per
// non-empty input line to standard output, in input order: either
// {"id": ..., "outputs": [...]} or {"id": ..., "error": "..."}. Unknown
// fields are ignored; an unknown op, a bad case or a library error becomes
// that case's error result and the run goes on. It exits 0 after the last
// line. Each operator family registers its handlers in its own file.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// handler computes the outputs of one case.
type handler func(c *Case) ([]*Tensor, error)

var handlers = map[string]handler{}

// register adds the handler of an op; it panics on a duplicate name, which
// is a programming error caught by any run.
func register(op string, h handler) {
	if _, dup := handlers[op]; dup {
		panic("qconform: op registered twice: " + op)
	}
	handlers[op] = h
}

// result is one output line.
type result struct {
	ID      string    `json:"id"`
	Outputs []*Tensor `json:"outputs,omitempty"`
	Error   string    `json:"error,omitempty"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "qconform:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriterSize(out, 1<<20)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for {
		line, err := r.ReadBytes('\n')
		if len(trimSpace(line)) > 0 {
			if e := enc.Encode(runLine(line)); e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// runLine decodes and runs one case. A panic in a handler is a bug in
// qgorgonia; it is reported as that case's error so the run goes on.
func runLine(line []byte) (res result) {
	var c Case
	if err := json.Unmarshal(line, &c); err != nil {
		return result{ID: c.ID, Error: "qconform: bad case: " + err.Error()}
	}
	res.ID = c.ID
	h, ok := handlers[c.Op]
	if !ok {
		res.Error = fmt.Sprintf("qconform: unknown op %q", c.Op)
		return res
	}
	defer func() {
		if p := recover(); p != nil {
			res = result{ID: c.ID, Error: fmt.Sprintf("qconform: panic in %s: %v\n%s", c.Op, p, debug.Stack())}
		}
	}()
	outs, err := h(&c)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Outputs = outs
	return res
}
