package app

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
	_ "modernc.org/sqlite" // registers driver "sqlite"

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
		if err := quickstartShop(ctx, filepath.Join(abs, quickstartShopDB)); err != nil {
			return err
		}
		conns = append(conns, quickstartConnectors(abs)...)
	}
	return RunStandalone(ctx, workerProps, conns, logger, levels, func(url string) {
		if o.Ready != nil {
			o.Ready(url, broker)
		}
		fmt.Fprintf(os.Stderr, "\nFerry is ready: REST API at %s, Kafka at %s\n", url, broker)
		if quickstart {
			fmt.Fprintf(os.Stderr, "Quickstart pipelines: datagen-users → topic users → %s\n", filepath.Join(abs, "users.txt"))
			fmt.Fprintf(os.Stderr, "                      %s table orders → orders-source → topic %s\n", filepath.Join(abs, quickstartShopDB), quickstartOrdersTopic)
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
		{
			// Confluent's JDBC source as it is usually set up for a table
			// of orders: new rows by id, changed rows by updated_at. Plain
			// JSON values with decimals as numbers, the shape most
			// consumers expect.
			"name":                           "orders-source",
			"connector.class":                "io.confluent.connect.jdbc.JdbcSourceConnector",
			"connection.url":                 "jdbc:sqlite:" + filepath.Join(dir, quickstartShopDB),
			"table.whitelist":                "orders",
			"mode":                           "timestamp+incrementing",
			"timestamp.column.name":          "updated_at",
			"incrementing.column.name":       "id",
			"topic.prefix":                   quickstartTopicPrefix,
			"poll.interval.ms":               "5000",
			"tasks.max":                      "1",
			"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
			"value.converter.schemas.enable": "false",
			"value.converter.decimal.format": "NUMERIC",
		},
	}
}

// The quickstart's shop database, in the dev data directory, and the
// topic its orders table is copied to. The prefix names the database the
// rows come from; pointed at MySQL the same connector would use mysql.
const (
	quickstartShopDB      = "shop.db"
	quickstartTopicPrefix = "sqlite."
	quickstartOrdersTopic = quickstartTopicPrefix + "orders"
)

// quickstartShopSchema is the orders table of the quickstart. updated_at
// is kept current by a trigger, as MySQL's ON UPDATE CURRENT_TIMESTAMP
// would, so a plain UPDATE is picked up by the timestamp+incrementing
// source. Times are UTC text with milliseconds, the form the source
// compares SQLite timestamps in.
const quickstartShopSchema = `
CREATE TABLE orders (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL,
  amount      DECIMAL(10,2) NOT NULL,
  status      VARCHAR(20) NOT NULL,
  updated_at  TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE TRIGGER orders_updated_at AFTER UPDATE OF customer_id, amount, status ON orders
BEGIN
  UPDATE orders SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id;
END;
INSERT INTO orders (id, customer_id, amount, status) VALUES
  (1001, 500, 649.99, 'CREATED'),
  (1002, 501, 25.50, 'PAID'),
  (1003, 502, 1299.00, 'SHIPPED');
`

// quickstartShop creates the shop database with its seeded orders table
// the first time; afterwards the table is left as the user changed it, so
// restarting `ferry dev --quickstart` neither duplicates nor resets rows.
func quickstartShop(ctx context.Context, path string) error {
	// An immediate transaction holds the write lock from the existence
	// check to the commit, so two starts cannot both seed.
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("opening quickstart database %s: %w", path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("opening quickstart database %s: %w", path, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'orders'`).Scan(&n); err != nil {
		return fmt.Errorf("reading quickstart database %s: %w", path, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, quickstartShopSchema); err != nil {
		return fmt.Errorf("creating the orders table in %s: %w", path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating the orders table in %s: %w", path, err)
	}
	return nil
}
