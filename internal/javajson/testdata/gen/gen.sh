#!/usr/bin/env bash
# Regenerates ../golden/*.json from Apache Kafka's own JsonConverter.
#
# Needs Java 17+ and Maven. The Apache jars are cached under
# ${FERRY_CACHE:-$HOME/.cache/ferry}/golden-libs. The Go tests do not run this:
# the generated files are committed. To update the goldens after changing
# GenGolden.java (and its twin cases in golden_test.go):
#
#   internal/javajson/testdata/gen/gen.sh && go test ./internal/javajson/
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
libs="${FERRY_CACHE:-$HOME/.cache/ferry}/golden-libs"
if [ ! -f "$libs/connect-json-4.1.1.jar" ]; then
  (cd "$here" && mvn -B -q dependency:copy-dependencies -DoutputDirectory="$libs")
fi
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
javac -d "$build" -cp "$libs/*" "$here/GenGolden.java"
rm -f "$here/../golden/"*.json "$here/../golden/"*.null
java -cp "$build:$libs/*" GenGolden "$here/../golden"
ls "$here/../golden" | wc -l
