package registry

import (
	"github.com/pipa-kr/pipa/pkg/accesslog"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// AccessRules are the registry's reads of personal data, recorded in the unit's ledger as ACCESS
// entries (S-2-3): officers (their names, phones and e-mails), and policy versions, whose frozen
// snapshot and rendering carry the same officers' details. Published policies are public and not
// recorded; units, sites, files and processors name no person.
var AccessRules = accesslog.Rules{
	registryv1.RegistryService_GetOfficer_FullMethodName:          accesslog.ByName((*registryv1.GetOfficerRequest).GetName, ""),
	registryv1.RegistryService_ListOfficers_FullMethodName:        accesslog.ByName((*registryv1.ListOfficersRequest).GetParent, "/officers"),
	registryv1.RegistryService_GetPolicyVersion_FullMethodName:    accesslog.ByName((*registryv1.GetPolicyVersionRequest).GetName, ""),
	registryv1.RegistryService_ListPolicyVersions_FullMethodName:  accesslog.ByName((*registryv1.ListPolicyVersionsRequest).GetParent, "/versions"),
	registryv1.RegistryService_RenderPolicyVersion_FullMethodName: accesslog.ByName((*registryv1.RenderPolicyVersionRequest).GetName, ""),
	registryv1.RegistryService_DiffPolicyVersions_FullMethodName:  accesslog.ByName((*registryv1.DiffPolicyVersionsRequest).GetName, ""),
}
