//go:build tools

// Package tools records the CNI plugins this module builds: bridge networking
// with host-local IPAM, the loopback interface, and hostPort mappings.
package tools

import (
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "github.com/containernetworking/plugins/plugins/main/loopback"
	_ "github.com/containernetworking/plugins/plugins/meta/portmap"
)
