package request

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/requests/clock"
)

// Intake checks a new request r for the tenant's unit, received at receive (now is the server's
// clock): its fields as the statutory forms ask for them (별지 제8호, 제2호, 제11호), and against the
// registry the file it names (PIPA-32), the footage's site and camera location (STD-44-2), that
// public cameras take no suspension (PIPA-58-2), and that a public-only ground of PIPA 18(2) is a
// public institution's. It returns the request to store: received, its statutory due time set,
// output-only fields cleared, its personal fields apart, and a new status secret.
func Intake(ctx context.Context, dir Directory, t Tenant, tenant, unit string, r *requestsv1.Request, now, receive time.Time) (*Request, error) {
	vs := validateIntake(r, now)
	if file := r.GetFile(); file != "" {
		if !names.Files.In(tenant, unit, file) {
			vs.Add("request.file", "format", "must be a personal-information file of this unit: %s", names.Files.Name(tenant, unit, "{file}"))
		} else if ok, err := dir.FileExists(ctx, file); err != nil {
			return nil, err
		} else if !ok {
			vs.Add("request.file", "PIPA-32", "no such personal-information file: %s", file)
		}
	}
	field, f := "request.footage", r.GetFootage()
	if p := r.GetProvision(); p.GetFootage() != nil {
		field, f = "request.provision.footage", p.GetFootage()
	}
	if f != nil && f.GetSite() != "" {
		if err := checkSite(ctx, dir, &vs, field, tenant, unit, r.GetType(), f); err != nil {
			return nil, err
		}
	}
	if g, ok := provisionGrounds[r.GetProvision().GetGround()]; ok && g.publicOnly && !t.Public {
		vs.Add("request.provision.ground", "PIPA-18-2", "grounds 5 to 9 of PIPA 18(2) are for public institutions only, and %s is not one", t.DisplayName)
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	var due time.Time
	if days := typeRules[r.GetType()].days; days > 0 {
		var err error
		if due, err = Due(t, func(c *clock.Calendar) (time.Time, error) { return c.Due(receive, days) }); err != nil {
			return nil, err
		}
	}
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	doc := proto.CloneOf(r)
	personal := Personal{Requester: doc.Requester, Subject: doc.Subject, Secret: secret}
	// Output-only fields are the server's.
	doc.Requester, doc.Subject = nil, nil
	doc.State = requestsv1.RequestState_REQUEST_STATE_RECEIVED
	doc.Verification, doc.Grant, doc.Reason, doc.Notices, doc.Ledger = nil, nil, nil, nil, nil
	doc.Extensions, doc.Overdue, doc.CloseTime, doc.Etag, doc.PublicationDueDate = 0, false, nil, "", ""
	setDue(doc, due)
	return &Request{Tenant: tenant, Unit: unit, Doc: doc, Personal: personal}, nil
}

// checkSite checks the footage's site against the registry: a site of the unit it has, a camera
// location the site publishes (STD-44-2), and no suspension of cameras in public places (PIPA-58-2).
func checkSite(ctx context.Context, dir Directory, vs *apierr.Violations, field, tenant, unit string, t rtype, f *requestsv1.Footage) error {
	if !names.Sites.In(tenant, unit, f.GetSite()) {
		vs.Add(field+".site", "STD-44-2", "must be a site of this unit: %s", names.Sites.Name(tenant, unit, "{site}"))
		return nil
	}
	site, err := dir.Site(ctx, f.GetSite())
	if apierr.KindOf(err) == apierr.KindNotFound {
		vs.Add(field+".site", "STD-44-2", "no such site: %s", f.GetSite())
		return nil
	}
	if err != nil {
		return err
	}
	// STD-44-2: the camera's place, as the site publishes its locations.
	if locs := site.GetLocations(); len(locs) > 0 && !slices.Contains(locs, f.GetSiteLocation()) {
		vs.Add(field+".site_location", "STD-44-2", "name where the camera is, one of the site's locations: %s", strings.Join(locs, ", "))
	}
	if t == requestsv1.RequestType_REQUEST_TYPE_SUSPENSION && publicCameras(site) {
		vs.Add("request.type", "PIPA-58-2", "suspension of processing (처리정지) does not apply to fixed CCTV in public places; ask for access, an existence check or deletion instead")
	}
	return nil
}

// publicCameras: a site with cameras in public places, or with no split given (PIPA-58-2).
func publicCameras(site *registryv1.Site) bool {
	return site.PublicCameraCount == nil || site.GetPublicCameraCount() > 0
}

// newSecret is 80 random bits, in base32 a requester can type: the status page's only key.
func newSecret() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base32.StdEncoding.EncodeToString(b), nil
}

// ReceiptPrefix starts a type's receipt numbers: P for another body's request, R for a data
// subject's.
func ReceiptPrefix(t requestsv1.RequestType) string {
	if t == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		return "P"
	}
	return "R"
}

// NotProvision refuses a provision request sent as a data subject's request.
func NotProvision() error {
	return apierr.Invalid(apierr.Violation{Field: "request.type", Rule: "PIPA-18-2",
		Description: "another body's request for personal data is taken by CreateProvision (POST .../provisions)"})
}

// CheckChannel checks how staff received a request (PIPA-38-4), and a PIPC transfer's reference
// (PIPA-35-2).
func CheckChannel(vs *apierr.Violations, r *requestsv1.Request) {
	switch c := r.GetChannel(); {
	case c == 0 || requestsv1.Channel_name[int32(c)] == "":
		vs.Add("request.channel", "PIPA-38-4", "channel is required: VISIT, MAIL, FAX, EMAIL, PHONE, ONLINE or PIPC_TRANSFER")
	case c == requestsv1.Channel_CHANNEL_PIPC_TRANSFER && strings.TrimSpace(r.GetTransferReference()) == "":
		vs.Add("request.transfer_reference", "PIPA-35-2", "a request transferred by the PIPC carries its transfer reference")
	}
}

// Erase clears, at the end of its retention (PIPA-21-1), the free text of a closed request that
// may name people; the store drops its personal fields and notices' renderings with it.
func Erase(r *Request) error {
	if r.Doc.GetState() != requestsv1.RequestState_REQUEST_STATE_CLOSED {
		return apierr.Precondition("NOT_CLOSED", "only a closed request's personal data are erased at the end of retention")
	}
	r.Doc.Details = ""
	if v := r.Doc.GetVerification(); v != nil {
		v.Note, v.AgencyEvidence = "", ""
	}
	if g := r.Doc.GetGrant(); g != nil {
		g.Content = ""
	}
	return nil
}
