# Talos — make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/talos-gs/talos/backend/api.Version=$(VERSION)
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
# The race detector needs cgo and a C compiler; use it where one is installed.
RACE ?= $(shell command -v gcc >/dev/null 2>&1 && echo -race)
DATA_DIR ?= $(CURDIR)/data
GOLANGCI_VERSION := v2.15.0
TOOLS := $(CURDIR)/.tools

.PHONY: help ui build run test test-ui check bench cross clean tools

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

# The web UI (frontend/, docs/ui.md): npm ci when node_modules is missing or older than the
# lock, then vite build into frontend/dist/app, which talos-backend embeds. go build, go vet and
# make check work without it (the embed always has frontend/dist/README.md).
ui: ## build the web UI into frontend/dist/app (needs node and npm; npm ci when the lock changed)
	@command -v npm >/dev/null || { echo "ui: node and npm are needed to build the web UI (Debian: apt-get install nodejs npm)"; exit 1; }
	@if [ ! -f frontend/node_modules/.package-lock.json ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then \
	  echo "ui: npm ci in frontend/"; cd frontend && npm ci --no-audit --no-fund; fi
	cd frontend && npm run --silent build

build: ui ## build the web UI, then talos-backend (with the UI embedded) and talos-satellite into bin/
	@echo "build: bin/talos-backend and bin/talos-satellite (a first build downloads and compiles every dependency:"
	@echo "       several minutes on a small or busy machine; later builds take seconds)"
	$(GOBUILD) -o $(BIN)/talos-backend ./backend/cmd/talos-backend
	$(GOBUILD) -o $(BIN)/talos-satellite ./satellite/cmd/talos-satellite

run: build ## start Talos (SQLite in DATA_DIR=./data, address TALOS_LISTEN=127.0.0.1:8080) with one simulated station; Ctrl-C stops both
	@BIN=$(BIN) DATA_DIR=$(DATA_DIR) deploy/dev/run.sh

test: build ## run every test (store and API tests on PostgreSQL too when TALOS_TEST_DATABASE_URL is set), then the UI's browser tests
	$(GO) test $(RACE) -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory test-ui

# The browser tests drive the built bin/talos-backend and bin/talos-satellite from Debian's
# chromium through playwright-core (frontend/e2e/, docs/ui.md). Without chromium they skip,
# unless TALOS_REQUIRE_INTEGRATION=1.
test-ui: ## run the web UI's end-to-end tests in headless chromium (after make build)
	cd frontend && node --test --test-reporter=spec e2e/

bench: ## run the benchmarks (orbit against go-satellite, tracker jitter, API)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

check: tools ## fail if gofmt/goimports, go vet, golangci-lint or go mod tidy would change anything
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	@out=$$($(TOOLS)/goimports -local github.com/talos-gs/talos -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "goimports: $$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/golangci-lint run ./...
	@cp go.mod /tmp/talos-go.mod.bak; cp go.sum /tmp/talos-go.sum.bak; $(GO) mod tidy; \
	  if ! git diff --quiet -- go.mod go.sum; then echo "go mod tidy changes go.mod/go.sum"; git diff -- go.mod go.sum | head -40; \
	  cp /tmp/talos-go.mod.bak go.mod; cp /tmp/talos-go.sum.bak go.sum; exit 1; fi

tools: ## install the pinned linters into .tools/
	@test -x $(TOOLS)/golangci-lint || GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	@test -x $(TOOLS)/goimports || GOBIN=$(TOOLS) $(GO) install golang.org/x/tools/cmd/goimports@v0.52.0

cross: ## cross-build the runner for Raspberry Pi (linux/arm64 and linux/arm v7)
	GOOS=linux GOARCH=arm64 $(GOBUILD) -o $(BIN)/linux-arm64/talos-satellite ./satellite/cmd/talos-satellite
	GOOS=linux GOARCH=arm GOARM=7 $(GOBUILD) -o $(BIN)/linux-armv7/talos-satellite ./satellite/cmd/talos-satellite
	GOOS=linux GOARCH=arm64 $(GOBUILD) -o $(BIN)/linux-arm64/talos-backend ./backend/cmd/talos-backend

clean: ## remove build output
	rm -rf $(BIN)
