//go:build tools

package idsync

import (
	_ "github.com/goccy/go-yaml"
	_ "github.com/google/uuid"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/term"
	_ "modernc.org/sqlite"
)
