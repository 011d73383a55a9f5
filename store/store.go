// Package store defines the interface to idsync's persistent state: connector
// spaces, the metaverse, CS↔MV links, pending exports (the export journal),
// watermarks, run history with per-object errors, settings, and the users,
// API tokens and audit log of the console and API.
//
// Backends live in sub-packages (sqlite, postgres) and all pass the same
// conformance suite (store/conformance).
package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// Sentinel errors.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
)

// CSObject is one object of a connector space: idsync's copy of an object of
// an external system, as last imported (or as exported and not yet confirmed).
type CSObject struct {
	// ID is idsync's own identifier of the CS object; it never changes, even
	// when the anchor is learned later (provisioned objects get their anchor
	// from the target when the add is exported).
	ID        string       `json:"id"`
	Connector string       `json:"connector"`
	Partition string       `json:"partition,omitempty"`
	Object    model.Object `json:"object"`
	// MVID is the metaverse object this CS object is joined to ("" = disconnector).
	MVID string `json:"mvid,omitempty"`
	// LinkRule names the sync rule that created the link (join or provision).
	LinkRule string `json:"linkRule,omitempty"`
	// Provisioned is true when idsync created the object in the target (an
	// outbound Provision rule). Only provisioned or joined objects are ever
	// deleted by idsync (R2.2).
	Provisioned bool `json:"provisioned,omitempty"`
	// Placeholder is true while a provisioned object's add has not yet been
	// confirmed by the target: Object.Anchor is idsync's proposal.
	Placeholder bool `json:"placeholder,omitempty"`
	// SyncPending is set by an import that changed the object; a delta
	// synchronization processes exactly these objects and clears it.
	SyncPending bool `json:"syncPending,omitempty"`
	// Deleted marks an object the import saw deleted that still awaits a
	// synchronization (to disconnect it); the sync removes it.
	Deleted bool `json:"deleted,omitempty"`
	// Pending is the pending export of this object, if any.
	Pending *PendingExport `json:"pending,omitempty"`
	// Unconfirmed lists attributes exported but not yet confirmed by an import.
	Unconfirmed []string `json:"unconfirmed,omitempty"`
	// Modified is when the object last changed in idsync.
	Modified time.Time `json:"modified"`
}

// ExportState is the state of a pending export in the journal.
type ExportState string

// Export states. An export moves pending → sending before anything is sent to
// the target (the journal entry); the result then clears it (success) or moves
// it to error. A crash leaves it in sending, and the next export run replays it.
const (
	ExportPending ExportState = "pending"
	ExportSending ExportState = "sending"
	ExportError   ExportState = "error"
)

// PendingExport is a computed change waiting to be written to a connector:
// the difference between the desired target state and the confirmed one.
type PendingExport struct {
	// ID identifies this journal entry (unique per store).
	ID      string                 `json:"id"`
	Op      connector.Op           `json:"op"`
	NewDN   string                 `json:"newDN,omitempty"`
	Changes []connector.AttrChange `json:"changes,omitempty"`
	State   ExportState            `json:"state"`
	// Attempts counts how many times it was sent.
	Attempts int `json:"attempts,omitempty"`
	// MayExist records, for an add, that an earlier sending may have
	// created the object: a crash left it sending, or the target answered
	// with an error. Only then does the export take an object it meets at
	// the same name for this one; otherwise that object belongs to
	// something else and is never touched (R2.2).
	MayExist bool `json:"mayExist,omitempty"`
	// Error is the target's message for the last failed attempt.
	Error string `json:"error,omitempty"`
	// Created is when the export was first computed.
	Created time.Time `json:"created"`
	// Rule is the outbound sync rule that computed it.
	Rule string `json:"rule,omitempty"`
}

// Contribution records which rule and connector supplied an MV attribute
// (attribute lineage).
type Contribution struct {
	Rule       string `json:"rule"`
	Connector  string `json:"connector"`
	CSID       string `json:"csid"`
	Precedence int    `json:"precedence"`
}

