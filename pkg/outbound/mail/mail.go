// Package mail sends pkg/outbound's mail over SMTP with github.com/wneessen/go-mail, a
// maintained client that does STARTTLS and implicit TLS, SMTP AUTH (PLAIN, LOGIN, CRAM-MD5,
// SCRAM), SMTPUTF8 for Korean addresses and subjects, and reports the server's reply. Each
// delivery goes out with its own Message-ID, made from the delivery's idempotency key, so that a
// message retried after a lost reply is recognisably the same message.
package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	netmail "net/mail"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
	"golang.org/x/net/html"

	"github.com/pipa-kr/pipa/pkg/outbound"
)

// Config is the SMTP relay (PIPA_SMTP_*).
type Config struct {
	// Addr is host:port of the relay; empty: no mail is sent and it waits in the outbound.
	Addr string
	// From is the sender's address, e.g. "정읍시 개인정보 <privacy@jeongeup.go.kr>".
	From string
	// Username and Password authenticate (SMTP AUTH PLAIN, or LOGIN when the relay offers only
	// that) when Username is set.
	Username, Password string
	// TLS: "starttls" (required, the default), "tls" (implicit, port 465), "opportunistic" or
	// "none" (a relay on this host only).
	TLS string
	// Domain is the right side of the Message-IDs; From's domain when empty.
	Domain string
	// CAFile is a PEM file of the CAs that sign the relay's certificate, trusted instead of the
	// system's (a relay of the body's own network with an internal CA); empty: the system's.
	CAFile string
}

// Message is a mail as the outbound keeps it (sealed: it names its recipient).
type Message struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
}

// Payload is m as an outbound.Message's payload.
func (m Message) Payload() ([]byte, error) { return json.Marshal(m) }

// Sender sends the outbound's mail through the relay. It keeps up to maxIdle connections open
// between messages, as a mail client that sends many does: a message then costs its own commands
// (MAIL, RCPT, DATA), not a connection, a greeting, STARTTLS and AUTH each. go-mail's NOOP
// before each message and NOOP and RSET after it are left out (WithoutNoop, WithoutRset): a
// completed transaction needs no RSET before the next MAIL, which starts a new one (RFC 5321
// 3.3; a failed one is still reset), and a connection the relay closed meanwhile fails at MAIL,
// before anything of the message was sent, which then goes on a new connection. Three round
// trips a message less.
type Sender struct {
	cfg    Config
	client *gomail.Client
	domain string
	mu     sync.Mutex
	idle   []*smtp.Client
	closed bool
}

// maxIdle is how many connections a Sender keeps open while it has nothing to send: as many as
// the outbound sends at once, so that a busy outbound dials none (fewer would be dialled and
// closed again for every message past them).
const maxIdle = outbound.Parallel

