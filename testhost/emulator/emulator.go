// Package emulator reproduces what a Dokku host sends back over SSH: the
// forced command's two tokenizing passes, the global flags, and the text,
// streams and exit statuses of the commands a control plane drives. It keeps
// all state in memory and does no I/O besides the writers it is given.
//
// The behaviour follows recordings of Dokku 0.38.27 and its source. Older
// 0.35 to 0.38 releases differ only where the version table in versions.go
// lists a feature.
package emulator

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configures an Emulator.
type Options struct {
	// Version is the Dokku version that `version` prints and that selects
	// version-specific behaviour. It defaults to DefaultVersion.
	Version string
	// Plugins names extra plugins, such as "postgres", "redis" or
	// "letsencrypt", installed next to the core plugins.
	Plugins []string
	// Clock returns the current time; it defaults to time.Now.
	Clock func() time.Time
}

// Invocation is one SSH exec request as Dokku's forced command receives it.
type Invocation struct {
	// OriginalCommand is the exec payload, which sshd exports as
	// $SSH_ORIGINAL_COMMAND.
	OriginalCommand string
	// KeyName is NAME= from the matched authorized_keys line.
	KeyName string
	// Fingerprint is FINGERPRINT= from the matched authorized_keys line.
	Fingerprint string
	// Stdin is the session's standard input; nil reads as empty.
	Stdin io.Reader
	// Stdout and Stderr receive the two output streams; nil discards.
	Stdout, Stderr io.Writer
	// Root marks a session that runs /usr/bin/dokku as root, which may
	// run the commands Dokku reserves for root, such as ssh-keys:add.
	Root bool
}

// Emulator is an in-memory Dokku host. It is safe for concurrent use by many
// sessions.
type Emulator struct {
	version string
	release release
	clock   func() time.Time
	plugins []pluginInfo

	mu             sync.Mutex
	keysChanged    func(content []byte)
	apps           map[string]*app
	builds         map[string][]*build
	globalConfig   map[string]string
	pulledImages   map[string]bool
	authorizedKeys []string
	nextPID        int
	nextBuild      int
	livePIDs       map[int]bool
	// services holds the postgres and redis services by plugin and name.
	services map[string]map[string]*service
	// letsencrypt holds the letsencrypt plugin's state by app name, and
	// "--global".
	letsencrypt map[string]*letsencryptState
	// gate, when set, holds builds at their build step.
	gate *DeployGate

	// feedMu guards followers, the sessions following logs. It is
	// separate from mu, which a follower does not hold while it follows.
	feedMu    sync.Mutex
	followers map[*logFollower]bool
}

// New returns an Emulator for a freshly installed host without apps.
func New(opts Options) *Emulator {
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}

	e := &Emulator{
		version:      opts.Version,
		release:      parseRelease(opts.Version),
		clock:        opts.Clock,
		apps:         map[string]*app{},
		builds:       map[string][]*build{},
		globalConfig: map[string]string{},
		pulledImages: map[string]bool{},
		nextPID:      20000,
		livePIDs:     map[int]bool{},
	}
	e.plugins = e.installedPlugins(opts.Plugins)
	return e
}

// SetAuthorizedKeys replaces the dokku user's authorized_keys content that
// `ssh-keys:list` reads. The SSH server calls it whenever its key list changes.
func (e *Emulator) SetAuthorizedKeys(content []byte) {
	lines := strings.Split(strings.TrimRight(string(content), "\n"), "\n")
	if len(content) == 0 {
		lines = nil
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	e.authorizedKeys = lines
}

// OnAuthorizedKeysChange registers fn, which ssh-keys:add and
// ssh-keys:remove call with the new authorized_keys content after they
// change it. The SSH server registers itself, so that its logins follow.
func (e *Emulator) OnAuthorizedKeysChange(fn func(content []byte)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keysChanged = fn
}

// AuthorizedKeys returns the dokku user's authorized_keys content.
func (e *Emulator) AuthorizedKeys() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.authorizedKeys) == 0 {
		return ""
	}
	return strings.Join(e.authorizedKeys, "\n") + "\n"
}

// AddAuthorizedKey appends one authorized_keys line.
func (e *Emulator) AddAuthorizedKey(line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.authorizedKeys = append(e.authorizedKeys, strings.TrimRight(line, "\n"))
}

// Run executes one SSH exec request and returns its exit status. Cancelling
// ctx stops commands that wait, such as `logs -t` or a confirmation prompt.
func (e *Emulator) Run(ctx context.Context, inv Invocation) int {
	s := e.newSession(ctx, inv)
	defer e.endSession(s)

	command := truncateAtNUL(inv.OriginalCommand)
	if len("SSH_ORIGINAL_COMMAND=")+len(command)+1 > sshdEnvironmentLimit {
		// NOTE: sshd reports its failed execve of the login shell with
		// perror, assumed here to be the dokku user's /bin/bash.
		s.stderrLine("/bin/bash: Argument list too long")
		return 1
	}

	// First pass: bash splits the unquoted $SSH_ORIGINAL_COMMAND into the
	// arguments of /usr/bin/dokku.
	words := splitShellWords(command)
	s.parseGlobalFlags(words)
	first := shiftLeadingFlags(words)
	if code, denied := s.requireRoot(first); denied {
		return code
	}
	if command == "" {
		return s.dispatch(first)
	}

	// Second pass: dokku re-executes itself with the command string split
	// again, by plain splitting for git commands and by xargs otherwise.
	argv := words
	if len(first) == 0 || !strings.Contains(first[0], "git") {
		var xargsStderr string
		argv, xargsStderr = Tokenize(command)
		s.write(s.stderr, xargsStderr)
	}
	s.parseGlobalFlags(argv)
	args := shiftLeadingFlags(argv)
	if code, denied := s.requireRoot(args); denied {
		return code
	}
	return s.dispatch(args)
}

// parseGlobalFlags records the global flags found anywhere in args, as
// Dokku's parse_args exports them for every later process.
func (s *session) parseGlobalFlags(args []string) {
	for i, arg := range args {
		switch arg {
		case "--quiet":
			s.quiet = true
		case "--force":
			s.force = true
		case "--app":
			s.appFlag = ""
			if i+1 < len(args) {
				s.appFlag = args[i+1]
			}
		}
	}
}

// shiftLeadingFlags drops the global flags in front of the command the way
// /usr/bin/dokku does, including its quirks: "--version" is skipped without
// being shifted, and "--app" as the last word is kept.
func shiftLeadingFlags(args []string) []string {
	if len(args) == 0 || !strings.HasPrefix(args[0], "--") {
		return args
	}

	positional := slices.Clone(args)
	skip := false
	for _, arg := range args {
		if skip {
			skip = false
			continue
		}
		switch {
		case arg == "--version":
			continue
		case arg == "--app":
			if len(positional) >= 2 {
				positional = positional[2:]
				skip = true
			}
		case strings.HasPrefix(arg, "--"):
			if len(positional) >= 1 {
				positional = positional[1:]
			}
		default:
			return positional
		}
	}
	return positional
}

// requireRoot rejects the commands that /usr/bin/dokku reserves for root,
// because SSH sessions always run as the dokku user.
func (s *session) requireRoot(args []string) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	name := args[0]
	rootOnly := strings.HasPrefix(name, "plugin:") && name != "plugin:help" && name != "plugin:list"
	switch name {
	case "ssh-keys:add", "ssh-keys:remove", "scheduler-k3s:initialize", "scheduler-k3s:uninstall":
		rootOnly = true
	}
	if !rootOnly || s.inv.Root {
		return 0, false
	}
	return s.fail("This command must be run as root"), true
}
