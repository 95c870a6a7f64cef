// Package elasticsearch is the Elasticsearch / OpenSearch sink connector.
// One implementation answers to two Java class names with their own keys:
//
//   - Confluent's io.confluent.connect.elasticsearch.ElasticsearchSinkConnector
//     (connection.url, key.ignore, schema.ignore, write.method, data.stream.*,
//     elastic.security.protocol and elastic.https.ssl.*, …).
//   - Aiven's io.aiven.kafka.connect.opensearch.OpenSearchSinkConnector
//     (index.write.method, key.ignore.id.strategy, data.stream.enabled,
//     behavior.on.version.conflict, connection.ssl.*, …).
//
// Records go to the cluster as bulk requests over plain HTTP/JSON, so one
// client speaks to OpenSearch 1–2 and Elasticsearch 7–8 alike (there is no
// product check). Put writes synchronously: when it returns, every record
// of the batch is in the cluster or settled, so committed offsets never run
// ahead of the index.
//
// Idempotence, as in the Java connectors: with the key as document id an
// index or delete request carries version=<Kafka offset> and
// version_type=external, and a replay answered with a version conflict
// counts as written; with key.ignore the id is topic+partition+offset, so a
// replay overwrites the same document.
//
// Failures:
//   - The cluster unreachable, a timeout, HTTP 429 or 5xx, or an item
//     rejected with 429 or 5xx: the request (or the rejected items) is sent
//     again up to max.retries times, waiting a random time up to
//     retry.backoff.ms·2^attempt; then Put returns connect.Retriable and the
//     runtime redelivers the batch. The Java connector fails the task
//     instead; Ferry keeps it running and loses nothing.
//   - A malformed document (mapper_parsing_exception and the like) goes
//     to the errant record reporter (the dead letter queue under
//     errors.tolerance=all) when the runtime offers one, as Confluent's
//     connector does, and then follows behavior.on.malformed.documents,
//     except that FAIL does not fail the task for a document the dead
//     letter queue took (Aiven's flavour reports only under fail/report).
//   - Any other item error goes to the errant record reporter, else fails
//     the task. A version conflict of an externally versioned write is a
//     replay and counts as written (Confluent); Aiven's flavour applies
//     behavior.on.version.conflict.
//
// Differences from the Java connectors:
//   - Batches never span two Put calls: linger.ms and max.buffered.records
//     are accepted but have no effect, and flush.timeout.ms bounds the time
//     one Put spends retrying.
//   - Bulk requests of one Put run max.in.flight.requests at a time only
//     when their order cannot matter (externally versioned writes or ids
//     unique per record); upserts and data stream writes go one at a time.
//   - TLS key and trust stores must be PEM files (ssl.keystore.type and
//     ssl.truststore.type PEM); JKS and PKCS12 are refused. Proxy, Kerberos,
//     external resources (external.resource.usage) and Aiven's AWS signing
//     and routing are not supported and are refused when set.
//   - A data stream without a matching index template (OpenSearch has no
//     built-in logs-*-* template) gets one created for exactly its name.
package elasticsearch

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Class names and versions.
const (
	ConfluentClass     = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"
	ConfluentTaskClass = "io.confluent.connect.elasticsearch.ElasticsearchSinkTask"
	ConfluentVersion   = "15.1.0"
	AivenClass         = "io.aiven.kafka.connect.opensearch.OpenSearchSinkConnector"
	AivenTaskClass     = "io.aiven.kafka.connect.opensearch.OpenSearchSinkTask"
	AivenVersion       = "3.1.1"
)

// ConfluentPlugin describes the connector under Confluent's class name and keys.
func ConfluentPlugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSink,
		Class:     ConfluentClass,
		Version:   ConfluentVersion,
		TaskClass: ConfluentTaskClass,
		Config:    ConfluentConfigDef,
		New:       func() any { return &Connector{flavour: confluent} },
		Doc:       "Writes records to Elasticsearch or OpenSearch indices or data streams with bulk requests, idempotently (Confluent's keys).",
	}
}

