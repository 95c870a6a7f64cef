package bigquery

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"cloud.google.com/go/bigquery/storage/managedwriter/adapt"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/ferryhq/ferry/connect"
)

// storageWrite writes rows through the Storage Write API: into each
// table's _default stream (at-least-once, rows visible at once), or in
// batch mode into application-created PENDING streams that are finalized
// and committed every commitInterval, with offsets committed only after
// their stream.
type storageWrite struct {
	t    *Task
	mw   *managedwriter.Client
	conn *grpc.ClientConn // plaintext connection to an emulator, if any

	mu        sync.Mutex
	streams   map[tableID]*tableStream
	committed map[connect.TopicPartition]int64 // batch mode
}

// tableStream is the open stream of one table and the schema its rows
// are encoded with.
type tableStream struct {
	ms      *managedwriter.ManagedStream
	msg     protoreflect.MessageDescriptor
	schema  bq.Schema
	opened  time.Time
	pending map[connect.TopicPartition]int64 // batch mode: offsets in this stream
}

// storageWriteRequestRows caps the rows of one AppendRows request; the
// request limit is 10 MB.
const storageWriteRequestRows = 500

func newStorageWrite(ctx context.Context, t *Task) (*storageWrite, error) {
	s := t.s
	var opts []option.ClientOption
	w := &storageWrite{t: t, streams: map[tableID]*tableStream{}, committed: map[connect.TopicPartition]int64{}}
	switch {
	case isPlainHTTP(s.storageEP):
		conn, err := grpc.NewClient(strings.TrimPrefix(s.storageEP, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", StorageEndpoint, err)
		}
		w.conn = conn
		opts = []option.ClientOption{option.WithGRPCConn(conn), option.WithoutAuthentication()}
	default:
		creds, _, err := credentialOptions(ctx, s)
		if err != nil {
			return nil, err
		}
		opts = creds
		if s.storageEP != "" {
			opts = append(opts, option.WithEndpoint(s.storageEP))
		}
	}
	// Multiplexing shares connections between the _default streams of all
	// tables and names the stream on every request.
	opts = append(opts, managedwriter.WithMultiplexing())
	// The client keeps the context for its background connections: it
	// must outlive Start, and close ends it.
	mw, err := managedwriter.NewClient(context.WithoutCancel(ctx), s.project, opts...)
	if err != nil {
		if w.conn != nil {
			w.conn.Close()
		}
		return nil, fmt.Errorf("storage write client: %w", err)
	}
	w.mw = mw
	return w, nil
}

func (w *storageWrite) close() {
	w.mu.Lock()
	for _, st := range w.streams {
		st.ms.Close()
	}
	w.streams = map[tableID]*tableStream{}
	w.mu.Unlock()
	w.mw.Close()
	if w.conn != nil {
		w.conn.Close()
	}
}

// committable: with the default stream every row Put returned from is
// written; in batch mode only rows of committed streams count, and streams
// whose commitInterval has passed are committed now.
func (w *storageWrite) committable(ctx context.Context, offsets map[connect.TopicPartition]int64) (map[connect.TopicPartition]int64, error) {
	if !w.t.s.batchMode {
		return offsets, nil
	}
	if err := w.commitDue(ctx, false); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[connect.TopicPartition]int64, len(offsets))
	for tp := range offsets {
		if off, ok := w.committed[tp]; ok {
			out[tp] = off
		}
	}
	return out, nil
}

// commitDue finalizes and commits the PENDING streams older than
// commitInterval (all of them when force is set).
func (w *storageWrite) commitDue(ctx context.Context, force bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, st := range w.streams {
		if !force && time.Since(st.opened) < w.t.s.commitInterval {
			continue
		}
		if err := w.commitStream(ctx, id, st); err != nil {
			return err
		}
		delete(w.streams, id)
	}
	return nil
}

func (w *storageWrite) commitStream(ctx context.Context, id tableID, st *tableStream) error {
	defer st.ms.Close()
	if len(st.pending) == 0 {
		return nil
	}
	if _, err := st.ms.Finalize(ctx); err != nil {
		return fmt.Errorf("finalizing the write stream of %s: %w", id, err)
	}
	resp, err := w.mw.BatchCommitWriteStreams(ctx, &storagepb.BatchCommitWriteStreamsRequest{
		Parent:       managedwriter.TableParentFromParts(w.t.c.project, id.dataset, id.table),
		WriteStreams: []string{st.ms.StreamName()},
	})
	if err != nil {
		return fmt.Errorf("committing the write stream of %s: %w", id, err)
	}
	if errs := resp.GetStreamErrors(); len(errs) > 0 {
		return fmt.Errorf("committing the write stream of %s: %s", id, errs[0].GetErrorMessage())
	}
	for tp, off := range st.pending {
		if off > w.committed[tp] {
			w.committed[tp] = off
		}
	}
	w.t.tc.RequestCommit()
	return nil
}

