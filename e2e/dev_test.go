package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// TestDevQuickstart runs `ferry dev --quickstart` as the README does and
// checks what a newcomer sees: the REST API, a running datagen → topic →
// file pipeline, the SQLite orders table copied to a topic (changes
// included, nothing duplicated across a restart), kcat against the
// embedded broker, and `ferry lag`.
func TestDevQuickstart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	restPort, kafkaPort := testbed.FreePort(t), testbed.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", restPort)
	kafka := fmt.Sprintf("127.0.0.1:%d", kafkaPort)
	args := []string{"dev", "--quickstart", "--dir", filepath.Join(dir, "data"),
		"--rest", fmt.Sprintf("127.0.0.1:%d", restPort), "--kafka", kafka}
	dev := startFerry(t, dir, args...)
	waitHTTP(t, url)
	w := &worker{url: url}
	st := w.waitState(t, "datagen-users", "RUNNING", 1)
	if len(st) != 4 || st["type"] != "source" || st["name"] != "datagen-users" {
		t.Fatalf("status shape: %v", st)
	}
	conn := st["connector"].(map[string]any)
	if len(conn) != 2 || conn["worker_id"] == "" {
		t.Fatalf("connector status shape: %v", conn)
	}
	w.waitState(t, "users-file-sink", "RUNNING", 1)
	users := filepath.Join(dir, "data", "users.txt")
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		return countLines(users) >= 2, fmt.Sprint(countLines(users))
	})
	lines := readLines(t, users)
	if !strings.Contains(lines[0], "userid=") || !strings.Contains(lines[0], "Struct{") {
		t.Fatalf("users.txt line: %q", lines[0])
	}

	out, err := exec.Command(ferryBinary(t), "lag", "users-file-sink", "--url", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ferry lag: %v\n%s", err, out)
	}
	rows := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(rows) < 2 || strings.Join(strings.Fields(rows[0]), " ") != "GROUP TOPIC PARTITION LAG" ||
		!strings.HasPrefix(rows[1], "connect-users-file-sink") {
		t.Fatalf("ferry lag output:\n%s", out)
	}

	// The orders table: the three seeded rows, then an update.
	w.waitState(t, "orders-source", "RUNNING", 1)
	shop, _, err := dialect.Open(t.Context(), "jdbc:sqlite:"+filepath.Join(dir, "data", "shop.db"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	orders := testbed.ConsumeN(t, kafka, "sqlite.orders", 3, 60*time.Second)
	wantOrders := []string{
		`{"id":1001,"customer_id":500,"amount":649.99,"status":"CREATED","updated_at":`,
		`{"id":1002,"customer_id":501,"amount":25.50,"status":"PAID","updated_at":`,
		`{"id":1003,"customer_id":502,"amount":1299.00,"status":"SHIPPED","updated_at":`,
	}
	for i, want := range wantOrders {
		checkOrder(t, orders[i], want)
	}
	if _, err := shop.Exec(`UPDATE orders SET status = 'PAID' WHERE id = 1001`); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, testbed.ConsumeN(t, kafka, "sqlite.orders", 4, 60*time.Second)[3],
		`{"id":1001,"customer_id":500,"amount":649.99,"status":"PAID","updated_at":`)

	// A restart keeps the table as changed and does not send the rows again:
	// the next record is the new row.
	dev.terminate(t)
	startFerry(t, dir, args...)
	waitHTTP(t, url)
	w.waitState(t, "orders-source", "RUNNING", 1)
	if got := tableRows(shop, `SELECT id, status FROM orders ORDER BY id`); got != "1001|PAID,1002|PAID,1003|SHIPPED" {
		t.Fatalf("orders after a restart: %s", got)
	}
	if _, err := shop.Exec(`INSERT INTO orders (customer_id, amount, status) VALUES (503, 15, 'CREATED')`); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, testbed.ConsumeN(t, kafka, "sqlite.orders", 5, 60*time.Second)[4],
		`{"id":1004,"customer_id":503,"amount":15.00,"status":"CREATED","updated_at":`)

	if kcat, err := exec.LookPath("kcat"); err == nil {
		out, err := exec.Command(kcat, "-C", "-b", kafka, "-t", "users", "-o", "beginning", "-c", "1", "-e", "-q").CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"payload":{`) {
			t.Fatalf("kcat against ferry dev: %v\n%s", err, out)
		}
		cmd := exec.Command(kcat, "-P", "-b", kafka, "-t", "from-kcat")
		cmd.Stdin = strings.NewReader("hello\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat produce: %v\n%s", err, out)
		}
	}
}

// checkOrder checks an orders record: a null key and a value starting with
// prefix (updated_at varies) and ending in an epoch-milliseconds number.
func checkOrder(t *testing.T, r *kgo.Record, prefix string) {
	t.Helper()
	v := string(r.Value)
	rest, ok := strings.CutPrefix(v, prefix)
	if r.Key != nil || !ok || !strings.HasSuffix(rest, "}") {
		t.Fatalf("orders record key %q value %s, want a null key and %s…}", r.Key, v, prefix)
	}
	if ms, err := strconv.ParseInt(strings.TrimSuffix(rest, "}"), 10, 64); err != nil || ms < 1e12 {
		t.Fatalf("updated_at in %s is not epoch milliseconds", v)
	}
}
