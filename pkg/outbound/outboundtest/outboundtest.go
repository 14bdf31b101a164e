// Package outboundtest runs, for tests and benchmarks, the real receivers of what pkg/outbound
// sends: an SMTP server (github.com/emersion/go-smtp, the server half of a maintained SMTP
// library, not a fake of our client) that keeps the mail it accepts — also one that requires
// STARTTLS and AUTH PLAIN or LOGIN (github.com/emersion/go-sasl) — an HTTP receiver that
// verifies each webhook's Standard Webhooks signature with the scheme's reference library and can
// be taken down and brought back, and an HTTP server of SENS's SMS API shape that checks its
// request signatures.
package outboundtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/outbound"
	outmail "github.com/pipa-kr/pipa/pkg/outbound/mail"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// Mail is a message the server accepted.
type Mail struct {
	From   string
	To     []string
	Header mail.Header
	// Subject is the decoded Subject header.
	Subject string
	// Text and HTML are the decoded text/plain and text/html parts.
	Text, HTML string
}

// MailServer is an SMTP server on a loopback port.
type MailServer struct {
	Addr string
	// CAFile is the PEM of the CA of the server's certificate (StartMailAuth).
	CAFile string
	// Conns counts the connections taken.
	Conns atomic.Int64
	// Sessions counts the sessions not ended yet (by the client's QUIT, or either side closing
	// the connection).
	Sessions atomic.Int64
	mu       sync.Mutex
	mail     []Mail
	open     []net.Conn
	refuse   map[string]int
}

// Refuse makes the server refuse RCPT TO addr with code (550: a permanent refusal, 450: a
// temporary one; 0: take it again), echoing the address in its reply as Postfix does ("550 5.1.1
// <addr>: Recipient address rejected: User unknown").
func (ms *MailServer) Refuse(addr string, code int) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.refuse == nil {
		ms.refuse = map[string]int{}
	}
	ms.refuse[addr] = code
}

// backend is a connection's session, counted and kept for CloseConnections.
func (ms *MailServer) backend(session func() smtp.Session) smtp.Backend {
	return smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ms.Conns.Add(1)
		ms.Sessions.Add(1)
		ms.mu.Lock()
		ms.open = append(ms.open, c.Conn())
		ms.mu.Unlock()
		return session(), nil
	})
}

// CloseConnections closes every connection the server took, as a relay that drops its idle
// clients does.
func (ms *MailServer) CloseConnections() {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for _, c := range ms.open {
		c.Close()
	}
	ms.open = nil
}

// StartMail serves SMTP until the test ends.
func StartMail(t testing.TB) *MailServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms := &MailServer{Addr: l.Addr().String()}
	srv := smtp.NewServer(ms.backend(func() smtp.Session { return &session{ms: ms} }))
	srv.Domain = "localhost"
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return ms
}

// StartMailAuth serves SMTP as a production relay does, until the test ends: it takes mail only
// from a client that upgraded with STARTTLS, to a certificate of its own CA (written to CAFile
// for the client to trust), and then authenticated as user with password by one of mechs
// (sasl.Plain, sasl.Login); otherwise it answers 530, or 535 to a wrong password.
func StartMailAuth(t testing.TB, user, password string, mechs ...string) *MailServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, caFile := selfSigned(t)
	ms := &MailServer{Addr: l.Addr().String(), CAFile: caFile}
	srv := smtp.NewServer(ms.backend(func() smtp.Session {
		return &authSession{session: session{ms: ms}, user: user, password: password, mechs: mechs}
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.AllowInsecureAuth = false // AUTH is offered only after STARTTLS
	go srv.Serve(l)               //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return ms
}

// selfSigned is a certificate for 127.0.0.1 and localhost that is its own CA, and the file of
// its PEM.
func selfSigned(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pipa test relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "relay-ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, file
}

// authSession is a session that takes mail only once authenticated.
type authSession struct {
	session
	user, password string
	mechs          []string
	authed         bool
}

func (s *authSession) AuthMechanisms() []string { return s.mechs }

func (s *authSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, password string) error {
		if user != s.user || password != s.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.authed = true
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, password string) error { return check(user, password) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *authSession) Mail(from string, opts *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return s.session.Mail(from, opts)
}

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login), which go-sasl has
// only a client of: a username and a password, each asked for.
type loginServer struct {
	check    func(user, password string) error
	user     string
	answered int
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.answered {
	case 0:
		l.answered++
		if response != nil { // the initial response is the username
			l.user = string(response)
			l.answered++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.answered++
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(response))
}

// Mail is what the server accepted so far.
func (ms *MailServer) Mail() []Mail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]Mail(nil), ms.mail...)
}

type session struct {
	ms   *MailServer
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { s.ms.Sessions.Add(-1); return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.ms.mu.Lock()
	code := s.ms.refuse[to]
	s.ms.mu.Unlock()
	if code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1},
			Message: "<" + to + ">: Recipient address rejected: User unknown"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return err
	}
	m := Mail{From: s.from, To: s.to, Header: msg.Header, Subject: subject}
	if err := parts(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return err
	}
	s.ms.mu.Lock()
	s.ms.mail = append(s.ms.mail, m)
	s.ms.mu.Unlock()
	return nil
}

