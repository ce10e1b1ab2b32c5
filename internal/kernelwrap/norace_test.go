//go:build !race

package kernelwrap_test

// raceEnabled is false: see race_test.go.
const raceEnabled = false
