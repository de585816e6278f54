package domain

import (
	"slices"
	"strings"
)

// ExitAppNotFound is the exit status Dokku uses when the named app does not
// exist (Dokku 0.38: apps:report, apps:exists, config commands, git:sync).
const ExitAppNotFound = 20

// messagePrefix starts Dokku's warning and failure lines (dokku_log_warn and
// dokku_log_fail): a space, "!", then five spaces.
const messagePrefix = " !     "

// Result is the output and exit status of one Dokku command run over SSH.
type Result struct {
	Stdout []byte
	Stderr []byte
	// StdoutTruncated and StderrTruncated mark a stream cut at the output
	// limit; the rest of it was read and discarded.
	StdoutTruncated bool
	StderrTruncated bool
	ExitStatus      int
}

// Messages returns Dokku's " !     " lines from stderr without the prefix,
// with repeated lines listed once. Dokku prints some warnings twice, for
// example "No web listeners specified" when `apps:create` builds the proxy
// configuration twice.
func (r Result) Messages() []string {
	var messages []string
	for _, line := range strings.Split(string(r.Stderr), "\n") {
		message, ok := strings.CutPrefix(line, messagePrefix)
		if !ok {
			continue
		}
		message = strings.TrimSpace(message)
		if message == "" || slices.Contains(messages, message) {
			continue
		}
		messages = append(messages, message)
	}
	return messages
}
