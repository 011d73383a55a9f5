// Package ldap is the connector for LDAP directories: Active Directory
// (tested against Samba as an AD domain controller), OpenLDAP (tested against
// slapd) and other LDAPv3 servers. It registers the connector type "ldap".
//
// # Configuration
//
//	connectors:
//	  - name: contoso
//	    type: ldap
//	    config:
//	      url: ldaps://dc1.contoso.com        # ldap://host[:389] or ldaps://host[:636]
//	      caFile: contoso-ca.pem              # CA of the server certificate (PEM), relative to the config file
//	      bindDN: CN=idsync,OU=Service,DC=contoso,DC=com
//	      password: ${CONTOSO_PASSWORD}       # never logged
//	      containers:
//	        include: [OU=Sales,DC=contoso,DC=com]
//	        exclude: [OU=Disabled,OU=Sales,DC=contoso,DC=com]
//
// Keys (all but url optional):
//   - url: the server. ldaps:// is TLS from the start; ldap:// with
//     startTLS: true upgrades the connection.
//   - startTLS, caFile, insecureSkipVerify: TLS. Certificates are always
//     verified against the system roots plus caFile, unless
//     insecureSkipVerify is set, which logs a warning on every use.
//   - bindDN, password: simple bind (both or neither).
//   - flavor: ad, openldap or generic; detected from the root DSE when left
//     out. It sets the defaults below.
//   - baseDN: the one naming context to synchronize. Without it the
//     partitions are the forest's domains (AD, from the crossRef objects
//     under CN=Partitions) or the server's naming contexts.
//   - anchor: the attribute that identifies an entry for life: objectGUID
//     (AD, binary, kept as base64) or entryUUID (others) by default.
//   - pageSize: entries per page of the paged full import (1000).
//   - timeout (60s), connections (4: the pool size and the number of
//     exports in flight), retries (3: transient failures are retried with
//     exponential backoff on a new connection).
//   - objectTypes: an ordered list of {objectClass, type}; an entry's type is
//     that of the first listed class it has. AD default: user, contact,
//     group, foreignSecurityPrincipal; others: inetOrgPerson → user,
//     groupOfNames and groupOfUniqueNames → group.
//   - excludeObjectClasses: entries with these classes are skipped
//     (computer, on AD).
//   - filter: an LDAP filter AND-ed to the search.
//   - containers: OU-based filtering (R2.7): include, exclude and
//     noNewChildren lists of container DNs. Walking up from an entry, the
//     nearest container that is excluded or included decides; a container
//     under a noNewChildren parent is out of scope unless included itself.
//     A listed container that no longer exists (renamed, moved, deleted)
//     fails every import of its partition, naming it, rather than making
//     the objects under it look deleted.
//   - types: attribute type overrides ({employeeNumber: integer}); types
//     come from the directory's schema otherwise.
//   - deltaMethod: dirsync or usnchanged (AD), syncrepl (RFC 4533),
//     timestamp (modifyTimestamp polling with a listing of what still
//     exists, for OpenLDAP without syncprov), or none. Picked from what the
//     server offers when left out.
//
// # Import
//
// A full import is a paged subtree search of each search base (the
// included containers, or the partition), asking only for the attributes
// the rules read plus objectClass and the anchor. Multi-valued attributes
// that AD returns in ranges (member;range=0-1499) are completed with ranged
// retrieval. Before it starts it records the delta starting point (a DirSync
// or content-synchronization cookie, or the highest committed USN), so no
// change made during the import is lost.
//
// A delta import asks the server what changed since the watermark and reads
// each changed entry again in full: an entry that is gone, or no longer has
// a configured type, matches the filter or sits in the configured
// containers, is reported as a deletion. On AD, changed entries are read by
// GUID, so moves and renames keep their anchor.
//
// An entry with a value that does not fit its attribute's type is reported
// as an error on that object; the import goes on.
//
// # Export
//
// Add, modify (replace / add values / delete values), delete, and rename or
// move (modrdn). Ops run up to `connections` at a time, adds of plain
// objects before adds of objects that reference them. Replays converge: an
// existing entry is ErrAlreadyExists with its anchor, a missing one on
// delete ErrNotFound, value adds and removes already applied are turned into
// the resulting value set, a rename already done succeeds. unicodePwd is
// encoded as AD expects (quoted, UTF-16LE); AD accepts it only over an
// encrypted connection, and the connector refuses to send it over any
// other (an ldap:// URL without startTLS): that op fails with an error
// that says so. unicodePwd is write-only (connector.WriteOnlyAttributer):
// never asked for, dropped from an entry that would carry it. A new userPassword is set with the Password Modify
// extended operation where the server supports it (RFC 3062), so the server
// hashes it.
package ldap
