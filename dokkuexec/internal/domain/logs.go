package domain

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits of GetLogs and FollowLogs.
const (
	DefaultLogLines = 100
	MaxLogLines     = 1000
)

// LogLines validates the number of lines per container; 0 selects
// DefaultLogLines.
func LogLines(num int) (int, error) {
	if num == 0 {
		return DefaultLogLines, nil
	}
	if num < 1 || num > MaxLogLines {
		return 0, &InvalidArgumentError{Field: "num", Value: strconv.Itoa(num), Rule: fmt.Sprintf("ask for 1 to %d lines per container, or 0 for %d", MaxLogLines, DefaultLogLines)}
	}
	return num, nil
}

// LogsCommand returns `logs <app> [-t] --num <n> [-p <type>]`; follow adds
// -t, which streams new lines until the session is closed. A processType
// of "" selects every process type.
func LogsCommand(app AppName, num int, processType ProcessType, follow bool) (Command, error) {
	args := []string{string(app)}
	if follow {
		args = append(args, "-t")
	}
	// --num, not -n: a standalone -n would be swallowed by echo in
	// Dokku's second tokenizing pass.
	args = append(args, "--num", strconv.Itoa(num))
	if processType != "" {
		args = append(args, "-p", string(processType))
	}
	return newCommand("logs", args...)
}

// LogLine is one line of an app's runtime logs.
type LogLine struct {
	// Time is zero when the line was not in Dokku's form.
	Time time.Time
	// Process is the container, such as "web.1"; empty when the line was
	// not in Dokku's form.
	Process string
	// Message is the app's text, or the whole line when it was not in
	// Dokku's form. Terminal escape sequences are removed.
	Message string
}

// ansiEscape matches terminal escape sequences: CSI sequences such as the
// colour codes Dokku puts around the line prefix, and OSC sequences.
var ansiEscape = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])`)

// logPrefix matches "<RFC3339 time> app[<type>.<n>]:" after the escapes are
// removed.
var logPrefix = regexp.MustCompile(`^(\S+) app\[([^\]\s]+)\]: ?`)

// ParseLogLine reads one line of `logs` output: `ESC[<colour>m<time>
// app[<type>.<n>]:ESC[0m <message>`. A line in another form is kept whole
// as the message.
func ParseLogLine(line string) LogLine {
	clean := ansiEscape.ReplaceAllString(strings.TrimRight(line, "\r\n"), "")
	m := logPrefix.FindStringSubmatch(clean)
	if m == nil {
		return LogLine{Message: clean}
	}
	stamp, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		return LogLine{Message: clean}
	}
	return LogLine{Time: stamp.UTC(), Process: m[2], Message: clean[len(m[0]):]}
}

// ParseLogs reads the output of `logs`, one LogLine per line.
func ParseLogs(stdout []byte) []LogLine {
	text := strings.TrimSuffix(string(stdout), "\n")
	if text == "" {
		return []LogLine{}
	}
	split := strings.Split(text, "\n")
	lines := make([]LogLine, len(split))
	for i, line := range split {
		lines[i] = ParseLogLine(line)
	}
	return lines
}
