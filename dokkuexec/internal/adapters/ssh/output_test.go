package ssh

import (
	"errors"
	"slices"
	"testing"
)

func TestLineWriter(t *testing.T) {
	t.Parallel()
	var lines []string
	w := &lineWriter{limit: 8, onLine: func(line string) error {
		lines = append(lines, line)
		return nil
	}, fail: func(err error) { t.Errorf("fail(%v) called", err) }}
	for _, chunk := range []string{"a", "b\nc\n", "\n", "0123456789", "ab\nlast"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if err := w.flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if want := []string{"ab", "c", "", "01234567", "89ab", "last"}; !slices.Equal(lines, want) {
		t.Errorf("lines = %q, want %q", lines, want)
	}
}

func TestLineWriterStopsOnError(t *testing.T) {
	t.Parallel()
	stop := errors.New("client gone")
	calls := 0
	var failed error
	w := &lineWriter{onLine: func(string) error {
		calls++
		return stop
	}, fail: func(err error) { failed = err }}
	if n, err := w.Write([]byte("a\nb\nc\n")); n != 6 || err != nil {
		t.Fatalf("Write = %d, %v; want every byte taken and no error", n, err)
	}
	if _, err := w.Write([]byte("d\n")); err != nil {
		t.Fatalf("Write after the failure: %v", err)
	}
	if calls != 1 || !errors.Is(failed, stop) || !errors.Is(w.flush(), stop) {
		t.Errorf("calls = %d, failed = %v; want one call and the error passed on", calls, failed)
	}
}
