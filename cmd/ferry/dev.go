package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/app"
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

With --quickstart it also creates (or keeps) three connectors: a
datagen source writing generated users to the topic "users", a FileStream
sink copying that topic to DIR/users.txt, and "orders-source", a JDBC
source copying new and updated rows of the table "orders" in the SQLite
database DIR/shop.db to the topic "sqlite.orders" as plain JSON. The
database and its three sample orders are created on the first run only;
later runs leave it as it was.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var conns []map[string]string
			for _, p := range args {
				c, err := props.ReadConnectorFile(p)
				if err != nil {
					return fmt.Errorf("reading connector config: %w", err)
				}
				conns = append(conns, c)
			}
			logger, levels := newLogger()
			return app.RunDev(cmd.Context(), app.DevOptions{Dir: dir, RESTAddr: restAddr, KafkaAddr: kafkaAddr, Quickstart: quickstart, Connectors: conns, Logger: logger, Levels: levels})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "./ferry-data", "data directory for the broker, offsets and connector configs")
	cmd.Flags().StringVar(&restAddr, "rest", "127.0.0.1:8083", "REST API listen address")
	cmd.Flags().StringVar(&kafkaAddr, "kafka", "127.0.0.1:9092", "embedded broker listen address")
	cmd.Flags().BoolVar(&quickstart, "quickstart", false, "create the quickstart pipelines: datagen → topic → file, and SQLite orders table → topic")
	return cmd
}