// AivenPlugin describes the connector under Aiven's class name and keys.
func AivenPlugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSink,
		Class:     AivenClass,
		Version:   AivenVersion,
		TaskClass: AivenTaskClass,
		Config:    AivenConfigDef,
		New:       func() any { return &Connector{flavour: aiven} },
		Doc:       "Writes records to OpenSearch or Elasticsearch indices or data streams with bulk requests, idempotently (Aiven's keys).",
	}
}

type flavour int

const (
	confluent flavour = iota
	aiven
)

// Keys shared by both flavours.
const (
	ConnectionURL          = "connection.url"
	ConnectionUsername     = "connection.username"
	ConnectionPassword     = "connection.password"
	ConnectionTimeout      = "connection.timeout.ms"
	ReadTimeout            = "read.timeout.ms"
	BatchSize              = "batch.size"
	MaxInFlight            = "max.in.flight.requests"
	MaxBuffered            = "max.buffered.records"
	LingerMs               = "linger.ms"
	FlushTimeout           = "flush.timeout.ms"
	MaxRetries             = "max.retries"
	RetryBackoff           = "retry.backoff.ms"
	KeyIgnore              = "key.ignore"
	TopicKeyIgnore         = "topic.key.ignore"
	SchemaIgnore           = "schema.ignore"
	TopicSchemaIgnore      = "topic.schema.ignore"
	CompactMapEntries      = "compact.map.entries"
	DropInvalidMessage     = "drop.invalid.message"
	BehaviorOnNullValues   = "behavior.on.null.values"
	BehaviorOnMalformed    = "behavior.on.malformed.documents"
	DataStreamTimestampKey = "data.stream.timestamp.field"
)

// Confluent-only keys.
const (
	WriteMethod           = "write.method"
	BulkSizeBytes         = "bulk.size.bytes"
	UseAutogeneratedIDs   = "use.autogenerated.ids"
	ExternalVersionHeader = "external.version.header"
	DataStreamType        = "data.stream.type"
	DataStreamDataset     = "data.stream.dataset"
	DataStreamNamespace   = "data.stream.namespace"
	ExternalResourceUsage = "external.resource.usage"
	ConnectionCompression = "connection.compression"
	MaxIdleTime           = "max.connection.idle.time.ms"
	FlushSynchronously    = "flush.synchronously"
	ProxyHost             = "proxy.host"
	KerberosPrincipal     = "kerberos.user.principal"
	SecurityProtocol      = "elastic.security.protocol"
	HTTPSPrefix           = "elastic.https."
)

// Aiven-only keys.
const (
	IndexWriteMethod          = "index.write.method"
	KeyIgnoreIDStrategy       = "key.ignore.id.strategy"
	BehaviorOnVersionConflict = "behavior.on.version.conflict"
	DataStreamEnabled         = "data.stream.enabled"
	DataStreamPrefix          = "data.stream.prefix"
	TrustAllCertificates      = "connection.trust.all.certificates"
	AivenSSLPrefix            = "connection."
	RoutingType               = "routing.type"
	AWSAccessKeyID            = "aws.access_key_id"
)

// SSL key suffixes, after elastic.https. (Confluent) or connection. (Aiven).
const (
	sslKeystoreLocation   = "ssl.keystore.location"
	sslKeystorePassword   = "ssl.keystore.password"
	sslKeystoreType       = "ssl.keystore.type"
	sslKeyPassword        = "ssl.key.password"
	sslTruststoreLocation = "ssl.truststore.location"
	sslTruststorePassword = "ssl.truststore.password"
	sslTruststoreType     = "ssl.truststore.type"
	sslEndpointIdent      = "ssl.endpoint.identification.algorithm"
	sslProtocol           = "ssl.protocol"
)

