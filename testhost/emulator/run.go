package emulator

import (
	"fmt"
	"strconv"
	"strings"
)

// cmdRun is a minimal `run`: it verifies the app and runs one of a few
// built-in programs in place of a container, so that clients can be tested
// against exit codes and output sizes:
//
//   - `echo <args>` prints its arguments;
//   - `true` and `false` exit 0 and 1;
//   - `exit <n>` exits n;
//   - `seq <n>` prints the numbers 1 to n, one per line;
//   - `stderr <args>` prints its arguments on stderr;
//   - anything else fails as bash does, with exit status 127.
//
// NOTE: a real host starts a container from the app's image. What it prints
// for an app that was never deployed is not recorded, so the emulator fails
// with the message that `logs` prints.
func cmdRun(s *session, args []string) int {
	rest := args
	for len(rest) > 0 {
		if rest[0] == "--no-tty" {
			rest = rest[1:]
			continue
		}
		if (rest[0] == "--env" || rest[0] == "--cron-id") && len(rest) > 1 {
			rest = rest[2:]
			continue
		}
		break
	}
	a, code, ok := s.verifyAppBash(argAt(rest, 0))
	if !ok {
		return code
	}
	if !a.deployed {
		return s.fail(fmt.Sprintf("App %s has not been deployed", a.name))
	}
	if len(rest) < 2 {
		return s.fail("No command specified")
	}

	program, programArgs := rest[1], rest[2:]
	switch program {
	case "echo":
		s.stdoutLine(strings.Join(programArgs, " "))
		return 0
	case "stderr":
		s.stderrLine(strings.Join(programArgs, " "))
		return 0
	case "true":
		return 0
	case "false":
		return 1
	case "exit":
		n, err := strconv.Atoi(argAt(programArgs, 0))
		if err != nil {
			return 2
		}
		return n & 0xff
	case "seq":
		n, _ := strconv.Atoi(argAt(programArgs, 0))
		for i := 1; i <= n; i++ {
			s.stdoutLine(strconv.Itoa(i))
		}
		return 0
	}
	s.stderrLine(fmt.Sprintf("bash: line 1: %s: command not found", program))
	return 127
}
