// Package bigquery is the BigQuery sink connector, compatible with the
// WePay / Confluent / Aiven connector
// (com.wepay.kafka.connect.bigquery.BigQuerySinkConnector): it writes the
// records of Kafka topics into BigQuery tables through streaming inserts
// (tabledata.insertAll, insertId = topic-partition-offset) or the Storage
// Write API, creates missing tables from the record schema, adds new
// columns, and applies upserts and deletes through an intermediate table
// and periodic MERGE jobs.
//
// Differences from the Java connector:
//   - Tables are checked before rows are sent, not after insertAll fails:
//     a missing table is created and missing columns are added (when the
//     config allows it) before the write, so rows never wait 30 × 30 s for
//     a schema change to "take".
//   - Schemaless records (JsonConverter with schemas.enable=false) are
//     accepted. A table created for them gets every field as NULLABLE, with
//     the type of the JSON value: integral numbers INTEGER, other numbers
//     FLOAT, strings STRING, booleans BOOLEAN, objects RECORD, arrays
//     REPEATED; columns in name order. Fields that are null in every record
//     seen so far are left out until a value arrives.
//   - INTEGER values are sent as decimal strings, so 64-bit values are never
//     rounded through a double.
//   - Put writes synchronously; threadPoolSize bounds the concurrent
//     insertAll requests of one Put and queueSize is accepted and ignored.
//   - With the Storage Write API, rows go to the base table (partition
//     decorators apply to insertAll only). TIME and NUMERIC values travel
//     as strings, TIMESTAMP as microseconds, DATE as days.
//   - Upsert/delete: the intermediate tables of a run are dropped when the
//     task stops, and a task's start drops tables an earlier crashed run of
//     the same task left behind (the Java connector leaves them).
//   - Not implemented (rejected with a clear validation error): the GCS batch
//     load path (enableBatchLoad). Accepted and ignored: schemaRetriever,
//     avroDataCacheSize, mediateConcurrentSchemaUpdates and its retry keys,
//     gcsBucketName, gcsFolderName, batchLoadIntervalSec, autoCreateBucket.
//
// Ferry extensions: bigQueryEndpoint and bigQueryStorageEndpoint point the
// clients at another endpoint (an emulator or a private endpoint);
// mergeStreamingBufferWaitMs sets the pause between the last intermediate
// insert and the MERGE.
package bigquery

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Class names and version.
const (
	Class     = "com.wepay.kafka.connect.bigquery.BigQuerySinkConnector"
	TaskClass = "com.wepay.kafka.connect.bigquery.BigQuerySinkTask"
	Version   = "2.6.0"
)