const (
	groupConnector  = "Connector"
	groupData       = "Data Conversion"
	groupDataStream = "Data Stream"
	groupSecurity   = "Security"
)

func urlListValidator() connect.Validator {
	return connect.ValidatorFunc("List of valid URIs.", func(v any) error {
		l, _ := v.([]string)
		if len(l) == 0 {
			return fmt.Errorf("must contain at least one URL")
		}
		for _, s := range l {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("Invalid URL %s", s)
			}
		}
		return nil
	})
}

type definer struct {
	d *connect.ConfigDef
	o int
	g string
}

func (d *definer) group(g string) { d.g, d.o = g, 0 }

func (d *definer) def(k connect.ConfigKey) {
	k.Group, k.OrderInGroup = d.g, d.o
	d.o++
	if k.Width == "" {
		k.Width = connect.WidthShort
	}
	if k.Importance == "" {
		k.Importance = connect.Low
	}
	d.d.Define(k)
}

// connectionKeys declares what both flavours share, with the flavour's defaults.
func connectionKeys(d *definer, f flavour) {
	d.group(groupConnector)
	d.def(connect.ConfigKey{Name: ConnectionURL, Type: connect.TypeList, Default: connect.NoDefault, Validator: urlListValidator(), Importance: connect.High, Width: connect.WidthLong,
		Doc: "The URLs of the cluster's nodes, comma-separated (http:// or https://). Requests go to them in turn."})
	d.def(connect.ConfigKey{Name: ConnectionUsername, Type: connect.TypeString, Default: nil, Importance: connect.Medium, Width: connect.WidthMedium, Doc: "User name for HTTP basic authentication."})
	d.def(connect.ConfigKey{Name: ConnectionPassword, Type: connect.TypePassword, Default: nil, Importance: connect.Medium, Width: connect.WidthMedium, Doc: "Password for HTTP basic authentication."})
	batch, flush := 2000, int64(180000)
	if f == aiven {
		batch, flush = 2000, 10000
	}
	d.def(connect.ConfigKey{Name: BatchSize, Type: connect.TypeInt, Default: batch, Validator: connect.Between(1, 1_000_000), Importance: connect.Medium, Doc: "The most records in one bulk request."})
	d.def(connect.ConfigKey{Name: MaxInFlight, Type: connect.TypeInt, Default: 5, Validator: connect.Between(1, 1000), Importance: connect.Medium,
		Doc: "The most bulk requests of one delivery sent at once (only when their order cannot matter; otherwise one at a time). Also bounds retry_on_conflict of upserts."})
	d.def(connect.ConfigKey{Name: MaxBuffered, Type: connect.TypeInt, Default: 20000, Validator: connect.AtLeast(1), Doc: "Accepted for compatibility; records are written during the delivery that brought them, so nothing is buffered."})
	d.def(connect.ConfigKey{Name: LingerMs, Type: connect.TypeLong, Default: int64(1), Validator: connect.Between(0, 86_400_000), Doc: "Accepted for compatibility; a delivery's records are sent at once."})
	d.def(connect.ConfigKey{Name: FlushTimeout, Type: connect.TypeLong, Default: flush, Validator: connect.AtLeast(1000), Doc: "The longest one delivery may spend retrying before it is handed back to the runtime for redelivery, in milliseconds."})
	d.def(connect.ConfigKey{Name: MaxRetries, Type: connect.TypeInt, Default: 5, Validator: connect.AtLeast(0), Doc: "How many times a bulk request that failed for a transient reason (connection, timeout, 429, 5xx) is sent again before the delivery is handed back to the runtime."})
	d.def(connect.ConfigKey{Name: RetryBackoff, Type: connect.TypeLong, Default: int64(100), Validator: connect.AtLeast(0),
		Doc: "The base wait before a retry, in milliseconds: a random time up to retry.backoff.ms·2^attempt (at most 24 hours). Also the runtime's wait before a redelivery."})
	d.def(connect.ConfigKey{Name: ConnectionTimeout, Type: connect.TypeInt, Default: 1000, Validator: connect.AtLeast(0), Doc: "How long to wait for a connection, in milliseconds."})
	d.def(connect.ConfigKey{Name: ReadTimeout, Type: connect.TypeInt, Default: 3000, Validator: connect.AtLeast(0), Doc: "How long to wait for a response, in milliseconds."})

	d.group(groupData)
	d.def(connect.ConfigKey{Name: KeyIgnore, Type: connect.TypeBoolean, Default: false, Importance: connect.High,
		Doc: "false: the record key is the document id (integer or string keys), and writes are versioned by the Kafka offset. true: the id is topic+partition+offset."})
	d.def(connect.ConfigKey{Name: SchemaIgnore, Type: connect.TypeBoolean, Default: false, Importance: connect.High,
		Doc: "false: a new index gets a mapping made from the value schema of its first record. true: the cluster infers the mapping."})
	d.def(connect.ConfigKey{Name: CompactMapEntries, Type: connect.TypeBoolean, Default: true, Importance: connect.Medium,
		Doc: "Write string-keyed maps as JSON objects; false writes them as arrays of {\"key\",\"value\"} objects."})
	d.def(connect.ConfigKey{Name: TopicKeyIgnore, Type: connect.TypeList, Default: []string{}, Doc: "Topics for which key.ignore is true."})
	d.def(connect.ConfigKey{Name: TopicSchemaIgnore, Type: connect.TypeList, Default: []string{}, Doc: "Topics for which schema.ignore is true."})
	d.def(connect.ConfigKey{Name: DropInvalidMessage, Type: connect.TypeBoolean, Default: false, Doc: "Skip (and log) records that cannot be turned into a request, instead of failing or reporting them."})
	nullDefault := "FAIL"
	nullValues := []string{"IGNORE", "DELETE", "FAIL"}
	if f == aiven {
		nullDefault = "ignore"
	}
	d.def(connect.ConfigKey{Name: BehaviorOnNullValues, Type: connect.TypeString, Default: nullDefault, Validator: connect.OneOfIgnoreCase(nullValues...), Importance: connect.Medium,
		Doc: "Records with a null value (tombstones): IGNORE skips them, DELETE deletes the document of the key (tombstones without key are skipped), FAIL treats them as invalid."})
	malformed := []string{"IGNORE", "WARN", "FAIL"}
	if f == aiven {
		malformed = append(malformed, "REPORT")
	}
	d.def(connect.ConfigKey{Name: BehaviorOnMalformed, Type: connect.TypeString, Default: "FAIL", Validator: connect.OneOfIgnoreCase(malformed...), Importance: connect.Medium,
		Doc: "Documents the cluster refuses as malformed (mapping conflicts, unparsable fields): IGNORE skips them, WARN logs and skips them, FAIL sends them to the dead letter queue under errors.tolerance=all and else fails the task."})
}

