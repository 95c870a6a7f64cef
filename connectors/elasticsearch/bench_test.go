package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/ferryhq/ferry/connect"
)

// BenchmarkPut measures documents/s of Put into the test bed's OpenSearch
// node (Struct values with a schema, key ids, external versions, batches
// of 2000), next to a plain net/http loop posting the same bulk bodies one
// after the other (the limit).
func BenchmarkPut(b *testing.B) {
	base := nodeURL(b)
	const perPut = 10000
	b.Run("sink", func(b *testing.B) {
		topic := uniqueTopic(b)
		task := startTask(b, confluent, map[string]string{ConnectionURL: base, MaxInFlight: "1"}, &taskCtx{})
		ctx := context.Background()
		off := int64(0)
		b.ResetTimer()
		for b.Loop() {
			recs := make([]*connect.SinkRecord, perPut)
			for i := range recs {
				recs[i] = rec(topic, off, fmt.Sprint(off), point(int32(off), fmt.Sprintf("user-%d", off)))
				off++
			}
			if err := task.Put(ctx, recs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*perPut)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("raw-bulk", func(b *testing.B) {
		topic := uniqueTopic(b)
		off := int64(0)
		b.ResetTimer()
		for b.Loop() {
			for range perPut / 2000 {
				var body bytes.Buffer
				for range 2000 {
					fmt.Fprintf(&body, `{"index":{"_index":%q,"_id":"%d","version":%d,"version_type":"external"}}`+"\n"+`{"id":%d,"name":"user-%d","score":%g}`+"\n",
						topic, off, off, off, off, float64(off)/2)
					off++
				}
				resp, err := http.Post(base+"/_bulk", "application/x-ndjson", &body)
				if err != nil {
					b.Fatal(err)
				}
				var buf bytes.Buffer
				_, _ = buf.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || bytes.Contains(buf.Bytes()[:min(buf.Len(), 100)], []byte(`"errors":true`)) {
					b.Fatalf("bulk: %d %s", resp.StatusCode, buf.Bytes()[:min(buf.Len(), 300)])
				}
			}
		}
		b.ReportMetric(float64(b.N*perPut)/b.Elapsed().Seconds(), "docs/s")
	})
}