// Configuration keys.
const (
	Project                      = "project"
	DefaultDataset               = "defaultDataset"
	Keyfile                      = "keyfile"
	KeySource                    = "keySource"
	UseCredentialsProjectID      = "useCredentialsProjectId"
	SchemaRetriever              = "schemaRetriever"
	AutoCreateTables             = "autoCreateTables"
	AllowNewFields               = "allowNewBigQueryFields"
	AllowRequiredRelaxation      = "allowBigQueryRequiredFieldRelaxation"
	AllowSchemaUnionization      = "allowSchemaUnionization"
	AllFieldsNullable            = "allBQFieldsNullable"
	SanitizeTopics               = "sanitizeTopics"
	SanitizeFieldNames           = "sanitizeFieldNames"
	Topic2TableMap               = "topic2TableMap"
	KafkaKeyFieldName            = "kafkaKeyFieldName"
	KafkaDataFieldName           = "kafkaDataFieldName"
	TrackPutAttempts             = "trackPutAttempts"
	PreserveTopicPartitionOffset = "preserveKafkaTopicPartitionOffset"
	AvroDataCacheSize            = "avroDataCacheSize"
	ConvertDoubleSpecialValues   = "convertDoubleSpecialValues"
	DecimalHandlingMode          = "decimalHandlingMode"
	VariableScaleDecimalMode     = "variableScaleDecimalHandlingMode"
	ConvertDebeziumVarScale      = "convertDebeziumVariableScaleDecimal"
	ConvertDebeziumTimestamp     = "convertDebeziumTimestampToInteger"
	UpsertEnabled                = "upsertEnabled"
	DeleteEnabled                = "deleteEnabled"
	IntermediateTableSuffix      = "intermediateTableSuffix"
	MergeIntervalMs              = "mergeIntervalMs"
	MergeRecordsThreshold        = "mergeRecordsThreshold"
	ThreadPoolSize               = "threadPoolSize"
	QueueSize                    = "queueSize"
	BigQueryRetry                = "bigQueryRetry"
	BigQueryRetryWait            = "bigQueryRetryWait"
	MaxRetries                   = "max.retries"
	MessageTimePartitioning      = "bigQueryMessageTimePartitioning"
	PartitionDecorator           = "bigQueryPartitionDecorator"
	TimestampPartitionField      = "timestampPartitionFieldName"
	ClusteringFields             = "clusteringPartitionFieldNames"
	TimePartitioningType         = "timePartitioningType"
	PartitionExpirationMs        = "partitionExpirationMs"
	MediateSchemaUpdates         = "mediateConcurrentSchemaUpdates"
	SchemaUpdateRetryWaitMs      = "concurrentSchemaUpdateRetryWaitMs"
	SchemaUpdateMaxRetries       = "concurrentSchemaUpdateMaxRetries"
	IgnoreUnknownFields          = "ignoreUnknownFields"
	UseStorageWriteAPI           = "useStorageWriteApi"
	EnableBatchMode              = "enableBatchMode"
	CommitInterval               = "commitInterval"
	EnableBatchLoad              = "enableBatchLoad"
	GCSBucketName                = "gcsBucketName"
	GCSFolderName                = "gcsFolderName"
	BatchLoadIntervalSec         = "batchLoadIntervalSec"
	AutoCreateBucket             = "autoCreateBucket"

	// Ferry extensions.
	Endpoint                = "bigQueryEndpoint"
	StorageEndpoint         = "bigQueryStorageEndpoint"
	MergeStreamingWaitMs    = "mergeStreamingBufferWaitMs"
	defaultSchemaRetriever  = "com.wepay.kafka.connect.bigquery.retrieve.IdentitySchemaRetriever"
	keySourceFile           = "FILE"
	keySourceJSON           = "JSON"
	keySourceAppDefault     = "APPLICATION_DEFAULT"
	defaultIntermediateWait = int64(10000)
)

// Plugin describes the BigQuery sink connector.
func Plugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSink,
		Class:     Class,
		Version:   Version,
		TaskClass: TaskClass,
		Config:    ConfigDef,
		New:       func() any { return &Connector{} },
		Doc:       "Writes records into BigQuery tables (streaming inserts or the Storage Write API), creating and evolving tables; upserts and deletes through MERGE.",
	}
}

const (
	groupConn    = "Connection"
	groupTables  = "Tables"
	groupSchema  = "Schema"
	groupData    = "Data"
	groupUpsert  = "Upsert and delete"
	groupWrite   = "Writes"
	groupPart    = "Partitioning"
	groupStorage = "Storage Write API"
	groupBatch   = "GCS batch loading"
)

