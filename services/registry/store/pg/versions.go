package pg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
)

// policySegment is the collection id of a policy kind in names and its value in the kind column.
var policySegment = map[registryv1.PolicyKind]string{
	registryv1.PolicyKind_POLICY_KIND_PRIVACY: "privacy",
	registryv1.PolicyKind_POLICY_KIND_CCTV:    "cctv",
}

var policyStates = map[registryv1.PolicyState]string{
	registryv1.PolicyState_POLICY_STATE_DRAFT:     "draft",
	registryv1.PolicyState_POLICY_STATE_ANNOUNCED: "announced",
	registryv1.PolicyState_POLICY_STATE_ARCHIVED:  "archived",
}

func policyKind(kind registryv1.PolicyKind) (string, error) {
	seg, ok := policySegment[kind]
	if !ok {
		return "", apierr.Invalid(apierr.Violation{Field: "policy_version.kind", Rule: "required",
			Description: "must be POLICY_KIND_PRIVACY or POLICY_KIND_CCTV"})
	}
	return seg, nil
}

// versionColumns reads v's state and effective date for their key columns.
func versionColumns(v *registryv1.PolicyVersion) (state string, effective *time.Time, err error) {
	state, ok := policyStates[v.GetState()]
	if !ok {
		return "", nil, apierr.Invalid(apierr.Violation{Field: "policy_version.state", Rule: "required",
			Description: "must be DRAFT, ANNOUNCED or ARCHIVED"})
	}
	if d := v.GetEffectiveDate(); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return "", nil, apierr.Invalid(apierr.Violation{Field: "policy_version.effective_date", Rule: "format",
				Description: "must be a date as YYYY-MM-DD"})
		}
		effective = &t
	}
	return state, effective, nil
}

