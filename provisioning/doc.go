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
// An application runs on the sync engine (package engine), like every
// other target: it is a connector of the engine (its SCIM connector, named
// after the application; App.Connector) with outbound sync rules generated
// from its configuration (App.Rules, File.RuleFile, merged into the one
// rule set): assignments and scope become the rules' assignments and
// scoping filters, mappings their flows, matching attributes their join
// groups, deprovision their deprovisioning. The directory synchronizations
// stage the application's pending exports as they stage every target's;
// `idsync preview APP`, `idsync runs` and `idsync cs get` show them.
//
// Run runs one cycle of an application as engine runs: a full import of the
// application, a synchronization of it (delta: the directory
// synchronizations stage its changes; full on its first cycle and when its
// generated rules changed) and the export of its pending exports — journaled before they are sent (a crash at any point is
// replayed, never duplicated), counted by the engine's accidental-delete
// guard (deleteThreshold, disables included), recorded in the run history.
// What provisioning adds on top is thin: on/off, the interval (Serve),
// quarantine with backoff, the connection test, the e-mail notification,
// and the activity report, a JSON-lines file under the data directory
// (LogPath) written from the export's results: create, update, disable,
// delete, error with the server's message. The values of mappings that
// call Redact (and secret attributes) are shown as [Redact]. A report that
// reached LogMaxBytes (64 MiB) is rotated when a cycle starts (LogKeep
// older files are kept); ReadLog reads them all. The state kept beside the
// engine (one JSON store setting per application, SettingKey) is the
// quarantine and the cycle count; the account map an earlier version kept
// there is turned into connector-space links by the first cycle.
//
// A cycle starts with a connection test. When it fails, or when most
// operations of a cycle fail, the application is quarantined: the next
// cycles wait 5m, 10m, 20m … up to 24h (QuarantinePolicy) instead of
// hammering the endpoint. Errors and quarantines are e-mailed over SMTP to
// the application's notificationEmail.
package provisioning
