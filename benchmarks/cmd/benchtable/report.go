package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
)

// The dimensions of the benchmark names (see benchmarks/redact_bench_test.go).
var (
	longSizes  = []int{1, 10, 100, 1000, 10000, 100000}
	shortSizes = []int{1, 100, 10000}
	writeSizes = []int{4096, 256}
	inputs     = []string{"none", "4k"}
)

func writeName(keys string, n int, impl string, w int, in string) string {
	return fmt.Sprintf("BenchmarkRedactWrite/keys=%s/n=%d/w=%d/in=%s/impl=%s", keys, n, w, in, impl)
}

func copyName(w int, in string) string { return fmt.Sprintf("BenchmarkRedactCopy/w=%d/in=%s", w, in) }

func buildName(n int, impl string) string {
	return fmt.Sprintf("BenchmarkRedactBuild/keys=long/n=%d/impl=%s", n, impl)
}

func addName(op string) string { return "BenchmarkRedactAdd/keys=long/n=100000/op=" + op }

func inputLabel(in string) string {
	if in == "4k" {
		return "1 per 4 KiB"
	}
	return "no match"
}

func writeLabel(w int) string {
	if w >= 1024 {
		return fmt.Sprintf("%d KiB", w/1024)
	}
	return fmt.Sprintf("%d B", w)
}

// cell formats a metric of a benchmark, or why it has none.
func (r *results) cell(name, unit string, format func(float64) string) string {
	if v, ok := r.median(name, unit); ok {
		return format(v)
	}
	if why, ok := r.skipped[name]; ok {
		if why == "" {
			why = "skipped"
		}
		// The cell keeps the reason, not its details: "skipped: needs ~14 GiB".
		why, _, _ = strings.Cut(why, " (")
		return why
	}
	return "—"
}

func mbps(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func integer(v float64) string { return fmt.Sprintf("%.0f", v) }

func ms(nsPerOp float64) string { return fmt.Sprintf("%.2f", nsPerOp/1e6) }

func mib(b float64) string { return fmt.Sprintf("%.1f", b/(1<<20)) }

// ratio formats a/b of two medians, or "—" when either is missing.
func (r *results) ratio(a, b string) string {
	x, ok1 := r.median(a, r.speed())
	y, ok2 := r.median(b, r.speed())
	if !ok1 || !ok2 || y == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1fx", x/y)
}

func report(w io.Writer, r *results) {
	fmt.Fprintf(w, "Machine: %s, GOMAXPROCS %d, %s/%s. Every number is the median of %d run(s).\n",
		orDash(r.env["cpu"]), r.procs, orDash(r.env["goos"]), orDash(r.env["goarch"]), r.count())
	if r.speed() == "cpu-MB/s" {
		fmt.Fprintf(w, "Throughput is MB/s = 10^6 input bytes per CPU second of the benchmark process (garbage collector included), except the \"wall clock\" column;\n")
		fmt.Fprintf(w, "on a machine shared with other work the two differ by the time spent waiting for a core. Targets are checked on CPU-second throughput.\n")
	} else {
		fmt.Fprintf(w, "Throughput is MB/s = 10^6 input bytes per wall-clock second.\n")
	}
	fmt.Fprintf(w, "hush = redact.Writer with raw patterns; one op = one Write.\n")
	if len(r.failed) > 0 {
		fmt.Fprintf(w, "\n**FAILED benchmarks:** %s\n", strings.Join(r.failed, ", "))
	}

	throughput(w, r, "long", longSizes, "API-key-like secrets (16 bytes and more)")
	throughput(w, r, "short", shortSizes, "short secrets (8 to 15 bytes), reported separately")

	fmt.Fprintf(w, "\n### hush with every derived encoding (redact.AllEncodings), API-key-like secrets\n\n")
	fmt.Fprintf(w, "| secrets | write | input | hush all-encodings | hush raw | allocs/op |\n|---:|---:|---|---:|---:|---:|\n")
	for _, n := range longSizes {
		for _, ws := range writeSizes {
			for _, in := range inputs {
				all := writeName("long", n, "hush-all", ws, in)
				if _, ok := r.runs[all]; !ok {
					continue
				}
				fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s |\n", n, writeLabel(ws), inputLabel(in),
					r.cell(all, r.speed(), mbps), r.cell(writeName("long", n, "hush", ws, in), r.speed(), mbps), r.cell(all, "allocs/op", integer))
			}
		}
	}

	fmt.Fprintf(w, "\n### Building a set of N API-key-like secrets from scratch (time %s)\n\n", r.opTimeLabel())
	fmt.Fprintf(w, "hush: `New` + `AddAll`; hush, one Add each: `New` + one `Add` per secret.\n\n")
	fmt.Fprintf(w, "| secrets | hush ms | hush MiB allocated | hush B/pattern | hush live B/pattern | hush, one Add each: ms | MiB allocated | Replacer ms | Replacer B/pattern | cloudflare ms | cloudflare B/pattern |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range longSizes {
		h, ha, rp, cf := buildName(n, "hush"), buildName(n, "hush-add"), buildName(n, "replacer"), buildName(n, "cloudflare")
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n,
			r.cell(h, r.opTime(), ms), r.cell(h, "B/op", mib), r.cell(h, "B/pattern", integer), r.cell(h, "live-B/pattern", integer),
			r.cell(ha, r.opTime(), ms), r.cell(ha, "B/op", mib),
			r.cell(rp, r.opTime(), ms), r.cell(rp, "B/pattern", integer),
			r.cell(cf, r.opTime(), ms), r.cell(cf, "B/pattern", integer))
	}

	fmt.Fprintf(w, "\n### Growing a set of 100,000 secrets by one (hush; time %s)\n\n| operation | ns/op | allocs/op |\n|---|---:|---:|\n", r.opTimeLabel())
	for _, op := range []string{"add", "add+write"} {
		label := "Add"
		if op == "add+write" {
			label = "Add, then one 4 KiB Write of a live Writer"
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", label, r.cell(addName(op), r.opTime(), integer), r.cell(addName(op), "allocs/op", integer))
	}
	fmt.Fprintf(w, "| (one 4 KiB Write alone, for comparison) | %s | %s |\n",
		r.cell(writeName("long", 100000, "hush", 4096, "none"), r.opTime(), integer), r.cell(writeName("long", 100000, "hush", 4096, "none"), "allocs/op", integer))

	escapeTable(w, r)

	fmt.Fprintf(w, "\n### Targets (issue 2)\n\n| target | measured | result |\n|---|---|---|\n")
	for _, t := range targets(r) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.what, t.measured, t.result())
	}
	fmt.Fprintf(w, "\n### Targets (issue 12, redactor)\n\n| target | measured | result |\n|---|---|---|\n")
	for _, t := range escapeTargets(r) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.what, t.measured, t.result())
	}
}

