package web

import (
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/store"
)

// Secrets: the console shows the values of secret attributes (passwords:
// the built-in ones and security.secretAttributes) as [secret], never in
// clear. Object data is read through Options.View, a masked view of the
// store (store/sealed Masked); what the engine computes from decrypted
// values (the single-object preview) is scrubbed with Options.Secret.

// secretShown replaces a secret value in the console.
const secretShown = "[secret]"

// view is the store the console reads object data from.
func (s *Server) view() store.Store {
	if s.o.View != nil {
		return s.o.View
	}
	return s.o.Store
}

func (s *Server) secret(attr string) bool { return s.o.Secret != nil && s.o.Secret(attr) }

// scrubPreview hides the secret values of a single-object preview (the
// engine's HideSecrets, as the CLI's mv preview does).
func (s *Server) scrubPreview(p *engine.ObjectPreview) { p.HideSecrets(s.secret, secretShown) }
