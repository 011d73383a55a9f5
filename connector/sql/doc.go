// Package sql is the sql connector: it imports from and exports to one
// table of a relational database, SQLite (modernc.org/sqlite) or
// PostgreSQL (pgx), such as a service provider's subscriber table.
//
// Each row is one object of the configured objectType; columns maps the
// columns to attributes, each with a type (string, integer, boolean,
// datetime, reference). The anchor column identifies rows; its value comes
// from an exported attribute (source attribute), from the anchor idsync
// proposes for an add (source idsync) or from the database (source
// database: an identity column, with matchColumns to find a replayed add's
// row). Table and column names are validated and quoted; values always
// travel as bind parameters.
//
// Imports are paged by anchor (keyset paging, pageSize rows per query).
// With a deltaColumn (a version or updated-at the table raises on every
// change) delta imports read the rows changed since a watermark; with a
// deletedColumn, deletes are soft and delta imports see them. A row deleted
// from the table is seen by the next full import only.
//
// With a scope (column = value pairs, a tenant's id) the connector is one
// tenant's view of a table shared by tenants: every statement it runs is
// limited to the scope's rows, and an add writes the scope's values.
//
// Exports run each op in a transaction of its own and are idempotent on
// replay. Secret columns (a SIP password) are written, never imported, and
// their values never appear in messages. docs/connector-sql.md describes
// every configuration key.
package sql