// MVObject is one metaverse object: the joined view of one real-world identity.
type MVObject struct {
	ID      string      `json:"id"`
	Type    string      `json:"type"`
	Attrs   model.Attrs `json:"attrs"`
	Lineage Lineage     `json:"lineage,omitzero"`
	// Modified is when the object last changed.
	Modified time.Time `json:"modified"`
}

// Watermark is a delta import position for one connector partition.
type Watermark struct {
	Connector string
	Partition string
	Value     string
}

// Batch is a set of writes applied atomically by Store.Apply.
type Batch struct {
	PutCS []*CSObject
	// PutCSState are CS objects already stored whose Object (anchor, DN,
	// type, attributes) and Connector and Partition are exactly as stored:
	// only their link (MVID, LinkRule), flags, pending export,
	// Unconfirmed and Modified changed. The store writes them without
	// maintaining its keys (the value, DN and reference indexes), which
	// is what a synchronization writes for most objects. Putting an
	// object that is not stored fails the batch with ErrNotFound.
	PutCSState []*CSObject
	DeleteCS   []string // CS object IDs
	PutMV      []*MVObject
	DeleteMV   []string // MV object IDs
	Watermarks []Watermark
}

// Empty reports whether the batch has nothing to write.
func (b *Batch) Empty() bool {
	return len(b.PutCS) == 0 && len(b.PutCSState) == 0 && len(b.DeleteCS) == 0 && len(b.PutMV) == 0 &&
		len(b.DeleteMV) == 0 && len(b.Watermarks) == 0
}

// Run is one execution of a run profile (or a cycle step).
type Run struct {
	ID        int64      `json:"id"`
	Connector string     `json:"connector"`
	Profile   string     `json:"profile"`
	Partition string     `json:"partition,omitempty"`
	Started   time.Time  `json:"started"`
	Finished  *time.Time `json:"finished,omitempty"`
	// Status: running, success, completed-with-errors, stopped, failed.
	Status string    `json:"status"`
	Counts RunCounts `json:"counts"`
	// Message explains a stopped or failed run.
	Message string `json:"message,omitempty"`
	// Progress is objects done and total (total 0 when unknown).
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
	// Sync holds a synchronization's statistics (nil for imports and
	// exports, and for synchronizations recorded by older versions).
	Sync *SyncStats `json:"sync,omitempty"`
}

// SyncStats are the statistics of a synchronization run, named as Azure AD
// Connect's synchronization statistics are. Every connector-space object
// the run processed is counted once in the inbound figures: it projected,
// joined, was deleted (its deletion from the source applied), was left in
// (or put into) no metaverse object, or stayed joined with or without a
// change to its metaverse object.
type SyncStats struct {
	Projections       int64 `json:"projections"`
	Joins             int64 `json:"joins"`
	FlowUpdates       int64 `json:"connectorsWithFlowUpdates"`
	NoFlowUpdates     int64 `json:"connectorsWithoutFlowUpdates"`
	Disconnectors     int64 `json:"disconnectors"`
	DeletedConnectors int64 `json:"deletedConnectors"`
	// MVDeletes counts the metaverse objects deleted (their last
	// authoritative object left, or merged into another).
	MVDeletes int64 `json:"metaverseDeletes"`
	// Outbound is what the run staged for each target connector.
	Outbound []OutboundStats `json:"outbound,omitempty"`
}

// OutboundStats are a synchronization's pending exports to one connector.
type OutboundStats struct {
	Connector string `json:"connector"`
	// ProvisioningAdds: objects to create; ExportAttributeFlow: objects
	// whose attributes change; Renames; Deprovisioning: objects to delete
	// (or disable, as the rule's deprovision action says).
	ProvisioningAdds    int64 `json:"provisioningAdds"`
	ExportAttributeFlow int64 `json:"exportAttributeFlow"`
	Renames             int64 `json:"renames"`
	Deprovisioning      int64 `json:"deprovisioning"`
}

