// Package sms sends pkg/outbound's text messages through a provider: SENS, the SMS API of NAVER
// Cloud Platform (public institutions use its government region, sens.apigw.gov-ntruss.com), or,
// for development, Log, which sends nothing and says so in the delivery record.
//
// SENS's shape, as its API guide documents it: POST {base}/sms/v2/services/{serviceId}/messages
// with a JSON body {"type":"SMS"|"LMS","contentType":"COMM","countryCode":"82","from":…,
// "content":…,"messages":[{"to":…}]} and three headers, x-ncp-apigw-timestamp (Unix ms),
// x-ncp-iam-access-key and x-ncp-apigw-signature-v2, the base64 HMAC-SHA256 under the secret key
// of "POST {path}\n{timestamp}\n{accessKey}". It answers 202 with {"requestId", "statusCode":
// "202", "statusName": "success"}.
package sms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pipa-kr/pipa/pkg/outbound"
)

// Message is a text message as the outbound keeps it (sealed: it names its recipient).
type Message struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// Payload is m as an outbound.Message's payload.
func (m Message) Payload() ([]byte, error) { return json.Marshal(m) }

func open(d outbound.Delivery) (Message, error) {
	var m Message
	if err := json.Unmarshal(d.Payload, &m); err != nil {
		return m, outbound.Permanent(err)
	}
	return m, nil
}

// Log is the development provider: it logs that a message would be sent, to a masked number,
// and records that it was not.
type Log struct{ Logger *slog.Logger }

// Send logs the message's length and the number's last four digits.
func (l Log) Send(ctx context.Context, d outbound.Delivery) (string, error) {
	m, err := open(d)
	if err != nil {
		return "", err
	}
	lg := l.Logger
	if lg == nil {
		lg = slog.Default()
	}
	lg.InfoContext(ctx, "sms not sent (development provider)", "to", Mask(m.To), "chars", utf8.RuneCountInString(m.Text), "key", d.Key)
	return "logged only (PIPA_SMS_PROVIDER=log): not sent", nil
}

// Mask keeps a phone number's last four digits.
func Mask(phone string) string {
	digits := digitsOf(phone)
	if len(digits) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(digits)-4) + digits[len(digits)-4:]
}

// mobilePattern is a Korean mobile number's digits: 010 and eight digits, or 011, 016–019 and
// seven or eight.
var mobilePattern = regexp.MustCompile(`^01(0[0-9]{8}|[16-9][0-9]{7,8})$`)

// MobileFormat says which numbers Mobile reads, for a refusal.
const MobileFormat = "must be a mobile number (010, 011, 016–019), e.g. 010-1234-5678, 01012345678 or +82 10-1234-5678"

// Mobile reads a Korean mobile number written with hyphens or spaces, or from +82, and returns
// its digits from 0 (01012345678), the form a provider takes with country code 82; ok is false
// for anything else (a landline, a foreign number, a typo).
func Mobile(s string) (digits string, ok bool) {
	d := strings.NewReplacer("-", "", " ", "").Replace(s)
	if rest, found := strings.CutPrefix(d, "+82"); found {
		d = "0" + strings.TrimPrefix(rest, "0")
	}
	if !mobilePattern.MatchString(d) {
		return "", false
	}
	return d, true
}

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// SENSConfig is a SENS project (PIPA_SMS_SENS_*).
type SENSConfig struct {
	// BaseURL is https://sens.apigw.ntruss.com, or https://sens.apigw.gov-ntruss.com for the
	// government region.
	BaseURL, ServiceID, AccessKey, SecretKey string
	// From is the registered sender number (발신번호).
	From string
}

// SENS sends through NAVER Cloud Platform's SENS.
type SENS struct {
	cfg    SENSConfig
	client *http.Client
	now    func() time.Time
}

// NewSENS checks cfg and returns its provider.
func NewSENS(cfg SENSConfig) (*SENS, error) {
	var missing []string
	for name, v := range map[string]string{"PIPA_SMS_SENS_SERVICE_ID": cfg.ServiceID, "PIPA_SMS_SENS_ACCESS_KEY": cfg.AccessKey,
		"PIPA_SMS_SENS_SECRET_KEY": cfg.SecretKey, "PIPA_SMS_FROM": cfg.From} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sms: SENS needs %s", strings.Join(missing, ", "))
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("sms: PIPA_SMS_SENS_URL %q: want an absolute URL", cfg.BaseURL)
	}
	return &SENS{cfg: cfg, client: &http.Client{Timeout: 30 * time.Second}, now: time.Now}, nil
}

// MaxBytes is the most one message carries: an LMS of 2,000 bytes as Bytes counts them. SENS
// refuses a longer one.
const MaxBytes = 2000

// Bytes is the length of s as the carriers count it: a byte for ASCII, two for anything else.
func Bytes(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= utf8.RuneSelf {
			n++
		}
	}
	return n
}

// Signature is SENS's x-ncp-apigw-signature-v2 of a request.
func Signature(method, path, timestamp, accessKey, secretKey string) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(method + " " + path + "\n" + timestamp + "\n" + accessKey))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Send posts the message: a short one as SMS, a longer one as LMS. A 4xx answer (a refused
// number, a bad key) is not retried; 429 and 5xx are.
func (s *SENS) Send(ctx context.Context, d outbound.Delivery) (string, error) {
	m, err := open(d)
	if err != nil {
		return "", err
	}
	kind := "SMS"
	if Bytes(m.Text) > 90 { // an SMS carries 90 bytes of EUC-KR: 45 Hangul syllables
		kind = "LMS"
	}
	body, err := json.Marshal(map[string]any{"type": kind, "contentType": "COMM", "countryCode": "82",
		"from": digitsOf(s.cfg.From), "content": m.Text, "messages": []map[string]string{{"to": digitsOf(m.To)}}})
	if err != nil {
		return "", outbound.Permanent(err)
	}
	path := "/sms/v2/services/" + url.PathEscape(s.cfg.ServiceID) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.cfg.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return "", outbound.Permanent(err)
	}
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("x-ncp-apigw-timestamp", ts)
	req.Header.Set("x-ncp-iam-access-key", s.cfg.AccessKey)
	req.Header.Set("x-ncp-apigw-signature-v2", Signature(http.MethodPost, path, ts, s.cfg.AccessKey, s.cfg.SecretKey))
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ RequestID, StatusCode, StatusName string }
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &out)
	answer := fmt.Sprintf("HTTP %s requestId=%s statusName=%s", resp.Status, out.RequestID, out.StatusName)
	switch {
	case resp.StatusCode == http.StatusAccepted:
		return answer, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return answer, errors.New(answer)
	}
	return answer, outbound.Permanent(errors.New(answer))
}
