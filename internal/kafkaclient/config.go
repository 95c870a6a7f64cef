package kafkaclient

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/internal/backoff"
)

// Kind is the kind of client a property set configures.
type Kind int

const (
	// Worker clients read the worker's top-level keys: the group member,
	// the internal topic logs and the worker's shared admin client. Only
	// connection and security keys apply; the rest are worker settings.
	Worker Kind = iota
	// Producer clients: source task and dead letter queue producers.
	Producer
	// Consumer clients: sink task consumers.
	Consumer
	// Admin clients a connector uses.
	Admin
)

func (k Kind) String() string {
	switch k {
	case Producer:
		return "producer"
	case Consumer:
		return "consumer"
	case Admin:
		return "admin"
	}
	return "worker"
}

// Built is the result of Build.
type Built struct {
	// Opts are the franz-go options for the properties, in a stable order.
	Opts []kgo.Opt
	// Warnings name properties Ferry does not implement; they are not
	// security relevant, so the client works without them.
	Warnings []string
	// Secure is true when the client uses TLS or SASL.
	Secure bool
}

// Build translates props, Java client property names without any prefix,
// into franz-go options for a client of the given kind. It returns an error
// for a property it cannot honour under ssl., sasl. or security., and for
// invalid values of the ones it implements. Files named by the properties
// (trust and key stores) are read now.
func Build(kind Kind, props map[string]string) (*Built, error) {
	b := &Built{}
	var errs []error
	sec, err := buildSecurity(kind, props)
	if err != nil {
		errs = append(errs, err)
	} else {
		b.Opts = append(b.Opts, sec.opts...)
		b.Warnings = append(b.Warnings, sec.warnings...)
		b.Secure = sec.secure
	}
	if opts, err := backoffOpt(props); err != nil {
		errs = append(errs, err)
	} else {
		b.Opts = append(b.Opts, opts...)
	}
	// Producer and consumer properties all come from the producer.,
	// consumer. and *.override. prefixes, so any unknown key is reported.
	// Worker and admin clients also see the worker's own keys, so
	// AdminWarnings reports on the admin.* keys instead.
	opts, warnings, perrs := classify(kind, props, kind == Producer || kind == Consumer)
	b.Opts = append(b.Opts, opts...)
	b.Warnings = append(b.Warnings, warnings...)
	errs = append(errs, perrs...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return b, nil
}

// Warnings returns the warnings Build would give for props if every key
// had been set for this kind of client explicitly (admin.* keys, say).
func Warnings(kind Kind, props map[string]string) []string {
	_, w, _ := classify(kind, props, true)
	return w
}

func classify(kind Kind, props map[string]string, report bool) (opts []kgo.Opt, warnings []string, errs []error) {
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if isSecurityKey(k) {
			continue
		}
		v := strings.TrimSpace(props[k])
		p, known := clientProps[k]
		switch {
		case !known:
			if report {
				warnings = append(warnings, fmt.Sprintf("The configuration '%s' was supplied but isn't a known %s config.", k, kind))
			}
		case !p.kinds.has(kind):
			// A key of another client kind: Apache's clients ignore those
			// too (worker keys reach every client).
		case p.apply == nil:
			if report && (p.accept == nil || !p.accept(v)) {
				warnings = append(warnings, fmt.Sprintf("The %s configuration '%s' is not supported by Ferry and is ignored.", kind, k))
			}
		default:
			o, err := p.apply(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("Invalid value %s for configuration %s: %w", v, k, err))
				continue
			}
			opts = append(opts, o...)
		}
	}
	return opts, warnings, errs
}

type kindSet uint8

const (
	kW kindSet = 1 << iota
	kP
	kC
	kA
	kAll = kW | kP | kC | kA
)

func (s kindSet) has(k Kind) bool { return s&(1<<k) != 0 }

// clientProp is one Java client property Ferry knows. apply maps a value
// to options; without apply the key is not implemented and reported,
// unless accept says the value is what Ferry does anyway.
type clientProp struct {
	kinds  kindSet
	apply  func(v string) ([]kgo.Opt, error)
	accept func(v string) bool
}

func equalsAny(vals ...string) func(string) bool {
	return func(v string) bool {
		for _, x := range vals {
			if strings.EqualFold(v, x) {
				return true
			}
		}
		return false
	}
}