// New checks cfg and returns its sender.
func New(cfg Config) (*Sender, error) {
	host, port, ok := strings.Cut(cfg.Addr, ":")
	if !ok {
		return nil, fmt.Errorf("mail: PIPA_SMTP_ADDR %q: want host:port", cfg.Addr)
	}
	var p int
	if _, err := fmt.Sscan(port, &p); err != nil {
		return nil, fmt.Errorf("mail: PIPA_SMTP_ADDR %q: want host:port", cfg.Addr)
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: PIPA_SMTP_FROM %q: %w", cfg.From, err)
	}
	domain := cfg.Domain
	if domain == "" {
		_, domain, _ = strings.Cut(from.Address, "@")
	}
	opts := []gomail.Option{gomail.WithPort(p), gomail.WithTimeout(10 * time.Second), gomail.WithoutNoop(), gomail.WithoutRset()}
	switch cfg.TLS {
	case "", "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, fmt.Errorf("mail: PIPA_SMTP_TLS %q: want starttls, tls, opportunistic or none", cfg.TLS)
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mail: PIPA_SMTP_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail: PIPA_SMTP_CA_FILE %q: no PEM certificate in it", cfg.CAFile)
		}
		opts = append(opts, gomail.WithTLSConfig(&tls.Config{ServerName: host, RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return &Sender{cfg: cfg, client: client, domain: domain}, nil
}

// Send sends one mail, the Message a Composer made (d.Content) or the one its payload holds: a
// permanent refusal (a 5xx reply) is not retried, anything else is.
func (s *Sender) Send(ctx context.Context, d outbound.Delivery) (string, error) {
	m, ok := d.Content.(Message)
	if !ok && d.Content != nil {
		return "", outbound.Permanent(fmt.Errorf("mail: a composer made a %T, not a mail.Message", d.Content))
	}
	if !ok {
		if err := json.Unmarshal(d.Payload, &m); err != nil {
			return "", outbound.Permanent(err)
		}
	}
	// Base64, not go-mail's quoted-printable: a Hangul syllable is 3 bytes of UTF-8, 4 of base64
	// for 3 bytes but 9 of quoted-printable, and encoding base64 costs the sender less CPU.
	msg := gomail.NewMsg(gomail.WithEncoding(gomail.EncodingB64))
	if err := msg.From(s.cfg.From); err != nil {
		return "", outbound.Permanent(err)
	}
	if err := msg.To(m.To); err != nil {
		return "invalid recipient address", outbound.Permanent(errors.New(unnamed(m.To, err.Error())))
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(d.Key + "@" + s.domain)
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	err := s.send(ctx, msg)
	answer := unnamed(m.To, strings.TrimSpace(msg.ServerResponse()))
	if err != nil {
		err = &unnamedError{text: unnamed(m.To, err.Error()), err: err}
	}
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 {
		return answer, outbound.Permanent(err)
	}
	if err == nil && answer == "" {
		answer = "accepted"
	}
	return answer, err
}

// unnamed is text with the recipient's address (to, and the bare address in it) written
// <recipient>: what Send answers is recorded unsealed, logged and shown to staff, and neither
// go-mail's errors ("affected recipient(s): …") nor a relay's refusal ("550 5.1.1 <…>: Recipient
// address rejected") may carry the address there.
func unnamed(to, text string) string {
	names := []string{to}
	if a, err := netmail.ParseAddress(to); err == nil {
		names = []string{"<" + a.Address + ">", to, a.Address} // the bracketed form first: no <<recipient>>
	}
	for _, n := range names {
		text = replaceFold(text, strings.TrimSpace(n), "<recipient>")
	}
	return text
}

// replaceFold is text with every occurrence of old, in any case (strings.EqualFold), replaced by
// with: unnamed's match without compiling a regular expression for each mail.
func replaceFold(text, old, with string) string {
	if old == "" {
		return text
	}
	var b strings.Builder
	start := 0
	for i := 0; i+len(old) <= len(text); {
		if strings.EqualFold(text[i:i+len(old)], old) {
			b.WriteString(text[start:i])
			b.WriteString(with)
			i += len(old)
			start = i
			continue
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	if start == 0 {
		return text
	}
	b.WriteString(text[start:])
	return b.String()
}

// unnamedError is an error of a send whose text names no recipient (unnamed); it unwraps to
// go-mail's error, for its reply code.
type unnamedError struct {
	text string
	err  error
}

func (e *unnamedError) Error() string { return e.text }
func (e *unnamedError) Unwrap() error { return e.err }

// send sends msg on an idle connection, or on a new one when none is idle or the idle one is
// gone: it failed at MAIL without a reply (the relay closed it), so nothing of msg was sent on it.
func (s *Sender) send(ctx context.Context, msg *gomail.Msg) error {
	if c := s.take(); c != nil {
		err := s.sendOn(c, msg)
		var se *gomail.SendError
		if !errors.As(err, &se) || (se.Reason != gomail.ErrConnCheck && se.Reason != gomail.ErrSMTPMailFrom) || se.ErrorCode() != 0 {
			return err
		}
	}
	c, err := s.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("dial failed: %w", err)
	}
	return s.sendOn(c, msg)
}

// sendOn sends msg on c and keeps c for the next message, unless it failed. A message the relay
// took is sent, whatever failed after it (the RSET that follows).
func (s *Sender) sendOn(c *smtp.Client, msg *gomail.Msg) error {
	if err := s.client.SendWithSMTPClient(c, msg); err != nil {
		s.client.CloseWithSMTPClient(c) //nolint:errcheck // a connection given up
		if msg.IsDelivered() {
			return nil
		}
		return err
	}
	s.put(c)
	return nil
}

func (s *Sender) take() *smtp.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.idle) == 0 {
		return nil
	}
	c := s.idle[len(s.idle)-1]
	s.idle = s.idle[:len(s.idle)-1]
	return c
}

func (s *Sender) put(c *smtp.Client) {
	s.mu.Lock()
	if !s.closed && len(s.idle) < maxIdle {
		s.idle, c = append(s.idle, c), nil
	}
	s.mu.Unlock()
	if c != nil {
		s.client.CloseWithSMTPClient(c) //nolint:errcheck // one connection too many
	}
}

// Close ends the idle connections' sessions (QUIT), and from then on each connection a send
// still in progress returns: the relay sees them ended, not dropped. The process calls it when it
// stops, after the outbound dispatchers that send (pkg/modules); a Send after Close still works, on a
// connection of its own.
func (s *Sender) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	var errs []error
	for _, c := range idle {
		errs = append(errs, s.client.CloseWithSMTPClient(c))
	}
	return errors.Join(errs...)
}

// TextOf is the text of an HTML page for a mail's text/plain part: its words, a line per block
// (paragraph, heading, table row, list item), a heading cell followed by ":".
func TextOf(page string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(page))
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(blankLines.ReplaceAllString(b.String(), "\n"))
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			start := tt == html.StartTagToken
			switch tag := string(name); tag {
			case "title", "style", "script":
				if start {
					skip++
				} else if skip > 0 {
					skip--
				}
			case "p", "h1", "h2", "h3", "tr", "li", "br", "div", "table", "ul":
				b.WriteString("\n")
			case "td":
				if start {
					b.WriteString(" ")
				}
			case "th":
				if !start {
					b.WriteString(":")
				}
			}
		case html.TextToken:
			if skip == 0 {
				b.WriteString(strings.Join(strings.Fields(string(z.Text())), " "))
			}
		}
	}
}

var blankLines = regexp.MustCompile(`\n\s*\n(\s*\n)*`)

// Officer is an official an alert is mailed to.
type Officer struct{ ID, Email string }

// Alert writes in tx, once for the tenant's key (outbound.Once), a mail of subject and text to
// each officer with an address, about subject resource about; it reports whether it was new.
// The request service's deadlines use it; a breach's clock or a register falling due
// (issues 15 and 16) is the same call with its own key.
func Alert(ctx context.Context, tx pgx.Tx, o *outbound.Outbound, tenant, key, about, subject, text string, to []Officer) (bool, error) {
	fresh, err := o.Once(ctx, tx, tenant, key)
	if err != nil || !fresh {
		return false, err
	}
	for _, off := range to {
		if off.Email == "" {
			continue
		}
		payload, err := Message{To: off.Email, Subject: subject, Text: text}.Payload()
		if err != nil {
			return false, err
		}
		if _, err := o.Enqueue(ctx, tx, tenant, outbound.Message{Channel: outbound.Mail, Target: "officer:" + off.ID,
			Subject: about, Label: key, Payload: payload, Personal: true}); err != nil {
			return false, err
		}
	}
	return true, nil
}
