package bigquery

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Connector is the BigQuery sink connector: every task gets the same config
// and writes whatever partitions the consumer group assigns it.
type Connector struct {
	config map[string]string
}

var (
	_ connect.SinkConnector   = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
	_ connect.OffsetAlterer   = (*Connector)(nil)
)

// Start checks the config and that the default dataset can be reached with
// the given credentials, so a wrong project or key fails the connector at
// once instead of every task later. An unreachable or failing BigQuery is
// a Retriable error: the runtime may start the connector again once it is
// back.
func (c *Connector) Start(ctx context.Context, _ connect.ConnectorContext, config map[string]string) error {
	s, err := parseSettings(config)
	if err != nil {
		return err
	}
	// The client retries unreachable endpoints until its context ends.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if key, msg, cause := checkAccess(cctx, s); msg != "" {
		err := fmt.Errorf("%s: %s", key, msg)
		if cause != nil && isUnavailable(cause) && ctx.Err() == nil {
			return connect.Retriable(err)
		}
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

// ValidateConfig reports the rules that span keys, then whether the
// credentials can read the default dataset.
func (c *Connector) ValidateConfig(config map[string]string) map[string][]string {
	if errs := validateConfig(config); len(errs) > 0 {
		return errs
	}
	s, err := parseSettings(config)
	if err != nil {
		return nil // reported per key by the ConfigDef
	}
	// An unreachable endpoint is retried by the client until this ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if key, msg, _ := checkAccess(ctx, s); msg != "" {
		return map[string][]string{key: {msg}}
	}
	return nil
}

// AlterOffsets accepts any change: the sink keeps its offsets in Kafka.
func (c *Connector) AlterOffsets(map[string]string, []connect.PartitionOffset) (bool, error) {
	return true, nil
}

// checkAccess reads the default dataset's metadata with the configured
// credentials. A problem comes back as the key to fix, a message, and the
// error from BigQuery when there was one.
func checkAccess(ctx context.Context, s *settings) (key, msg string, cause error) {
	cl, err := newClients(ctx, s)
	if err != nil {
		key := Keyfile
		if s.endpoint != "" && isPlainHTTP(s.endpoint) {
			key = Endpoint
		}
		return key, err.Error(), nil
	}
	defer cl.close()
	_, err = cl.bq.DatasetInProject(s.project, s.dataset).Metadata(ctx)
	switch {
	case err == nil:
		return "", "", nil
	case isNotFound(err):
		return DefaultDataset, fmt.Sprintf("dataset %s:%s was not found (check %s and %s)", s.project, s.dataset, Project, DefaultDataset), err
	case apiCode(err) == 401 || apiCode(err) == 403 && !isUnavailable(err):
		return Keyfile, fmt.Sprintf("the credentials cannot read dataset %s:%s: %v", s.project, s.dataset, err), err
	case apiCode(err) == 0 && s.endpoint != "":
		return Endpoint, fmt.Sprintf("cannot reach BigQuery at %s: %v", s.endpoint, err), err
	default:
		return Project, fmt.Sprintf("cannot reach BigQuery for project %s: %v", s.project, err), err
	}
}
