#!/usr/bin/env bash
# The project's test command: installs the test bed (cached after the first run), starts
# a real Apache Kafka broker, a MariaDB and a PostgreSQL server and the BigQuery
# emulator, checks formatting and vet, then runs every Go test against them with the
# race detector. Everything started is stopped on every exit path.
#
# Environment:
#   FERRY_TEST_KAFKA   use this already running broker instead of starting one
#   FERRY_KAFKA_PORT   port for the started broker (default: the first free pair from
#                      19092 on; the controller uses port+1)
#   FERRY_TEST_MYSQL, FERRY_TEST_POSTGRES
#                      use these already running databases (admin DSNs, see
#                      scripts/testbed.sh help) instead of starting them
#   FERRY_TEST_BIGQUERY, FERRY_TEST_BIGQUERY_GRPC
#                      use this already running BigQuery emulator (REST base URL and
#                      gRPC host:port) instead of starting one
#   FERRY_MYSQL_PORT, FERRY_POSTGRES_PORT, FERRY_BIGQUERY_PORT
#                      ports for the started servers (default: the first free port
#                      from 13306, 15432 and 19050 on; the emulator's gRPC API takes
#                      the port after its REST port)
#   FERRY_TEST_KAFKA_SSL, FERRY_TEST_KAFKA_SASL_SSL, FERRY_TEST_KAFKA_SASL_PLAINTEXT,
#   FERRY_TEST_KAFKA_CERTS, FERRY_TEST_KAFKA_SECURE
#                      use this already running secured broker (scripts/testbed.sh
#                      start-kafka-secure) instead of starting one; it starts in the
#                      background while the other servers start
#   FERRY_KAFKA_SECURE_PORT
#                      first of the five ports of the started secured broker (default:
#                      the first five free ports from 19192 on)
#   FERRY_TEST_OPENSEARCH
#                      use this already running OpenSearch node (http://host:port)
#                      instead of starting one; FERRY_OPENSEARCH_PORT picks the port
#                      of the started one (default: the first free pair from 19200 on)
#   FERRY_CACHE, FERRY_STATE, MAVEN_ARGS: see scripts/testbed.sh help
#   GO_TEST_ARGS       extra arguments for go test (e.g. "-run TestFoo -v")
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
testbed=scripts/testbed.sh

"$testbed" install

kafka_dir=""
kafka_secure_dir=""
kafka_secure_pid=""
mariadb_dir=""
postgres_dir=""
bigquery_dir=""
opensearch_dir=""
test_pid=""
cleanup() {
	if [[ -n $test_pid ]] && kill -0 "$test_pid" 2>/dev/null; then
		kill -TERM -- "-$test_pid" 2>/dev/null || true
		wait "$test_pid" 2>/dev/null || true
	fi
	if [[ -n $kafka_secure_pid ]]; then
		wait "$kafka_secure_pid" 2>/dev/null || true
	fi
	# Each stop runs even when an earlier one failed.
	if [[ -n $kafka_secure_dir ]]; then
		"$testbed" stop-kafka --dir "$kafka_secure_dir" && rm -rf "$kafka_secure_dir" "$kafka_secure_dir.env" || true
	fi
	if [[ -n $kafka_dir ]]; then
		"$testbed" stop-kafka --dir "$kafka_dir" && rm -rf "$kafka_dir" || true
	fi
	if [[ -n $mariadb_dir ]]; then
		"$testbed" stop-mariadb --dir "$mariadb_dir" && rm -rf "$mariadb_dir" || true
	fi
	if [[ -n $postgres_dir ]]; then
		"$testbed" stop-postgres --dir "$postgres_dir" && rm -rf "$postgres_dir" || true
	fi
	if [[ -n $bigquery_dir ]]; then
		"$testbed" stop-bigquery --dir "$bigquery_dir" && rm -rf "$bigquery_dir" || true
	fi
	if [[ -n $opensearch_dir ]]; then
		"$testbed" stop-opensearch --dir "$opensearch_dir" && rm -rf "$opensearch_dir" || true
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

# free_port FROM: the first port >= FROM that nothing listens on.
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}

# free_port_run FROM N: the first port P >= FROM with P..P+N-1 all free.
free_port_run() {
	local p=$1 n=$2 i
	while :; do
		for ((i = 0; i < n; i++)); do
			(exec 3<>"/dev/tcp/127.0.0.1/$((p + i))") 2>/dev/null && break
		done
		((i == n)) && break
		p=$((p + i + 1))
	done
	echo "$p"
}

# OpenSearch takes the longest to start (a JVM compiling its launcher and loading the
# node): its start runs in the background, on a port pair taken before the others, and
# is awaited after them.
opensearch_out=""
opensearch_pid=""
if [[ -z ${FERRY_TEST_OPENSEARCH:-} ]]; then
	mkdir -p "${FERRY_STATE:-/tmp/ferry-testbed}"
	opensearch_dir="${FERRY_STATE:-/tmp/ferry-testbed}/test-opensearch-$$"
	opensearch_out="$opensearch_dir.line"
	"$testbed" start-opensearch --port "${FERRY_OPENSEARCH_PORT:-$(free_port_pair 19200)}" \
		--dir "$opensearch_dir" >"$opensearch_out" &
	opensearch_pid=$!