func sslKeys(d *definer, prefix string) {
	d.group(groupSecurity)
	d.def(connect.ConfigKey{Name: prefix + sslKeystoreLocation, Type: connect.TypeString, Default: nil, Width: connect.WidthLong, Doc: "PEM file with the client certificate chain and private key."})
	d.def(connect.ConfigKey{Name: prefix + sslKeystorePassword, Type: connect.TypePassword, Default: nil, Doc: "Not used with PEM files."})
	d.def(connect.ConfigKey{Name: prefix + sslKeystoreType, Type: connect.TypeString, Default: "PEM", Validator: connect.OneOfIgnoreCase("PEM", "JKS", "PKCS12"), Doc: "Only PEM is supported."})
	d.def(connect.ConfigKey{Name: prefix + sslKeyPassword, Type: connect.TypePassword, Default: nil, Doc: "Not supported (the PEM key must not be encrypted)."})
	d.def(connect.ConfigKey{Name: prefix + sslTruststoreLocation, Type: connect.TypeString, Default: nil, Width: connect.WidthLong, Doc: "PEM file of CA certificates to trust; the system roots when unset."})
	d.def(connect.ConfigKey{Name: prefix + sslTruststorePassword, Type: connect.TypePassword, Default: nil, Doc: "Not used with PEM files."})
	d.def(connect.ConfigKey{Name: prefix + sslTruststoreType, Type: connect.TypeString, Default: "PEM", Validator: connect.OneOfIgnoreCase("PEM", "JKS", "PKCS12"), Doc: "Only PEM is supported."})
	d.def(connect.ConfigKey{Name: prefix + sslEndpointIdent, Type: connect.TypeString, Default: "https", Doc: "https checks the server's host name against its certificate; empty disables the check (the chain is still verified)."})
	d.def(connect.ConfigKey{Name: prefix + sslProtocol, Type: connect.TypeString, Default: "TLSv1.3", Validator: connect.OneOfIgnoreCase("TLSv1.2", "TLSv1.3", "TLS"), Doc: "The lowest TLS version accepted: TLSv1.2 or TLSv1.3 (TLS means TLSv1.2)."})
}

