package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations is the ordered list of schema steps. Step i has version i+1.
// Never edit or reorder a released step: append a new one.
var migrations = []string{
	// 1: connector spaces. The columns are copies of object fields for the
	// indexes and queries; data holds the whole object (see codec.go).
	// pending_state is NULL when the object has no pending export.
	//
	// A rowid table, not one clustered by id: rows are appended in insertion
	// order, and only the small index entries land at random places when IDs
	// are random (UUIDv4). A table clustered by a random id splits big leaf
	// pages all over the file and writes most of it again at every commit,
	// which makes bulk imports about 1.5x slower; the price is a lookup by
	// rowid per row when scanning in ID order, which the readers' mmap keeps
	// cheap.
	`CREATE TABLE cs_objects (
		id            TEXT NOT NULL UNIQUE,
		connector     TEXT NOT NULL,
		anchor        TEXT NOT NULL,
		dn            TEXT NOT NULL DEFAULT '',
		mvid          TEXT NOT NULL DEFAULT '',
		sync_pending  INTEGER NOT NULL DEFAULT 0,
		pending_state TEXT,
		data          BLOB NOT NULL,
		UNIQUE (connector, anchor)
	);
	CREATE INDEX cs_objects_connector ON cs_objects (connector, id);
	CREATE INDEX cs_objects_mvid ON cs_objects (mvid, id) WHERE mvid <> '';
	CREATE INDEX cs_objects_dn ON cs_objects (connector, dn);`,

	// 2: the metaverse, laid out like cs_objects.
	`CREATE TABLE mv_objects (
		id   TEXT NOT NULL UNIQUE,
		type TEXT NOT NULL,
		data BLOB NOT NULL
	);`,

	// 3: delta import watermarks.
	`CREATE TABLE watermarks (
		connector TEXT NOT NULL,
		partition TEXT NOT NULL,
		value     TEXT NOT NULL,
		PRIMARY KEY (connector, partition)
	) WITHOUT ROWID;`,

	// 4: run history. Times are RFC 3339 text with nanoseconds, in UTC.
	`CREATE TABLE runs (
		id        INTEGER PRIMARY KEY AUTOINCREMENT,
		connector TEXT NOT NULL,
		profile   TEXT NOT NULL,
		partition TEXT NOT NULL DEFAULT '',
		started   TEXT NOT NULL,
		finished  TEXT,
		status    TEXT NOT NULL,
		message   TEXT NOT NULL DEFAULT '',
		adds      INTEGER NOT NULL DEFAULT 0,
		updates   INTEGER NOT NULL DEFAULT 0,
		deletes   INTEGER NOT NULL DEFAULT 0,
		renames   INTEGER NOT NULL DEFAULT 0,
		no_change INTEGER NOT NULL DEFAULT 0,
		errors    INTEGER NOT NULL DEFAULT 0,
		done      INTEGER NOT NULL DEFAULT 0,
		total     INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX runs_connector ON runs (connector, id);
	CREATE TABLE run_errors (
		seq     INTEGER PRIMARY KEY,
		run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		object  TEXT NOT NULL,
		csid    TEXT NOT NULL DEFAULT '',
		message TEXT NOT NULL,
		time    TEXT NOT NULL
	);
	CREATE INDEX run_errors_run ON run_errors (run_id, seq);`,

	// 5: settings.
	`CREATE TABLE settings (
		key   TEXT NOT NULL PRIMARY KEY,
		value TEXT NOT NULL
	) WITHOUT ROWID;`,

	// 6: a synchronization's statistics (store.SyncStats) as JSON; '' for
	// other runs and those recorded before.
	`ALTER TABLE runs ADD COLUMN sync_stats TEXT NOT NULL DEFAULT '';`,

	// 7: targeted reads (see keys.go). Partial indexes find the objects a
	// delta synchronization processes and those with a pending export
	// without reading the others; cs_keys and mv_keys are the store's keys
	// (store.DNKey, RefKey, ValueKey) of every object, for the attributes
	// listed in index_attrs, each as a hash with its object's rowid
	// (keys.go). keys_built gets its row once the keys of the
	// objects stored before this step are built (loadIndexAttrs). keys_hash
	// is a hash of an object's keys as last written (0: unknown): a put
	// whose keys hash the same leaves them alone. An object's DN key is
	// dn_key (store.DNKey of its DN), indexed with the connector in place
	// of the DN (no query looked objects up by exact DN).
	`CREATE INDEX cs_objects_sync_pending ON cs_objects (connector, id) WHERE sync_pending <> 0;
	CREATE INDEX cs_objects_exports ON cs_objects (connector, id) WHERE pending_state IS NOT NULL;
	CREATE TABLE index_attrs (
		side TEXT NOT NULL,
		attr TEXT NOT NULL,
		PRIMARY KEY (side, attr)
	) WITHOUT ROWID;
	CREATE TABLE cs_keys (
		key  INTEGER NOT NULL,
		crow INTEGER NOT NULL,
		PRIMARY KEY (key, crow)
	) WITHOUT ROWID;
	CREATE INDEX cs_keys_crow ON cs_keys (crow);
	CREATE TABLE mv_keys (
		key  INTEGER NOT NULL,
		mrow INTEGER NOT NULL,
		PRIMARY KEY (key, mrow)
	) WITHOUT ROWID;
	CREATE INDEX mv_keys_mrow ON mv_keys (mrow);
	CREATE TABLE keys_built (version INTEGER NOT NULL);
	ALTER TABLE cs_objects ADD COLUMN keys_hash INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE cs_objects ADD COLUMN dn_key TEXT NOT NULL DEFAULT '';
	DROP INDEX cs_objects_dn;
	CREATE INDEX cs_objects_dn_key ON cs_objects (connector, dn_key, id);
	ALTER TABLE mv_objects ADD COLUMN keys_hash INTEGER NOT NULL DEFAULT 0;`,

	// 8: users, API tokens and the audit log of the console and API
	// (users.go). Users are keyed by their folded name (store.UserKey);
	// a user's tokens go with it. Audit times are UTC RFC 3339 text with
	// exactly nine fractional digits (formatSortableTime), so that they
	// compare as text in time order.
	`CREATE TABLE users (
		name_key      TEXT NOT NULL PRIMARY KEY,
		name          TEXT NOT NULL,
		role          TEXT NOT NULL,
		tenant        TEXT NOT NULL DEFAULT '',
		password_hash TEXT NOT NULL DEFAULT '',
		disabled      INTEGER NOT NULL DEFAULT 0,
		created       TEXT NOT NULL,
		modified      TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE api_tokens (
		id        TEXT NOT NULL PRIMARY KEY,
		user_key  TEXT NOT NULL REFERENCES users (name_key) ON DELETE CASCADE,
		name      TEXT NOT NULL DEFAULT '',
		hash      TEXT NOT NULL UNIQUE,
		created   TEXT NOT NULL,
		expires   TEXT,
		last_used TEXT
	);
	CREATE INDEX api_tokens_user ON api_tokens (user_key, created, id);
	CREATE TABLE audit (
		id       INTEGER PRIMARY KEY AUTOINCREMENT,
		time     TEXT NOT NULL,
		username TEXT NOT NULL,
		user_key TEXT NOT NULL,
		role     TEXT NOT NULL DEFAULT '',
		action   TEXT NOT NULL,
		target   TEXT NOT NULL DEFAULT '',
		detail   TEXT NOT NULL DEFAULT '',
		remote   TEXT NOT NULL DEFAULT '',
		outcome  TEXT NOT NULL
	);
	CREATE INDEX audit_time ON audit (time);
	CREATE INDEX audit_user ON audit (user_key, id);
	CREATE INDEX audit_action ON audit (action, id);`,

	// 9: tenants and their domains (R5, tenants.go). A domain is verified
	// for at most one tenant (the partial unique index); next_check
	// indexes the verifier's work.
	`CREATE TABLE tenants (
		id       TEXT NOT NULL PRIMARY KEY,
		name     TEXT NOT NULL,
		domain   TEXT NOT NULL DEFAULT '',
		settings TEXT NOT NULL DEFAULT '',
		created  TEXT NOT NULL,
		modified TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE tenant_domains (
		tenant     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
		name       TEXT NOT NULL,
		token      TEXT NOT NULL,
		state      TEXT NOT NULL,
		reason     TEXT NOT NULL DEFAULT '',
		attempts   INTEGER NOT NULL DEFAULT 0,
		added      TEXT NOT NULL,
		last_check TEXT,
		next_check TEXT,
		deadline   TEXT,
		verified   TEXT,
		PRIMARY KEY (tenant, name)
	) WITHOUT ROWID;
	CREATE UNIQUE INDEX tenant_domains_verified ON tenant_domains (name) WHERE state = 'verified';
	CREATE INDEX tenant_domains_next ON tenant_domains (next_check) WHERE state = 'pending';`,

	// 10: sessions of the console (sessions.go), by the hash of their
	// token. user_key is the folded user name, not a reference to users: a
	// person signed in through OpenID Connect may have no local record
	// (DeleteUser deletes the sessions of the name). Times as in step 8.
	`CREATE TABLE sessions (
		hash         TEXT NOT NULL PRIMARY KEY,
		user_key     TEXT NOT NULL,
		username     TEXT NOT NULL,
		role         TEXT NOT NULL,
		tenant       TEXT NOT NULL DEFAULT '',
		created      TEXT NOT NULL,
		seen         TEXT NOT NULL,
		idle_expires TEXT NOT NULL,
		expires      TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX sessions_user ON sessions (user_key);
	CREATE TRIGGER sessions_user_deleted AFTER DELETE ON users
	BEGIN
		DELETE FROM sessions WHERE user_key = OLD.name_key;
	END;`,

	// 11: the metaverse search index (search.go): the folded values of
	// the attributes in search_attrs, by attribute and value, with their
	// object's ID; mv_search_of has, per object, the rows it has there
	// (one row an object, where an index on mv_search's ID would take an
	// entry per value). search_built gets its row once the attributes
	// were first set and the objects stored before were indexed.
	`CREATE TABLE search_attrs (
		attr TEXT NOT NULL PRIMARY KEY
	) WITHOUT ROWID;
	CREATE TABLE search_built (version INTEGER NOT NULL);
	CREATE TABLE mv_search (
		attr  TEXT NOT NULL,
		value TEXT NOT NULL,
		id    TEXT NOT NULL,
		PRIMARY KEY (attr, value, id)
	) WITHOUT ROWID;
	CREATE TABLE mv_search_of (
		id   TEXT NOT NULL PRIMARY KEY,
		rows BLOB NOT NULL
	) WITHOUT ROWID;`,
}

// schemaVersion is the version this package brings a database to.
var schemaVersion = len(migrations)

// migrate applies the missing steps, each in its own transaction together
// with its schema_migrations row. The writer connection takes the write lock
// at BEGIN (_txlock=immediate), so concurrent openers of the same file apply
// each step once: the version is re-checked inside the transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	current, err := currentVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current > schemaVersion {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", current, schemaVersion)
	}
	for i := current; i < len(migrations); i++ {
		if err := migrateStep(ctx, db, i+1, migrations[i]); err != nil {
			return fmt.Errorf("migrate: step %d: %w", i+1, err)
		}
	}
	return nil
}

func currentVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func migrateStep(ctx context.Context, db *sql.DB, version int, step string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	current, err := currentVersion(ctx, tx)
	if err != nil {
		return err
	}
	if current >= version {
		return nil // applied by a concurrent opener
	}
	if _, err := tx.ExecContext(ctx, step); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		version, formatTime(time.Now())); err != nil {
		return fmt.Errorf("record version: %w", err)
	}
	return tx.Commit()
}
