package registry

import (
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// parsePolicy parses tenants/{t}/units/{u}/policies/{privacy|cctv} (pkg/names) and its kind.
func parsePolicy(field, name string) (t, u string, kind registryv1.PolicyKind, err error) {
	t, u, seg, err := names.ParsePolicy(field, name)
	if err != nil {
		return "", "", 0, err
	}
	kind, _ = policy.KindFromSegment(seg)
	return t, u, kind, nil
}

// parseVersion parses tenants/{t}/units/{u}/policies/{kind}/versions/{n} (pkg/names) and its kind.
func parseVersion(field, name string) (t, u string, kind registryv1.PolicyKind, n int32, err error) {
	t, u, seg, n, err := names.ParseVersion(field, name)
	if err != nil {
		return "", "", 0, 0, err
	}
	kind, _ = policy.KindFromSegment(seg)
	return t, u, kind, n, nil
}

func policyName(t, u string, kind registryv1.PolicyKind) string {
	return names.Policy(t, u, policy.Segment(kind))
}