// ConfluentConfigDef declares Confluent's keys with Confluent's defaults.
func ConfluentConfigDef() *connect.ConfigDef {
	d := &definer{d: connect.NewConfigDef()}
	connectionKeys(d, confluent)
	d.group(groupConnector)
	d.def(connect.ConfigKey{Name: BulkSizeBytes, Type: connect.TypeLong, Default: int64(5 * 1024 * 1024), Validator: connect.AtLeast(-1), Doc: "The largest bulk request body in bytes (-1: no limit)."})
	d.def(connect.ConfigKey{Name: ConnectionCompression, Type: connect.TypeBoolean, Default: false, Doc: "Ask for compressed responses."})
	d.def(connect.ConfigKey{Name: MaxIdleTime, Type: connect.TypeInt, Default: 60000, Validator: connect.AtLeast(-1), Doc: "How long an idle connection is kept, in milliseconds."})
	d.def(connect.ConfigKey{Name: FlushSynchronously, Type: connect.TypeBoolean, Default: false, Doc: "Accepted for compatibility; writes are always synchronous."})
	d.def(connect.ConfigKey{Name: ProxyHost, Type: connect.TypeString, Default: "", Doc: "Not supported; must be empty."})
	d.def(connect.ConfigKey{Name: KerberosPrincipal, Type: connect.TypeString, Default: nil, Doc: "Not supported; must be unset."})
	d.group(groupData)
	d.def(connect.ConfigKey{Name: WriteMethod, Type: connect.TypeString, Default: "INSERT", Validator: connect.OneOfIgnoreCase("INSERT", "UPSERT"), Importance: connect.Medium,
		Doc: "INSERT replaces whole documents (index requests); UPSERT merges the value into the document ({\"doc\":v,\"upsert\":v}), without versioning."})
	d.def(connect.ConfigKey{Name: UseAutogeneratedIDs, Type: connect.TypeBoolean, Default: false, Doc: "With INSERT and key.ignore, let the cluster choose the ids (replays then make duplicates)."})
	d.def(connect.ConfigKey{Name: ExternalVersionHeader, Type: connect.TypeString, Default: "", Doc: "Take the external version from this header (a long) instead of the Kafka offset."})
	d.def(connect.ConfigKey{Name: ExternalResourceUsage, Type: connect.TypeString, Default: "DISABLED", Validator: connect.OneOfIgnoreCase("DISABLED"), Doc: "Only DISABLED is supported: indices and data streams are named after the topic."})
	d.group(groupDataStream)
	d.def(connect.ConfigKey{Name: DataStreamType, Type: connect.TypeString, Default: "NONE", Validator: connect.OneOfIgnoreCase("LOGS", "METRICS", "NONE"), Importance: connect.Medium,
		Doc: "LOGS or METRICS writes to the data stream <type>-<dataset>-<namespace> with create requests; NONE writes to an index named after the topic."})
	d.def(connect.ConfigKey{Name: DataStreamDataset, Type: connect.TypeString, Default: "", Importance: connect.Medium, Doc: "The dataset part of the data stream name; required with a data stream type."})
	d.def(connect.ConfigKey{Name: DataStreamNamespace, Type: connect.TypeString, Default: "${topic}", Doc: "The namespace part of the data stream name; ${topic} is the lower-cased topic."})
	d.def(connect.ConfigKey{Name: DataStreamTimestampKey, Type: connect.TypeList, Default: []string{}, Doc: "Value fields whose first present one becomes @timestamp; else the record timestamp."})
	d.group(groupSecurity)
	d.def(connect.ConfigKey{Name: SecurityProtocol, Type: connect.TypeString, Default: "PLAINTEXT", Validator: connect.OneOfIgnoreCase("PLAINTEXT", "SSL"), Doc: "SSL applies the elastic.https.ssl.* settings to https:// URLs."})
	sslKeys(d, HTTPSPrefix)
	return d.d
}

