package runtime

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/kafkaclient"
	"github.com/ferryhq/ferry/runtime/configprovider"
)

// Worker configuration keys (Apache's WorkerConfig and StandaloneConfig).
const (
	WBootstrapServers   = "bootstrap.servers"
	WKeyConverter       = "key.converter"
	WValueConverter     = "value.converter"
	WHeaderConverter    = "header.converter"
	WShutdownTimeout    = "task.shutdown.graceful.timeout.ms"
	WFlushInterval      = "offset.flush.interval.ms"
	WFlushTimeout       = "offset.flush.timeout.ms"
	WListeners          = "listeners"
	WAdvertisedHost     = "rest.advertised.host.name"
	WAdvertisedPort     = "rest.advertised.port"
	WAdvertisedListener = "rest.advertised.listener"
	WAdminListeners     = "admin.listeners"
	WPluginPath         = "plugin.path"
	WTopicTracking      = "topic.tracking.enable"
	WTopicTrackingReset = "topic.tracking.allow.reset"
	WOverridePolicy     = "connector.client.config.override.policy"
	WAllowOrigin        = "access.control.allow.origin"
	WAllowMethods       = "access.control.allow.methods"
	WOffsetFile         = "offset.storage.file.filename"
	WConfigFile         = "config.storage.file.filename"
	WClientID           = "client.id"
	WRestExtensions     = "rest.extension.classes"
	WResponseHeaders    = "response.http.headers.config"
	// WLoginConfig is Ferry's worker key for the JAAS file that Apache
	// reads from the JVM property of the same name; when unset, a
	// -Djava.security.auth.login.config=PATH in KAFKA_OPTS is used.
	WLoginConfig = "java.security.auth.login.config"

	// Ferry extensions (see docs/config-reference.md).
	WTasksMaxLimit        = "tasks.max.limit"
	WRestartEnable        = "restart.auto.enable"
	WRestartMaxAttempts   = "restart.auto.max.attempts"
	WRestartBackoffInit   = "restart.auto.backoff.initial.ms"
	WRestartBackoffMax    = "restart.auto.backoff.max.ms"
	DefaultTasksMaxLimit  = 1000
	DefaultRestartInitial = 1000
	DefaultRestartMax     = 60000
	DefaultHeaderConvert  = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
)

// Distributed worker keys (Apache's DistributedConfig).
const (
	WGroupID                  = "group.id"
	WConfigTopic              = "config.storage.topic"
	WConfigReplication        = "config.storage.replication.factor"
	WOffsetTopic              = "offset.storage.topic"
	WOffsetPartitions         = "offset.storage.partitions"
	WOffsetReplication        = "offset.storage.replication.factor"
	WStatusTopic              = "status.storage.topic"
	WStatusPartitions         = "status.storage.partitions"
	WStatusReplication        = "status.storage.replication.factor"
	WSessionTimeout           = "session.timeout.ms"
	WHeartbeatInterval        = "heartbeat.interval.ms"
	WRebalanceTimeout         = "rebalance.timeout.ms"
	WScheduledRebalanceDelay  = "scheduled.rebalance.max.delay.ms"
	WConnectProtocol          = "connect.protocol"
	WWorkerSyncTimeout        = "worker.sync.timeout.ms"
	WWorkerUnsyncBackoff      = "worker.unsync.backoff.ms"
	WExactlyOnceSource        = "exactly.once.source.support"
	WKeyGenerationAlgorithm   = "inter.worker.key.generation.algorithm"
	WKeySize                  = "inter.worker.key.size"
	WKeyTTL                   = "inter.worker.key.ttl.ms"
	WSignatureAlgorithm       = "inter.worker.signature.algorithm"
	WVerificationAlgorithms   = "inter.worker.verification.algorithms"
	DefaultInterWorkerHMAC    = "HmacSHA256"
	DefaultScheduledRebalance = 300000
)