// write appends every table's rows and waits for BigQuery's answer.
func (w *storageWrite) write(ctx context.Context, batches map[tableID]*tableBatch, order []tableID) ([]badRow, error) {
	if w.t.s.batchMode {
		if err := w.commitDue(ctx, false); err != nil {
			return nil, err
		}
	}
	var bad []badRow
	for _, id := range order {
		b := batches[id]
		if b == nil || len(b.rows) == 0 {
			continue
		}
		info, err := w.t.tables.lookup(ctx, id)
		if err != nil {
			return nil, err
		}
		if info == nil {
			return nil, fmt.Errorf("table %s disappeared", id)
		}
		st, err := w.stream(ctx, id, info.schema)
		if err != nil {
			return nil, err
		}
		var data [][]byte
		var recs []*connect.SinkRecord
		for i, row := range b.rows {
			msg := dynamicpb.NewMessage(st.msg)
			if err := fillMessage(msg, st.schema, row); err != nil {
				bad = append(bad, badRow{b.recs[i], fmt.Errorf("row for %s: %w", id, err)})
				continue
			}
			raw, err := proto.Marshal(msg)
			if err != nil {
				bad = append(bad, badRow{b.recs[i], fmt.Errorf("row for %s: %w", id, err)})
				continue
			}
			data = append(data, raw)
			recs = append(recs, b.recs[i])
		}
		type sent struct {
			res  *managedwriter.AppendResult
			recs []*connect.SinkRecord
		}
		var inflight []sent
		for start := 0; start < len(data); start += storageWriteRequestRows {
			end := min(start+storageWriteRequestRows, len(data))
			res, err := st.ms.AppendRows(ctx, data[start:end])
			if err != nil {
				w.drop(id)
				return nil, &retriableError{fmt.Errorf("appending rows to %s: %w", id, err)}
			}
			inflight = append(inflight, sent{res, recs[start:end]})
		}
		for _, f := range inflight {
			resp, err := f.res.FullResponse(ctx)
			if resp != nil && len(resp.GetRowErrors()) > 0 {
				// The request was refused as a whole; the named rows are
				// bad, the others must go again.
				badIdx := map[int64]string{}
				for _, re := range resp.GetRowErrors() {
					badIdx[re.GetIndex()] = re.GetMessage()
				}
				var again []*connect.SinkRecord
				for i, rec := range f.recs {
					if msg, ok := badIdx[int64(i)]; ok {
						bad = append(bad, badRow{rec, fmt.Errorf("BigQuery refused the row for %s: %s", id, msg)})
					} else {
						again = append(again, rec)
					}
				}
				if len(again) > 0 {
					return nil, &retriableError{fmt.Errorf("appending rows to %s: %d rows refused with others", id, len(again))}
				}
				continue
			}
			if err != nil {
				w.drop(id)
				if isRetriable(err) {
					return nil, &retriableError{fmt.Errorf("appending rows to %s: %w", id, err)}
				}
				return nil, fmt.Errorf("appending rows to %s: %w", id, err)
			}
			if st.pending != nil {
				for _, rec := range f.recs {
					tp, next := consumed(rec)
					if next > st.pending[tp] {
						st.pending[tp] = next
					}
				}
			}
		}
		if st.pending != nil {
			// Bad and reported rows are done too: their offsets may go.
			for _, rec := range b.recs {
				tp, next := consumed(rec)
				if next > st.pending[tp] {
					st.pending[tp] = next
				}
			}
		}
	}
	return bad, nil
}

// drop forgets a stream after a failure; the next write opens a new one.
// In batch mode the uncommitted rows of a dropped PENDING stream are lost
// with it, and their offsets were never committed: they are delivered
// again.
func (w *storageWrite) drop(id tableID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st := w.streams[id]; st != nil {
		st.ms.Close()
		delete(w.streams, id)
	}
}

// stream returns the open stream of a table, opening a new one when the
// table schema changed (rows are encoded against the schema the stream
// was opened with).
func (w *storageWrite) stream(ctx context.Context, id tableID, schema bq.Schema) (*tableStream, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st := w.streams[id]; st != nil {
		if sameSchema(st.schema, schema) {
			return st, nil
		}
		if w.t.s.batchMode {
			if err := w.commitStream(ctx, id, st); err != nil {
				return nil, err
			}
		} else {
			st.ms.Close()
		}
		delete(w.streams, id)
	}
	storageSchema, err := adapt.BQSchemaToStorageTableSchema(schema)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	// TIME and NUMERIC travel as strings, which the API accepts and which
	// keep decimals exact; TIMESTAMP and DATE use the default int64 micros
	// and int32 days.
	asString := func(t storagepb.TableFieldSchema_Type) adapt.ProtoConversionOption {
		return adapt.WithProtoMapping(adapt.ProtoMapping{FieldType: t, Type: descriptorpb.FieldDescriptorProto_TYPE_STRING})
	}
	desc, err := adapt.StorageSchemaToProtoDescriptorWithOptions(storageSchema, "root",
		asString(storagepb.TableFieldSchema_TIME), asString(storagepb.TableFieldSchema_NUMERIC),
		asString(storagepb.TableFieldSchema_BIGNUMERIC), asString(storagepb.TableFieldSchema_DATETIME))
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	md, ok := desc.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("table %s: the schema did not give a message descriptor", id)
	}
	dp, err := adapt.NormalizeDescriptor(md)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	typ := managedwriter.DefaultStream
	if w.t.s.batchMode {
		typ = managedwriter.PendingStream
	}
	ms, err := w.mw.NewManagedStream(ctx,
		managedwriter.WithDestinationTable(managedwriter.TableParentFromParts(w.t.c.project, id.dataset, id.table)),
		managedwriter.WithType(typ),
		managedwriter.WithSchemaDescriptor(dp),
		managedwriter.EnableWriteRetries(true))
	if err != nil {
		return nil, fmt.Errorf("opening a write stream for %s: %w", id, err)
	}
	st := &tableStream{ms: ms, msg: md, schema: schema, opened: time.Now()}
	if w.t.s.batchMode {
		st.pending = map[connect.TopicPartition]int64{}
	}
	w.streams[id] = st
	return st, nil
}

