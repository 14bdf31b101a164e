package server

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

func TestFindNUL(t *testing.T) {
	ok := &registryv1.CreateSiteRequest{Parent: "tenants/a/units/b", Site: &registryv1.Site{DisplayName: "주차장", Locations: []string{"출입구"}}}
	require.Empty(t, findNUL(ok.ProtoReflect()))

	for want, m := range map[string]*registryv1.CreateSiteRequest{
		"request_id":                   {RequestId: "a\x00"},
		"site.display_name":            {Site: &registryv1.Site{DisplayName: "주\x00차장"}},
		"site.locations[1]":            {Site: &registryv1.Site{Locations: []string{"x", "\x00"}}},
		"site.purposes[0].description": {Site: &registryv1.Site{Purposes: []*registryv1.SitePurpose{{Description: "\x00"}}}},
	} {
		require.Equal(t, want, findNUL(m.ProtoReflect()))
	}
	// The metadata map of an error detail is walked too.
	require.Equal(t, "metadata[k]", findNUL((&errdetails.ErrorInfo{Metadata: map[string]string{"k": "\x00"}}).ProtoReflect()))
}
