// Command bench is qgorgonia's side-by-side benchmark harness (`make bench`):
// int8 linear and conv2d through package ops against Gorgonia float32; the
// raw GEMM and the graph-node path beside ops.Linear (overhead group); the
// dynamically quantized ops.LSTM against the float nn.LSTM graph (lstm
// group); and, when /usr/bin/python3 can import torch, PyTorch 1.13's int8
// (onednn) and float32 counterparts, driven through scripts/bench_torch.py
// as a server so that every implementation's trials interleave.
//
//	go run ./bench [-json bench.jsonl] [-threads 1,2] [-trials 5] [-min-ms 40] [-only REGEXP] [-notorch]
//
// -only matches workload names and group names (linear, overhead, conv, lstm).
//
// For each workload and thread count it warms every implementation up, then
// runs trials (each at least -min-ms long) in rotating order and reports the
// median trial as GOPS = 2·MACs / second (for an LSTM, MACs of the gate
// GEMMs only), with ratios; single-threaded rows also get lines computed
// from process CPU time per call (median and fastest trial), which a busy
// shared machine distorts less than wall time (preemption drops out; cache
// pollution does not). Numbers are only
// comparable within one run on one machine; the CPU model and the kernel
// path are printed with them.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// workload is one benchmarked shape: a linear (M, K, N), an NCHW conv2d or
// a unidirectional multi-layer LSTM, in one of the groups below.
type workload struct {
	Name  string `json:"-"`
	Group string `json:"-"`
	Kind  string `json:"kind"` // "linear", "conv" or "lstm"
	// linear
	M int `json:"m,omitempty"`
	K int `json:"k,omitempty"`
	N int `json:"n,omitempty"`
	// conv: batch N, C in, H×W, K out, kh×kw, padding, groups
	C      int `json:"c,omitempty"`
	H      int `json:"h,omitempty"`
	W      int `json:"w,omitempty"`
	KH     int `json:"kh,omitempty"`
	KW     int `json:"kw,omitempty"`
	Pad    int `json:"pad,omitempty"`
	Groups int `json:"groups,omitempty"`
	// lstm: T steps, batch B, In inputs, Hidden units, Layers layers
	T      int `json:"t,omitempty"`
	B      int `json:"b,omitempty"`
	In     int `json:"in,omitempty"`
	Hidden int `json:"hidden,omitempty"`
	Layers int `json:"layers,omitempty"`
}

// macs counts multiply-accumulates. For an LSTM it counts only the gate
// GEMMs, 4H·(in+H)·B·T per layer (in = In for layer 0, H above), not the
// gate nonlinearities, nor the quantization of activations.
func (w workload) macs() float64 {
	switch w.Kind {
	case "linear":
		return float64(w.M) * float64(w.K) * float64(w.N)
	case "lstm":
		s, in := 0.0, w.In
		for range w.Layers {
			s += 4 * float64(w.Hidden) * float64(in+w.Hidden) * float64(w.B) * float64(w.T)
			in = w.Hidden
		}
		return s
	}
	g := max(w.Groups, 1)
	oh, ow := w.H+2*w.Pad-w.KH+1, w.W+2*w.Pad-w.KW+1
	return float64(w.N) * float64(w.K) * float64(oh*ow) * float64(w.C/g*w.KH*w.KW)
}

// group is a set of workloads timed with the same implementations and
// printed as one table: columns in impls order, then the ratios a/b of
// median GOPS; perCall adds a line of microseconds per call.
type group struct {
	name    string
	impls   []string
	ratios  [][2]string
	perCall bool
}

