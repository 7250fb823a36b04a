# Viewstamp: a replicated ledger database and its deterministic simulator.
GO ?= go
SEED ?=

.PHONY: build vopr test lint detlint bench clean

build:
	$(GO) build -trimpath -o bin/vopr ./cmd/vopr
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

test: lint
	$(GO) test -count=1 -timeout 15m ./...

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
