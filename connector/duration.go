package connector

import (
	"fmt"
	"time"
)

// Duration is a time.Duration in a connector's configuration block, written
// as Go writes durations: "30s", "2m", "1h30m".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (write e.g. 30s or 2m): %w", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as Go does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
