package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

const (
	maxKeyIDLen = 64
	nonceSize   = 12
	sep         = 0x00
)

var (
	// ErrOpen means the sealed bytes did not authenticate: wrong associated data, a wrong key
	// under the right id, or altered bytes. It deliberately does not say which.
	ErrOpen = errors.New("seal: cannot open: authentication failed")
	// ErrUnknownKey means the sealed bytes name a key id this Box does not hold.
	ErrUnknownKey = errors.New("seal: sealed with an unknown key id")
	// ErrMalformed means the bytes are not sealed bytes at all.
	ErrMalformed = errors.New("seal: malformed sealed bytes")
	// ErrNoKey means neither PIPA_DATA_KEY nor PIPA_DATA_KEY_FILE is set.
	ErrNoKey = errors.New("seal: no data key: set PIPA_DATA_KEY or PIPA_DATA_KEY_FILE")
)

// Box seals with its current key and opens with any key it holds. It is safe for concurrent use.
type Box struct {
	current string
	aeads   map[string]cipher.AEAD
	// tagKeys are the keys' HMAC keys for Tags, derived from them.
	tagKeys map[string][]byte
}

// New returns a Box over keys (id → 32-byte AES-256 key) that seals with keys[current].
// The key bytes are copied into the cipher state; the map may be cleared afterwards.
func New(keys map[string][]byte, current string) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no keys")
	}
	b := &Box{current: current, aeads: make(map[string]cipher.AEAD, len(keys)), tagKeys: make(map[string][]byte, len(keys))}
	for id, k := range keys {
		if err := checkKeyID(id); err != nil {
			return nil, err
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("seal: key %q is %d bytes, want %d (AES-256)", id, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: cannot build cipher", id)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: cannot build GCM", id)
		}
		b.aeads[id] = aead
		m := hmac.New(sha256.New, k)
		m.Write([]byte("pipa seal: tag key v1"))
		b.tagKeys[id] = m.Sum(nil)
	}
	if _, ok := b.aeads[current]; !ok {
		return nil, fmt.Errorf("seal: current key %q is not among the keys", current)
	}
	return b, nil
}

// Current is the id of the key Seal uses.
func (b *Box) Current() string { return b.current }

// Seal encrypts plaintext with the current key, binding it to associatedData, under a fresh
// random nonce. With random 96-bit nonces one key should seal fewer than 2^32 values (NIST
// SP 800-38D 8.3); rotate long before that.
func (b *Box) Seal(plaintext, associatedData []byte) ([]byte, error) {
	aead := b.aeads[b.current]
	hdrLen := len(b.current) + 1
	out := make([]byte, hdrLen+nonceSize, hdrLen+nonceSize+len(plaintext)+aead.Overhead())
	copy(out, b.current)
	out[len(b.current)] = sep
	nonce := out[hdrLen : hdrLen+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, aad(out[:hdrLen], associatedData)), nil
}

