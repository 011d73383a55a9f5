// Package google is the connector for Google Workspace through the Admin SDK
// Directory API: a discovery source that imports a customer's users and
// groups (tenant onboarding, R5.5). It registers the connector type
// "google". Capabilities: Tester, SchemaDescriber, FullImporter. It only
// reads, and connects on first use, never when it is opened.
//
// # Configuration
//
//	connectors:
//	  - name: workspace
//	    type: google
//	    config:
//	      credentialsFile: service-account.json  # or credentials: ${GOOGLE_CREDENTIALS}
//	      subject: admin@example.com             # the administrator the service account acts as
//	      # customer: my_customer                # or domain: example.com
//	      # scopes: [https://www.googleapis.com/auth/admin.directory.user.readonly,
//	      #          https://www.googleapis.com/auth/admin.directory.group.readonly]
//	      # tokenURL: https://oauth2.googleapis.com/token   (the key file's token_uri)
//	      # baseURL:  https://admin.googleapis.com/admin/directory/v1
//	      # caFile: proxy-ca.pem   # timeout: 60s   # concurrency: 4
//	      # maxRetries: 5          # retryCap: 60s  # pageSize: 500
//
// Keys:
//   - credentialsFile: the JSON key file of a service account (type
//     service_account), relative to the configuration file; or
//   - credentials: the same JSON inline, a secret: give it as ${ENV_VAR}.
//     One of the two is required. The private key is read when the
//     connector opens, used only to sign the token request, and never
//     logged or shown in an error (errors about the file name the field,
//     never its content); the connector's JSON form omits credentials.
//     Keep the key file readable by idsync only (chmod 600).
//   - subject (required): the e-mail address of the Workspace
//     administrator the service account acts as (domain-wide delegation:
//     the JWT's sub). It needs an admin role that may read users and groups.
//   - customer (my_customer): the Workspace account, my_customer (the
//     subject's) or a customer ID such as C03az79cb; or
//   - domain: read the users and groups of one domain of the account only.
//   - scopes: the OAuth scopes asked for; by default the read-only
//     admin.directory.user.readonly and admin.directory.group.readonly
//     (which covers group members). They must be the scopes delegated to
//     the service account's client ID.
//   - tokenURL: the token endpoint (the key file's token_uri, else
//     https://oauth2.googleapis.com/token); also the JWT's aud.
//   - baseURL: the Directory API
//     (https://admin.googleapis.com/admin/directory/v1).
//   - caFile: a PEM file of CA certificates added to the system roots (a
//     TLS-inspecting proxy). Relative to the configuration file. TLS
//     certificates are always verified; both URLs must be https.
//   - timeout (60s): the time limit of one HTTP request (the token request
//     included).
//   - concurrency (4, at most 64): groups whose member lists are read at
//     once.
//   - maxRetries (5, 0 to 20): retries of a request that was throttled
//     (429, or 403 with reason rateLimitExceeded, userRateLimitExceeded or
//     quotaExceeded) or met 500, 502, 503, 504 or a network failure. The
//     wait is the Retry-After the API asks for (up to 5 minutes), else an
//     exponential backoff from 1 s with jitter, capped at retryCap (60s).
//     Each retry is logged at debug level with the request (method and
//     path, no query) and the reason. A 403 dailyLimitExceeded is not
//     retried (the quota comes back the next day).
//   - pageSize (500, at most 500): users per page (maxResults) of a full
//     import; groups and members are read at most 200 a page.
//
// # Setting up the service account
//
// In Google Cloud: create a service account in a project where the Admin
// SDK API is enabled, and a JSON key for it. In the Workspace Admin
// console (Security → Access and data control → API controls → Manage
// domain-wide delegation): add the service account's client ID with the
// scopes above. `idsync connector test` says which step fails: the key
// file is unreadable or not a service account key; the token endpoint
// cannot be reached; it refused the assertion (invalid_grant: a revoked
// key, a subject that does not exist, this machine's clock;
// unauthorized_client: the scopes are not delegated to the client ID); the
// Directory API cannot be reached; or the subject may not read users or
// groups (403).
//
// Authentication is the JWT bearer grant (RFC 7523) of Google's "OAuth 2.0
// for Server to Server Applications": golang.org/x/oauth2/google reads the
// key file and golang.org/x/oauth2/jwt signs an RS256 JWT (header kid: the
// key's id; claims iss: the service account's client_email, scope, aud:
// tokenURL, sub: subject, iat, exp one hour later) and exchanges it for an
// access token, reused until shortly before it expires; a 401 from the API
// obtains a new one once.
//
// # Object model
//
// Object types user and group; the anchor is the Directory API's id (a
// number, stable across renames); objects have no DN. Attribute names are
// those of the graph connector where the meaning is the same, so that
// rules written for an Entra ID source read a Google one:
//
//   - user: primaryEmail, mail (primaryEmail too), displayName
//     (name.fullName), givenName (name.givenName), surname
//     (name.familyName), accountEnabled (boolean, not suspended), archived
//     and isAdmin (booleans), orgUnitPath, emails (every address,
//     multi-valued), aliases (aliases and nonEditableAliases,
//     multi-valued), telephoneNumber (phones of type work, multi-valued),
//     mobile (the phone of type mobile or work_mobile, the primary one
//     first), phones (every phone number, multi-valued), jobTitle and
//     department (of the primary organization, else the first),
//     employeeId (the externalId of type organization), creationTime
//     (datetime).
//   - group: mail (email), displayName (name), description, aliases,
//     member (references: the ids of member users and groups),
//     externalMember (the e-mail addresses of members outside the
//     account, type EXTERNAL), allUsersMember (boolean: the group has the
//     member of type CUSTOMER, every user of the account).
//
// An attribute whose value is empty is absent.
//
// # Import
//
// A full import reads GET /users?customer=…&maxResults=…&projection=full
// (or domain=…), then GET /groups, page by page along nextPageToken, and
// each group's members with GET /groups/{id}/members (paged, `concurrency`
// groups at a time; skipped when no rule reads member, externalMember or
// allUsersMember). A group deleted while it is read is left out. Only the
// object types and attributes the rules read are emitted. A user or group
// the connector cannot represent (no id, a field of the wrong JSON type) is
// reported as an error on that object and the import goes on; a page that
// is not a Directory API list (a body cut short) fails the import, saying
// which page, rather than guessing which objects are gone.
//
// There is no delta import: re-synchronize with a full import on a
// schedule (deleted users are found by comparing it with the connector
// space). The Directory API's change notifications (users.watch push
// channels) post to a public HTTPS endpoint the customer's Google account
// must reach, which an idsync behind a firewall does not have; and they say
// only which user changed, not what, so a full read would follow anyway.
//
// The connector does not write: an export run on it fails (it is no
// Exporter). Leave it out of the export steps of `scheduler.order`.
//
// The tests run it against internal/googlefake, an httptest server that
// replays the documented request and response shapes (token endpoint,
// paging, throttling, a malformed page) and verifies the JWT's signature
// and claims, because Google's services are not reachable from the test
// machines.
package google
