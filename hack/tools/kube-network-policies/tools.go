//go:build tools

// Package tools records the kube-network-policies command this module builds
// (upstream's cmd/main.go, the standalone nftables/nfqueue agent).
package tools

import _ "sigs.k8s.io/kube-network-policies/cmd"
