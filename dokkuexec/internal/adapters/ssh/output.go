package ssh

import "bytes"

// cappedBuffer keeps the first limit bytes written to it and counts the
// rest as truncated. It never returns an error, so the remote command keeps
// running and its exit status still arrives when the output is too large.
type cappedBuffer struct {
	limit     int
	data      []byte
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.limit - len(b.data)
	if len(p) > room {
		b.truncated = true
		if room > 0 {
			b.data = append(b.data, p[:room]...)
		}
		return len(p), nil
	}
	b.data = append(b.data, p...)
	return len(p), nil
}

// lineWriter passes each complete line written to it to onLine, and a line
// longer than limit in pieces of limit bytes. When onLine fails, lineWriter
// calls fail with the error and discards all later output without error, so
// the session's output copying keeps draining the channel.
type lineWriter struct {
	onLine  func(line string) error
	fail    func(error)
	limit   int
	pending []byte
	err     error
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return len(p), nil
	}
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			if w.limit > 0 && len(w.pending) >= w.limit {
				i = w.limit
			} else {
				return len(p), nil
			}
		}
		line := string(w.pending[:i])
		if i < len(w.pending) && w.pending[i] == '\n' {
			i++
		}
		w.pending = w.pending[i:]
		if err := w.onLine(line); err != nil {
			w.err = err
			w.pending = nil
			w.fail(err)
			return len(p), nil
		}
	}
}

// flush hands on a last line that had no newline.
func (w *lineWriter) flush() error {
	if w.err != nil || len(w.pending) == 0 {
		return w.err
	}
	line := string(w.pending)
	w.pending = nil
	return w.onLine(line)
}
