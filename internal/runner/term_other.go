//go:build !linux

package runner

import (
	"errors"
	"io"
	"os"
)

// ptySupported says whether this build can run a child on a pseudo-terminal:
// only Linux for now, elsewhere hush run uses pipes.
const ptySupported = false

var errNoPTY = errors.New("run: pseudo-terminals are supported on Linux only")

func isTerminal(*os.File) bool                            { return false }
func sameFile(a, b *os.File) bool                         { return false }
func makeRaw(*os.File) (func(), error)                    { return nil, errNoPTY }
func openPTY() (*os.File, *os.File, error)                { return nil, nil, errNoPTY }
func copySize(master, from *os.File) error                { return errNoPTY }
func copyKeys(io.Writer, *os.File, <-chan struct{}) error { return errNoPTY }
