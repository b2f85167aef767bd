//go:build tools

// Package tools records the runc command this module builds.
package tools

import _ "github.com/opencontainers/runc"
