// Package source is a JDBC source connector that answers to Confluent's
// io.confluent.connect.jdbc.JdbcSourceConnector: it accepts the same
// configuration keys, runs the same SQL per mode (bulk, incrementing,
// timestamp, timestamp+incrementing, custom query) and stores offsets in
// the same shape, so an existing connector can move to Ferry and resume
// where it stopped.
//
// MySQL/MariaDB, PostgreSQL and SQLite are supported through the shared
// dialect package. Unlike Confluent's connector, rows are streamed from
// the open result set batch.max.rows at a time, so a large table never sits
// in memory whole.
package source

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Version is the kafka-connect-jdbc release whose behaviour this connector
// follows.
const Version = "10.9.0"

// Class names.
const (
	Class      = "io.confluent.connect.jdbc.JdbcSourceConnector"
	AivenClass = "io.aiven.connect.jdbc.JdbcSourceConnector"
	TaskClass  = "io.confluent.connect.jdbc.source.JdbcSourceTask"
)

// Configuration keys.
const (
	ConnectionURL          = "connection.url"
	ConnectionUser         = "connection.user"
	ConnectionPassword     = "connection.password"
	CredentialsProvider    = "jdbc.credentials.provider.class"
	ConnectionAttempts     = "connection.attempts"
	ConnectionBackoff      = "connection.backoff.ms"
	TableWhitelist         = "table.whitelist"
	TableBlacklist         = "table.blacklist"
	TableIncludeList       = "table.include.list"
	TableExcludeList       = "table.exclude.list"
	CatalogPattern         = "catalog.pattern"
	SchemaPattern          = "schema.pattern"
	NumericPrecision       = "numeric.precision.mapping"
	NumericMapping         = "numeric.mapping"
	DialectName            = "dialect.name"
	DateCalendarSystem     = "date.calendar.system"
	Mode                   = "mode"
	IncrementingColumn     = "incrementing.column.name"
	TimestampColumn        = "timestamp.column.name"
	TimestampColumnsMap    = "timestamp.columns.mapping"
	IncrementingColumnsMap = "incrementing.column.mapping"
	TimestampInitial       = "timestamp.initial"
	ValidateNonNull        = "validate.non.null"
	Query                  = "query"
	QueryMasked            = "query.masked"
	QuoteIdentifiers       = "quote.sql.identifiers"
	QuerySuffix            = "query.suffix"
	TransactionIsolation   = "transaction.isolation.mode"
	QueryRetryAttempts     = "query.retry.attempts"
	TableTypes             = "table.types"
	PollInterval           = "poll.interval.ms"
	BatchMaxRows           = "batch.max.rows"
	MaxBufferSize          = "max.buffer.size"
	PollLinger             = "poll.linger.ms"
	TablePollInterval      = "table.poll.interval.ms"
	TopicPrefix            = "topic.prefix"
	TimestampDelay         = "timestamp.delay.interval.ms"
	DBTimezone             = "db.timezone"
	TimestampGranularity   = "timestamp.granularity"
	StartupPollingLimit    = "table.monitoring.startup.polling.limit.ms"

	// Task config keys the connector fills in.
	TablesKey        = "tables"
	TablesFetchedKey = "tables.fetched"
)

// Modes.
const (
	ModeBulk                  = "bulk"
	ModeIncrementing          = "incrementing"
	ModeTimestamp             = "timestamp"
	ModeTimestampIncrementing = "timestamp+incrementing"
)

var modes = []string{ModeBulk, ModeTimestamp, ModeIncrementing, ModeTimestampIncrementing}

// numeric.mapping values.
const (
	NumericNone           = "none"
	NumericPrecisionOnly  = "precision_only"
	NumericBestFit        = "best_fit"
	NumericBestFitDouble  = "best_fit_eager_double"
	defaultCredentialsCls = "io.confluent.connect.jdbc.util.DefaultJdbcCredentialsProvider"
)