// AivenConfigDef declares Aiven's keys with Aiven's defaults.
func AivenConfigDef() *connect.ConfigDef {
	d := &definer{d: connect.NewConfigDef()}
	connectionKeys(d, aiven)
	d.group(groupData)
	d.def(connect.ConfigKey{Name: IndexWriteMethod, Type: connect.TypeString, Default: "insert", Validator: connect.OneOfIgnoreCase("insert", "upsert"), Importance: connect.Medium,
		Doc: "insert replaces whole documents; upsert merges the value into the document (doc_as_upsert)."})
	d.def(connect.ConfigKey{Name: KeyIgnoreIDStrategy, Type: connect.TypeString, Default: "topic.partition.offset", Validator: connect.OneOfIgnoreCase("none", "record.key", "topic.partition.offset"),
		Doc: "The document id when key.ignore is true: none (chosen by the cluster), record.key, or topic.partition.offset."})
	d.def(connect.ConfigKey{Name: BehaviorOnVersionConflict, Type: connect.TypeString, Default: "fail", Validator: connect.OneOfIgnoreCase("ignore", "warn", "report", "fail"),
		Doc: "Version conflicts: ignore, warn (log), report (dead letter queue) or fail."})
	d.def(connect.ConfigKey{Name: RoutingType, Type: connect.TypeString, Default: "none", Validator: connect.OneOfIgnoreCase("none"), Doc: "Only none is supported."})
	d.def(connect.ConfigKey{Name: AWSAccessKeyID, Type: connect.TypeString, Default: nil, Doc: "AWS request signing is not supported; must be unset."})
	d.group(groupDataStream)
	d.def(connect.ConfigKey{Name: DataStreamEnabled, Type: connect.TypeBoolean, Default: false, Importance: connect.Medium, Doc: "Write to the data stream <prefix>-<index name> (or the index name) with create requests."})
	d.def(connect.ConfigKey{Name: DataStreamPrefix, Type: connect.TypeString, Default: nil, Doc: "Prefix of the data stream name."})
	d.def(connect.ConfigKey{Name: DataStreamTimestampKey, Type: connect.TypeString, Default: "@timestamp", Doc: "The value field holding the document time; when absent, @timestamp is set from the record timestamp."})
	d.group(groupSecurity)
	d.def(connect.ConfigKey{Name: TrustAllCertificates, Type: connect.TypeBoolean, Default: false, Doc: "Accept any server certificate. Not for production."})
	sslKeys(d, AivenSSLPrefix)
	return d.d
}

type writeMethod int

const (
	insert writeMethod = iota
	upsert
)

type idStrategy int

const (
	idKey idStrategy = iota
	idCoords
	idNone
)