func always(string) bool { return true }

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("Not a number of type INT")
	}
	if n < 0 {
		return 0, errors.New("Value must be at least 0")
	}
	return n, nil
}

func millis(v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errors.New("Not a number of type LONG")
	}
	if n < 0 {
		return 0, errors.New("Value must be at least 0")
	}
	return time.Duration(n) * time.Millisecond, nil
}

func msOpt[O kgo.Opt](f func(time.Duration) O) func(string) ([]kgo.Opt, error) {
	return func(v string) ([]kgo.Opt, error) {
		d, err := millis(v)
		if err != nil {
			return nil, err
		}
		return []kgo.Opt{f(d)}, nil
	}
}

func intOpt[O kgo.Opt](f func(int) O, lowest int) func(string) ([]kgo.Opt, error) {
	return func(v string) ([]kgo.Opt, error) {
		n, err := positiveInt(v)
		if err != nil {
			return nil, err
		}
		if n < lowest {
			return nil, fmt.Errorf("Value must be at least %d", lowest)
		}
		return []kgo.Opt{f(n)}, nil
	}
}

// retryBackoff is Java's exponential backoff between retry.backoff.ms and
// retry.backoff.max.ms with 20% jitter. Java spreads the delay both ways,
// over [0.8·d, 1.2·d], while backoff.Policy only shortens it, so the
// jitter is applied here.
func retryBackoff(base, maxD time.Duration) kgo.Opt {
	return kgo.RetryBackoffFn(retryDelay(base, maxD))
}

// retryDelay is the delay before try number tries (1 for the first retry).
func retryDelay(base, maxD time.Duration) func(tries int) time.Duration {
	p := backoff.Policy{Initial: base, Max: maxD}
	return func(tries int) time.Duration {
		return time.Duration(float64(p.Delay(tries)) * (0.8 + 0.4*rand.Float64()))
	}
}

