.PHONY: test build dev bench

# Full test suite against a real Kafka broker (see scripts/README.md).
test:
	scripts/test.sh

build:
	CGO_ENABLED=0 go build -o bin/ferry ./cmd/ferry

dev:
	go run ./cmd/ferry dev

# Benchmarks only; start a broker first (scripts/testbed.sh start-kafka) and export
# FERRY_TEST_KAFKA to measure against real Kafka instead of kfake.
bench:
	go test -run '^$$' -bench . ./...
