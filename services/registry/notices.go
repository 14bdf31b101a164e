package registry

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/register"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// Notices to the subjects of a marketing task (PIPA-26-3, DEC-28-4,5): each recorded once under
// its contract, with the processor and the task the registry held when it was recorded (read in
// the transaction under the processor's lock, so a concurrent change of the processor is either
// before it, and told, or after it, and due again); a posting is served on the unit's public
// page for its period (NoticePostingPath). The duty they meet is in register.noticeDuty.

// CreateSubjectNotice records a notice of the contract's marketing task, or its posting.
func (s *Server) CreateSubjectNotice(ctx context.Context, req *registryv1.CreateSubjectNoticeRequest) (*registryv1.SubjectNotice, error) {
	t, u, p, err := names.Contracts.Parse("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	n := proto.CloneOf(req.GetNotice())
	if n == nil {
		n = &registryv1.SubjectNotice{}
	}
	clearOutputOnly(n, "processor_company", "task", "posting_path", "ledger_entry")
	today := s.today()
	vs := register.ValidateNotice(n, today)
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	posting := register.SetPostingDays(n, today)
	entry := func(name string) *ledgerv1.AppendEntryRequest {
		how := n.GetMethod()
		if posting {
			how = fmt.Sprintf("인터넷 홈페이지 게재 %s ~ %s (사유: %s)", n.GetDate(), n.GetPostingEndDate(), n.GetPostingReason())
		}
		return s.registerEntry(fmt.Sprintf("홍보·판매 권유 업무 위탁 사실의 정보주체 통지 기록 (PIPA-26-3): %s, %s (수탁자 %s, 위탁업무 %s)",
			n.GetDate(), how, n.GetProcessorCompany(), n.GetTask()))(name)
	}
	name, oid, err := s.store.Tenant(t).CreateRecord(ctx, u, pg.Notices, func(ctx context.Context, tx *pg.TenantStore) (string, error) {
		if err := tx.LockProcessor(ctx, u, p); err != nil {
			return "", err
		}
		var c registryv1.ProcessorContract
		if err := tx.GetRecord(ctx, u, pg.Contracts, p, &c); err != nil {
			return "", err
		}
		if err := register.NoticeOwed(&c, req.GetParent()); err != nil {
			return "", err
		}
		var proc registryv1.Processor
		if err := tx.GetChild(ctx, pg.Processors, u, p, &proc); err != nil {
			return "", err
		}
		n.ProcessorCompany, n.Task = proc.GetCompany(), proc.GetWork()
		id, err := tx.NextNotice(ctx, u, p)
		if err != nil {
			return "", err
		}
		if posting {
			_, num, _ := strings.Cut(id, "/")
			n.PostingPath = NoticePostingPath(t, u, p, num)
		}
		return id, nil
	}, n, idem(ctx, req.GetRequestId(), req), entry)
	if err != nil {
		return nil, err
	}
	s.deliver(ctx, t, oid)
	return s.GetSubjectNotice(ctx, &registryv1.GetSubjectNoticeRequest{Name: name})
}

// NoticePostingPath is the public page of a contract's notice n posted (DEC-28-5). One segment
// holds the processor and the number ("{processor}.{n}": an id has no dot), as the policies'
// pages take the other shapes of /p/{tenant}/{unit}/….
func NoticePostingPath(t, u, processor, n string) string {
	return "/p/" + t + "/" + u + "/outsourcing/" + processor + "." + n
}

func (s *Server) GetSubjectNotice(ctx context.Context, req *registryv1.GetSubjectNoticeRequest) (*registryv1.SubjectNotice, error) {
	t, u, p, n, err := names.Notices.Parse("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	out := &registryv1.SubjectNotice{}
	return out, s.store.Tenant(t).GetRecord(ctx, u, pg.Notices, p+"/"+strconv.FormatInt(n, 10), out)
}

func (s *Server) ListSubjectNotices(ctx context.Context, req *registryv1.ListSubjectNoticesRequest) (*registryv1.ListSubjectNoticesResponse, error) {
	t, u, p, err := names.Contracts.Parse("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	ns, err := listRecords[*registryv1.SubjectNotice](ctx, s.store.Tenant(t), u, pg.Notices)
	if err != nil {
		return nil, err
	}
	out := &registryv1.ListSubjectNoticesResponse{}
	for _, n := range ns {
		if _, _, pp, _, _ := names.Notices.Parse("name", n.GetName()); pp == p {
			out.Notices = append(out.Notices, n)
		}
	}
	return out, nil
}

// GetNoticePosting is public: a notice posted (DEC-28-5) from its first to its last day, Asia/Seoul;
// NotFound before, after, and for a notice that was sent rather than posted.
func (s *Server) GetNoticePosting(ctx context.Context, req *registryv1.GetNoticePostingRequest) (*registryv1.NoticePosting, error) {
	t, u, p := req.GetTenant(), req.GetUnit(), req.GetProcessor()
	notFound := apierr.NotFound(names.Notices.Name(names.Contracts.Name(t, u, p), req.GetNotice()) + "/posting")
	if !names.ValidID(t) || !names.ValidID(u) || !names.ValidID(p) || req.GetNotice() <= 0 {
		return nil, notFound
	}
	ts := s.store.Tenant(t)
	var n registryv1.SubjectNotice
	if err := ts.GetRecord(ctx, u, pg.Notices, p+"/"+strconv.FormatInt(req.GetNotice(), 10), &n); apierr.KindOf(err) == apierr.KindOf(notFound) {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	if !postedOn(&n, s.today()) {
		return nil, notFound
	}
	unit, err := ts.GetUnit(ctx, u)
	if err != nil {
		return nil, err
	}
	return noticePosting(&n, unit.GetFullName()), nil
}

// ListNoticePostings is public: the unit's notices up today (DEC-28-5), which its page links.
func (s *Server) ListNoticePostings(ctx context.Context, req *registryv1.ListNoticePostingsRequest) (*registryv1.ListNoticePostingsResponse, error) {
	t, u := req.GetTenant(), req.GetUnit()
	if !names.ValidID(t) || !names.ValidID(u) {
		return nil, apierr.NotFound(names.Unit(t, u))
	}
	ts := s.store.Tenant(t)
	ns, err := listRecords[*registryv1.SubjectNotice](ctx, ts, u, pg.Notices)
	if err != nil {
		return nil, err
	}
	out := &registryv1.ListNoticePostingsResponse{}
	today := s.today()
	var unit *registryv1.Unit
	for _, n := range ns {
		if !postedOn(n, today) {
			continue
		}
		if unit == nil {
			if unit, err = ts.GetUnit(ctx, u); err != nil {
				return nil, err
			}
		}
		out.Postings = append(out.Postings, noticePosting(n, unit.GetFullName()))
	}
	return out, nil
}

// postedOn reports whether notice n is posted and up on day (its first to its last day).
func postedOn(n *registryv1.SubjectNotice, day policy.Date) bool {
	start, _ := policy.ParseDate(n.GetDate())
	end, _ := policy.ParseDate(n.GetPostingEndDate())
	return n.GetPostingPath() != "" && !day.Before(start) && !day.After(end)
}

// noticePosting is notice n's public posting, of the unit named unitName: only recorded facts.
func noticePosting(n *registryv1.SubjectNotice, unitName string) *registryv1.NoticePosting {
	return &registryv1.NoticePosting{UnitDisplayName: unitName, ProcessorCompany: n.GetProcessorCompany(), Task: n.GetTask(),
		StartDate: n.GetDate(), EndDate: n.GetPostingEndDate(), Path: n.GetPostingPath()}
}
