package runtime

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// Framework connector keys (Apache's ConnectorConfig, SinkConnectorConfig,
// SourceConnectorConfig).
const (
	KeyName               = "name"
	KeyConnectorClass     = "connector.class"
	KeyTasksMax           = "tasks.max"
	KeyTasksMaxEnforce    = "tasks.max.enforce"
	KeyKeyConverter       = "key.converter"
	KeyValueConverter     = "value.converter"
	KeyHeaderConverter    = "header.converter"
	KeyTransforms         = "transforms"
	KeyPredicates         = "predicates"
	KeyConfigActionReload = "config.action.reload"
	KeyErrorsRetryTimeout = "errors.retry.timeout"
	KeyErrorsRetryDelay   = "errors.retry.delay.max.ms"
	KeyErrorsTolerance    = "errors.tolerance"
	KeyErrorsLogEnable    = "errors.log.enable"
	KeyErrorsLogMessages  = "errors.log.include.messages"

	KeyTopics          = "topics"
	KeyTopicsRegex     = "topics.regex"
	KeyDLQTopic        = "errors.deadletterqueue.topic.name"
	KeyDLQReplication  = "errors.deadletterqueue.topic.replication.factor"
	KeyDLQContextHdrs  = "errors.deadletterqueue.context.headers.enable"
	KeyTopicGroups     = "topic.creation.groups"
	KeyExactlyOnce     = "exactly.once.support"
	KeyTxnBoundary     = "transaction.boundary"
	KeyTxnInterval     = "transaction.boundary.interval.ms"
	KeyOffsetsTopic    = "offsets.storage.topic"
	KeyTaskClass       = "task.class"
	groupCommon        = "Common"
	groupTransforms    = "Transforms"
	groupPredicates    = "Predicates"
	groupErrors        = "Error Handling"
	groupTopicCreation = "Topic Creation"
	groupExactlyOnce   = "Exactly Once Support"
	groupOffsetsTopic  = "offsets.topic"
	groupRestart       = "Automatic Restart"
)

var controlChars = regexp.MustCompile(`[\x00-\x1f\x7f-\x9f]`)

func connectorNameValidator() connect.Validator {
	return connect.ValidatorFunc("non-empty string without ISO control characters", func(v any) error {
		s, _ := v.(string)
		if s == "" {
			return fmt.Errorf("String may not be empty")
		}
		if controlChars.MatchString(s) {
			return fmt.Errorf("String may not contain control characters")
		}
		return nil
	})
}

