package server

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

func TestFindControl(t *testing.T) {
	ok := &registryv1.CreateSiteRequest{Parent: "tenants/a/units/b", Site: &registryv1.Site{DisplayName: "주차장 “정문”…",
		Coverage: "1층\t출입구\r\n2층 ※ 복도", Locations: []string{"출입구 ‐ 북측"}}}
	field, _ := findControl(ok.ProtoReflect())
	require.Empty(t, field)

	for want, c := range map[string]struct {
		m *registryv1.CreateSiteRequest
		r rune
	}{
		"request_id":                   {&registryv1.CreateSiteRequest{RequestId: "a\x00"}, 0},
		"site.display_name":            {&registryv1.CreateSiteRequest{Site: &registryv1.Site{DisplayName: "주\a차장"}}, '\a'},
		"site.locations[1]":            {&registryv1.CreateSiteRequest{Site: &registryv1.Site{Locations: []string{"x", "\x1b[2J"}}}, 0x1b},
		"site.purposes[0].description": {&registryv1.CreateSiteRequest{Site: &registryv1.Site{Purposes: []*registryv1.SitePurpose{{Description: "a\u0085"}}}}, 0x85},
		"site.coverage":                {&registryv1.CreateSiteRequest{Site: &registryv1.Site{Coverage: "정문\u202e다니합"}}, 0x202e},
		"site.storage_place":           {&registryv1.CreateSiteRequest{Site: &registryv1.Site{StoragePlace: "\u2067x\u2069"}}, 0x2067},
		"site.manager":                 {&registryv1.CreateSiteRequest{Site: &registryv1.Site{Manager: "x\x7f"}}, 0x7f},
	} {
		field, r := findControl(c.m.ProtoReflect())
		require.Equal(t, want, field)
		require.Equal(t, c.r, r, want)
	}
	// The metadata map of an error detail is walked too.
	field, _ = findControl((&errdetails.ErrorInfo{Metadata: map[string]string{"k": "\x00"}}).ProtoReflect())
	require.Equal(t, "metadata[k]", field)
}
