package emulator_test

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"dokkumcp.dev/testhost/emulator"
)

const (
	unmatchedSingle = "xargs: unmatched single quote; by default quotes are special to xargs unless you use the -0 option\n"
	unmatchedDouble = "xargs: unmatched double quote; by default quotes are special to xargs unless you use the -0 option\n"
)

// The expected values were produced by the real pipeline on Debian 12:
// printf '%s' "$cmd" | xargs -n 1 (findutils 4.9.0, coreutils 9.1 echo),
// read back with readarray -t.
func TestTokenize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command string
		argv    []string
		stderr  string
	}{
		{"double quotes group words", `config:set shop B="two words"`, []string{"config:set", "shop", "B=two words"}, ""},
		{"single quotes keep shell characters", `apps:create 'a;id'`, []string{"apps:create", "a;id"}, ""},
		{"unmatched single quote cuts arguments", `config:set --no-restart shop K=it's`, []string{"config:set", "--no-restart", "shop"}, unmatchedSingle},
		{"unmatched double quote cuts arguments", `config:set shop "unterminated`, []string{"config:set", "shop"}, unmatchedDouble},
		{"newline inside quotes is an error", "x \"a\nb\" y", []string{"x"}, unmatchedDouble},
		{"echo swallows -n", "logs shop -n 50", []string{"logs", "shop", "50"}, ""},
		{"echo empties -e and -E", "x -e -E -nE -ne - -- -x", []string{"x", "", "", "-", "--", "-x"}, ""},
		{"backslash escapes outside quotes", `a\ b c\\d`, []string{"a b", `c\d`}, ""},
		{"backslash is literal inside quotes", `x 'in\side'`, []string{"x", `in\side`}, ""},
		{"empty quoted words survive before a blank", `x "" '' y`, []string{"x", "", "", "y"}, ""},
		{"trailing empty quoted word is dropped", `x ''`, []string{"x"}, ""},
		{"trailing backslash is dropped", `x \`, []string{"x"}, ""},
		{"newline separates words", "a\nb", []string{"a", "b"}, ""},
		{"escaped newline splits the echoed word", "a \\\nb", []string{"a", "", "b"}, ""},
		{"unicode equals and star survive", "config:set shop U=héllo✓ E=a=b=c G=*", []string{"config:set", "shop", "U=héllo✓", "E=a=b=c", "G=*"}, ""},
		{"tabs and trailing blanks separate", "\ttab\there  ", []string{"tab", "here"}, ""},
		{"quotes join inside a word", `a"b c"d`, []string{"ab cd"}, ""},
		{"vertical tab skipped only between words", "x \v y\rz", []string{"x", "y\rz"}, ""},
		{"empty command gives one empty argument", "", []string{""}, ""},
		{"blank command gives one empty argument", " \t\n", []string{""}, ""},
		{"error before any word gives no arguments", "'abc", nil, unmatchedSingle},
		{"NUL ends the command", "version\x00 junk", []string{"version"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			argv, stderr := emulator.Tokenize(tt.command)
			if !slices.Equal(argv, tt.argv) {
				t.Errorf("Tokenize(%q) argv = %q, want %q", tt.command, argv, tt.argv)
			}
			if stderr != tt.stderr {
				t.Errorf("Tokenize(%q) stderr = %q, want %q", tt.command, stderr, tt.stderr)
			}
		})
	}
}

func TestTokenizeHelpAndVersion(t *testing.T) {
	t.Parallel()

	argv, _ := emulator.Tokenize("config:get shop --version")
	want := []string{
		"config:get", "shop",
		"echo (GNU coreutils) 9.1",
		"Copyright (C) 2022 Free Software Foundation, Inc.",
		"License GPLv3+: GNU GPL version 3 or later <https://gnu.org/licenses/gpl.html>.",
		"This is free software: you are free to change and redistribute it.",
		"There is NO WARRANTY, to the extent permitted by law.",
		"",
		"Written by Brian Fox and Chet Ramey.",
	}
	if !slices.Equal(argv, want) {
		t.Errorf("--version argv = %q, want %q", argv, want)
	}

	argv, _ = emulator.Tokenize("apps:report shop --help")
	if len(argv) != 38 {
		t.Errorf("--help gave %d arguments, want 2 plus the 36 lines of echo --help", len(argv))
	}
	if len(argv) > 2 && argv[2] != "Usage: echo [SHORT-OPTION]... [STRING]..." {
		t.Errorf("--help first line = %q, want the echo usage line", argv[2])
	}
}

func TestTokenizeArgumentLimit(t *testing.T) {
	t.Parallel()

	fits := strings.Repeat("a", 131066)
	argv, stderr := emulator.Tokenize("x " + fits + " y")
	if len(argv) != 3 || stderr != "" {
		t.Errorf("argument of 131066 bytes: got %d arguments and stderr %q, want 3 and none", len(argv), stderr)
	}

	argv, stderr = emulator.Tokenize("x " + fits + "a y")
	if !slices.Equal(argv, []string{"x"}) {
		t.Errorf("argument of 131067 bytes: argv has %d arguments, want only \"x\"", len(argv))
	}
	if stderr != "xargs: argument line too long\n" {
		t.Errorf("argument of 131067 bytes: stderr = %q, want the xargs error", stderr)
	}
}

// TestTokenizeMatchesRealXargs compares Tokenize with the real pipeline on
// random commands when the machine has the same GNU tools as Debian 12.
func TestTokenizeMatchesRealXargs(t *testing.T) {
	t.Parallel()
	version, err := exec.Command("xargs", "--version").Output()
	if err != nil || !bytes.HasPrefix(version, []byte("xargs (GNU findutils) 4.9.0")) {
		t.Skip("GNU findutils 4.9.0 xargs not installed; the table tests cover the same rules")
	}
	echoVersion, err := exec.Command("/bin/echo", "--version").Output()
	if err != nil || !bytes.HasPrefix(echoVersion, []byte("echo (GNU coreutils) 9.1")) {
		t.Skip("GNU coreutils 9.1 echo not installed; the table tests cover the same rules")
	}

	alphabet := []string{"a", "b", " ", " ", "\t", "\n", "'", "\"", `\`, "-", "n", "e", "E", "=", "*", "é", "--help", "--version", "-n", "\r"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		var command strings.Builder
		for range rng.IntN(12) {
			command.WriteString(alphabet[rng.IntN(len(alphabet))])
		}

		script := `readarray -t arr < <(printf '%s' "$1" | xargs -n 1 2>/dev/null); for a in "${arr[@]}"; do printf '%s\0' "$a"; done`
		cmd := exec.Command("bash", "-c", script, "bash", command.String())
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run real pipeline: %v", err)
		}
		var want []string
		for _, arg := range strings.Split(string(out), "\x00") {
			want = append(want, arg)
		}
		want = want[:len(want)-1]

		got, _ := emulator.Tokenize(command.String())
		if !slices.Equal(got, want) {
			t.Errorf("Tokenize(%q) = %q, real xargs gives %q", command.String(), got, want)
		}
	}
}