// Processed is the number of connector-space objects the run processed.
func (s *SyncStats) Processed() int64 {
	return s.Projections + s.Joins + s.FlowUpdates + s.NoFlowUpdates + s.Disconnectors + s.DeletedConnectors
}

// Run statuses.
const (
	RunRunning   = "running"
	RunSuccess   = "success"
	RunWithError = "completed-with-errors"
	RunStopped   = "stopped"
	// RunStoppedShrink: an import stopped by the import-shrink guard before
	// deleting anything.
	RunStoppedShrink = "stopped-import-shrink"
	RunFailed        = "failed"
)

// RunCounts are the per-run counters.
type RunCounts struct {
	Adds     int64 `json:"adds"`
	Updates  int64 `json:"updates"`
	Deletes  int64 `json:"deletes"`
	Renames  int64 `json:"renames"`
	NoChange int64 `json:"noChange"`
	Errors   int64 `json:"errors"`
}

// RunError is one per-object error of a run.
type RunError struct {
	RunID   int64     `json:"runId"`
	Object  string    `json:"object"` // DN or anchor
	CSID    string    `json:"csid,omitempty"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// RunFilter selects runs.
type RunFilter struct {
	// ID selects one run (0 = any).
	ID         int64
	Connector  string
	OnlyErrors bool // runs with at least one error, or failed/stopped
	Limit      int  // 0 = no limit
}

// User is a local account of the console and API.
type User struct {
	// Name is unique, compared case-insensitively (stored as given,
	// looked up folded: UserKey).
	Name string `json:"name"`
	// Role: admin, operator or browse (internal/auth).
	Role string `json:"role"`
	// Tenant, when set, limits the user to one tenant ("" = every tenant).
	Tenant string `json:"tenant,omitempty"`
	// PasswordHash is the argon2id hash in PHC form
	// ($argon2id$v=19$m=...,t=...,p=...$salt$hash); never the password.
	// Empty: the user cannot sign in with a password.
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled,omitempty"`
	Created      time.Time `json:"created"`
	Modified     time.Time `json:"modified"`
}

// UserKey is the folded form of a user name that users are looked up by.
func UserKey(name string) string { return strings.ToLower(name) }

// APIToken is a bearer token for scripts, acting as its user.
type APIToken struct {
	ID   string `json:"id"`
	User string `json:"user"`
	// Name says what the token is for.
	Name string `json:"name"`
	// Hash is the hex SHA-256 of the token; the token itself is shown
	// once, never stored.
	Hash     string     `json:"-"`
	Created  time.Time  `json:"created"`
	Expires  *time.Time `json:"expires,omitempty"`
	LastUsed *time.Time `json:"lastUsed,omitempty"`
}

// Expired reports whether the token has expired at now.
func (t *APIToken) Expired(now time.Time) bool {
	return t.Expires != nil && !now.Before(*t.Expires)
}

// AuditEntry is one audited action: a change, a spreadsheet download, a
// sign-in.
type AuditEntry struct {
	ID   int64     `json:"id"`
	Time time.Time `json:"time"`
	// User is who acted: a user name, "cli" for the command line.
	User string `json:"user"`
	Role string `json:"role,omitempty"`
	// Action is what was done, e.g. login, login-failed, run-profile,
	// scheduler-disable, download-preview, user-add.
	Action string `json:"action"`
	// Target is what it was done to, e.g. a connector or user name.
	Target string `json:"target,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Remote is the client's address.
	Remote string `json:"remote,omitempty"`
	// Outcome: AuditOK, AuditDenied or AuditFailed.
	Outcome string `json:"outcome"`
}

// Audit outcomes.
const (
	AuditOK     = "ok"
	AuditDenied = "denied"
	AuditFailed = "failed"
)

// AuditFilter selects audit entries (newest first).
type AuditFilter struct {
	// Since keeps the entries at or after it (zero: any).
	Since time.Time
	// User (case-insensitively) and Action keep the entries with that
	// user or action ("": any).
	User, Action string
	// Limit is the most entries returned: 0 means DefaultAuditLimit, a
	// negative limit no limit.
	Limit int
}

// DefaultAuditLimit is the number of entries Audit returns when the
// filter's Limit is 0.
const DefaultAuditLimit = 100

// Tenant is a customer of a service provider (R5): its domains, its
// onboarding settings and, apart from these provider-level records, a
// store of its own for its connector spaces and metaverse (package
// tenant). Users with Tenant set see only their tenant.
type Tenant struct {
	// ID names the tenant in URLs, paths and user records: lower-case
	// letters, digits and hyphens (tenant.ValidID).
	ID   string `json:"id"`
	Name string `json:"name"`
	// Domain is the tenant's domain: one of its verified domains, set by
	// an explicit action ("" until then).
	Domain string `json:"domain,omitempty"`
	// Settings are the tenant's onboarding settings, as JSON (package
	// tenant decodes them).
	Settings string    `json:"settings,omitempty"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
}

