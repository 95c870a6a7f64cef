// Package datagen provides a mock-data source connector that answers to
// the class names of Confluent's kafka-connect-datagen and accepts its
// configuration keys, so that quickstart demos run unchanged.
//
// It generates the built-in quickstarts (orders, users, pageviews,
// stock_trades) natively; arbitrary Avro schemas (schema.string,
// schema.filename) are not supported.
package datagen

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// Version is the kafka-connect-datagen release whose behaviour this
// connector follows.
const Version = "0.6.7"

// Class names.
const (
	Class     = "io.confluent.kafka.connect.datagen.DatagenConnector"
	TaskClass = "io.confluent.kafka.connect.datagen.DatagenTask"
)

// Configuration keys.
const (
	TopicConfig          = "kafka.topic"
	MaxIntervalConfig    = "max.interval"
	IterationsConfig     = "iterations"
	SchemaStringConfig   = "schema.string"
	SchemaFilenameConfig = "schema.filename"
	SchemaKeyfieldConfig = "schema.keyfield"
	QuickstartConfig     = "quickstart"
	RandomSeedConfig     = "random.seed"
)

// Task config, source partition, source offset and header keys.
const (
	TaskIDKey           = "task.id"
	TaskGenerationKey   = "task.generation"
	CurrentIterationKey = "current.iteration"
	RandomSeedKey       = "random.seed"
)

const schemaSourceError = "Must set exactly one of schema.string, schema.filename, quickstart"

// Plugin describes the datagen connector.
func Plugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSource,
		Class:     Class,
		Version:   Version,
		TaskClass: TaskClass,
		Config:    configDef,
		New:       func() any { return &Connector{} },
		Doc:       "Generates mock records from built-in quickstart data sets.",
	}
}

func configDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: TopicConfig, Type: connect.TypeString, Default: connect.NoDefault, Importance: connect.High,
			Doc: "Topic the generated records are written to."}).
		Define(connect.ConfigKey{Name: MaxIntervalConfig, Type: connect.TypeLong, Default: int64(500), Importance: connect.High,
			Doc: "Upper bound, in milliseconds, of the random pause before each record. 0 generates as fast as possible."}).
		Define(connect.ConfigKey{Name: IterationsConfig, Type: connect.TypeInt, Default: -1, Importance: connect.High,
			Doc: "How many records each task generates; a value below 1 means no limit."}).
		Define(connect.ConfigKey{Name: SchemaStringConfig, Type: connect.TypeString, Default: "", Importance: connect.High,
			Doc: "Avro schema text to generate from. Not supported by this implementation; use quickstart."}).
		Define(connect.ConfigKey{Name: SchemaFilenameConfig, Type: connect.TypeString, Default: "", Importance: connect.High,
			Doc: "Path of an Avro schema file to generate from. Not supported by this implementation; use quickstart."}).
		Define(connect.ConfigKey{Name: SchemaKeyfieldConfig, Type: connect.TypeString, Default: "", Importance: connect.High,
			Doc: "Value field copied into the record key. Empty uses the quickstart's usual key field."}).
		Define(connect.ConfigKey{Name: QuickstartConfig, Type: connect.TypeString, Default: "", Importance: connect.High,
			Doc: "Built-in data set to generate, in any letter case.", Recommended: quickstartNames,
			Validator: connect.ValidatorFunc("["+strings.Join(quickstartNames, ", ")+"]", func(v any) error {
				s, _ := v.(string)
				if s == "" || quickstarts[strings.ToLower(s)] != nil {
					return nil
				}
				return fmt.Errorf("Unknown quickstart; supported are: %s", strings.Join(quickstartNames, ", "))
			})}).
		Define(connect.ConfigKey{Name: RandomSeedConfig, Type: connect.TypeLong, Default: nil, Importance: connect.Low,
			Doc: "Seed of the generator. Connectors with the same seed produce the same data; each task of a connector produces different data."})
}

// settings is a parsed and cross-checked config.
type settings struct {
	topic       string
	maxInterval int64
	iterations  int
	quickstart  *quickstart
	keyField    string
	seed        *int64
}

// parse parses config and applies the checks that span several keys.
func parse(config map[string]string) (*settings, error) {
	cfg, err := configDef().Parse(config)
	if err != nil {
		return nil, err
	}
	if errs := crossCheck(config); len(errs) > 0 {
		k := slices.Sorted(maps.Keys(errs))[0]
		return nil, errors.New(errs[k][0])
	}
	s := &settings{
		topic:       cfg.String(TopicConfig),
		maxInterval: max(cfg.Long(MaxIntervalConfig), 0),
		iterations:  cfg.Int(IterationsConfig),
		quickstart:  quickstarts[strings.ToLower(cfg.String(QuickstartConfig))],
		keyField:    cfg.String(SchemaKeyfieldConfig),
	}
	if s.keyField == "" {
		s.keyField = s.quickstart.keyField
	}
	if cfg.IsSet(RandomSeedConfig) {
		seed := cfg.Long(RandomSeedConfig)
		s.seed = &seed
	}
	return s, nil
}

// crossCheck returns per-key errors: exactly one schema source must be
// set, and it must be a quickstart that has the key field.
func crossCheck(config map[string]string) map[string][]string {
	get := func(k string) string { return strings.TrimSpace(config[k]) }
	errs := map[string][]string{}
	sources := []string{SchemaStringConfig, SchemaFilenameConfig, QuickstartConfig}
	var set []string
	for _, k := range sources {
		if get(k) != "" {
			set = append(set, k)
		}
	}
	switch len(set) {
	case 0:
		for _, k := range sources {
			errs[k] = append(errs[k], schemaSourceError)
		}
	case 1:
	default:
		for _, k := range set {
			errs[k] = append(errs[k], schemaSourceError)
		}
	}
	for _, k := range []string{SchemaStringConfig, SchemaFilenameConfig} {
		if get(k) != "" {
			errs[k] = append(errs[k], k+" is not supported by Ferry's datagen connector; use quickstart ("+
				strings.Join(quickstartNames, ", ")+")")
		}
	}
	name := strings.ToLower(get(QuickstartConfig))
	if q := quickstarts[name]; q != nil {
		if kf := get(SchemaKeyfieldConfig); kf != "" && q.schema.Field(kf) == nil {
			errs[SchemaKeyfieldConfig] = append(errs[SchemaKeyfieldConfig],
				fmt.Sprintf("The quickstart %s has no field %s", name, kf))
		}
	}
	return errs
}

// Connector is the datagen connector: tasks.max tasks, each generating its
// own stream.
type Connector struct {
	config map[string]string
}

var (
	_ connect.SourceConnector = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
)

// Start checks the config.
func (c *Connector) Start(_ context.Context, _ connect.ConnectorContext, config map[string]string) error {
	if _, err := parse(config); err != nil {
		return fmt.Errorf("Datagen connector could not start because of an error in the configuration: %w", err)
	}
	c.config = maps.Clone(config)
	return nil
}

// TaskConfigs returns maxTasks configs that differ only in task.id.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		tc := maps.Clone(c.config)
		tc[TaskIDKey] = strconv.Itoa(i)
		out[i] = tc
	}
	return out, nil
}

// Stop does nothing.
func (c *Connector) Stop() error { return nil }

// NewTask returns a fresh task.
func (c *Connector) NewTask() connect.SourceTask { return &Task{} }

// ValidateConfig reports the checks that span several keys.
func (c *Connector) ValidateConfig(config map[string]string) map[string][]string {
	return crossCheck(config)
}
