# SPDX-License-Identifier: Apache-2.0

GO        ?= go
BIN       := bin
BINARIES  := enclave-agent host-proxy kms-server nitro-verify
# Per fuzz target. Below about 5s, FuzzVerify can still be gathering its
# baseline coverage when time runs out, which go test reports as a failure.
FUZZTIME  ?= 10s
# Time spent minimizing each new interesting (or failing) input. go test's
# default, 60s, is not counted in the execs it reports, and a target whose
# seeds are large (FuzzRecipientKind's attestation documents) then spends a
# short run minimizing: "execs: 40 (0/sec)" after 6s. 1x tries each
# minimization once, so FUZZTIME goes to fuzzing (FuzzRecipientKind: some
# 5,000 execs in 5s); a failing input is still saved, unminimized, under
# testdata/fuzz. Give FUZZMINIMIZETIME=60s to minimize a crasher you study.
FUZZMINIMIZETIME ?= 1x
PKGS      := ./...

.PHONY: all build test demo bench bench-proxy fuzz lint vet clean

all: build

## build: compile the four binaries into ./bin
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ $(addprefix ./cmd/,$(BINARIES))

## test: vet, then every test with the race detector, ending with a summary
##       (N passed, N failed, N skipped; skips listed by reason). Starts a
##       throw-away PostgreSQL server when PostgreSQL is installed.
test: vet
	GO='$(GO)' PKGS='$(PKGS)' scripts/test.sh

vet:
	$(GO) vet $(PKGS)

## lint: gofmt, go vet and staticcheck
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) tool staticcheck $(PKGS)

## bench: the benchmarks behind docs/PERFORMANCE.md
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 $(PKGS)

## bench-proxy: host-proxy against nginx, HAProxy and socat on loopback (installs
##              them from Debian when missing; ROUNDS, SECONDS_PER; minutes)
bench-proxy:
	GO='$(GO)' scripts/bench-proxy.sh

## fuzz: a short run of every fuzz target (FUZZTIME each)
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
	  done; \
	done

## demo: the whole flow on one machine (see README)
demo: build
	./scripts/demo.sh

clean:
	rm -rf $(BIN)
