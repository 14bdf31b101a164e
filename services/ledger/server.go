package ledger

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/ledger/cosign"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// Server implements ledgerv1.LedgerServiceServer.
type Server struct {
	ledgerv1.UnimplementedLedgerServiceServer
	store     *pg.Store
	box       *seal.Box
	units     *unitauth.Units
	witnesses []*ledgerv1.Witness
	// cosigners check the witnesses' cosignatures on the cosigned checkpoint served.
	cosigners []note.Verifier
	now       func() time.Time
	// grantSlots bound the role-grant records made at once (RoleGrants): each holds a connection
	// for its account's lock while it needs another to append. Two: a burst of sign-ins (after
	// rolegrant's cache expires) then holds at most 4 of the pool's connections (pgdb: 10 by
	// default), and the others stay for the appends and reads it serves meanwhile. A record is
	// made only when an account's roles changed; the same set again records nothing.
	grantSlots chan struct{}
	// unreadable counts reads that met personal values that do not open or match (decode).
	unreadable metric.Int64Counter
}

// New returns the ledger server over store; box seals personal values, and registry answers
// which units exist and who may act on them. Open checks the stored keys first: use it to
// serve.
func New(store *pg.Store, box *seal.Box, registry registryv1.RegistryServiceClient) *Server {
	s := &Server{store: store, box: box, units: &unitauth.Units{Registry: registry}, now: time.Now,
		grantSlots: make(chan struct{}, 2)}
	s.unreadable, _ = otel.Meter("github.com/pipa-kr/pipa/services/ledger").Int64Counter("pipa.ledger.sealed_unreadable",
		metric.WithDescription("reads of entries whose stored personal values do not open or do not match their leaf (DataLoss; S-8-3)"))
	s.unreadable.Add(context.Background(), 0) // the series exists before the first, for an alert on its increase
	return s
}

// Open returns the ledger server (see New) once the database's keys and checkpoints agree with
// the keys that signed them (pg.Store.CheckKeys): a disagreement is an error saying which log and
// what, and the service must not start. A log still signed by its tenant's key (made before logs
// had keys of their own) is handed over to a key of its own, by a LEDGER_KEY entry that the old
// key signs.
//
// witnesses are the witnesses the checkpoints are submitted to (package cosign), announced by
// GetVerifierKey.
func Open(ctx context.Context, store *pg.Store, box *seal.Box, registry registryv1.RegistryServiceClient, witnesses ...*cosign.Witness) (*Server, error) {
	legacy, err := store.CheckKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: refusing to start: %w", err)
	}
	s := New(store, box, registry)
	for _, w := range witnesses {
		s.witnesses = append(s.witnesses, &ledgerv1.Witness{VerifierKey: w.VerifierKey, Url: w.URL})
		s.cosigners = append(s.cosigners, w.Verifier())
	}
	for _, l := range legacy {
		e, err := s.rotate(ctx, l.Tenant, l.Unit, migrationReason, systemSubject, migrationRequestID)
		if err != nil {
			return nil, fmt.Errorf("ledger: %s: handing over to a key of its own: %w", l, err)
		}
		slog.Info("ledger: log handed over from its tenant's key to a key of its own", "log", l.String(),
			"entry", e.GetIndex(), "verifier_key", e.GetVerifierKey())
	}
	// S-8-3: role grants recorded before they were entries of a log become entries now.
	n, err := s.RoleGrants().CarryRoleGrants(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		slog.Info("ledger: role grants carried into their tenants' own logs", "records", n)
	}
	// S-5: the rows keep the account as a keyed hash, no longer its subject and name.
	if n, err = s.RoleGrants().HashRoleGrants(ctx); err != nil {
		return nil, err
	}
	if n > 0 {
		slog.Info("ledger: role-grant rows hashed", "records", n)
	}
	return s, nil
}

const (
	// systemSubject records what pipa itself appends (recorded_by, handler).
	systemSubject = "pipa"
	// The handover of a log made before logs had keys of their own; the request_id makes it once
	// whatever number of replicas start together.
	migrationReason    = "기관 공통 서명키에서 이 대장의 서명키로 전환"
	migrationRequestID = "pipa:ledger:own-key:v1"
)

