# Viewstamp: a replicated ledger database and its deterministic simulator.
GO ?= go
SEED ?=

.PHONY: build vopr test lint detlint bench clean node-e2e node-bench

build:
	$(GO) build -trimpath -o bin/vopr ./cmd/vopr
	$(GO) build -trimpath -ldflags "-X main.revision=$$(git rev-parse --short HEAD 2>/dev/null)" -o bin/replica ./cmd/replica
	$(GO) build -o bin/detlint ./cmd/detlint

# Run one seed: random unless SEED=N is given.
vopr: build
	./bin/vopr $(if $(SEED),--seed $(SEED),)

# Determinism rules (DESIGN.md): no goroutines, channels, sync, wall clock,
# global rand or map-order-dependent loops in replica/, sim/, faults/, workload/.
detlint:
	$(GO) build -o bin/detlint ./cmd/detlint
	$(GO) vet -vettool=$(CURDIR)/bin/detlint ./replica/... ./sim/... ./faults/... ./workload/...

lint: detlint
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

test: lint node-e2e
	$(GO) test -count=1 -timeout 15m ./...

# The official TigerBeetle Node client (tigerbeetle-node, pinned by
# clients/node/package-lock.json, installed by npm ci into out/node) runs
# its own test suite against a one-replica cluster of our replica, and a
# failover load against three. Needs node and npm; runs before the Go
# tests so that its timing does not compete with them.
node-e2e:
	VIEWSTAMP_NODE_E2E=1 $(GO) test -count=1 -timeout 10m -v -run 'TestOfficialSuite|TestFailover' ./clients/node

# The client package's dist/benchmark.js and our replica benchmark, with
# the same load, against one replica: figures, not a check.
node-bench:
	VIEWSTAMP_NODE_E2E=1 VIEWSTAMP_NODE_BENCH=1 $(GO) test -count=1 -timeout 15m -v -run TestBenchmarkJS ./clients/node

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin

# A seed means the same run on every CPU: records of seeds 1..SEEDS (default
# 30) from amd64 v1, amd64 v3, a CPU without FMA and arm64 (both under qemu)
# must be equal. Takes minutes, so it is not part of test.
.PHONY: cross-determinism
cross-determinism:
	GO=$(GO) tools/crossdet.sh

# Test the tester (mutants/README.md): judge every source mutant of the
# catalogue with a swarm. MUTANTS_SEEDS seeds at most per mutant from
# MUTANTS_FROM, MUTANTS_BUDGET per mutant, MUTANTS_JOBS mutants at once;
# MUTANTS_RUN=regexp picks mutants, MUTANTS_FLAGS passes vopr flags.
MUTANTS_FROM ?= 1
MUTANTS_SEEDS ?= 1500
MUTANTS_STOP ?= 1
MUTANTS_BUDGET ?= 330s
MUTANTS_TIMEOUT ?= 60s
MUTANTS_JOBS ?= 2
MUTANTS_RUN ?=
MUTANTS_FLAGS ?=
MUTANTS_OUT ?= out/mutants
.PHONY: mutants
mutants:
	$(GO) build -o bin/mutants ./cmd/mutants
	./bin/mutants run -from $(MUTANTS_FROM) -seeds $(MUTANTS_SEEDS) -stop-after $(MUTANTS_STOP) -budget $(MUTANTS_BUDGET) -timeout $(MUTANTS_TIMEOUT) -jobs $(MUTANTS_JOBS) -out $(MUTANTS_OUT) $(if $(MUTANTS_RUN),-run '$(MUTANTS_RUN)',) $(if $(MUTANTS_FLAGS),-vopr-flags '$(MUTANTS_FLAGS)',)
