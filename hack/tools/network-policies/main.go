// Command network-policies enforces Kubernetes NetworkPolicies for the local
// cluster's real nodes with the policy engine of sigs.k8s.io/kube-network-policies:
// the first packet of every connection to or from a pod selected by a policy is
// sent to user space (NFQUEUE), where the engine accepts or drops it.
//
// It differs from the kube-network-policies binary in two ways, both forced by
// the local cluster:
//   - The queue rules are iptables rules (iptables-nft turns NFQUEUE into the xt
//     target) because the host kernel has no nftables `queue` expression, which
//     the upstream dataplane needs.
//   - One agent serves every node: the nodes share the host's network stack, so
//     one set of rules sees all pod traffic, and the engine is given one policy
//     evaluator per node for the pods it must divert.
//
// Only new connections are queued (no conntrack labels), so a policy change does
// not cut connections already established; new ones follow it. Traffic from the
// host's root processes (the kubelet's probes) is not filtered, as upstream.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/api"
	"sigs.k8s.io/kube-network-policies/pkg/network"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
	"sigs.k8s.io/kube-network-policies/pkg/podinfo"
)

const chain = "CAPSTAN-NETPOL"

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the agent's client")
	nodes := flag.String("nodes", "", "comma-separated names of the nodes whose pods the agent serves")
	queueID := flag.Int("queue-id", 100, "NFQUEUE number")
	healthz := flag.String("healthz-bind-address", "127.0.0.1:10258", "serves /healthz once the rules are in place")
	klog.InitFlags(nil)
	flag.Parse()
	if err := run(*kubeconfig, strings.Split(*nodes, ","), uint16(*queueID), *healthz); err != nil {
		klog.ErrorS(err, "network-policies failed")
		os.Exit(1)
	}
}

func run(kubeconfig string, nodes []string, queueID uint16, healthz string) error {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	pods := factory.Core().V1().Pods()
	namespaces := factory.Core().V1().Namespaces()
	policies := factory.Networking().V1().NetworkPolicies()
	resolver, err := podinfo.NewInformerResolver(pods.Informer())
	if err != nil {
		return err
	}
	provider := podinfo.NewInformerProvider(pods, namespaces, nil, []podinfo.IPResolver{resolver})
	var evaluators []api.PolicyEvaluator
	for _, node := range nodes {
		evaluators = append(evaluators, networkpolicy.NewStandardNetworkPolicy(node, namespaces, pods, policies))
	}
	engine := networkpolicy.NewPolicyEngine(provider, evaluators)

	rules := &ruleSync{engine: engine, queueID: queueID, kick: make(chan struct{}, 1)}
	engine.SetDataplaneSyncCallbacks(rules.request)
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), pods.Informer().HasSynced, namespaces.Informer().HasSynced,
		policies.Informer().HasSynced) {
		return fmt.Errorf("informers did not sync")
	}

	queue, err := openQueue(ctx, engine, queueID)
	if err != nil {
		return err
	}
	defer queue.Close()
	defer removeRules()
	if err := rules.sync(ctx); err != nil {
		return err
	}
	go serveHealth(healthz, &rules.synced)
	rules.loop(ctx)
	return nil
}

// ruleSync rewrites the queue rules whenever the set of pods under a policy changes.
type ruleSync struct {
	engine  *networkpolicy.PolicyEngine
	queueID uint16
	kick    chan struct{}
	synced  atomic.Bool
	last    string
	mu      sync.Mutex
}

func (r *ruleSync) request() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *ruleSync) loop(ctx context.Context) {
	resync := time.NewTicker(time.Minute)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-resync.C:
		}
		if err := r.sync(ctx); err != nil {
			klog.ErrorS(err, "syncing rules; retrying")
			time.Sleep(time.Second)
			r.request()
		}
	}
}