// speed is the throughput metric the tables and targets use: MB/s per CPU
// second when the benchmarks reported it, else wall-clock MB/s.
func (r *results) speed() string {
	for _, runs := range r.runs {
		for _, m := range runs {
			if _, ok := m["cpu-MB/s"]; ok {
				return "cpu-MB/s"
			}
		}
	}
	return "MB/s"
}

// opTime is the time-per-op metric of the build and Add tables: CPU time
// of the process when the benchmarks reported it, else wall-clock time.
func (r *results) opTime() string {
	if r.speed() == "cpu-MB/s" {
		return "cpu-ns/op"
	}
	return "ns/op"
}

func (r *results) opTimeLabel() string {
	if r.opTime() == "cpu-ns/op" {
		return "in CPU time of the process"
	}
	return "in wall-clock time"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func throughput(w io.Writer, r *results, keys string, sizes []int, title string) {
	fmt.Fprintf(w, "\n### Throughput, %s\n\n", title)
	fmt.Fprintf(w, "| secrets | write | input | hush | hush, wall clock | strings.Replacer | cloudflare | copy | hush/Replacer | hush/cloudflare | hush allocs/op |\n")
	fmt.Fprintf(w, "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range sizes {
		for _, ws := range writeSizes {
			for _, in := range inputs {
				h := writeName(keys, n, "hush", ws, in)
				rp := writeName(keys, n, "replacer", ws, in)
				cf := writeName(keys, n, "cloudflare", ws, in)
				fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, writeLabel(ws), inputLabel(in),
					r.cell(h, r.speed(), mbps), r.cell(h, "MB/s", mbps), r.cell(rp, r.speed(), mbps), r.cell(cf, r.speed(), mbps), r.cell(copyName(ws, in), r.speed(), mbps),
					r.ratio(h, rp), r.ratio(h, cf), r.cell(h, "allocs/op", integer))
			}
		}
	}
}

// target is one line of issue 2's targets, evaluated on the medians.
type target struct {
	what     string
	measured string
	// met is nil when the benchmarks the target needs did not run.
	met *bool
}