// WorkerDef declares the worker keys Ferry reads. Unknown keys are allowed
// and, as in Apache, passed on to Kafka clients where Ferry understands them.
func WorkerDef(standalone bool) *connect.ConfigDef {
	d := connect.NewConfigDef()
	def := func(k connect.ConfigKey) { d.Define(k) }
	def(connect.ConfigKey{Name: WBootstrapServers, Type: connect.TypeList, Default: []string{"localhost:9092"}, Importance: connect.High, Doc: "Kafka brokers to connect to, host:port separated by commas."})
	def(connect.ConfigKey{Name: WKeyConverter, Type: connect.TypeClass, Default: connect.NoDefault, Importance: connect.High, Doc: "Converter for record keys, e.g. org.apache.kafka.connect.json.JsonConverter."})
	def(connect.ConfigKey{Name: WValueConverter, Type: connect.TypeClass, Default: connect.NoDefault, Importance: connect.High, Doc: "Converter for record values."})
	def(connect.ConfigKey{Name: WHeaderConverter, Type: connect.TypeClass, Default: DefaultHeaderConvert, Importance: connect.Low, Doc: "Converter for record headers."})
	def(connect.ConfigKey{Name: WShutdownTimeout, Type: connect.TypeLong, Default: int64(5000), Importance: connect.Low, Doc: "How long, in milliseconds, to wait for tasks to stop gracefully."})
	def(connect.ConfigKey{Name: WFlushInterval, Type: connect.TypeLong, Default: int64(60000), Importance: connect.Low, Doc: "Interval, in milliseconds, between source offset flushes and sink offset commits."})
	def(connect.ConfigKey{Name: WFlushTimeout, Type: connect.TypeLong, Default: int64(5000), Importance: connect.Low, Doc: "Longest wait, in milliseconds, for an offset flush or commit."})
	def(connect.ConfigKey{Name: WListeners, Type: connect.TypeList, Default: []string{"http://:8083"}, Importance: connect.Low, Doc: "REST listeners, as URIs."})
	def(connect.ConfigKey{Name: WAdvertisedHost, Type: connect.TypeString, Default: nil, Importance: connect.Low, Doc: "Host name other workers and status use for this worker."})
	def(connect.ConfigKey{Name: WAdvertisedPort, Type: connect.TypeInt, Default: nil, Importance: connect.Low, Doc: "Port other workers and status use for this worker."})
	def(connect.ConfigKey{Name: WAdvertisedListener, Type: connect.TypeString, Default: nil, Importance: connect.Low, Doc: "Advertised scheme: http or https."})
	def(connect.ConfigKey{Name: WAdminListeners, Type: connect.TypeList, Default: nil, Importance: connect.Low, Doc: "Listeners for /admin endpoints; unset serves them on listeners, empty disables them."})
	def(connect.ConfigKey{Name: WPluginPath, Type: connect.TypeList, Default: nil, Importance: connect.Low, Doc: "Accepted for compatibility; Ferry's plugins are built in."})
	def(connect.ConfigKey{Name: WTopicTracking, Type: connect.TypeBoolean, Default: true, Importance: connect.Low, Doc: "Track the topics each connector uses."})
	def(connect.ConfigKey{Name: WTopicTrackingReset, Type: connect.TypeBoolean, Default: true, Importance: connect.Low, Doc: "Allow resetting tracked topics over REST."})
	def(connect.ConfigKey{Name: WOverridePolicy, Type: connect.TypeString, Default: "All", Importance: connect.Medium, Doc: "Which client overrides connectors may set: All, None or Principal."})
	def(connect.ConfigKey{Name: WAllowOrigin, Type: connect.TypeString, Default: "", Importance: connect.Low, Doc: "CORS allowed origin; empty disables CORS."})
	def(connect.ConfigKey{Name: WAllowMethods, Type: connect.TypeString, Default: "", Importance: connect.Low, Doc: "CORS allowed methods."})
	def(connect.ConfigKey{Name: WRestExtensions, Type: connect.TypeList, Default: []string{}, Importance: connect.Low, Doc: "REST extensions to enable. Ferry supports " + "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension" + " (HTTP basic authentication with a JAAS file); any other class is an error."})
	def(connect.ConfigKey{Name: WResponseHeaders, Type: connect.TypeString, Default: "", Importance: connect.Low, Doc: "Rules for REST response headers: comma-separated [action] [name]:[value], action set, add, setDate or addDate."})
	def(connect.ConfigKey{Name: WLoginConfig, Type: connect.TypeString, Default: "", Importance: connect.Low, Doc: "Ferry extension: the JAAS file of the basic authentication REST extension (KafkaConnect entry). Apache takes it from the JVM property of the same name; when unset, Ferry reads -Djava.security.auth.login.config=PATH from the KAFKA_OPTS environment variable."})
	def(connect.ConfigKey{Name: WClientID, Type: connect.TypeString, Default: "", Importance: connect.Low, Doc: "Base client id for Kafka clients."})
	def(connect.ConfigKey{Name: WTasksMaxLimit, Type: connect.TypeInt, Default: DefaultTasksMaxLimit, Validator: connect.AtLeast(1), Importance: connect.Medium, Doc: "Ferry extension: the largest tasks.max a connector may have on this worker, and the most task configs a connector may return. A config above it is rejected; a stored one fails its connector. Bounds the memory one request can claim."})
	def(connect.ConfigKey{Name: WRestartEnable, Type: connect.TypeBoolean, Default: true, Importance: connect.Medium, Doc: "Ferry extension: restart FAILED connectors and tasks automatically, with exponential backoff and jitter. Errors that waiting cannot heal (invalid config, missing class, errors a plugin marks non-retriable) are not retried. Connectors may override it."})
	def(connect.ConfigKey{Name: WRestartMaxAttempts, Type: connect.TypeInt, Default: -1, Validator: connect.AtLeast(-1), Importance: connect.Low, Doc: "Ferry extension: automatic restarts in a row after which a connector or task stays FAILED; -1 means no limit. A run longer than restart.auto.backoff.max.ms (at least 10 s) clears the count. Connectors may override it."})
	def(connect.ConfigKey{Name: WRestartBackoffInit, Type: connect.TypeLong, Default: int64(DefaultRestartInitial), Validator: connect.AtLeast(1), Importance: connect.Low, Doc: "Ferry extension: delay in milliseconds before the first automatic restart; it doubles with each attempt, minus up to a quarter at random. Connectors may override it."})
	def(connect.ConfigKey{Name: WRestartBackoffMax, Type: connect.TypeLong, Default: int64(DefaultRestartMax), Validator: connect.AtLeast(1), Importance: connect.Low, Doc: "Ferry extension: longest delay in milliseconds between automatic restarts. Connectors may override it."})
	if standalone {
		def(connect.ConfigKey{Name: WOffsetFile, Type: connect.TypeString, Default: connect.NoDefault, Importance: connect.High, Doc: "File holding source connector offsets."})
		def(connect.ConfigKey{Name: WConfigFile, Type: connect.TypeString, Default: nil, Importance: connect.Medium, Doc: "File keeping connector configs and target states across restarts (Ferry extension). Defaults to the offsets file name plus .connectors.json."})
	} else {
		defineDistributed(def)
	}
	return d
}

