// Package tenant is what a service provider needs to serve several
// customer tenants from one idsync (R5): tenants, the DNS domains they
// claim and the proof that they own them, and the onboarding settings of
// each tenant.
//
// # Domain verification (R5.1–R5.4)
//
// Adding a domain to a tenant gives it a random token; the tenant's
// administrator publishes it as a TXT record,
//
//	_idsync.contoso.example.  TXT  "idsync-verification=TOKEN"
//
// (the record name is configurable: Config.RecordName). The Verifier looks
// the record up through a configurable DNS resolver: at once, then on a
// schedule that backs off from 30 seconds to 5 minutes, for up to an hour by
// default (DNS propagation), after which the domain fails with the reason
// the last lookup gave. Verifying again starts a new attempt with the same
// token. A domain is verified for at most one tenant: once one tenant has
// proven it owns contoso.example, another's claim fails. Only a verified
// domain can become the tenant's domain, and switching it is an explicit
// action (UseDomain).
//
// Everything here is a provider-level record of the store (store.Tenant,
// store.Domain); every query of a domain names its tenant.
package tenant
