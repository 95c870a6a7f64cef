.PHONY: test build dev bench

# Full test suite against a real Kafka broker (see scripts/README.md).
test:
	scripts/test.sh

build:
	CGO_ENABLED=0 go build -o bin/ferry ./cmd/ferry

dev:
	go run ./cmd/ferry dev

# Ferry vs Apache Kafka Connect on a real broker, plus the Go microbenchmarks
# (see docs/benchmarks.md). BENCH_ARGS adds flags, e.g. BENCH_ARGS=--quick.
bench:
	scripts/bench.sh $(BENCH_ARGS)