var clientProps = map[string]clientProp{
	// Common to all clients. bootstrap.servers is handled by the callers.
	"bootstrap.servers":                      {kinds: kAll, accept: always},
	"client.id":                              {kinds: kP | kC | kA, apply: func(v string) ([]kgo.Opt, error) { return []kgo.Opt{kgo.ClientID(v)}, nil }},
	"connections.max.idle.ms":                {kinds: kAll, apply: msOpt(kgo.ConnIdleTimeout)},
	"metadata.max.age.ms":                    {kinds: kAll, apply: msOpt(kgo.MetadataMaxAge)},
	"request.timeout.ms":                     {kinds: kAll, apply: msOpt(kgo.RequestTimeoutOverhead)},
	"socket.connection.setup.timeout.ms":     {kinds: kAll, apply: msOpt(kgo.DialTimeout)},
	"socket.connection.setup.timeout.max.ms": {kinds: kAll},
	"retry.backoff.ms":                       {kinds: kAll, accept: always}, // applied with retry.backoff.max.ms below
	"retry.backoff.max.ms":                   {kinds: kAll, accept: always},
	"reconnect.backoff.ms":                   {kinds: kAll},
	"reconnect.backoff.max.ms":               {kinds: kAll},
	"client.dns.lookup":                      {kinds: kAll, accept: equalsAny("use_all_dns_ips")},
	"send.buffer.bytes":                      {kinds: kAll},
	"receive.buffer.bytes":                   {kinds: kAll},
	"metric.reporters":                       {kinds: kAll, accept: equalsAny("")},
	"metrics.num.samples":                    {kinds: kAll},
	"metrics.sample.window.ms":               {kinds: kAll},
	"metrics.recording.level":                {kinds: kAll},
	"auto.include.jmx.reporter":              {kinds: kAll},
	"enable.metrics.push":                    {kinds: kAll},
	"interceptor.classes":                    {kinds: kP | kC, accept: equalsAny("")},
	"client.rack":                            {kinds: kC, apply: func(v string) ([]kgo.Opt, error) { return []kgo.Opt{kgo.Rack(v)}, nil }},
	"default.api.timeout.ms":                 {kinds: kC | kA},
	"retries":                                {kinds: kP | kA, apply: intOpt(kgo.RecordRetries, 0)},

	// Producer.
	"acks":                                  {kinds: kP, apply: acks},
	"enable.idempotence":                    {kinds: kP, apply: idempotence},
	"linger.ms":                             {kinds: kP, apply: msOpt(kgo.ProducerLinger)},
	"batch.size":                            {kinds: kP}, // franz-go fills batches up to max.request.size
	"max.request.size":                      {kinds: kP, apply: intOpt(func(n int) kgo.Opt { return kgo.ProducerBatchMaxBytes(int32(min(n, 1<<30))) }, 1)},
	"compression.type":                      {kinds: kP, apply: compression},
	"delivery.timeout.ms":                   {kinds: kP, apply: msOpt(kgo.RecordDeliveryTimeout)},
	"max.in.flight.requests.per.connection": {kinds: kP, apply: intOpt(kgo.MaxProduceRequestsInflightPerBroker, 1)},
	"buffer.memory":                         {kinds: kP, apply: intOpt(kgo.MaxBufferedBytes, 1)},
	"max.block.ms":                          {kinds: kP},
	"key.serializer":                        {kinds: kP, accept: equalsAny("org.apache.kafka.common.serialization.ByteArraySerializer")},
	"value.serializer":                      {kinds: kP, accept: equalsAny("org.apache.kafka.common.serialization.ByteArraySerializer")},
	"partitioner.class":                     {kinds: kP},
	"partitioner.ignore.keys":               {kinds: kP, accept: equalsAny("false")},
	"partitioner.adaptive.partitioning.enable": {kinds: kP},
	"partitioner.availability.timeout.ms":      {kinds: kP},
	"transactional.id":                         {kinds: kP},
	"transaction.timeout.ms":                   {kinds: kP},
	"transaction.two.phase.commit.enable":      {kinds: kP},
	"compression.gzip.level":                   {kinds: kP},
	"compression.lz4.level":                    {kinds: kP},
	"compression.zstd.level":                   {kinds: kP},
	"metadata.max.idle.ms":                     {kinds: kP},

	// Consumer.
	"group.id":                      {kinds: kC, accept: always}, // the sink's group: see the runtime
	"max.poll.records":              {kinds: kC, accept: always}, // applied by the sink task loop
	"fetch.min.bytes":               {kinds: kC, apply: intOpt(func(n int) kgo.Opt { return kgo.FetchMinBytes(int32(min(n, 1<<30))) }, 1)},
	"fetch.max.bytes":               {kinds: kC, apply: intOpt(func(n int) kgo.Opt { return kgo.FetchMaxBytes(int32(min(n, 1<<30))) }, 1)},
	"max.partition.fetch.bytes":     {kinds: kC, apply: intOpt(func(n int) kgo.Opt { return kgo.FetchMaxPartitionBytes(int32(min(n, 1<<30))) }, 1)},
	"fetch.max.wait.ms":             {kinds: kC, apply: msOpt(kgo.FetchMaxWait)},
	"session.timeout.ms":            {kinds: kC, apply: msOpt(kgo.SessionTimeout)},
	"heartbeat.interval.ms":         {kinds: kC, apply: msOpt(kgo.HeartbeatInterval)},
	"max.poll.interval.ms":          {kinds: kC, apply: msOpt(kgo.RebalanceTimeout)},
	"auto.offset.reset":             {kinds: kC, apply: offsetReset},
	"isolation.level":               {kinds: kC, apply: isolation},
	"group.instance.id":             {kinds: kC, apply: func(v string) ([]kgo.Opt, error) { return []kgo.Opt{kgo.InstanceID(v)}, nil }},
	"partition.assignment.strategy": {kinds: kC, apply: assignors},
	"enable.auto.commit":            {kinds: kC, accept: equalsAny("false")}, // Connect commits itself
	"auto.commit.interval.ms":       {kinds: kC, accept: always},
	"key.deserializer":              {kinds: kC, accept: equalsAny("org.apache.kafka.common.serialization.ByteArrayDeserializer")},
	"value.deserializer":            {kinds: kC, accept: equalsAny("org.apache.kafka.common.serialization.ByteArrayDeserializer")},
	"check.crcs":                    {kinds: kC, accept: equalsAny("true")},
	"exclude.internal.topics":       {kinds: kC, accept: equalsAny("true")},
	"allow.auto.create.topics":      {kinds: kC},
	"group.protocol":                {kinds: kC, accept: equalsAny("classic")},
	"group.remote.assignor":         {kinds: kC},
	"internal.leave.group.on.close": {kinds: kC},
}

