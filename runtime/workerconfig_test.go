package runtime_test

import (
	"testing"

	"github.com/ferryhq/ferry/runtime"
)

// The advertised URL follows Apache: rest.advertised.listener picks the
// listener of that scheme, else an http listener wins, else the first.
func TestAdvertisedURL(t *testing.T) {
	base := map[string]string{"key.converter": "x", "value.converter": "x", "offset.storage.file.filename": "/tmp/o"}
	for _, tc := range []struct {
		props map[string]string
		bound []string
		want  string
	}{
		{map[string]string{"listeners": "http://127.0.0.1:0"}, []string{"127.0.0.1:4000"}, "http://127.0.0.1:4000/"},
		{map[string]string{"listeners": "https://127.0.0.1:0"}, []string{"127.0.0.1:4000"}, "https://127.0.0.1:4000/"},
		{map[string]string{"listeners": "https://127.0.0.1:8443,http://127.0.0.1:8083"}, []string{"127.0.0.1:8443", "127.0.0.1:8083"}, "http://127.0.0.1:8083/"},
		{map[string]string{"listeners": "https://127.0.0.1:8443,http://127.0.0.1:8083", "rest.advertised.listener": "HTTPS"},
			[]string{"127.0.0.1:8443", "127.0.0.1:8083"}, "https://127.0.0.1:8443/"},
		{map[string]string{"listeners": "https://127.0.0.1:8443", "rest.advertised.host.name": "w1.example", "rest.advertised.port": "9443"},
			[]string{"127.0.0.1:8443"}, "https://w1.example:9443/"},
	} {
		props := map[string]string{}
		for k, v := range base {
			props[k] = v
		}
		for k, v := range tc.props {
			props[k] = v
		}
		w, err := runtime.ParseWorkerConfig(props, true)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := w.AdvertisedURL(tc.bound); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.props, got, tc.want)
		}
	}
}