// DomainState is where a domain's ownership verification stands.
type DomainState string

// Domain verification states.
const (
	// DomainPending: the TXT record is being looked for (retried on a
	// schedule until the domain's deadline).
	DomainPending DomainState = "pending"
	// DomainVerified: the record was found with the domain's token.
	DomainVerified DomainState = "verified"
	// DomainFailed: the deadline passed without the record (Reason says
	// what the last lookup found); verifying again starts a new attempt.
	DomainFailed DomainState = "failed"
)

// Domain is a DNS domain a tenant claims, and the state of the proof that
// it owns it: a TXT record with Token.
type Domain struct {
	Tenant string `json:"tenant"`
	// Name is the domain, lower case, without a trailing dot.
	Name string `json:"name"`
	// Token is what the TXT record must hold (idsync-verification=Token).
	Token  string      `json:"token"`
	State  DomainState `json:"state"`
	Reason string      `json:"reason,omitempty"`
	// Attempts counts the lookups of the current attempt.
	Attempts  int        `json:"attempts"`
	Added     time.Time  `json:"added"`
	LastCheck *time.Time `json:"lastCheck,omitempty"`
	// NextCheck is when the verifier looks again (pending only).
	NextCheck *time.Time `json:"nextCheck,omitempty"`
	// Deadline is when a pending domain fails if the record is still
	// missing.
	Deadline *time.Time `json:"deadline,omitempty"`
	Verified *time.Time `json:"verified,omitempty"`
}

