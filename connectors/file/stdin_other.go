//go:build !unix

package file

import (
	"io"
	"os"
)

// openStdin returns standard input as is: on this platform its reads block
// until data arrives.
func openStdin() io.ReadCloser { return io.NopCloser(os.Stdin) }
