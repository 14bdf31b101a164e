package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pipa-kr/pipa/services/ledger/verify"
)

// ledgerCmd holds the inspector's commands: `pipa ledger verify` audits a unit's ledger over what
// pipa serves publicly (its tlog-tiles and verifier key) with nothing but a key it trusts (see
// package verify).
func ledgerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "ledger verify -url URL -log tenants/{t}/units/{u} [-key VKEY] [-state FILE] [-token T] [-witness WKEY]… [-cosigs N] [-full]"
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		fmt.Fprintln(stdout, "usage: pipa "+synopsis+"\n\nRun \"pipa ledger verify -h\" for its flags.")
		return errHelp
	case len(args) == 0 || args[0] != "verify":
		fmt.Fprintln(stderr, "usage: pipa "+synopsis)
		return errUsage
	}
	fs := flag.NewFlagSet("ledger verify", flag.ContinueOnError)
	base := fs.String("url", env("PIPA_URL", "http://localhost:8080"), "pipa gateway (PIPA_URL)")
	log := fs.String("log", "", "the unit's log, tenants/{tenant}/units/{unit}, or the tenant's own (its staff's role grants, S-5), tenants/{tenant}/units/-")
	key := fs.String("key", "", "the unit's note verifier key to trust, e.g. from its published policy page (default: fetched on first use and kept in -state)")
	state := fs.String("state", "", "file keeping the key, the last tree seen and its edge, so that the next run reads only new entries (default: none)")
	token := fs.String("token", env("PIPA_TOKEN", ""), "bearer token with a read role on the unit, e.g. an auditor's: reads the entries unless the tenant published them, and checks redactions (PIPA_TOKEN)")
	var witnesses multi
	fs.Var(&witnesses, "witness", "a witness's cosignature verifier key the checkpoint may carry (repeatable)")
	cosigs := fs.Int("cosigs", -1, "how many of the -witness keys must have cosigned the checkpoint (default: all of them)")
	full := fs.Bool("full", false, "read every entry again, not only those after the tree kept in -state")
	if err := parse(fs, synopsis+"\n\nAudits a unit's ledger over what pipa serves publicly (its tlog-tiles and verifier key).", args[1:], stdout, stderr); err != nil {
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
	policy := verify.Policy{Witnesses: witnesses, Cosignatures: *cosigs, Full: *full}
	if *cosigs < 0 {
		policy.Cosignatures = len(witnesses)
	}
	c := &verify.Client{BaseURL: *base, Token: *token}
	rep, err := verify.Run(ctx, c, *log, st, policy)
	if err != nil {
		return err
	}
	if !rep.OK() {
		fmt.Fprintf(stdout, "FAIL %s: %s\n", *log, rep.Problem)
		return exitCode(3)
	}
	if *state != "" {
		if err := st.Save(*state); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "OK %s: %d entries in the tree of origin %s (root %s), %d read in %d requests", *log, rep.TreeSize, rep.Origin, rep.Root, rep.Read, c.Requests.Load())
	if len(rep.Witnesses) > 0 {
		fmt.Fprintf(stdout, ", cosigned by %s", strings.Join(rep.Witnesses, ", "))
	}
	if rep.Unchecked != "" {
		fmt.Fprintf(stdout, "; not checked: %s", rep.Unchecked)
	}
	fmt.Fprintln(stdout)
	return nil
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
