package transforms

import (
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// RegexRouterConfigDef declares RegexRouter's keys.
func RegexRouterConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "regex", Type: connect.TypeString, Default: connect.NoDefault, Validator: regexValidator(),
			Importance: connect.High, Doc: "Regular expression to use for matching."}).
		Define(connect.ConfigKey{Name: "replacement", Type: connect.TypeString, Default: connect.NoDefault,
			Importance: connect.High, Doc: "Replacement string."})
}

// RegexRouter renames the topic when a regular expression matches all of
// it; the replacement uses Java's $n / ${name} group references.
type RegexRouter struct {
	noClose
	re   *javaRegex
	repl *replacement
	// routed memoises topic → new topic: records of a task mostly share
	// a few topics, and the regex is the costly part. A chain belongs to
	// one task goroutine, so no lock is needed.
	routed map[string]string
}

// maxRouted bounds the memo for tasks that see very many topics.
const maxRouted = 1024

// Configure implements connect.Transformation.
func (t *RegexRouter) Configure(props map[string]string) error {
	c, err := parse(RegexRouterConfigDef(), props)
	if err != nil {
		return err
	}
	if t.re, err = compileJavaRegex(c.String("regex")); err != nil {
		return err
	}
	t.repl = compileReplacement(c.String("replacement"), t.re.find)
	return nil
}

// Apply implements connect.Transformation.
func (t *RegexRouter) Apply(rec *connect.Record) (*connect.Record, error) {
	topic, ok := t.routed[rec.Topic]
	if !ok {
		if !t.re.full.MatchString(rec.Topic) {
			topic = rec.Topic
		} else {
			var err error
			if topic, err = t.re.replaceFirst(rec.Topic, t.repl); err != nil {
				return nil, connect.NewDataError("", err)
			}
		}
		if t.routed == nil || len(t.routed) >= maxRouted {
			t.routed = make(map[string]string)
		}
		t.routed[rec.Topic] = topic
	}
	if topic == rec.Topic {
		return rec, nil
	}
	out := *rec
	out.Topic = topic
	return &out, nil
}

// TimestampRouterConfigDef declares TimestampRouter's keys.
func TimestampRouterConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "topic.format", Type: connect.TypeString, Default: "${topic}-${timestamp}", Importance: connect.High,
			Doc: "Format string which can contain <code>${topic}</code> and <code>${timestamp}</code> as placeholders for the topic and timestamp, respectively."}).
		Define(connect.ConfigKey{Name: "timestamp.format", Type: connect.TypeString, Default: "yyyyMMdd", Importance: connect.High,
			Doc: "Format string for the timestamp that is compatible with <code>java.text.SimpleDateFormat</code>."})
}

// TimestampRouter renames the topic from a template of the original topic
// and the record timestamp formatted in UTC.
type TimestampRouter struct {
	noClose
	topicFormat string
	tsFormat    *dateFormat
}

// Configure implements connect.Transformation.
func (t *TimestampRouter) Configure(props map[string]string) error {
	c, err := parse(TimestampRouterConfigDef(), props)
	if err != nil {
		return err
	}
	t.topicFormat = c.String("topic.format")
	if t.tsFormat, err = compileDateFormat(c.String("timestamp.format")); err != nil {
		return &connect.ConfigError{Name: "timestamp.format", Value: c.String("timestamp.format"), HasVal: true, Message: err.Error()}
	}
	return nil
}

// Apply implements connect.Transformation.
func (t *TimestampRouter) Apply(rec *connect.Record) (*connect.Record, error) {
	if rec.Timestamp.IsZero() {
		return nil, dataError("Timestamp missing on record: %s", describeRecord(rec))
	}
	topic := strings.ReplaceAll(t.topicFormat, "${topic}", rec.Topic)
	topic = strings.ReplaceAll(topic, "${timestamp}", t.tsFormat.Format(rec.Timestamp))
	out := *rec
	out.Topic = topic
	return &out, nil
}

// describeRecord renders the coordinates of a record for error messages.
func describeRecord(rec *connect.Record) string {
	var b strings.Builder
	b.WriteString("ConnectRecord{topic='")
	b.WriteString(rec.Topic)
	b.WriteString("', kafkaPartition=")
	if rec.Partition >= 0 {
		b.WriteString(connect.FormatValue(rec.Partition))
	} else {
		b.WriteString("null")
	}
	b.WriteString(", key=")
	b.WriteString(connect.FormatValue(rec.Key))
	b.WriteString(", keySchema=")
	b.WriteString(rec.KeySchema.String())
	b.WriteString(", value=")
	b.WriteString(connect.FormatValue(rec.Value))
	b.WriteString(", valueSchema=")
	b.WriteString(rec.ValueSchema.String())
	b.WriteString(", timestamp=null}")
	return b.String()
}
