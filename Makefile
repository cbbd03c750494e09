# invitepipe: two commands matter. `make run` starts invitepipe on embedded defaults;
# `make test` starts the real test services (Kafka, Redis, PostgreSQL) and runs every test.
GO      ?= go
BIN     := bin/invitepipe
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# A service a test needs is a failure in CI; set CI=true to get that locally too.
TESTFLAGS ?= -race -count=1 -timeout 25m

.PHONY: run build test test-kafka39 test-unit services-up services-down lint bench clean

## run: build, then run the whole pipeline in one process on the example data (embedded
## Kafka, Redis and Trustpilot sandbox; invitepipe demo --help), until Ctrl-C
run: build
	$(BIN) demo

## build: compile bin/invitepipe
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/invitepipe

## test: start Kafka, Redis and PostgreSQL (scripts/services up) and run all tests against them
test: services-up
	eval "$$(scripts/services env)" && $(GO) test $(TESTFLAGS) ./...

## test-kafka39: the smoke tests (rows through the consumer with group commits, produce --once,
## SASL and TLS) against a second broker, Apache Kafka 3.9 (scripts/services up kafka39)
KAFKA39_SMOKE := ^(TestEndToEnd|TestProducerToConsumer|TestSASLRoundTrip|TestTLSRoundTrip)$$
test-kafka39: services-up
	scripts/services up kafka39
	eval "$$(scripts/services env kafka39)" && $(GO) test $(TESTFLAGS) -run '$(KAFKA39_SMOKE)' ./test/e2e/ ./internal/kafkaconn/

## test-unit: the tests that need no service (integration tests skip unless CI=true)
test-unit:
	$(GO) test -short $(TESTFLAGS) ./...

services-up:
	scripts/services up

services-down:
	scripts/services down

## lint: gofmt and go vet must be clean
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: benchmarks, then invitepipe bench (50,000 rows through a consumer process to the
## sandbox, on the test services; report in bin/bench.json and bin/bench.svg). Numbers go
## into BENCHMARKS.md with the machine and the command.
bench: build services-up
	$(GO) test -run '^$$' -bench . -benchmem ./...
	eval "$$(scripts/services env)" && $(BIN) bench --rows 50000 --kafka "$$INVITEPIPE_TEST_KAFKA_BROKERS" --redis "$$INVITEPIPE_TEST_REDIS_URL" --json bin/bench.json --plot bin/bench.svg

clean:
	rm -rf bin
