// Package sink is the JDBC sink connector, compatible with Confluent's
// io.confluent.connect.jdbc.JdbcSinkConnector: it writes the records of
// Kafka topics into MySQL/MariaDB, PostgreSQL or SQLite tables with
// insert, upsert or update statements, optionally creating and evolving the
// tables and applying tombstones as deletes.
//
// Records must carry a schema and a Struct value (JsonConverter with
// schemas.enable=true, or any converter that yields Structs). Schemaless
// values such as plain JSON maps are refused with a data error, as
// Confluent's connector does: column types and nullability cannot be
// derived from them. With a dead letter queue (errant record reporter)
// such records are reported and skipped; otherwise the task fails.
//
// Writing: each Put runs in one transaction. Records are grouped per
// table; rows go out in multi-row INSERT/upsert statements (at most
// batch.size rows, within the database's bind-parameter limit), deletes in
// multi-row DELETE … IN statements. Within a table the upserts of a batch
// run before its deletes, and a row that follows a delete forces a flush
// first, so a re-insert after a delete of the same key survives. A
// multi-row upsert keeps only the last row of each key.
//
// Differences from Confluent's connector:
//   - Only transient database errors (deadlock, lock timeout, SQLite
//     busy) are retried through connect.Retriable, up to max.retries times
//     in a row; constraint violations and other permanent errors fail the
//     task (or go to the dead letter queue) at once instead of after
//     max.retries × retry.backoff.ms. An unreachable database is retried
//     for as long as it stays unreachable, without using up max.retries.
//   - On MySQL/MariaDB, CREATE TABLE and ALTER TABLE commit implicitly, so
//     the rows written earlier in the same Put are committed with them;
//     redelivery after a failure is harmless with upsert.
//   - A tombstone for a table that does not exist yet is skipped (there is
//     nothing to delete) instead of creating the table.
//   - Not implemented: timestamp.fields.list, timestamp.precision.mode,
//     date.timezone, date.calendar.system, string.output.value.column.name,
//     table.types, jdbc.credentials.provider.class, and PostgreSQL casts for
//     json/jsonb/uuid columns. Those keys are accepted and ignored.
package sink

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
)

// Class names and version.
const (
	Class      = "io.confluent.connect.jdbc.JdbcSinkConnector"
	AivenClass = "io.aiven.connect.jdbc.JdbcSinkConnector"
	TaskClass  = "io.confluent.connect.jdbc.sink.JdbcSinkTask"
	Version    = "10.9.7"
)

// Configuration keys.
const (
	ConnectionURL      = "connection.url"
	ConnectionUser     = "connection.user"
	ConnectionPassword = "connection.password"
	ConnectionAttempts = "connection.attempts"
	ConnectionBackoff  = "connection.backoff.ms"
	DialectName        = "dialect.name"
	InsertMode         = "insert.mode"
	BatchSize          = "batch.size"
	DeleteEnabled      = "delete.enabled"
	TableNameFormat    = "table.name.format"
	PKMode             = "pk.mode"
	PKFields           = "pk.fields"
	FieldsWhitelist    = "fields.whitelist"
	ReplaceNullDefault = "replace.null.with.default"
	DBTimezone         = "db.timezone"
	AutoCreate         = "auto.create"
	AutoEvolve         = "auto.evolve"
	QuoteIdentifiers   = "quote.sql.identifiers"
	MaxRetries         = "max.retries"
	RetryBackoff       = "retry.backoff.ms"
)

// Plugin describes the JDBC sink connector.
func Plugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSink,
		Class:     Class,
		Aliases:   []string{AivenClass},
		Version:   Version,
		TaskClass: TaskClass,
		Config:    ConfigDef,
		New:       func() any { return &Connector{} },
		Doc:       "Writes records into MySQL/MariaDB, PostgreSQL or SQLite tables (insert, upsert, update, delete).",
	}
}

const (
	groupConnection = "Connection"
	groupWrites     = "Writes"
	groupData       = "Data Mapping"
	groupDDL        = "DDL Support"
	groupRetries    = "Retries"
)

func tzValidator() connect.Validator {
	return connect.ValidatorFunc("any valid time zone ID", func(v any) error {
		s, _ := v.(string)
		if _, err := time.LoadLocation(s); err != nil {
			return fmt.Errorf("Invalid time zone identifier")
		}
		return nil
	})
}

