package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"
)

const rawChildArg = "-raw-socket-child"

// rawSocket measures the socket itself between two Go processes, with no
// parent and no codec: a ping-pong of 100-byte frames (p50 round trip) and
// a pump of 1 MiB frames from child to parent (MB/s).
func rawSocket(quick bool) (pumpMBps, pingP50us float64, err error) {
	dir, err := os.MkdirTemp("", "procwire-raw-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		return 0, 0, err
	}
	defer ln.Close()
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	child := exec.Command(self, rawChildArg, path)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		return 0, 0, err
	}
	defer child.Wait()
	nc, err := ln.Accept()
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	r := wire.NewReader(nc, 0, 256<<10)
	w := wire.NewWriter(nc)

	pings, frames := 20000, 2048
	if quick {
		pings, frames = 3000, 256
	}
	payload := make([]byte, 100)
	lat := make([]float64, 0, pings)
	var scratch []byte
	for i := 0; i < pings+1000; i++ {
		start := time.Now()
		if _, err := w.WriteFrame(wire.Header{Method: 1, RequestID: uint32(i + 1)}, payload); err != nil {
			return 0, 0, err
		}
		if _, _, scratch, err = r.Next(scratch); err != nil {
			return 0, 0, err
		}
		if i >= 1000 {
			lat = append(lat, float64(time.Since(start).Nanoseconds())/1000)
		}
	}
	sort.Float64s(lat)
	pingP50us = lat[len(lat)/2]

	var count [4]byte
	binary.BigEndian.PutUint32(count[:], uint32(frames))
	start := time.Now()
	if _, err := w.WriteFrame(wire.Header{Method: 2, RequestID: 1}, count[:]); err != nil {
		return 0, 0, err
	}
	var total int
	scratch = make([]byte, 1<<20)
	for i := 0; i < frames; i++ {
		var p []byte
		if _, p, scratch, err = r.Next(scratch); err != nil {
			return 0, 0, err
		}
		total += len(p) + wire.HeaderSize
	}
	pumpMBps = float64(total) / time.Since(start).Seconds() / 1e6
	w.WriteFrame(wire.Header{Method: 3})
	return pumpMBps, pingP50us, nil
}

// rawChild is the other process of rawSocket.
func rawChild(path string) {
	nc, err := net.Dial("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testenv.RawPeer(nc)
}
