package runner

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ptySupported says whether this build can run a child on a pseudo-terminal.
const ptySupported = true

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// sameFile reports whether a and b are the same open file (same device and
// inode), as after "2>&1".
func sameFile(a, b *os.File) bool {
	if a == nil || b == nil {
		return false
	}
	var sa, sb unix.Stat_t
	if unix.Fstat(int(a.Fd()), &sa) != nil || unix.Fstat(int(b.Fd()), &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// makeRaw puts the terminal f in raw mode (cfmakeraw) and returns the
// function that restores the mode it had. Restoring twice is harmless.
func makeRaw(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("run: read terminal mode: %w", err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("run: put the terminal in raw mode: %w", err)
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// openPTY opens a pseudo-terminal. The master is returned non-blocking
// (a dup of creack/pty's descriptor, which Fd() made blocking), so reads
// from it honour deadlines; the slave is for the child.
func openPTY() (master, slave *os.File, err error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("run: open a pseudo-terminal: %w", err)
	}
	defer m.Close()
	fd, err := unix.Dup(int(m.Fd()))
	if err == nil {
		unix.CloseOnExec(fd)
		err = unix.SetNonblock(fd, true)
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("run: pseudo-terminal master: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), s, nil
}

// copySize gives the pseudo-terminal master the window size of the
// terminal from; the kernel sends the child SIGWINCH when it changes.
func copySize(master, from *os.File) error {
	ws, err := unix.IoctlGetWinsize(int(from.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return fmt.Errorf("run: read window size: %w", err)
	}
	rc, err := master.SyscallConn()
	if err != nil {
		return fmt.Errorf("run: window size: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return fmt.Errorf("run: window size: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("run: set window size: %w", serr)
	}
	return nil
}

// copyKeys copies what the user types on in to w until stop is closed or
// in ends. It polls in together with a wake-up pipe, so it never sits in a
// read of the user's terminal after the child is gone (which would
// swallow the next keystroke meant for the shell) and it leaves in's
// blocking mode alone.
func copyKeys(w io.Writer, in *os.File, stop <-chan struct{}) error {
	wakeR, wakeW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("run: keyboard wake-up pipe: %w", err)
	}
	defer wakeR.Close()
	go func() { <-stop; wakeW.Close() }()
	fds := []unix.PollFd{{Fd: int32(in.Fd()), Events: unix.POLLIN}, {Fd: int32(wakeR.Fd()), Events: unix.POLLIN}}
	buf := make([]byte, 4096)
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("run: wait for keystrokes: %w", err)
		}
		if fds[1].Revents != 0 {
			return nil
		}
		n, err := unix.Read(int(in.Fd()), buf)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil || n == 0 {
			return nil // the terminal is gone or at end: no more keystrokes
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return nil // the child's side is closed
		}
	}
}