// sync writes the chain atomically with iptables-restore; the hook jump is added once.
func (r *ruleSync) sync(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ips, divertAll, err := r.engine.GetManagedIPs(ctx)
	if err != nil {
		return err
	}
	if divertAll {
		return fmt.Errorf("an evaluator asked to divert all traffic, which this agent does not do")
	}
	addresses := make([]string, 0, len(ips))
	for _, ip := range ips {
		if ip.Is4() {
			addresses = append(addresses, ip.String())
		}
	}
	slices.Sort(addresses)
	var b strings.Builder
	b.WriteString("*mangle\n:" + chain + " - [0:0]\n")
	b.WriteString("-A " + chain + " -m conntrack ! --ctstate NEW -j RETURN\n")
	b.WriteString("-A " + chain + " -m owner --uid-owner 0 -j RETURN\n")
	for _, ip := range addresses {
		for _, dir := range []string{"-s", "-d"} {
			fmt.Fprintf(&b, "-A %s %s %s/32 -j NFQUEUE --queue-num %d\n", chain, dir, ip, r.queueID)
		}
	}
	b.WriteString("COMMIT\n")
	if b.String() == r.last {
		return nil
	}
	if err := iptables(ctx, "iptables-restore", b.String(), "-w", "--noflush"); err != nil {
		return err
	}
	if iptables(ctx, "iptables", "", "-w", "-t", "mangle", "-C", "POSTROUTING", "-j", chain) != nil {
		if err := iptables(ctx, "iptables", "", "-w", "-t", "mangle", "-I", "POSTROUTING", "1", "-j", chain); err != nil {
			return err
		}
	}
	r.last = b.String()
	r.synced.Store(true)
	klog.InfoS("rules synced", "managedPodIPs", len(addresses))
	return nil
}

// removeRules takes the hook and the chain away, so nothing is queued to a stopped agent.
func removeRules() {
	ctx := context.Background()
	_ = iptables(ctx, "iptables", "", "-w", "-t", "mangle", "-D", "POSTROUTING", "-j", chain)
	_ = iptables(ctx, "iptables", "", "-w", "-t", "mangle", "-F", chain)
	_ = iptables(ctx, "iptables", "", "-w", "-t", "mangle", "-X", chain)
}

func iptables(ctx context.Context, command, input string, args ...string) error {
	cmd := exec.CommandContext(ctx, command, args...)
	cmd.Stdin = strings.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", command, strings.Join(args, " "), err, stderr.String())
	}
	return nil
}

// openQueue accepts or drops each queued packet by the engine's verdict; a packet it
// cannot parse is dropped (fail closed).
func openQueue(ctx context.Context, engine *networkpolicy.PolicyEngine, queueID uint16) (*nfqueue.Nfqueue, error) {
	queue, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:      queueID,
		Flags:        nfqueue.NfQaCfgFlagGSO,
		MaxPacketLen: 128, // headers are enough
		MaxQueueLen:  1024,
		Copymode:     nfqueue.NfQnlCopyPacket,
		WriteTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("opening NFQUEUE %d: %w", queueID, err)
	}
	decide := func(a nfqueue.Attribute) int {
		verdict := nfqueue.NfDrop
		if packet, err := network.ParsePacket(*a.Payload); err == nil {
			if allowed, err := engine.EvaluatePacket(ctx, &packet); err == nil && allowed {
				verdict = nfqueue.NfAccept
			} else {
				klog.V(2).InfoS("dropped", "packet", fmt.Sprintf("%s:%d -> %s:%d %s",
					packet.SrcIP, packet.SrcPort, packet.DstIP, packet.DstPort, packet.Proto))
			}
		}
		if err := queue.SetVerdict(*a.PacketID, verdict); err != nil {
			klog.ErrorS(err, "setting a verdict")
		}
		return 0
	}
	onError := func(err error) int {
		klog.V(2).InfoS("receiving from the queue", "err", err)
		return 0
	}
	if err := queue.RegisterWithErrorFunc(ctx, decide, onError); err != nil {
		queue.Close()
		return nil, err
	}
	return queue, nil
}

func serveHealth(address string, synced *atomic.Bool) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !synced.Load() {
			http.Error(w, "rules not synced yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	klog.ErrorS(http.ListenAndServe(address, mux), "healthz server stopped")
}
