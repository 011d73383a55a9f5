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

func hide(vals []string) []string {
	if len(vals) == 0 {
		return vals
	}
	return []string{secretShown}
}

// scrubPreview hides the secret values of a single-object preview.
func (s *Server) scrubPreview(p *engine.ObjectPreview) {
	flows := func(fs []engine.FlowPreview) {
		for i := range fs {
			if s.secret(fs[i].Target) {
				fs[i].Values = hide(fs[i].Values)
				if fs[i].Value != "" {
					fs[i].Value = secretShown
				}
			}
		}
	}
	for i := range p.Inbound.Sources {
		for j := range p.Inbound.Sources[i].Rules {
			flows(p.Inbound.Sources[i].Rules[j].Flows)
		}
	}
	for i := range p.Inbound.Attributes {
		if a := &p.Inbound.Attributes[i]; s.secret(a.Name) {
			a.Values, a.Current = hide(a.Values), hide(a.Current)
		}
	}
	for i := range p.Outbound {
		t := &p.Outbound[i]
		for j := range t.Rules {
			flows(t.Rules[j].Flows)
		}
		for j := range t.Attributes {
			if a := &t.Attributes[j]; s.secret(a.Name) {
				a.Values, a.Current = hide(a.Values), hide(a.Current)
			}
		}
		for j := range t.Export {
			if r := &t.Export[j]; s.secret(r.Attribute) {
				if r.OldValue != "" {
					r.OldValue = secretShown
				}
				if r.NewValue != "" {
					r.NewValue = secretShown
				}
			}
		}
	}
}