// WorkerConfig is the parsed worker configuration.
type WorkerConfig struct {
	*connect.Config
	Raw map[string]string
	// ClientWarnings name the Kafka client properties Ferry ignores; the
	// worker logs them when it starts.
	ClientWarnings []string
	// ClientMetrics, when set by the worker process, receives the metrics
	// of every Kafka client built from this configuration.
	ClientMetrics *kafkaclient.Metrics
}

// ParseWorkerConfig parses worker properties. As in Apache, ${provider:...}
// placeholders in them are resolved first with the providers the worker
// declares, so client secrets (sasl.jaas.config, store passwords) can live
// in files or the environment.
func ParseWorkerConfig(props map[string]string, standalone bool) (*WorkerConfig, error) {
	providers, err := configprovider.FromWorker(props)
	if err != nil {
		return nil, fmt.Errorf("invalid worker configuration: %w", err)
	}
	if !providers.Empty() {
		if props, err = providers.Resolve(props); err != nil {
			return nil, fmt.Errorf("invalid worker configuration: %w", err)
		}
	}
	c, err := WorkerDef(standalone).Parse(props)
	if err != nil {
		return nil, fmt.Errorf("invalid worker configuration: %w", err)
	}
	if _, err := kafkaclient.ParsePolicy(c.String(WOverridePolicy)); err != nil {
		return nil, fmt.Errorf("invalid worker configuration: %w", err)
	}
	// A security setting the clients cannot honour stops the worker here,
	// before it connects anywhere.
	warnings, err := kafkaclient.CheckWorker(props)
	if err != nil {
		return nil, fmt.Errorf("invalid worker configuration: %w", err)
	}
	return &WorkerConfig{Config: c, Raw: props, ClientWarnings: warnings}, nil
}