// ConfigDef declares the connector's keys with the Java connector's
// defaults.
func ConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef()
	group, order := "", 0
	def := func(k connect.ConfigKey) {
		order++
		k.Group, k.OrderInGroup = group, order
		if k.Importance == "" {
			k.Importance = connect.Medium
		}
		if k.Width == "" {
			k.Width = connect.WidthNone
		}
		if k.DisplayName == "" {
			k.DisplayName = k.Name
		}
		d.Define(k)
	}
	in := func(g string) { group, order = g, 0 }
	str, boolean, integer, long, list := connect.TypeString, connect.TypeBoolean, connect.TypeInt, connect.TypeLong, connect.TypeList

	in(groupConn)
	def(connect.ConfigKey{Name: Project, Type: str, Default: connect.NoDefault, Importance: connect.High, Doc: "The BigQuery project to write to."})
	def(connect.ConfigKey{Name: DefaultDataset, Type: str, Default: connect.NoDefault, Importance: connect.High, Doc: "The dataset tables are written to, unless a topic is named dataset:table."})
	def(connect.ConfigKey{Name: Keyfile, Type: connect.TypePassword, Default: nil, Importance: connect.Medium, Doc: "The service account key: a file path when keySource=FILE, the JSON itself when keySource=JSON. Leave unset with APPLICATION_DEFAULT."})
	def(connect.ConfigKey{Name: KeySource, Type: str, Default: keySourceFile, Validator: connect.OneOf(keySourceFile, keySourceJSON, keySourceAppDefault), Doc: "Where the credentials come from: FILE, JSON or APPLICATION_DEFAULT (the environment's default credentials)."})
	def(connect.ConfigKey{Name: UseCredentialsProjectID, Type: boolean, Default: false, Importance: connect.Low, Doc: "Bill the clients to the project of the credentials, while tables stay in project."})
	def(connect.ConfigKey{Name: Endpoint, Type: str, Default: nil, Importance: connect.Low, Doc: "Ferry extension: base URL of the BigQuery REST API, for emulators and private endpoints (e.g. http://127.0.0.1:9050). An http:// URL turns authentication off. /bigquery/v2/ is appended when the URL has no path."})
	def(connect.ConfigKey{Name: StorageEndpoint, Type: str, Default: nil, Importance: connect.Low, Doc: "Ferry extension: host:port of the Storage Write API (gRPC). Prefixed with http:// it is dialled in plaintext without authentication (emulators)."})

	in(groupTables)
	def(connect.ConfigKey{Name: AutoCreateTables, Type: boolean, Default: true, Importance: connect.High, Doc: "Create missing tables, with the schema derived from the records."})
	def(connect.ConfigKey{Name: SanitizeTopics, Type: boolean, Default: false, Doc: "Turn topic names into valid table names (every character outside [a-zA-Z0-9_] becomes _). Not applied with topic2TableMap."})
	def(connect.ConfigKey{Name: Topic2TableMap, Type: str, Default: "", Doc: "topic:table pairs, comma separated; unlisted topics use the topic name."})
	def(connect.ConfigKey{Name: IntermediateTableSuffix, Type: str, Default: "tmp", Validator: connect.NonEmptyString(), Importance: connect.Low, Doc: "Suffix of the intermediate tables used by upsert and delete."})

	in(groupSchema)
	def(connect.ConfigKey{Name: SchemaRetriever, Type: connect.TypeClass, Default: defaultSchemaRetriever, Importance: connect.Low, Doc: "Accepted for compatibility; the schema always comes from the record."})
	def(connect.ConfigKey{Name: AllowNewFields, Type: boolean, Default: false, Doc: "Add columns for record fields the table does not have."})
	def(connect.ConfigKey{Name: AllowRequiredRelaxation, Type: boolean, Default: false, Doc: "Let REQUIRED columns become NULLABLE; new fields are then added as NULLABLE."})
	def(connect.ConfigKey{Name: AllowSchemaUnionization, Type: boolean, Default: false, Doc: "Update the table to the union of its schema and every record schema of the batch, instead of the last record's schema."})
	def(connect.ConfigKey{Name: AllFieldsNullable, Type: boolean, Default: false, Doc: "Create every column NULLABLE, whatever the record schema says."})
	def(connect.ConfigKey{Name: SanitizeFieldNames, Type: boolean, Default: false, Doc: "Turn field names into valid column names: every character outside [a-zA-Z0-9_] becomes _, and _ is prepended when the name does not start with a letter or _."})
	def(connect.ConfigKey{Name: IgnoreUnknownFields, Type: boolean, Default: false, Importance: connect.Low, Doc: "Drop fields the table has no column for instead of failing the row."})
	def(connect.ConfigKey{Name: MediateSchemaUpdates, Type: boolean, Default: false, Importance: connect.Low, Doc: "Accepted for compatibility; schema updates always re-read the table first."})
	def(connect.ConfigKey{Name: SchemaUpdateRetryWaitMs, Type: long, Default: int64(10000), Validator: connect.Between(0, 300000), Importance: connect.Low, Doc: "Accepted for compatibility."})
	def(connect.ConfigKey{Name: SchemaUpdateMaxRetries, Type: integer, Default: 3, Validator: connect.AtLeast(1), Importance: connect.Low, Doc: "Accepted for compatibility."})
	def(connect.ConfigKey{Name: AvroDataCacheSize, Type: integer, Default: 100, Validator: connect.AtLeast(0), Importance: connect.Low, Doc: "Accepted for compatibility."})

	in(groupData)
	def(connect.ConfigKey{Name: KafkaKeyFieldName, Type: str, Default: nil, Doc: "When set, a NULLABLE RECORD column of this name holds the record key. Required for upsert and delete."})
	def(connect.ConfigKey{Name: KafkaDataFieldName, Type: str, Default: nil, Doc: "When set, a NULLABLE RECORD column of this name holds topic, partition, offset and insertTime."})
	def(connect.ConfigKey{Name: TrackPutAttempts, Type: boolean, Default: false, Importance: connect.Low, Doc: "Add putAttemptId, an id per write attempt, to the kafkaDataFieldName record."})
	def(connect.ConfigKey{Name: PreserveTopicPartitionOffset, Type: boolean, Default: false, Importance: connect.Low, Doc: "Use the topic, partition and offset the record had before transforms."})
	def(connect.ConfigKey{Name: ConvertDoubleSpecialValues, Type: boolean, Default: false, Doc: "Write +Infinity as the largest double and -Infinity and NaN as the smallest positive double, as the Java connector does."})
	def(connect.ConfigKey{Name: DecimalHandlingMode, Type: str, Default: "FLOAT", Validator: connect.OneOfIgnoreCase("RECORD", "FLOAT", "NUMERIC", "BIGNUMERIC"), Doc: "Column type for Connect Decimal values: FLOAT, NUMERIC, BIGNUMERIC or RECORD {scale, value}."})
	def(connect.ConfigKey{Name: VariableScaleDecimalMode, Type: str, Default: "RECORD", Validator: connect.OneOfIgnoreCase("RECORD", "FLOAT", "NUMERIC", "BIGNUMERIC"), Importance: connect.Low, Doc: "Column type for Debezium VariableScaleDecimal values."})
	def(connect.ConfigKey{Name: ConvertDebeziumVarScale, Type: boolean, Default: false, Importance: connect.Low, Doc: "Deprecated: true means variableScaleDecimalHandlingMode=NUMERIC."})
	def(connect.ConfigKey{Name: ConvertDebeziumTimestamp, Type: boolean, Default: false, Importance: connect.Low, Doc: "Write Debezium io.debezium.time.Timestamp values as INTEGER instead of TIMESTAMP."})

	in(groupUpsert)
	def(connect.ConfigKey{Name: UpsertEnabled, Type: boolean, Default: false, Doc: "Keep the latest row per key: rows go to an intermediate table and are merged into the destination periodically."})
	def(connect.ConfigKey{Name: DeleteEnabled, Type: boolean, Default: false, Doc: "Delete the row of the key of a tombstone, through the same MERGE."})
	def(connect.ConfigKey{Name: MergeIntervalMs, Type: long, Default: int64(60000), Validator: minusOneOrAtLeast(10000), Doc: "How often intermediate tables are merged, in milliseconds; -1 turns the timer off."})
	def(connect.ConfigKey{Name: MergeRecordsThreshold, Type: long, Default: int64(-1), Validator: minusOneOrAtLeast(1), Doc: "Merge as soon as this many rows wait in an intermediate table; -1 turns it off."})
	def(connect.ConfigKey{Name: MergeStreamingWaitMs, Type: long, Default: defaultIntermediateWait, Validator: connect.AtLeast(0), Importance: connect.Low, Doc: "Ferry extension: pause between the last insert into an intermediate table and the MERGE that reads it, in milliseconds (the Java connector waits 10 s)."})

	in(groupWrite)
	def(connect.ConfigKey{Name: ThreadPoolSize, Type: integer, Default: 10, Validator: connect.AtLeast(1), Doc: "Most concurrent write requests."})
	def(connect.ConfigKey{Name: QueueSize, Type: long, Default: int64(-1), Validator: connect.AtLeast(-1), Importance: connect.Low, Doc: "Accepted for compatibility: writes are synchronous, so nothing queues."})
	def(connect.ConfigKey{Name: BigQueryRetry, Type: integer, Default: 0, Validator: connect.AtLeast(0), Doc: "Retries of a request that failed with a backend, quota, rate-limit or I/O error."})
	def(connect.ConfigKey{Name: BigQueryRetryWait, Type: long, Default: int64(1000), Validator: connect.AtLeast(0), Doc: "Wait before such a retry, in milliseconds, plus up to 1 s of jitter."})
	def(connect.ConfigKey{Name: MaxRetries, Type: integer, Default: 10, Validator: connect.AtLeast(1), Doc: "How many times in a row a batch that failed with a retriable error is redelivered before the task fails. " +
		"An unavailable BigQuery (no response, HTTP 5xx or 429, rate or quota limits) does not use these up: the batch is redelivered for as long as the outage lasts, " +
		"waiting bigQueryRetryWait doubled on each redelivery up to 10 s, and the task stays RUNNING."})

	in(groupPart)
	def(connect.ConfigKey{Name: PartitionDecorator, Type: boolean, Default: true, Doc: "Write to table$yyyyMMdd (the UTC day); needs a DAY-partitioned table."})
	def(connect.ConfigKey{Name: MessageTimePartitioning, Type: boolean, Default: false, Doc: "With decorators: take the day from the record timestamp instead of the clock."})
	def(connect.ConfigKey{Name: TimestampPartitionField, Type: str, Default: nil, Doc: "Partition created tables on this column instead of ingestion time."})
	def(connect.ConfigKey{Name: ClusteringFields, Type: list, Default: nil, Doc: "Clustering columns of created tables (at most 4; needs timestampPartitionFieldName)."})
	def(connect.ConfigKey{Name: TimePartitioningType, Type: str, Default: "DAY", Validator: connect.OneOfIgnoreCase("HOUR", "DAY", "MONTH", "YEAR", "NONE"), Doc: "Partitioning of created tables: HOUR, DAY, MONTH, YEAR or NONE."})
	def(connect.ConfigKey{Name: PartitionExpirationMs, Type: long, Default: nil, Validator: nilOrAtLeast(1), Doc: "Partition expiration of created tables, in milliseconds."})

	in(groupStorage)
	def(connect.ConfigKey{Name: UseStorageWriteAPI, Type: boolean, Default: false, Doc: "Write through the Storage Write API instead of insertAll. Not with upsert or delete."})
	def(connect.ConfigKey{Name: EnableBatchMode, Type: boolean, Default: false, Doc: "With the Storage Write API: write into PENDING streams committed every commitInterval seconds; offsets are committed only after their stream."})
	def(connect.ConfigKey{Name: CommitInterval, Type: integer, Default: 60, Validator: connect.Between(15, 14400), Doc: "Seconds between commits of PENDING streams in batch mode."})

	in(groupBatch)
	def(connect.ConfigKey{Name: EnableBatchLoad, Type: list, Default: "", Importance: connect.Low, Doc: "Not supported by Ferry (GCS load jobs); must be empty."})
	def(connect.ConfigKey{Name: GCSBucketName, Type: str, Default: "", Importance: connect.Low, Doc: "Accepted for compatibility."})
	def(connect.ConfigKey{Name: GCSFolderName, Type: str, Default: "", Importance: connect.Low, Doc: "Accepted for compatibility."})
	def(connect.ConfigKey{Name: BatchLoadIntervalSec, Type: integer, Default: 120, Importance: connect.Low, Doc: "Accepted for compatibility."})
	def(connect.ConfigKey{Name: AutoCreateBucket, Type: boolean, Default: true, Importance: connect.Low, Doc: "Accepted for compatibility."})
	return d
}