const (
	groupDatabase  = "Database"
	groupMode      = "Mode"
	groupConnector = "Connector"
)

var topicPrefixRE = regexp.MustCompile(`^[a-zA-Z0-9._-]*$`)

func configDef() *connect.ConfigDef {
	db := func(k connect.ConfigKey) connect.ConfigKey { k.Group = groupDatabase; return k }
	mode := func(k connect.ConfigKey) connect.ConfigKey { k.Group = groupMode; return k }
	conn := func(k connect.ConfigKey) connect.ConfigKey { k.Group = groupConnector; return k }
	return connect.NewConfigDef().
		Define(db(connect.ConfigKey{Name: ConnectionURL, Type: connect.TypeString, Default: "", Importance: connect.High, OrderInGroup: 1, Width: connect.WidthLong,
			Doc: "JDBC connection URL: jdbc:mysql://host:3306/db, jdbc:mariadb://…, jdbc:postgresql://host:5432/db or jdbc:sqlite:path."})).
		Define(db(connect.ConfigKey{Name: ConnectionUser, Type: connect.TypeString, Default: nil, Importance: connect.High, OrderInGroup: 2, Width: connect.WidthLong,
			Doc: "Database user; overrides a user given in the URL."})).
		Define(db(connect.ConfigKey{Name: ConnectionPassword, Type: connect.TypePassword, Default: nil, Importance: connect.High, OrderInGroup: 3, Width: connect.WidthShort,
			Doc: "Database password; overrides a password given in the URL."})).
		Define(db(connect.ConfigKey{Name: CredentialsProvider, Type: connect.TypeClass, Default: defaultCredentialsCls, Importance: connect.Low, OrderInGroup: 4, Width: connect.WidthLong,
			Doc: "Credentials provider. Only the default, which reads connection.user and connection.password, is supported."})).
		Define(db(connect.ConfigKey{Name: ConnectionAttempts, Type: connect.TypeInt, Default: 3, Validator: connect.AtLeast(1), Importance: connect.Low, OrderInGroup: 5, Width: connect.WidthShort,
			Doc: "How many times to try opening a working connection."})).
		Define(db(connect.ConfigKey{Name: ConnectionBackoff, Type: connect.TypeLong, Default: int64(10000), Importance: connect.Low, OrderInGroup: 6, Width: connect.WidthShort,
			Doc: "Milliseconds to wait between connection attempts."})).
		Define(db(connect.ConfigKey{Name: TableWhitelist, Type: connect.TypeList, Default: "", Importance: connect.Medium, OrderInGroup: 7, Width: connect.WidthLong,
			Doc: "Tables to copy, by exact name (bare, or fully qualified with or without quotes). Cannot be combined with table.blacklist."})).
		Define(db(connect.ConfigKey{Name: TableBlacklist, Type: connect.TypeList, Default: "", Importance: connect.Medium, OrderInGroup: 8, Width: connect.WidthLong,
			Doc: "Tables not to copy, matched like table.whitelist."})).
		Define(db(connect.ConfigKey{Name: TableIncludeList, Type: connect.TypeList, Default: []string{}, Importance: connect.Medium, OrderInGroup: 9, Width: connect.WidthLong,
			Doc: "Regular expressions matched against fully qualified table names; only matching tables are copied."})).
		Define(db(connect.ConfigKey{Name: TableExcludeList, Type: connect.TypeList, Default: []string{}, Importance: connect.Medium, OrderInGroup: 10, Width: connect.WidthLong,
			Doc: "Regular expressions removing tables that table.include.list matched."})).
		Define(db(connect.ConfigKey{Name: CatalogPattern, Type: connect.TypeString, Default: nil, Importance: connect.Medium, OrderInGroup: 11, Width: connect.WidthShort,
			Doc: "Catalog (MySQL database) the tables are listed from; unset lists every catalog the user can see."})).
		Define(db(connect.ConfigKey{Name: SchemaPattern, Type: connect.TypeString, Default: nil, Importance: connect.Medium, OrderInGroup: 12, Width: connect.WidthShort,
			Doc: "Schema (PostgreSQL) the tables are listed from; unset lists every schema but the system ones."})).
		Define(db(connect.ConfigKey{Name: NumericPrecision, Type: connect.TypeBoolean, Default: false, Importance: connect.Low, OrderInGroup: 13, Width: connect.WidthShort,
			Doc: "Deprecated: true means numeric.mapping=precision_only when numeric.mapping is not set."})).
		Define(db(connect.ConfigKey{Name: NumericMapping, Type: connect.TypeString, Default: nil, Importance: connect.Low, OrderInGroup: 14, Width: connect.WidthShort,
			Validator:   connect.OneOfIgnoreCase(NumericNone, NumericPrecisionOnly, NumericBestFit, NumericBestFitDouble),
			Recommended: []string{NumericNone, NumericPrecisionOnly, NumericBestFit, NumericBestFitDouble},
			Doc:         "How NUMERIC columns map to Connect types: none (Decimal), precision_only, best_fit or best_fit_eager_double."})).
		Define(db(connect.ConfigKey{Name: DialectName, Type: connect.TypeString, Default: "", Importance: connect.Low, OrderInGroup: 15, Width: connect.WidthLong,
			Recommended: []string{"", "MySqlDatabaseDialect", "PostgreSqlDatabaseDialect", "SqliteDatabaseDialect"},
			Doc:         "Database dialect; empty chooses it from the URL."})).
		Define(db(connect.ConfigKey{Name: DateCalendarSystem, Type: connect.TypeString, Default: "LEGACY", Importance: connect.Low, OrderInGroup: 16, Width: connect.WidthShort,
			Validator: connect.OneOfIgnoreCase("LEGACY", "PROLEPTIC_GREGORIAN"), Recommended: []string{"LEGACY", "PROLEPTIC_GREGORIAN"},
			Doc: "Calendar for dates before 1582. Ferry always uses the proleptic Gregorian calendar."})).
		Define(mode(connect.ConfigKey{Name: Mode, Type: connect.TypeString, Default: "", Importance: connect.High, OrderInGroup: 1, Width: connect.WidthMedium,
			Validator: connect.ValidatorFunc("["+strings.Join(modes, ", ")+"]", func(v any) error {
				s, _ := v.(string)
				if s == "" || slices.Contains(modes, s) {
					return nil
				}
				return fmt.Errorf("String must be one of: %s", strings.Join(modes, ", "))
			}),
			Recommended: modes,
			Doc:         "How tables are read: bulk (whole table each poll), incrementing, timestamp or timestamp+incrementing.",
			Dependents:  []string{IncrementingColumn, TimestampColumn, ValidateNonNull}})).
		Define(mode(connect.ConfigKey{Name: IncrementingColumn, Type: connect.TypeString, Default: "", Importance: connect.Medium, OrderInGroup: 2, Width: connect.WidthMedium,
			Doc: "Strictly increasing, NOT NULL column used to find new rows. Empty picks the table's auto-increment column."})).
		Define(mode(connect.ConfigKey{Name: TimestampColumn, Type: connect.TypeList, Default: "", Importance: connect.Medium, OrderInGroup: 3, Width: connect.WidthMedium,
			Doc: "Timestamp column(s) used to find new and updated rows; several are combined with COALESCE in the order listed."})).
		Define(mode(connect.ConfigKey{Name: TimestampColumnsMap, Type: connect.TypeList, Default: []string{}, Importance: connect.Medium, OrderInGroup: 4, Width: connect.WidthMedium,
			Doc: "regex:[col1|col2] entries choosing timestamp columns per table (with table.include.list). Not supported yet."})).
		Define(mode(connect.ConfigKey{Name: IncrementingColumnsMap, Type: connect.TypeList, Default: []string{}, Importance: connect.Medium, OrderInGroup: 5, Width: connect.WidthMedium,
			Doc: "regex:col entries choosing the incrementing column per table (with table.include.list). Not supported yet."})).
		Define(mode(connect.ConfigKey{Name: TimestampInitial, Type: connect.TypeLong, Default: nil, Importance: connect.Low, OrderInGroup: 6, Width: connect.WidthMedium,
			Doc: "Epoch milliseconds to start from when no offset is stored; -1 means the database's current time; unset starts at the epoch."})).
		Define(mode(connect.ConfigKey{Name: ValidateNonNull, Type: connect.TypeBoolean, Default: true, Importance: connect.Low, OrderInGroup: 7, Width: connect.WidthShort,
			Doc: "Check at start that the incrementing column and at least one timestamp column are NOT NULL."})).
		Define(mode(connect.ConfigKey{Name: Query, Type: connect.TypeString, Default: "", Importance: connect.Medium, OrderInGroup: 8, Width: connect.WidthShort,
			Doc: "Custom SELECT to run instead of listing tables. Incremental modes append WHERE … ORDER BY …, so wrap a query that has its own WHERE as SELECT * FROM (…) t."})).
		Define(mode(connect.ConfigKey{Name: QueryMasked, Type: connect.TypePassword, Default: "", Importance: connect.Medium, OrderInGroup: 9, Width: connect.WidthShort,
			Doc: "Same as query, hidden in logs and REST output. Set only one of the two."})).
		Define(mode(connect.ConfigKey{Name: QuoteIdentifiers, Type: connect.TypeString, Default: "always", Importance: connect.Medium, OrderInGroup: 10, Width: connect.WidthShort,
			Validator: connect.OneOfIgnoreCase("always", "never"), Recommended: []string{"always", "never"},
			Doc: "Whether table and column names are quoted in generated SQL."})).
		Define(mode(connect.ConfigKey{Name: QuerySuffix, Type: connect.TypeString, Default: "", Importance: connect.Low, OrderInGroup: 11, Width: connect.WidthMedium,
			Doc: "Text appended to every generated query."})).
		Define(mode(connect.ConfigKey{Name: TransactionIsolation, Type: connect.TypeString, Default: "DEFAULT", Importance: connect.Low, OrderInGroup: 12, Width: connect.WidthMedium,
			Validator:   connect.OneOfIgnoreCase("DEFAULT", "READ_UNCOMMITTED", "READ_COMMITTED", "REPEATABLE_READ", "SERIALIZABLE", "SQL_SERVER_SNAPSHOT"),
			Recommended: []string{"DEFAULT", "READ_UNCOMMITTED", "READ_COMMITTED", "REPEATABLE_READ", "SERIALIZABLE", "SQL_SERVER_SNAPSHOT"},
			Doc:         "Isolation level of the read transactions. Accepted; Ferry reads with the database's default level."})).
		Define(mode(connect.ConfigKey{Name: QueryRetryAttempts, Type: connect.TypeInt, Default: -1, Importance: connect.Low, OrderInGroup: 13, Width: connect.WidthMedium,
			Doc: "How often a failing query is retried; -1 retries forever."})).
		Define(conn(connect.ConfigKey{Name: TableTypes, Type: connect.TypeList, Default: "TABLE", Importance: connect.Low, OrderInGroup: 1, Width: connect.WidthShort,
			Doc: "Kinds of tables to copy: TABLE, VIEW, …"})).
		Define(conn(connect.ConfigKey{Name: PollInterval, Type: connect.TypeInt, Default: 5000, Importance: connect.High, OrderInGroup: 2, Width: connect.WidthShort,
			Doc: "Smallest gap, in milliseconds, between two queries on the same table."})).
		Define(conn(connect.ConfigKey{Name: BatchMaxRows, Type: connect.TypeInt, Default: 1000, Validator: connect.AtLeast(1), Importance: connect.Low, OrderInGroup: 3, Width: connect.WidthShort,
			Doc: "Most rows returned by one poll; the result set stays open between polls, so memory stays bounded."})).
		Define(conn(connect.ConfigKey{Name: MaxBufferSize, Type: connect.TypeInt, Default: 0, Importance: connect.Low, OrderInGroup: 4, Width: connect.WidthShort,
			Doc: "Accepted for compatibility; Ferry streams rows without an intermediate buffer."})).
		Define(conn(connect.ConfigKey{Name: PollLinger, Type: connect.TypeLong, Default: int64(5000), Importance: connect.Low, OrderInGroup: 5, Width: connect.WidthShort,
			Doc: "Longest a poll waits, in milliseconds, before returning no records."})).
		Define(conn(connect.ConfigKey{Name: TablePollInterval, Type: connect.TypeLong, Default: int64(60000), Importance: connect.Low, OrderInGroup: 6, Width: connect.WidthShort,
			Doc: "How often, in milliseconds, tables are listed again; a change reconfigures the tasks."})).
		Define(conn(connect.ConfigKey{Name: TopicPrefix, Type: connect.TypeString, Default: "", Importance: connect.High, OrderInGroup: 7, Width: connect.WidthMedium,
			Validator: connect.ValidatorFunc("[a-zA-Z0-9._-]*, at most 249 characters", func(v any) error {
				s, _ := v.(string)
				if len(s) > 249 || !topicPrefixRE.MatchString(s) {
					return fmt.Errorf("must match [a-zA-Z0-9._-]* and be at most 249 characters")
				}
				return nil
			}),
			Doc: "Prefix of the topic names: the topic is prefix + table name, or the prefix itself with query."})).
		Define(conn(connect.ConfigKey{Name: TimestampDelay, Type: connect.TypeLong, Default: int64(0), Importance: connect.High, OrderInGroup: 8, Width: connect.WidthMedium,
			Doc: "Milliseconds a row must be old before it is read: the upper bound is the database time minus this delay, rounded down to the precision of the timestamp columns " +
				"(their fractional-second digits from the catalog or, with query, the driver; a day for DATE; a whole second when neither says, as for SQLite text), " +
				"so a second still in progress is never read as complete and a row updated twice within it is not lost. Rows therefore wait up to one unit of that precision."})).
		Define(conn(connect.ConfigKey{Name: DBTimezone, Type: connect.TypeString, Default: "UTC", Importance: connect.Medium, OrderInGroup: 9, Width: connect.WidthMedium,
			Validator: connect.ValidatorFunc("Any valid JDK time zone", func(v any) error {
				s, _ := v.(string)
				if _, err := loadZone(s); err != nil {
					return fmt.Errorf("Invalid time zone identifier")
				}
				return nil
			}),
			Doc: "Time zone of timestamps without a zone in the database."})).
		Define(conn(connect.ConfigKey{Name: TimestampGranularity, Type: connect.TypeString, Default: "connect_logical", Importance: connect.Low, OrderInGroup: 10, Width: connect.WidthMedium,
			Validator: connect.OneOfIgnoreCase("connect_logical", "micros_long", "micros_string", "micros_iso_datetime_string", "nanos_long", "nanos_string", "nanos_iso_datetime_string"),
			Doc:       "How TIMESTAMP columns appear in records. Only connect_logical is supported."})).
		Define(conn(connect.ConfigKey{Name: StartupPollingLimit, Type: connect.TypeLong, Default: int64(10000), Importance: connect.Low, OrderInGroup: 11, Width: connect.WidthMedium,
			Doc: "How long, in milliseconds, task configuration waits for the first table listing."}))
}