func (t target) result() string {
	switch {
	case t.met == nil:
		return "not measured"
	case *t.met:
		return "**met**"
	default:
		return "**missed**"
	}
}

func verdict(ok bool) *bool { return &ok }

// targets evaluates the targets of issue 2 ("Secrets of 16 bytes or more,
// through the Writer, no occurrence unless said").
func targets(r *results) []target {
	out := peerTargets(r)
	out = append(out, worstAtLeast(r, "4 KiB writes, up to 10,000 secrets: at least 2 GB/s", 4096, []int{1, 10, 100, 1000, 10000}, 2000))
	out = append(out, r.atLeast("4 KiB writes, 100,000 secrets: at least 1 GB/s", writeName("long", 100000, "hush", 4096, "none"), 1000))
	out = append(out, worstAtLeast(r, "256-byte writes, up to 10,000 secrets: at least 400 MB/s", 256, []int{1, 10, 100, 1000, 10000}, 400))
	return append(out, occurrenceCostTarget(r), allocTarget(r), buildTimeTarget(r), buildMemoryTarget(r), growTarget(r), shortTarget(r))
}

// peerTargets checks 4 KiB writes with 100 secrets: the ratios to the
// peers and the absolute speed.
func peerTargets(r *results) []target {
	var out []target
	h100, okH := r.median(writeName("long", 100, "hush", 4096, "none"), r.speed())
	for _, peer := range []struct {
		impl, label string
		factor      float64
	}{{"replacer", "strings.Replacer", 20}, {"cloudflare", "cloudflare/ahocorasick Match", 8}} {
		t := target{what: fmt.Sprintf("4 KiB writes, 100 secrets: at least %.0fx %s", peer.factor, peer.label), measured: "—"}
		if p, ok := r.median(writeName("long", 100, peer.impl, 4096, "none"), r.speed()); ok && okH && p > 0 {
			t.measured = fmt.Sprintf("%.1fx (%s vs %s MB/s)", h100/p, mbps(h100), mbps(p))
			t.met = verdict(h100/p >= peer.factor)
		}
		out = append(out, t)
	}
	return append(out, r.atLeast("4 KiB writes, 100 secrets: about 3 GB/s (checked as >= 3000 MB/s)", writeName("long", 100, "hush", 4096, "none"), 3000))
}

// occurrenceCostTarget: one occurrence per 4 KiB costs under 30%, in every
// measured row. The cost is the throughput lost on the 1-per-4-KiB row
// against the no-match row, taken pass by pass (the two rows run seconds
// apart), median over the passes.
func occurrenceCostTarget(r *results) target {
	t := target{what: "one occurrence per 4 KiB costs under 30% (worst row of all set sizes and write sizes; throughput lost, median of the passes)", measured: "—"}
	worst, where, seen := -1.0, "", false
	for _, n := range longSizes {
		for _, ws := range writeSizes {
			ratio, ok := r.medianRatio(writeName("long", n, "hush", ws, "4k"), writeName("long", n, "hush", ws, "none"), r.speed())
			if !ok {
				continue
			}
			seen = true
			if c := 1 - ratio; c > worst {
				worst, where = c, fmt.Sprintf("%d secrets, %s writes", n, writeLabel(ws))
			}
		}
	}
	if seen {
		t.measured = fmt.Sprintf("%.0f%% less throughput at %s", 100*worst, where)
		t.met = verdict(worst < 0.30)
	}
	return t
}

// allocTarget: 0 allocations per Write, in every hush Write row.
func allocTarget(r *results) target {
	t := target{what: "0 allocations per Write in steady state (every hush row)", measured: "—"}
	worst, where, seen := 0.0, "", false
	names := slices.Sorted(maps.Keys(r.runs))
	for _, name := range names {
		if !strings.HasPrefix(name, "BenchmarkRedactWrite/") || !(strings.HasSuffix(name, "/impl=hush") || strings.HasSuffix(name, "/impl=hush-all")) {
			continue
		}
		v, ok := r.median(name, "allocs/op")
		if !ok {
			continue
		}
		if !seen || v > worst {
			worst, where = v, strings.TrimPrefix(name, "BenchmarkRedactWrite/")
		}
		seen = true
	}
	if seen {
		t.measured = fmt.Sprintf("max %.0f allocs/op", worst)
		if worst > 0 {
			t.measured += " (" + where + ")"
		}
		t.met = verdict(worst == 0)
	}
	return t
}

