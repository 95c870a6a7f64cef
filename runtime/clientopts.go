package runtime

import (
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka client settings reach Ferry as Apache's Java client property names
// (worker producer.* / consumer.*, connector producer.override.* /
// consumer.override.*). These helpers translate the ones franz-go has a
// counterpart for; the rest are accepted and ignored.

// baseClientOpts returns the options every client of the worker shares.
func baseClientOpts(w *WorkerConfig, clientID string) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(w.Brokers()...)}
	if clientID != "" {
		opts = append(opts, kgo.ClientID(clientID))
	}
	return opts
}

func msOpt(v string) (time.Duration, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}

// producerOpts maps Java producer properties to franz-go options.
func producerOpts(props map[string]string) []kgo.Opt {
	var opts []kgo.Opt
	for k, v := range props {
		switch k {
		case "linger.ms":
			if d, ok := msOpt(v); ok {
				opts = append(opts, kgo.ProducerLinger(d))
			}
		case "batch.size":
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				opts = append(opts, kgo.ProducerBatchMaxBytes(int32(n)))
			}
		case "compression.type":
			switch strings.TrimSpace(v) {
			case "gzip":
				opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
			case "snappy":
				opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
			case "lz4":
				opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
			case "zstd":
				opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
			case "none":
				opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
			}
		case "client.id":
			opts = append(opts, kgo.ClientID(strings.TrimSpace(v)))
		}
	}
	return opts
}

// consumerOpts maps Java consumer properties to franz-go options.
func consumerOpts(props map[string]string) []kgo.Opt {
	var opts []kgo.Opt
	for k, v := range props {
		switch k {
		case "fetch.max.bytes":
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				opts = append(opts, kgo.FetchMaxBytes(int32(n)))
			}
		case "max.partition.fetch.bytes":
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				opts = append(opts, kgo.FetchMaxPartitionBytes(int32(n)))
			}
		case "session.timeout.ms":
			if d, ok := msOpt(v); ok {
				opts = append(opts, kgo.SessionTimeout(d))
			}
		case "heartbeat.interval.ms":
			if d, ok := msOpt(v); ok {
				opts = append(opts, kgo.HeartbeatInterval(d))
			}
		case "client.id":
			opts = append(opts, kgo.ClientID(strings.TrimSpace(v)))
		}
	}
	return opts
}
