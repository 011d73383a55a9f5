-- The provider's subscriber table (SQLite), shared by its tenants: each
-- tenant's sql connector is scoped to its tenant_id; e-mails, SIP users
-- and extensions are unique per tenant.
--   sqlite3 subscribers.db < schema.sql
CREATE TABLE subscribers (
	subscriber_id TEXT NOT NULL,
	tenant_id     TEXT NOT NULL,
	display_name  TEXT,
	email         TEXT,
	extension     INTEGER NOT NULL CHECK (extension BETWEEN 10 AND 999999),
	sip_user      TEXT NOT NULL,
	sip_domain    TEXT NOT NULL,
	sip_password  TEXT NOT NULL,
	status        TEXT NOT NULL DEFAULT 'active',
	PRIMARY KEY (tenant_id, subscriber_id),
	UNIQUE (tenant_id, extension),
	UNIQUE (tenant_id, sip_user)
);