func minusOneOrAtLeast(min int64) connect.Validator {
	return connect.ValidatorFunc(fmt.Sprintf("-1 or [%d,...]", min), func(v any) error {
		n, _ := v.(int64)
		if n != -1 && n < min {
			return fmt.Errorf("Value must be -1 or at least %d", min)
		}
		return nil
	})
}

func nilOrAtLeast(min int64) connect.Validator {
	return connect.ValidatorFunc(fmt.Sprintf("null or [%d,...]", min), func(v any) error {
		if n, ok := v.(int64); ok && n < min {
			return fmt.Errorf("Value must be at least %d", min)
		}
		return nil
	})
}

// settings is the parsed, cross-checked configuration.
type settings struct {
	project, dataset    string
	keyfile, keySource  string
	useCredsProject     bool
	endpoint, storageEP string
	autoCreate          bool
	sanitizeTopics      bool
	topicToTable        map[string]string
	intermediateSuffix  string
	allowNewFields      bool
	allowRelaxation     bool
	unionize            bool
	allNullable         bool
	sanitizeFields      bool
	ignoreUnknown       bool
	keyField, dataField string
	trackPutAttempts    bool
	preserveOriginal    bool
	convertSpecial      bool
	decimalMode         string
	varScaleMode        string
	debeziumTSInteger   bool
	upsert, delete      bool
	mergeInterval       time.Duration // 0: off
	mergeThreshold      int64         // 0: off
	mergeWait           time.Duration
	threads             int
	retries             int
	retryWait           time.Duration
	maxRetries          int
	decorator           bool
	messageTime         bool
	partitionField      string
	clustering          []string
	partitioningType    string
	partitionExpiration time.Duration
	storageAPI          bool
	batchMode           bool
	commitInterval      time.Duration
}

