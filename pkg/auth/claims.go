package auth

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Claims says where an identity provider's tokens carry roles and what they mean in pipa, so
// that any city's single sign-on works as it is set up: Keycloak's realm_access.roles or
// resource_access.{client}.roles, Entra ID's roles and groups, or a pipa_roles claim of grants.
type Claims struct {
	// Paths are where in the token the roles are, each a claim name or a dotted path into nested
	// objects ("realm_access.roles", "resource_access.pipa.roles"); a name that itself has dots
	// ("https://pipa.go.kr/roles") is found as a whole. Each holds a list of grants as objects,
	// {"role": "cpo", "scope": "tenants/iksan"}, taken as they are, or of strings (one string
	// alone counts as a list of it), which Map turns into grants.
	Paths []string
	// Map is the grants each string role or group gives. Strings it does not name grant nothing
	// (providers add roles of their own, such as offline_access).
	Map map[string][]Grant
}

// DefaultClaims reads grants from the pipa_roles claim.
var DefaultClaims = Claims{Paths: []string{DefaultRolesClaim}}

// ParseClaimPaths reads PIPA_OIDC_ROLES_CLAIM: claim paths separated by commas.
func ParseClaimPaths(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// roleMapFile is the mapping file's form (PIPA_OIDC_ROLE_MAP):
//
//	claims: [realm_access.roles, groups]      # optional: replaces PIPA_OIDC_ROLES_CLAIM
//	roles:
//	  pipa-iksan-cpo:                          # a role or group as the provider writes it
//	    - {role: cpo, scope: tenants/iksan}
//	  /iksan/civil-safety:
//	    - {role: handler, scope: tenants/iksan/units/civil-safety}
type roleMapFile struct {
	Claims []string           `yaml:"claims"`
	Roles  map[string][]Grant `yaml:"roles"`
}

// LoadRoleMap reads a mapping file into c: its table, and its claim paths if it names any. A
// grant naming an unknown role or a malformed scope is an error naming the entry, so that a
// mistake shows at start-up rather than as tokens that grant nothing.
func LoadRoleMap(path string, c Claims) (Claims, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("role map: %w", err)
	}
	var f roleMapFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return c, fmt.Errorf("role map %s: %w", path, err)
	}
	for name, grants := range f.Roles {
		for _, g := range grants {
			if err := g.Validate(); err != nil {
				return c, fmt.Errorf("role map %s: %q: %w", path, name, err)
			}
		}
	}
	if len(f.Claims) > 0 {
		c.Paths = f.Claims
	}
	c.Map = f.Roles
	return c, nil
}

// Grants are the grants a token's claims hold. A grant object naming an unknown role or a
// malformed scope, or a claim that is neither a list nor a string, rejects the whole token, as a
// mistake in the provider's configuration should show at once rather than grant less.
func (c Claims) Grants(claims map[string]json.RawMessage) ([]Grant, error) {
	var out []Grant
	for _, path := range c.Paths {
		raw, ok := lookup(claims, path)
		if !ok || string(raw) == "null" {
			continue
		}
		var one string
		if json.Unmarshal(raw, &one) == nil {
			raw, _ = json.Marshal([]string{one})
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("roles claim %s: want a list of grants or of roles", path)
		}
		for _, item := range items {
			var name string
			if json.Unmarshal(item, &name) == nil {
				out = append(out, c.Map[name]...)
				continue
			}
			var g Grant
			dec := json.NewDecoder(strings.NewReader(string(item)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&g); err != nil {
				return nil, fmt.Errorf("roles claim %s: %w", path, err)
			}
			out = append(out, g)
		}
	}
	var unique []Grant
	for _, g := range out {
		if !slices.Contains(unique, g) {
			unique = append(unique, g)
		}
	}
	return unique, nil
}

// lookup finds path in claims: at each level the longest key that path starts with (followed by
// a dot or its end), so that "https://pipa.go.kr/roles" and "resource_access.pipa.iksan.go.kr.roles"
// are found with dots in their keys.
func lookup(claims map[string]json.RawMessage, path string) (json.RawMessage, bool) {
	best := ""
	for k := range claims {
		if (path == k || strings.HasPrefix(path, k+".")) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return nil, false
	}
	if best == path {
		return claims[best], true
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(claims[best], &inner) != nil {
		return nil, false
	}
	return lookup(inner, path[len(best)+1:])
}
