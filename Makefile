# Keel's tasks. `make` alone lists them.

.DEFAULT_GOAL := help
SHELL := /bin/bash
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: help
help: ## List the tasks
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: dev
dev: ## Set up and run Keel with demo data at http://127.0.0.1:8080
	@scripts/dev.sh

.PHONY: test
test: ## Set up the test services and run every check and test
	@scripts/test.sh

.PHONY: cluster
cluster: ## Run Keel as in production: nginx (TLS, HTTP/2), two copies, a worker, a replica
	@scripts/cluster.sh

.PHONY: test-cluster
test-cluster: ## Start the cluster and run the cluster suite through nginx
	@scripts/test-cluster.sh

.PHONY: bench
bench: ## Run the benchmarks; each prints its baseline and ratio
	@scripts/bench.sh

.PHONY: services-test
services-test: ## Start the test services, to run go test by hand
	@scripts/tools.sh --test
	@scripts/services.sh start test

.PHONY: stop
stop: ## Stop the dev and test services
	@scripts/services.sh stop dev
	@scripts/services.sh stop test

.PHONY: build
build: ## Build the keel binary into .tools/keel
	go build -ldflags "-X main.version=$(VERSION)" -o .tools/keel .

.PHONY: generate
generate: ## Regenerate sqlc and templ code
	@scripts/tools.sh
	.tools/bin/sqlc generate
	.tools/bin/templ generate

.PHONY: lint
lint: ## Run golangci-lint
	@scripts/tools.sh --test
	.tools/bin/golangci-lint run ./...

.PHONY: verify
verify: ## Check generated code is fresh, then vet and lint
	@scripts/tools.sh --test
	scripts/check-generated.sh
	go vet ./...
	.tools/bin/golangci-lint run ./...
