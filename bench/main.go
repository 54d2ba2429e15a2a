// Command bench is qgorgonia's side-by-side benchmark harness (`make bench`):
// int8 linear and conv2d through package ops against Gorgonia float32 and,
// when /usr/bin/python3 can import torch, PyTorch 1.13's int8 (onednn) and
// float32 ops, driven through scripts/bench_torch.py as a server so that
// every implementation's trials interleave.
//
//	go run ./bench [-json bench.jsonl] [-threads 1,2] [-trials 5] [-min-ms 40] [-only REGEXP] [-notorch]
//
// For each workload and thread count it warms every implementation up, then
// runs trials (each at least -min-ms long) in rotating order and reports the
// median trial as GOPS = 2·MACs / second, with ratios; single-threaded rows
// also get lines computed from process CPU time per call (median and
// fastest trial), which a busy shared machine distorts less than wall time
// (preemption drops out; cache pollution does not). Numbers are only
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

// workload is one benchmarked shape: a linear (M, K, N) or an NCHW conv2d.
type workload struct {
	Name string `json:"-"`
	Kind string `json:"kind"` // "linear" or "conv"
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
}

func (w workload) macs() float64 {
	if w.Kind == "linear" {
		return float64(w.M) * float64(w.K) * float64(w.N)
	}
	g := max(w.Groups, 1)
	oh, ow := w.H+2*w.Pad-w.KH+1, w.W+2*w.Pad-w.KW+1
	return float64(w.N) * float64(w.K) * float64(oh*ow) * float64(w.C/g*w.KH*w.KW)
}

var workloads = []workload{
	{Name: "linear_1x1024x1024", Kind: "linear", M: 1, K: 1024, N: 1024},
	{Name: "linear_64x1024x1024", Kind: "linear", M: 64, K: 1024, N: 1024},
	{Name: "linear_256x4096x1024", Kind: "linear", M: 256, K: 4096, N: 1024},
	{Name: "linear_64x784x128", Kind: "linear", M: 64, K: 784, N: 128},
	{Name: "conv_a", Kind: "conv", N: 1, C: 64, H: 56, W: 56, K: 64, KH: 3, KW: 3, Pad: 1},
	{Name: "conv_b", Kind: "conv", N: 64, C: 1, H: 28, W: 28, K: 16, KH: 5, KW: 5},
	{Name: "conv_c", Kind: "conv", N: 64, C: 16, H: 14, W: 14, K: 32, KH: 5, KW: 5},
	{Name: "conv_d_depthwise", Kind: "conv", N: 1, C: 128, H: 56, W: 56, K: 128, KH: 3, KW: 3, Pad: 1, Groups: 128},
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
	if _, err := s.call(map[string]any{"cmd": "setup", "workload": w.Name, "spec": w}); err != nil {
		return nil, err
	}
	var out []*impl
	for _, name := range []string{"torch_int8_onednn", "torch_f32"} {
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
	Path        string  `json:"kernel_path,omitempty"`
}

func main() {
	jsonPath := flag.String("json", "", "append JSON lines {workload, impl, threads, gops} to this file")
	threadList := flag.String("threads", "1,"+strconv.Itoa(runtime.NumCPU()), "comma-separated thread counts")
	trials := flag.Int("trials", 5, "timed trials per implementation (median reported)")
	minMs := flag.Float64("min-ms", 40, "minimum duration of one trial, ms")
	only := flag.String("only", "", "run only workloads matching this regexp")
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
	fmt.Printf("GOPS = 2·MACs/s, median of %d trials of ≥ %.0f ms, implementations interleaved.\n\n", *trials, *minMs)
	fmt.Printf("%-22s %3s %15s %13s %18s %10s %12s %12s\n", "workload", "thr", "qgorgonia_int8", "gorgonia_f32", "torch_int8_onednn", "torch_f32", "q/torch_int8", "q/gorgonia")

	minDur := time.Duration(*minMs * float64(time.Millisecond))
	for _, w := range workloads {
		if re != nil && !re.MatchString(w.Name) {
			continue
		}
		var impls []*impl
		q, err := qgorgoniaImpl(w)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: qgorgonia: %v\n", w.Name, err)
			os.Exit(1)
		}
		impls = append(impls, q)
		if g, err := gorgoniaImpl(w); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: gorgonia: %v\n", w.Name, err)
		} else if g != nil {
			impls = append(impls, g)
		}
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
			for i, im := range impls {
				if failed[i] || len(times[i]) == 0 {
					continue
				}
				slices.Sort(times[i])
				med := times[i][len(times[i])/2]
				gops[im.name] = 2 * w.macs() / med / 1e9
				slices.Sort(cpus[i])
				if c := cpus[i][len(cpus[i])/2]; th == 1 && c > 0 {
					gopsCPU[im.name] = 2 * w.macs() / c / 1e9
					gopsCPUBest[im.name] = 2 * w.macs() / cpus[i][0] / 1e9
				}
				if jf != nil {
					res := result{Workload: w.Name, Impl: im.name, Threads: th, GOPS: gops[im.name],
						GOPSBest: 2 * w.macs() / times[i][0] / 1e9, GOPSCPU: gopsCPU[im.name], GOPSCPUBest: gopsCPUBest[im.name], MsPerOp: med * 1e3}
					if im.name == "qgorgonia_int8" {
						res.Path = kernels.Path()
					}
					b, _ := json.Marshal(res)
					fmt.Fprintln(jf, string(b))
				}
			}
			cell := func(name string) string {
				if v, ok := gops[name]; ok {
					return fmt.Sprintf("%.1f", v)
				}
				return "n/a"
			}
			ratio := func(a, b string) string {
				if gops[a] > 0 && gops[b] > 0 {
					return fmt.Sprintf("%.2fx", gops[a]/gops[b])
				}
				return "n/a"
			}
			fmt.Printf("%-22s %3d %15s %13s %18s %10s %12s %12s\n", w.Name, th, cell("qgorgonia_int8"), cell("gorgonia_f32"),
				cell("torch_int8_onednn"), cell("torch_f32"), ratio("qgorgonia_int8", "torch_int8_onednn"), ratio("qgorgonia_int8", "gorgonia_f32"))
			if len(gopsCPU) > 0 {
				gops = gopsCPU
				fmt.Printf("%-22s %3s %15s %13s %18s %10s %12s %12s\n", "  CPU time, median", "", cell("qgorgonia_int8"), cell("gorgonia_f32"),
					cell("torch_int8_onednn"), cell("torch_f32"), ratio("qgorgonia_int8", "torch_int8_onednn"), ratio("qgorgonia_int8", "gorgonia_f32"))
				gops = gopsCPUBest
				fmt.Printf("%-22s %3s %15s %13s %18s %10s %12s %12s\n", "  CPU time, fastest", "", cell("qgorgonia_int8"), cell("gorgonia_f32"),
					cell("torch_int8_onednn"), cell("torch_f32"), ratio("qgorgonia_int8", "torch_int8_onednn"), ratio("qgorgonia_int8", "gorgonia_f32"))
			}
		}
	}
	runtime.GOMAXPROCS(runtime.NumCPU())
}