// settings is the parsed config of either flavour.
type settings struct {
	flavour         flavour
	urls            []string
	user, password  string
	batchSize       int
	bulkBytes       int64
	inFlight        int
	flushTimeout    time.Duration
	maxRetries      int
	backoff         time.Duration
	connectTimeout  time.Duration
	readTimeout     time.Duration
	keyIgnore       bool
	ignoreStrategy  idStrategy // id when key.ignore (or the topic's) is true
	keyIgnoreTopics map[string]bool
	schemaIgnore    bool
	schemaTopics    map[string]bool
	compactMaps     bool
	dropInvalid     bool
	onNull          string // ignore, delete, fail
	onMalformed     string // ignore, warn, fail, report
	onConflict      string // ignore (Confluent, external versions), warn, report, fail
	method          writeMethod
	versionHeader   string
	compression     bool
	idle            time.Duration

	dataStream   bool
	dsType       string
	dsDataset    string
	dsNamespace  string
	dsPrefix     string
	dsTimeFields []string

	tls *tlsSettings
}

type tlsSettings struct {
	keystore, truststore string
	verifyHost           bool
	trustAll             bool
	minTLS13             bool
}

func refuse(key, msg string) error {
	return &connect.ConfigError{Name: key, Message: msg}
}

func toSet(l []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range l {
		m[strings.TrimSpace(s)] = true
	}
	return m
}