// PublicMethods are callable without a token.
var PublicMethods = map[string]bool{ledgerv1.LedgerService_GetVerifierKey_FullMethodName: true}

// Roles (ARCHITECTURE "Identity and tenancy"): staff and services record, everyone with a role
// on the unit reads, and only the CPO or the tenant's admin erases personal values, changes a
// log's key or the tenant's ledger settings.
var (
	appendRoles = []auth.Role{auth.RoleCPO, auth.RoleManager, auth.RoleHandler, auth.RoleTenantAdmin, auth.RoleService}
	readRoles   = append(appendRoles[:len(appendRoles):len(appendRoles)], auth.RoleAuditor)
	redactRoles = []auth.Role{auth.RoleCPO, auth.RoleTenantAdmin}
	// tenantLogReaders read a tenant's own log: grantReaders, and the retention service, which
	// erases what is past its period (S-5, S-8-1).
	tenantLogReaders = append(grantReaders[:len(grantReaders):len(grantReaders)], auth.RoleService)
)

func invalid(field, rule, desc string) error {
	return apierr.Invalid(apierr.Violation{Field: field, Rule: rule, Description: desc})
}

func (s *Server) AppendEntry(ctx context.Context, req *ledgerv1.AppendEntryRequest) (*ledgerv1.Entry, error) {
	t, u, err := names.ParseLog("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if u == names.TenantLog {
		// S-2-3: pipa's access log records the reads of a tenant's own log in it (AccessRules);
		// nothing else is appended to it from outside (its role changes are RoleGrants').
		if p, _ := auth.FromContext(ctx); !p.IsService() || req.GetEntry().GetKind() != ledgerv1.EntryKind_ENTRY_KIND_ACCESS {
			d := apierr.Denied("a tenant's own log (" + req.GetParent() + ") takes only the ACCESS entries of pipa's access log (the service role on \"*\")")
			d.Metadata = map[string]string{"rule": "S-8-3"}
			return nil, d
		}
	} else if err := s.units.Authorize(ctx, t, u, appendRoles); err != nil {
		return nil, err
	}
	e, err := s.checkAppend(ctx, t, u, req)
	if err != nil {
		return nil, err
	}
	return s.append(ctx, t, u, e, req, appendOpts{})
}

