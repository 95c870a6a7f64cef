package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// Environment variables naming the BigQuery emulator scripts/test.sh starts:
//
//	FERRY_TEST_BIGQUERY=http://127.0.0.1:19050      (REST base URL)
//	FERRY_TEST_BIGQUERY_GRPC=127.0.0.1:19051        (Storage Read/Write API, plaintext gRPC)
const (
	EnvBigQuery     = "FERRY_TEST_BIGQUERY"
	EnvBigQueryGRPC = "FERRY_TEST_BIGQUERY_GRPC"
)

// BigQueryProject is the emulator's default project.
const BigQueryProject = "test-project"

// BigQueryEmulator is a fresh dataset on the emulator named by FERRY_TEST_BIGQUERY.
type BigQueryEmulator struct {
	// REST is the base URL (http://host:port), GRPC the Storage API's host:port
	// ("" when FERRY_TEST_BIGQUERY_GRPC is unset).
	REST, GRPC string
	Project    string
	// Dataset was created for this test and is dropped with its tables at the end.
	Dataset string
}

// BigQuery creates a dataset for the test on the emulator named by FERRY_TEST_BIGQUERY.
// Without the variable the test is skipped, except in CI (CI=true), where it fails.
func BigQuery(t testing.TB) BigQueryEmulator {
	t.Helper()
	rest := strings.TrimRight(dbEnv(t, EnvBigQuery), "/")
	e := BigQueryEmulator{REST: rest, GRPC: os.Getenv(EnvBigQueryGRPC), Project: BigQueryProject, Dataset: freshDBName(t)}
	e.CreateDataset(t, e.Dataset)
	return e
}

// CreateDataset creates another dataset, dropped (with its tables) when the test ends.
func (e BigQueryEmulator) CreateDataset(t testing.TB, name string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"datasetReference": map[string]string{"projectId": e.Project, "datasetId": name}})
	url := fmt.Sprintf("%s/bigquery/v2/projects/%s/datasets", e.REST, e.Project)
	if err := bqRequest(http.MethodPost, url, body); err != nil {
		t.Fatalf("testbed: create dataset %s: %v", name, err)
	}
	t.Cleanup(func() {
		del := fmt.Sprintf("%s/bigquery/v2/projects/%s/datasets/%s?deleteContents=true", e.REST, e.Project, name)
		if err := bqRequest(http.MethodDelete, del, nil); err != nil {
			t.Logf("testbed: drop dataset %s: %v", name, err)
		}
	})
}

func bqRequest(method, url string, body []byte) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	cl := &http.Client{Timeout: 30 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, b.String())
	}
	return nil
}
