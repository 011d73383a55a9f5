package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/idsync/idsync/store"
)

// Watermark returns the stored delta watermark of a connector partition, ""
// when none was stored.
func (s *Store) Watermark(ctx context.Context, connector, partition string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM watermarks WHERE connector = ? AND partition = ?`,
		connector, partition).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("watermark of %s/%q: %w", connector, partition, err)
	}
	return v, nil
}

// Setting returns a stored setting (store.ErrNotFound when unset).
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("setting %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("setting %q: %w", key, err)
	}
	return v, nil
}

// SetSetting stores a setting.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("set setting %q: %w", key, err)
	}
	s.ck.written()
	return nil
}

// Settings returns every stored setting.
func (s *Store) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, fmt.Errorf("list settings: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("list settings: %w", err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list settings: %w", err)
	}
	return out, nil
}

// Watermarks returns every stored watermark, by connector and partition.
func (s *Store) Watermarks(ctx context.Context) ([]store.Watermark, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT connector, partition, value FROM watermarks ORDER BY connector, partition`)
	if err != nil {
		return nil, fmt.Errorf("list watermarks: %w", err)
	}
	defer rows.Close()
	var out []store.Watermark
	for rows.Next() {
		var w store.Watermark
		if err := rows.Scan(&w.Connector, &w.Partition, &w.Value); err != nil {
			return nil, fmt.Errorf("list watermarks: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list watermarks: %w", err)
	}
	return out, nil
}
