// Package file is a connector for directory data kept in a file: an LDIF
// content file (RFC 2849), as exported by ldapsearch, ldifde or an HR system,
// or a CSV file with one object per row. It imports the file and, as a
// target, writes exports back to it.
//
// It registers the connector type "file". Example configurations:
//
//	connectors:
//	  - name: contoso
//	    type: file
//	    config:
//	      path: data/forest-a.ldif
//	      anchor: objectGUID          # recommended: a stable, unique attribute
//	  - name: hr
//	    type: file
//	    config:
//	      path: data/hr.csv
//	      anchor: employeeID          # required for CSV
//	      objectType: person
//	      types: {startDate: datetime, manager: reference}
//	  - name: export
//	    type: file
//	    config:
//	      path: out/people.ldif
//	      target: true
//	      anchor: employeeID
//
// # Configuration keys
//
//   - path (required): the file.
//   - format: "ldif" or "csv"; by default from the extension (.ldif, .ldf,
//     .csv).
//   - target: true when idsync exports to the file. A missing file then reads
//     as empty (it is created by the first export), and TestConnection also
//     checks that the directory is writable. For a source a missing file is
//     an error, never an empty directory.
//   - anchor: the attribute holding each object's anchor, which must be
//     unique in the file and have exactly one value. Binary anchors
//     (objectGUID) are written as base64, the text LDIF shows after
//     "objectGUID::". For LDIF the default is the DN itself, but then a rename
//     changes the anchor, so an attribute is recommended: entryUUID,
//     objectGUID or employeeID. Required for CSV. When an added object has no
//     value for it, the connector sets it to the anchor idsync proposes (for a
//     binary attribute: the UUID's 16 bytes).
//   - objectType: the object type of every object. Default for CSV:
//     "person"; for LDIF derived from objectClass with objectTypes.
//   - objectTypes (LDIF): map of objectClass → object type. The last listed
//     objectClass of an object that has a mapping gives its type; without
//     one, the last objectClass is the type. Setting the key replaces
//     DefaultObjectTypes (user → user, inetOrgPerson → person, group and
//     groupOfNames and groupOfUniqueNames → group, contact → contact).
//     Object classes compare case-insensitively. An added object without
//     objectClass gets objectClass: <its object type>.
//   - types: map of attribute → type ("string", "binary", "integer",
//     "boolean", "datetime", "reference"), added to DefaultTypes (member,
//     manager, memberOf: reference; objectGUID, objectSid: binary); other
//     attributes are strings. Values are converted on read: integers to
//     base 10, booleans to true/false, date-times (RFC 3339 or LDAP
//     generalized time) to RFC 3339 UTC; a value that does not convert is an
//     error naming the file and line: reported as an error on that object
//     when the import asks for per-object errors and the record's anchor
//     can be read, else the import fails.
//   - dnColumn (CSV): the column holding the DN. Without it objects have no
//     DN: references then name anchors, and DNs of exported objects (and
//     renames) are ignored.
//   - objectTypeColumn (CSV): the column holding the object type; rows where
//     it is empty get objectType.
//   - multiValueSeparator (CSV): separates the values of a multi-valued cell;
//     default ";". It cannot be escaped: a value containing it cannot be
//     exported (that op fails), and on import a cell is always split, so pick
//     a separator the data does not contain, e.g. "|".
//   - delimiter (CSV): the field delimiter; default ",".
//
// # Files
//
// LDIF files hold content records only: "version: 1" (optional), comments,
// folded lines and base64 values ("attr:: …", "dn:: …") are understood;
// change records ("changetype:") and values read from URLs ("attr:< file://")
// are rejected with an error naming the file and line. Attribute options
// such as ";binary" are dropped, and attribute names compare
// case-insensitively (the first spelling in a record wins).
//
// CSV files start with a header row naming the columns; empty cells are
// absent attributes; binary values are base64. A UTF-8 byte order mark is
// ignored.
//
// # Import
//
// FullImport streams the file, record by record, and returns the sha256 of
// the content (hex) as watermark. Anchors and DNs (compared
// case-insensitively) must be unique in the file: when the engine asks for
// per-object errors (ImportRequest.ObjectError), an object whose anchor or
// DN an earlier one has is reported there and skipped, else it fails the
// import (and the reading of a target file). The connector is not a
// DeltaImporter: a file has no change log, so the engine runs a full import
// every time and finds deletions by comparing with its connector space.
// Schema infers the object types and attributes from the file.
//
// # Export
//
// The connector is a connector.ExportRunner: the engine brackets an export
// run with BeginExport and EndExport, and the file is rewritten once per
// run, not once per batch. Within a run the connector keeps the file's
// parsed image in memory between batches and appends each batch's
// successful ops to a journal next to the file, <path>.journal (mode 0600),
// synced to disk before Export returns: an op Export reported as done
// survives a crash at any point. EndExport (and Close, and a run whose
// journal grows beyond the file and 64 MiB) rewrites the file from the image
// and removes the journal. A rewrite writes a temporary file in the same
// directory, syncs it, records its sha256 in the journal, renames it over
// the file and then removes the journal, so a crash or a concurrent reader
// sees either the old or the new content, never a part.
//
// Whoever reads the file next replays the journal a crash left: a full
// import, the schema, an export and Close read the file and apply the
// journal's ops over it (a target is then rewritten and the journal
// removed), so an import always sees every op an export returned. The
// journal starts with the sha256 of the file it applies to, and each
// rewrite appends the sha256 of the new file before the rename: a journal
// is replayed from its last record that names the file's content, never
// twice over a rewritten file. A file changed by something else (neither
// sum matches) gets the journal's ops applied again, in order, to its new
// content; ops that no longer apply are dropped. A journal record cut short
// by a crash (never acknowledged) is ignored. Between the batches of a run
// the cached image is used only while the file (device and inode, size,
// modification time, and its content when that time is within 2 s of the
// connector's last look) and the journal are as the connector left them;
// otherwise they are read again. Outside an export run (an Export call not
// bracketed by BeginExport) every Export reads the file and its journal and
// rewrites the file, as the connector always did.
//
// The output is deterministic, and byte for byte what one rewrite per batch
// would write, wherever the run's rewrites fell: objects
// sorted by DN from the root down (parents before children), objects
// without DN by anchor; LDIF attributes with objectClass first, then sorted
// by name; values in stored order; values that are binary or not safe
// strings of RFC 2849 (non-ASCII, control characters, a leading space, ':'
// or '<', a trailing space) base64-encoded; lines folded at 76 columns. A
// CSV keeps its columns in their order and appends new ones sorted by
// name. Comments and the order of records of the original file are not kept.
//
// Ops follow the connector contract: an add of an object whose anchor or DN
// exists fails with connector.ErrAlreadyExists and the existing anchor
// (wrapping connector.ErrIdentityMatch too when the anchor is the same); an
// update, rename or delete of a missing object fails with
// connector.ErrNotFound. Reference values are written as given. An update
// cannot change the anchor attribute.
package file