// Store is the persistent state of idsync. Implementations are safe for
// concurrent use.
type Store interface {
	// Apply writes a batch atomically: all of it or none.
	Apply(ctx context.Context, b *Batch) error

	// GetCS returns a CS object by ID.
	GetCS(ctx context.Context, id string) (*CSObject, error)
	// GetCSByAnchor returns a CS object by connector and anchor.
	GetCSByAnchor(ctx context.Context, connector, anchor string) (*CSObject, error)
	// ScanCS calls fn for every CS object of connector ("" = all connectors), in
	// ID order. It stops at and returns fn's first error.
	ScanCS(ctx context.Context, connector string, fn func(*CSObject) error) error
	// CountCS returns the number of CS objects of connector.
	CountCS(ctx context.Context, connector string) (int64, error)
	// CSForMV returns the CS objects joined to an MV object.
	CSForMV(ctx context.Context, mvid string) ([]*CSObject, error)

	// GetMV returns an MV object by ID.
	GetMV(ctx context.Context, id string) (*MVObject, error)
	// ScanMV calls fn for every MV object in ID order.
	ScanMV(ctx context.Context, fn func(*MVObject) error) error
	// CountMV returns the number of MV objects.
	CountMV(ctx context.Context) (int64, error)

	// Targeted reads: what a synchronization uses instead of loading the
	// whole store (see Keys).

	// ScanCSSyncPending calls fn for every CS object of connector marked
	// SyncPending, in ID order, through an index (it reads no other row).
	ScanCSSyncPending(ctx context.Context, connector string, fn func(*CSObject) error) error
	// ScanCSExports calls fn for every CS object of connector that has a
	// pending export (any state), in ID order, through an index.
	ScanCSExports(ctx context.Context, connector string, fn func(*CSObject) error) error
	// CountCSExports returns the number of CS objects of connector that
	// have a pending export, through the same index (it decodes no row).
	CountCSExports(ctx context.Context, connector string) (int64, error)
	// CSByKey returns, sorted, the IDs of the CS objects of connector that
	// have the key (DNKey, RefKey, ValueKey). A reference key is found only
	// for a connector, and a value key only for an attribute of the
	// connector, declared with Index.
	CSByKey(ctx context.Context, connector, key string) ([]string, error)
	// MVByKey returns, sorted, the IDs of the MV objects of mvType that
	// have the value key (ValueKey of an attribute declared with Index).
	MVByKey(ctx context.Context, mvType, key string) ([]string, error)
	// Index declares what the store keeps keys for, besides the DNs of CS
	// objects (always kept). Keys declared for the first time are built
	// from the stored objects before it returns; what was declared before
	// stays indexed.
	Index(ctx context.Context, spec IndexSpec) error

	// Watermark returns the stored delta watermark ("" when none).
	Watermark(ctx context.Context, connector, partition string) (string, error)

	// StartRun records a new run and sets its ID.
	StartRun(ctx context.Context, r *Run) error
	// UpdateRun saves a run's status, counts and progress.
	UpdateRun(ctx context.Context, r *Run) error
	// AddRunErrors appends per-object errors to a run.
	AddRunErrors(ctx context.Context, errs []RunError) error
	// Runs lists runs, newest first.
	Runs(ctx context.Context, f RunFilter) ([]*Run, error)
	// RunErrors returns the per-object errors of a run.
	RunErrors(ctx context.Context, runID int64) ([]RunError, error)
	// PruneRuns deletes, with their per-object errors, the runs that
	// started before before and are no longer running, except the newest
	// run of each connector and profile, which status pages show however
	// old it is. It returns how many runs it deleted.
	PruneRuns(ctx context.Context, before time.Time) (int, error)

	// Setting returns a stored setting (ErrNotFound when unset).
	Setting(ctx context.Context, key string) (string, error)
	// SetSetting stores a setting.
	SetSetting(ctx context.Context, key, value string) error

	// Users of the console and API (see User).

	// PutUser inserts a user, or replaces the one with the same name
	// (compared case-insensitively, as UserKey folds it): every field is
	// written as given, the name's spelling included. The name must not
	// be empty.
	PutUser(ctx context.Context, u *User) error
	// GetUser returns a user by name, case-insensitively (ErrNotFound).
	GetUser(ctx context.Context, name string) (*User, error)
	// Users lists the users by folded name.
	Users(ctx context.Context) ([]*User, error)
	// DeleteUser deletes a user, its API tokens and its sessions
	// (ErrNotFound when there is no such user).
	DeleteUser(ctx context.Context, name string) error

	// PutAPIToken inserts a token, or replaces the one with the same ID.
	// Its user must exist (ErrNotFound otherwise); its hash must be that
	// of no other token (ErrAlreadyExists). Tokens read back name their
	// user as the user is stored.
	PutAPIToken(ctx context.Context, t *APIToken) error
	// APITokenByHash returns the token with the hash (ErrNotFound),
	// expired or not: the caller checks Expires and its user.
	APITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// APITokens lists a user's tokens ("" = every user's), by folded user
	// name, then creation time, then ID.
	APITokens(ctx context.Context, user string) ([]*APIToken, error)
	// DeleteAPIToken deletes a token (ErrNotFound when absent).
	DeleteAPIToken(ctx context.Context, id string) error

	// The audit log: append-only, but for PruneAudit.

	// AddAudit appends an entry and sets its ID (IDs increase). A zero
	// Time is set to the current time; Action must not be empty.
	AddAudit(ctx context.Context, e *AuditEntry) error
	// Audit returns the entries the filter selects, newest (highest ID)
	// first.
	Audit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
	// PruneAudit deletes the entries whose Time is before before and
	// returns how many it deleted.
	PruneAudit(ctx context.Context, before time.Time) (int, error)

	// Sessions of the console (see Session): kept in the store so that a
	// restart, or a standby taking over on the same database, keeps users
	// signed in.

	// PutSession inserts a session. Its user need not be a stored user
	// (a person signed in through OpenID Connect); its hash must be that
	// of no other session (ErrAlreadyExists).
	PutSession(ctx context.Context, s *Session) error
	// GetSession returns the session with the hash, unless it has expired
	// at now (ErrNotFound for both).
	GetSession(ctx context.Context, hash string, now time.Time) (*Session, error)
	// TouchSession records a use of a session: Seen and IdleExpires move
	// forward to the times given (never back). ErrNotFound when there is
	// no such session.
	TouchSession(ctx context.Context, hash string, seen, idleExpires time.Time) error
	// DeleteSession deletes a session (ErrNotFound when absent).
	DeleteSession(ctx context.Context, hash string) error
	// DeleteUserSessions deletes every session of a user (named
	// case-insensitively) and returns how many it deleted.
	DeleteUserSessions(ctx context.Context, user string) (int, error)
	// PurgeSessions deletes the sessions expired at now and returns how
	// many it deleted.
	PurgeSessions(ctx context.Context, now time.Time) (int, error)

	// Metaverse search (see MVQuery).

	// SearchMV returns a page of the matches of q in order of folded
	// value, then ID, through the search index, and the cursor of the next
	// page ("" after the last one). An attribute not indexed for search
	// wraps ErrNotSearchable.
	SearchMV(ctx context.Context, q MVQuery) ([]MVMatch, string, error)
	// SearchAttrs returns the attributes indexed for search, sorted.
	SearchAttrs(ctx context.Context) ([]string, error)
	// SetSearchAttrs sets the attributes indexed for search: those no
	// longer named lose their entries, those newly named get the entries
	// of the stored objects before it returns. A store that was never
	// told indexes DefaultSearchAttrs.
	SetSearchAttrs(ctx context.Context, attrs []string) error

	// Tenants and their domains (R5): provider-level records. Every
	// domain query names its tenant; nothing answers for another's.

	// PutTenant inserts a tenant or replaces the one with the same ID.
	PutTenant(ctx context.Context, t *Tenant) error
	// GetTenant returns a tenant by ID (ErrNotFound).
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	// Tenants lists the tenants by ID.
	Tenants(ctx context.Context) ([]*Tenant, error)
	// DeleteTenant deletes a tenant and its domains (ErrNotFound).
	DeleteTenant(ctx context.Context, id string) error
	// PutDomain inserts a tenant's domain or replaces it (same tenant and
	// name). The tenant must exist (ErrNotFound). A domain is verified
	// for at most one tenant: putting it verified while another tenant
	// has it verified fails with ErrAlreadyExists.
	PutDomain(ctx context.Context, d *Domain) error
	// GetDomain returns a tenant's domain (ErrNotFound, also when only
	// another tenant has it).
	GetDomain(ctx context.Context, tenant, name string) (*Domain, error)
	// Domains lists a tenant's domains by name.
	Domains(ctx context.Context, tenant string) ([]*Domain, error)
	// DomainsToCheck lists the pending domains of every tenant whose
	// NextCheck is not after now, by NextCheck: the verifier's work.
	DomainsToCheck(ctx context.Context, now time.Time) ([]*Domain, error)
	// DomainVerifiedBy returns the tenant that has the domain verified
	// ("" when none).
	DomainVerifiedBy(ctx context.Context, name string) (string, error)
	// DeleteDomain deletes a tenant's domain (ErrNotFound).
	DeleteDomain(ctx context.Context, tenant, name string) error

	// Close closes the store.
	Close() error
}