// settings is a parsed and cross-checked configuration.
type settings struct {
	url, user, password string
	attempts            int
	backoff             time.Duration
	whitelist           []string
	blacklist           []string
	include, exclude    []*regexp.Regexp
	catalog, schema     *string
	numeric             string
	dialectName         string
	mode                string
	incColumn           string
	tsColumns           []string
	tsInitial           *int64
	validateNonNull     bool
	query               string
	quote               bool
	suffix              string
	tableTypes          []string
	retryAttempts       int
	pollInterval        time.Duration
	batchMaxRows        int
	pollLinger          time.Duration
	tablePollInterval   time.Duration
	topicPrefix         string
	delay               time.Duration
	zone                *time.Location
}

func (s *settings) queryMode() bool { return s.query != "" }

// parse parses config and applies the checks that span several keys.
func parse(config map[string]string) (*settings, error) {
	cfg, err := configDef().Parse(config)
	if err != nil {
		return nil, err
	}
	if errs := crossCheck(config); len(errs) > 0 {
		k := slices.Sorted(maps.Keys(errs))[0]
		return nil, fmt.Errorf("%s: %s", k, errs[k][0])
	}
	s := &settings{
		url:               cfg.String(ConnectionURL),
		user:              cfg.String(ConnectionUser),
		password:          cfg.Password(ConnectionPassword).Value(),
		attempts:          cfg.Int(ConnectionAttempts),
		backoff:           time.Duration(cfg.Long(ConnectionBackoff)) * time.Millisecond,
		whitelist:         cfg.List(TableWhitelist),
		blacklist:         cfg.List(TableBlacklist),
		dialectName:       cfg.String(DialectName),
		mode:              cfg.String(Mode),
		incColumn:         cfg.String(IncrementingColumn),
		tsColumns:         cfg.List(TimestampColumn),
		validateNonNull:   cfg.Bool(ValidateNonNull),
		query:             cfg.String(Query),
		quote:             strings.EqualFold(cfg.String(QuoteIdentifiers), "always"),
		suffix:            cfg.String(QuerySuffix),
		tableTypes:        cfg.List(TableTypes),
		retryAttempts:     cfg.Int(QueryRetryAttempts),
		pollInterval:      time.Duration(cfg.Int(PollInterval)) * time.Millisecond,
		batchMaxRows:      cfg.Int(BatchMaxRows),
		pollLinger:        time.Duration(cfg.Long(PollLinger)) * time.Millisecond,
		tablePollInterval: time.Duration(cfg.Long(TablePollInterval)) * time.Millisecond,
		topicPrefix:       cfg.String(TopicPrefix),
		delay:             time.Duration(cfg.Long(TimestampDelay)) * time.Millisecond,
	}
	if s.query == "" {
		s.query = cfg.Password(QueryMasked).Value()
	}
	if cfg.IsSet(CatalogPattern) {
		v := cfg.String(CatalogPattern)
		s.catalog = &v
	}
	if cfg.IsSet(SchemaPattern) {
		v := cfg.String(SchemaPattern)
		s.schema = &v
	}
	if cfg.IsSet(TimestampInitial) {
		v := cfg.Long(TimestampInitial)
		s.tsInitial = &v
	}
	s.numeric = NumericNone
	if cfg.IsSet(NumericMapping) {
		s.numeric = strings.ToLower(cfg.String(NumericMapping))
	} else if cfg.Bool(NumericPrecision) {
		s.numeric = NumericPrecisionOnly
	}
	for _, p := range cfg.List(TableIncludeList) {
		s.include = append(s.include, regexp.MustCompile("^(?:"+p+")$"))
	}
	for _, p := range cfg.List(TableExcludeList) {
		s.exclude = append(s.exclude, regexp.MustCompile("^(?:"+p+")$"))
	}
	if s.zone, err = loadZone(cfg.String(DBTimezone)); err != nil {
		return nil, fmt.Errorf("%s: %w", DBTimezone, err)
	}
	return s, nil
}

