// Package plugins assembles the registry of every plugin built into Ferry:
// connectors, converters and (later) transforms. The list is explicit, so
// a plugin is in the binary exactly when it is named here.
package plugins

import (
	"slices"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/datagen"
	"github.com/ferryhq/ferry/connectors/elasticsearch"
	"github.com/ferryhq/ferry/connectors/file"
	httpsink "github.com/ferryhq/ferry/connectors/http"
	jdbcsink "github.com/ferryhq/ferry/connectors/jdbc/sink"
	jdbcsource "github.com/ferryhq/ferry/connectors/jdbc/source"
	"github.com/ferryhq/ferry/converters"
	"github.com/ferryhq/ferry/transforms"
)

// All returns the descriptors of every built-in plugin.
func All() []connect.Plugin {
	return slices.Concat(
		[]connect.Plugin{file.SourcePlugin(), file.SinkPlugin(), datagen.Plugin()},
		[]connect.Plugin{jdbcsink.Plugin(), jdbcsource.Plugin()},
		[]connect.Plugin{httpsink.AivenPlugin(), httpsink.ConfluentPlugin()},
		[]connect.Plugin{elasticsearch.ConfluentPlugin(), elasticsearch.AivenPlugin()},
		cloudPlugins(),
		converters.Plugins(),
		transforms.Plugins(),
	)
}

// Registry returns a registry of every built-in plugin.
func Registry() (*connect.Registry, error) { return connect.NewRegistry(All()...) }
