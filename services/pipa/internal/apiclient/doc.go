// Package apiclient is a client of pipa's REST API that oapi-codegen generates from the OpenAPI
// 3.1 document pipa serves (pkg/gen/openapi/pipa.v3.json, by `make generate`), as a department's
// frontend would. Only the contract tests (services/pipa/openapi_test.go) use it.
package apiclient