// parts decodes a body of the content type into m's text and HTML.
func parts(m *Mail, contentType, encoding string, body io.Reader) error {
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return err
	}
	if strings.HasPrefix(media, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := parts(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch media {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}

// Received is a webhook delivery whose signature verified.
type Received struct {
	// ID is its webhook-id.
	ID string
	// Event is the CloudEvent's JSON.
	Event map[string]any
}

// Receiver is an HTTP receiver of webhooks signed with Secret.
type Receiver struct {
	URL    string
	Secret string
	wh     *standardwebhooks.Webhook
	down   atomic.Bool
	// Refused counts the posts answered 503 while down; Rejected those whose signature failed.
	Refused, Rejected atomic.Int64
	mu                sync.Mutex
	got               []Received
}

// StartReceiver serves webhooks, verifying them with secret (whsec_…), until the test ends.
func StartReceiver(t testing.TB, secret string) *Receiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &Receiver{Secret: secret, wh: wh}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/hooks/pipa"
	return r
}

// SetDown makes the receiver answer 503 Service Unavailable (down) or take deliveries (up).
func (r *Receiver) SetDown(down bool) { r.down.Store(down) }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	if r.down.Load() {
		r.Refused.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := r.wh.Verify(body, req.Header); err != nil {
		r.Rejected.Add(1)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev map[string]any
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.got = append(r.got, Received{ID: req.Header.Get("webhook-id"), Event: ev})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Received are the deliveries taken so far, in order of arrival (a redelivery included).
func (r *Receiver) Received() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.got...)
}

// Unique counts the distinct webhook-ids taken so far.
func (r *Receiver) Unique() int {
	seen := map[string]bool{}
	for _, g := range r.Received() {
		seen[g.ID] = true
	}
	return len(seen)
}

// SENS is an HTTP server answering as NAVER Cloud SENS's SMS API does (pkg/outbound/sms), which
// takes a message only when its signature verifies under AccessKey and SecretKey.
type SENS struct {
	URL, ServiceID, AccessKey, SecretKey string
	mu                                   sync.Mutex
	got                                  []map[string]any
}

// StartSENS serves until the test ends.
func StartSENS(t testing.TB) *SENS {
	t.Helper()
	s := &SENS{ServiceID: "ncp:sms:kr:1234:pipa", AccessKey: "ACCESS", SecretKey: "SECRET"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := sms.Signature(r.Method, r.URL.Path, r.Header.Get("x-ncp-apigw-timestamp"), s.AccessKey, s.SecretKey)
		if r.URL.Path != "/sms/v2/services/"+s.ServiceID+"/messages" || r.Header.Get("x-ncp-iam-access-key") != s.AccessKey ||
			r.Header.Get("x-ncp-apigw-signature-v2") != want {
			http.Error(w, `{"error":{"errorCode":"200","message":"Authentication Failed"}}`, http.StatusUnauthorized)
			return
		}
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.got = append(s.got, m)
		n := len(s.got)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"requestId":"RSSA-%d","statusCode":"202","statusName":"success"}`, n)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Config is the provider configuration that sends to this server.
func (s *SENS) Config() sms.SENSConfig {
	return sms.SENSConfig{BaseURL: s.URL, ServiceID: s.ServiceID, AccessKey: s.AccessKey, SecretKey: s.SecretKey, From: "063-539-6400"}
}

// Messages are the bodies taken so far.
func (s *SENS) Messages() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.got...)
}

// WithMail is the stack option that sends the services' mail to the SMTP server at addr (no TLS:
// it is on loopback) and gives a message up after attempts.
func WithMail(addr string, attempts int) stacktest.Option {
	return func(c *modules.Config) {
		c.Mail = outmail.Config{Addr: addr, From: "정읍시립도서관 <privacy@jeongeup.go.kr>", TLS: "none"}
		c.OutboundAttempts = attempts
	}
}

// WithMailAuth is the stack option that sends the services' mail to ms (StartMailAuth) with
// STARTTLS required, trusting its CA, as user with password, and gives a message up after
// attempts.
func WithMailAuth(ms *MailServer, user, password string, attempts int) stacktest.Option {
	return func(c *modules.Config) {
		c.Mail = outmail.Config{Addr: ms.Addr, From: "정읍시립도서관 <privacy@jeongeup.go.kr>", TLS: "starttls",
			CAFile: ms.CAFile, Username: user, Password: password}
		c.OutboundAttempts = attempts
	}
}

// WithLoopbackReceivers is the stack option that lets webhook subscriptions post to the test's
// own http receivers on loopback (PIPA_WEBHOOK_ALLOW_HTTP and _PRIVATE).
func WithLoopbackReceivers(c *modules.Config) {
	c.Webhooks = outbound.Guard{AllowHTTP: true, AllowPrivate: true}
}
