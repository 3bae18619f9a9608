package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// This file finds the server's process and reads its peak resident set
// size from /proc (Linux): the process that owns the socket listening on
// the base URL's port, unless --pid names it.

// tcpListen is the state of a listening socket in /proc/net/tcp
// (include/net/tcp_states.h, TCP_LISTEN).
const tcpListen = "0A"

// pidListeningOn returns the process that has a socket listening on port
// on a loopback or unspecified address: /proc/net/tcp and tcp6 give the
// socket's inode, /proc/[pid]/fd links name it as socket:[inode].
func pidListeningOn(port int) (int, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue // no IPv6, or no /proc at all
		}
		if err != nil {
			return 0, err
		}
		for _, ino := range listeningInodes(b, port) {
			inodes["socket:["+ino+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("no socket listens on port %d in /proc/net/tcp{,6}", port)
	}

	procs, err := filepath.Glob("/proc/[0-9]*/fd")
	if err != nil {
		return 0, err
	}
	for _, dir := range procs {
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or another user's
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err == nil && inodes[link] {
				return strconv.Atoi(filepath.Base(filepath.Dir(dir)))
			}
		}
	}
	return 0, fmt.Errorf("a socket listens on port %d, but no process visible in /proc owns it "+
		"(another user's? pass --pid)", port)
}

// listeningInodes reads a /proc/net/tcp{,6} table (header, then one
// socket a line: sl local_address rem_address st ... uid timeout inode)
// and returns the inodes of the sockets listening on port on a loopback
// or unspecified address.
func listeningInodes(table []byte, port int) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != tcpListen {
			continue
		}
		addr, p, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(p, 16, 16)
		if err != nil || int(n) != port {
			continue
		}
		ip := procIP(addr)
		if ip == nil || !(ip.IsLoopback() || ip.IsUnspecified()) {
			continue
		}
		out = append(out, f[9])
	}
	return out
}

// procIP decodes an address of /proc/net/tcp{,6}: hex of the address in
// 32-bit words, each in host byte order (little-endian on the machines
// fhirbill runs on).
func procIP(s string) net.IP {
	b, err := hex.DecodeString(s)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b)
}

// memoryOf reads the peak (VmHWM) and current (VmRSS) resident set size
// of process pid, in bytes, from /proc/[pid]/status.
func memoryOf(pid int) (peak, current int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		f := strings.Fields(val) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/%d/status: unexpected %s line", pid, key)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
		}
		if key == "VmHWM" {
			peak = kb * 1024
		} else {
			current = kb * 1024
		}
	}
	if peak == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmHWM (a kernel thread?)", pid)
	}
	return peak, current, nil
}
