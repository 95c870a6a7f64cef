//go:build ferry_nocloud

package plugins

import "github.com/ferryhq/ferry/connect"

// cloudPlugins is empty in a build with -tags ferry_nocloud.
func cloudPlugins() []connect.Plugin { return nil }
