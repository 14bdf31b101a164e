// Package openapi embeds the OpenAPI documents pipa serves, written by `make generate`
// (services/pipa/internal/apidoc): pipa.json and pipa.v3.json with every service's operations
// (Swagger 2.0 and OpenAPI 3.1), and {service}.json and {service}.v3.json. Only this file is
// written by hand.
package openapi

import "embed"

// FS holds the documents.
//
//go:embed *.json
var FS embed.FS
