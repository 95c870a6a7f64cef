package kafkaclient

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// MetricsNamespace prefixes every client metric: franz-go's own series
// (kgo_produce_records_total, kgo_fetch_bytes_total, ...), kept apart
// from the names of Apache's Connect metrics.
const MetricsNamespace = "kgo"

// ClientLabel is the label that names the client a series belongs to.
const ClientLabel = "client_id"

// Metrics reports the worker's Kafka clients into one registry, each
// client's series labelled with its client id and unregistered when the
// client closes, so the clients of a deleted connector leave nothing
// behind. A nil *Metrics reports nothing.
type Metrics struct {
	reg prometheus.Registerer

	mu   sync.Mutex
	live map[string]bool // label values of open clients
}

// NewMetrics returns a Metrics registering into reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{reg: reg, live: map[string]bool{}}
}

// Opt returns the option that reports one client's metrics. Each client
// needs its own Opt: franz-go's broker hooks do not say which client they
// come from.
func (m *Metrics) Opt() kgo.Opt {
	if m == nil {
		return kgo.WithHooks()
	}
	return kgo.WithHooks(&clientHooks{m: m})
}

// label reserves a label value for a new client: its id, or, while
// another open client has the same id (the previous incarnation of a
// restarting task may not have closed yet), the id with a #n suffix, as
// registering the same series twice is an error.
func (m *Metrics) label(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := id
	for n := 2; m.live[l]; n++ {
		l = fmt.Sprintf("%s#%d", id, n)
	}
	m.live[l] = true
	return l
}

func (m *Metrics) release(label string) {
	m.mu.Lock()
	delete(m.live, label)
	m.mu.Unlock()
}

// clientHooks gives each client it sees its own kprom.Metrics, registered
// with the client's label when the client is created and unregistered
// when it is closed. An option is normally used for one client; if it is
// reused, the broker events go to the newest client's series.
type clientHooks struct {
	m   *Metrics
	cur atomic.Pointer[kprom.Metrics]

	mu      sync.Mutex
	clients map[*kgo.Client]clientSeries
}

type clientSeries struct {
	k     *kprom.Metrics
	label string
}

func (h *clientHooks) OnNewClient(cl *kgo.Client) {
	id, _ := cl.OptValue(kgo.ClientID).(string)
	label := h.m.label(id)
	k := kprom.NewMetrics(MetricsNamespace,
		kprom.Registerer(prometheus.WrapRegistererWith(prometheus.Labels{ClientLabel: label}, h.m.reg)),
		kprom.FetchAndProduceDetail(kprom.ByNode, kprom.ByTopic, kprom.Batches, kprom.Records,
			kprom.UncompressedBytes, kprom.CompressedBytes))
	if !register(k, cl) {
		// The label stays reserved: the series registered before the
		// failure cannot be unregistered and would collide again.
		return
	}
	h.mu.Lock()
	if h.clients == nil {
		h.clients = map[*kgo.Client]clientSeries{}
	}
	h.clients[cl] = clientSeries{k: k, label: label}
	h.cur.Store(k)
	h.mu.Unlock()
}

// register registers k's collectors for cl. kprom panics when a series
// cannot be registered (a collector of the same name and labels from
// elsewhere in the registry); a client without metrics is better than a
// crashed worker.
func register(k *kprom.Metrics, cl *kgo.Client) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	k.OnNewClient(cl)
	return true
}

func (h *clientHooks) OnClientClosed(cl *kgo.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.clients[cl]
	if !ok {
		return
	}
	delete(h.clients, cl)
	s.k.OnClientClosed(cl)
	h.m.release(s.label)
	if h.cur.Load() == s.k {
		h.cur.Store(nil)
		for _, other := range h.clients {
			h.cur.Store(other.k)
			break
		}
	}
}

// The broker hooks can fire before OnNewClient has finished (franz-go
// starts the client's goroutines first) and after the client closed;
// those events are not counted.

func (h *clientHooks) OnBrokerConnect(meta kgo.BrokerMetadata, d time.Duration, c net.Conn, err error) {
	if k := h.cur.Load(); k != nil {
		k.OnBrokerConnect(meta, d, c, err)
	}
}

func (h *clientHooks) OnBrokerDisconnect(meta kgo.BrokerMetadata, c net.Conn) {
	if k := h.cur.Load(); k != nil {
		k.OnBrokerDisconnect(meta, c)
	}
}

func (h *clientHooks) OnBrokerThrottle(meta kgo.BrokerMetadata, d time.Duration, after bool) {
	if k := h.cur.Load(); k != nil {
		k.OnBrokerThrottle(meta, d, after)
	}
}

func (h *clientHooks) OnProduceBatchWritten(meta kgo.BrokerMetadata, topic string, p int32, bm kgo.ProduceBatchMetrics) {
	if k := h.cur.Load(); k != nil {
		k.OnProduceBatchWritten(meta, topic, p, bm)
	}
}

func (h *clientHooks) OnFetchBatchRead(meta kgo.BrokerMetadata, topic string, p int32, fm kgo.FetchBatchMetrics) {
	if k := h.cur.Load(); k != nil {
		k.OnFetchBatchRead(meta, topic, p, fm)
	}
}

func (h *clientHooks) OnBrokerRead(meta kgo.BrokerMetadata, key int16, n int, wait, dur time.Duration, err error) {
	if k := h.cur.Load(); k != nil {
		k.OnBrokerRead(meta, key, n, wait, dur, err)
	}
}

func (h *clientHooks) OnBrokerWrite(meta kgo.BrokerMetadata, key int16, n int, wait, dur time.Duration, err error) {
	if k := h.cur.Load(); k != nil {
		k.OnBrokerWrite(meta, key, n, wait, dur, err)
	}
}

func (h *clientHooks) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if k := h.cur.Load(); k != nil {
		k.OnBrokerE2E(meta, key, e2e)
	}
}

// The interfaces franz-go checks for; kprom implements the same set.
var (
	_ kgo.HookNewClient           = (*clientHooks)(nil)
	_ kgo.HookClientClosed        = (*clientHooks)(nil)
	_ kgo.HookBrokerConnect       = (*clientHooks)(nil)
	_ kgo.HookBrokerDisconnect    = (*clientHooks)(nil)
	_ kgo.HookBrokerThrottle      = (*clientHooks)(nil)
	_ kgo.HookProduceBatchWritten = (*clientHooks)(nil)
	_ kgo.HookFetchBatchRead      = (*clientHooks)(nil)
	_ kgo.HookBrokerRead          = (*clientHooks)(nil)
	_ kgo.HookBrokerWrite         = (*clientHooks)(nil)
	_ kgo.HookBrokerE2E           = (*clientHooks)(nil)
)