// parseSettings parses and cross-checks props; the error names the key.
func parseSettings(props map[string]string) (*settings, error) {
	s, batchLoad, err := parseKeys(props)
	if err != nil {
		return nil, err
	}
	if errs := crossCheck(s, batchLoad); len(errs) > 0 {
		keys := slices.Sorted(maps.Keys(errs))
		return nil, &connect.ConfigError{Name: keys[0], Message: keys[0] + ": " + errs[keys[0]][0]}
	}
	return s, nil
}

// parseKeys parses props key by key, without the cross-key rules.
func parseKeys(props map[string]string) (*settings, []string, error) {
	c, err := ConfigDef().Parse(props)
	if err != nil {
		return nil, nil, err
	}
	s := &settings{
		project:            c.String(Project),
		dataset:            c.String(DefaultDataset),
		keySource:          c.String(KeySource),
		useCredsProject:    c.Bool(UseCredentialsProjectID),
		endpoint:           c.String(Endpoint),
		storageEP:          c.String(StorageEndpoint),
		autoCreate:         c.Bool(AutoCreateTables),
		sanitizeTopics:     c.Bool(SanitizeTopics),
		intermediateSuffix: c.String(IntermediateTableSuffix),
		allowNewFields:     c.Bool(AllowNewFields),
		allowRelaxation:    c.Bool(AllowRequiredRelaxation),
		unionize:           c.Bool(AllowSchemaUnionization),
		allNullable:        c.Bool(AllFieldsNullable),
		sanitizeFields:     c.Bool(SanitizeFieldNames),
		ignoreUnknown:      c.Bool(IgnoreUnknownFields),
		keyField:           c.String(KafkaKeyFieldName),
		dataField:          c.String(KafkaDataFieldName),
		trackPutAttempts:   c.Bool(TrackPutAttempts),
		preserveOriginal:   c.Bool(PreserveTopicPartitionOffset),
		convertSpecial:     c.Bool(ConvertDoubleSpecialValues),
		decimalMode:        strings.ToUpper(c.String(DecimalHandlingMode)),
		varScaleMode:       strings.ToUpper(c.String(VariableScaleDecimalMode)),
		debeziumTSInteger:  c.Bool(ConvertDebeziumTimestamp),
		upsert:             c.Bool(UpsertEnabled),
		delete:             c.Bool(DeleteEnabled),
		mergeWait:          time.Duration(c.Long(MergeStreamingWaitMs)) * time.Millisecond,
		threads:            c.Int(ThreadPoolSize),
		retries:            c.Int(BigQueryRetry),
		retryWait:          time.Duration(c.Long(BigQueryRetryWait)) * time.Millisecond,
		maxRetries:         c.Int(MaxRetries),
		decorator:          c.Bool(PartitionDecorator),
		messageTime:        c.Bool(MessageTimePartitioning),
		partitionField:     c.String(TimestampPartitionField),
		clustering:         c.List(ClusteringFields),
		partitioningType:   strings.ToUpper(c.String(TimePartitioningType)),
		storageAPI:         c.Bool(UseStorageWriteAPI),
		batchMode:          c.Bool(EnableBatchMode),
		commitInterval:     time.Duration(c.Int(CommitInterval)) * time.Second,
	}
	if c.Bool(ConvertDebeziumVarScale) {
		s.varScaleMode = "NUMERIC"
	}
	s.keyfile = c.Password(Keyfile).Value()
	if n := c.Long(MergeIntervalMs); n > 0 {
		s.mergeInterval = time.Duration(n) * time.Millisecond
	}
	if n := c.Long(MergeRecordsThreshold); n > 0 {
		s.mergeThreshold = n
	}
	if c.IsSet(PartitionExpirationMs) {
		s.partitionExpiration = time.Duration(c.Long(PartitionExpirationMs)) * time.Millisecond
	}
	m, err := parseTopicMap(c.String(Topic2TableMap))
	if err != nil {
		return nil, nil, &connect.ConfigError{Name: Topic2TableMap, Value: c.String(Topic2TableMap), HasVal: true, Message: err.Error()}
	}
	s.topicToTable = m
	return s, c.List(EnableBatchLoad), nil
}

