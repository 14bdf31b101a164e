package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/pipa-kr/pipa/services/ledger/verify"
)

// ledgerCmd holds the inspector's commands: `pipa ledger verify` audits a unit's ledger over the
// public REST API with nothing but the unit's verifier key (see package verify).
func ledgerCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: pipa ledger verify -url URL -log tenants/{t}/units/{u} [-key VKEY] [-state FILE] [-token T]")
	}
	fs := flag.NewFlagSet("ledger verify", flag.ContinueOnError)
	base := fs.String("url", env("PIPA_URL", "http://localhost:8080"), "pipa gateway (PIPA_URL)")
	log := fs.String("log", "", "the unit's log: tenants/{tenant}/units/{unit}")
	key := fs.String("key", "", "the unit's note verifier key to trust (default: fetched on first use and kept in -state)")
	state := fs.String("state", "", "file keeping the key and the last checkpoint seen (default: none)")
	token := fs.String("token", env("PIPA_TOKEN", ""), "bearer token with a read role on the unit, e.g. an auditor's (PIPA_TOKEN)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	st := &verify.State{}
	if *state != "" {
		var err error
		if st, err = verify.LoadState(*state); err != nil {
			return err
		}
	}
	if *key != "" {
		if st.VerifierKey != "" && st.VerifierKey != *key {
			return fmt.Errorf("-key differs from the key kept in %s", *state)
		}
		st.VerifierKey = *key
	}
	rep, err := verify.Run(ctx, verify.Client{BaseURL: *base, Token: *token}, *log, st)
	if err != nil {
		return err
	}
	if !rep.OK() {
		fmt.Printf("FAIL %s: %s\n", *log, rep.Problem)
		os.Exit(3)
	}
	if *state != "" {
		if err := st.Save(*state); err != nil {
			return err
		}
	}
	fmt.Printf("OK %s: %d entries in the tree of origin %s (root %s)\n", *log, rep.TreeSize, rep.Origin, rep.Root)
	return nil
}
