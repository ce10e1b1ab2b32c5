package kernelwrap

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ConnectionInfo is a Jupyter connection file: where a kernel's five
// sockets are and how its messages are signed.
type ConnectionInfo struct {
	Transport       string `json:"transport"`
	IP              string `json:"ip"`
	ShellPort       int    `json:"shell_port"`
	IOPubPort       int    `json:"iopub_port"`
	StdinPort       int    `json:"stdin_port"`
	ControlPort     int    `json:"control_port"`
	HBPort          int    `json:"hb_port"`
	Key             string `json:"key"`
	SignatureScheme string `json:"signature_scheme"`
	KernelName      string `json:"kernel_name,omitempty"`
}

// ReadConnectionFile reads and checks the connection file at path. Errors
// never include the key.
func ReadConnectionFile(path string) (ConnectionInfo, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("read connection file: %w", err)
	}
	var ci ConnectionInfo
	if err := json.Unmarshal(raw, &ci); err != nil {
		return ConnectionInfo{}, fmt.Errorf("connection file %s is not valid JSON: %w", path, err)
	}
	if ci.Transport == "" {
		ci.Transport = "tcp"
	}
	if ci.Transport != "tcp" && ci.Transport != "ipc" {
		return ConnectionInfo{}, fmt.Errorf("connection file %s: transport %q is not supported (tcp or ipc)", path, ci.Transport)
	}
	if ci.IP == "" {
		ci.IP = "127.0.0.1"
	}
	for name, p := range map[string]int{"shell_port": ci.ShellPort, "iopub_port": ci.IOPubPort, "stdin_port": ci.StdinPort, "control_port": ci.ControlPort, "hb_port": ci.HBPort} {
		if p <= 0 || p > 65535 {
			return ConnectionInfo{}, fmt.Errorf("connection file %s: %s %d is not a port", path, name, p)
		}
	}
	return ci, nil
}

// endpoint returns the ZeroMQ endpoint of port, as jupyter_client builds it:
// tcp://IP:PORT, or ipc://IP-PORT.
func (ci ConnectionInfo) endpoint(port int) string {
	if ci.Transport == "ipc" {
		return "ipc://" + ci.IP + "-" + strconv.Itoa(port)
	}
	host := ci.IP
	if host == "0.0.0.0" || host == "*" {
		host = "0.0.0.0"
	}
	return "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// innerConnection returns connection info for the inner kernel: loopback
// TCP on five free ports and a fresh random key.
func innerConnection(scheme string) (ConnectionInfo, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return ConnectionInfo{}, fmt.Errorf("generate inner kernel key: %w", err)
	}
	ports, err := freePorts(5)
	if err != nil {
		return ConnectionInfo{}, err
	}
	if scheme == "" {
		scheme = "hmac-sha256"
	}
	return ConnectionInfo{
		Transport: "tcp", IP: "127.0.0.1",
		ShellPort: ports[0], IOPubPort: ports[1], StdinPort: ports[2], ControlPort: ports[3], HBPort: ports[4],
		Key: hex.EncodeToString(key[:]), SignatureScheme: scheme,
	}, nil
}

// freePorts returns n distinct free loopback TCP ports (free when asked:
// the inner kernel binds them a moment later, as jupyter_client does).
//
// The ports are chosen below the kernel's ephemeral range: the wrapper dials
// them before the inner kernel listens, and a connect retried to a port of
// the ephemeral range can meet itself (TCP self-connect, source port equal
// to destination port) and then hold the port the kernel wants to bind.
func freePorts(n int) ([]int, error) {
	lo := ephemeralLow()
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for attempt := 0; len(ports) < n && attempt < 1000; attempt++ {
		addr := "127.0.0.1:0"
		if lo > minPort+1000 {
			addr = "127.0.0.1:" + strconv.Itoa(minPort+int(randUint32()%uint32(lo-minPort)))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	if len(ports) < n {
		return nil, errors.New("find free ports for the inner kernel: none left")
	}
	return ports, nil
}

// minPort is the lowest port chosen for the inner kernel.
const minPort = 10000

// ephemeralLow returns the first port of the ephemeral range connect()
// chooses source ports from (Linux: /proc/sys/net/ipv4/ip_local_port_range),
// or 0 when unknown.
func ephemeralLow() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return lo
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}

// writeConnectionFile writes ci as a new file of mode 0600 in a new private
// directory and returns its path; remove the directory with removeAll.
func writeConnectionFile(ci ConnectionInfo) (path string, removeAll func(), err error) {
	dir, err := os.MkdirTemp("", "hush-kernel-")
	if err != nil {
		return "", nil, fmt.Errorf("directory for the inner connection file: %w", err)
	}
	removeAll = func() { os.RemoveAll(dir) }
	doc, err := json.MarshalIndent(ci, "", "  ")
	if err != nil {
		removeAll()
		return "", nil, fmt.Errorf("encode inner connection file: %w", err)
	}
	path = filepath.Join(dir, "kernel-inner.json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		removeAll()
		return "", nil, fmt.Errorf("write inner connection file: %w", err)
	}
	_, werr := f.Write(append(doc, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		removeAll()
		return "", nil, fmt.Errorf("write inner connection file: %w", werr)
	}
	return path, removeAll, nil
}

// errNoArgv is returned when there is no inner kernel to run.
var errNoArgv = errors.New("no inner kernel command given")
