package ledger

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/sheet"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// RoleGrants implements pipa.ledger.v1.RoleGrantService: the history of staff roles (S-5), both
// those that reach pipa in bearer tokens, which pkg/rolegrant reports as tokens present them, and
// the registry officers' role changes. Every record is a ROLE_CHANGE entry of a Merkle log with
// signed checkpoints (S-8-3): a token's in the tenant's own log (names.TenantLog; grants on "*"
// in the operators' log, tenants/-/units/-), an officer's in its unit's log, where the registry
// appends it. The list reads the entries' leaves, so what it shows is what the logs' verifiers
// check, and a record changed or removed in the database shows in `pipa ledger verify`.
//
// ledger.role_grants indexes the tokens' records: the last set recorded per account and tenant,
// each row naming its entry (log_index). A row that no longer says what its entry says is
// refused (DataLoss) when the account's next set is compared with it.
type RoleGrants struct {
	ledgerv1.UnimplementedRoleGrantServiceServer
	s *Server
}

// RoleGrants is the role-grant history beside s.
func (s *Server) RoleGrants() *RoleGrants { return &RoleGrants{s: s} }

// grantReaders may read a tenant's role-grant history: its CPO, auditors and tenant admins on
// the whole tenant, and operators (the same roles on "*").
var grantReaders = []auth.Role{auth.RoleCPO, auth.RoleAuditor, auth.RoleTenantAdmin}

// operatorParent is the parent of the grants on "*".
const operatorParent = "tenants/" + pg.OperatorTenant

// maxGrantField bounds the issuer, subject, display name and source a record keeps.
const maxGrantField = 512

