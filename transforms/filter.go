package transforms

import "github.com/ferryhq/ferry/connect"

// FilterConfigDef declares Filter's (empty) configuration.
func FilterConfigDef() *connect.ConfigDef { return connect.NewConfigDef() }

// Filter drops every record it is applied to; combine it with a predicate
// to drop only some.
type Filter struct{ noClose }

// Configure implements connect.Transformation.
func (*Filter) Configure(map[string]string) error { return nil }

// Apply implements connect.Transformation.
func (*Filter) Apply(*connect.Record) (*connect.Record, error) { return nil, nil }
