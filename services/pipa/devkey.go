package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipa-kr/pipa/pkg/auth"
)

// The development files `make run` (pipa dev) keeps in the repository's .data directory.
const (
	devKeyFile  = "dev-key.pem"
	dataKeyFile = "data-key"
)

// devData finds the .data directory of development: the nearest one, from the working directory
// up, that holds the development key, else the nearest one at all (make run's PostgreSQL made
// it), else .data here; and the directories it looked in. So pipa token, run anywhere in the
// repository, finds the key pipa dev serves with.
func devData() (dir string, hasKey bool, looked []string, err error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", false, nil, err
	}
	nearest := ""
	for d := wd; ; d = filepath.Dir(d) {
		looked = append(looked, d)
		data := filepath.Join(d, ".data")
		if _, err := os.Stat(filepath.Join(data, devKeyFile)); err == nil {
			return data, true, looked, nil
		}
		if st, err := os.Stat(data); err == nil && st.IsDir() && nearest == "" {
			nearest = data
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if nearest == "" {
		nearest = filepath.Join(wd, ".data")
	}
	return nearest, false, looked, nil
}

// devSigningKey is the key the development server verifies tokens with, for the commands that
// mint them (token, import): -dev-key or PIPA_DEV_KEY, else the .data/dev-key.pem pipa dev made.
// It never makes one: a new key would mint tokens the running server refuses.
func devSigningKey(path string) (ed25519.PrivateKey, error) {
	if path != "" {
		key, err := auth.LoadDevKey(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no development key at %s (-dev-key or PIPA_DEV_KEY): give the key the server was started with", path)
		}
		return key, err
	}
	dir, ok, looked, err := devData()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no development key: PIPA_DEV_KEY is not set and there is no .data/%s in %s; start the server with make run (pipa dev), which makes one, or set PIPA_DEV_KEY to the key the server uses",
			devKeyFile, strings.Join(looked, ", "))
	}
	return auth.LoadDevKey(filepath.Join(dir, devKeyFile))
}
