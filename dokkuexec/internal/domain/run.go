package domain

import (
	"fmt"
	"strings"
)

// RunOutputLimit is the most bytes of each of stdout and stderr that
// RunCommand returns.
const RunOutputLimit = 64 << 10

// MaxRunArgs is the most arguments RunCommand takes.
const MaxRunArgs = 64

// RunArgs validates the command and arguments of `run`. Each one must reach
// the container unchanged through both of the forced command's tokenizing
// passes, so it must be a plain word (see Command).
func RunArgs(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, &InvalidArgumentError{Field: "args", Redact: true, Rule: "name the command to run, for example [\"rake\", \"db:migrate\"]"}
	}
	if len(args) > MaxRunArgs {
		return nil, &InvalidArgumentError{Field: "args", Redact: true, Rule: fmt.Sprintf("pass at most %d arguments (got %d)", MaxRunArgs, len(args))}
	}
	for i, arg := range args {
		if arg == "" {
			return nil, &InvalidArgumentError{Field: fmt.Sprintf("argument %d", i), Value: arg, Rule: "pass a non-empty word; the host's shell drops empty arguments"}
		}
		for j := 0; j < len(arg); j++ {
			if !isSafeArgumentByte(arg[j]) {
				return nil, &InvalidArgumentError{
					Field: fmt.Sprintf("argument %d", i),
					Value: truncateForMessage(arg),
					Rule:  fmt.Sprintf("character %q is not allowed: use letters, digits and the characters %s only, because Dokku's SSH command re-splits and re-quotes arguments; no spaces, quotes, backslashes or shell characters", arg[j], "._:=+/,@%-"),
				}
			}
		}
		if isEchoOption(arg) {
			return nil, &InvalidArgumentError{Field: fmt.Sprintf("argument %d", i), Value: arg, Rule: "Dokku's SSH command passes every word through echo, which would take this one as its own option and drop or replace it"}
		}
		if i == 0 && strings.HasPrefix(arg, "-") {
			return nil, &InvalidArgumentError{Field: "command", Value: arg, Rule: "name a program, not an option; Dokku's run would take it as its own flag"}
		}
	}
	return args, nil
}

// RunCommand returns `run --no-tty <app> <args>...`. --no-tty keeps Docker
// from allocating a terminal, which would merge stderr into stdout.
func RunCommand(app AppName, args []string) (Command, error) {
	args, err := RunArgs(args)
	if err != nil {
		return Command{}, err
	}
	return newCommand("run", append([]string{"--no-tty", string(app)}, args...)...)
}

// AppMissingMessage returns Dokku's message for an app that does not exist.
func AppMissingMessage(app AppName) string {
	return "App " + string(app) + " does not exist"
}
