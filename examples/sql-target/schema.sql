-- The service provider's subscriber table (SQLite), shared by its
-- tenants: tenant_id tells whose a row is, and e-mails and extensions are
-- unique per tenant. The database makes the id; version grows with every
-- change (triggers), for delta imports; deleted marks soft-deleted rows.
CREATE TABLE subscribers (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id TEXT NOT NULL,
	email TEXT NOT NULL,
	display_name TEXT,
	extension INTEGER CHECK (extension BETWEEN 1000 AND 99999),
	enabled BOOLEAN NOT NULL DEFAULT 1,
	version INTEGER NOT NULL DEFAULT 0,
	deleted BOOLEAN NOT NULL DEFAULT 0,
	UNIQUE (tenant_id, email),
	UNIQUE (tenant_id, extension)
);
CREATE TRIGGER subscribers_ins AFTER INSERT ON subscribers BEGIN
	UPDATE subscribers SET version = (SELECT MAX(version) + 1 FROM subscribers) WHERE id = NEW.id;
END;
CREATE TRIGGER subscribers_upd AFTER UPDATE OF email, display_name, extension, enabled, deleted ON subscribers BEGIN
	UPDATE subscribers SET version = (SELECT MAX(version) + 1 FROM subscribers) WHERE id = NEW.id;
END;
-- A subscriber of another tenant, with the e-mail and extension of one
-- of contoso's workers: the pbx connector, scoped to contoso, neither
-- imports nor changes it.
INSERT INTO subscribers (tenant_id, email, display_name, extension) VALUES ('fabrikam', 'ada@example.test', 'Ada (Fabrikam)', 2001);
