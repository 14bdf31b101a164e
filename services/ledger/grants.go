package ledger

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/sheet"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// RoleGrants implements pipa.ledger.v1.RoleGrantService: the history of the roles that reach
// pipa in bearer tokens (S-5), which pkg/rolegrant reports as tokens present them. A record is
// a row of ledger.role_grants, never changed and not erased before its keep_until (the table's
// trigger refuses it); the service has no delete. Grants on "*" are kept under "tenants/-".
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
	got, err := r.s.store.RecordRoleGrants(ctx, pg.Presented{Issuer: req.GetIssuer(), Subject: req.GetSubject(),
		DisplayName: req.GetDisplayName(), Source: req.GetSource(), ByTenant: byTenant, At: r.s.now()})
	if err != nil {
		return nil, err
	}
	out := &ledgerv1.RecordRoleGrantsResponse{}
	for _, g := range got {
		out.Recorded = append(out.Recorded, roleGrant(g))
	}
	return out, nil
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
	p, _ := auth.FromContext(ctx)
	// Allows asks for the tenant by id: "-" is no tenant's, so only grants on "*" pass for it.
	if !p.Allows(t, nil, grantReaders...) {
		return "", apierr.Denied("reading " + parent + "/role-grants needs the CPO, auditor or tenant admin role on the whole tenant (S-5)")
	}
	return t, nil
}

func (r *RoleGrants) ListRoleGrants(ctx context.Context, req *ledgerv1.ListRoleGrantsRequest) (*ledgerv1.ListRoleGrantsResponse, error) {
	t, err := grantsParent(ctx, req.GetParent())
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	size := names.PageSize(&vs, req.GetPageSize())
	f := pg.GrantFilter{Subject: req.GetSubject()}
	for _, t := range []struct {
		field string
		ts    *timestamppb.Timestamp
	}{{"start_time", req.GetStartTime()}, {"end_time", req.GetEndTime()}} {
		if t.ts != nil && t.ts.CheckValid() != nil {
			vs.Add(t.field, "format", "not a valid time")
		}
	}
	if req.GetStartTime() != nil {
		f.Start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		f.End = req.GetEndTime().AsTime()
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.After(f.Start) {
		vs.Add("end_time", "range", "must be after start_time")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	q := names.Query{"ledger.role_grants", t, f.Subject, f.Start.Format(time.RFC3339Nano), f.End.Format(time.RFC3339Nano)}
	before, err := q.ParseN(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	rows, err := r.s.store.RoleGrants(ctx, t, f, before, size+1)
	if err != nil {
		return nil, err
	}
	out := &ledgerv1.ListRoleGrantsResponse{}
	if len(rows) > size {
		rows = rows[:size]
		out.NextPageToken = q.TokenN(rows[size-1].ID)
	}
	for _, g := range rows {
		out.RoleGrants = append(out.RoleGrants, roleGrant(g))
	}
	return out, nil
}

func roleGrant(g pg.RoleGrant) *ledgerv1.RoleGrant {
	return &ledgerv1.RoleGrant{Name: fmt.Sprintf("tenants/%s/role-grants/%d", g.Tenant, g.ID), Issuer: g.Issuer,
		Subject: g.Subject, DisplayName: g.DisplayName, Source: g.Source, Change: g.Change, Before: g.Before,
		After: g.After, RecordTime: timestamppb.New(g.RecordTime), KeepUntil: timestamppb.New(g.KeepUntil)}
}

// GrantsExportPattern is the path of the role-grant history's export.
const GrantsExportPattern = "GET /v1/tenants/{tenant}/role-grants:export"

// grantColumns are the export's columns.
var grantColumns = []sheet.Column{{Header: "기록 일시", Width: 18}, {Header: "구분", Width: 10},
	{Header: "계정(subject)", Width: 24}, {Header: "이름", Width: 12}, {Header: "발급자(issuer)", Width: 28},
	{Header: "출처", Width: 12}, {Header: "이전 권한", Width: 40}, {Header: "변경 후 권한", Width: 40},
	{Header: "보존 기한", Width: 18}}

// GrantsExport serves a tenant's role-grant history (tenant "-": the grants on "*") as CSV, or
// XLSX with format=xlsx, newest first, with the filters of ListRoleGrants (subject, start_time,
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
		strings.Join(g.GetBefore(), ", "), strings.Join(g.GetAfter(), ", "), at(g.GetKeepUntil())}
}
