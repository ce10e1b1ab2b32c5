package main

import (
	"fmt"
	"io"
)

// The dimensions of the escape-aware rows (BenchmarkRedactEscapes).
var (
	escapeSizes  = []int{100, 10000}
	escapeInputs = []string{"plain", "plain-4k", "colour", "colour-4k"}
)

func escapeName(n, w int, in, impl string) string {
	return fmt.Sprintf("BenchmarkRedactEscapes/keys=long/n=%d/w=%d/in=%s/impl=%s", n, w, in, impl)
}

func escapeInputLabel(in string) string {
	switch in {
	case "plain":
		return "no escapes, no match"
	case "plain-4k":
		return "no escapes, 1 per 4 KiB"
	case "colour":
		return "grep colours, no match"
	default:
		return "grep colours, 1 per 4 KiB cut by colour codes"
	}
}

// escapeTable prints the escape-aware rows: hush as it runs by default
// (matching through terminal escape sequences) beside hush with
// Options.Binary, and the per-pass ratio of the two.
func escapeTable(w io.Writer, r *results) {
	fmt.Fprintf(w, "\n### Matching through terminal escape sequences (API-key-like secrets)\n\n")
	fmt.Fprintf(w, "text = `redact.Options{}` (the default: escape-aware); binary = `Options{Binary: true}` (raw bytes only).\n")
	fmt.Fprintf(w, "On coloured input binary is faster but misses the values the colour codes cut.\n\n")
	fmt.Fprintf(w, "| secrets | write | input | text | binary | text/binary | text allocs/op |\n|---:|---:|---|---:|---:|---:|---:|\n")
	for _, n := range escapeSizes {
		for _, ws := range writeSizes {
			for _, in := range escapeInputs {
				on, off := escapeName(n, ws, in, "hush"), escapeName(n, ws, in, "hush-binary")
				if _, ok := r.runs[on]; !ok {
					continue
				}
				ratio := "—"
				if v, ok := r.medianRatio(on, off, r.speed()); ok {
					ratio = fmt.Sprintf("%.0f%%", 100*v)
				}
				fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s |\n", n, writeLabel(ws), escapeInputLabel(in),
					r.cell(on, r.speed(), mbps), r.cell(off, r.speed(), mbps), ratio, r.cell(on, "allocs/op", integer))
			}
		}
	}
}

// escapeTargets evaluates issue 12's target for the redactor: matching
// through escape sequences keeps at least 90 % of the throughput on output
// without escapes (the worst row of the no-escape inputs, each the median
// of its per-pass ratios text/binary).
func escapeTargets(r *results) []target {
	t := target{what: "matching through escape sequences keeps >= 90% of the throughput on output without escapes (worst no-escape row, text/binary, median of the per-pass ratios)", measured: "—"}
	worst, where, seen := 2.0, "", false
	for _, n := range escapeSizes {
		for _, ws := range writeSizes {
			for _, in := range []string{"plain", "plain-4k"} {
				v, ok := r.medianRatio(escapeName(n, ws, in, "hush"), escapeName(n, ws, in, "hush-binary"), r.speed())
				if !ok {
					continue
				}
				seen = true
				if v < worst {
					worst, where = v, fmt.Sprintf("%d secrets, %s writes, %s", n, writeLabel(ws), escapeInputLabel(in))
				}
			}
		}
	}
	if seen {
		t.measured = fmt.Sprintf("%.0f%% at %s", 100*worst, where)
		t.met = verdict(worst >= 0.90)
	}
	return []target{t}
}
