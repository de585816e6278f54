package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	flag "github.com/spf13/pflag"
)

// session is the state of one Run: its streams and the global flags that
// Dokku passes to every process through the environment.
type session struct {
	e      *Emulator
	ctx    context.Context
	inv    Invocation
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	pid    int
	build  *build // the build record this session writes, if any
	// killed is set when the session's client went away during a build,
	// which ends the build's process without a result.
	killed bool

	quiet   bool   // DOKKU_QUIET_OUTPUT
	force   bool   // DOKKU_APPS_FORCE_DELETE
	appFlag string // DOKKU_APP_NAME
}

func (e *Emulator) newSession(ctx context.Context, inv Invocation) *session {
	s := &session{e: e, ctx: ctx, inv: inv, stdin: inv.Stdin, stdout: inv.Stdout, stderr: inv.Stderr}
	if s.stdin == nil {
		s.stdin = strings.NewReader("")
	}
	if s.stdout == nil {
		s.stdout = io.Discard
	}
	if s.stderr == nil {
		s.stderr = io.Discard
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	e.nextPID++
	s.pid = e.nextPID
	e.livePIDs[s.pid] = true
	return s
}

// endSession marks the session's process id as gone, so build records it
// left running show as abandoned, as Dokku shows records of dead processes.
func (e *Emulator) endSession(s *session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.livePIDs, s.pid)
}

func (s *session) write(w io.Writer, text string) {
	if text != "" {
		_, _ = io.WriteString(w, text)
	}
}

func (s *session) stdoutLine(line string) { s.write(s.stdout, line+"\n") }
func (s *session) stderrLine(line string) { s.write(s.stderr, line+"\n") }

// info1 prints a "-----> " step line.
func (s *session) info1(msg string) { s.stdoutLine("-----> " + msg) }

// info1Quiet prints a step line unless --quiet was given.
func (s *session) info1Quiet(msg string) {
	if !s.quiet {
		s.info1(msg)
	}
}

// info2Quiet prints a "=====> " section header unless --quiet was given.
func (s *session) info2Quiet(msg string) {
	if !s.quiet {
		s.stdoutLine("=====> " + msg)
	}
}

// verbose prints a detail line indented by 7 spaces.
func (s *session) verbose(msg string) { s.stdoutLine("       " + msg) }

// warn prints a " !     " line to stderr.
func (s *session) warn(msg string) { s.stderrLine(" !     " + msg) }

// warnQuiet prints a warning unless --quiet was given.
func (s *session) warnQuiet(msg string) {
	if !s.quiet {
		s.warn(msg)
	}
}

// fail prints a warning and returns exit status 1, like dokku_log_fail.
func (s *session) fail(msg string) int {
	s.warn(msg)
	return 1
}

// exitError is an error that ends a command with a specific exit status.
type exitError struct {
	msg  string
	code int
}

func (e *exitError) Error() string { return e.msg }

// errAppNotFound is the error Dokku's VerifyAppName returns for a missing
// app; it exits with status 20.
func errAppNotFound(name string) error {
	return &exitError{msg: fmt.Sprintf("App %s does not exist", name), code: 20}
}

// failWith prints err the way LogFailWithError does and returns its exit
// status: 20 for a missing app and 1 otherwise. An empty message prints
// nothing.
func (s *session) failWith(err error) int {
	if err.Error() != "" {
		s.warn(err.Error())
	}
	var exit *exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	return 1
}

// flagSet is a pflag.FlagSet that behaves like Dokku's flag.ExitOnError
// sets, but returns the exit status instead of ending the process.
type flagSet struct {
	*flag.FlagSet
	s *session
}

func (s *session) newFlagSet(name string) *flagSet {
	// PanicOnError makes pflag print the usage text before it reports the
	// error, exactly as ExitOnError does; parse recovers from the panic.
	fs := flag.NewFlagSet(name, flag.PanicOnError)
	fs.SetOutput(s.stderr)
	return &flagSet{FlagSet: fs, s: s}
}

// parse parses args and reports whether the command should go on. When it
// returns false, code is the exit status: 2 after a parse error, as Go's
// flag.ExitOnError exits, and 0 after -h or --help.
func (fs *flagSet) parse(args []string) (code int, ok bool) {
	defer func() {
		recovered := recover()
		if recovered == nil {
			return
		}
		err, isErr := recovered.(error)
		if !isErr {
			panic(recovered)
		}
		if errors.Is(err, flag.ErrHelp) {
			code, ok = 0, false
			return
		}
		fmt.Fprintln(fs.s.stderr, err)
		code, ok = 2, false
	}()

	_ = fs.Parse(args)
	return 0, true
}

// verifyApp returns an error unless name is an existing app, with the
// messages of Dokku's Go VerifyAppName.
func (s *session) verifyApp(name string) (*app, error) {
	if err := validAppName(name); err != nil && validLegacyAppName(name) != nil {
		return nil, err
	}
	a := s.e.apps[name]
	if a == nil {
		return nil, errAppNotFound(name)
	}
	return a, nil
}

// verifyAppBash is the bash verify_app_name, which reports every failure,
// even an invalid or empty name, as a missing app with exit status 20.
func (s *session) verifyAppBash(name string) (*app, int, bool) {
	a := s.e.apps[name]
	if a == nil {
		s.warn(fmt.Sprintf("App %s does not exist", name))
		return nil, 20, false
	}
	return a, 0, true
}