// buildTimeTarget: build 100,000 secrets in under 150 ms. The build is New
// + AddAll, as the peers are built by their constructors; one Add per
// secret is shown beside it.
func buildTimeTarget(r *results) target {
	t := target{what: "build 100,000 secrets in under 150 ms (New + AddAll)", measured: "—"}
	if v, ok := r.median(buildName(100000, "hush"), r.opTime()); ok {
		t.measured, t.met = ms(v)+" ms", verdict(v < 150e6)
		if a, ok := r.median(buildName(100000, "hush-add"), r.opTime()); ok {
			t.measured += fmt.Sprintf(" (one Add each: %s ms)", ms(a))
		}
	}
	return t
}

// buildMemoryTarget: build 100,000 secrets in under 64 MiB.
func buildMemoryTarget(r *results) target {
	t := target{what: "build 100,000 secrets in under 64 MiB (New + AddAll; bytes allocated by the build, live heap shown too)", measured: "—"}
	alloc, ok1 := r.median(buildName(100000, "hush"), "B/op")
	live, ok2 := r.median(buildName(100000, "hush"), "live-B/pattern")
	if ok1 {
		t.measured = mib(alloc) + " MiB allocated"
		if ok2 {
			t.measured += fmt.Sprintf(", %s MiB live", mib(live*100000))
		}
		t.met = verdict(alloc < 64<<20)
	}
	return t
}

// growTarget: adding one to 100,000 secrets costs well under a millisecond
// amortised, including the next Write's pick-up of the grown set.
func growTarget(r *results) target {
	t := target{what: "grow 100,000 secrets by one: well under 1 ms amortised (checked as Add + next 4 KiB Write - Write alone < 0.1 ms)", measured: "—"}
	aw, ok1 := r.median(addName("add+write"), r.opTime())
	wr, ok2 := r.median(writeName("long", 100000, "hush", 4096, "none"), r.opTime())
	add, ok3 := r.median(addName("add"), r.opTime())
	if ok1 && ok2 {
		t.measured = fmt.Sprintf("%.1f µs (Add alone %s)", (aw-wr)/1e3, func() string {
			if ok3 {
				return fmt.Sprintf("%.1f µs", add/1e3)
			}
			return "—"
		}())
		t.met = verdict(aw-wr < 100e3)
	}
	return t
}

// shortTarget: short secrets are correct (each benchmark checks its exact
// output before timing and fails otherwise) and reported in their own table.
func shortTarget(r *results) target {
	t := target{what: "short secrets (8-15 bytes) stay correct and are reported separately", measured: "—"}
	rows := 0
	for _, n := range shortSizes {
		for _, ws := range writeSizes {
			for _, in := range inputs {
				if _, ok := r.runs[writeName("short", n, "hush", ws, in)]; ok {
					rows++
				}
			}
		}
	}
	if rows > 0 {
		worst := math.Inf(1)
		for _, n := range shortSizes {
			if v, ok := r.median(writeName("short", n, "hush", 4096, "none"), r.speed()); ok {
				worst = min(worst, v)
			}
		}
		t.measured = fmt.Sprintf("%d rows, output verified before timing; slowest 4 KiB no-match row %s MB/s", rows, mbps(worst))
		t.met = verdict(len(r.failed) == 0)
	}
	return t
}

// atLeast checks a minimum speed of one benchmark.
func (r *results) atLeast(what, name string, floor float64) target {
	v, ok := r.median(name, r.speed())
	if !ok {
		return target{what: what, measured: "—"}
	}
	return target{what: what, measured: r.speedText(name, v), met: verdict(v >= floor)}
}

// speedText formats a speed, with the wall-clock figure when the speed is
// per CPU second.
func (r *results) speedText(name string, v float64) string {
	s := mbps(v) + " MB/s"
	if wall, ok := r.median(name, "MB/s"); ok && r.speed() != "MB/s" {
		s += fmt.Sprintf(" (wall clock %s)", mbps(wall))
	}
	return s
}

// worstAtLeast checks a minimum speed over several set sizes (no-match
// input) and reports the slowest row.
func worstAtLeast(r *results, what string, ws int, sizes []int, floor float64) target {
	worst, where := math.Inf(1), 0
	for _, n := range sizes {
		if v, ok := r.median(writeName("long", n, "hush", ws, "none"), r.speed()); ok && v < worst {
			worst, where = v, n
		}
	}
	if where == 0 {
		return target{what: what, measured: "—"}
	}
	return target{what: what, measured: fmt.Sprintf("slowest %s at %d secrets", r.speedText(writeName("long", where, "hush", ws, "none"), worst), where), met: verdict(worst >= floor)}
}
