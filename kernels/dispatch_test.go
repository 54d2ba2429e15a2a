package kernels

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestKernelsEnv runs this test binary again with QGORGONIA_KERNELS set and
// checks the path it starts on: every available path by name, and the
// fastest one (with a message on stderr) for an unknown name.
func TestKernelsEnv(t *testing.T) {
	if os.Getenv("QGORGONIA_ENV_CHILD") != "" {
		os.Stdout.WriteString("path=" + Path() + "\n")
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	run := func(v string) (stdout, stderr string) {
		cmd := exec.Command(exe, "-test.run=^TestKernelsEnv$")
		cmd.Env = append(os.Environ(), "QGORGONIA_ENV_CHILD=1", kernelsEnv+"="+v)
		var so, se strings.Builder
		cmd.Stdout, cmd.Stderr = &so, &se
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s=%s: %v\n%s%s", kernelsEnv, v, err, so.String(), se.String())
		}
		return so.String(), se.String()
	}
	for _, p := range Paths() {
		if out, _ := run(strings.ToUpper(p)); !strings.Contains(out, "path="+p+"\n") {
			t.Errorf("%s=%s: child reports %q", kernelsEnv, p, out)
		}
	}
	out, errOut := run("sse9")
	if !strings.Contains(out, "path="+Paths()[0]+"\n") || !strings.Contains(errOut, "ignoring "+kernelsEnv+"=sse9") {
		t.Errorf("unknown path: stdout %q, stderr %q", out, errOut)
	}
}

func TestSetPathErrors(t *testing.T) {
	prev := Path()
	defer SetPath(prev)
	if err := SetPath("nonsense"); err == nil || Path() != prev {
		t.Errorf("SetPath(nonsense) = %v, path %s", err, Path())
	}
	if err := SetPath("generic"); err != nil || Path() != "generic" {
		t.Errorf("SetPath(generic) = %v, path %s", err, Path())
	}
}
