//go:build unix

package file

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"
)

// stdinReadWait bounds how long one read of standard input waits for data,
// so that Poll returns even when nobody types anything.
const stdinReadWait = 20 * time.Millisecond

// openStdin returns a reader of standard input whose reads give up after a
// short while instead of blocking forever. It reads a duplicate of fd 0 put
// in non-blocking mode, which lets the Go poller apply read deadlines;
// closing it restores blocking mode and leaves fd 0 open.
func openStdin() io.ReadCloser {
	fd, err := syscall.Dup(0)
	if err != nil {
		return io.NopCloser(os.Stdin)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return io.NopCloser(os.Stdin)
	}
	return &stdinReader{f: os.NewFile(uintptr(fd), "stdin")}
}

type stdinReader struct{ f *os.File }

func (s *stdinReader) Read(p []byte) (int, error) {
	if err := s.f.SetReadDeadline(time.Now().Add(stdinReadWait)); err != nil && !errors.Is(err, os.ErrNoDeadline) {
		return 0, err
	}
	n, err := s.f.Read(p)
	if errors.Is(err, syscall.EAGAIN) {
		// Not pollable but non-blocking: simply nothing to read yet.
		err = os.ErrDeadlineExceeded
	}
	return n, err
}

func (s *stdinReader) Close() error {
	s.f.Fd() // puts the shared file description back into blocking mode
	return s.f.Close()
}
