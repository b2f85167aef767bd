// Command coredns is CoreDNS with only the plugins the local cluster's Corefile
// uses (bind keeps it on the cluster's host bridge), instead of the ~60 of
// core/plugin/zplugin.go. Each plugin registers itself when imported;
// dnsserver's directive list decides the order they run in, so it keeps the
// order of CoreDNS's own core/dnsserver/zdirectives.go.
// kubernetes and cache import metadata, prometheus (plugin/metrics) and
// transfer themselves, so those are listed too rather than left unusable.
package main

import (
	"log"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// directives in execution order, a subsequence of CoreDNS's zdirectives.go
var directives = []string{
	"metadata",
	"reload",
	"bind",
	"ready",
	"health",
	"prometheus",
	"errors",
	"log",
	"loadbalance",
	"cache",
	"transfer",
	"hosts",
	"kubernetes",
}

func main() {
	if err := dnsserver.SetDirectives(directives); err != nil {
		log.Fatal(err)
	}
	coremain.Run()
}