// ConfigDef declares the sink's keys with Confluent's defaults.
func ConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef()
	order := 0
	next := func() int { order++; return order }
	d.Define(connect.ConfigKey{Name: ConnectionURL, Type: connect.TypeString, Default: connect.NoDefault, Importance: connect.High, Group: groupConnection, OrderInGroup: next(), Width: connect.WidthLong, DisplayName: "JDBC URL",
		Doc: "JDBC connection URL: jdbc:mysql://host:3306/db, jdbc:mariadb://host:3306/db, jdbc:postgresql://host:5432/db or jdbc:sqlite:<path>. user and password query parameters are honoured; connection.user and connection.password take precedence."})
	d.Define(connect.ConfigKey{Name: ConnectionUser, Type: connect.TypeString, Default: nil, Importance: connect.High, Group: groupConnection, OrderInGroup: next(), Width: connect.WidthMedium, DisplayName: "JDBC User", Doc: "JDBC connection user."})
	d.Define(connect.ConfigKey{Name: ConnectionPassword, Type: connect.TypePassword, Default: nil, Importance: connect.High, Group: groupConnection, OrderInGroup: next(), Width: connect.WidthMedium, DisplayName: "JDBC Password", Doc: "JDBC connection password."})
	d.Define(connect.ConfigKey{Name: DialectName, Type: connect.TypeString, Default: "", Importance: connect.Low, Group: groupConnection, OrderInGroup: next(), Width: connect.WidthLong, DisplayName: "Database Dialect",
		Validator: connect.ValidatorFunc("[, MySqlDatabaseDialect, PostgreSqlDatabaseDialect, SqliteDatabaseDialect]", func(v any) error {
			if s, _ := v.(string); s != "" {
				if _, err := dialect.ByName(s); err != nil {
					return err
				}
			}
			return nil
		}),
		Doc: "The database dialect. Empty means it is chosen from the connection.url subprotocol."})
	d.Define(connect.ConfigKey{Name: ConnectionAttempts, Type: connect.TypeInt, Default: 3, Validator: connect.AtLeast(1), Importance: connect.Low, Group: groupConnection, OrderInGroup: next(), Width: connect.WidthShort, DisplayName: "JDBC connection attempts", Doc: "How many times to try to open a connection at task start."})
	d.Define(connect.ConfigKey{Name: ConnectionBackoff, Type: connect.TypeLong, Default: int64(10000), Importance: connect.Low, Group: groupConnection, OrderInGroup: next(), Width: connect.WidthShort, DisplayName: "JDBC connection backoff in milliseconds", Doc: "Wait between connection attempts, in milliseconds."})

	order = 0
	d.Define(connect.ConfigKey{Name: InsertMode, Type: connect.TypeString, Default: "insert", Validator: connect.OneOfIgnoreCase("insert", "upsert", "update"), Importance: connect.High, Group: groupWrites, OrderInGroup: next(), Width: connect.WidthMedium, DisplayName: "Insert Mode",
		Doc: "insert: plain INSERT. upsert: insert or update by primary key (MySQL ON DUPLICATE KEY UPDATE, PostgreSQL ON CONFLICT DO UPDATE, SQLite INSERT OR REPLACE). update: UPDATE by primary key."})
	d.Define(connect.ConfigKey{Name: BatchSize, Type: connect.TypeInt, Default: 3000, Validator: connect.AtLeast(0), Importance: connect.Medium, Group: groupWrites, OrderInGroup: next(), Width: connect.WidthShort, DisplayName: "Batch Size",
		Doc: "Most records written per table in one batch; rows are sent in multi-row statements. 0 means no limit."})
	d.Define(connect.ConfigKey{Name: DeleteEnabled, Type: connect.TypeBoolean, Default: false, Importance: connect.Medium, Group: groupWrites, OrderInGroup: next(), Width: connect.WidthShort, DisplayName: "Enable deletes",
		Doc: "Treat a null record value (tombstone) as a DELETE of the row with the record key. Requires pk.mode=record_key."})

	order = 0
	d.Define(connect.ConfigKey{Name: TableNameFormat, Type: connect.TypeString, Default: "${topic}", Validator: connect.NonEmptyString(), Importance: connect.Medium, Group: groupData, OrderInGroup: next(), Width: connect.WidthLong, DisplayName: "Table Name Format",
		Doc: "Destination table name; ${topic} is replaced by the record's topic. Parsed as [catalog.][schema.]table."})
	d.Define(connect.ConfigKey{Name: PKMode, Type: connect.TypeString, Default: "none", Validator: connect.OneOfIgnoreCase("none", "kafka", "record_key", "record_value"), Importance: connect.High, Group: groupData, OrderInGroup: next(), Width: connect.WidthMedium, DisplayName: "Primary Key Mode",
		Doc: "Where the primary key comes from: none; kafka (__connect_topic, __connect_partition, __connect_offset); record_key (the key, primitive or struct); record_value (fields of the value)."})
	d.Define(connect.ConfigKey{Name: PKFields, Type: connect.TypeList, Default: "", Importance: connect.Medium, Group: groupData, OrderInGroup: next(), Width: connect.WidthLong, DisplayName: "Primary Key Fields",
		Doc: "Primary key column names, read according to pk.mode: kafka: three names (or empty for the defaults); record_key: one name for a primitive key, a subset of key fields for a struct key (empty = all); record_value: value fields (empty = all)."})
	d.Define(connect.ConfigKey{Name: FieldsWhitelist, Type: connect.TypeList, Default: "", Importance: connect.Medium, Group: groupData, OrderInGroup: next(), Width: connect.WidthLong, DisplayName: "Fields Whitelist",
		Doc: "Value fields written as non-key columns; empty means all of them."})
	d.Define(connect.ConfigKey{Name: ReplaceNullDefault, Type: connect.TypeBoolean, Default: true, Importance: connect.Medium, Group: groupData, OrderInGroup: next(), Width: connect.WidthShort, DisplayName: "Replace null with default",
		Doc: "Write a field's schema default when its value is null."})
	d.Define(connect.ConfigKey{Name: DBTimezone, Type: connect.TypeString, Default: "UTC", Validator: tzValidator(), Importance: connect.Medium, Group: groupData, OrderInGroup: next(), Width: connect.WidthMedium, DisplayName: "DB Time Zone",
		Doc: "Time zone in which TIME and TIMESTAMP values are written (as wall-clock values)."})

	order = 0
	d.Define(connect.ConfigKey{Name: AutoCreate, Type: connect.TypeBoolean, Default: false, Importance: connect.Medium, Group: groupDDL, OrderInGroup: next(), Width: connect.WidthShort, DisplayName: "Auto-Create",
		Doc: "Create a missing destination table (CREATE TABLE) from the record schema and pk.mode."})
	d.Define(connect.ConfigKey{Name: AutoEvolve, Type: connect.TypeBoolean, Default: false, Importance: connect.Medium, Group: groupDDL, OrderInGroup: next(), Width: connect.WidthShort, DisplayName: "Auto-Evolve",
		Doc: "Add missing columns (ALTER TABLE ADD) when the record schema gains fields. Columns are never dropped or changed; a new field must be optional or have a default."})
	d.Define(connect.ConfigKey{Name: QuoteIdentifiers, Type: connect.TypeString, Default: "always", Validator: connect.OneOfIgnoreCase("always", "never"), Importance: connect.Medium, Group: groupDDL, OrderInGroup: next(), Width: connect.WidthMedium, DisplayName: "Quote Identifiers",
		Doc: "Whether to quote table and column names in SQL."})

	order = 0
	d.Define(connect.ConfigKey{Name: MaxRetries, Type: connect.TypeInt, Default: 10, Validator: connect.AtLeast(0), Importance: connect.Medium, Group: groupRetries, OrderInGroup: next(), Width: connect.WidthShort, DisplayName: "Maximum Retries",
		Doc: "How many times a batch that failed with a transient database error (deadlock, lock timeout) is redelivered before the task fails. " +
			"An unreachable database (refused or lost connection, server restarting) does not use these up: the batch is redelivered for as long as the outage lasts, " +
			"retry.backoff.ms doubled on each redelivery up to 10 s, and a task started during the outage connects when records arrive."})
	d.Define(connect.ConfigKey{Name: RetryBackoff, Type: connect.TypeInt, Default: 3000, Validator: connect.AtLeast(0), Importance: connect.Medium, Group: groupRetries, OrderInGroup: next(), Width: connect.WidthShort, DisplayName: "Retry Backoff (millis)",
		Doc: "Wait before a failed batch is redelivered, in milliseconds."})
	return d
}

