package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ferryhq/ferry/internal/props"
)

func devCmd() *cobra.Command {
	var dir, restAddr, kafkaAddr string
	var quickstart bool
	cmd := &cobra.Command{
		Use:   "dev [CONNECTOR.properties|CONNECTOR.json ...]",
		Short: "Run a worker together with an embedded Kafka-protocol broker, for trying Ferry out offline",
		Long: `dev starts an embedded Kafka-protocol broker (persisted under --dir) and a
standalone worker using it, with JsonConverter (schemas enabled) as the
converter, like Apache's sample worker properties. Kafka clients such as kcat
can produce to and consume from the broker at --kafka.

With --quickstart it also creates two connectors (unless they exist): a
datagen source writing generated users to the topic "users", and a
FileStream sink copying that topic to DIR/users.txt.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var conns []map[string]string
			for _, p := range args {
				c, err := props.ReadConnectorFile(p)
				if err != nil {
					return fmt.Errorf("reading connector config: %w", err)
				}
				conns = append(conns, c)
			}
			return runDev(cmd.Context(), dir, restAddr, kafkaAddr, quickstart, conns)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "./ferry-data", "data directory for the broker, offsets and connector configs")
	cmd.Flags().StringVar(&restAddr, "rest", "127.0.0.1:8083", "REST API listen address")
	cmd.Flags().StringVar(&kafkaAddr, "kafka", "127.0.0.1:9092", "embedded broker listen address")
	cmd.Flags().BoolVar(&quickstart, "quickstart", false, "create the datagen → topic → file quickstart pipeline")
	return cmd
}

func runDev(ctx context.Context, dir, restAddr, kafkaAddr string, quickstart bool, conns []map[string]string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	logger, levels := newLogger()
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
	return runStandalone(ctx, workerProps, conns, logger, levels, func(url string) {
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
