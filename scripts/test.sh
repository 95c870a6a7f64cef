#!/usr/bin/env bash
# The project's test command: installs the test bed (cached after the first run), starts
# a real Apache Kafka broker, checks formatting and vet, then runs every Go test against
# that broker with the race detector. The broker is stopped on every exit path.
#
# Environment:
#   FERRY_TEST_KAFKA   use this already running broker instead of starting one
#   FERRY_KAFKA_PORT   port for the started broker (default: the first free pair from
#                      19092 on; the controller uses port+1)
#   FERRY_CACHE, FERRY_STATE, MAVEN_ARGS: see scripts/testbed.sh help
#   GO_TEST_ARGS       extra arguments for go test (e.g. "-run TestFoo -v")
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
testbed=scripts/testbed.sh

"$testbed" install

kafka_dir=""
test_pid=""
cleanup() {
	if [[ -n $test_pid ]] && kill -0 "$test_pid" 2>/dev/null; then
		kill -TERM -- "-$test_pid" 2>/dev/null || true
		wait "$test_pid" 2>/dev/null || true
	fi
	if [[ -n $kafka_dir ]]; then
		"$testbed" stop-kafka --dir "$kafka_dir" && rm -rf "$kafka_dir"
	fi
}
trap cleanup EXIT
# Turn Ctrl-C and SIGTERM into a normal exit so the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port_pair FROM: the first even-spaced port P >= FROM with P and P+1 both free,
# so several runs on one machine each get their own broker.
free_port_pair() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null ||
		(exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; do
		p=$((p + 2))
	done
	echo "$p"
}

if [[ -z ${FERRY_TEST_KAFKA:-} ]]; then
	# A private state dir per run: a concurrent run never touches this broker.
	state="${FERRY_STATE:-/tmp/ferry-testbed}"
	kafka_dir="$state/test-kafka-$$"
	mkdir -p "$state"
	# Concurrent runs pick ports one at a time: the lock is held until the broker listens.
	exec 9>"$state/.start.lock"
	flock 9
	port=${FERRY_KAFKA_PORT:-$(free_port_pair 19092)}
	# 9>&- keeps the lock's fd out of the broker, which would otherwise hold it forever.
	line=$("$testbed" start-kafka --port "$port" --dir "$kafka_dir" 9>&-)
	exec 9>&-
	export FERRY_TEST_KAFKA="${line#FERRY_TEST_KAFKA=}"
fi
echo "test: using Kafka at $FERRY_TEST_KAFKA" >&2

checks_failed=0
unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
	echo "test: gofmt would change these files:" >&2
	echo "$unformatted" >&2
	checks_failed=1
fi
if ! go vet ./...; then
	echo "test: go vet failed" >&2
	checks_failed=1
fi

# Tests run even when the checks failed, so one run reports everything.
# go test runs as a background job so a SIGTERM to this script is handled at once
# (bash defers traps while a foreground child runs); cleanup then stops it.
rc=0
# shellcheck disable=SC2086 # GO_TEST_ARGS is a list of words on purpose
set -m # own process group, so cleanup reaches the test binaries too
go test -race -count=1 -timeout 25m ${GO_TEST_ARGS:-} ./... &
test_pid=$!
set +m
wait "$test_pid" || rc=$?
test_pid=""
if ((rc != 0)); then
	exit "$rc"
fi
if ((checks_failed)); then
	echo "test: tests passed but gofmt/vet checks failed" >&2
	exit 1
fi
