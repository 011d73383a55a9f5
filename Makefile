# idsync developer targets. `make test-all` is what CI runs (scripts/test-all).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test test-all lint fmt vet bench fuzz demo clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/idsync ./cmd/idsync

test:
	$(GO) test -race -count=1 ./...

test-all:
	scripts/test-all

lint:
	golangci-lint run ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

# Benchmarks (figures go to docs/benchmarks.md with the machine and command).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./engine/ ./store/sqlite/ ./rules/ ./connector/file/ ./sample/ ./expr/

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseRules$$' -fuzztime 60s ./rules
	$(GO) test -run '^$$' -fuzz '^FuzzScopeMatch$$' -fuzztime 60s ./rules
	$(GO) test -run '^$$' -fuzz '^FuzzExpandDN$$' -fuzztime 60s ./rules
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 60s ./expr
	$(GO) test -run '^$$' -fuzz '^FuzzParseProvisioning$$' -fuzztime 60s ./expr
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCS$$' -fuzztime 60s ./store/sqlite
	$(GO) test -run '^$$' -fuzz '^FuzzParseLDIF$$' -fuzztime 60s ./connector/file
	$(GO) test -run '^$$' -fuzz '^FuzzParseCSV$$' -fuzztime 60s ./connector/file
	$(GO) test -run '^$$' -fuzz '^FuzzParsePath$$' -fuzztime 60s ./connector/scim
	$(GO) test -run '^$$' -fuzz '^FuzzParseSubschema$$' -fuzztime 60s ./connector/ldap
	$(GO) test -run '^$$' -fuzz '^FuzzValidateDN$$' -fuzztime 60s ./model
	$(GO) test -run '^$$' -fuzz '^FuzzValueCheck$$' -fuzztime 60s ./engine
	$(GO) test -run '^$$' -fuzz '^FuzzScope$$' -fuzztime 60s ./connector/ldap
	$(GO) test -run '^$$' -fuzz '^FuzzParseWatermark$$' -fuzztime 60s ./connector/graph
	$(GO) test -run '^$$' -fuzz '^FuzzParseHash$$' -fuzztime 60s ./internal/auth
	$(GO) test -run '^$$' -fuzz '^FuzzParseLifetime$$' -fuzztime 60s ./internal/auth

demo: build
	./bin/idsync demo

clean:
	rm -rf bin idsync-demo