func acks(v string) ([]kgo.Opt, error) {
	switch strings.ToLower(v) {
	case "all", "-1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, nil
	case "1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}, nil
	case "0":
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}, nil
	}
	return nil, errors.New(`String must be one of: all, -1, 0, 1`)
}

func idempotence(v string) ([]kgo.Opt, error) {
	switch strings.ToLower(v) {
	case "true":
		return nil, nil
	case "false":
		return []kgo.Opt{kgo.DisableIdempotentWrite()}, nil
	}
	return nil, errors.New("Expected value to be either true or false")
}

func compression(v string) ([]kgo.Opt, error) {
	var c kgo.CompressionCodec
	switch strings.ToLower(v) {
	case "none":
		c = kgo.NoCompression()
	case "gzip":
		c = kgo.GzipCompression()
	case "snappy":
		c = kgo.SnappyCompression()
	case "lz4":
		c = kgo.Lz4Compression()
	case "zstd":
		c = kgo.ZstdCompression()
	default:
		return nil, errors.New("String must be one of: none, gzip, snappy, lz4, zstd")
	}
	return []kgo.Opt{kgo.ProducerBatchCompression(c)}, nil
}

func offsetReset(v string) ([]kgo.Opt, error) {
	switch strings.ToLower(v) {
	case "earliest":
		return []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, nil
	case "latest":
		return []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd())}, nil
	case "none":
		return []kgo.Opt{kgo.ConsumeResetOffset(kgo.NoResetOffset())}, nil
	}
	return nil, errors.New("Invalid value for auto.offset.reset: must be one of earliest, latest, none")
}

func isolation(v string) ([]kgo.Opt, error) {
	switch strings.ToLower(v) {
	case "read_uncommitted":
		return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadUncommitted())}, nil
	case "read_committed":
		return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}, nil
	}
	return nil, errors.New("String must be one of: read_committed, read_uncommitted")
}

func assignors(v string) ([]kgo.Opt, error) {
	var bs []kgo.GroupBalancer
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		switch strings.TrimPrefix(name, "org.apache.kafka.clients.consumer.") {
		case "":
			continue
		case "RangeAssignor", "range":
			bs = append(bs, kgo.RangeBalancer())
		case "RoundRobinAssignor", "roundrobin":
			bs = append(bs, kgo.RoundRobinBalancer())
		case "StickyAssignor", "sticky":
			bs = append(bs, kgo.StickyBalancer())
		case "CooperativeStickyAssignor", "cooperative-sticky":
			bs = append(bs, kgo.CooperativeStickyBalancer())
		default:
			return nil, fmt.Errorf("Class %s cannot be found", name)
		}
	}
	if len(bs) == 0 {
		return nil, nil
	}
	return []kgo.Opt{kgo.Balancers(bs...)}, nil
}

// backoffOpt applies retry.backoff.ms / retry.backoff.max.ms (Java
// defaults 100 and 1000) when either is set.
func backoffOpt(props map[string]string) ([]kgo.Opt, error) {
	b, hasB := props["retry.backoff.ms"]
	m, hasM := props["retry.backoff.max.ms"]
	if !hasB && !hasM {
		return nil, nil
	}
	base, maxD := 100*time.Millisecond, time.Second
	var err error
	if hasB {
		if base, err = millis(strings.TrimSpace(b)); err != nil {
			return nil, fmt.Errorf("Invalid value %s for configuration retry.backoff.ms: %w", b, err)
		}
	}
	if hasM {
		if maxD, err = millis(strings.TrimSpace(m)); err != nil {
			return nil, fmt.Errorf("Invalid value %s for configuration retry.backoff.max.ms: %w", m, err)
		}
	}
	return []kgo.Opt{retryBackoff(base, max(base, maxD))}, nil
}

// LogWarnings logs each warning of b at WARN.
func (b *Built) LogWarnings(log *slog.Logger, client string) {
	for _, w := range b.Warnings {
		log.Warn(w, "client", client)
	}
}