func sameSchema(a, b bq.Schema) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.Type != y.Type || x.Repeated != y.Repeated || x.Required != y.Required {
			return false
		}
		if x.Type == bq.RecordFieldType && !sameSchema(x.Schema, y.Schema) {
			return false
		}
	}
	return true
}

// fillMessage sets the fields of msg from an insertAll-style row (the
// rowMapper's output), converting to the protobuf types of the schema.
func fillMessage(msg *dynamicpb.Message, schema bq.Schema, row map[string]any) error {
	fields := msg.Descriptor().Fields()
	for _, f := range schema {
		v, ok := row[f.Name]
		if !ok || v == nil {
			continue
		}
		fd := fields.ByName(protoreflect.Name(strings.ToLower(f.Name)))
		if fd == nil {
			fd = fields.ByName(protoreflect.Name(f.Name))
		}
		if fd == nil {
			return fmt.Errorf("%s: no such column", f.Name)
		}
		if f.Repeated {
			items, ok := v.([]any)
			if !ok {
				return fmt.Errorf("%s: expected a list, got %T", f.Name, v)
			}
			list := msg.Mutable(fd).List()
			for _, it := range items {
				pv, err := protoValue(fd, f, it, list.NewElement)
				if err != nil {
					return fmt.Errorf("%s: %w", f.Name, err)
				}
				list.Append(pv)
			}
			continue
		}
		pv, err := protoValue(fd, f, v, func() protoreflect.Value { return msg.NewField(fd) })
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		msg.Set(fd, pv)
	}
	return nil
}

func protoValue(fd protoreflect.FieldDescriptor, f *bq.FieldSchema, v any, newMsg func() protoreflect.Value) (protoreflect.Value, error) {
	switch f.Type {
	case bq.RecordFieldType:
		m, ok := v.(map[string]any)
		if !ok {
			return protoreflect.Value{}, fmt.Errorf("expected a record, got %T", v)
		}
		sub := newMsg()
		dm, ok := sub.Message().(*dynamicpb.Message)
		if !ok {
			dm = dynamicpb.NewMessage(fd.Message())
			sub = protoreflect.ValueOfMessage(dm)
		}
		if err := fillMessage(dm, f.Schema, m); err != nil {
			return protoreflect.Value{}, err
		}
		return sub, nil
	case bq.IntegerFieldType:
		n, err := toInt64(v)
		return protoreflect.ValueOfInt64(n), err
	case bq.FloatFieldType:
		x, err := toFloat64(v)
		return protoreflect.ValueOfFloat64(x), err
	case bq.BooleanFieldType:
		b, ok := v.(bool)
		if !ok {
			return protoreflect.Value{}, fmt.Errorf("expected a boolean, got %T", v)
		}
		return protoreflect.ValueOfBool(b), nil
	case bq.BytesFieldType:
		s, _ := v.(string)
		b, err := base64.StdEncoding.DecodeString(s)
		return protoreflect.ValueOfBytes(b), err
	case bq.TimestampFieldType:
		s, _ := v.(string)
		t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
		return protoreflect.ValueOfInt64(t.UnixMicro()), err
	case bq.DateFieldType:
		s, _ := v.(string)
		t, err := time.Parse("2006-01-02", s)
		return protoreflect.ValueOfInt32(int32(t.Unix() / 86400)), err
	default: // STRING, TIME, NUMERIC, BIGNUMERIC, DATETIME and the rest as text
		switch x := v.(type) {
		case string:
			return protoreflect.ValueOfString(x), nil
		case float64:
			return protoreflect.ValueOfString(strconv.FormatFloat(x, 'g', -1, 64)), nil
		default:
			return protoreflect.ValueOfString(fmt.Sprint(x)), nil
		}
	}
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case string:
		return strconv.ParseInt(x, 10, 64)
	case int64:
		return x, nil
	case float64:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("expected an integer, got %T", v)
}

func toFloat64(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return strconv.ParseFloat(x, 64)
	case int64:
		return float64(x), nil
	}
	return 0, fmt.Errorf("expected a number, got %T", v)
}
