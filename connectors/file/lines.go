package file

import (
	"bytes"
	"io"
)

// lineReader splits a byte stream into lines terminated by \n, \r\n or a
// lone \r, keeping track of the stream position in bytes so that a restart
// can seek exactly past the last emitted line.
//
// A line without terminator is held back until its terminator arrives, and
// a \r that ends the buffered data is held back too: the next byte decides
// whether it is a lone \r or the start of \r\n.
type lineReader struct {
	r   io.Reader
	buf []byte
	// buf[start:end] is read but not yet consumed.
	start, end int
	// scan is how far past start the search for a terminator has already
	// looked without success, so that a long line is not rescanned after
	// every read.
	scan int
	// pos is the stream position of buf[start].
	pos int64
}

func newLineReader(r io.Reader, pos int64, size int) *lineReader {
	return &lineReader{r: r, buf: make([]byte, size), pos: pos}
}

// next returns the next complete line (valid until the following fill) and
// the stream position just past its terminator. ok is false when no
// complete line is buffered.
func (lr *lineReader) next() (line []byte, pos int64, ok bool) {
	data := lr.buf[lr.start:lr.end]
	from := lr.scan
	rest := data[from:]
	nl := bytes.IndexByte(rest, '\n')
	seg := rest
	if nl >= 0 {
		seg = rest[:nl]
	}
	cr := bytes.IndexByte(seg, '\r')
	var lineEnd, consumed int
	switch {
	case cr >= 0:
		cr += from
		if cr+1 == len(data) {
			// The byte after \r is not here yet.
			lr.scan = cr
			return nil, 0, false
		}
		lineEnd, consumed = cr, cr+1
		if data[cr+1] == '\n' {
			consumed++
		}
	case nl >= 0:
		nl += from
		lineEnd, consumed = nl, nl+1
	default:
		lr.scan = len(data)
		return nil, 0, false
	}
	line = data[:lineEnd]
	lr.start += consumed
	lr.pos += int64(consumed)
	lr.scan = 0
	return line, lr.pos, true
}

// fill reads more data into the buffer, compacting or growing it first
// when it is full. Lines returned by next before the call are invalidated.
func (lr *lineReader) fill() (int, error) {
	if lr.start == lr.end {
		lr.start, lr.end = 0, 0
	}
	if lr.end == len(lr.buf) {
		dst := lr.buf
		if lr.end-lr.start > len(lr.buf)/2 {
			// A pending line fills most of the buffer: double it so that
			// reads stay large.
			dst = make([]byte, 2*len(lr.buf))
		}
		n := copy(dst, lr.buf[lr.start:lr.end])
		lr.buf, lr.start, lr.end = dst, 0, n
	}
	n, err := lr.r.Read(lr.buf[lr.end:])
	lr.end += n
	return n, err
}

// position is the stream position of the first byte not yet returned as
// part of a line.
func (lr *lineReader) position() int64 { return lr.pos }
