package emulator

import "strings"

// xargsArgumentLimit is the maximum length in bytes of one argument that
// GNU xargs 4.9.0 accepts with its default 131072-byte command buffer, after
// it reserves room for the command name "echo" and its terminating NUL bytes.
// A longer argument makes xargs stop with "argument line too long".
const xargsArgumentLimit = 131072 - len("echo\x00") - 1

// sshdEnvironmentLimit is the Linux limit (MAX_ARG_STRLEN) on one environment
// string. sshd passes the exec payload as SSH_ORIGINAL_COMMAND=<payload>, so a
// longer payload makes its execve of the login shell fail before Dokku runs.
const sshdEnvironmentLimit = 131072

const xargsUnmatchedQuote = "xargs: unmatched %s quote; by default quotes are special to xargs unless you use the -0 option\n"

// echoHelpText is the --help output of GNU coreutils 9.1 /bin/echo in the C
// locale when xargs starts it under the name "echo".
const echoHelpText = `Usage: echo [SHORT-OPTION]... [STRING]...
  or:  echo LONG-OPTION
Echo the STRING(s) to standard output.

  -n             do not output the trailing newline
  -e             enable interpretation of backslash escapes
  -E             disable interpretation of backslash escapes (default)
      --help        display this help and exit
      --version     output version information and exit

If -e is in effect, the following sequences are recognized:

  \\      backslash
  \a      alert (BEL)
  \b      backspace
  \c      produce no further output
  \e      escape
  \f      form feed
  \n      new line
  \r      carriage return
  \t      horizontal tab
  \v      vertical tab
  \0NNN   byte with octal value NNN (1 to 3 digits)
  \xHH    byte with hexadecimal value HH (1 to 2 digits)

NOTE: your shell may have its own version of echo, which usually supersedes
the version described here.  Please refer to your shell's documentation
for details about the options it supports.

NOTE: printf(1) is a preferred alternative,
which does not have issues outputting option-like strings.

GNU coreutils online help: <https://www.gnu.org/software/coreutils/>
Report any translation bugs to <https://translationproject.org/team/>
Full documentation <https://www.gnu.org/software/coreutils/echo>
or available locally via: info '(coreutils) echo invocation'
`

// echoVersionText is the --version output of GNU coreutils 9.1 /bin/echo.
const echoVersionText = `echo (GNU coreutils) 9.1
Copyright (C) 2022 Free Software Foundation, Inc.
License GPLv3+: GNU GPL version 3 or later <https://gnu.org/licenses/gpl.html>.
This is free software: you are free to change and redistribute it.
There is NO WARRANTY, to the extent permitted by law.

Written by Brian Fox and Chet Ramey.
`

// Tokenize returns the argument vector that Dokku re-executes itself with
// when an SSH client sends originalCommand and its first word does not contain
// "git". Dokku pipes the command string through `xargs -n 1`, which runs
// /bin/echo once per word, and reads echo's output back one line per argument.
// xargsStderr holds what xargs writes to stderr, such as the unmatched-quote
// error after which the remaining words are lost.
//
// The result includes any leading global flags (--quiet, --app X, ...).
func Tokenize(originalCommand string) (argv []string, xargsStderr string) {
	words, stderr := xargsWords(truncateAtNUL(originalCommand))
	if len(words) == 0 && stderr == "" {
		// Without -r, xargs runs echo once even when there are no words,
		// and its lone newline becomes one empty argument.
		return []string{""}, ""
	}

	var echoed strings.Builder
	for _, word := range words {
		echoed.WriteString(echoWord(word))
	}

	return readLines(echoed.String()), stderr
}

// truncateAtNUL cuts s at its first NUL byte, because sshd and bash handle the
// exec payload as a C string.
func truncateAtNUL(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// xargsWords splits input the way GNU findutils 4.9.0 xargs does without -0,
// -d or -I: blanks separate words, a newline ends a line, single and double
// quotes group characters without escapes inside them, and a backslash outside
// quotes takes the next character literally. A quote still open at a newline
// or at the end of input is an error that drops the partial word.
func xargsWords(input string) (words []string, stderr string) {
	const (
		stateSpace = iota
		stateNorm
		stateQuote
		stateBackslash
	)

	state := stateSpace
	var quote byte
	var word []byte
	seenArg := false

	push := func() {
		words = append(words, string(word))
		word = word[:0]
	}
	unmatched := func() string {
		if quote == '"' {
			return strings.Replace(xargsUnmatchedQuote, "%s", "double", 1)
		}
		return strings.Replace(xargsUnmatchedQuote, "%s", "single", 1)
	}

	for i := 0; i < len(input); i++ {
		c := input[i]

		switch state {
		case stateSpace:
			if isCSpace(c) {
				continue
			}
			state = stateNorm
			fallthrough

		case stateNorm:
			if c == '\n' {
				if len(word) == 0 && !seenArg {
					state = stateSpace
					continue
				}
				push()
				state = stateSpace
				seenArg = false
				continue
			}
			seenArg = true
			if c == ' ' || c == '\t' {
				push()
				state = stateSpace
				continue
			}
			switch c {
			case '\\':
				state = stateBackslash
				continue
			case '\'', '"':
				state = stateQuote
				quote = c
				continue
			}

		case stateQuote:
			if c == '\n' {
				return words, unmatched()
			}
			if c == quote {
				state = stateNorm
				seenArg = true
				continue
			}

		case stateBackslash:
			state = stateNorm
		}

		if len(word) >= xargsArgumentLimit {
			return words, "xargs: argument line too long\n"
		}
		word = append(word, c)
	}

	// At the end of input, xargs drops a word only if no character of it
	// was stored, even when an empty quoted string was seen.
	if len(word) == 0 {
		return words, ""
	}
	if state == stateQuote {
		return words, unmatched()
	}
	push()
	return words, ""
}

// isCSpace reports whether c is white space in the C locale.
func isCSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// echoWord returns what GNU coreutils 9.1 /bin/echo prints when xargs runs it
// with word as its only argument. A word made only of the option letters n, e
// and E after a dash is taken as options, so "-n" prints nothing at all.
func echoWord(word string) string {
	switch word {
	case "--help":
		return echoHelpText
	case "--version":
		return echoVersionText
	}

	if len(word) > 1 && word[0] == '-' && strings.Trim(word[1:], "neE") == "" {
		if strings.Contains(word, "n") {
			return ""
		}
		return "\n"
	}

	return word + "\n"
}

// readLines splits text the way bash's `readarray -t` does: one element per
// line without its newline, and a final unterminated line kept as well.
func readLines(text string) []string {
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// splitShellWords splits s on the default IFS characters (space, tab and
// newline) the way bash splits an unquoted expansion. Dokku's forced command
// expands $SSH_ORIGINAL_COMMAND unquoted, and commands whose first word
// contains "git" are re-executed from this split with globbing turned off.
//
// NOTE: bash would also expand unquoted glob patterns that match files in the
// dokku user's home directory. The emulator has no files, so every pattern is
// kept literally, which is what bash does when nothing matches.
func splitShellWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n'
	})
}
