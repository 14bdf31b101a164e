// Package bundle lists the services the pipa binary contains, for the binary and for the tools
// that describe it (the OpenAPI documents).
package bundle

import (
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/requests"
	"github.com/pipa-kr/pipa/services/retention"
)

// Modules are the services, each declaring what it needs (pkg/modules).
var Modules = []modules.Module{registry.Module, ledger.Module, requests.Module, retention.Module}
