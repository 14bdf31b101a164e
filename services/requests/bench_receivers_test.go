//go:build unix

package requests_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
)

// BenchmarkOutbound's receivers, the SMTP server and the webhook receiver: by default in a child
// process of the benchmark (this test binary again, running TestBenchReceivers), as in
// production, where the relay and the subscribers run elsewhere: cpu-ms/op then counts pipa's
// side only, and recv-cpu-ms/op the receivers'; with PIPA_BENCH_RECEIVERS=process, in the
// benchmark's process. Both share the machine's cores with the steps either way.
const receiversEnv = "PIPA_BENCH_RECEIVERS"

// benchReceivers are the receivers as the benchmark uses them.
type benchReceivers struct {
	smtpAddr, url string
	// counts are the mails taken, the distinct events taken, and the posts whose signature failed.
	counts func() (mails, events, rejected int)
	// cpu is the receivers' CPU time so far when they run in a child; nil otherwise.
	cpu func() time.Duration
}

func startReceivers(b *testing.B) benchReceivers {
	if os.Getenv(receiversEnv) == "process" {
		smtpd := outboundtest.StartMail(b)
		recv := outboundtest.StartReceiver(b, benchSecret)
		return benchReceivers{smtpAddr: smtpd.Addr, url: recv.URL, counts: func() (int, int, int) {
			return len(smtpd.Mail()), recv.Unique(), int(recv.Rejected.Load())
		}}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchReceivers$")
	cmd.Env = append(os.Environ(), receiversEnv+"=serve")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait() //nolint:errcheck // the child ends when its stdin closes
	})
	lines := bufio.NewScanner(stdout)
	var addr []string
	for lines.Scan() {
		if f := strings.Fields(lines.Text()); len(f) == 4 && f[0] == "receivers" {
			addr = f[1:]
			break
		}
	}
	require.Len(b, addr, 3, "the receivers' child process printed no addresses")
	go io.Copy(io.Discard, stdout) //nolint:errcheck // the rest of the child's output
	return benchReceivers{smtpAddr: addr[0], url: addr[1],
		counts: func() (mails, events, rejected int) {
			resp, err := http.Get(addr[2])
			require.NoError(b, err)
			defer resp.Body.Close()
			_, err = fmt.Fscan(resp.Body, &mails, &events, &rejected)
			require.NoError(b, err)
			return mails, events, rejected
		},
		cpu: func() time.Duration { return childCPU(b, cmd.Process.Pid) }}
}

// childCPU is the user and system time of process pid, from /proc (in clock ticks of 10 ms).
func childCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(b, err)
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, err := strconv.ParseInt(f[11], 10, 64)
	require.NoError(b, err)
	stime, err := strconv.ParseInt(f[12], 10, 64)
	require.NoError(b, err)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// TestBenchReceivers is the receivers' child process of BenchmarkOutbound: it serves until its
// stdin closes, and answers its counts on a third address.
func TestBenchReceivers(t *testing.T) {
	if os.Getenv(receiversEnv) != "serve" {
		t.Skip("the receivers' child process of BenchmarkOutbound")
	}
	smtpd := outboundtest.StartMail(t)
	recv := outboundtest.StartReceiver(t, benchSecret)
	counts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%d %d %d", len(smtpd.Mail()), recv.Unique(), recv.Rejected.Load())
	}))
	defer counts.Close()
	fmt.Printf("receivers %s %s %s\n", smtpd.Addr, recv.URL, counts.URL)
	io.Copy(io.Discard, os.Stdin) //nolint:errcheck // until the benchmark closes it
}
