package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/pipa-kr/pipa/pkg/auth"
)

// tokenCmd mints a development token signed with the key the development server verifies with,
// for curl and frontends in development.
func tokenCmd(args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	role := fs.String("role", "tenant_admin", "role: cpo, manager, handler, auditor, tenant_admin or service")
	scope := fs.String("scope", "*", `scope: "*", tenants/{t} or tenants/{t}/units/{u}`)
	sub := fs.String("sub", "dev-admin", "subject (who the token is for)")
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime")
	c.devKeyFlag(fs, "the development key the server verifies with (PIPA_DEV_KEY; default: the .data/"+devKeyFile+" pipa dev made, found from here up)")
	if err := parse(fs, "token [-role r] [-scope s] [-sub s] [-ttl d] [-dev-key FILE]\n\nMints a development token with the key pipa dev serves with.", args, stdout, stderr); err != nil {
		return err
	}
	key, err := devSigningKey(c.devKey)
	if err != nil {
		return err
	}
	tok, err := auth.Mint(key, auth.Principal{Subject: *sub, Grants: []auth.Grant{{Role: auth.Role(*role), Scope: *scope}}}, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