// checkAppend returns the entry req appends to log t/u, as it will be appended (recorded_by is the
// caller's), once it passes every check that can be made before appending.
func (s *Server) checkAppend(ctx context.Context, t, u string, req *ledgerv1.AppendEntryRequest) (*ledgerv1.Entry, error) {
	e := proto.CloneOf(req.GetEntry())
	if e == nil {
		e = &ledgerv1.Entry{}
	}
	p, _ := auth.FromContext(ctx)
	// S-8-3: the access log is protected against forgery, so who accessed what (S-2-3) is only
	// ever pipa's own record (pkg/accesslog), never a client's word.
	if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_ACCESS && !p.IsService() {
		d := apierr.Denied("ACCESS entries are written by pipa's access log alone (S-8-3): only the service role on \"*\" appends them")
		d.Metadata = map[string]string{"rule": "S-8-3"}
		return nil, d
	}
	// S-8-2: a review is recorded by CreateAccessReview, which checks what a review must say.
	if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_ACCESS_REVIEW {
		return nil, invalid("entry.kind", "S-8-2", "ACCESS_REVIEW entries are written by CreateAccessReview (/access-reviews), not appended")
	}
	// STD-21: a PUBLICATION records what the registry froze; staff cannot claim a text was published.
	if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION && !p.IsService() {
		d := apierr.Denied("PUBLICATION entries are written by the registry when it freezes a published policy: only the service role on \"*\" appends them")
		d.Metadata = map[string]string{"rule": "STD-21"}
		return nil, d
	}
	// STD-58: a REGISTER records a change the registry made to its registers.
	if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_REGISTER && !p.IsService() {
		d := apierr.Denied("REGISTER entries are written by the registry when its registers change: only the service role on \"*\" appends them")
		d.Metadata = map[string]string{"rule": "STD-58"}
		return nil, d
	}
	// S-5: a role's grant, change or revocation is recorded by pipa where the roles are given.
	if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE && !p.IsService() {
		d := apierr.Denied("ROLE_CHANGE entries are written by pipa where roles are granted (officers, tokens, OIDC sign-ins): only the service role on \"*\" appends them")
		d.Metadata = map[string]string{"rule": "S-5"}
		return nil, d
	}
	e.RecordedBy = p.Subject // from the token, never from the request (S-8-3)
	vs := entry.Validate(e, s.now())
	if err := apierr.Violations(append(vs, entry.ValidateLinks(e, req.GetParent())...)).Err(); err != nil {
		return nil, err
	}
	if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT {
		if err := s.checkFollows(ctx, t, u, e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// checkFollows checks that amendment e fits the kind of the entry it follows (C-9). Entries never
// change kind, so reading it before the append is safe; that it exists is checked again when the
// amendment commits.
func (s *Server) checkFollows(ctx context.Context, t, u string, e *ledgerv1.Entry) error {
	row, err := s.store.Entry(ctx, t, u, e.GetFollows())
	if apierr.KindOf(err) == apierr.KindNotFound {
		return invalid("entry.follows", "STD-45", fmt.Sprintf("entry %d does not exist in this log; an amendment must follow an existing entry", e.GetFollows()))
	}
	if err != nil {
		return err
	}
	return apierr.Violations(entry.ValidateFollows(e, entry.ParseKind(row.Kind))).Err()
}

// maxLeaf is the largest leaf an entry bundle of C2SP tlog-tiles can carry (each leaf is prefixed
// with a 2-byte length).
const maxLeaf = 1<<16 - 1

// appendOpts are what an entry written by the server itself does besides being appended.
type appendOpts struct {
	// redact erases the values of the entry e follows in the same transaction.
	redact bool
	// newKey makes the append a rotation to this key.
	newKey *pg.NewKey
}

// request is a request that appends an entry, fingerprinted for its request_id.
type request interface {
	proto.Message
	GetRequestId() string
}

// noRequestID appends an entry without a request id of its own (appendRequest), e.g. one of a
// batch appended under the batch's (pg.Store.AppendBatchOnce).
var noRequestID request = &ledgerv1.AppendEntryRequest{}

// append commits e (already checked) to the unit's log and returns it as stored.
func (s *Server) append(ctx context.Context, t, u string, e *ledgerv1.Entry, req request, o appendOpts) (*ledgerv1.Entry, error) {
	a, err := s.appendRequest(t, u, e, req, o)
	if err != nil {
		return nil, err
	}
	res, err := s.store.Append(ctx, t, u, a.req)
	if err != nil {
		return nil, err
	}
	return s.stored(ctx, t, u, a, res)
}

// appending is an entry on its way to the store: the store's request, and the personal values
// its Build seals.
type appending struct {
	e        *ledgerv1.Entry
	req      pg.AppendRequest
	personal *entry.Sealed
}

// appendRequest is the store's request that appends e (already checked) for req.
func (s *Server) appendRequest(t, u string, e *ledgerv1.Entry, req request, o appendOpts) (*appending, error) {
	// The store keeps request ids itself (not through idempotency.Do), so it bounds them here, as
	// every pipa service does.
	if len(req.GetRequestId()) > idempotency.MaxRequestID {
		return nil, invalid("request_id", "range", fmt.Sprintf("must be at most %d bytes", idempotency.MaxRequestID))
	}
	var hash []byte
	if req.GetRequestId() != "" { // the fingerprint is kept with the request id alone
		var err error
		if hash, err = idempotency.RequestHash(req); err != nil {
			return nil, err
		}
	}
	log := names.Unit(t, u)
	var follows *int64
	if e.Follows != nil {
		f := e.GetFollows()
		follows = &f
	}
	// The salts and commitments are made here, once, not in Build, which the log waits for.
	c, err := entry.Commit(e, nil)
	if err != nil {
		return nil, invalid("entry", "format", err.Error())
	}
	a := &appending{e: e, personal: c.Sealed}
	var plain []byte
	if len(c.Sealed.Fields) > 0 {
		plain = c.Sealed.Marshal()
	}
	a.req = pg.AppendRequest{
		RequestID: req.GetRequestId(), RequestHash: hash, Kind: entry.KindName(e.GetKind()),
		OccurTime: e.GetOccurTime().AsTime(), Follows: follows, Redact: o.redact, NewKey: o.newKey,
		Build: func(index int64) ([]byte, []byte, error) {
			leaf, err := c.Leaf(log, index)
			if err == nil && len(leaf) > maxLeaf {
				// Checked here, on the one encoding: the leaf's size depends on its index. A Build
				// error fails this append alone and takes no index.
				return nil, nil, invalid("entry", "range", fmt.Sprintf("the entry is %d bytes as a leaf; at most %d fit in the log's tiles", len(leaf), maxLeaf))
			}
			if err != nil || plain == nil {
				return leaf, nil, err
			}
			// Bound to the entry's name: a sealed blob copied to another row does not open.
			sealed, err := s.box.Seal(plain, []byte(names.Entries.NameN(t, u, index)))
			return leaf, sealed, err
		},
	}
	return a, nil
}

// stored is the entry a committed as res: for a replay the first call's entry as stored, or else
// the input plus what the log assigned, without reading it back.
func (s *Server) stored(ctx context.Context, t, u string, a *appending, res pg.Appended) (*ledgerv1.Entry, error) {
	if res.Replayed {
		return s.read(ctx, t, u, res.Index)
	}
	out := proto.CloneOf(a.e)
	out.Name, out.Index, out.LeafHash, out.TreeSize = names.Entries.NameN(t, u, res.Index), res.Index, res.LeafHash, res.TreeSize
	out.CommitTime, out.Redacted = timestamppb.New(res.CommitTime), false
	a.personal.Reveal(out) // the salts
	return out, nil
}

// read returns entry index as stored (see entry).
func (s *Server) read(ctx context.Context, t, u string, index int64) (*ledgerv1.Entry, error) {
	row, err := s.store.Entry(ctx, t, u, index)
	if err != nil {
		return nil, err
	}
	return s.entry(t, u, row)
}

// entry is row as an Entry: the leaf decoded and, unless they were redacted, the personal values
// with their salts, checked against the leaf's commitments first. An entry marked redacted must
// be followed by the REDACTION entry that erased it, as that entry's leaf says. Personal values
// that do not open or do not match are DataLoss (see decode).
func (s *Server) entry(t, u string, row pg.EntryRow) (*ledgerv1.Entry, error) {
	e, unreadable, err := s.decode(t, u, row)
	if err == nil {
		err = unreadable
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// decode is row as an Entry (see entry). When only its sealed personal values fail (altered,
// another entry's, lost), unreadable says so (DataLoss), logged and counted
// (pipa.ledger.sealed_unreadable), and e holds what its leaf states in clear: a list goes on past
// it (ListEntriesResponse.unreadable).
func (s *Server) decode(t, u string, row pg.EntryRow) (e *ledgerv1.Entry, unreadable, err error) {
	d, err := entry.DecodeLeaf(row.Leaf)
	if err != nil {
		return nil, nil, err
	}
	e = d.Entry
	name := names.Entries.NameN(t, u, row.Index)
	if row.Redacted {
		if err := entry.CheckRedaction(row.RedactionLeaf, names.Unit(t, u), row.Index); err != nil {
			slog.Error("ledger: an entry is marked redacted without its REDACTION entry", "entry", name, "err", err)
			return nil, nil, apierr.DataLoss("REDACTION_MISSING", name+" is marked redacted, but "+err.Error())
		}
		// S-8-1: a destroyed access record shows none of its record, also when its leaf (written
		// before the record's fields were committed) holds them in clear.
		entry.Erase(e)
	} else if unreadable = s.reveal(e, d, row.Sealed, name); unreadable != nil {
		entry.Erase(e)
	}
	e.Name, e.Index, e.LeafHash, e.Redacted = name, row.Index, row.LeafHash, row.Redacted
	e.CommitTime, e.TreeSize = timestamppb.New(row.CommitTime), row.TreeSize
	return e, unreadable, nil
}

// reveal sets e's personal values from sealed, the blob stored beside entry name's leaf d, once
// they open and match the leaf's commitments; else it is DataLoss, logged and counted.
func (s *Server) reveal(e *ledgerv1.Entry, d *entry.Decoded, sealed []byte, name string) error {
	var personal *entry.Sealed
	if len(sealed) > 0 {
		plain, err := s.box.Open(sealed, []byte(name))
		if err == nil {
			personal, err = entry.UnmarshalSealed(plain)
		}
		if err != nil {
			// Altered, or another entry's (the blob is bound to the entry's name).
			slog.Error("ledger: stored personal values do not open", "entry", name, "err", err)
			s.unreadable.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", "unreadable")))
			return apierr.DataLoss("SEALED_VALUES_UNREADABLE", name+": the stored personal values cannot be opened")
		}
	}
	// Never serve values the tamper-evident leaf does not commit to.
	if err := d.Check(personal); err != nil {
		slog.Error("ledger: stored personal values do not match the leaf", "entry", name, "err", err)
		s.unreadable.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", "mismatch")))
		return apierr.DataLoss("SEALED_VALUES_MISMATCH", name+": the stored personal values do not match the leaf's commitments")
	}
	personal.Reveal(e)
	return nil
}

// authorizeLog checks that the caller holds one of roles on log t/u: a unit's, as the registry
// says, or a tenant's own (names.TenantLog), which holds its staff's role grants and is read as
// their history is (authorizeTenantLog).
func (s *Server) authorizeLog(ctx context.Context, t, u string, roles []auth.Role) error {
	if u == names.TenantLog {
		return authorizeTenantLog(ctx, t, tenantLogReaders) // not roles: a unit's readers may not read its staff's grants
	}
	return s.units.Authorize(ctx, t, u, roles)
}

func (s *Server) GetEntry(ctx context.Context, req *ledgerv1.GetEntryRequest) (*ledgerv1.Entry, error) {
	t, u, index, err := names.ParseLogEntry("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeLog(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	return s.read(ctx, t, u, index)
}

func (s *Server) ListEntries(ctx context.Context, req *ledgerv1.ListEntriesRequest) (*ledgerv1.ListEntriesResponse, error) {
	t, u, err := names.ParseLog("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeLog(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, invalid("page_size", "range", "must not be negative")
	case size == 0:
		size = 100
	}
	size = min(size, pg.MaxEntries-1)
	if _, ok := ledgerv1.EntryKind_name[int32(req.GetKind())]; !ok {
		return nil, invalid("kind", "enum", fmt.Sprintf("%d is not a kind of entry", req.GetKind()))
	}
	if req.GetRedacted() && req.GetUnredacted() {
		return nil, invalid("unredacted", "exclusive", "not with redacted: one or the other, or neither for every entry")
	}
	f := pg.Filter{Redacted: req.GetRedacted(), Unredacted: req.GetUnredacted()}
	if req.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_UNSPECIFIED {
		f.Kind = entry.KindName(req.GetKind())
	}
	// Indexes count from 0: a token holds the last index listed plus one.
	query := names.Query{"ledger.entries", req.GetParent(), f.Kind, strconv.FormatBool(f.Redacted)}
	if f.Unredacted { // only then: the tokens saved before (the access sweep's cursors) stay valid
		query = append(query, "unredacted")
	}
	after, err := query.ParseN(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	after--
	rows, err := s.store.Entries(ctx, t, u, f, after, size+1)
	if err != nil {
		return nil, err
	}
	out := &ledgerv1.ListEntriesResponse{}
	for i, r := range rows {
		if i == size {
			out.NextPageToken = query.TokenN(rows[i-1].Index + 1)
			break
		}
		// An entry whose personal values are lost is listed with what its leaf states, and
		// named, so that neither the list nor the access sweep reading it stops there for good.
		e, unreadable, err := s.decode(t, u, r)
		if err != nil {
			return nil, err
		}
		if unreadable != nil {
			out.Unreadable = append(out.Unreadable, e.GetName())
		}
		out.Entries = append(out.Entries, e)
	}
	return out, nil
}

func (s *Server) GetCheckpoint(ctx context.Context, req *ledgerv1.GetCheckpointRequest) (*ledgerv1.Checkpoint, error) {
	t, u, err := names.ParseLog("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeLog(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	h, err := s.store.Checkpoint(ctx, t, u, false)
	if err != nil {
		return nil, err
	}
	// The tree and the cosignatures are the signed notes', checked by the store.
	out := &ledgerv1.Checkpoint{Origin: h.Origin, TreeSize: h.Size, RootHash: h.Root[:], Note: h.Checkpoint,
		VerifierKey: h.VerifierKey}
	c, ok, err := s.store.Cosigned(ctx, t, u, s.cosigners...)
	if err != nil {
		return nil, err
	}
	if ok && len(c.Witnesses) > 0 { // cosigned by a witness this pipa announces
		out.Cosigned = &ledgerv1.CosignedCheckpoint{TreeSize: c.Size, Note: c.Note, Witnesses: c.Witnesses}
		if strings.HasPrefix(c.Note, h.Checkpoint) { // this very checkpoint, cosigned
			out.Note = c.Note
		}
	}
	return out, nil
}

func (s *Server) GetLeaf(ctx context.Context, req *ledgerv1.GetLeafRequest) (*ledgerv1.Leaf, error) {
	t, u, index, err := names.ParseLogEntry("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeLog(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	row, err := s.store.Entry(ctx, t, u, index)
	if err != nil {
		return nil, err
	}
	return &ledgerv1.Leaf{Name: req.GetName(), Index: index, Data: row.Leaf}, nil
}

func (s *Server) GetInclusionProof(ctx context.Context, req *ledgerv1.GetInclusionProofRequest) (*ledgerv1.InclusionProof, error) {
	t, u, index, err := names.ParseLogEntry("name", req.GetName())
	if err != nil {
		return nil, err
	}
	// Bounds first: a tree size no log can have is refused before any other work (no
	// authorization round trip, no read); the store checks it against the log's size.
	if n := req.GetTreeSize(); n < 0 || n > pg.MaxTreeSize {
		return nil, invalid("tree_size", "range", fmt.Sprintf("tree_size must be 0 (the log's size) or 1 to %d, and at most the log's size", int64(pg.MaxTreeSize)))
	}
	if err := s.authorizeLog(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	hs, size, err := s.store.InclusionProof(ctx, t, u, index, req.GetTreeSize())
	if err != nil {
		return nil, err
	}
	return &ledgerv1.InclusionProof{Index: index, TreeSize: size, Hashes: hs}, nil
}

func (s *Server) GetConsistencyProof(ctx context.Context, req *ledgerv1.GetConsistencyProofRequest) (*ledgerv1.ConsistencyProof, error) {
	t, u, err := names.ParseLog("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	// Bounds first, as for inclusion proofs: what no log can have is refused before any work.
	if field, problem := pg.ConsistencyBounds(req.GetFrom(), req.GetTo(), pg.MaxTreeSize); problem != "" {
		if field == "to" {
			problem = fmt.Sprintf("to (%d) is beyond any log's size (at most %d)", req.GetTo(), int64(pg.MaxTreeSize))
		}
		return nil, invalid(field, "range", problem)
	}
	if err := s.authorizeLog(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	hs, err := s.store.ConsistencyProof(ctx, t, u, req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, err
	}
	return &ledgerv1.ConsistencyProof{FromSize: req.GetFrom(), ToSize: req.GetTo(), Hashes: hs}, nil
}

// RedactEntry appends a REDACTION entry and erases the values in the same transaction, so neither
// happens without the other. An entry already redacted is refused, but a retry with the same
// request_id gets the first REDACTION entry.
func (s *Server) RedactEntry(ctx context.Context, req *ledgerv1.RedactEntryRequest) (*ledgerv1.Entry, error) {
	t, u, index, err := names.ParseLogEntry("name", req.GetName())
	if err != nil {
		return nil, err
	}
	p, _ := auth.FromContext(ctx)
	// The retention service (the service role on "*") redacts access records past their period.
	switch {
	case p.IsService():
	case u == names.TenantLog:
		if err := authorizeTenantLog(ctx, t, redactRoles); err != nil {
			return nil, err
		}
	default:
		if err := s.units.Authorize(ctx, t, u, redactRoles); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(req.GetReason()) == "" {
		return nil, invalid("reason", "required", "say why the values are erased, e.g. 보유기간 경과")
	}
	target, err := s.store.Entry(ctx, t, u, index)
	if err != nil {
		return nil, err
	}
	// S-5, S-8-1, S-8-3: the entry's kind says who may erase it, and when.
	if err := entry.Redactable(entry.ParseKind(target.Kind), target.OccurTime, p.IsService(), s.now()); err != nil {
		return nil, err
	}
	rec := &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_REDACTION, OccurTime: timestamppb.New(s.now()),
		Follows: &index, Note: req.GetReason(), Handler: p.Subject, RecordedBy: p.Subject,
	}
	roleChange := u == names.TenantLog && target.Kind == entry.KindName(ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE)
	var accounts [][]byte // the record's account's keyed hashes, under every data key, read before it is erased
	if roleChange && !target.Redacted {
		if e, unreadable, derr := s.decode(t, u, target); derr == nil && unreadable == nil {
			c := rolechange.FromEntry(e)
			accounts = s.RoleGrants().accounts(c.By, c.Account)
		}
	}
	if roleChange {
		// S-5: with the record's values, its account's index rows past their three years that no
		// longer state its roles go, before the values do: failing, nothing is erased, and the
		// retry (or the next sweep) still finds the account's hashes under every data key.
		if n, xerr := s.store.ExpireRoleGrants(ctx, t, index, accounts); xerr != nil {
			slog.ErrorContext(ctx, "ledger: deleting expired role-grant rows", "tenant", t, "err", xerr)
			return nil, &apierr.Error{Kind: apierr.KindUnavailable, Reason: "ROLE_GRANTS_NOT_EXPIRED",
				Message: "the expired role-grant rows could not be deleted, so the entry was not erased: retry"}
		} else if n > 0 {
			slog.InfoContext(ctx, "ledger: expired role-grant rows deleted", "tenant", t, "rows", n)
		}
	}
	out, err := s.append(ctx, t, u, rec, req, appendOpts{redact: true})
	return out, err
}

func (s *Server) GetVerifierKey(ctx context.Context, req *ledgerv1.GetVerifierKeyRequest) (*ledgerv1.VerifierKey, error) {
	t, u := req.GetTenant(), req.GetUnit()
	// A unit's log, or a tenant's own (names.TenantLog; tenant "-" has one too).
	if _, _, err := names.ParseLog("parent", names.Unit(t, u)); err != nil {
		var vs apierr.Violations
		names.CheckID(&vs, "tenant", t)
		names.CheckID(&vs, "unit", u)
		return nil, cmp.Or(vs.Err(), err)
	}
	// Public: answer only for logs that exist, so anonymous callers cannot create keys or rows.
	k, err := s.store.VerifierKey(ctx, t, u)
	if err != nil {
		return nil, err
	}
	out := &ledgerv1.VerifierKey{VerifierKey: k.VerifierKey, Origin: k.Origin, Witnesses: s.witnesses,
		TilesPath: PublicTilesPath(t, u)}
	for _, h := range k.Handovers {
		out.Handovers = append(out.Handovers, &ledgerv1.KeyHandover{PreviousKey: h.PreviousKey,
			VerifierKey: h.VerifierKey, EntryIndex: h.Index, Checkpoint: h.Checkpoint})
	}
	return out, nil
}

// RotateKey gives the unit's log a new signing key (see rotate).
func (s *Server) RotateKey(ctx context.Context, req *ledgerv1.RotateKeyRequest) (*ledgerv1.Entry, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, t, u, redactRoles); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.GetReason()) == "" {
		return nil, invalid("reason", "required", "say why the key changes, e.g. 정기 교체 or 키 유출 의심")
	}
	p, _ := auth.FromContext(ctx)
	return s.rotate(ctx, t, u, req.GetReason(), p.Subject, req.GetRequestId())
}

// rotate appends the LEDGER_KEY entry naming a new key for the log, whose checkpoint both the
// current key and the new one sign (the handover); the new key signs every later checkpoint.
// S-8-3: the log stays verifiable across the change by anyone who trusted the old key.
func (s *Server) rotate(ctx context.Context, t, u, reason, by, requestID string) (*ledgerv1.Entry, error) {
	nk, err := s.store.NewKey(ctx, t, u)
	if err != nil {
		return nil, err
	}
	rec := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_LEDGER_KEY, OccurTime: timestamppb.New(s.now()),
		Note: reason, Handler: by, RecordedBy: by, VerifierKey: nk.VerifierKey}
	req := &ledgerv1.RotateKeyRequest{Parent: names.Unit(t, u), Reason: reason, RequestId: requestID}
	return s.append(ctx, t, u, rec, req, appendOpts{newKey: nk})
}
