package faultproxy_test

import (
	"bufio"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/faultproxy"
)

// echo is a line echo server on loopback.
func echo(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return l.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, wait time.Duration) (string, error) {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	return r.ReadString('\n')
}

// Forwarded, then held while frozen and delivered on resume, then dropped and refused while down,
// and slowed by the latency set.
func TestFaults(t *testing.T) {
	t.Parallel()
	p, err := faultproxy.New(echo(t))
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	got, err := roundTrip(c, r, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, "ping\n", got)

	p.Freeze()
	_, err = roundTrip(c, r, 300*time.Millisecond)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "nothing comes back while frozen")
	p.Resume()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err = r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ping\n", got, "what was held is delivered")

	p.Down()
	_, err = roundTrip(c, r, 5*time.Second)
	require.Error(t, err, "the connection is dropped")
	c2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	_, err = roundTrip(c2, bufio.NewReader(c2), 5*time.Second)
	require.Error(t, err, "a new connection is refused")
	c2.Close()

	p.Resume()
	p.SetLatency(100 * time.Millisecond)
	c3, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c3.Close()
	start := time.Now()
	_, err = roundTrip(c3, bufio.NewReader(c3), 5*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "each direction delayed")
}