// commonDef declares the keys every connector has.
func commonDef() *connect.ConfigDef {
	d := connect.NewConfigDef()
	d.Define(connect.ConfigKey{Name: KeyName, Type: connect.TypeString, Default: connect.NoDefault, Validator: connectorNameValidator(),
		Importance: connect.High, Doc: "Globally unique name to use for this connector.", Group: groupCommon, OrderInGroup: 1, Width: connect.WidthMedium, DisplayName: "Connector name"})
	d.Define(connect.ConfigKey{Name: KeyConnectorClass, Type: connect.TypeString, Default: connect.NoDefault,
		Importance: connect.High, Doc: "Name or alias of the connector plugin, for example io.confluent.connect.jdbc.JdbcSourceConnector or FileStreamSink.", Group: groupCommon, OrderInGroup: 2, Width: connect.WidthLong, DisplayName: "Connector class"})
	d.Define(connect.ConfigKey{Name: KeyTasksMax, Type: connect.TypeInt, Default: 1, Validator: connect.AtLeast(1),
		Importance: connect.High, Doc: "Maximum number of tasks to run for this connector.", Group: groupCommon, OrderInGroup: 3, Width: connect.WidthShort, DisplayName: "Tasks max"})
	d.Define(connect.ConfigKey{Name: KeyTasksMaxEnforce, Type: connect.TypeBoolean, Default: true,
		Importance: connect.Low, Doc: "Deprecated. Fail the connector when it generates more task configs than tasks.max.", Group: groupCommon, OrderInGroup: 4, Width: connect.WidthShort, DisplayName: "Enforce tasks max"})
	for i, k := range []string{KeyKeyConverter, KeyValueConverter, KeyHeaderConverter} {
		d.Define(connect.ConfigKey{Name: k, Type: connect.TypeClass, Default: nil,
			Importance: connect.Low, Doc: "Converter class for this connector, overriding the worker's " + k + ".", Group: groupCommon, OrderInGroup: 5 + i, Width: connect.WidthShort, DisplayName: strings.ToUpper(k[:1]) + k[1:]})
	}
	d.Define(connect.ConfigKey{Name: KeyTransforms, Type: connect.TypeList, Default: []string{}, Validator: uniqueAliases(),
		Importance: connect.Low, Doc: "Aliases of the transformations to apply to records, in order.", Group: groupTransforms, OrderInGroup: 8, Width: connect.WidthLong, DisplayName: "Transforms"})
	d.Define(connect.ConfigKey{Name: KeyPredicates, Type: connect.TypeList, Default: []string{}, Validator: uniqueAliases(),
		Importance: connect.Low, Doc: "Aliases of the predicates transformations may be conditioned on.", Group: groupPredicates, OrderInGroup: 9, Width: connect.WidthLong, DisplayName: "Predicates"})
	d.Define(connect.ConfigKey{Name: KeyConfigActionReload, Type: connect.TypeString, Default: "restart", Validator: connect.OneOfIgnoreCase("none", "restart"),
		Importance: connect.Low, Doc: "What to do when a config provider reports that a value changed: restart the connector or do nothing.", Group: groupCommon, OrderInGroup: 10, Width: connect.WidthMedium, DisplayName: "Reload action"})
	d.Define(connect.ConfigKey{Name: KeyErrorsRetryTimeout, Type: connect.TypeLong, Default: int64(0),
		Importance: connect.Medium, Doc: "How long, in milliseconds, a failed operation is retried; 0 disables retries and -1 retries forever.", Group: groupErrors, OrderInGroup: 1, Width: connect.WidthMedium, DisplayName: "Retry Timeout for Errors"})
	d.Define(connect.ConfigKey{Name: KeyErrorsRetryDelay, Type: connect.TypeLong, Default: int64(60000),
		Importance: connect.Medium, Doc: "Longest wait, in milliseconds, between two retries of a failed operation.", Group: groupErrors, OrderInGroup: 2, Width: connect.WidthMedium, DisplayName: "Maximum Delay Between Retries for Errors"})
	d.Define(connect.ConfigKey{Name: KeyErrorsTolerance, Type: connect.TypeString, Default: "none", Validator: connect.OneOf("none", "all"),
		Importance: connect.Medium, Doc: "none fails the task on the first bad record; all skips records that cannot be converted or transformed.", Group: groupErrors, OrderInGroup: 3, Width: connect.WidthShort, DisplayName: "Error Tolerance"})
	d.Define(connect.ConfigKey{Name: KeyErrorsLogEnable, Type: connect.TypeBoolean, Default: false,
		Importance: connect.Medium, Doc: "Log every failed operation and problematic record.", Group: groupErrors, OrderInGroup: 4, Width: connect.WidthShort, DisplayName: "Log Errors"})
	d.Define(connect.ConfigKey{Name: KeyErrorsLogMessages, Type: connect.TypeBoolean, Default: false,
		Importance: connect.Medium, Doc: "Include the record itself in error logs.", Group: groupErrors, OrderInGroup: 5, Width: connect.WidthShort, DisplayName: "Log Error Details"})
	// Ferry extension: per-connector overrides of the worker's
	// restart.auto.* keys; unset means the worker's value.
	d.Define(connect.ConfigKey{Name: WRestartEnable, Type: connect.TypeBoolean, Default: nil,
		Importance: connect.Low, Doc: "Ferry extension: restart this connector and its tasks automatically when they fail; unset uses the worker's restart.auto.enable.", Group: groupRestart, OrderInGroup: 1, Width: connect.WidthShort, DisplayName: "Automatic restart"})
	d.Define(connect.ConfigKey{Name: WRestartMaxAttempts, Type: connect.TypeInt, Default: nil, Validator: connect.AtLeast(-1),
		Importance: connect.Low, Doc: "Ferry extension: automatic restarts in a row before the connector or a task stays FAILED; -1 means no limit; unset uses the worker's value.", Group: groupRestart, OrderInGroup: 2, Width: connect.WidthShort, DisplayName: "Automatic restart attempts"})
	d.Define(connect.ConfigKey{Name: WRestartBackoffInit, Type: connect.TypeLong, Default: nil, Validator: connect.AtLeast(1),
		Importance: connect.Low, Doc: "Ferry extension: delay in milliseconds before the first automatic restart; unset uses the worker's value.", Group: groupRestart, OrderInGroup: 3, Width: connect.WidthShort, DisplayName: "Automatic restart initial delay"})
	d.Define(connect.ConfigKey{Name: WRestartBackoffMax, Type: connect.TypeLong, Default: nil, Validator: connect.AtLeast(1),
		Importance: connect.Low, Doc: "Ferry extension: longest delay in milliseconds between automatic restarts; unset uses the worker's value.", Group: groupRestart, OrderInGroup: 4, Width: connect.WidthShort, DisplayName: "Automatic restart maximum delay"})
	return d
}

