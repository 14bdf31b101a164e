// Package request is the request workflow's domain: what a data subject's request (PIPA 35–37-2,
// STD-44) or another body's provision request (PIPA-18-2) is, what the law says of each type
// (its statutory days, the grounds a decision may cite, the notice form), the checks of intake,
// identity, decisions and notices, each naming its LAW.md rule, and the state machine whose
// steps issue notices and say what the unit's ledger must record.
//
// It is plain Go on the generated messages: no gRPC, no SQL. What it needs of other services is
// given to it — the tenant's clock and standing (Tenant), the registry's sites and files at intake
// (Directory) — fetched before any row is locked, so that no network call happens in a
// transaction. The service's handlers parse and authorize, call it, store what it decided, and
// answer (services/requests/README.md tells the life of a request).
package request

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/services/requests/clock"
)

// Request is a request as the workflow keeps it. Doc is everything the API shows but the personal
// fields, which are in Personal (sealed apart by the store).
type Request struct {
	Tenant, Unit string
	Doc          *requestsv1.Request
	Personal     Personal
	// Revision and Created make the etag (AIP-154).
	Revision int64
	Created  time.Time
	// Entries are the outbox ids of its ledger entries, in the order of Doc.Ledger.
	Entries []int64
}

// Personal are a request's personal fields.
type Personal struct {
	Requester *requestsv1.Person
	Subject   *requestsv1.Person
	// Secret opens the public status page; kept so that a retried submission gets it again.
	Secret string
}

// Full is the whole request, personal fields and etag included.
func (r *Request) Full() *requestsv1.Request {
	out := proto.CloneOf(r.Doc)
	out.Requester = r.Personal.Requester
	out.Subject = r.Personal.Subject
	out.Etag = strconv.FormatInt(r.Created.UnixMicro(), 36) + "-" + strconv.FormatInt(r.Revision, 10)
	return out
}

// View is the request as served at now: whole, and overdue when undecided past its due time.
func (r *Request) View(now time.Time) *requestsv1.Request {
	out := r.Full()
	undecided := out.State == requestsv1.RequestState_REQUEST_STATE_RECEIVED || out.State == requestsv1.RequestState_REQUEST_STATE_VERIFIED
	out.Overdue = undecided && out.DueTime != nil && clock.Classify(out.DueTime.AsTime(), now) == clock.Overdue
	return out
}

// Tenant is what the workflow needs of the tenant the registry keeps.
type Tenant struct {
	// Calendar counts the statutory days (its closures and holidays).
	Calendar *clock.Calendar
	// Public: a public institution, which alone may rely on grounds 5–9 of PIPA 18(2) and must
	// publish provisions (PIPA-18-4).
	Public      bool
	DisplayName string
}

// Directory is what intake asks of the registry, with the caller's credential.
type Directory interface {
	// Site is a CCTV site by name; NotFound when the registry has none.
	Site(ctx context.Context, name string) (*registryv1.Site, error)
	// FileExists reports whether the registry has the personal-information file.
	FileExists(ctx context.Context, name string) (bool, error)
}