fi

if [[ -z ${FERRY_TEST_KAFKA:-} || -z ${FERRY_TEST_MYSQL:-} || -z ${FERRY_TEST_POSTGRES:-} || -z ${FERRY_TEST_BIGQUERY:-} ||
	-z ${FERRY_TEST_KAFKA_SSL:-} ]]; then
	# A private state dir per run and service: a concurrent run never touches these.
	state="${FERRY_STATE:-/tmp/ferry-testbed}"
	mkdir -p "$state"
	# Concurrent runs pick ports one at a time: the lock is held until every server
	# listens. "9>&-" keeps the lock's fd out of the servers, which would otherwise hold
	# it forever. A failed start prints the server's log tail and, through set -e and the
	# EXIT trap, fails the run: CI must not silently skip the database tests.
	exec 9>"$state/.start.lock"
	flock 9
	# The secured broker takes the longest to start (certificates, SCRAM users, ACLs):
	# it starts in the background and is awaited after the others.
	if [[ -z ${FERRY_TEST_KAFKA_SSL:-} ]]; then
		kafka_secure_dir="$state/test-kafka-secure-$$"
		mkdir -p "$kafka_secure_dir"
		port=${FERRY_KAFKA_SECURE_PORT:-$(free_port_run 19192 5)}
		"$testbed" start-kafka-secure --port "$port" --dir "$kafka_secure_dir" 9>&- >"$kafka_secure_dir.env" &
		kafka_secure_pid=$!
	fi
	if [[ -z ${FERRY_TEST_KAFKA:-} ]]; then
		kafka_dir="$state/test-kafka-$$"
		port=${FERRY_KAFKA_PORT:-$(free_port_pair 19092)}
		line=$("$testbed" start-kafka --port "$port" --dir "$kafka_dir" 9>&-)
		export FERRY_TEST_KAFKA="${line#FERRY_TEST_KAFKA=}"
	fi
	if [[ -z ${FERRY_TEST_MYSQL:-} ]]; then
		mariadb_dir="$state/test-mariadb-$$"
		port=${FERRY_MYSQL_PORT:-$(free_port 13306)}
		line=$("$testbed" start-mariadb --port "$port" --dir "$mariadb_dir" 9>&-)
		export FERRY_TEST_MYSQL="${line#FERRY_TEST_MYSQL=}"
	fi
	if [[ -z ${FERRY_TEST_POSTGRES:-} ]]; then
		postgres_dir="$state/test-postgres-$$"
		port=${FERRY_POSTGRES_PORT:-$(free_port 15432)}
		line=$("$testbed" start-postgres --port "$port" --dir "$postgres_dir" 9>&-)
		export FERRY_TEST_POSTGRES="${line#FERRY_TEST_POSTGRES=}"
	fi
	if [[ -z ${FERRY_TEST_BIGQUERY:-} ]]; then
		bigquery_dir="$state/test-bigquery-$$"
		port=${FERRY_BIGQUERY_PORT:-$(free_port_pair 19050)}
		out=$("$testbed" start-bigquery --port "$port" --grpc-port "$((port + 1))" --dir "$bigquery_dir" 9>&-)
		while read -r line; do
			export "${line?}"
		done <<<"$out"
	fi
	if [[ -n $kafka_secure_pid ]]; then
		wait "$kafka_secure_pid"
		kafka_secure_pid=""
		while read -r line; do
			export "${line?}"
		done <"$kafka_secure_dir.env"
		rm -f "$kafka_secure_dir.env"
	fi
	exec 9>&-
fi
if [[ -n $opensearch_pid ]]; then
	wait "$opensearch_pid" || { echo "test: OpenSearch did not start" >&2; exit 1; }
	line=$(cat "$opensearch_out")
	rm -f "$opensearch_out"
	export FERRY_TEST_OPENSEARCH="${line#FERRY_TEST_OPENSEARCH=}"
fi
echo "test: using Kafka at $FERRY_TEST_KAFKA" >&2
echo "test: using the secured Kafka at $FERRY_TEST_KAFKA_SSL (SSL), $FERRY_TEST_KAFKA_SASL_SSL (SASL_SSL), $FERRY_TEST_KAFKA_SASL_PLAINTEXT (SASL_PLAINTEXT)" >&2
echo "test: using OpenSearch at $FERRY_TEST_OPENSEARCH" >&2
echo "test: using MySQL at $FERRY_TEST_MYSQL" >&2
echo "test: using PostgreSQL at $FERRY_TEST_POSTGRES" >&2
echo "test: using the BigQuery emulator at $FERRY_TEST_BIGQUERY (gRPC ${FERRY_TEST_BIGQUERY_GRPC:-none})" >&2

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
# The lean build (no cloud connectors) must keep compiling too.
if ! go vet -tags ferry_nocloud ./plugins ./cmd/...; then
	echo "test: go vet -tags ferry_nocloud failed" >&2
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
