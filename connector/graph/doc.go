// Package graph is the connector for Microsoft Entra ID (Azure AD) through
// Microsoft Graph v1.0: the "cloud directory" target of the out-of-box sync
// rules. It registers the connector type "graph". Capabilities: Tester,
// SchemaDescriber, FullImporter, DeltaImporter, Exporter. It connects on
// first use, never when it is opened.
//
// # Configuration
//
//	connectors:
//	  - name: aad
//	    type: graph
//	    config:
//	      tenantID: contoso.onmicrosoft.com        # or the directory (tenant) ID, a GUID
//	      clientID: 00000000-0000-0000-0000-000000000000
//	      clientSecret: ${AAD_CLIENT_SECRET}       # never logged, never in an error
//	      # tokenURL: https://login.microsoftonline.com/{tenantID}/oauth2/v2.0/token
//	      # baseURL:  https://graph.microsoft.com/v1.0
//	      # scope:    https://graph.microsoft.com/.default
//	      # caFile: proxy-ca.pem   # timeout: 60s   # concurrency: 4
//	      # maxRetries: 5          # retryCap: 60s  # pageSize: 999
//	      # softMatch: false
//
// Keys:
//   - tenantID (required): the tenant, as a GUID or a domain such as
//     contoso.onmicrosoft.com.
//   - clientID, clientSecret (required): an app registration of the tenant
//     and one of its client secrets (the secret's value, not its ID). Give
//     the secret as ${ENV_VAR}. It is sent only to tokenURL, and removed from
//     any text a server sends back before it reaches a log or an error.
//   - tokenURL: the OAuth 2.0 token endpoint
//     (https://login.microsoftonline.com/{tenantID}/oauth2/v2.0/token).
//     Change it, with baseURL and scope, for a national cloud. `{tenantID}`
//     in it is replaced by tenantID (escaped), so one template serves every
//     customer directory of a multi-tenant app.
//   - baseURL: Microsoft Graph (https://graph.microsoft.com/v1.0). Next and
//     delta links Graph returns are followed only when they lie under it.
//   - scope: https://graph.microsoft.com/.default (the application
//     permissions granted to the app).
//   - caFile: a PEM file of CA certificates added to the system roots (a
//     TLS-inspecting proxy). Relative to the configuration file. TLS
//     certificates are always verified; both URLs must be https.
//   - timeout (60s): the time limit of one HTTP request.
//   - concurrency (4, at most 64): exports in flight at once; also how many
//     groups' member lists, or changed objects, are read at once.
//   - maxRetries (5, 0 to 20): retries of a request that was throttled (429)
//     or met 500, 502, 503, 504 or a network failure. The wait is the
//     Retry-After Graph asks for (honoured up to 5 minutes), else an
//     exponential backoff from 1 s with jitter, capped at retryCap (60s).
//     The other ops of a batch go on meanwhile. Each retry is logged at
//     debug level with the request (method and path, no query) and the
//     reason.
//   - pageSize (999, at most 999): objects per page ($top) of a full import.
//   - softMatch (false): take over a cloud user that has the
//     userPrincipalName of a user idsync adds and no onPremisesImmutableId,
//     as Azure AD Connect's soft match does. Off, such a user is one
//     something else created: the add fails on that object and the user is
//     left alone (R2.2); set the user's onPremisesImmutableId to the source
//     anchor (a hard match) to have idsync take it over.
//
// The app needs the Microsoft Graph application permissions
// User.ReadWrite.All, Group.ReadWrite.All and Directory.Read.All (for
// organizational contacts: OrgContact.Read.All suffices), with an
// administrator's consent. `idsync connector test` says which step fails:
// the token endpoint cannot be reached; it refused the credentials (with
// Entra ID's AADSTS text, e.g. AADSTS7000215 for a wrong secret); Graph
// cannot be reached; or a permission is missing (a 403 reading users,
// groups or contacts, naming the permission to grant).
//
// # Object model
//
// Object types user, group and contact, with the attribute names of Azure
// AD Connect's connector; the anchor is the Graph object id, and objects
// have no DN (an outbound rule for this connector sets no dn; a rename is
// an update). `idsync connector schema` lists:
//
//   - user: sourceAnchor (onPremisesImmutableId), userPrincipalName,
//     displayName, givenName, surname, mail, mailNickname, accountEnabled
//     (boolean), department, jobTitle, telephoneNumber (businessPhones,
//     multi-valued), mobile (mobilePhone), streetAddress, city, state,
//     postalCode, country, usageLocation, employeeId, companyName; read-only:
//     proxyAddresses, onPremisesSamAccountName, onPremisesDistinguishedName,
//     onPremisesDomainName, onPremisesSecurityIdentifier,
//     onPremisesUserPrincipalName, passwordPolicies, facsimileTelephoneNumber
//     (faxNumber), physicalDeliveryOfficeName (officeLocation),
//     preferredLanguage, objectId (the object id, which is also the anchor).
//   - group: displayName, description, mailNickname, mailEnabled and
//     securityEnabled (booleans), groupTypes (multi-valued), member
//     (members: references to user, group and contact ids); read-only: mail,
//     proxyAddresses, objectId; sourceAnchor (see below).
//   - contact: displayName, givenName, surname, mail, mailNickname,
//     proxyAddresses, companyName, department, jobTitle, all read-only.
//
// Read-only attributes are imported and never written: an export that
// changes one skips that attribute, logs a warning once per object type and
// attribute, and writes the others. Graph has no settable immutable id on
// groups, so a group's sourceAnchor is accepted from the rules and kept in
// the connector space only: never written, never imported. A binary
// sourceAnchor (an objectGUID) is written in base64, as Azure AD Connect
// writes onPremisesImmutableId.
//
// # Import
//
// A full import reads GET /users, /groups and /contacts with $select (the
// properties of the attributes the rules read, and id) and $top, page by
// page along @odata.nextLink, and each group's members with GET
// /groups/{id}/members?$select=id, paged ($expand=members stops at 20
// members). Before it reads anything it asks /users/delta, /groups/delta
// and /contacts/delta for a delta link with $deltatoken=latest (should
// Graph refuse that option, it runs an initial delta round to its end
// instead, discarding the objects); the watermark it returns holds the
// links as JSON, {"v":1,"delta":{"user":"…","group":"…","contact":"…"}},
// so the next delta import sees every change made during the full import.
//
// A delta import follows the stored delta links. An entry with "@removed"
// is a deletion (reason "changed": the user is in the deleted items;
// "deleted": gone); any other entry is read again in full (delta answers
// carry only the changed properties), with the complete member list of a
// group. Graph keeps the change state of directory objects for a limited
// time: an expired token (410 Gone, syncStateNotFound) fails the delta
// import with a message asking for a full import.
//
// A value Graph returns in an unexpected shape is reported as an error on
// that object; the import goes on.
//
// # Export
//
// Ops run up to `concurrency` at a time, in phases: adds of users and of
// groups without members, adds of groups with members, updates, deletes.
// Each op gets its own result; a refused op carries Graph's status, code
// and message, e.g. `PATCH /users/{id}: 400 Request_BadRequest: …`.
//
//   - Add user: POST /users. Graph requires accountEnabled, displayName,
//     mailNickname and userPrincipalName (a missing one fails the op,
//     naming it) and a passwordProfile: the connector sets a random
//     32-character password (crypto/rand, never logged or returned) with
//     forceChangePasswordNextSignIn. idsync does not synchronize passwords:
//     the user signs in after a password reset (self-service or by an
//     administrator), or once password hash synchronization is set up by
//     other means. When Graph answers that another object has the same
//     userPrincipalName or onPremisesImmutableId, the connector looks the
//     user up ($filter, quotes doubled) and returns ErrAlreadyExists with its
//     id: the user with this onPremisesImmutableId (hard match: this
//     object's identity, so the result also wraps ErrIdentityMatch and the
//     engine takes the user over), or with this userPrincipalName and no
//     other onPremisesImmutableId (soft match: the same name only; the
//     engine takes it over only when an earlier sending of the add may have
//     created it, or with softMatch). A user holding the name for another
//     source anchor is an error on the op.
//   - Add group: POST /groups with displayName, mailEnabled, mailNickname
//     and securityEnabled (required), and the first 20 members in
//     members@odata.bind; the others follow 20 per PATCH. Graph creates
//     security groups and Microsoft 365 groups (groupTypes Unified) only: a
//     mail-enabled group without Unified fails the op with an explanation.
//     As groups have no settable immutable id, the add first looks for a
//     group with the same mailNickname: one found returns ErrAlreadyExists
//     with its id, and the engine takes it over only when an earlier
//     sending of the add may have created it (replayed after a crash or a
//     failure); on a first sending it is a group something else created,
//     and the add fails without touching it. Two or more fail the op. When adding the
//     remaining members fails, the new group is deleted again, so that the
//     op leaves nothing half-done.
//   - Update (and rename): PATCH /users/{id} or /groups/{id} with the
//     changed properties; a replace with no values writes null ([] for a
//     collection). Member value adds: PATCH members@odata.bind, 20 per
//     request; Graph refuses a whole request when one reference is a member
//     already, and the connector then reads the member list once and sends
//     the rest. Member removes: DELETE /groups/{id}/members/{id}/$ref each,
//     404 meaning already removed. A member replace reads the member list
//     and applies the difference. Value adds and removes of other
//     multi-valued attributes read the current values first.
//   - Delete: DELETE /users/{id} or /groups/{id}; 404 is ErrNotFound.
//   - Contacts: Graph cannot write organizational contacts; every export of
//     a contact fails with a message saying so. Clone and disable the
//     outbound contact rule for this connector, or reach the cloud
//     directory through a SCIM or LDAP connector.
//
// Member values are Graph object ids. A value that is the anchor idsync
// proposed for an object this process added earlier is translated to the
// id Graph gave it. A member Graph does not know fails the op, naming the
// value. A request that binds an object created moments ago is retried on
// 404 while Graph's replicas catch up.
//
// Replays converge: a POST retried after a failure that may have reached
// Graph (a network error or a 5xx) first looks for the object it may have
// created; an add of an existing object is ErrAlreadyExists with its id;
// member adds already applied are skipped; removes already done are fine;
// a delete of a missing object is ErrNotFound.
//
// # Admin consent
//
// Consent is the admin-consent flow of a multi-tenant app registration,
// for a service provider onboarding customers: Consent.URL builds the
// https://login.microsoftonline.com/{directory|organizations}/v2.0/adminconsent
// URL with a random state bound to the idsync tenant, kept (as a hash) in a
// ConsentStore the caller provides; Consent.Callback checks the redirect
// back (state single-use and unexpired, same idsync tenant,
// admin_consent=True, the directory ID; or Microsoft's error) and returns
// the customer's directory ID, the tenantID of the connector that then
// reads it with client-credentials tokens (ConsentResult.GraphConfig).
package graph
