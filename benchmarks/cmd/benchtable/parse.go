package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results is everything read from one `go test -bench -v` output.
type results struct {
	// env is the header go test prints: goos, goarch, pkg, cpu.
	env map[string]string
	// runs holds, per benchmark name (without the -GOMAXPROCS suffix),
	// one metric map (unit → value) per run.
	runs map[string][]map[string]float64
	// procs is the GOMAXPROCS suffix of the results, 0 if none was printed.
	procs int
	// skipped maps a benchmark name to the reason it logged before b.Skip.
	skipped map[string]string
	// failed lists benchmarks that reported --- FAIL.
	failed []string
}

var (
	// resultLine is one benchmark result: name[-procs] iterations value unit...
	resultLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.+)$`)
	// logLine is a t.Log line under -v: indented "file.go:NN: message".
	logLine = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`)
)

// parse reads go test -bench output. Lines it does not know are ignored, so
// the raw output (with PASS/ok lines and -v run headers) can be fed as is.
func parse(r io.Reader) (*results, error) {
	res := &results{env: map[string]string{}, runs: map[string][]map[string]float64{}, skipped: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lastLog := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "--- SKIP: "):
			res.skipped[strings.TrimSpace(strings.TrimPrefix(line, "--- SKIP: "))] = lastLog
			lastLog = ""
		case strings.HasPrefix(line, "--- FAIL: "):
			res.failed = append(res.failed, strings.TrimSpace(strings.TrimPrefix(line, "--- FAIL: ")))
		case logLine.MatchString(line):
			lastLog = logLine.FindStringSubmatch(line)[1]
		default:
			if k, v, ok := strings.Cut(line, ": "); ok && slices.Contains([]string{"goos", "goarch", "pkg", "cpu"}, k) {
				res.env[k] = v
				continue
			}
			m := resultLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			metrics, err := parseMetrics(m[4])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m[1], err)
			}
			if m[2] != "" {
				res.procs, _ = strconv.Atoi(m[2])
			}
			res.runs[m[1]] = append(res.runs[m[1]], metrics)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	if len(res.runs) == 0 && len(res.skipped) == 0 {
		return nil, fmt.Errorf("no benchmark results in the input (run go test with -bench and -v)")
	}
	return res, nil
}

// parseMetrics reads "123 ns/op  456.7 MB/s  0 B/op  0 allocs/op ...".
func parseMetrics(s string) (map[string]float64, error) {
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("odd number of fields in %q", s)
	}
	out := make(map[string]float64, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", f[i+1], err)
		}
		out[f[i+1]] = v
	}
	return out, nil
}

// values returns a metric of a benchmark, one value per run that reported
// it, in the order of the runs.
func (r *results) values(name, unit string) []float64 {
	var vs []float64
	for _, m := range r.runs[name] {
		if v, ok := m[unit]; ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// median returns the median of a metric over the runs of a benchmark, and
// whether the benchmark reported it at all.
func (r *results) median(name, unit string) (float64, bool) {
	vs := r.values(name, unit)
	if len(vs) == 0 {
		return 0, false
	}
	return medianOf(vs), true
}

// medianRatio returns the median over the runs of metric unit of a divided
// by the same metric of b, pairing the runs by order (run i of each comes
// from pass i of benchmarks/run, where the two rows ran seconds apart, so
// load that came and went between passes cancels out of each ratio), and
// whether both were measured. When the two have different numbers of runs
// (a row failed or was skipped in some pass) the pairing is lost, and it
// returns the ratio of the medians.
func (r *results) medianRatio(a, b, unit string) (float64, bool) {
	ra, rb := r.values(a, unit), r.values(b, unit)
	if len(ra) == 0 || len(rb) == 0 {
		return 0, false
	}
	if len(ra) != len(rb) {
		ma, _ := r.median(a, unit)
		mb, _ := r.median(b, unit)
		if mb == 0 {
			return 0, false
		}
		return ma / mb, true
	}
	var ratios []float64
	for i := range ra {
		if rb[i] != 0 {
			ratios = append(ratios, ra[i]/rb[i])
		}
	}
	if len(ratios) == 0 {
		return 0, false
	}
	return medianOf(ratios), true
}

// medianOf returns the median of vs (not empty); it sorts vs.
func medianOf(vs []float64) float64 {
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// count is the largest number of runs of any benchmark (the -count used).
func (r *results) count() int {
	n := 0
	for _, runs := range r.runs {
		n = max(n, len(runs))
	}
	return n
}