func (r *RoleGrants) RecordRoleGrants(ctx context.Context, req *ledgerv1.RecordRoleGrantsRequest) (*ledgerv1.RecordRoleGrantsResponse, error) {
	if p, _ := auth.FromContext(ctx); !p.IsService() {
		return nil, apierr.Denied("only pipa's services record role grants (the service role on \"*\")")
	}
	var vs apierr.Violations
	for _, f := range []struct{ field, v string }{{"issuer", req.GetIssuer()}, {"subject", req.GetSubject()}, {"display_name", req.GetDisplayName()}, {"source", req.GetSource()}} {
		if (f.field == "issuer" || f.field == "subject") && strings.TrimSpace(f.v) == "" {
			vs.Add(f.field, "required", "the token's %s names the account (S-5)", f.field)
		}
		if len(f.v) > maxGrantField {
			vs.Add(f.field, "length", "at most %d bytes", maxGrantField)
		}
	}
	if s := req.GetSource(); s != rolechange.SourceToken && s != rolechange.SourceOIDC {
		vs.Add("source", "enum", "must be %q or %q", rolechange.SourceToken, rolechange.SourceOIDC)
	}
	byTenant := map[string][]string{}
	for i, g := range req.GetGrants() {
		grant := auth.Grant{Role: auth.Role(g.GetRole()), Scope: g.GetScope()}
		if err := grant.Validate(); err != nil {
			vs.Add(fmt.Sprintf("grants[%d]", i), "format", "%v", err)
			continue
		}
		t := cmp.Or(grant.Tenant(), pg.OperatorTenant)
		byTenant[t] = append(byTenant[t], g.GetRole()+" "+g.GetScope())
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	// One account's sets are compared and recorded one at a time across replicas (its lock), so
	// that each record's "before" is the last record's "after"; the entries' request ids make a
	// change retried after a crash one entry.
	account := r.accounts(req.GetIssuer(), req.GetSubject())
	select {
	case r.s.grantSlots <- struct{}{}:
		defer func() { <-r.s.grantSlots }()
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	unlock, err := r.s.store.LockAccount(ctx, pg.RoleGrantLockKey(req.GetIssuer(), req.GetSubject()))
	if err != nil {
		return nil, err
	}
	defer unlock()
	last, err := r.s.store.LastRoleGrants(ctx, req.GetIssuer(), req.GetSubject(), account)
	if err != nil {
		return nil, err
	}
	tenants := slices.Collect(maps.Keys(last))
	for t := range byTenant {
		if _, seen := last[t]; !seen {
			tenants = append(tenants, t)
		}
	}
	slices.Sort(tenants)
	out := &ledgerv1.RecordRoleGrantsResponse{}
	for _, t := range tenants {
		prevIndex := int64(-1)
		prev, had := last[t]
		if had {
			if err := r.checkIndexed(ctx, prev); err != nil {
				return nil, err
			}
			prevIndex = prev.LogIndex
		}
		before, after := rolechange.Set(prev.After).Normal(), rolechange.Set(byTenant[t]).Normal()
		if slices.Equal(before, after) {
			continue
		}
		c := rolechange.Change{Account: req.GetSubject(), Name: req.GetDisplayName(), Before: before, After: after,
			Source: req.GetSource(), By: req.GetIssuer(), At: r.s.now()}
		e, err := r.logChange(ctx, t, c, grantRequestID(t, c, prevIndex))
		if err != nil {
			return nil, err
		}
		if err := r.s.store.InsertRoleGrant(ctx, pg.RoleGrant{Tenant: t, Issuer: req.GetIssuer(), Account: account[0],
			Source: req.GetSource(), Change: e.GetPurpose(), Before: before,
			After: after, RecordTime: e.GetOccurTime().AsTime(), KeepUntil: rolechange.KeptUntil(e.GetOccurTime().AsTime()),
			LogIndex: e.GetIndex()}); err != nil {
			return nil, err
		}
		out.Recorded = append(out.Recorded, roleGrant(t, e))
	}
	return out, nil
}

// accounts are the keyed hashes of the account (issuer, subject) that ledger.role_grants finds
// it by, the current data key's first (seal.Box.Tags).
func (r *RoleGrants) accounts(issuer, subject string) [][]byte {
	return r.s.box.Tags("ledger.role_grants account", []byte(issuer+"\x00"+subject))
}

// grantRequestID is the request_id of the entry recording c in tenant t after the record at
// prevIndex of its log (-1: none): the same change from the same record is one entry however
// often it is tried (a process that died after the entry and before its index row retries it).
func grantRequestID(t string, c rolechange.Change, prevIndex int64) string {
	h := sha256.New()
	for _, p := range []string{t, c.By, c.Account, strconv.FormatInt(prevIndex, 10), strings.Join(c.After, "\n")} {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return "role-grant:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// logChange appends the ROLE_CHANGE entry of c to tenant t's own log, idempotent by requestID,
// and returns it as stored.
func (r *RoleGrants) logChange(ctx context.Context, t string, c rolechange.Change, requestID string) (*ledgerv1.Entry, error) {
	e := rolechange.Entry(c)
	if e == nil {
		return nil, fmt.Errorf("ledger: the roles of %s in %s did not change", c.Account, names.Tenant(t))
	}
	e.RecordedBy = systemSubject
	if err := apierr.Violations(entry.Validate(e, r.s.now())).Err(); err != nil {
		return nil, err
	}
	// The request_id already names the change: its fingerprint is the id and the log alone, so
	// that a retry at another time, or under another display name, replays the first entry.
	fp := &ledgerv1.AppendEntryRequest{Parent: names.Unit(t, names.TenantLog), RequestId: requestID}
	return r.s.append(ctx, t, names.TenantLog, e, fp, appendOpts{})
}

// checkIndexed refuses an index row that does not say what its entry says (DataLoss): the
// account's next change would be recorded against roles it was never recorded with (S-8-3).
func (r *RoleGrants) checkIndexed(ctx context.Context, g pg.RoleGrant) error {
	if g.LogIndex < 0 {
		return nil // not yet carried into the log (CarryRoleGrants)
	}
	name := names.Entries.NameN(g.Tenant, names.TenantLog, g.LogIndex)
	row, err := r.s.store.Entry(ctx, g.Tenant, names.TenantLog, g.LogIndex)
	if err != nil {
		return err
	}
	e, err := r.s.entry(g.Tenant, names.TenantLog, row)
	if err != nil {
		return err
	}
	c := rolechange.FromEntry(e)
	// S-5: once its three years are over, a redaction may have erased the entry's account and
	// name; its roles still say what the row says, and the account goes on.
	account := c.Account == g.Subject || row.Redacted && c.Account == ""
	if g.Account != nil { // hashed: the entry's account must hash to it
		account = row.Redacted && c.Account == "" || slices.ContainsFunc(r.accounts(c.By, c.Account), func(a []byte) bool { return bytes.Equal(a, g.Account) })
	}
	if e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE || !account || c.By != g.Issuer ||
		!slices.Equal(c.After.Normal(), rolechange.Set(g.After).Normal()) || !slices.Equal(c.Before.Normal(), rolechange.Set(g.Before).Normal()) {
		slog.ErrorContext(ctx, "ledger: a role-grant row does not match its log entry", "row", g.ID, "tenant", g.Tenant, "entry", name)
		d := apierr.DataLoss("ROLE_GRANT_MISMATCH", fmt.Sprintf("role-grant record %d of %s does not say what its entry %s says (S-8-3)",
			g.ID, names.Tenant(g.Tenant), name))
		d.Metadata = map[string]string{"rule": "S-8-3"}
		return d
	}
	return nil
}

// CarryRoleGrants appends the records made before records were entries to their tenants' own
// logs, as they were (their time, roles and account), and names the entries in their rows. Each
// entry's request_id is the row's, so replicas starting together, or a start interrupted
// half-way, append each once.
func (r *RoleGrants) CarryRoleGrants(ctx context.Context) (int, error) {
	n := 0
	for {
		gs, err := r.s.store.UnloggedRoleGrants(ctx, 500)
		if err != nil || len(gs) == 0 {
			return n, err
		}
		for _, g := range gs {
			c := rolechange.Change{Account: g.Subject, Name: g.DisplayName, Before: g.Before, After: g.After, Source: g.Source,
				By: g.Issuer, At: g.RecordTime}
			e, err := r.logChange(ctx, g.Tenant, c, fmt.Sprintf("role-grant:row:%d", g.ID))
			if err != nil {
				return n, fmt.Errorf("ledger: carry role grant %s/%d into its log: %w", g.Tenant, g.ID, err)
			}
			if err := r.s.store.SetRoleGrantIndex(ctx, g, e.GetIndex()); err != nil {
				return n, err
			}
			n++
		}
	}
}

// HashRoleGrants replaces the subject and display name of the rows written before rows were
// hashed (migration 00010) by the account's keyed hash, once they are in the log (run after
// CarryRoleGrants); replicas starting together hash each once.
func (r *RoleGrants) HashRoleGrants(ctx context.Context) (int, error) {
	n := 0
	for {
		gs, err := r.s.store.UnhashedRoleGrants(ctx, 500)
		if err != nil || len(gs) == 0 {
			return n, err
		}
		for _, g := range gs {
			if err := r.s.store.HashRoleGrant(ctx, g, r.accounts(g.Issuer, g.Subject)[0]); err != nil {
				return n, err
			}
			n++
		}
	}
}

// grantsParent reads a list's parent, tenants/{t} or tenants/-, and checks that the caller may
// read it: a CPO, auditor or tenant admin of the tenant, or one on "*" (S-5; the operators'
// own grants only to them).
func grantsParent(ctx context.Context, parent string) (string, error) {
	t := pg.OperatorTenant
	if parent != operatorParent {
		var err error
		if t, err = names.ParseTenant("parent", parent); err != nil {
			return "", names.Invalid("parent", parent, "tenants/{tenant} or tenants/-")
		}
	}
	if err := authorizeTenantLog(ctx, t, grantReaders); err != nil {
		return "", apierr.Denied("reading " + parent + "/role-grants needs the CPO, auditor or tenant admin role on the whole tenant (S-5)")
	}
	return t, nil
}

// authorizeTenantLog checks that the caller holds one of roles on the whole of tenant t, whose
// own log holds the role grants of its staff's tokens (S-5): grantReaders to read it, redactRoles
// to erase; operators hold them on "*". For tenant "-" (grants on "*") operators only, as Allows
// asks for the tenant by id and "-" is no tenant's.
func authorizeTenantLog(ctx context.Context, t string, roles []auth.Role) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	if !p.Allows(t, nil, roles...) {
		return apierr.Denied(fmt.Sprintf("the tenant's own log (%s) needs one of the roles %v on the whole tenant (S-5)", names.Unit(t, names.TenantLog), roles))
	}
	return nil
}

// maxScan bounds the entries one ListRoleGrants call reads to fill a page filtered by subject;
// a page may then hold fewer records than asked, with a token to go on (AIP-158).
const maxScan = 2000

func (r *RoleGrants) ListRoleGrants(ctx context.Context, req *ledgerv1.ListRoleGrantsRequest) (*ledgerv1.ListRoleGrantsResponse, error) {
	t, err := grantsParent(ctx, req.GetParent())
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	size := names.PageSize(&vs, req.GetPageSize())
	var start, end time.Time
	for _, f := range []struct {
		field string
		ts    *timestamppb.Timestamp
	}{{"start_time", req.GetStartTime()}, {"end_time", req.GetEndTime()}} {
		if f.ts != nil && f.ts.CheckValid() != nil {
			vs.Add(f.field, "format", "not a valid time")
		}
	}
	if req.GetStartTime() != nil {
		start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		end = req.GetEndTime().AsTime()
	}
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		vs.Add("end_time", "range", "must be after start_time")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	subject := req.GetSubject()
	q := names.Query{"ledger.role_changes", t, subject, start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano)}
	key, err := q.Parse(req.GetPageToken(), 3)
	if err != nil {
		return nil, err
	}
	var after *pg.ChangeKey
	if key != nil {
		at, err1 := time.Parse(time.RFC3339Nano, key[0])
		i, err2 := strconv.ParseInt(key[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, names.Invalid("page_token", req.GetPageToken(), "a next_page_token of this list")
		}
		after = &pg.ChangeKey{OccurTime: at, Unit: key[1], Index: i}
	}
	out := &ledgerv1.ListRoleGrantsResponse{}
	for scanned := 0; ; {
		limit := min(max(size+1, 100), maxScan-scanned)
		rows, err := r.s.store.RoleChanges(ctx, t, start, end, after, limit)
		if err != nil {
			return nil, err
		}
		for _, c := range rows {
			scanned++
			// Through decode: the account and name are revealed from the sealed values, or erased;
			// values that do not open (logged with the entry's name and counted) are listed as
			// erased, so that the history goes on past them, as ListEntries does.
			e, _, err := r.s.decode(t, c.Unit, c.Row)
			if err != nil {
				return nil, err
			}
			g := roleGrant(t, e)
			if subject != "" && g.GetSubject() != subject {
				after = &c.ChangeKey
				continue
			}
			if len(out.RoleGrants) == size {
				out.NextPageToken = q.Token(after.OccurTime.Format(time.RFC3339Nano), after.Unit, strconv.FormatInt(after.Index, 10))
				return out, nil
			}
			out.RoleGrants = append(out.RoleGrants, g)
			after = &c.ChangeKey
		}
		if len(rows) < limit { // the end of the list
			return out, nil
		}
		if scanned >= maxScan { // cut short: go on from here
			out.NextPageToken = q.Token(after.OccurTime.Format(time.RFC3339Nano), after.Unit, strconv.FormatInt(after.Index, 10))
			return out, nil
		}
	}
}

// roleGrant is the record that ROLE_CHANGE entry e (named) of tenant t states.
func roleGrant(t string, e *ledgerv1.Entry) *ledgerv1.RoleGrant {
	c := rolechange.FromEntry(e)
	g := &ledgerv1.RoleGrant{Name: e.GetName(), Subject: c.Account, DisplayName: c.Name, Source: c.Source,
		Change: e.GetPurpose(), Before: c.Before, After: c.After, RecordTime: timestamppb.New(c.At),
		KeepUntil: timestamppb.New(rolechange.KeptUntil(c.At)), ChangedBy: c.By}
	if _, u, ok := names.UnitOf(e.GetName()); ok {
		g.Unit = names.Unit(t, u) // an officer's, in its unit's log: "{officer} ({display name})"
		if o, n, ok := strings.Cut(c.Account, " ("); ok && strings.HasSuffix(n, ")") && names.Officers.In(t, u, o) {
			g.Subject, g.DisplayName = o, strings.TrimSuffix(n, ")")
		}
	} else {
		g.Issuer = c.By // a token's, in the tenant's own log
	}
	return g
}

// GrantsExportPattern is the path of the role-grant history's export.
const GrantsExportPattern = "GET /v1/tenants/{tenant}/role-grants:export"

// grantColumns are the export's columns.
var grantColumns = []sheet.Column{{Header: "기록 일시", Width: 18}, {Header: "구분", Width: 10},
	{Header: "계정(subject)", Width: 24}, {Header: "이름", Width: 12}, {Header: "발급자(issuer)", Width: 28},
	{Header: "출처", Width: 12}, {Header: "이전 권한", Width: 40}, {Header: "변경 후 권한", Width: 40},
	{Header: "보존 기한", Width: 18}, {Header: "부서", Width: 28}, {Header: "변경자", Width: 20}, {Header: "대장 항목", Width: 44}}

// GrantsExport serves a tenant's role-grant history (tenant "-": the grants on "*") as CSV, or
// XLSX with format=xlsx, newest first, each row with its unit (an officer's), who changed it and
// the ledger entry that records it, with the filters of ListRoleGrants (subject, start_time,
// end_time, RFC 3339). It reads through ListRoleGrants with the caller's own token, so the same
// roles apply, and streams a page at a time.
func GrantsExport(client ledgerv1.RoleGrantServiceClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		format, ctx, ok := exportRequest(w, r)
		if !ok {
			return
		}
		req := &ledgerv1.ListRoleGrantsRequest{Parent: names.Tenant(r.PathValue("tenant")), PageSize: exportPage, Subject: q.Get("subject")}
		for _, t := range []struct {
			field string
			ts    **timestamppb.Timestamp
		}{{"start_time", &req.StartTime}, {"end_time", &req.EndTime}} {
			if v := q.Get(t.field); v != "" {
				at, err := time.Parse(time.RFC3339, v)
				if err != nil {
					writeStatus(w, status.Convert(apierr.ToStatus(invalid(t.field, "format", "an RFC 3339 time, e.g. 2026-12-01T00:00:00+09:00"))))
					return
				}
				*t.ts = timestamppb.New(at)
			}
		}
		first, err := client.ListRoleGrants(ctx, req)
		if err != nil { // refused before any byte of the file
			writeStatus(w, status.Convert(err))
			return
		}
		rows := func(yield func([]string, error) bool) {
			for page := first; ; {
				for _, g := range page.GetRoleGrants() {
					if !yield(grantRow(g), nil) {
						return
					}
				}
				if page.GetNextPageToken() == "" {
					return
				}
				req.PageToken = page.GetNextPageToken()
				if page, err = client.ListRoleGrants(ctx, req); err != nil {
					yield(nil, err)
					return
				}
			}
		}
		tenant := r.PathValue("tenant")
		if tenant == pg.OperatorTenant {
			tenant = "operators"
		}
		out := newDownload(w, tenant+"-role-grants", format)
		if format == "xlsx" {
			out.finish(sheet.WriteXLSX(out, "권한 부여·변경·말소 기록", grantColumns, rows))
		} else {
			out.finish(sheet.WriteCSV(out, grantColumns, rows))
		}
	})
}

// grantRow is a record as the export's row, times in Seoul.
func grantRow(g *ledgerv1.RoleGrant) []string {
	at := func(ts *timestamppb.Timestamp) string {
		return ts.AsTime().In(seoul.Location).Format("2006-01-02 15:04:05")
	}
	return []string{at(g.GetRecordTime()), g.GetChange(), g.GetSubject(), g.GetDisplayName(), g.GetIssuer(), g.GetSource(),
		strings.Join(g.GetBefore(), ", "), strings.Join(g.GetAfter(), ", "), at(g.GetKeepUntil()), g.GetUnit(), g.GetChangedBy(), g.GetName()}
}
