//go:build tools

// Package tools records the crane command this module builds.
package tools

import _ "github.com/google/go-containerregistry/cmd/crane"
