-- The service provider's subscriber table (SQLite). The database makes
-- the id; version grows with every change (triggers), for delta imports;
-- deleted marks soft-deleted rows.
CREATE TABLE subscribers (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	email TEXT NOT NULL UNIQUE,
	display_name TEXT,
	extension INTEGER UNIQUE CHECK (extension BETWEEN 1000 AND 99999),
	enabled BOOLEAN NOT NULL DEFAULT 1,
	version INTEGER NOT NULL DEFAULT 0,
	deleted BOOLEAN NOT NULL DEFAULT 0
);
CREATE TRIGGER subscribers_ins AFTER INSERT ON subscribers BEGIN
	UPDATE subscribers SET version = (SELECT MAX(version) + 1 FROM subscribers) WHERE id = NEW.id;
END;
CREATE TRIGGER subscribers_upd AFTER UPDATE OF email, display_name, extension, enabled, deleted ON subscribers BEGIN
	UPDATE subscribers SET version = (SELECT MAX(version) + 1 FROM subscribers) WHERE id = NEW.id;
END;
