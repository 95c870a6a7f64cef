package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestDevQuickstart runs `ferry dev --quickstart` as the README does and
// checks what a newcomer sees: the REST API, a running datagen → topic →
// file pipeline, kcat against the embedded broker, and `ferry lag`.
func TestDevQuickstart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	restPort, kafkaPort := testbed.FreePort(t), testbed.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", restPort)
	kafka := fmt.Sprintf("127.0.0.1:%d", kafkaPort)
	startFerry(t, dir, "dev", "--quickstart", "--dir", filepath.Join(dir, "data"),
		"--rest", fmt.Sprintf("127.0.0.1:%d", restPort), "--kafka", kafka)
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