func parseSettings(f flavour, props map[string]string) (*settings, error) {
	def := ConfluentConfigDef()
	if f == aiven {
		def = AivenConfigDef()
	}
	c, err := def.Parse(props)
	if err != nil {
		return nil, err
	}
	s := &settings{
		flavour:         f,
		batchSize:       c.Int(BatchSize),
		inFlight:        c.Int(MaxInFlight),
		flushTimeout:    time.Duration(c.Long(FlushTimeout)) * time.Millisecond,
		maxRetries:      c.Int(MaxRetries),
		backoff:         time.Duration(c.Long(RetryBackoff)) * time.Millisecond,
		connectTimeout:  time.Duration(c.Int(ConnectionTimeout)) * time.Millisecond,
		readTimeout:     time.Duration(c.Int(ReadTimeout)) * time.Millisecond,
		keyIgnore:       c.Bool(KeyIgnore),
		keyIgnoreTopics: toSet(c.List(TopicKeyIgnore)),
		schemaIgnore:    c.Bool(SchemaIgnore),
		schemaTopics:    toSet(c.List(TopicSchemaIgnore)),
		compactMaps:     c.Bool(CompactMapEntries),
		dropInvalid:     c.Bool(DropInvalidMessage),
		onNull:          strings.ToLower(c.String(BehaviorOnNullValues)),
		onMalformed:     strings.ToLower(c.String(BehaviorOnMalformed)),
		bulkBytes:       -1,
		idle:            60 * time.Second,
	}
	for _, u := range c.List(ConnectionURL) {
		s.urls = append(s.urls, strings.TrimRight(strings.TrimSpace(u), "/"))
	}
	s.user = c.String(ConnectionUsername)
	s.password = c.Password(ConnectionPassword).Value()
	if (s.user == "") != (s.password == "") {
		return nil, refuse(ConnectionUsername, "connection.username and connection.password must be set together")
	}
	var prefix string
	https := false
	for _, u := range s.urls {
		https = https || strings.HasPrefix(u, "https://")
	}
	if s.keyIgnore && len(c.List(TopicKeyIgnore)) > 0 {
		return nil, refuse(TopicKeyIgnore, "topic.key.ignore can not be set if key.ignore is true")
	}
	if s.schemaIgnore && len(c.List(TopicSchemaIgnore)) > 0 {
		return nil, refuse(TopicSchemaIgnore, "topic.schema.ignore can not be set if schema.ignore is true")
	}
	if c.Long(LingerMs) > c.Long(FlushTimeout) {
		return nil, refuse(LingerMs, "linger.ms can not be larger than flush.timeout.ms")
	}
	switch f {
	case confluent:
		s.bulkBytes = c.Long(BulkSizeBytes)
		s.compression = c.Bool(ConnectionCompression)
		if ms := c.Int(MaxIdleTime); ms > 0 {
			s.idle = time.Duration(ms) * time.Millisecond
		}
		if c.String(ProxyHost) != "" {
			return nil, refuse(ProxyHost, "a proxy is not supported")
		}
		if c.String(KerberosPrincipal) != "" {
			return nil, refuse(KerberosPrincipal, "Kerberos is not supported")
		}
		if strings.EqualFold(c.String(WriteMethod), "UPSERT") {
			s.method = upsert
		}
		s.ignoreStrategy = idCoords
		if c.Bool(UseAutogeneratedIDs) && s.method == insert {
			s.ignoreStrategy = idNone
		}
		s.onConflict = "ignore"
		s.versionHeader = c.String(ExternalVersionHeader)
		if t := strings.ToUpper(c.String(DataStreamType)); t != "NONE" {
			s.dataStream, s.dsType = true, strings.ToLower(t)
			s.dsDataset = c.String(DataStreamDataset)
			if s.dsDataset == "" {
				return nil, refuse(DataStreamDataset, "must be set when data.stream.type is "+t)
			}
			if s.method == upsert {
				return nil, refuse(WriteMethod, "UPSERT cannot be used with data streams")
			}
			if s.onNull == "delete" {
				return nil, refuse(BehaviorOnNullValues, "DELETE cannot be used with data streams")
			}
			s.dsNamespace = c.String(DataStreamNamespace)
			s.dsTimeFields = c.List(DataStreamTimestampKey)
		}
		if strings.EqualFold(c.String(SecurityProtocol), "SSL") {
			prefix = HTTPSPrefix
		}
	case aiven:
		if strings.EqualFold(c.String(IndexWriteMethod), "upsert") {
			s.method = upsert
		}
		switch strings.ToLower(c.String(KeyIgnoreIDStrategy)) {
		case "none":
			s.ignoreStrategy = idNone
		case "record.key":
			s.ignoreStrategy = idKey
		default:
			s.ignoreStrategy = idCoords
		}
		s.onConflict = strings.ToLower(c.String(BehaviorOnVersionConflict))
		if c.String(AWSAccessKeyID) != "" {
			return nil, refuse(AWSAccessKeyID, "AWS request signing is not supported")
		}
		if c.Bool(DataStreamEnabled) {
			s.dataStream = true
			s.dsPrefix = c.String(DataStreamPrefix)
			s.dsTimeFields = []string{c.String(DataStreamTimestampKey)}
			if s.method == upsert {
				return nil, refuse(IndexWriteMethod, "upsert cannot be used with data streams")
			}
		}
		if https {
			prefix = AivenSSLPrefix
		}
	}
	if f == aiven && s.method == upsert && s.keyIgnore && s.ignoreStrategy != idKey {
		return nil, refuse(KeyIgnore, "upserts need the record key as document id (key.ignore=false or key.ignore.id.strategy=record.key)")
	}
	if prefix != "" {
		t := &tlsSettings{
			keystore:   c.String(prefix + sslKeystoreLocation),
			truststore: c.String(prefix + sslTruststoreLocation),
			verifyHost: c.String(prefix+sslEndpointIdent) != "",
			minTLS13:   strings.EqualFold(c.String(prefix+sslProtocol), "TLSv1.3"),
		}
		if f == aiven {
			t.trustAll = c.Bool(TrustAllCertificates)
		}
		for _, k := range []string{sslKeystoreType, sslTruststoreType} {
			if !strings.EqualFold(c.String(prefix+k), "PEM") {
				return nil, refuse(prefix+k, "only PEM key and trust stores are supported")
			}
		}
		if c.Password(prefix+sslKeyPassword).Value() != "" {
			return nil, refuse(prefix+sslKeyPassword, "encrypted PEM keys are not supported")
		}
		s.tls = t
	}
	return s, nil
}
