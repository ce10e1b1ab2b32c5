//go:build race

package kernelwrap_test

// raceEnabled builds the hush binary of the Jupyter tests with the race
// detector when the tests themselves run with it, so that the wrapper's
// goroutines are checked against a real kernel.
const raceEnabled = true