var groups = []group{
	{name: "linear", impls: []string{"qgorgonia_int8", "gorgonia_f32", "torch_int8_onednn", "torch_f32"},
		ratios: [][2]string{{"qgorgonia_int8", "torch_int8_onednn"}, {"qgorgonia_int8", "gorgonia_f32"}}},
	{name: "overhead", impls: []string{"qgorgonia_kernel", "qgorgonia_int8", "qgorgonia_node", "gorgonia_f32", "torch_int8_onednn", "torch_f32"},
		ratios:  [][2]string{{"qgorgonia_int8", "torch_int8_onednn"}, {"qgorgonia_int8", "gorgonia_f32"}, {"qgorgonia_int8", "qgorgonia_kernel"}, {"qgorgonia_node", "qgorgonia_int8"}},
		perCall: true},
	{name: "conv", impls: []string{"qgorgonia_int8", "gorgonia_f32", "torch_int8_onednn", "torch_f32"},
		ratios: [][2]string{{"qgorgonia_int8", "torch_int8_onednn"}, {"qgorgonia_int8", "gorgonia_f32"}}},
	{name: "lstm", impls: []string{"qgorgonia_int8_dynamic", "qgorgonia_f32", "torch_int8_dynamic_onednn", "torch_f32"},
		ratios:  [][2]string{{"qgorgonia_int8_dynamic", "torch_int8_dynamic_onednn"}, {"qgorgonia_int8_dynamic", "qgorgonia_f32"}, {"qgorgonia_f32", "torch_f32"}},
		perCall: true},
}

var workloads = []workload{
	{Name: "linear_1x1024x1024", Group: "linear", Kind: "linear", M: 1, K: 1024, N: 1024},
	{Name: "linear_256x4096x1024", Group: "linear", Kind: "linear", M: 256, K: 4096, N: 1024},
	{Name: "linear_64x784x128", Group: "linear", Kind: "linear", M: 64, K: 784, N: 128},
	{Name: "linear_64x1024x1024", Group: "overhead", Kind: "linear", M: 64, K: 1024, N: 1024},
	{Name: "linear_1x16x16", Group: "overhead", Kind: "linear", M: 1, K: 16, N: 16},
	{Name: "conv_a", Group: "conv", Kind: "conv", N: 1, C: 64, H: 56, W: 56, K: 64, KH: 3, KW: 3, Pad: 1},
	{Name: "conv_b", Group: "conv", Kind: "conv", N: 64, C: 1, H: 28, W: 28, K: 16, KH: 5, KW: 5},
	{Name: "conv_c", Group: "conv", Kind: "conv", N: 64, C: 16, H: 14, W: 14, K: 32, KH: 5, KW: 5},
	{Name: "conv_d_depthwise", Group: "conv", Kind: "conv", N: 1, C: 128, H: 56, W: 56, K: 128, KH: 3, KW: 3, Pad: 1, Groups: 128},
	{Name: "lstm_t35_b20_650x650_l2", Group: "lstm", Kind: "lstm", T: 35, B: 20, In: 650, Hidden: 650, Layers: 2},
	{Name: "lstm_t35_b20_128x256_l2", Group: "lstm", Kind: "lstm", T: 35, B: 20, In: 128, Hidden: 256, Layers: 2},
	{Name: "lstm_t35_b1_128x256_l2", Group: "lstm", Kind: "lstm", T: 35, B: 1, In: 128, Hidden: 256, Layers: 2},
	{Name: "lstm_t50_b1_128x256_l1", Group: "lstm", Kind: "lstm", T: 50, B: 1, In: 128, Hidden: 256, Layers: 1},
}

// buildImpls returns the Go implementations of w's group; one that cannot
// be built is reported on stderr and left out.
func buildImpls(w workload) []*impl {
	var ctors []func(workload) (*impl, error)
	switch w.Group {
	case "linear", "conv":
		ctors = append(ctors, qgorgoniaImpl, gorgoniaImpl)
	case "overhead":
		ctors = append(ctors, kernelImpl, qgorgoniaImpl, nodeImpl, gorgoniaImpl)
	case "lstm":
		ctors = append(ctors, lstmDynamicImpl, lstmF32Impl)
	}
	var out []*impl
	for _, c := range ctors {
		im, err := c(w)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", w.Name, err)
			continue
		}
		if im != nil {
			out = append(out, im)
		}
	}
	return out
}

// impl runs one implementation of a workload; trial returns seconds per call.
type impl struct {
	name  string
	trial func(threads int, minDur time.Duration) (timing, error)
}

