// Package faultproxy is a TCP proxy that tests and benchmarks put in front of a real server
// (PostgreSQL, a gRPC service) to make it slow, frozen or gone without touching the server that
// other tests share: Latency delays every chunk forwarded, Freeze holds the bytes (a server that
// stopped answering), Down drops every connection and refuses new ones (a server that is down).
// The faults are the network's; the server and the client are real.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections made to Addr to its target. Safe for concurrent use.
type Proxy struct {
	lis    net.Listener
	target string

	mu      sync.Mutex
	changed *sync.Cond
	conns   map[net.Conn]struct{}
	latency time.Duration
	frozen  bool
	down    bool
	closed  bool
}

// New listens on a loopback port and forwards to target (host:port).
func New(target string) (*Proxy, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{lis: lis, target: target, conns: map[net.Conn]struct{}{}}
	p.changed = sync.NewCond(&p.mu)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// SetLatency delays each chunk forwarded, in either direction, by d.
func (p *Proxy) SetLatency(d time.Duration) { p.set(func() { p.latency = d }) }

// Freeze holds every byte in either direction until Resume; connections stay open.
func (p *Proxy) Freeze() { p.set(func() { p.frozen = true }) }

// Resume forwards again what Freeze held, and clears Down.
func (p *Proxy) Resume() { p.set(func() { p.frozen, p.down = false, false }) }

// Down closes every connection and refuses new ones until Resume.
func (p *Proxy) Down() {
	p.set(func() {
		p.down = true
		for c := range p.conns {
			c.Close()
		}
	})
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.Down()
	p.set(func() { p.closed = true })
	return p.lis.Close()
}

func (p *Proxy) set(f func()) {
	p.mu.Lock()
	f()
	p.mu.Unlock()
	p.changed.Broadcast()
}

func (p *Proxy) accept() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	p.mu.Lock()
	refuse := p.down || p.closed
	p.mu.Unlock()
	if refuse {
		client.Close()
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pump(server, client); done <- struct{}{} }()
	go func() { p.pump(client, server); done <- struct{}{} }()
	<-done
	client.Close()
	server.Close()
	<-done
	p.set(func() { delete(p.conns, client); delete(p.conns, server) })
}

// track registers a pair of connections, unless the proxy went down meanwhile.
func (p *Proxy) track(a, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down || p.closed {
		a.Close()
		b.Close()
		return false
	}
	p.conns[a], p.conns[b] = struct{}{}, struct{}{}
	return true
}

// pump copies from src to dst, each chunk after the latency and while not frozen.
func (p *Proxy) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen && !p.down {
				p.changed.Wait()
			}
			d, down := p.latency, p.down
			p.mu.Unlock()
			if down {
				return
			}
			if d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}
