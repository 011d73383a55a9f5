package engine

// HideSecrets replaces, in the preview, the values of every attribute
// secret says is secret with shown ("[secret]"): the values of flows into
// it, of the metaverse and target attributes, and of the pending export
// rows. A preview is computed from clear values (and a GeneratePassword
// flow computes a new password), so what shows one — the CLI's mv preview,
// the console — hides them first.
func (p *ObjectPreview) HideSecrets(secret func(attr string) bool, shown string) {
	if p == nil || secret == nil {
		return
	}
	hide := func(vals []string) []string {
		if len(vals) == 0 {
			return vals
		}
		return []string{shown}
	}
	flows := func(fs []FlowPreview) {
		for i := range fs {
			if secret(fs[i].Target) {
				fs[i].Values = hide(fs[i].Values)
				if fs[i].Value != "" {
					fs[i].Value = shown
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
		if a := &p.Inbound.Attributes[i]; secret(a.Name) {
			a.Values, a.Current = hide(a.Values), hide(a.Current)
		}
	}
	for i := range p.Outbound {
		t := &p.Outbound[i]
		for j := range t.Rules {
			flows(t.Rules[j].Flows)
		}
		for j := range t.Attributes {
			if a := &t.Attributes[j]; secret(a.Name) {
				a.Values, a.Current = hide(a.Values), hide(a.Current)
			}
		}
		for j := range t.Export {
			if r := &t.Export[j]; secret(r.Attribute) {
				if r.OldValue != "" {
					r.OldValue = shown
				}
				if r.NewValue != "" {
					r.NewValue = shown
				}
			}
		}
	}
}
