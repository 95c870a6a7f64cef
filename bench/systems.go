package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// system knows how to start one Connect implementation in standalone and in
// distributed mode.
type system struct {
	name string // "apache" or "ferry"
	// argv returns the command line for a standalone worker with the given files.
	argv func(workerFile string, connectorFiles []string) []string
	// distArgv returns the command line for one worker of a distributed cluster.
	distArgv func(workerFile string) []string
	// withClasspath returns the same system with the jars of dir added to its
	// classpath (Apache only: a connector that is not part of Kafka, such as Debezium's
	// JDBC sink); nil for Ferry.
	withClasspath func(dir string) system
}

// jvmPerfOpts are kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS, so Apache runs the
// way connect-standalone.sh runs it.
var jvmPerfOpts = []string{"-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
	"-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
	"-XX:MaxInlineLevel=15", "-Djava.awt.headless=true"}

// apacheSystem runs Apache's workers: standalone ones with heap, the workers of a
// distributed cluster with clusterHeap (three JVMs share the machine). The classpath is
// connectLib's jars followed by those of each extraLibs directory.
func apacheSystem(java string, heap, clusterHeap []string, log4j, connectLib string, extraLibs ...string) system {
	cp := []string{filepath.Join(connectLib, "*")}
	for _, d := range extraLibs {
		cp = append(cp, filepath.Join(d, "*"))
	}
	jvm := func(heap []string, main string) []string {
		a := []string{java}
		a = append(a, heap...)
		a = append(a, jvmPerfOpts...)
		return append(a, "-Dlog4j2.configurationFile="+log4j, "-cp", strings.Join(cp, string(os.PathListSeparator)), main)
	}
	return system{name: "apache",
		withClasspath: func(dir string) system {
			return apacheSystem(java, heap, clusterHeap, log4j, connectLib, append(slices.Clone(extraLibs), dir)...)
		},
		argv: func(workerFile string, conns []string) []string {
			a := append(jvm(heap, "org.apache.kafka.connect.cli.ConnectStandalone"), workerFile)
			return append(a, conns...)
		},
		distArgv: func(workerFile string) []string {
			return append(jvm(clusterHeap, "org.apache.kafka.connect.cli.ConnectDistributed"), workerFile)
		}}
}

// ferrySystem runs Ferry from a plain copy of bin placed in the scratch
// directory, the way an installed binary is met. The file the Go linker wrote is
// cached differently: run in place, a freshly built ferry showed about 3 MiB
// more resident file pages (same bytes, same workload) than a copy of it or
// the binary read cold from disk.
func ferrySystem(bin string) system {
	return system{name: "ferry",
		argv: func(workerFile string, conns []string) []string {
			return append([]string{installed(bin, workerFile), "standalone", workerFile}, conns...)
		},
		distArgv: func(workerFile string) []string {
			return []string{installed(bin, workerFile), "distributed", workerFile}
		}}
}

// installed copies bin once into the scratch directory (the parent of the
// workload's directory holding workerFile) and returns the copy's path, or
// bin itself if copying fails.
func installed(bin, workerFile string) string {
	dst := filepath.Join(filepath.Dir(filepath.Dir(workerFile)), filepath.Base(bin))
	if _, err := os.Stat(dst); err == nil {
		return dst // copied for an earlier worker of this run
	}
	if err := copyFile(bin, dst); err != nil {
		_ = os.Remove(dst)
		return bin
	}
	return dst
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// writeProps writes a Java properties file with sorted keys.
func writeProps(path string, m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		// Backslashes are escapes in properties files; the values here are paths,
		// class names and numbers, so escaping backslashes is all that is needed.
		fmt.Fprintf(&b, "%s=%s\n", k, strings.ReplaceAll(m[k], `\`, `\\`))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// restClient polls a worker's REST API.
type restClient struct {
	base string
	hc   *http.Client
}

func newRESTClient(port int) *restClient {
	return &restClient{base: fmt.Sprintf("http://127.0.0.1:%d", port),
		hc: &http.Client{Timeout: 5 * time.Second}}
}

func (c *restClient) get(ctx context.Context, path string, into any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if into != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, into); err != nil {
			return resp.StatusCode, fmt.Errorf("GET %s: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

type connectorStatus struct {
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"tasks"`
}

// running reports whether the connector and all its (at least one) tasks are RUNNING,
// and an error when any of them FAILED.
func (s *connectorStatus) running() (bool, error) {
	if s.Connector.State == "FAILED" {
		return false, fmt.Errorf("connector FAILED: %s", firstLine(s.Connector.Trace))
	}
	for _, t := range s.Tasks {
		if t.State == "FAILED" {
			return false, fmt.Errorf("task %d FAILED: %s", t.ID, firstLine(t.Trace))
		}
	}
	if s.Connector.State != "RUNNING" || len(s.Tasks) == 0 {
		return false, nil
	}
	for _, t := range s.Tasks {
		if t.State != "RUNNING" {
			return false, nil
		}
	}
	return true, nil
}

// post sends body as JSON and returns the status code and the response body.
func (c *restClient) post(ctx context.Context, path string, body any) (int, []byte, error) {
	js, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(js))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// plugins lists the class names of every plugin the worker offers (connectors,
// converters, transformations, predicates).
func (c *restClient) plugins(ctx context.Context) (map[string]bool, error) {
	var list []struct {
		Class string `json:"class"`
	}
	code, err := c.get(ctx, "/connector-plugins?connectorsOnly=false", &list)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /connector-plugins: HTTP %d", code)
	}
	m := make(map[string]bool, len(list))
	for _, p := range list {
		m[p.Class] = true
	}
	return m, nil
}
