// Command benchtable reads the output of `go test -bench -benchmem -v` for
// package benchmarks (see benchmarks/run) and prints one markdown report:
// the throughput tables (hush against strings.Replacer, cloudflare/ahocorasick
// and copy), the escape-aware rows (hush with and without Options.Binary),
// the build and Add tables, and each target of issues 2 and 12 marked met or
// missed. With -count > 1 every number is the median of the runs.
//
// Usage:
//
//	go test -run '^$' -bench . -benchmem -count 3 -v ./benchmarks/ > out.txt
//	go run ./benchmarks/cmd/benchtable < out.txt
//
// It exits 1 when the input holds a failed benchmark (the report is still
// printed, with the failures listed) and 2 when it is given arguments.
package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: go test -run '^$' -bench . -benchmem -v ./benchmarks/ | benchtable")
		os.Exit(2)
	}
	res, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	report(w, res)
	if err := w.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: write report: %v\n", err)
		os.Exit(1)
	}
	if len(res.failed) > 0 {
		os.Exit(1)
	}
}
