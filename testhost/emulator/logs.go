package emulator

import (
	"fmt"
	"strings"
	"time"
)

// syntheticLogMessages is the log history every emulated container has.
var syntheticLogMessages = []string{
	"Starting process",
	"Listening on port 5000",
	"Ready to accept connections",
}

func cmdLogs(s *session, args []string) int {
	fs := s.newFlagSet("logs")
	help := fs.BoolP("help", "h", false, "print help for the command")
	num := fs.Int64P("num", "n", 100, "the number of lines to display")
	processType := fs.StringP("ps", "p", "", "only display logs from the given process")
	tail := fs.BoolP("tail", "t", false, "continually stream logs")
	raw := fs.BoolP("quiet", "q", false, "display raw logs without colors, time and names")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *help {
		// TODO: print the logs plugin's usage text.
		return 0
	}

	// A follower subscribes before the history is read, so that no line
	// published after the history is missed.
	var feed *logFollower
	if *tail {
		feed = s.e.subscribeLogs()
		defer s.e.unsubscribeLogs(feed)
	}
	lines, code, ok := s.runtimeLogs(fs.Arg(0), *processType, *num, *raw)
	if !ok {
		return code
	}
	for _, line := range lines {
		s.stdoutLine(line)
	}
	if !*tail {
		return 0
	}

	// Following never ends on its own; the client ends it by closing the
	// session. Lines come from PublishLog.
	for {
		select {
		case <-s.ctx.Done():
			return 0
		case entry := <-feed.entries:
			if entry.app != fs.Arg(0) || (*processType != "" && !strings.HasPrefix(entry.process, *processType+".")) {
				continue
			}
			if *raw {
				s.stdoutLine(entry.message)
				continue
			}
			stamp := s.e.clock().UTC().Format(time.RFC3339Nano)
			s.stdoutLine(logLine(logColors[0], stamp, entry.process, entry.message))
		}
	}
}

// logEntry is one line published with PublishLog.
type logEntry struct {
	app, process, message string
}

// PublishLog writes message as a new log line of the app's container
// process (such as "web.1") to every session that follows logs with
// `logs -t`, and returns how many sessions it was offered to. It waits until
// each follower has taken the line or ended, so no line is lost.
func (e *Emulator) PublishLog(app, process, message string) int {
	e.feedMu.Lock()
	followers := make([]*logFollower, 0, len(e.followers))
	for f := range e.followers {
		followers = append(followers, f)
	}
	e.feedMu.Unlock()

	entry := logEntry{app: app, process: process, message: message}
	for _, f := range followers {
		select {
		case f.entries <- entry:
		case <-f.done:
		}
	}
	return len(followers)
}

// LogFollowers returns how many sessions follow logs with `logs -t`, so that
// tests can wait for a follower before publishing.
func (e *Emulator) LogFollowers() int {
	e.feedMu.Lock()
	defer e.feedMu.Unlock()
	return len(e.followers)
}

// logFollower is one session following logs.
type logFollower struct {
	entries chan logEntry
	// done is closed when the session stops following.
	done chan struct{}
}

func (e *Emulator) subscribeLogs() *logFollower {
	f := &logFollower{entries: make(chan logEntry), done: make(chan struct{})}
	e.feedMu.Lock()
	defer e.feedMu.Unlock()
	if e.followers == nil {
		e.followers = map[*logFollower]bool{}
	}
	e.followers[f] = true
	return f
}

func (e *Emulator) unsubscribeLogs(f *logFollower) {
	close(f.done)
	e.feedMu.Lock()
	defer e.feedMu.Unlock()
	delete(e.followers, f)
}

// runtimeLogs returns the last num lines of each container of the app.
func (s *session) runtimeLogs(appName, processType string, num int64, raw bool) ([]string, int, bool) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()

	a, err := s.verifyApp(appName)
	if err != nil {
		return nil, s.failWith(err), false
	}
	if !a.deployed {
		return nil, s.failWith(fmt.Errorf("App %s has not been deployed", a.name)), false
	}

	start := s.e.clock().UTC().Add(-time.Minute)
	var lines []string
	for i, container := range a.containers() {
		name := sanitizeContainer(container)
		if processType != "" && !strings.HasPrefix(name, processType+".") {
			continue
		}
		messages := syntheticLogMessages
		if num >= 0 && int64(len(messages)) > num {
			messages = messages[int64(len(messages))-num:]
		}
		for j, message := range messages {
			if raw {
				lines = append(lines, message)
				continue
			}
			stamp := start.Add(time.Duration(j) * time.Second).Format(time.RFC3339Nano)
			lines = append(lines, logLine(logColors[i%len(logColors)], stamp, name, message))
		}
	}
	return lines, 0, true
}