// Lister is implemented by the backends (not by wrappers such as
// store/sealed): it lists what Store reads only by key, so that a whole
// store can be copied to another (idsync store migrate).
type Lister interface {
	// Settings returns every stored setting.
	Settings(ctx context.Context) (map[string]string, error)
	// Watermarks returns every stored watermark, by connector and
	// partition.
	Watermarks(ctx context.Context) ([]Watermark, error)
}

// Keys are what a store indexes CS and MV objects by, so that a
// synchronization finds the objects it needs without loading the others:
// the DN of a CS object (DNKey), every value of its reference attributes
// (RefKey, for the connectors declared with Index), and every value of a
// declared attribute of a CS or MV object (ValueKey). Keys compare
// case-insensitively and are cut at MaxKeyLen bytes, so a lookup may return objects that do not have the exact value:
// callers check the object itself.

// MaxKeyLen is the longest key a store keeps; longer keys are cut.
const MaxKeyLen = 512

func cutKey(k string) string {
	if len(k) > MaxKeyLen {
		return k[:MaxKeyLen]
	}
	return k
}

// DNKey is the key of a CS object's DN.
func DNKey(dn string) string { return cutKey("dn\x00" + strings.ToLower(dn)) }

// RefKey is the key of a reference value (a DN or an anchor) of a CS object.
func RefKey(ref string) string { return cutKey("ref\x00" + strings.ToLower(ref)) }

