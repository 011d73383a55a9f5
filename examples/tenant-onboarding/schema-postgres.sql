-- The provider's subscriber table (PostgreSQL); see schema.sql.
--   psql "$DSN" -f schema-postgres.sql
CREATE TABLE subscribers (
	subscriber_id text NOT NULL,
	tenant_id     text NOT NULL,
	display_name  text,
	email         text,
	extension     integer NOT NULL CHECK (extension BETWEEN 10 AND 999999),
	sip_user      text NOT NULL,
	sip_domain    text NOT NULL,
	sip_password  text NOT NULL,
	status        text NOT NULL DEFAULT 'active',
	PRIMARY KEY (tenant_id, subscriber_id),
	UNIQUE (tenant_id, extension),
	UNIQUE (tenant_id, sip_user)
);
