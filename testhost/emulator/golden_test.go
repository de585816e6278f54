package emulator_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"dokkumcp.dev/testhost/emulator"
)

// recordingsDir holds recordings of Dokku 0.38.27 over its SSH forced
// command, one directory per command, made in numbered order on a fresh
// install.
const recordingsDir = "../testdata/dokku-0.38.27"

// recordedCreatedAt is the machine clock, in Unix seconds, when the
// recordings' apps were created.
const recordedCreatedAt = 1796413860

// recordedAuthorizedKeys is the authorized_keys line that sshcommand acl-add
// wrote for the recording's throwaway key.
const recordedAuthorizedKeys = `command="FINGERPRINT=SHA256:swVnjofTiTnRT98d32XcE4+eBroHRvP7zWbKlF7EKf8 NAME=\"admin\" ` +
	"`cat /home/dokku/.sshcommand`" + ` $SSH_ORIGINAL_COMMAND",no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding ` +
	`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3J8npPMRClDvInNSbdl9LW+Quk7V8DPO5naIRTfOZ6 admin@verify` + "\n"

// runSpecific replaces the values that differ between runs of the same
// command: the random proxy port and the id, process id, start time and
// duration of build records.
var runSpecific = []struct {
	pattern     *regexp.Regexp
	replacement string
}{
	{regexp.MustCompile(`Random port \d+`), "Random port <port>"},
	{regexp.MustCompile(`(?m)^[0-9a-z]{14}(\s+\S+\s+\S+\s+)\d+(\s+\S+\s+)\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(\s+)\S+$`), "<id>${1}<pid>${2}<time>${3}<duration>"},
	{regexp.MustCompile(`"id":"[0-9a-z]{14}"`), `"id":"<id>"`},
	{regexp.MustCompile(`"pid":\d+`), `"pid":0`},
	{regexp.MustCompile(`"started_at":"[^"]*"`), `"started_at":"<time>"`},
	{regexp.MustCompile(`"duration":"[^"]*"`), `"duration":"<duration>"`},
	{regexp.MustCompile(`/[0-9a-z]{14}\.log"`), `/<id>.log"`},
}

func normalize(b []byte) string {
	s := string(b)
	for _, r := range runSpecific {
		s = r.pattern.ReplaceAllString(s, r.replacement)
	}
	return s
}

// recording is one recorded command and what the client received.
type recording struct {
	name           string
	command        string
	stdout, stderr []byte
	exit           int
}

func loadRecordings(t *testing.T) []recording {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(recordingsDir, "[0-9][0-9]-[0-9][0-9]"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no recordings found in %s (err %v); restore the testdata directory", recordingsDir, err)
	}

	var recordings []recording
	for _, dir := range dirs {
		read := func(name string) []byte {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatalf("read recording file: %v", err)
			}
			return data
		}
		exit, err := strconv.Atoi(strings.TrimSpace(string(read("exit"))))
		if err != nil {
			t.Fatalf("parse exit status in %s: %v", dir, err)
		}
		recordings = append(recordings, recording{
			name:    filepath.Base(dir),
			command: string(read("cmd.txt")),
			stdout:  read("stdout"),
			stderr:  read("stderr"),
			exit:    exit,
		})
	}
	return recordings
}

// TestGoldenRecordings replays every recording in order against one
// emulator, as they ran in sequence on one host.
func TestGoldenRecordings(t *testing.T) {
	recordings := loadRecordings(t)
	if len(recordings) != 73 {
		t.Fatalf("found %d recordings, expected 73", len(recordings))
	}

	e := emulator.New(emulator.Options{
		Version: "0.38.27",
		Clock:   func() time.Time { return time.Unix(recordedCreatedAt, 0) },
	})
	e.SetAuthorizedKeys([]byte(recordedAuthorizedKeys))

	for _, rec := range recordings {
		var stdout, stderr bytes.Buffer
		exit := e.Run(context.Background(), emulator.Invocation{
			OriginalCommand: rec.command,
			KeyName:         "admin",
			Fingerprint:     "SHA256:swVnjofTiTnRT98d32XcE4+eBroHRvP7zWbKlF7EKf8",
			Stdin:           strings.NewReader(""),
			Stdout:          &stdout,
			Stderr:          &stderr,
		})

		t.Run(rec.name, func(t *testing.T) {
			if got, want := normalize(stdout.Bytes()), normalize(rec.stdout); got != want {
				t.Errorf("command %q: stdout differs\n got: %q\nwant: %q", rec.command, got, want)
			}
			if got, want := normalize(stderr.Bytes()), normalize(rec.stderr); got != want {
				t.Errorf("command %q: stderr differs\n got: %q\nwant: %q", rec.command, got, want)
			}
			if exit != rec.exit {
				t.Errorf("command %q: exit status %d, want %d", rec.command, exit, rec.exit)
			}
		})
	}
}