// Brokers returns bootstrap.servers.
func (w *WorkerConfig) Brokers() []string { return w.List(WBootstrapServers) }

// FlushInterval is offset.flush.interval.ms.
func (w *WorkerConfig) FlushInterval() time.Duration {
	return time.Duration(w.Long(WFlushInterval)) * time.Millisecond
}

// FlushTimeout is offset.flush.timeout.ms.
func (w *WorkerConfig) FlushTimeout() time.Duration {
	return time.Duration(w.Long(WFlushTimeout)) * time.Millisecond
}

// ShutdownTimeout is task.shutdown.graceful.timeout.ms.
func (w *WorkerConfig) ShutdownTimeout() time.Duration {
	return time.Duration(w.Long(WShutdownTimeout)) * time.Millisecond
}

// AdvertisedURL and WorkerID derive the worker identity (§2.6) from the
// advertised settings or a listener; boundAddrs are the addresses the REST
// server actually listens on, in listener order, used when the listener's
// port is 0 or its host empty. As in Apache, the listener is the first one
// of rest.advertised.listener's scheme when set, else the first http one,
// else the first one.
func (w *WorkerConfig) AdvertisedURL(boundAddrs []string) (string, string) {
	scheme, host, port := "http", "", ""
	ls := w.List(WListeners)
	want := strings.ToLower(w.String(WAdvertisedListener))
	if want == "" {
		want = "http"
	}
	pick := 0
	for i, l := range ls {
		if u, err := url.Parse(strings.TrimSpace(l)); err == nil && strings.EqualFold(u.Scheme, want) {
			pick = i
			break
		}
	}
	boundAddr := ""
	if pick < len(boundAddrs) {
		boundAddr = boundAddrs[pick]
	}
	if len(ls) > pick {
		if u, err := url.Parse(strings.TrimSpace(ls[pick])); err == nil {
			scheme = strings.ToLower(u.Scheme)
			host, port, _ = net.SplitHostPort(u.Host)
		}
	}
	if bh, bp, err := net.SplitHostPort(boundAddr); err == nil {
		if port == "" || port == "0" {
			port = bp
		}
		if host == "" && bh != "" && bh != "::" && bh != "0.0.0.0" {
			host = bh
		}
	}
	if host == "" || host == "0.0.0.0" {
		host = "localhost"
		if h, err := hostName(); err == nil {
			host = h
		}
	}
	if v := w.String(WAdvertisedHost); v != "" {
		host = v
	}
	if w.IsSet(WAdvertisedPort) {
		port = strconv.Itoa(w.Int(WAdvertisedPort))
	}
	if v := w.String(WAdvertisedListener); v != "" {
		scheme = strings.ToLower(v)
	}
	hp := net.JoinHostPort(host, port)
	return scheme + "://" + hp + "/", hp
}

