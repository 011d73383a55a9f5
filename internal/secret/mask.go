package secret

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// MinMaskLen is the shortest value a Masker hides in text: shorter values
// would hide random parts of messages (and are no passwords worth the name).
const MinMaskLen = 4

// maxMasked bounds the number of values a Masker remembers.
const maxMasked = 1 << 20

// Masker remembers the secret values this process has handled (sealed or
// opened) and replaces them with [secret] in text: run messages, per-object
// error messages, log records. It is safe for concurrent use; the nil
// Masker hides nothing.
//
// Values are indexed by their first MinMaskLen bytes, so masking a text
// costs one map lookup per byte of it, whatever the number of values.
type Masker struct {
	mu    sync.RWMutex
	n     int
	byKey map[[MinMaskLen]byte][]string
}

// NewMasker returns an empty Masker.
func NewMasker() *Masker { return &Masker{byKey: map[[MinMaskLen]byte][]string{}} }

func key(s string) (k [MinMaskLen]byte) {
	copy(k[:], s)
	return k
}

// Add remembers values.
func (m *Masker) Add(values ...string) {
	if m == nil {
		return
	}
	for _, v := range values {
		if len(v) < MinMaskLen || m.has(v) {
			continue
		}
		m.mu.Lock()
		if m.n < maxMasked {
			k := key(v)
			if !containsStr(m.byKey[k], v) {
				m.byKey[k] = append(m.byKey[k], strings.Clone(v))
				m.n++
			}
		}
		m.mu.Unlock()
	}
}

func (m *Masker) has(v string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return containsStr(m.byKey[key(v)], v)
}

func containsStr(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Mask returns s with every remembered value replaced by [secret], the
// longest first where several start at the same place.
func (m *Masker) Mask(s string) string {
	if m == nil || len(s) < MinMaskLen {
		return s
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.n == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i+MinMaskLen <= len(s); {
		cands := m.byKey[key(s[i:])]
		best := 0
		for _, v := range cands {
			if len(v) > best && strings.HasPrefix(s[i:], v) {
				best = len(v)
			}
		}
		if best == 0 {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(Redacted)
		i += best
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// LogHandler returns a handler that masks the message and the string,
// error and other values of every record before passing it to h.
func LogHandler(h slog.Handler, m *Masker) slog.Handler {
	if m == nil {
		return h
	}
	return &maskHandler{h: h, m: m}
}

type maskHandler struct {
	h slog.Handler
	m *Masker
}

func (h *maskHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *maskHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.m.Mask(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *maskHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.m.Mask(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = h.attr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.m.Mask(x.Error()))
		case []string:
			out := make([]string, len(x))
			for i, s := range x {
				out[i] = h.m.Mask(s)
			}
			return slog.Any(a.Key, out)
		default:
			// Anything else is printed by the handler with %+v: mask that.
			return slog.String(a.Key, h.m.Mask(slog.AnyValue(x).String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *maskHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.attr(a)
	}
	return &maskHandler{h: h.h.WithAttrs(out), m: h.m}
}

func (h *maskHandler) WithGroup(name string) slog.Handler {
	return &maskHandler{h: h.h.WithGroup(name), m: h.m}
}
