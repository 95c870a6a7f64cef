#!/usr/bin/env bash
# The benchmark command (also "make bench"): Ferry side by side with Apache Kafka Connect
# 4.1.1 on one real Kafka broker. It installs the test bed when needed, starts a private
# broker, builds Ferry and the harness (bench/), runs the Go microbenchmarks of the hot
# paths, runs every workload on both systems one after the other, prints the table and
# writes bench-results.md and bench-results.json. The JDBC workloads also get a private
# PostgreSQL and MariaDB and Debezium's JDBC sink jars (scripts/testbed/debezium-pom.xml)
# for Apache; the Elasticsearch sink's microbenchmark gets a private OpenSearch node.
# Every server it started is stopped on every exit.
#
# Usage: scripts/bench.sh [--quick] [--records N] [--workloads LIST] [--systems LIST]
#                         [--out DIR] [--no-micro] [-- HARNESS FLAGS...]
#   --quick           100,000 records, 2 start-ups, 5 s idle: a smoke run of a few minutes
#   --records N       records per throughput workload (default 1,000,000)
#   --workloads LIST  comma-separated workload names (go run ./bench -list), default all
#   --systems LIST    apache,ferry (default both)
#   --out DIR         results and logs (default bench-out)
#   --no-micro        skip the go test -bench microbenchmarks (and their OpenSearch node)
#   after --           more flags for the harness (go run ./bench -h)
#
# Environment:
#   FERRY_TEST_KAFKA   use this running broker instead of starting one
#   FERRY_BENCH_PORT   port of the started broker (default: first free pair from 19292)
#   FERRY_TEST_KAFKA_SECURE, FERRY_TEST_KAFKA_SASL_SSL, FERRY_TEST_KAFKA_CERTS
#                      use this running secured broker (scripts/testbed.sh start-kafka-secure)
#                      for the SASL_SSL workloads instead of starting one
#   FERRY_BENCH_SECURE_PORT
#                      first of the five ports of the started secured broker (default: first
#                      free five from 19392); it is started only when a selected workload
#                      needs it (limit-producer-securebroker, limit-producer-sasl-ssl,
#                      file-source-plain-securebroker, file-source-sasl-ssl)
#   FERRY_TEST_POSTGRES, FERRY_TEST_MYSQL
#                      use these running servers (admin DSNs, see internal/testbed/db.go)
#                      for the JDBC workloads instead of starting them; the harness makes
#                      and drops a database of its own there
#   FERRY_TEST_OPENSEARCH
#                      use this running OpenSearch node (scripts/testbed.sh start-opensearch)
#                      for the Elasticsearch sink microbenchmark instead of starting one
#   FERRY_BENCH_OPENSEARCH_PORT
#                      HTTP port of the started node; the transport port is the next one
#                      (default: first free pair from 19200)
#   FERRY_BENCH_PG_PORT, FERRY_BENCH_MYSQL_PORT
#                      ports of the started PostgreSQL and MariaDB (default: first free
#                      port from 25432 and 23306)
#   FERRY_BUILD_TAGS   build tags for the Ferry binary under test, e.g. ferry_nocloud
#   FERRY_CACHE, FERRY_STATE, MAVEN_ARGS, JAVA: see scripts/testbed.sh help
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
testbed=scripts/testbed.sh
started=$SECONDS

records=1000000
workloads=all
systems=apache,ferry
out=bench-out
micro=1
extra=(-startup-reps 3 -idle 10s)
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) records=100000; extra=(-startup-reps 2 -idle 5s); shift ;;
	--records) records=${2:?--records needs a number}; shift 2 ;;
	--workloads) workloads=${2:?--workloads needs a list}; shift 2 ;;
	--systems) systems=${2:?--systems needs a list}; shift 2 ;;
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--no-micro) micro=0; shift ;;
	--) shift; extra+=("$@"); break ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
log() { printf 'bench: %s\n' "$*" >&2; }

