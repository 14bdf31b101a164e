package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Rule ids are read where LAW.md defines them: at the opening of a bold run, with the shorthands
// the catalogue uses, and nothing from runs of words or dates.
func TestRuleIDs(t *testing.T) {
	law := `**PIPA-30-1** Every processor must adopt a privacy policy.
**STD-20 / DEC-31-2,3** Publication: post the policy **within 10 days** of **2026-10-31**.
**PIPA-25의2 / DEC-27, 27-2 / STD-39-2 (mobile cameras: body cams)** In public places …
**PIPA-21-1** Destroy without delay. **21-3:** data kept under another law are stored separately.
**PIPA-26-4 / DEC-28-6** Train processors. **26-6:** sub-processing needs consent. **28-5-2:** no.
**PIPA-34-2 / DEC-39의2, 39의3 (possible breach)** Notify.
**NOTICE-7D — UNVERIFIED as a legal rule.** **State machine.** **INFERRED from the 2025-9호 부칙:**
1. **Request clock and SLA (DEC-41-4/5, DEC-42-2).** Every request …
**S-6/S-7** Secure authentication. **DEC-32-2 (other public bodies)** again.`
	require.Equal(t, []string{
		"PIPA-30-1", "STD-20", "DEC-31-2", "DEC-31-3",
		"PIPA-25의2", "DEC-27", "DEC-27-2", "STD-39-2",
		"PIPA-21-1", "PIPA-21-3",
		"PIPA-26-4", "DEC-28-6", "PIPA-26-6", "DEC-28-5-2",
		"PIPA-34-2", "DEC-39의2", "DEC-39의3",
		"NOTICE-7D", "S-6", "S-7", "DEC-32-2",
	}, ruleIDs(law))
}

// A citation is a whole token: PIPA-35-4 is not cited by PIPA-35-45, STD-42 not by STD-42-1,
// S-2 not by ABS-2; Korean branch articles are one token, and Korean text may follow them.
func TestCitations(t *testing.T) {
	require.Equal(t, []string{"PIPA-35-45", "STD-42-1", "DEC-39의2", "ABS-2", "S-2-3", "C-12-Q2"},
		citations(`// PIPA-35-45, STD-42-1 and DEC-39의2에 따라; ABS-2 cites no S rule, nor does xS-2; "S-2-3" (C-12-Q2)`))
	require.Equal(t, []string{"PIPA-35-4"}, citations("PIPA-35-4: refusal grounds; PIPA-35-4 again"))
}

// Code and tests are told apart; an id the code cites and no test names is untested; a citation
// with a LAW.md prefix that LAW.md does not define is listed, and other tokens are not citations.
func TestBuild(t *testing.T) {
	ids := []string{"PIPA-35-4", "PIPA-35-45", "STD-42-1", "DEC-39의2", "S-5"}
	files := map[string]string{
		"services/a/server.go":            "// PIPA-35-4, DEC-39의2 and STD-44 (the article); receipt R-2026-000001",
		"services/a/server_test.go":       "// PIPA-35-4 refused",
		"services/a/atest/fixtures.go":    "// DEC-39의2 as a test names it",
		"services/b/store.sql":            "-- PIPA-35-45",
		"services/b/migrations/x_test.go": "// STD-42-1",
	}
	x := Build(ids, files, isTest)
	require.Equal(t, map[string][]string{"PIPA-35-4": {"services/a/server.go"}, "DEC-39의2": {"services/a/server.go"},
		"PIPA-35-45": {"services/b/store.sql"}}, x.Code)
	require.Equal(t, map[string][]string{"PIPA-35-4": {"services/a/server_test.go"}, "DEC-39의2": {"services/a/atest/fixtures.go"},
		"STD-42-1": {"services/b/migrations/x_test.go"}}, x.Tests)
	require.Equal(t, []string{"PIPA-35-45"}, x.Untested())
	require.Equal(t, map[string][]string{"STD-44": {"services/a/server.go"}}, x.Unknown)

	md := x.Markdown("LAW.md")
	require.Contains(t, md, "5 rule ids: 3 enforced in code, 3 named by tests, 2 not enforced yet.")
	require.Contains(t, md, "| PIPA-35-4 | services/a/server.go | services/a/server_test.go |")
	require.Contains(t, md, "| PIPA-35-45 | services/b/store.sql | — |")
	require.Contains(t, md, "| S-5 | — |")
	require.Contains(t, md, "| STD-42-1 | services/b/migrations/x_test.go |")
	require.Contains(t, md, "| STD-44 | services/a/server.go |")
}
