package sink

import (
	"context"
	"maps"

	"github.com/ferryhq/ferry/connect"
)

// Connector is the JDBC sink connector: every task gets the same config
// and writes whatever partitions the consumer group assigns it.
type Connector struct {
	config map[string]string
}

var (
	_ connect.SinkConnector   = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
	_ connect.OffsetAlterer   = (*Connector)(nil)
)

// Start checks the config.
func (c *Connector) Start(_ context.Context, _ connect.ConnectorContext, config map[string]string) error {
	if _, err := parseSettings(config); err != nil {
		return err
	}
	c.config = maps.Clone(config)
	return nil
}

// TaskConfigs returns maxTasks copies of the connector config.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return connect.CopiesForTasks(c.config, maxTasks), nil
}

// Stop does nothing: the connector holds no resources.
func (c *Connector) Stop() error { return nil }

// NewTask returns a fresh sink task.
func (c *Connector) NewTask() connect.SinkTask { return &Task{} }

// ValidateConfig reports the rules that span keys (delete.enabled needs
// pk.mode=record_key, upsert needs a key, …) under the key to fix.
func (c *Connector) ValidateConfig(config map[string]string) map[string][]string {
	return validateConfig(config)
}

// AlterOffsets accepts any change: the sink stores no offsets of its own.
func (c *Connector) AlterOffsets(map[string]string, []connect.PartitionOffset) (bool, error) {
	return true, nil
}
