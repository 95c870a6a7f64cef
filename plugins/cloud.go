//go:build !ferry_nocloud

package plugins

import (
	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/bigquery"
)

// cloudPlugins are the connectors built on cloud vendors' client libraries.
// Those libraries (gRPC, protobuf, OpenTelemetry, …) add about 13 MiB to
// every Ferry process's resident memory at start, used or not; build with
// -tags ferry_nocloud to leave them out.
func cloudPlugins() []connect.Plugin { return []connect.Plugin{bigquery.Plugin()} }
