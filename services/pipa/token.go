package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/pipa-kr/pipa/pkg/auth"
)

// tokenCmd mints a development token signed with the dev key, for curl and frontends in dev.
func tokenCmd(args []string) error {
	var c config
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	c.flags(fs)
	role := fs.String("role", "tenant_admin", "role: cpo, manager, handler, auditor, tenant_admin or service")
	scope := fs.String("scope", "*", `scope: "*", tenants/{t} or tenants/{t}/units/{u}`)
	sub := fs.String("sub", "dev-admin", "subject (who the token is for)")
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := auth.LoadOrCreateDevKey(c.devKeyPath())
	if err != nil {
		return err
	}
	tok, err := auth.Mint(key, auth.Principal{Subject: *sub, Grants: []auth.Grant{{Role: auth.Role(*role), Scope: *scope}}}, *ttl)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
