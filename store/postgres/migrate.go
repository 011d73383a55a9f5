package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations is the ordered list of schema steps. Step i has version i+1.
// Never edit or reorder a released step: append a new one (a leases table
// for an active/standby pair, say, would be the next).
var migrations = []string{
	// 1: connector spaces and the metaverse. data holds the whole object
	// (package codec); the other columns are copies of some of its fields
	// for the indexes. bytea compares byte by byte: IDs, anchors and DNs
	// may hold any bytes and sort as Go sorts strings. pending_state is
	// NULL without a pending export; dn_key is store.DNKey of the DN (''
	// without a DN). keys_hash is a hash of the object's keys as last
	// written (keys.go): a put whose keys hash the same leaves them alone.
	`CREATE TABLE cs_objects (
		id            bytea NOT NULL PRIMARY KEY,
		connector     bytea NOT NULL,
		anchor        bytea NOT NULL,
		dn            bytea NOT NULL,
		dn_key        bytea NOT NULL,
		mvid          bytea NOT NULL,
		sync_pending  boolean NOT NULL,
		pending_state text,
		keys_hash     bigint NOT NULL,
		data          bytea NOT NULL,
		CONSTRAINT cs_objects_anchor UNIQUE (connector, anchor)
	);
	CREATE INDEX cs_objects_connector ON cs_objects (connector, id);
	CREATE INDEX cs_objects_mvid ON cs_objects (mvid, id) WHERE mvid <> '';
	CREATE INDEX cs_objects_dn_key ON cs_objects (connector, dn_key) WHERE dn_key <> '';
	CREATE INDEX cs_objects_sync_pending ON cs_objects (connector, id) WHERE sync_pending;
	CREATE INDEX cs_objects_exports ON cs_objects (connector, id) WHERE pending_state IS NOT NULL;
	CREATE TABLE mv_objects (
		id        bytea NOT NULL PRIMARY KEY,
		type      bytea NOT NULL,
		keys_hash bigint NOT NULL,
		data      bytea NOT NULL
	);
	CREATE TABLE watermarks (
		connector bytea NOT NULL,
		partition bytea NOT NULL,
		value     bytea NOT NULL,
		PRIMARY KEY (connector, partition)
	);`,

	// 2: keys (keys.go): what was declared with Index, and the keys of the
	// objects, each as a 64-bit hash of its space (connector or MV type)
	// and key with its object's ID.
	`CREATE TABLE index_attrs (
		side text NOT NULL,
		attr bytea NOT NULL,
		PRIMARY KEY (side, attr)
	);
	CREATE TABLE cs_keys (
		key bigint NOT NULL,
		id  bytea NOT NULL,
		PRIMARY KEY (key, id)
	);
	CREATE INDEX cs_keys_id ON cs_keys (id);
	CREATE TABLE mv_keys (
		key bigint NOT NULL,
		id  bytea NOT NULL,
		PRIMARY KEY (key, id)
	);
	CREATE INDEX mv_keys_id ON mv_keys (id);`,

	// 3: run history, settings, users, API tokens and the audit log.
	// Times are timestamptz (microseconds).
	`CREATE TABLE runs (
		id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		connector  text COLLATE "C" NOT NULL,
		profile    text COLLATE "C" NOT NULL,
		partition  text COLLATE "C" NOT NULL,
		started    timestamptz NOT NULL,
		finished   timestamptz,
		status     text NOT NULL,
		message    text NOT NULL,
		adds       bigint NOT NULL,
		updates    bigint NOT NULL,
		deletes    bigint NOT NULL,
		renames    bigint NOT NULL,
		no_change  bigint NOT NULL,
		errors     bigint NOT NULL,
		done       bigint NOT NULL,
		total      bigint NOT NULL,
		sync_stats text NOT NULL
	);
	CREATE INDEX runs_connector ON runs (connector, id);
	CREATE TABLE run_errors (
		seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		run_id  bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		object  text NOT NULL,
		csid    text NOT NULL,
		message text NOT NULL,
		time    timestamptz NOT NULL
	);
	CREATE INDEX run_errors_run ON run_errors (run_id, seq);
	CREATE TABLE settings (
		key   text COLLATE "C" NOT NULL PRIMARY KEY,
		value bytea NOT NULL
	);
	CREATE TABLE users (
		name_key      text COLLATE "C" NOT NULL PRIMARY KEY,
		name          text NOT NULL,
		role          text NOT NULL,
		tenant        text NOT NULL,
		password_hash text NOT NULL,
		disabled      boolean NOT NULL,
		created       timestamptz NOT NULL,
		modified      timestamptz NOT NULL
	);
	CREATE TABLE api_tokens (
		id        text COLLATE "C" NOT NULL PRIMARY KEY,
		user_key  text COLLATE "C" NOT NULL REFERENCES users (name_key) ON DELETE CASCADE,
		name      text NOT NULL,
		hash      text NOT NULL CONSTRAINT api_tokens_hash UNIQUE,
		created   timestamptz NOT NULL,
		expires   timestamptz,
		last_used timestamptz
	);
	CREATE INDEX api_tokens_user ON api_tokens (user_key, created, id);
	CREATE TABLE audit (
		id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		time     timestamptz NOT NULL,
		username text NOT NULL,
		user_key text COLLATE "C" NOT NULL,
		role     text NOT NULL,
		action   text COLLATE "C" NOT NULL,
		target   text NOT NULL,
		detail   text NOT NULL,
		remote   text NOT NULL,
		outcome  text NOT NULL
	);
	CREATE INDEX audit_time ON audit (time);
	CREATE INDEX audit_user ON audit (user_key, id);
	CREATE INDEX audit_action ON audit (action, id);`,

	// 4: tenants and their domains (R5, tenants.go). A domain is verified
	// for at most one tenant (the partial unique index); next_check
	// indexes the verifier's work.
	`CREATE TABLE tenants (
		id       text COLLATE "C" NOT NULL PRIMARY KEY,
		name     text NOT NULL,
		domain   text NOT NULL,
		settings text NOT NULL,
		created  timestamptz NOT NULL,
		modified timestamptz NOT NULL
	);
	CREATE TABLE tenant_domains (
		tenant     text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
		name       text COLLATE "C" NOT NULL,
		token      text NOT NULL,
		state      text NOT NULL,
		reason     text NOT NULL,
		attempts   integer NOT NULL,
		added      timestamptz NOT NULL,
		last_check timestamptz,
		next_check timestamptz,
		deadline   timestamptz,
		verified   timestamptz,
		PRIMARY KEY (tenant, name)
	);
	CREATE UNIQUE INDEX tenant_domains_verified ON tenant_domains (name) WHERE state = 'verified';
	CREATE INDEX tenant_domains_next ON tenant_domains (next_check) WHERE state = 'pending';`,

	// 5: the flags of CS objects leave the indexes of cs_objects for
	// tables of their own (apply.go, flagTables): an update that changes
	// only an object's flags and data no longer writes an entry in each
	// of its indexes (PostgreSQL's HOT update needs every indexed column,
	// partial indexes' conditions included, unchanged, and a free place in
	// the row's page: fillfactor keeps a fifth of each page for it).
	`CREATE TABLE cs_sync_pending (
		connector bytea NOT NULL,
		id        bytea NOT NULL,
		PRIMARY KEY (connector, id)
	);
	CREATE TABLE cs_exports (
		connector bytea NOT NULL,
		id        bytea NOT NULL,
		PRIMARY KEY (connector, id)
	);
	INSERT INTO cs_sync_pending (connector, id) SELECT connector, id FROM cs_objects WHERE sync_pending;
	INSERT INTO cs_exports (connector, id) SELECT connector, id FROM cs_objects WHERE pending_state IS NOT NULL;
	DROP INDEX cs_objects_sync_pending;
	DROP INDEX cs_objects_exports;
	ALTER TABLE cs_objects SET (fillfactor = 80);`,

	// 6: sessions of the console (sessions.go), by the hash of their
	// token. user_key is the folded user name, not a reference to users: a
	// person signed in through OpenID Connect may have no local record
	// (DeleteUser deletes the sessions of the name).
	`CREATE TABLE sessions (
		hash         text COLLATE "C" NOT NULL PRIMARY KEY,
		user_key     text COLLATE "C" NOT NULL,
		username     text NOT NULL,
		role         text NOT NULL,
		tenant       text NOT NULL,
		created      timestamptz NOT NULL,
		seen         timestamptz NOT NULL,
		idle_expires timestamptz NOT NULL,
		expires      timestamptz NOT NULL
	);
	CREATE INDEX sessions_user ON sessions (user_key);
	CREATE FUNCTION sessions_user_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		DELETE FROM sessions WHERE user_key = OLD.name_key;
		RETURN OLD;
	END $$;
	CREATE TRIGGER sessions_user_deleted AFTER DELETE ON users
		FOR EACH ROW EXECUTE FUNCTION sessions_user_deleted();`,

	// 7: the metaverse search index (search.go): the folded values of the
	// attributes in search_attrs, by attribute and value, with their
	// object's ID. search_built gets its row once the attributes were
	// first set and the objects stored before were indexed.
	`CREATE TABLE search_attrs (
		attr bytea NOT NULL PRIMARY KEY
	);
	CREATE TABLE search_built (version integer NOT NULL);
	CREATE TABLE mv_search (
		attr  bytea NOT NULL,
		value bytea NOT NULL,
		id    bytea NOT NULL,
		PRIMARY KEY (attr, value, id)
	);
	CREATE INDEX mv_search_id ON mv_search (id);`,
}

// schemaVersion is the version this package brings a database to.
var schemaVersion = len(migrations)

// migrateLock is the key of the transaction-level advisory lock that
// serializes openers of one database while they migrate it.
const migrateLock = 0x1d5f_c0de_0001

// migrate applies the missing steps in one transaction (PostgreSQL's DDL is
// transactional: a failed step leaves the database as it was), each
// recorded in schema_migrations. Concurrent openers wait on an advisory
// lock, then find the steps applied.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		current, err := currentVersion(ctx, tx)
		if err != nil {
			return err
		}
		if current > schemaVersion {
			return fmt.Errorf("database schema version %d is newer than this program's %d: run a newer idsync on this database", current, schemaVersion)
		}
		for i := current; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("step %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, i+1); err != nil {
				return fmt.Errorf("step %d: record version: %w", i+1, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func currentVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	var v int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
