package outbound

// The events of the services other than requests (whose own are in its package request). They
// reach the subscriptions, which the request service keeps, through its PublishEvent (Relay).
// Each carries names and codes, never personal data.
const (
	// PolicyAnnounced: a policy version was announced (registry); PolicyInForce: its effective
	// date came (STD-21: the announcement precedes it).
	PolicyAnnounced = "kr.pipa.policy.announced"
	PolicyInForce   = "kr.pipa.policy.in_force"
	// CopyOverdue: a copy given to another body is past its destruction date and was reminded
	// (retention); CopyClosed: it was destroyed or returned.
	CopyOverdue = "kr.pipa.copy.overdue"
	CopyClosed  = "kr.pipa.copy.closed"
	// SweepCompleted: a unit's retention sweep destroyed what was due, with the counts.
	SweepCompleted = "kr.pipa.sweep.completed"
	// PlanApproved and PlanCompleted: a destruction plan's approval by the CPO and its execution.
	PlanApproved  = "kr.pipa.plan.approved"
	PlanCompleted = "kr.pipa.plan.completed"
	// CheckpointSigned: a unit's ledger has a new signed checkpoint (its size and root hash). At
	// most one a log per interval of the ledger's job, the latest, however many batches were
	// signed in between: under load a log signs a checkpoint per committed batch.
	CheckpointSigned = "kr.pipa.checkpoint.signed"
)

// RelayedTypes are the types that come through PublishEvent.
var RelayedTypes = []string{PolicyAnnounced, PolicyInForce, CopyOverdue, CopyClosed, SweepCompleted,
	PlanApproved, PlanCompleted, CheckpointSigned}

// OptIn are the types a subscription gets only when it names them: a subscription with no
// types gets every other type.
var OptIn = []string{CheckpointSigned}