// ValueKey is the key of a value of attribute attr.
func ValueKey(attr, value string) string {
	return cutKey("v\x00" + attr + "\x00" + strings.ToLower(value))
}

// IndexSpec is what a store keeps keys for (Store.Index).
type IndexSpec struct {
	// RefConnectors are the connectors whose objects' reference values
	// are keyed (RefKey): those whose objects sync rules read, for which
	// a synchronization finds the objects referencing one it changed.
	RefConnectors []string
	// CS are, by connector, the attributes of its objects whose values are
	// keyed (ValueKey), and MV those of MV objects: the attributes join
	// rules and unique-attribute checks look objects up by.
	CS map[string][]string
	MV []string
}

// CSKeys returns the keys of a CS object besides its DN's (DNKey, which a
// store keeps as it likes), sorted and without duplicates: with refs its
// reference values, and the values of the attributes in attrs.
func CSKeys(c *CSObject, attrs map[string]bool, refs bool) []string {
	var out []string
	for name, v := range c.Object.Attrs {
		if refs && v.Type == model.Reference {
			for _, r := range v.Values {
				out = append(out, RefKey(r))
			}
		}
		if attrs[name] {
			for _, x := range v.Values {
				out = append(out, ValueKey(name, x))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// MVKeys returns the value keys of an MV object's attributes in attrs,
// sorted and without duplicates.
func MVKeys(m *MVObject, attrs map[string]bool) []string {
	var out []string
	for name := range attrs {
		for _, x := range m.Attrs[name].Values {
			out = append(out, ValueKey(name, x))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// BatchReader is implemented by stores that read many objects in one
// query. The engine uses it, when the store has it, to read what a part of
// a full synchronization run in parts touches (engine/chunked.go), instead
// of one query per object. Store wrappers that change the objects they
// return (store/sealed) implement it too, or the engine reads one object
// at a time through them.
type BatchReader interface {
	// GetCSMany returns the CS objects with these IDs, in any order;
	// absent IDs are left out.
	GetCSMany(ctx context.Context, ids []string) ([]*CSObject, error)
	// GetMVMany returns the MV objects with these IDs, in any order;
	// absent IDs are left out.
	GetMVMany(ctx context.Context, ids []string) ([]*MVObject, error)
	// CSForMVs returns the CS objects joined to any of these MV objects,
	// in any order.
	CSForMVs(ctx context.Context, mvids []string) ([]*CSObject, error)
	// CSByKeys is CSByKey for several keys of one connector: the sorted
	// IDs of each key's objects; keys without objects are left out.
	CSByKeys(ctx context.Context, connector string, keys []string) (map[string][]string, error)
	// MVByKeys is MVByKey for several keys of one MV object type: the
	// sorted IDs of each key's objects; keys without objects are left out.
	MVByKeys(ctx context.Context, mvType string, keys []string) (map[string][]string, error)
}
