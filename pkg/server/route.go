package server

import (
	"regexp"
	"strings"
	"sync"
)

// captures are the variables of a google.api.http path template: {var} or {var=segments}.
var captures = regexp.MustCompile(`\{([^=}]+)(?:=([^}]*))?\}`)

// RouteTemplate writes a google.api.http path template (as grpc-gateway's Pattern.String gives
// it, "/v1/{name=tenants/*/units/*}:check") the way the OpenAPI document and the telemetry name
// the route: one parameter per id, named after its collection ("/v1/tenants/{tenant}/units/{unit}:check").
func RouteTemplate(pattern string) string {
	return captures.ReplaceAllStringFunc(pattern, func(c string) string {
		m := captures.FindStringSubmatch(c)
		if m[2] == "" || m[2] == "*" {
			return "{" + m[1] + "}"
		}
		segs := strings.Split(m[2], "/")
		for i, s := range segs {
			if s == "*" && i > 0 {
				segs[i] = "{" + ParamName(segs[i-1]) + "}"
			}
		}
		return strings.Join(segs, "/")
	})
}

// routeTemplates caches RouteTemplate for the gateway's patterns, which are few and asked for on
// every request.
var routeTemplates sync.Map

func routeTemplate(pattern string) string {
	if t, ok := routeTemplates.Load(pattern); ok {
		return t.(string)
	}
	t := RouteTemplate(pattern)
	routeTemplates.Store(pattern, t)
	return t
}

// ParamName names the id that follows a collection in a path: the singular of the collection
// ("entries" → "entry", "breaches" → "breach"), except where API.md names it otherwise.
func ParamName(collection string) string {
	switch {
	case collection == "policies":
		return "kind" // tenants/{t}/units/{u}/policies/{kind}: privacy or cctv
	case strings.HasSuffix(collection, "ies"):
		return strings.TrimSuffix(collection, "ies") + "y"
	case strings.HasSuffix(collection, "ches"), strings.HasSuffix(collection, "shes"), strings.HasSuffix(collection, "sses"):
		return strings.TrimSuffix(collection, "es") // breaches → breach
	}
	return strings.TrimSuffix(collection, "s")
}