// loadZone accepts IANA zone names plus the short forms Java accepts.
func loadZone(name string) (*time.Location, error) {
	switch strings.ToUpper(name) {
	case "UTC", "Z", "GMT", "UT":
		return time.UTC, nil
	}
	return time.LoadLocation(name)
}

// crossCheck returns per-key errors for combinations the ConfigDef alone
// cannot reject, as Confluent's JdbcSourceConnectorValidation does.
func crossCheck(config map[string]string) map[string][]string {
	get := func(k string) string { return strings.TrimSpace(config[k]) }
	errs := map[string][]string{}
	add := func(k, msg string) { errs[k] = append(errs[k], msg) }

	if get(ConnectionURL) == "" {
		add(ConnectionURL, "connection.url must be set to a JDBC URL such as jdbc:mysql://host:3306/db")
	}
	mode := get(Mode)
	switch {
	case mode == "":
		add(Mode, "mode must be set to one of: "+strings.Join(modes, ", "))
	case !slices.Contains(modes, mode):
		add(Mode, fmt.Sprintf("Invalid value %s for configuration mode: String must be one of: %s", mode, strings.Join(modes, ", ")))
	}
	query := get(Query)
	if query != "" && get(QueryMasked) != "" {
		add(Query, "Only one of query and query.masked may be set")
		add(QueryMasked, "Only one of query and query.masked may be set")
	}
	if query == "" {
		query = get(QueryMasked)
	}
	legacy := []string{TableWhitelist, TableBlacklist, TimestampColumn, IncrementingColumn}
	newer := []string{TableIncludeList, TableExcludeList, TimestampColumnsMap, IncrementingColumnsMap}
	var setLegacy, setNewer []string
	for _, k := range legacy {
		if get(k) != "" {
			setLegacy = append(setLegacy, k)
		}
	}
	for _, k := range newer {
		if get(k) != "" {
			setNewer = append(setNewer, k)
		}
	}
	if len(setLegacy) > 0 && len(setNewer) > 0 {
		for _, k := range slices.Concat(setLegacy, setNewer) {
			add(k, fmt.Sprintf("Cannot combine the legacy keys (%s) with the new keys (%s)", strings.Join(setLegacy, ", "), strings.Join(setNewer, ", ")))
		}
	}
	if get(TableWhitelist) != "" && get(TableBlacklist) != "" {
		add(TableWhitelist, "table.whitelist and table.blacklist cannot both be set")
		add(TableBlacklist, "table.whitelist and table.blacklist cannot both be set")
	}
	if get(TableExcludeList) != "" && get(TableIncludeList) == "" {
		add(TableExcludeList, "table.exclude.list needs table.include.list")
	}
	for _, k := range []string{TimestampColumnsMap, IncrementingColumnsMap} {
		if get(k) != "" {
			add(k, k+" is not supported by Ferry's JDBC source; use "+map[string]string{TimestampColumnsMap: TimestampColumn, IncrementingColumnsMap: IncrementingColumn}[k])
		}
	}
	for _, k := range []string{TableIncludeList, TableExcludeList} {
		v, _ := connect.ParseValue(connect.TypeList, config[k])
		for _, p := range v.([]string) {
			if _, err := regexp.Compile(p); err != nil {
				add(k, fmt.Sprintf("invalid regular expression %q: %v", p, err))
			}
		}
	}
	if query != "" {
		for _, k := range []string{TableWhitelist, TableBlacklist, TableIncludeList, TableExcludeList} {
			if get(k) != "" {
				add(k, "Do not specify table filtering configs with 'query'")
			}
		}
	}
	if g := get(TimestampGranularity); g != "" && !strings.EqualFold(g, "connect_logical") {
		add(TimestampGranularity, "only connect_logical is supported by Ferry's JDBC source")
	}
	if get(Mode) != "" {
		needsInc := mode == ModeIncrementing || mode == ModeTimestampIncrementing
		needsTS := mode == ModeTimestamp || mode == ModeTimestampIncrementing
		if needsInc && query != "" && get(IncrementingColumn) == "" {
			add(IncrementingColumn, "incrementing.column.name must be set when mode is "+mode+" with a query")
		}
		if needsTS && get(TimestampColumn) == "" {
			add(TimestampColumn, "timestamp.column.name must be set when mode is "+mode)
		}
	}
	return errs
}
