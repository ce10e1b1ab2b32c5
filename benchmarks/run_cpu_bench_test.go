//go:build unix

package benchmarks

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/runner"
)

// rusageCPU returns the user+system CPU time getrusage(2) reports for who
// (RUSAGE_SELF: this process, every thread; RUSAGE_CHILDREN: the children
// it has waited for and theirs).
func rusageCPU(tb testing.TB, who int) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRunCPU measures what hush run costs in CPU rather than wall
// time (issue 12: at most 0.5 CPU-seconds per GB of output with 1,000
// secrets and every form). Each op prints 100 MB with the command of
// BenchmarkRunOutput twice, alternating so that load from elsewhere falls
// on both: once read straight from a pipe by a plain 64 KiB read loop (the
// direct run: what a terminal, a file or the next command of a pipeline
// costs anyway), once through internal/runner in pipes mode with 1,000
// API-key secrets and redact.AllEncodings. getrusage gives this process's
// CPU time (RUSAGE_SELF: the copy, the redactor, the garbage collector)
// and the printer's (RUSAGE_CHILDREN), reported per GB of output:
//
//	run-cpu-s/GB     hush run's own CPU time
//	direct-cpu-s/GB  the direct run's reader
//	added-cpu-s/GB   the difference: what hush run adds to reading the pipe
//	redact-cpu-s/GB  the redactor alone on the same lines in 64 KiB writes,
//	                 no pipe (the share of run-cpu-s/GB that is redaction)
//	child-cpu-s/GB   the printer, direct (the same under hush run)
func BenchmarkRunCPU(b *testing.B) {
	if _, err := exec.LookPath("yes"); err != nil {
		b.Skip("needs yes and head")
	}
	red := proxyRedactor(b, 1000)
	buf := make([]byte, 64<<10)
	direct := func() {
		cmd := exec.Command(printerArgs[0], printerArgs[1:]...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		n, _ := io.CopyBuffer(io.Discard, readerOnly{out}, buf)
		if err := cmd.Wait(); err != nil || n != runOutputBytes {
			b.Fatalf("copied %d: %v", n, err)
		}
	}
	hushRun := func() {
		cw := &countWriter{}
		code, err := runner.Run(context.Background(), runner.Options{Args: printerArgs, Stdout: cw, Stderr: io.Discard, Redactor: red})
		if err != nil || code != 0 || cw.n != runOutputBytes {
			b.Fatalf("code %d err %v copied %d", code, err, cw.n)
		}
	}
	chunk := bytes.Repeat([]byte("epoch 12 step 340 loss=0.02931 acc=0.9912 lr=3e-4\n"), (64<<10)/51)
	redactOnly := func() {
		cw := &countWriter{}
		w := red.NewWriter(cw)
		for n := 0; n < runOutputBytes; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil || cw.n < runOutputBytes {
			b.Fatalf("redacted %d: %v", cw.n, err)
		}
	}
	measure := func(f func()) (self, child time.Duration) {
		s0, c0 := rusageCPU(b, syscall.RUSAGE_SELF), rusageCPU(b, syscall.RUSAGE_CHILDREN)
		f()
		return rusageCPU(b, syscall.RUSAGE_SELF) - s0, rusageCPU(b, syscall.RUSAGE_CHILDREN) - c0
	}
	b.SetBytes(runOutputBytes)
	var runSelf, directSelf, directChild, redactSelf time.Duration
	for b.Loop() {
		s, c := measure(direct)
		directSelf += s
		directChild += c
		s, _ = measure(hushRun)
		runSelf += s
		s, _ = measure(redactOnly)
		redactSelf += s
	}
	perGB := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) / (float64(runOutputBytes) / 1e9) }
	b.ReportMetric(perGB(runSelf), "run-cpu-s/GB")
	b.ReportMetric(perGB(directSelf), "direct-cpu-s/GB")
	b.ReportMetric(perGB(runSelf-directSelf), "added-cpu-s/GB")
	b.ReportMetric(perGB(redactSelf), "redact-cpu-s/GB")
	b.ReportMetric(perGB(directChild), "child-cpu-s/GB")
}

// readerOnly hides a reader's WriteTo, so io.CopyBuffer uses its buffer.
type readerOnly struct{ io.Reader }