// settings is the parsed, cross-checked configuration.
type settings struct {
	url, user, password string
	dialect             *dialect.Dialect
	attempts            int
	attemptBackoff      time.Duration
	insertMode          string
	batchSize           int
	deleteEnabled       bool
	tableFormat         string
	pkMode              string
	pkFields            []string
	whitelist           map[string]bool
	replaceNull         bool
	loc                 *time.Location
	autoCreate          bool
	autoEvolve          bool
	quote               bool
	maxRetries          int
	retryBackoff        time.Duration
}

// crossCheck applies the rules that involve more than one key, per key.
func crossCheck(insertMode, pkMode string, pkFields []string, deleteEnabled bool) map[string][]string {
	errs := map[string][]string{}
	if deleteEnabled && pkMode != "record_key" {
		errs[DeleteEnabled] = append(errs[DeleteEnabled], fmt.Sprintf("Primary key mode must be 'record_key' when delete support is enabled (pk.mode is '%s')", pkMode))
	}
	if (insertMode == "upsert" || insertMode == "update") && pkMode == "none" {
		errs[PKMode] = append(errs[PKMode], fmt.Sprintf("insert.mode=%s needs a primary key: set pk.mode to kafka, record_key or record_value", insertMode))
	}
	if pkMode == "kafka" && len(pkFields) != 0 && len(pkFields) != 3 {
		errs[PKFields] = append(errs[PKFields], "With pk.mode=kafka, pk.fields must be empty or list exactly 3 names (topic, partition and offset columns)")
	}
	if pkMode == "none" && len(pkFields) != 0 {
		errs[PKFields] = append(errs[PKFields], "pk.fields must be empty when pk.mode=none")
	}
	return errs
}

