package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ferryhq/ferry/logging"
)

// DevOptions configures RunDev.
type DevOptions struct {
	Dir, RESTAddr, KafkaAddr string
	Quickstart               bool
	Connectors               []map[string]string
	Logger                   *slog.Logger
	Levels                   *logging.Levels
	// Ready is called with the REST URL and broker address once serving.
	Ready func(url, broker string)
}

// RunDev runs an embedded Kafka-protocol broker and a standalone worker on
// it until ctx ends.
func RunDev(ctx context.Context, o DevOptions) error {
	dir, restAddr, kafkaAddr, quickstart, conns, logger, levels := o.Dir, o.RESTAddr, o.KafkaAddr, o.Quickstart, o.Connectors, o.Logger, o.Levels
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DataDir(filepath.Join(abs, "kafka")),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, kafkaAddr) }),
	)
	if err != nil {
		return fmt.Errorf("starting embedded broker on %s: %w", kafkaAddr, err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]
	logger.Info("embedded Kafka broker started", "bootstrap.servers", broker, "dir", filepath.Join(abs, "kafka"))

	workerProps := map[string]string{
		"bootstrap.servers":              broker,
		"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":   "true",
		"value.converter.schemas.enable": "true",
		"offset.storage.file.filename":   filepath.Join(abs, "connect.offsets"),
		"offset.flush.interval.ms":       "10000",
		"listeners":                      "http://" + restAddr,
	}
	if quickstart {
		conns = append(conns, quickstartConnectors(abs)...)
	}
	return RunStandalone(ctx, workerProps, conns, logger, levels, func(url string) {
		if o.Ready != nil {
			o.Ready(url, broker)
		}
		fmt.Fprintf(os.Stderr, "\nFerry is ready: REST API at %s, Kafka at %s\n", url, broker)
		if quickstart {
			fmt.Fprintf(os.Stderr, "Quickstart pipeline: datagen-users → topic users → %s\n", filepath.Join(abs, "users.txt"))
		}
	})
}

func quickstartConnectors(dir string) []map[string]string {
	return []map[string]string{
		{
			"name":            "datagen-users",
			"connector.class": "io.confluent.kafka.connect.datagen.DatagenConnector",
			"kafka.topic":     "users",
			"quickstart":      "users",
			"max.interval":    "1000",
			"iterations":      "10000000",
			"tasks.max":       "1",
		},
		{
			"name":            "users-file-sink",
			"connector.class": "FileStreamSink",
			"topics":          "users",
			"file":            filepath.Join(dir, "users.txt"),
			"tasks.max":       "1",
		},
	}
}
