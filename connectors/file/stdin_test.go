//go:build unix

package file

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSourceStdin runs the source on the standard input of a child
// process, fed through a pipe that stays open: Poll must return the lines
// and still honour cancellation while no more data comes.
func TestSourceStdin(t *testing.T) {
	if os.Getenv("FERRY_FILE_STDIN_CHILD") == "1" {
		stdinChild(t)
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSourceStdin$", "-test.v")
	cmd.Env = append(os.Environ(), "FERRY_FILE_STDIN_CHILD=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(in, "from\r\nstdin\n")
	err = cmd.Wait() // the child ends by itself; the pipe is still open
	in.Close()
	if err != nil || !strings.Contains(out.String(), "values=[from stdin]") {
		t.Fatalf("child failed: %v\n%s", err, out.String())
	}
}

func stdinChild(t *testing.T) {
	task := &SourceTask{}
	if err := task.Start(t.Context(), newTaskCtx(nil), map[string]string{"topic": "t"}); err != nil {
		t.Fatal(err)
	}
	defer task.Stop()
	task.wait = time.Millisecond
	var got []string
	for len(got) < 2 {
		recs, err := task.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.SourcePartition["filename"] != nil || r.SourceOffset["position"] != nil {
				t.Errorf("stdin partition/offset = %v/%v", r.SourcePartition, r.SourceOffset)
			}
		}
		got = append(got, values(recs)...)
	}
	fmt.Printf("values=%v\n", got)
	task.wait = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		task.Poll(ctx)
	}()
	cancel()
	<-done
}