// CreateVersion creates the next version of unit unitID's policy of v.kind: its number is one
// more than the highest so far (1 for the first), allocated without gaps or duplicates under
// concurrent creates. A version with no state is a draft. It returns the version as stored; a
// replay of idem's request returns the version the first call created.
func (s *TenantStore) CreateVersion(ctx context.Context, unitID string, v *registryv1.PolicyVersion, idem Idem) (*registryv1.PolicyVersion, error) {
	kind, err := policyKind(v.GetKind())
	if err != nil {
		return nil, err
	}
	out := proto.Clone(v).(*registryv1.PolicyVersion)
	if out.State == registryv1.PolicyState_POLICY_STATE_UNSPECIFIED {
		out.State = registryv1.PolicyState_POLICY_STATE_DRAFT
	}
	state, effective, err := versionColumns(out)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		name, replayed, err := idempotent(ctx, tx, s.tenant, idem, func() (string, error) {
			// Numbers are max+1 under a lock per policy, held to commit: a sequence would leave
			// gaps on rollback, and the published history numbers versions 1, 2, 3...
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`,
				lockKey("version-number", s.tenant, unitID, kind)); err != nil {
				return "", fmt.Errorf("pg: create version: %w", err)
			}
			err := tx.QueryRow(ctx, `SELECT coalesce(max(number), 0) + 1 FROM registry.policy_versions
				WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3`, s.tenant, unitID, kind).Scan(&out.Number)
			if err != nil {
				return "", fmt.Errorf("pg: create version: %w", err)
			}
			now := clock(s.now)
			setMeta(out, names.Version(s.tenant, unitID, kind, out.Number), now, now, 1)
			data, err := encode(out)
			if err != nil {
				return "", err
			}
			_, err = tx.Exec(ctx, `INSERT INTO registry.policy_versions
				(tenant_id, unit_id, kind, number, state, effective_date, data, revision, create_time, update_time)
				VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)`,
				s.tenant, unitID, kind, out.Number, state, effective, data, now)
			if isFKViolation(err) {
				return "", apierr.NotFound(names.Unit(s.tenant, unitID))
			}
			if err != nil {
				return "", fmt.Errorf("pg: create version: %w", err)
			}
			return out.Name, nil
		})
		if err != nil || !replayed {
			return err
		}
		// The request is the same as the first, so the version is of the same unit and kind.
		t, u, k, n, err := names.ParseVersion("name", name)
		if err != nil || t != s.tenant || u != unitID || k != kind {
			return fmt.Errorf("pg: request %s recorded %q, not a version of this policy", idem.RequestID, name)
		}
		out, err = s.with(tx).GetVersion(ctx, unitID, v.GetKind(), n)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const versionColumnList = `unit_id, kind, number, data, revision, create_time, update_time`

// scanVersion reads a row of versionColumnList.
func (s *TenantStore) scanVersion(row pgx.Row) (*registryv1.PolicyVersion, error) {
	var (
		unitID, kind string
		number       int32
		data         []byte
		m            rowMeta
	)
	if err := row.Scan(&unitID, &kind, &number, &data, &m.revision, &m.create, &m.update); err != nil {
		return nil, err
	}
	v := &registryv1.PolicyVersion{}
	if err := decode(data, v); err != nil {
		return nil, err
	}
	m.set(v, names.Version(s.tenant, unitID, kind, number))
	return v, nil
}

// GetVersion returns version number of unit unitID's policy of kind, snapshot included.
func (s *TenantStore) GetVersion(ctx context.Context, unitID string, kind registryv1.PolicyKind, number int32) (*registryv1.PolicyVersion, error) {
	seg, err := policyKind(kind)
	if err != nil {
		return nil, err
	}
	v, err := s.scanVersion(s.db.QueryRow(ctx, `SELECT `+versionColumnList+` FROM registry.policy_versions
		WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND number = $4`, s.tenant, unitID, seg, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Version(s.tenant, unitID, seg, number))
	}
	if err != nil {
		return nil, fmt.Errorf("pg: get version: %w", err)
	}
	return v, nil
}

// ListVersions returns every version of unit unitID's policy of kind, snapshots included, by
// number. A unit that does not exist is NotFound.
func (s *TenantStore) ListVersions(ctx context.Context, unitID string, kind registryv1.PolicyKind) ([]*registryv1.PolicyVersion, error) {
	return s.listVersions(ctx, unitID, kind, versionColumnList, "")
}

// lightData is a version's data without what a history does not show (PostgreSQL drops it before
// it leaves the server): the snapshot, the text, the frozen document's bytes and the comparison.
const lightData = `(data - 'snapshot' - 'preamble' - 'articles' - 'attachments' - 'comparison') #- '{document,html}' #- '{document,text}'`

// PublishedVersions returns the announced and archived versions of unit unitID's policy of kind,
// by number, without their snapshots, texts and documents (lightData), for the public history
// of a policy.
func (s *TenantStore) PublishedVersions(ctx context.Context, unitID string, kind registryv1.PolicyKind) ([]*registryv1.PolicyVersion, error) {
	return s.listVersions(ctx, unitID, kind,
		`unit_id, kind, number, `+lightData+`, revision, create_time, update_time`, `AND state <> 'draft'`)
}

// UnitVersions are the published versions of one unit's policy of one kind (lightData).
type UnitVersions struct {
	Unit     string
	Kind     registryv1.PolicyKind
	Versions []*registryv1.PolicyVersion
}

// AllPublished returns the published versions of every policy of the tenant (lightData), by unit,
// kind and number, for the body's index.
func (s *TenantStore) AllPublished(ctx context.Context) ([]UnitVersions, error) {
	rows, err := s.db.Query(ctx, `SELECT `+`unit_id, kind, number, `+lightData+`, revision, create_time, update_time
		FROM registry.policy_versions WHERE tenant_id = $1 AND state <> 'draft' ORDER BY unit_id, kind, number`, s.tenant)
	if err != nil {
		return nil, fmt.Errorf("pg: published versions: %w", err)
	}
	var out []UnitVersions
	err = forEachRow(rows, func(r pgx.Rows) error {
		v, err := s.scanVersion(r)
		if err != nil {
			return err
		}
		_, unit, _, _, _ := names.ParseVersion("name", v.GetName())
		if n := len(out); n == 0 || out[n-1].Unit != unit || out[n-1].Kind != v.GetKind() {
			out = append(out, UnitVersions{Unit: unit, Kind: v.GetKind()})
		}
		out[len(out)-1].Versions = append(out[len(out)-1].Versions, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pg: published versions: %w", err)
	}
	return out, nil
}

// PublishArgs is the job an earlier version queued with a frozen version to append its hash to
// its unit's ledger (STD-21); its worker now carries it into the ledger outbox.
type PublishArgs struct {
	Tenant string `json:"tenant"`
	Unit   string `json:"unit"`
	Policy string `json:"policy"` // "privacy" or "cctv"
	Number int32  `json:"number"`
}

// Kind names the job in River's tables.
func (PublishArgs) Kind() string { return "registry.publish_ledger_entry" }

// ChainPublication is the outbox chain of a PUBLICATION entry: once in the ledger, the version it
// records names it (Store.Delivered).
const ChainPublication = "publication"

// EnqueuePublication writes e, the PUBLICATION entry of the version frozen in this transaction, to
// the ledger outbox (pkg/ledgerout), so that the entry exists exactly when the frozen version
// does; it must be called inside InTx. requestID is empty but for a publication carried over from
// an earlier version's job, which appended under its own request_id.
func (s *TenantStore) EnqueuePublication(ctx context.Context, unitID, version string, e *ledgerv1.AppendEntryRequest, requestID string) (int64, error) {
	tx, ok := s.db.(pgx.Tx)
	if !ok {
		return 0, errors.New("pg: EnqueuePublication outside InTx")
	}
	if s.outbox == nil {
		return 0, errors.New("pg: publications need the ledger outbox (WithOutbox)")
	}
	return s.outbox.Enqueue(ctx, tx, s.tenant, ledgerout.Entry{Unit: unitID, Append: e, Subject: version,
		Chain: ChainPublication, RequestID: requestID})
}

// Delivered is the outbox's hook (ledgerout.Hooks): a PUBLICATION, once in the ledger, is named on
// the frozen version it records (document.ledgerEntry), in the transaction that records its index.
func (s *Store) Delivered(ctx context.Context, tx pgx.Tx, e ledgerout.Settled) error {
	if e.Chain != ChainPublication {
		return nil
	}
	_, unit, seg, n, err := names.ParseVersion("subject", e.Subject)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE registry.policy_versions
		SET data = jsonb_set(data, '{document,ledgerEntry}', to_jsonb($5::text)), revision = revision + 1, update_time = $6
		WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND number = $4 AND data ? 'document'`,
		e.Tenant, unit, seg, n, names.Entries.NameN(e.Tenant, e.Unit, e.Index), clock(s.now))
	if err != nil {
		return fmt.Errorf("pg: set ledger entry: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return apierr.NotFound(e.Subject + " (frozen)")
	}
	return nil
}

// Refused is the outbox's hook for a refusal: nothing waits on a publication but its version,
// which then names no entry; the outbox counts and logs the refusal.
func (s *Store) Refused(context.Context, pgx.Tx, []ledgerout.Settled, string) error { return nil }

func (s *TenantStore) listVersions(ctx context.Context, unitID string, kind registryv1.PolicyKind, columns, filter string) ([]*registryv1.PolicyVersion, error) {
	seg, err := policyKind(kind)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM registry.policy_versions
		WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 `+filter+` ORDER BY number`, s.tenant, unitID, seg)
	if err != nil {
		return nil, fmt.Errorf("pg: list versions: %w", err)
	}
	var out []*registryv1.PolicyVersion
	err = forEachRow(rows, func(r pgx.Rows) error {
		v, err := s.scanVersion(r)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pg: list versions: %w", err)
	}
	if len(out) == 0 {
		if _, err := s.UnitPath(ctx, unitID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdateVersion replaces the fields of version v.number of unit unitID's policy of v.kind with
// v's if etag is empty or the version's current etag, and returns the version as stored. Whether
// the version may still change (drafts only, or an announcement) is the caller's rule.
func (s *TenantStore) UpdateVersion(ctx context.Context, unitID string, v *registryv1.PolicyVersion, etag string) (*registryv1.PolicyVersion, error) {
	kind, err := policyKind(v.GetKind())
	if err != nil {
		return nil, err
	}
	state, effective, err := versionColumns(v)
	if err != nil {
		return nil, err
	}
	name := names.Version(s.tenant, unitID, kind, v.GetNumber())
	out := proto.Clone(v).(*registryv1.PolicyVersion)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := lockRow(ctx, tx, name, etag, `SELECT revision, create_time FROM registry.policy_versions
			WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND number = $4 FOR UPDATE`,
			s.tenant, unitID, kind, v.GetNumber())
		if err != nil {
			return err
		}
		m.bump(s.now)
		m.set(out, name)
		data, err := encode(out)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE registry.policy_versions
			SET state = $5, effective_date = $6, data = $7, revision = $8, update_time = $9
			WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND number = $4`,
			s.tenant, unitID, kind, v.GetNumber(), state, effective, data, m.revision, m.update)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LockPolicy takes a lock on unit unitID's policy of kind that is held until the transaction
// ends, so that announcements of one policy (which read the current versions and then write)
// run one at a time. It must be called inside InTx.
func (s *TenantStore) LockPolicy(ctx context.Context, unitID string, kind registryv1.PolicyKind) error {
	seg, err := policyKind(kind)
	if err != nil {
		return err
	}
	if _, ok := s.db.(pgx.Tx); !ok {
		return errors.New("pg: LockPolicy outside InTx would release the lock at once")
	}
	if _, err := s.db.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("policy", s.tenant, unitID, seg)); err != nil {
		return fmt.Errorf("pg: lock policy: %w", err)
	}
	return nil
}