// Open decrypts sealed bytes with the key whose id they carry, checking associatedData.
func (b *Box) Open(sealed, associatedData []byte) ([]byte, error) {
	id, hdrLen, err := splitHeader(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := b.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	rest := sealed[hdrLen:]
	if len(rest) < nonceSize+aead.Overhead() {
		return nil, ErrMalformed
	}
	pt, err := aead.Open(nil, rest[:nonceSize], rest[nonceSize:], aad(sealed[:hdrLen], associatedData))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Tags are keyed hashes (HMAC-SHA256) of value for purpose, one under each key the Box holds, the
// current key's first: an index stores the first, in place of a personal value, and finds it
// with any of them, so that a value tagged before the current key changed is still found. Unlike
// a plain hash, a tag cannot be checked against guessed values without the key.
func (b *Box) Tags(purpose string, value []byte) [][]byte {
	out := make([][]byte, 0, len(b.tagKeys))
	tag := func(k []byte) []byte {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(purpose))
		m.Write([]byte{sep})
		m.Write(value)
		return m.Sum(nil)
	}
	out = append(out, tag(b.tagKeys[b.current]))
	for id, k := range b.tagKeys {
		if id != b.current {
			out = append(out, tag(k))
		}
	}
	return out
}

// KeyID returns the id of the key that sealed these bytes, so that a rotation job can find the
// values still sealed with an old key and re-seal them.
func KeyID(sealed []byte) (string, error) {
	id, _, err := splitHeader(sealed)
	return id, err
}

func splitHeader(sealed []byte) (id string, hdrLen int, err error) {
	i := bytes.IndexByte(sealed, sep)
	if i <= 0 || i > maxKeyIDLen {
		return "", 0, ErrMalformed
	}
	id = string(sealed[:i])
	if checkKeyID(id) != nil {
		return "", 0, ErrMalformed
	}
	return id, i + 1, nil
}

// aad authenticates the header too, so that the key id cannot be swapped unnoticed.
func aad(header, associatedData []byte) []byte {
	out := make([]byte, 0, len(header)+len(associatedData))
	return append(append(out, header...), associatedData...)
}

func checkKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("seal: key id must be 1 to %d characters", maxKeyIDLen)
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errors.New("seal: key id may contain only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// Parse builds a Box from "id:base64key[,id:base64key...]"; the first key is current. Entries
// may also be separated by newlines, so a key file can hold one key a line. Keys are standard
// base64 (padded or not) of 32 bytes.
func Parse(spec string) (*Box, error) {
	fields := strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	keys := make(map[string][]byte, len(fields))
	current := ""
	for n, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		id, enc, ok := strings.Cut(f, ":")
		if !ok {
			// Never echo f: it may be a bare key.
			return nil, fmt.Errorf("seal: key %d is not of the form id:base64key", n+1)
		}
		id = strings.TrimSpace(id)
		if err := checkKeyID(id); err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", n+1, err)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("seal: key id %q appears twice", id)
		}
		k, err := decodeKey(strings.TrimSpace(enc))
		if err != nil {
			return nil, fmt.Errorf("seal: key %q is not valid base64", id)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("seal: key %q is %d bytes, want %d (AES-256)", id, len(k), KeySize)
		}
		keys[id] = k
		if current == "" {
			current = id
		}
	}
	if current == "" {
		return nil, errors.New("seal: no keys in key specification")
	}
	return New(keys, current)
}

func decodeKey(s string) ([]byte, error) {
	if k, err := base64.StdEncoding.DecodeString(s); err == nil {
		return k, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// FromEnv builds the Box from PIPA_DATA_KEY, or from the file named by PIPA_DATA_KEY_FILE. Setting
// both is an error (which one wins would be a guess); setting neither returns ErrNoKey, on which a
// development set-up may fall back to LoadOrCreateDevKey.
func FromEnv() (*Box, error) {
	spec, hasSpec := os.LookupEnv("PIPA_DATA_KEY")
	file, hasFile := os.LookupEnv("PIPA_DATA_KEY_FILE")
	hasSpec, hasFile = hasSpec && spec != "", hasFile && file != ""
	switch {
	case hasSpec && hasFile:
		return nil, errors.New("seal: set only one of PIPA_DATA_KEY and PIPA_DATA_KEY_FILE")
	case hasSpec:
		b, err := Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("PIPA_DATA_KEY: %w", err)
		}
		return b, nil
	case hasFile:
		return loadFile(file)
	}
	return nil, ErrNoKey
}

func loadFile(path string) (*Box, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seal: read key file: %w", err)
	}
	b, err := Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return b, nil
}

// LoadOrCreateDevKey opens the key file at path, creating it (mode 0600, one random key with id
// "dev-" and 8 hex digits) when it does not exist. For development only: production keys come
// from a secret store through FromEnv.
func LoadOrCreateDevKey(path string) (*Box, error) {
	if _, err := os.Stat(path); err == nil {
		return loadFile(path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	var raw [KeySize + 4]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("seal: random key: %w", err)
	}
	line := fmt.Sprintf("dev-%x:%s\n", raw[KeySize:], base64.StdEncoding.EncodeToString(raw[:KeySize]))
	// Write a temporary file and hard-link it into place: the key file appears complete or not at
	// all, and if another process won the race we read its key instead of replacing it.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pipa-data-key-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("seal: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(line); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("seal: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("seal: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return loadFile(path)
	} else if err != nil {
		return nil, fmt.Errorf("seal: create key file: %w", err)
	}
	return Parse(line)
}
