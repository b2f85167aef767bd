//go:build tools

// Package tools records the containerd commands this module builds: the daemon
// and the runc v2 shim it starts for every pod sandbox.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
)