# wants NAME: true when the selected workloads include one whose name starts with NAME.
wants() {
	[[ $workloads == all ]] && return 0
	local w
	for w in ${workloads//,/ }; do
		[[ $w == "$1"* ]] && return 0
	done
	return 1
}


# A fresh Debian machine lacks Java and Maven; the test bed needs both.
install_prereqs() {
	local pkgs=()
	command -v "${JAVA:-java}" >/dev/null || pkgs+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null || pkgs+=(maven)
	command -v curl >/dev/null || pkgs+=(curl)
	((${#pkgs[@]} > 0)) || return 0
	command -v apt-get >/dev/null || { log "missing ${pkgs[*]} and no apt-get"; exit 1; }
	local sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	log "installing ${pkgs[*]} with apt-get"
	"${sudo[@]}" apt-get update -q >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >&2
}
install_prereqs
"$testbed" install

# Debezium's JDBC sink for Apache's side of the jdbc-sink workloads, in a directory of its
# own (the harness adds it to Apache's classpath for those workloads only). The stamp
# holds the POM's checksum, as testbed.sh does for its jars. When Maven cannot resolve the
# jars the run goes on and Apache's jdbc-sink cells say n/a.
debezium_lib="${FERRY_CACHE:-$HOME/.cache/ferry}/debezium-jdbc/lib"
fetch_debezium() {
	local pom=scripts/testbed/debezium-pom.xml sum dl="$debezium_lib.tmp.$$"
	sum=$(sha256sum "$pom" | cut -d' ' -f1)
	[[ -f $debezium_lib/.complete && $(cat "$debezium_lib/.complete") == "$sum" ]] && return 0
	log "fetching the Debezium JDBC sink jars ($pom)"
	mkdir -p "$out" "$dl"
	# shellcheck disable=SC2086 # MAVEN_ARGS is a list of words on purpose
	if mvn -B -Dstyle.color=never ${MAVEN_ARGS:-} -f "$pom" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$dl" >"$out/debezium-mvn.log" 2>&1; then
		echo "$sum" >"$dl/.complete"
		rm -f "$out/debezium-mvn.log"
		rm -rf "$debezium_lib"
		mv "$dl" "$debezium_lib"
	else
		rm -rf "$dl"
		log "Maven could not fetch the Debezium JDBC sink (see $out/debezium-mvn.log); Apache's jdbc-sink cells will be n/a"
	fi
}
if wants jdbc-sink && [[ ,$systems, == *,apache,* ]]; then
	fetch_debezium
fi

tmp=$(mktemp -d /tmp/ferry-bench.XXXXXX)
kafka_dir=""
secure_dir=""
pg_dir=""
my_dir=""
os_dir=""
harness_pid=""
cleanup() {
	if [[ -n $harness_pid ]] && kill -0 "$harness_pid" 2>/dev/null; then
		# The harness stops its workers on SIGTERM.
		kill -TERM "$harness_pid" 2>/dev/null || true
		wait "$harness_pid" 2>/dev/null || true
	fi
	if [[ -n $kafka_dir ]]; then
		"$testbed" stop-kafka --dir "$kafka_dir" && rm -rf "$kafka_dir"
	fi
	if [[ -n $secure_dir ]]; then
		"$testbed" stop-kafka --dir "$secure_dir" && rm -rf "$secure_dir"
	fi
	if [[ -n $pg_dir ]]; then
		"$testbed" stop-postgres --dir "$pg_dir" && rm -rf "$pg_dir"
	fi
	if [[ -n $my_dir ]]; then
		"$testbed" stop-mariadb --dir "$my_dir" && rm -rf "$my_dir"
	fi
	if [[ -n $os_dir ]]; then
		"$testbed" stop-opensearch --dir "$os_dir" && rm -rf "$os_dir"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building ferry and the harness"
CGO_ENABLED=0 go build -tags "${FERRY_BUILD_TAGS:-}" -o "$tmp/ferry" ./cmd/ferry
go build -o "$tmp/ferrybench" ./bench

mkdir -p "$out"
free_port_pair() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null ||
		(exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; do
		p=$((p + 2))
	done
	echo "$p"
}
if ((micro)); then
	# The Elasticsearch sink's benchmark writes into a real node: a private OpenSearch
	# (HTTP port and the transport port after it). When it does not start, that
	# benchmark skips and the rest runs.
	if [[ -z ${FERRY_TEST_OPENSEARCH:-} ]]; then
		os_dir="${FERRY_STATE:-/tmp/ferry-testbed}/bench-opensearch-$$"
		if line=$("$testbed" start-opensearch --port "${FERRY_BENCH_OPENSEARCH_PORT:-$(free_port_pair 19200)}" --dir "$os_dir"); then
			export FERRY_TEST_OPENSEARCH="${line#FERRY_TEST_OPENSEARCH=}"
		else
			log "the OpenSearch node did not start; the Elasticsearch sink benchmark is skipped"
		fi
	fi
	log "Go microbenchmarks"
	# Packages that do not exist yet are skipped rather than failing the run.
	pkgs=()
	for p in ./internal/javajson ./connectors/file ./connectors/http ./runtime/task ./storage; do
		[[ -d $p ]] && pkgs+=("$p")
	done
	if ! go test -run '^$' -bench . -benchmem "${pkgs[@]}" >"$out/microbench.txt" 2>&1; then
		log "some microbenchmarks failed; see $out/microbench.txt"
	fi
	# Sink docs/s next to a plain client's bulk loop (the limit); each call writes 10,000
	# documents, so a fixed count of calls rather than -benchtime's one second.
	if ! go test -run '^$' -bench . -benchmem -benchtime 5x ./connectors/elasticsearch >>"$out/microbench.txt" 2>&1; then
		log "the Elasticsearch sink benchmark failed; see $out/microbench.txt"
	fi
	if [[ -n $os_dir ]]; then
		"$testbed" stop-opensearch --dir "$os_dir" && rm -rf "$os_dir"
		os_dir=""
	fi
	extra+=(-micro "$out/microbench.txt")
fi

if [[ -z ${FERRY_TEST_KAFKA:-} ]]; then
	state="${FERRY_STATE:-/tmp/ferry-testbed}"
	kafka_dir="$state/bench-kafka-$$"
	mkdir -p "$state"
	exec 9>"$state/.start.lock"
	flock 9
	port=${FERRY_BENCH_PORT:-$(free_port_pair 19292)}
	line=$("$testbed" start-kafka --port "$port" --dir "$kafka_dir" 9>&-)
	exec 9>&-
	export FERRY_TEST_KAFKA="${line#FERRY_TEST_KAFKA=}"
fi
log "using Kafka at $FERRY_TEST_KAFKA"

# free_ports P N: the first port from P with N free ports in a row.
free_ports() {
	local p=$1 i
	for ((i = 0; i < $2; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$((p + i))") 2>/dev/null; then
			p=$((p + i + 1))
			i=-1
		fi
	done
	echo "$p"
}
if { wants limit-producer-s || wants file-source-plain-securebroker || wants file-source-sasl-ssl; } &&
	[[ -z ${FERRY_TEST_KAFKA_SECURE:-} ]]; then
	state="${FERRY_STATE:-/tmp/ferry-testbed}"
	secure_dir="$state/bench-kafka-secure-$$"
	mkdir -p "$state"
	exec 9>"$state/.start.lock"
	flock 9
	# Its lines are FERRY_TEST_KAFKA_SECURE=…, FERRY_TEST_KAFKA_SASL_SSL=…, FERRY_TEST_KAFKA_CERTS=….
	while IFS= read -r line; do
		[[ $line == FERRY_TEST_KAFKA_*=* ]] && export "${line?}"
	done < <("$testbed" start-kafka-secure --port "${FERRY_BENCH_SECURE_PORT:-$(free_ports 19392 5)}" --dir "$secure_dir" 9>&-)
	exec 9>&-
	[[ -n ${FERRY_TEST_KAFKA_SECURE:-} ]] || { log "the secured broker did not start"; exit 1; }
fi
[[ -z ${FERRY_TEST_KAFKA_SECURE:-} ]] || log "using the secured Kafka at $FERRY_TEST_KAFKA_SECURE (SASL_SSL ${FERRY_TEST_KAFKA_SASL_SSL:-})"

free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}
state="${FERRY_STATE:-/tmp/ferry-testbed}"
if wants jdbc-sink && [[ -z ${FERRY_TEST_POSTGRES:-} ]]; then
	pg_dir="$state/bench-postgres-$$"
	line=$("$testbed" start-postgres --port "${FERRY_BENCH_PG_PORT:-$(free_port 25432)}" --dir "$pg_dir")
	export FERRY_TEST_POSTGRES="${line#FERRY_TEST_POSTGRES=}"
fi
if wants jdbc-source && [[ -z ${FERRY_TEST_MYSQL:-} ]]; then
	my_dir="$state/bench-mariadb-$$"
	line=$("$testbed" start-mariadb --port "${FERRY_BENCH_MYSQL_PORT:-$(free_port 23306)}" --dir "$my_dir")
	export FERRY_TEST_MYSQL="${line#FERRY_TEST_MYSQL=}"
fi
[[ -z ${FERRY_TEST_POSTGRES:-} ]] || log "using PostgreSQL at ${FERRY_TEST_POSTGRES##*@}"
[[ -z ${FERRY_TEST_MYSQL:-} ]] || log "using MariaDB at ${FERRY_TEST_MYSQL##*@}"

# The harness runs in the background so a signal to this script is handled at once.
"$tmp/ferrybench" -kafka "$FERRY_TEST_KAFKA" -ferry "$tmp/ferry" -out "$out" \
	-kafka-secure "${FERRY_TEST_KAFKA_SECURE:-}" -kafka-sasl-ssl "${FERRY_TEST_KAFKA_SASL_SSL:-}" \
	-kafka-certs "${FERRY_TEST_KAFKA_CERTS:-}" \
	-postgres "${FERRY_TEST_POSTGRES:-}" -mysql "${FERRY_TEST_MYSQL:-}" -debezium-lib "$debezium_lib" \
	-records "$records" -workloads "$workloads" -systems "$systems" \
	-command "scripts/bench.sh --records $records --workloads $workloads --systems $systems" \
	"${extra[@]}" &
harness_pid=$!
rc=0
wait "$harness_pid" || rc=$?
harness_pid=""
log "done in $((SECONDS - started)) s (exit $rc); results in $out/bench-results.md and $out/bench-results.json"
exit "$rc"
