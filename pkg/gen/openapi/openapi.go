// Package openapi embeds the OpenAPI v2 documents generated from proto/ (one per service), which
// the gateway merges and serves at /openapi.json. Only this file is written by hand.
package openapi

import "embed"

// FS holds <service>.swagger.json for every service.
//
//go:embed *.swagger.json
var FS embed.FS