func parseSettings(props map[string]string) (*settings, error) {
	cfg, err := ConfigDef().Parse(props)
	if err != nil {
		return nil, err
	}
	s := &settings{
		url:            cfg.String(ConnectionURL),
		user:           cfg.String(ConnectionUser),
		password:       cfg.Password(ConnectionPassword).Value(),
		attempts:       cfg.Int(ConnectionAttempts),
		attemptBackoff: time.Duration(cfg.Long(ConnectionBackoff)) * time.Millisecond,
		insertMode:     strings.ToLower(cfg.String(InsertMode)),
		batchSize:      cfg.Int(BatchSize),
		deleteEnabled:  cfg.Bool(DeleteEnabled),
		tableFormat:    cfg.String(TableNameFormat),
		pkMode:         strings.ToLower(cfg.String(PKMode)),
		pkFields:       cfg.List(PKFields),
		replaceNull:    cfg.Bool(ReplaceNullDefault),
		autoCreate:     cfg.Bool(AutoCreate),
		autoEvolve:     cfg.Bool(AutoEvolve),
		quote:          strings.EqualFold(cfg.String(QuoteIdentifiers), "always"),
		maxRetries:     cfg.Int(MaxRetries),
		retryBackoff:   time.Duration(cfg.Int(RetryBackoff)) * time.Millisecond,
	}
	for key, msgs := range crossCheck(s.insertMode, s.pkMode, s.pkFields, s.deleteEnabled) {
		return nil, &connect.ConfigError{Name: key, Value: props[key], HasVal: true, Message: msgs[0]}
	}
	if s.loc, err = time.LoadLocation(cfg.String(DBTimezone)); err != nil {
		return nil, fmt.Errorf("%s: %w", DBTimezone, err)
	}
	if wl := cfg.List(FieldsWhitelist); len(wl) > 0 {
		s.whitelist = map[string]bool{}
		for _, f := range wl {
			s.whitelist[f] = true
		}
	}
	target, err := dialect.ParseURL(s.url, s.user, s.password)
	if err != nil {
		return nil, &connect.ConfigError{Name: ConnectionURL, Value: s.url, HasVal: true, Message: err.Error()}
	}
	s.dialect = target.Dialect
	if name := cfg.String(DialectName); name != "" {
		d, err := dialect.ByName(name)
		if err != nil {
			return nil, err
		}
		if d.Kind() != target.Dialect.Kind() {
			return nil, &connect.ConfigError{Name: DialectName, Value: name, HasVal: true,
				Message: fmt.Sprintf("does not match the connection.url database (%s)", target.Dialect.Name())}
		}
	}
	s.dialect = s.dialect.WithQuoting(s.quote)
	return s, nil
}

// validateConfig is the ConfigValidator body: cross-key checks, per key.
func validateConfig(props map[string]string) map[string][]string {
	cfg, err := ConfigDef().Parse(props)
	if err != nil {
		return nil // single-key errors are reported by the ConfigDef itself
	}
	errs := crossCheck(strings.ToLower(cfg.String(InsertMode)), strings.ToLower(cfg.String(PKMode)), cfg.List(PKFields), cfg.Bool(DeleteEnabled))
	target, err := dialect.ParseURL(cfg.String(ConnectionURL), "", "")
	if err != nil {
		errs[ConnectionURL] = append(errs[ConnectionURL], err.Error())
	} else if name := cfg.String(DialectName); name != "" {
		if d, err := dialect.ByName(name); err == nil && d.Kind() != target.Dialect.Kind() {
			errs[DialectName] = append(errs[DialectName], fmt.Sprintf("%s does not match the connection.url database (%s)", name, target.Dialect.Name()))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return maps.Clone(errs)
}
