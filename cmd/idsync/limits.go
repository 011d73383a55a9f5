package main

import (
	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/engine"
)

// engineLimits turns a connector's configured value limits (0: no limit)
// into the engine's (negative: no limit).
func engineLimits(l config.ValueLimits) engine.Limits {
	conv := func(v int) int {
		if v == 0 {
			return -1
		}
		return v
	}
	return engine.Limits{MaxStringBytes: conv(l.MaxStringBytes), MaxBinaryBytes: conv(l.MaxBinaryBytes),
		MaxValues: conv(l.MaxValues), MaxReferences: conv(l.MaxReferences), SingleValued: l.SingleValued}
}