// timing is one trial: wall-clock and process CPU seconds per call.
type timing struct{ wall, cpu float64 }

func randDense(r *rand.Rand, scale float32, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

func maxAbs(d *tensor.Dense) float64 {
	m := float32(0)
	for _, v := range d.Float32s() {
		m = max(m, v, -v)
	}
	return float64(m)
}

// goTrial times f in a loop of at least minDur, with GOMAXPROCS and the
// kernels' thread count set to threads.
func goTrial(f func() error) func(int, time.Duration) (timing, error) {
	return func(threads int, minDur time.Duration) (timing, error) {
		runtime.GOMAXPROCS(threads)
		kernels.SetThreads(threads)
		if err := f(); err != nil {
			return timing{}, err
		}
		calls := 0
		start, cpu0 := time.Now(), processCPU()
		for {
			if err := f(); err != nil {
				return timing{}, err
			}
			calls++
			if el := time.Since(start); el >= minDur {
				return timing{el.Seconds() / float64(calls), (processCPU() - cpu0).Seconds() / float64(calls)}, nil
			}
		}
	}
}

// processCPU returns the CPU time of the whole process (all threads, the
// garbage collector included); zero where the clock is unavailable.
func processCPU() time.Duration {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 2 /* CLOCK_PROCESS_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// qgorgoniaImpl is int8 through package ops: quint8 input (scale 0.05, zero
// point 128), qint8 per-tensor symmetric weights, float bias, quint8 output.
func qgorgoniaImpl(w workload) (*impl, error) {
	r := rand.New(rand.NewSource(1))
	var x, wt *tensor.Dense
	if w.Kind == "linear" {
		x, wt = randDense(r, 1, w.M, w.K), randDense(r, 0.05, w.N, w.K)
	} else {
		x, wt = randDense(r, 1, w.N, w.C, w.H, w.W), randDense(r, 0.05, w.K, w.C/max(w.Groups, 1), w.KH, w.KW)
	}
	bias := randDense(r, 1, wt.Shape()[0])
	qx, err := qtensor.QuantizePerTensor(x, 0.05, 128, qdtype.QUInt8Dtype)
	if err != nil {
		return nil, err
	}
	qw, err := qtensor.QuantizePerTensor(wt, maxAbs(wt)/127, 0, qdtype.QInt8Dtype)
	if err != nil {
		return nil, err
	}
	var f func() error
	if w.Kind == "linear" {
		p, err := ops.PrepackLinear(qw, bias)
		if err != nil {
			return nil, err
		}
		f = func() error { _, err := ops.Linear(qx, p, 0.1, 64); return err }
	} else {
		p, err := ops.PrepackConv2d(qw, bias, ops.ConvOptions{Padding: []int{w.Pad}, Groups: w.Groups})
		if err != nil {
			return nil, err
		}
		f = func() error { _, err := ops.Conv2d(qx, p, 0.1, 64); return err }
	}
	return &impl{name: "qgorgonia_int8", trial: goTrial(f)}, nil
}

// gorgoniaImpl is float32 Gorgonia: tensor.MatMul with a pre-transposed
// weight (no bias) for linear, gorgonia.Conv2d run by a TapeMachine for
// conv. Gorgonia's Conv2d has no groups, so depthwise has no entry.
func gorgoniaImpl(w workload) (*impl, error) {
	r := rand.New(rand.NewSource(2))
	if w.Kind == "linear" {
		x, wt := randDense(r, 1, w.M, w.K), randDense(r, 0.05, w.K, w.N)
		out := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(w.M, w.N))
		return &impl{name: "gorgonia_f32", trial: goTrial(func() error {
			_, err := tensor.MatMul(x, wt, tensor.WithReuse(out))
			return err
		})}, nil
	}
	if w.Groups > 1 {
		return nil, nil
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(w.N, w.C, w.H, w.W),
		gorgonia.WithValue(randDense(r, 1, w.N, w.C, w.H, w.W)), gorgonia.WithName("x"))
	k := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(w.K, w.C, w.KH, w.KW),
		gorgonia.WithValue(randDense(r, 0.05, w.K, w.C, w.KH, w.KW)), gorgonia.WithName("w"))
	if _, err := gorgonia.Conv2d(x, k, tensor.Shape{w.KH, w.KW}, []int{w.Pad, w.Pad}, []int{1, 1}, []int{1, 1}); err != nil {
		return nil, err
	}
	m := gorgonia.NewTapeMachine(g)
	return &impl{name: "gorgonia_f32", trial: goTrial(func() error {
		err := m.RunAll()
		m.Reset()
		return err
	})}, nil
}

// torchServer talks to scripts/bench_torch.py.
type torchServer struct {
	cmd  *exec.Cmd
	in   *json.Encoder
	out  *bufio.Scanner
	info map[string]any
}

func startTorch(python, script string) (*torchServer, error) {
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		return nil, fmt.Errorf("%s cannot import torch: %v", python, err)
	}
	cmd := exec.Command(python, script)
	cmd.Stderr = nil
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &torchServer{cmd: cmd, in: json.NewEncoder(stdin), out: bufio.NewScanner(stdout)}
	s.info, err = s.call(map[string]any{"cmd": "hello"})
	return s, err
}

func (s *torchServer) call(req map[string]any) (map[string]any, error) {
	if err := s.in.Encode(req); err != nil {
		return nil, err
	}
	if !s.out.Scan() {
		return nil, fmt.Errorf("bench_torch.py exited: %v", s.out.Err())
	}
	var resp map[string]any
	if err := json.Unmarshal(s.out.Bytes(), &resp); err != nil {
		return nil, err
	}
	if e, ok := resp["error"]; ok {
		return nil, fmt.Errorf("bench_torch.py: %v", e)
	}
	return resp, nil
}

func (s *torchServer) impls(w workload) ([]*impl, error) {
	resp, err := s.call(map[string]any{"cmd": "setup", "workload": w.Name, "spec": w})
	if err != nil {
		return nil, err
	}
	names, _ := resp["impls"].([]any)
	var out []*impl
	for _, n := range names {
		name, _ := n.(string)
		out = append(out, &impl{name: name, trial: func(threads int, minDur time.Duration) (timing, error) {
			resp, err := s.call(map[string]any{"cmd": "trial", "workload": w.Name, "impl": name,
				"threads": threads, "min_ms": minDur.Seconds() * 1e3})
			if err != nil {
				return timing{}, err
			}
			v, _ := resp["seconds_per_call"].(float64)
			c, _ := resp["cpu_seconds_per_call"].(float64)
			return timing{v, c}, nil
		}})
	}
	return out, nil
}

// cpuModel returns the model name, family and model of the first CPU in
// /proc/cpuinfo (the name alone is often generic in virtual machines).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	info := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			info[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return fmt.Sprintf("%s (family %s, model %s)", info["model name"], info["cpu family"], info["model"])
}

// loadAvg returns the 1-, 5- and 15-minute load averages, or "n/a".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "n/a"
}

type result struct {
	Workload string  `json:"workload"`
	Impl     string  `json:"impl"`
	Threads  int     `json:"threads"`
	GOPS     float64 `json:"gops"`      // median trial
	GOPSBest float64 `json:"gops_best"` // fastest trial (noise only slows trials down)
	// GOPSCPU uses the median process CPU time per call instead of wall
	// time (single-threaded runs only): robust to preemption by other
	// processes on a shared machine, not to their cache pollution.
	GOPSCPU     float64 `json:"gops_cpu,omitempty"`
	GOPSCPUBest float64 `json:"gops_cpu_best,omitempty"` // fastest trial by CPU time
	MsPerOp     float64 `json:"ms_per_call"`
	UsPerOp     float64 `json:"us_per_call"` // the same median, in µs: the small ops' figure
	// UsPerOpCPU is the median process CPU time per call in µs
	// (single-threaded runs only).
	UsPerOpCPU float64 `json:"us_per_call_cpu,omitempty"`
	Path       string  `json:"kernel_path,omitempty"`
}

func main() {
	jsonPath := flag.String("json", "", "append JSON lines {workload, impl, threads, gops} to this file")
	threadList := flag.String("threads", "1,"+strconv.Itoa(runtime.NumCPU()), "comma-separated thread counts")
	trials := flag.Int("trials", 5, "timed trials per implementation (median reported)")
	minMs := flag.Float64("min-ms", 40, "minimum duration of one trial, ms")
	only := flag.String("only", "", "run only workloads whose name or group (linear, overhead, conv, lstm) matches this regexp")
	noTorch := flag.Bool("notorch", false, "skip PyTorch")
	python := flag.String("python", "/usr/bin/python3", "Python with torch")
	script := flag.String("torch-script", "scripts/bench_torch.py", "PyTorch side of the harness")
	flag.Parse()

	var threadCounts []int
	for _, s := range strings.Split(*threadList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: bad -threads %q\n", *threadList)
			os.Exit(2)
		}
		if !slices.Contains(threadCounts, n) {
			threadCounts = append(threadCounts, n)
		}
	}
	var re *regexp.Regexp
	if *only != "" {
		re = regexp.MustCompile(*only)
	}
	var jf *os.File
	if *jsonPath != "" {
		var err error
		if jf, err = os.Create(*jsonPath); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer jf.Close()
	}

	fmt.Printf("CPU: %s (%d logical CPUs), %s/%s, %s\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Printf("qgorgonia kernel path: %s (available: %s)\n", kernels.Path(), strings.Join(kernels.Paths(), ", "))
	fmt.Printf("load average at start: %s (other jobs on the machine distort wall-clock numbers)\n", loadAvg())
	defer func() { fmt.Printf("\nload average at end: %s\n", loadAvg()) }()
	var ts *torchServer
	if !*noTorch {
		var err error
		if ts, err = startTorch(*python, *script); err != nil {
			fmt.Printf("PyTorch: skipped (%v)\n", err)
			ts = nil
		} else {
			defer ts.cmd.Process.Kill()
			fmt.Printf("PyTorch: %v, quantized engines %v (int8 = onednn static quantized ops; f32 = default F.linear/F.conv2d)\n", ts.info["torch"], ts.info["engines"])
		}
	} else {
		fmt.Println("PyTorch: skipped (-notorch)")
	}
	fmt.Printf("GOPS = 2·MACs/s (LSTM: gate GEMMs only), median of %d trials of ≥ %.0f ms, implementations interleaved.\n", *trials, *minMs)

	minDur := time.Duration(*minMs * float64(time.Millisecond))
	lastGroup := ""
	for _, w := range workloads {
		if re != nil && !re.MatchString(w.Name) && !re.MatchString(w.Group) {
			continue
		}
		gi := slices.IndexFunc(groups, func(g group) bool { return g.name == w.Group })
		grp := groups[gi]
		if grp.name != lastGroup {
			lastGroup = grp.name
			printHeader(grp)
		}
		impls := buildImpls(w)
		if ts != nil {
			ti, err := ts.impls(w)
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s: torch: %v\n", w.Name, err)
			}
			impls = append(impls, ti...)
		}
		for _, th := range threadCounts {
			times := make([][]float64, len(impls))
			cpus := make([][]float64, len(impls))
			failed := make([]bool, len(impls))
			for round := -1; round < *trials; round++ { // round −1 warms up
				for o := range impls {
					i := (o + max(round, 0)) % len(impls)
					if failed[i] {
						continue
					}
					d := minDur
					if round < 0 {
						d = minDur / 2
					}
					tm, err := impls[i].trial(th, d)
					if err != nil {
						fmt.Fprintf(os.Stderr, "bench: %s %s: %v\n", w.Name, impls[i].name, err)
						failed[i] = true
						continue
					}
					if round >= 0 {
						times[i] = append(times[i], tm.wall)
						cpus[i] = append(cpus[i], tm.cpu)
					}
				}
			}
			gops := map[string]float64{}
			gopsCPU := map[string]float64{}
			gopsCPUBest := map[string]float64{}
			usPerCall := map[string]float64{}
			usPerCallCPU := map[string]float64{}
			for i, im := range impls {
				if failed[i] || len(times[i]) == 0 {
					continue
				}
				slices.Sort(times[i])
				med := times[i][len(times[i])/2]
				gops[im.name] = 2 * w.macs() / med / 1e9
				usPerCall[im.name] = med * 1e6
				slices.Sort(cpus[i])
				if c := cpus[i][len(cpus[i])/2]; th == 1 && c > 0 {
					gopsCPU[im.name] = 2 * w.macs() / c / 1e9
					usPerCallCPU[im.name] = c * 1e6
					gopsCPUBest[im.name] = 2 * w.macs() / cpus[i][0] / 1e9
				}
				if jf != nil {
					res := result{Workload: w.Name, Impl: im.name, Threads: th, GOPS: gops[im.name],
						GOPSBest: 2 * w.macs() / times[i][0] / 1e9, GOPSCPU: gopsCPU[im.name], GOPSCPUBest: gopsCPUBest[im.name],
						MsPerOp: med * 1e3, UsPerOp: med * 1e6, UsPerOpCPU: usPerCallCPU[im.name]}
					if strings.HasPrefix(im.name, "qgorgonia") {
						res.Path = kernels.Path()
					}
					b, _ := json.Marshal(res)
					fmt.Fprintln(jf, string(b))
				}
			}
			printRow(grp, w.Name, strconv.Itoa(th), gops)
			if grp.perCall {
				printRow(grp, "  µs/call, median", "", usPerCall)
			}
			if len(gopsCPU) > 0 {
				printRow(grp, "  CPU time, median", "", gopsCPU)
				printRow(grp, "  CPU time, fastest", "", gopsCPUBest)
				if grp.perCall {
					printRow(grp, "  CPU µs/call, median", "", usPerCallCPU)
				}
			}
		}
	}
	runtime.GOMAXPROCS(runtime.NumCPU())
}

// columnWidth is the width of a column headed name.
func columnWidth(name string) int { return max(len(name)+1, 9) }

// ratioName abbreviates a ratio's column header: qgorgonia_int8 /
// torch_int8_onednn becomes q_int8/torch_int8.
func ratioName(r [2]string) string {
	short := func(s string) string {
		s = strings.TrimSuffix(s, "_onednn")
		return strings.Replace(s, "qgorgonia_", "q_", 1)
	}
	return short(r[0]) + "/" + short(r[1])
}

// printHeader prints the column headers of g's table.
func printHeader(g group) {
	fmt.Printf("\n[%s]\n%-26s %3s", g.name, "workload", "thr")
	for _, n := range g.impls {
		fmt.Printf(" %*s", columnWidth(n), n)
	}
	for _, r := range g.ratios {
		fmt.Printf(" %*s", columnWidth(ratioName(r)), ratioName(r))
	}
	fmt.Println()
}

// printRow prints one line of g's table: vals[impl] (n/a when missing;
// three significant digits below 10), then the ratios of vals; a µs/call line leaves the ratios out
// (they are the GOPS line's).
func printRow(g group, label, thr string, vals map[string]float64) {
	var line strings.Builder
	fmt.Fprintf(&line, "%-26s %3s", label, thr)
	for _, n := range g.impls {
		cell := "n/a"
		if v, ok := vals[n]; ok {
			cell = fmt.Sprintf("%.1f", v)
			if v < 10 {
				cell = fmt.Sprintf("%.3g", v)
			}
		}
		fmt.Fprintf(&line, " %*s", columnWidth(n), cell)
	}
	perCall := strings.Contains(label, "µs/call")
	for _, r := range g.ratios {
		cell := "n/a"
		if a, b := vals[r[0]], vals[r[1]]; perCall {
			cell = ""
		} else if a > 0 && b > 0 {
			cell = fmt.Sprintf("%.2fx", a/b)
		}
		fmt.Fprintf(&line, " %*s", columnWidth(ratioName(r)), cell)
	}
	fmt.Println(strings.TrimRight(line.String(), " "))
}