func uniqueAliases() connect.Validator {
	return connect.ValidatorFunc("unique aliases", func(v any) error {
		l, _ := v.([]string)
		seen := map[string]bool{}
		for _, a := range l {
			if seen[a] {
				return fmt.Errorf("Duplicate alias provided.")
			}
			seen[a] = true
		}
		return nil
	})
}

// SinkDef declares the framework keys of sink connectors.
func SinkDef() *connect.ConfigDef {
	d := commonDef()
	d.Define(connect.ConfigKey{Name: KeyTopics, Type: connect.TypeList, Default: []string{},
		Importance: connect.High, Doc: "Topics to consume, separated by commas.", Group: groupCommon, OrderInGroup: 4, Width: connect.WidthLong, DisplayName: "Topics"})
	d.Define(connect.ConfigKey{Name: KeyTopicsRegex, Type: connect.TypeString, Default: "", Validator: regexValidator(),
		Importance: connect.High, Doc: "Regular expression selecting the topics to consume; mutually exclusive with topics.", Group: groupCommon, OrderInGroup: 4, Width: connect.WidthLong, DisplayName: "Topics regex"})
	d.Define(connect.ConfigKey{Name: KeyDLQTopic, Type: connect.TypeString, Default: "",
		Importance: connect.Medium, Doc: "Topic receiving records that failed; empty disables the dead letter queue.", Group: groupErrors, OrderInGroup: 6, Width: connect.WidthMedium, DisplayName: "Dead Letter Queue Topic Name"})
	d.Define(connect.ConfigKey{Name: KeyDLQReplication, Type: connect.TypeShort, Default: int16(3),
		Importance: connect.Medium, Doc: "Replication factor used when the dead letter queue topic is created.", Group: groupErrors, OrderInGroup: 7, Width: connect.WidthMedium, DisplayName: "Dead Letter Queue Topic Replication Factor"})
	d.Define(connect.ConfigKey{Name: KeyDLQContextHdrs, Type: connect.TypeBoolean, Default: false,
		Importance: connect.Medium, Doc: "Add headers describing the failure to records sent to the dead letter queue.", Group: groupErrors, OrderInGroup: 8, Width: connect.WidthMedium, DisplayName: "Enable Error Context Headers"})
	return d
}