// crossCheck applies the rules that span keys, reporting each under the key
// to fix.
func crossCheck(s *settings, batchLoad []string) map[string][]string {
	errs := map[string][]string{}
	add := func(k, f string, a ...any) { errs[k] = append(errs[k], fmt.Sprintf(f, a...)) }
	if (s.upsert || s.delete) && s.keyField == "" {
		add(KafkaKeyFieldName, "%s must be set when %s or %s is true", KafkaKeyFieldName, UpsertEnabled, DeleteEnabled)
	}
	if (s.upsert || s.delete) && s.mergeInterval == 0 && s.mergeThreshold == 0 {
		add(MergeIntervalMs, "%s and %s cannot both be -1", MergeIntervalMs, MergeRecordsThreshold)
	}
	if s.storageAPI && (s.upsert || s.delete) {
		add(UseStorageWriteAPI, "the Storage Write API cannot be combined with %s or %s", UpsertEnabled, DeleteEnabled)
	}
	if s.batchMode && !s.storageAPI {
		add(EnableBatchMode, "%s needs %s=true", EnableBatchMode, UseStorageWriteAPI)
	}
	if s.batchMode && s.decorator {
		// The Java connector refuses this combination too: PENDING streams
		// cannot target a partition decorator.
		add(PartitionDecorator, "partition decorators cannot be used with %s; set %s=false", EnableBatchMode, PartitionDecorator)
	}
	if s.decorator && s.partitionField != "" {
		add(PartitionDecorator, "partition decorators cannot be used with %s; set %s=false", TimestampPartitionField, PartitionDecorator)
	}
	if len(s.clustering) > 4 {
		add(ClusteringFields, "at most 4 clustering fields are allowed, got %d", len(s.clustering))
	}
	if len(s.clustering) > 0 && s.partitionField == "" {
		add(ClusteringFields, "clustering needs %s", TimestampPartitionField)
	}
	if len(batchLoad) > 0 {
		add(EnableBatchLoad, "GCS batch loading is not supported by Ferry; remove %s (streaming inserts or useStorageWriteApi=true write the same rows)", EnableBatchLoad)
	}
	switch s.keySource {
	case keySourceAppDefault:
		if s.keyfile != "" {
			add(Keyfile, "%s must be empty when %s=%s", Keyfile, KeySource, keySourceAppDefault)
		}
	default:
		if s.keyfile == "" && !isPlainHTTP(s.endpoint) {
			add(Keyfile, "%s is required when %s=%s (or set %s=%s)", Keyfile, KeySource, s.keySource, KeySource, keySourceAppDefault)
		}
	}
	return errs
}

