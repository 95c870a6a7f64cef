package httpsink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/http/httptest"
)

// BenchmarkHTTPSinkPut measures records/s and requests/s of Put through
// nginx to the receiver, next to a plain net/http client posting the same
// bodies to the same server one after the other (the limit).
func BenchmarkHTTPSinkPut(b *testing.B) {
	recv := httptest.StartReceiver(b)
	recv.Discard()
	ng := httptest.StartNginx(b, recv.Addr())
	target := ng.URL + "/ingest"
	for _, c := range []struct {
		name    string
		perPut  int
		cfg     map[string]string
		perReq  int
		joinSep string
	}{
		{"batch500", 5000, map[string]string{BatchingEnabled: "true", BatchMaxSize: "500", BatchPrefix: "[", BatchSuffix: "]", BatchSeparator: ","}, 500, ","},
		{"single", 200, map[string]string{}, 1, ""},
	} {
		records := make([]*connect.SinkRecord, c.perPut)
		values := make([][]byte, c.perPut)
		for i := range records {
			v := fmt.Sprintf(`{"id":%d,"name":"user-%d","score":%d.5,"tags":["a","b"]}`, i, i, i)
			records[i] = rec("bench", int64(i), nil, v)
			values[i] = []byte(v)
		}
		var bodies [][]byte
		for i := 0; i < c.perPut; i += c.perReq {
			if c.perReq == 1 {
				bodies = append(bodies, values[i])
				continue
			}
			bodies = append(bodies, append(append([]byte("["), bytes.Join(values[i:i+c.perReq], []byte(c.joinSep))...), ']'))
		}
		b.Run("sink/"+c.name, func(b *testing.B) {
			cfg := map[string]string{HTTPURL: target, HTTPAuthorizationType: "none"}
			for k, v := range c.cfg {
				cfg[k] = v
			}
			task := &Task{flavour: aiven}
			if err := task.Start(context.Background(), &taskCtx{}, cfg); err != nil {
				b.Fatal(err)
			}
			defer task.Stop()
			var off int64
			b.ResetTimer()
			for b.Loop() {
				for _, r := range records {
					r.KafkaOffset = off
					off++
				}
				if err := task.Put(context.Background(), records); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*c.perPut)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.N*len(bodies))/b.Elapsed().Seconds(), "requests/s")
		})
		b.Run("raw/"+c.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			defer client.CloseIdleConnections()
			b.ResetTimer()
			for b.Loop() {
				for _, body := range bodies {
					resp, err := client.Post(target, "", bytes.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			}
			b.ReportMetric(float64(b.N*c.perPut)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.N*len(bodies))/b.Elapsed().Seconds(), "requests/s")
		})
	}
}