// SourceDef declares the framework keys of source connectors.
func SourceDef() *connect.ConfigDef {
	d := commonDef()
	d.Define(connect.ConfigKey{Name: KeyTopicGroups, Type: connect.TypeList, Default: []string{},
		Importance: connect.Low, Doc: "Extra topic creation groups besides default.", Group: groupTopicCreation, OrderInGroup: 1, Width: connect.WidthLong, DisplayName: "Topic Creation Groups"})
	d.Define(connect.ConfigKey{Name: KeyExactlyOnce, Type: connect.TypeString, Default: "requested", Validator: connect.OneOfIgnoreCase("requested", "required"),
		Importance: connect.Medium, Doc: "Whether exactly-once delivery is required for this connector.", Group: groupExactlyOnce, OrderInGroup: 1, Width: connect.WidthShort, DisplayName: "Exactly once support"})
	d.Define(connect.ConfigKey{Name: KeyTxnBoundary, Type: connect.TypeString, Default: "poll", Validator: connect.OneOfIgnoreCase("poll", "interval", "connector"),
		Importance: connect.Medium, Doc: "Where transactions begin and end when exactly-once is enabled.", Group: groupExactlyOnce, OrderInGroup: 2, Width: connect.WidthShort, DisplayName: "Transaction Boundary"})
	d.Define(connect.ConfigKey{Name: KeyTxnInterval, Type: connect.TypeLong, Default: nil, Validator: connect.AtLeast(0),
		Importance: connect.Low, Doc: "Transaction length in milliseconds with transaction.boundary=interval.", Group: groupExactlyOnce, OrderInGroup: 3, Width: connect.WidthShort, DisplayName: "Transaction boundary interval"})
	// Ferry extension: Apache's dead letter queue exists for sinks only.
	d.Define(connect.ConfigKey{Name: KeyDLQTopic, Type: connect.TypeString, Default: "",
		Importance: connect.Medium, Doc: "Ferry extension: topic receiving source records that failed conversion or transformation under errors.tolerance=all, as JSON with context headers; empty disables it.", Group: groupErrors, OrderInGroup: 6, Width: connect.WidthMedium, DisplayName: "Dead Letter Queue Topic Name"})
	d.Define(connect.ConfigKey{Name: KeyDLQReplication, Type: connect.TypeShort, Default: int16(3),
		Importance: connect.Medium, Doc: "Ferry extension: replication factor used when the source dead letter queue topic is created.", Group: groupErrors, OrderInGroup: 7, Width: connect.WidthMedium, DisplayName: "Dead Letter Queue Topic Replication Factor"})
	d.Define(connect.ConfigKey{Name: KeyDLQContextHdrs, Type: connect.TypeBoolean, Default: false,
		Importance: connect.Medium, Doc: "Ferry extension: add headers describing the failure to source records sent to the dead letter queue.", Group: groupErrors, OrderInGroup: 8, Width: connect.WidthMedium, DisplayName: "Enable Error Context Headers"})
	d.Define(connect.ConfigKey{Name: KeyOffsetsTopic, Type: connect.TypeString, Default: nil,
		Importance: connect.Low, Doc: "A separate offsets topic for this connector.", Group: groupOffsetsTopic, OrderInGroup: 1, Width: connect.WidthLong, DisplayName: "Offsets topic"})
	return d
}

func regexValidator() connect.Validator {
	return connect.ValidatorFunc("valid regex", func(v any) error {
		s, _ := v.(string)
		if _, err := regexp.Compile(s); err != nil {
			return fmt.Errorf("Must be a valid regular expression: %v", err)
		}
		return nil
	})
}

// FrameworkDef returns the framework keys for a connector kind.
func FrameworkDef(kind connect.PluginKind) *connect.ConfigDef {
	if kind == connect.KindSink {
		return SinkDef()
	}
	if kind == connect.KindSource {
		return SourceDef()
	}
	return commonDef()
}
