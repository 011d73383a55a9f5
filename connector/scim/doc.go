// Package scim is a connector for applications that offer a SCIM 2.0
// service provider (RFC 7643, RFC 7644): idsync provisions users and groups
// to them (R3) and reads them back.
//
// It registers the connector type "scim". Example configuration:
//
//	connectors:
//	  - name: crm
//	    type: scim
//	    config:
//	      url: https://crm.example.com/scim/v2
//	      auth: {type: bearer, token: "…"}
//	      objectTypes: {user: User, group: Group}   # the default
//
// # Configuration keys
//
//   - url (required): the SCIM base URL. https, or http on a loopback
//     address; allowHTTP: true permits plain http elsewhere.
//   - auth: type bearer (token), basic (username, password), oauth2 (the
//     client credentials grant: tokenURL, clientID, clientSecret, scopes) or
//     none. The type defaults from the keys set. Secrets never appear in
//     errors, logs or the JSON form of the configuration.
//   - caFile: PEM CA certificates to trust; insecureSkipVerify turns TLS
//     verification off (it is on by default).
//   - timeout: per HTTP request (default 30s).
//   - concurrency: requests in flight during an export (default 4).
//   - pageSize: resources per page of an import (default 100).
//   - memberBatch: member values per PATCH request (default 100).
//   - maxRetries (default 5), retryBase (500ms), retryCap (30s): retries
//     of throttled (429, honouring Retry-After), unavailable (5xx) and
//     failed (network) requests, with exponential backoff and jitter.
//   - objectTypes: idsync object type → SCIM resource type name (as
//     /ResourceTypes lists it) or endpoint ("/Users"). Default user → User,
//     group → Group.
//
// # Attributes
//
// SCIM resources are JSON documents; idsync attributes are flat. Names:
//
//   - simple attributes by name: userName, displayName, active, externalId;
//   - sub-attributes of a complex attribute with a dot: name.givenName;
//   - multi-valued attributes told apart by type with a value filter:
//     emails[type eq "work"].value, addresses[type eq "work"].locality;
//   - multi-valued attributes whose elements are ids (members, groups) or
//     values (roles, entitlements), and single complex attributes with a
//     value (the enterprise manager), by name: their values are the value
//     sub-attributes;
//   - extension attributes prefixed with the schema URN:
//     urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber.
//
// members, groups and manager are references: their values are the ids of
// other resources. A reference value the connector does not know as an id
// is looked up as an externalId, which is how a member added in the same
// export (journaled with the anchor idsync proposed) is found: an add sets
// externalId to the proposed anchor unless the changes set it.
//
// # Anchors and export
//
// The anchor is the SCIM id. An add POSTs the resource and returns the id
// the server assigned; a 409 returns connector.ErrAlreadyExists with the
// id of the existing resource (found by userName, displayName or
// externalId), and connector.ErrIdentityMatch when that resource carries
// this object's externalId. Updates use PATCH (PUT of the whole resource when the server
// has no PATCH); member changes go memberBatch values per request. A delete
// of a missing resource returns connector.ErrNotFound. A POST is never sent
// twice blindly: after a failure that may have reached the server, the
// connector first looks for the resource by externalId.
//
// Find and Get serve the application-provisioning layer: Find matches an
// existing account by a flat attribute with a SCIM filter.
package scim
