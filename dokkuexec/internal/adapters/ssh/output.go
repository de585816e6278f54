package ssh

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
