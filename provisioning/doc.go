// Package provisioning provisions metaverse users to applications over
// SCIM 2.0 (requirement R3), the way Microsoft Entra application
// provisioning does for SaaS applications.
//
// An application (App, defined in provisioning.yaml, see
// docs/provisioning.md) is a SCIM connector (connector/scim) plus:
//
//   - assignments: metaverse users and groups, each with an app role; the
//     members of assigned groups are in scope (nested groups with
//     nestedGroups: true); a role marked provisionable: false is rejected
//     when the configuration is loaded;
//   - a scoping filter (rules.ScopingFilter) on top of the assignments;
//   - attribute mappings: a SCIM attribute (connector/scim's flat names)
//     from an MV attribute, a constant or an expression in the
//     provisioning dialect (expr.Provisioning); matching attributes, tried
//     in matchingPrecedence order, find an account that already exists
//     before one is created;
//   - provisioning on or off, and deprovision disable (active=false, the
//     default) or delete;
//   - group provisioning (provisionGroups, on by default): the assigned
//     groups (and, with nestedGroups, the groups nested in them) that pass
//     groupScope become SCIM Groups, their attributes from groupMappings
//     (default displayName, matching), their members the SCIM ids of the
//     accounts and groups the application has from idsync, kept in sync
//     with member values added and removed (batched by the connector);
//     groups no longer assigned or in scope are deleted.
//
// Run runs one cycle: it reads the metaverse from the store, resolves the
// assignments, creates and updates the accounts of the users in scope,
// then creates and updates the groups in scope with their members, then
// disables (or deletes) the accounts of users no longer assigned or in
// scope and deletes such groups. The state (MV id → SCIM id, hashes of the
// values last exported, the member ids of groups) is one JSON store
// setting per application (SettingKey), so that later cycles send only
// what changed. The accidental-delete guard (deleteThreshold) counts
// disables and deletes, of groups too.
//
// Every action goes to the application's activity report, a JSON-lines
// file under the data directory (LogPath): create, update, disable,
// delete, skip (not assigned, out of scope, no change; reported for the
// objects changed since the last cycle), error with the server's message.
// The values of mappings that call Redact are shown as [Redact]. A report
// that reached LogMaxBytes (64 MiB) is rotated when a cycle starts (LogKeep
// older files are kept); ReadLog reads them all.
//
// A cycle starts with a connection test. When it fails, or when most
// operations of a cycle fail, the application is quarantined: the next
// cycles wait 5m, 10m, 20m … up to 24h (QuarantinePolicy) instead of
// hammering the endpoint. Errors and quarantines are e-mailed over SMTP to
// the application's notificationEmail.
package provisioning