// parseTopicMap parses topic2TableMap ("t1:tbl1, t2:tbl2").
func parseTopicMap(v string) (map[string]string, error) {
	m := map[string]string{}
	if strings.TrimSpace(v) == "" {
		return m, nil
	}
	for _, pair := range strings.Split(v, ",") {
		topic, table, ok := strings.Cut(pair, ":")
		topic, table = strings.TrimSpace(topic), strings.TrimSpace(table)
		if !ok || topic == "" || table == "" || strings.Contains(table, ":") {
			return nil, fmt.Errorf("invalid topic:table pair %q", strings.TrimSpace(pair))
		}
		if _, dup := m[topic]; dup {
			return nil, fmt.Errorf("topic %q is mapped more than once", topic)
		}
		m[topic] = table
	}
	return m, nil
}

func isPlainHTTP(u string) bool { return strings.HasPrefix(strings.ToLower(u), "http://") }

// validateConfig reports cross-key problems for /config/validate, per key.
func validateConfig(props map[string]string) map[string][]string {
	s, batchLoad, err := parseKeys(props)
	if err != nil {
		var ce *connect.ConfigError
		if errors.As(err, &ce) && ce.Name == Topic2TableMap {
			return map[string][]string{Topic2TableMap: {ce.Message}}
		}
		return nil // single-key errors are reported by the ConfigDef itself
	}
	if errs := crossCheck(s, batchLoad); len(errs) > 0 {
		return errs
	}
	return nil
}