// defineDistributed adds the keys only a distributed worker reads.
func defineDistributed(def func(connect.ConfigKey)) {
	rf := connect.ValidatorFunc("Positive number not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default", func(v any) error {
		if n := v.(int16); n < 1 && n != -1 {
			return fmt.Errorf("Replication factor must be positive and not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default")
		}
		return nil
	})
	parts := connect.ValidatorFunc("Positive number, or -1 to use the broker's default", func(v any) error {
		if n := v.(int); n < 1 && n != -1 {
			return fmt.Errorf("Number of partitions must be positive, or -1 to use the broker's default")
		}
		return nil
	})
	def(connect.ConfigKey{Name: WGroupID, Type: connect.TypeString, Default: connect.NoDefault, Importance: connect.High, Doc: "Unique string that identifies the Connect cluster group this worker belongs to."})
	def(connect.ConfigKey{Name: WConfigTopic, Type: connect.TypeString, Default: connect.NoDefault, Importance: connect.High, Doc: "Compacted, single-partition topic holding connector and task configurations."})
	def(connect.ConfigKey{Name: WConfigReplication, Type: connect.TypeShort, Default: int16(3), Validator: rf, Importance: connect.Low, Doc: "Replication factor of the config topic when it is created."})
	def(connect.ConfigKey{Name: WOffsetTopic, Type: connect.TypeString, Default: connect.NoDefault, Importance: connect.High, Doc: "Compacted topic holding source connector offsets."})
	def(connect.ConfigKey{Name: WOffsetPartitions, Type: connect.TypeInt, Default: 25, Validator: parts, Importance: connect.Low, Doc: "Partitions of the offsets topic when it is created."})
	def(connect.ConfigKey{Name: WOffsetReplication, Type: connect.TypeShort, Default: int16(3), Validator: rf, Importance: connect.Low, Doc: "Replication factor of the offsets topic when it is created."})
	def(connect.ConfigKey{Name: WStatusTopic, Type: connect.TypeString, Default: connect.NoDefault, Importance: connect.High, Doc: "Compacted topic holding connector and task statuses."})
	def(connect.ConfigKey{Name: WStatusPartitions, Type: connect.TypeInt, Default: 5, Validator: parts, Importance: connect.Low, Doc: "Partitions of the status topic when it is created."})
	def(connect.ConfigKey{Name: WStatusReplication, Type: connect.TypeShort, Default: int16(3), Validator: rf, Importance: connect.Low, Doc: "Replication factor of the status topic when it is created."})
	def(connect.ConfigKey{Name: WSessionTimeout, Type: connect.TypeInt, Default: 10000, Importance: connect.High, Doc: "Group session timeout in milliseconds: a worker that sends no heartbeat for this long is removed from the group."})
	def(connect.ConfigKey{Name: WHeartbeatInterval, Type: connect.TypeInt, Default: 3000, Importance: connect.High, Doc: "Interval in milliseconds between heartbeats to the group coordinator."})
	def(connect.ConfigKey{Name: WRebalanceTimeout, Type: connect.TypeInt, Default: 60000, Importance: connect.High, Doc: "Longest time in milliseconds each worker has to rejoin the group during a rebalance."})
	def(connect.ConfigKey{Name: WScheduledRebalanceDelay, Type: connect.TypeInt, Default: DefaultScheduledRebalance, Validator: connect.Between(0, 2147483647), Importance: connect.Medium, Doc: "Longest delay in milliseconds before the work of a departed worker is reassigned, giving it time to come back."})
	def(connect.ConfigKey{Name: WConnectProtocol, Type: connect.TypeString, Default: "sessioned", Validator: connect.OneOfIgnoreCase("eager", "compatible", "sessioned"), Importance: connect.Low, Doc: "Group protocol: eager, compatible or sessioned."})
	def(connect.ConfigKey{Name: WWorkerSyncTimeout, Type: connect.TypeInt, Default: 3000, Importance: connect.Medium, Doc: "Longest time in milliseconds to catch up with the config topic before leaving the group."})
	def(connect.ConfigKey{Name: WWorkerUnsyncBackoff, Type: connect.TypeInt, Default: 300000, Importance: connect.Medium, Doc: "Time in milliseconds to stay out of the group after failing to catch up with the config topic."})
	def(connect.ConfigKey{Name: WExactlyOnceSource, Type: connect.TypeString, Default: "disabled", Validator: connect.OneOfIgnoreCase("disabled", "preparing", "enabled"), Importance: connect.High, Doc: "Exactly-once support for source connectors; accepted, Ferry runs sources at least once."})
	def(connect.ConfigKey{Name: WKeyGenerationAlgorithm, Type: connect.TypeString, Default: DefaultInterWorkerHMAC, Validator: connect.OneOf(DefaultInterWorkerHMAC), Importance: connect.Low, Doc: "Algorithm of the session keys that sign internal requests."})
	def(connect.ConfigKey{Name: WKeySize, Type: connect.TypeInt, Default: nil, Importance: connect.Low, Doc: "Session key size in bits; unset means 256."})
	def(connect.ConfigKey{Name: WKeyTTL, Type: connect.TypeInt, Default: 3600000, Validator: connect.Between(0, 2147483647), Importance: connect.Low, Doc: "Time in milliseconds a session key is used before the leader writes a new one."})
	def(connect.ConfigKey{Name: WSignatureAlgorithm, Type: connect.TypeString, Default: DefaultInterWorkerHMAC, Validator: connect.OneOf(DefaultInterWorkerHMAC), Importance: connect.Low, Doc: "Algorithm internal requests are signed with."})
	def(connect.ConfigKey{Name: WVerificationAlgorithms, Type: connect.TypeList, Default: []string{DefaultInterWorkerHMAC}, Importance: connect.Low, Doc: "Algorithms accepted when verifying internal requests."})
}
