// Package distributed is the herder of a Ferry worker that is one member of
// a Kafka Connect cluster (spec §1.3, §4, §5): connector configs, task
// configs and target states live in the config topic, statuses in the
// status topic and source offsets in the offsets topic, and the workers
// share the work through Kafka's group protocol (package group).
//
// The herder is an actor: one goroutine (Run) owns what this worker runs.
// Config topic events, rebalance callbacks and REST writes reach it as
// messages; REST reads are served from the config store's snapshot and the
// status store's cache, which are safe for concurrent use.
package distributed

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/distributed/group"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/kafkastore"
)

// ServerVersion is what GET / reports.
type ServerVersion struct {
	Version string
	Commit  string
}

// Options wires a distributed herder.
type Options struct {
	Config   *runtime.WorkerConfig
	Registry *connect.Registry
	Logger   *slog.Logger
	Version  ServerVersion
	// ClientTLS configures requests to other workers' https listeners
	// (nil: Go's defaults).
	ClientTLS *tls.Config
}

// Herder is the distributed implementation of herder.Herder.
type Herder struct {
	// The REST reads, validation, restart plans and server info are the
	// same as in standalone mode.
	*runtime.HerderCore

	cfg    *runtime.WorkerConfig
	reg    *connect.Registry
	logger *slog.Logger
	ver    ServerVersion

	// Set once by SetIdentity, before Run.
	url      string
	workerID string

	configs  *kafkastore.ConfigStore
	statuses statusView
	offsets  *kafkastore.OffsetStore
	sink     *statusSink
	worker   *runtime.Worker
	member   *group.Member
	client   *kgo.Client // group requests and admin calls
	admin    *kadm.Client
	http     *http.Client

	inbox    mailbox
	calls    chan call
	stopped  chan struct{} // closed when the actor loop has ended
	stopOnce sync.Once

	ready      atomic.Bool
	generation atomic.Int32

	keyMu      sync.Mutex
	sessionKey *kafkastore.SessionKey

	bg sync.WaitGroup // background requests to the leader

	// state below is owned by the actor goroutine.
	st actorState
}

