// Package connector defines the interface between idsync's engine and the
// external systems it synchronizes, and the registry of connector types.
//
// A connector is kept dumb: it fits the external system's data to idsync's
// model and back, nothing more. Filtering, joining and transformation belong
// to the rule engine. A connector gets its configuration passed in; it never
// reads environment variables or files on its own (see docs/connectors.md).
//
// Every connector implements Connector. What else it can do is expressed by the
// optional capability interfaces below; the engine checks which ones a
// connector implements.
package connector

import (
	"context"
	"errors"

	"github.com/idsync/idsync/model"
)

// Connector is the minimal interface every connector implements.
type Connector interface {
	// Close releases connections and files.
	Close() error
}

// Tester checks that the connector can reach its system with its credentials.
type Tester interface {
	// TestConnection returns nil when the system is reachable and the
	// credentials work, else an error that says which part failed.
	TestConnection(ctx context.Context) error
}

// SchemaDescriber describes the object types and attributes the system offers.
type SchemaDescriber interface {
	Schema(ctx context.Context) (*model.Schema, error)
}

// SchemaInferrer is implemented by connectors whose Schema may only be
// inferred from their data, reading all of it (a file): SchemaInferred
// reports whether it is. The engine then does not read the schema to check
// imported and exported values (it would only describe those values).
type SchemaInferrer interface {
	SchemaInferred() bool
}

// Partition is one naming context of a system (an AD domain).
type Partition struct {
	Name string `json:"name"` // e.g. "DC=contoso,DC=test"
}

// Partitioner lists the partitions (domains) of a system. A connector that is
// not a Partitioner has a single, unnamed partition "".
type Partitioner interface {
	Partitions(ctx context.Context) ([]Partition, error)
}

// ImportRequest says what to import.
type ImportRequest struct {
	// Partition to import; "" for connectors with a single partition.
	Partition string
	// ObjectTypes to import; empty means all.
	ObjectTypes []string
	// Attributes the rules need; empty means all. Anchors are always returned.
	Attributes []string
	// ObjectError, when set, records a per-object import error: an object
	// the connector read but cannot represent (a malformed value). The
	// object is not emitted; the engine records the error in the run
	// history, keeps the object's last imported state, and does not take
	// its absence from a full import for a deletion. The import goes on.
	// anchor may be "" when even the anchor could not be read.
	ObjectError func(anchor, dn string, err error)
}

// ReportObjectError calls req.ObjectError when it is set.
func (req ImportRequest) ReportObjectError(anchor, dn string, err error) {
	if req.ObjectError != nil {
		req.ObjectError(anchor, dn, err)
	}
}

// ChangeKind is the kind of an imported change.
type ChangeKind uint8

// Change kinds.
const (
	// Upsert carries the object's full current state.
	Upsert ChangeKind = iota
	// Delete says the object with the anchor no longer exists.
	Delete
	// Present says the object with the anchor still exists, unchanged. A
	// delta import that cannot see deletions (a change feed of timestamps)
	// emits Present for every object it did not emit otherwise; the engine
	// then takes every object of the partition that was neither emitted
	// nor present for deleted, as after a full import.
	Present
)

// Change is one object reported by an import: its full state, or its deletion.
type Change struct {
	Kind   ChangeKind
	Object *model.Object // for Delete and Present only Anchor (and DN if known) are set
}

// FullImporter streams every object of a partition. emit is called once per
// object; a full import returns a watermark from which a later delta import
// can continue ("" when the connector has no delta capability).
type FullImporter interface {
	FullImport(ctx context.Context, req ImportRequest, emit func(*model.Object) error) (watermark string, err error)
}

// DeltaImporter streams the changes since watermark, and returns the new
// watermark. The engine persists watermarks per connector and partition only
// after every change of the import has been stored.
type DeltaImporter interface {
	DeltaImport(ctx context.Context, req ImportRequest, watermark string, emit func(Change) error) (newWatermark string, err error)
}

// Op is the operation of an export.
type Op string

// Export operations.
const (
	OpAdd    Op = "add"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
	OpRename Op = "rename"
)

// Mode says how an attribute change applies.
type Mode string

// Attribute change modes.
const (
	Replace Mode = "replace" // the attribute's values become Values (none: removed)
	AddVals Mode = "add"     // Values are added
	DelVals Mode = "delete"  // Values are removed
)

// AttrChange is one attribute change of an export.
type AttrChange struct {
	Name   string     `json:"name"`
	Mode   Mode       `json:"mode"`
	Type   model.Type `json:"t,omitempty"`
	Values []string   `json:"v,omitempty"`
}

// ExportOp is one change to write to the system.
type ExportOp struct {
	// ID identifies the journal entry; results carry it back.
	ID string
	Op Op
	// Anchor of the object; for OpAdd the anchor idsync proposes (targets that
	// assign their own anchors return the real one in the result).
	Anchor     string
	DN         string // current DN
	NewDN      string // for OpRename (and OpUpdate carrying a rename)
	ObjectType string
	Changes    []AttrChange
}

// ExportResult is the outcome of one ExportOp.
type ExportResult struct {
	ID string
	// Anchor is the object's anchor in the system (set for adds).
	Anchor string
	// Err is nil on success. Wrap ErrAlreadyExists / ErrNotFound where they apply.
	Err error
}

// Exporter writes changes to the system. Export must return one result per op,
// in any order. An export is replayed after a crash, so each op must be
// idempotent: an add of an object that already exists returns
// ErrAlreadyExists with the existing anchor; a delete of an object that is gone
// returns ErrNotFound. The engine turns both into convergence, not failures,
// with one exception that protects objects idsync did not create (R2.2): an
// add that meets an existing object on its first sending fails, unless the
// error also wraps ErrIdentityMatch. Only when an earlier sending may have
// reached the target (a crash, a timeout, an error answer) is an existing
// object taken to be the one that sending created.
type Exporter interface {
	Export(ctx context.Context, ops []ExportOp) []ExportResult
}

// ExportRunner is implemented by exporters that work faster when they know
// that the batches of one export run belong together (the file connector
// then writes its file once per run instead of once per batch). The engine
// calls BeginExport before the first batch of an export run and EndExport
// after the last one, also when the run stops early. The contract of Export
// is unchanged in between: an op it reports as done is durable in the
// system; EndExport only brings the system to its final form (and may fail,
// which fails the run, without undoing any op).
type ExportRunner interface {
	BeginExport(ctx context.Context) error
	EndExport(ctx context.Context) error
}

// WriteOnlyAttributer is implemented by connectors whose system accepts
// values for attributes it never gives back (Active Directory's
// unicodePwd). The connector never imports them. The engine keeps, as the
// target's state of such an attribute, the values it last exported: it
// exports the attribute when the object is created and whenever the
// desired values change, never because an import did not return it, and
// it never exports its removal.
type WriteOnlyAttributer interface {
	// WriteOnlyAttributes returns the names of the write-only attributes
	// (compared without regard to case).
	WriteOnlyAttributes() []string
}

// Sentinel errors connectors wrap.
var (
	ErrAlreadyExists = errors.New("object already exists")
	// ErrIdentityMatch is wrapped together with ErrAlreadyExists when the
	// existing object carries the identity idsync gave this object (the
	// anchor it proposed, an immutable id, a SCIM externalId), not only the
	// same name: it is this object, and the engine takes it over even on a
	// first sending.
	ErrIdentityMatch = errors.New("the existing object carries this object's identity")
	ErrNotFound      = errors.New("object not found")
)
