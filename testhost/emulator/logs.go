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

	lines, code, ok := s.runtimeLogs(fs.Arg(0), *processType, *num, *raw)
	if !ok {
		return code
	}
	for _, line := range lines {
		s.stdoutLine(line)
	}

	if *tail {
		// Following never ends on its own; the client ends it by closing
		// the session.
		<-s.ctx.Done()
	}
	return 0
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