// internalClient sends requests to other workers, over https with tc when
// their advertised URL is https.
func internalClient(tc *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

// New builds the herder, its stores and its worker. Nothing runs until Run.
func New(o Options) (*Herder, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := o.Config
	if _, err := group.ParseMode(c.String(runtime.WConnectProtocol)); err != nil {
		return nil, err
	}
	h := &Herder{cfg: c, reg: o.Registry, logger: o.Logger, ver: o.Version,
		calls: make(chan call), stopped: make(chan struct{}),
		http: internalClient(o.ClientTLS)}
	h.inbox.init()
	h.st.init()
	// The internal topics and the group use the worker's top-level
	// connection and security keys, as in Apache.
	storeOpts, err := c.KafkaOpts(o.Logger, "")
	if err != nil {
		return nil, err
	}
	base := kafkastore.Options{Brokers: c.Brokers(), GroupID: c.String(runtime.WGroupID),
		ClientID: c.String(runtime.WClientID), ClientOpts: storeOpts, Metrics: c.ClientMetrics, Logger: o.Logger}
	h.configs, err = kafkastore.NewConfigStore(base, topicOptions(c, runtime.WConfigTopic, "", runtime.WConfigReplication, "config.storage."), (*configListener)(h))
	if err != nil {
		return nil, err
	}
	h.offsets, err = kafkastore.NewOffsetStore(base, topicOptions(c, runtime.WOffsetTopic, runtime.WOffsetPartitions, runtime.WOffsetReplication, "offset.storage."))
	if err != nil {
		return nil, err
	}
	h.statuses.StatusStore, err = kafkastore.NewStatusStore(base, topicOptions(c, runtime.WStatusTopic, runtime.WStatusPartitions, runtime.WStatusReplication, "status.storage."))
	if err != nil {
		return nil, err
	}
	groupOpts, err := c.KafkaOpts(o.Logger, clientID(c, "connect"))
	if err != nil {
		return nil, err
	}
	h.client, err = kgo.NewClient(groupOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka client: %w", err)
	}
	h.admin = kadm.NewClient(h.client)
	h.HerderCore = runtime.NewHerderCore(runtime.HerderCoreOptions{Config: c, Registry: o.Registry, Logger: o.Logger,
		Configs: configView{h.configs}, Statuses: h.statuses, Version: o.Version.Version, Commit: o.Version.Commit,
		Offsets: h.offsets, Admin: h.admin})
	h.sink = newStatusSink(h)
	h.worker, err = runtime.NewWorker(runtime.WorkerOptions{Config: c, Registry: o.Registry, Offsets: h.offsets,
		Status: h.sink, Logger: o.Logger, OnReconfigure: h.requestReconfigure})
	if err != nil {
		h.client.Close()
		return nil, err
	}
	return h, nil
}

func clientID(c *runtime.WorkerConfig, suffix string) string {
	id := c.String(runtime.WGroupID) + "-"
	if v := c.String(runtime.WClientID); v != "" {
		id += v + "-"
	}
	return id + suffix
}

// topicOptions reads an internal topic's settings; <prefix><topic config>
// keys become topic configs (except the ones Connect itself owns).
func topicOptions(c *runtime.WorkerConfig, topicKey, partsKey, rfKey, prefix string) kafkastore.TopicOptions {
	t := kafkastore.TopicOptions{Topic: c.String(topicKey), ReplicationFactor: c.Short(rfKey), Configs: map[string]string{}}
	if partsKey != "" {
		t.Partitions = int32(c.Int(partsKey))
	}
	for k, v := range connect.StripPrefix(c.Raw, prefix) {
		switch k {
		case "topic", "partitions", "replication.factor", "cleanup.policy":
			continue
		}
		t.Configs[k] = v
	}
	return t
}

var (
	_ herder.Herder      = (*Herder)(nil)
	_ herder.LagReporter = (*Herder)(nil)
)

// SetIdentity sets the advertised REST URL (sent to the other members and
// used for forwarding) and the worker id shown in status. Call it before Run.
func (h *Herder) SetIdentity(url, workerID string) {
	h.url, h.workerID = url, workerID
}

// Run starts the stores, joins the group and runs the herder until ctx
// ends; then it stops all work, leaves the group and stops the stores.
func (h *Herder) Run(ctx context.Context) error {
	defer h.markStopped()
	defer h.client.Close()
	if err := h.configs.Start(ctx); err != nil {
		return err
	}
	defer h.configs.Stop()
	if err := h.offsets.Start(ctx); err != nil {
		return err
	}
	defer h.offsets.Stop()
	if err := h.statuses.Start(ctx); err != nil {
		return err
	}
	defer h.statuses.Stop()
	snap := h.configs.Snapshot()
	h.setSessionKey(snap.SessionKey)
	h.st.known = connectorSet(snap)

	c := h.cfg
	mode, _ := group.ParseMode(c.String(runtime.WConnectProtocol))
	m, err := group.New(group.Config{
		Client: h.client, GroupID: c.String(runtime.WGroupID), URL: h.url, Mode: mode,
		SessionTimeout:    ms(c.Int(runtime.WSessionTimeout)),
		RebalanceTimeout:  ms(c.Int(runtime.WRebalanceTimeout)),
		HeartbeatInterval: ms(c.Int(runtime.WHeartbeatInterval)),
		MaxDelay:          ms(c.Int(runtime.WScheduledRebalanceDelay)),
		Snapshot:          h.groupSnapshot,
		Listener:          (*groupListener)(h),
		Logger:            h.logger,
	})
	if err != nil {
		return err
	}
	h.member = m

	sinkCtx, stopSink := context.WithCancel(context.WithoutCancel(ctx))
	sinkDone := make(chan struct{})
	go func() { defer close(sinkDone); h.sink.run(sinkCtx) }()

	memberCtx, stopMember := context.WithCancel(context.WithoutCancel(ctx))
	memberDone := make(chan error, 1)
	go func() { memberDone <- m.Run(memberCtx) }()

	loopErr := h.loop(ctx, memberDone)
	h.markStopped()

	// Stop the work first, then leave the group so the others take it over.
	h.worker.Close()
	for name := range h.st.conns { // the actor has ended: st is ours now
		h.sink.PutConnector(name, herder.StateUnassigned, nil)
	}
	h.bg.Wait()
	// Leaving the group (so the others take the work over) and writing
	// the last statuses run together: each is bounded, and while the
	// cluster is away neither can succeed.
	stopMember()
	h.sink.flush(statusFlushTimeout)
	merr := <-memberDone
	stopSink()
	<-sinkDone
	return errors.Join(loopErr, merr)
}

// statusFlushTimeout bounds the wait for the last status writes at
// shutdown (nothing is written while the cluster is away).
const statusFlushTimeout = 3 * time.Second

func (h *Herder) markStopped() { h.stopOnce.Do(func() { close(h.stopped) }) }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// Health is nil once the config topic was read and the first assignment
// was acted on.
func (h *Herder) Health(context.Context) error {
	if !h.ready.Load() {
		return &herder.Error{Code: http.StatusServiceUnavailable, Message: "Worker is still starting up: it has not joined the Connect group and completed its first assignment yet."}
	}
	return nil
}

// groupSnapshot summarizes the config topic for the group member.
func (h *Herder) groupSnapshot() group.Snapshot {
	snap := h.configs.Snapshot()
	gs := group.Snapshot{Offset: snap.Offset, Tasks: make(map[string]int, len(snap.Connectors))}
	for name := range snap.Connectors {
		gs.Tasks[name] = len(snap.Tasks(name))
	}
	return gs
}

func connectorSet(snap *kafkastore.Snapshot) map[string]bool {
	out := make(map[string]bool, len(snap.Connectors))
	for n := range snap.Connectors {
		out[n] = true
	}
	return out
}
