package registry

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/pkg/sheet"
)

// ExportRegistrationsPattern is the registration export of API.md
// (`tenants/{t}/files:exportRegistrations?format=csv|xlsx`).
const ExportRegistrationsPattern = "GET /v1/tenants/{tenant}/files:exportRegistrations"

// registrationSheet names the XLSX sheet: PIPC's 개인정보파일 등록 신청 (DEC-33-1).
const registrationSheet = "개인정보파일 등록"

// registrationColumns are the items of PIPC's registration (PIPA-32-1 / DEC-33-1), in its order,
// then the registration's standing (DEC-34-1) for the officer who files them on the portal.
var registrationColumns = []sheet.Column{
	{Header: "번호", Width: 6, Number: true},
	{Header: "개인정보파일의 명칭", Width: 28},
	{Header: "운영 근거", Width: 28},
	{Header: "운영 목적", Width: 32},
	{Header: "기록되는 개인정보의 항목", Width: 40},
	{Header: "처리방법", Width: 12},
	{Header: "보유기간", Width: 20},
	{Header: "통상적 또는 반복적으로 제공하는 경우 제공받는 자", Width: 28},
	{Header: "개인정보파일을 운용하는 공공기관의 명칭", Width: 24},
	{Header: "정보주체의 수", Width: 12, Number: true},
	{Header: "개인정보 처리 부서", Width: 24},
	{Header: "열람 요구를 접수·처리하는 부서", Width: 24},
	{Header: "열람을 제한하거나 거절할 수 있는 개인정보의 범위 및 사유", Width: 32},
	{Header: "영향평가 결과", Width: 24},
	{Header: "구분", Width: 14},
	{Header: "사유 발생일", Width: 12},
	{Header: "등록 기한", Width: 12},
	{Header: "상태", Width: 10},
	{Header: "등록일", Width: 12},
	{Header: "등록번호", Width: 18},
}

var (
	kindCell = map[registryv1.RegistrationKind]string{
		registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION:   "등록",
		registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE:         "변경등록",
		registryv1.RegistrationKind_REGISTRATION_KIND_DEREGISTRATION: "등록 삭제",
		registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION:      "등록 면제",
	}
	stateCell = map[registryv1.DeadlineState]string{
		registryv1.DeadlineState_DEADLINE_STATE_DUE:     "기한 내",
		registryv1.DeadlineState_DEADLINE_STATE_DONE:    "완료",
		registryv1.DeadlineState_DEADLINE_STATE_OVERDUE: "기한 경과",
		registryv1.DeadlineState_DEADLINE_STATE_NONE:    "해당 없음",
	}
)

// ExportRegistrations serves the tenant's files as rows of PIPC's registration form: CSV by
// default, XLSX with format=xlsx. It reads ListRegistrations and ListAssessments with the
// caller's own token, so the same roles apply; the table is one tenant's files, built in memory
// and answered whole or not at all.
func ExportRegistrations(client registryv1.RegistryServiceClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := cmp.Or(r.URL.Query().Get("format"), "csv")
		if format != "csv" && format != "xlsx" {
			writeStatus(w, status.New(codes.InvalidArgument, "format must be csv or xlsx"))
			return
		}
		ctx := r.Context()
		if a := r.Header.Get("Authorization"); a != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
		}
		t := r.PathValue("tenant")
		list, err := client.ListRegistrations(ctx, &registryv1.ListRegistrationsRequest{Parent: names.Tenant(t)})
		if err != nil {
			writeStatus(w, status.Convert(err))
			return
		}
		units, assessed := map[string]string{}, map[string][]string{}
		for _, fr := range list.GetFiles() {
			tt, u, _ := names.UnitOf(fr.GetFile().GetName())
			un := names.Unit(tt, u)
			if _, ok := units[un]; ok {
				continue
			}
			unit, err := client.GetUnit(ctx, &registryv1.GetUnitRequest{Name: un})
			if err != nil {
				writeStatus(w, status.Convert(err))
				return
			}
			units[un] = unit.GetFullName()
			as, err := client.ListAssessments(ctx, &registryv1.ListAssessmentsRequest{Parent: un})
			if err != nil {
				writeStatus(w, status.Convert(err))
				return
			}
			for _, a := range as.GetAssessments() {
				for _, f := range a.GetFiles() {
					assessed[f] = append(assessed[f], fmt.Sprintf("%d년 %s", a.GetYear(), a.GetDisplayName()))
				}
			}
		}
		var buf bytes.Buffer
		write, typ := sheet.WriteCSV, "text/csv; charset=utf-8"
		if format == "xlsx" {
			write = func(w2 io.Writer, cols []sheet.Column, rows iter.Seq2[[]string, error]) error {
				return sheet.WriteXLSX(w2, registrationSheet, cols, rows)
			}
			typ = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		}
		if err := write(&buf, registrationColumns, registrationRows(list.GetFiles(), units, assessed)); err != nil {
			writeStatus(w, status.New(codes.Internal, "the export could not be written"))
			return
		}
		w.Header().Set("Content-Type", typ)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-registrations-%s.%s"`,
			t, time.Now().In(seoul.Location).Format("20060102"), format))
		_, _ = w.Write(buf.Bytes())
	})
}

// registrationRows is one row per file: its DEC-33-1 items and its latest registration event.
func registrationRows(files []*registryv1.FileRegistrations, units map[string]string, assessed map[string][]string) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		for i, fr := range files {
			f := fr.GetFile()
			tt, u, _ := names.UnitOf(f.GetName())
			var last *registryv1.Registration
			if len(fr.GetRegistrations()) > 0 {
				last = fr.GetRegistrations()[0]
			}
			var recipients []string
			for _, rc := range f.GetRecipients() {
				recipients = append(recipients, rc.GetRecipient())
			}
			items := strings.Join(append(append([]string{}, f.GetRequiredItems()...), f.GetOptionalItems()...), ", ")
			subjects := ""
			if f.GetSubjectCount() > 0 {
				subjects = strconv.FormatInt(f.GetSubjectCount(), 10)
			}
			unit := units[names.Unit(tt, u)]
			row := []string{strconv.Itoa(i + 1), f.GetDisplayName(), f.GetLegalBasis(), f.GetPurpose(), items,
				last.GetProcessingMethod(), f.GetRetention(), strings.Join(recipients, ", "), unit, subjects, unit,
				last.GetAccessDepartment(), last.GetAccessRestriction(), strings.Join(assessed[f.GetName()], "; "),
				kindCell[last.GetKind()], last.GetEventDate(), last.GetDueDate(), cmp.Or(stateCell[last.GetState()], "기록 없음"),
				last.GetFiledDate(), last.GetPipcNumber()}
			if !yield(row, nil) {
				return
			}
		}
	}
}

// writeStatus answers with a gRPC status as grpc-gateway would, as JSON.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	b, _ := server.JSON.Marshal(st.Proto())
	_, _ = w.Write(b)
}
