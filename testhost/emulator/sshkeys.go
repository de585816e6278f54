package emulator

import (
	"encoding/json"
	"regexp"
	"strings"
)

// sshcommand v0.20.2 lists keys by rewriting authorized_keys lines with sed.
// Only lines that start with the forced command match, and the allowed-keys
// options are the word after the last `",` in the line, so options placed
// before a quoted option value are cut off. The NAME value may be quoted
// with \"; Go's regexp has no back-references, so each form has a pattern.
var (
	sshKeyLinePatterns = []*regexp.Regexp{
		regexp.MustCompile(`^command="FINGERPRINT=(\S+) NAME=\\"(.*)\\" ` + "`" + `.*",(\S+)(?: (.*))?`),
		regexp.MustCompile(`^command="FINGERPRINT=(\S+) NAME=(.*) ` + "`" + `.*",(\S+)(?: (.*))?`),
	}
)

// sshKeyEntry is one listed key.
type sshKeyEntry struct {
	fingerprint, name, allowedKeys, publicKey string
	hasPublicKey                              bool
}

func parseSSHKeyLine(line string) (sshKeyEntry, bool) {
	for _, pattern := range sshKeyLinePatterns {
		if m := pattern.FindStringSubmatchIndex(line); m != nil {
			entry := sshKeyEntry{
				fingerprint: line[m[2]:m[3]],
				name:        line[m[4]:m[5]],
				allowedKeys: line[m[6]:m[7]],
			}
			if m[8] >= 0 {
				entry.publicKey = line[m[8]:m[9]]
				entry.hasPublicKey = true
			}
			return entry, true
		}
	}
	return sshKeyEntry{}, false
}

func cmdSSHKeysList(s *session, args []string) int {
	name := argAt(args, 0)
	format := "text"
	if name == "--format" {
		format = argAt(args, 1)
		name = argAt(args, 2)
	}
	if format != "text" && format != "json" {
		return s.fail("Invalid output format specified, supported formats: json, text")
	}

	if len(s.e.authorizedKeys) == 0 {
		s.stderrLine("authorized_keys is empty for dokku")
		return 1
	}

	var entries []sshKeyEntry
	for _, line := range s.e.authorizedKeys {
		if entry, ok := parseSSHKeyLine(line); ok {
			entries = append(entries, entry)
		}
	}

	if format == "json" {
		return s.printSSHKeysJSON(entries, name)
	}

	var lines []string
	for _, entry := range entries {
		lines = append(lines, entry.fingerprint+` NAME="`+entry.name+`" SSHCOMMAND_ALLOWED_KEYS="`+entry.allowedKeys+`"`)
	}
	if name == "" {
		s.stdoutLine(strings.Join(lines, "\n"))
		return 0
	}

	// sshcommand filters with grep, which fails when nothing matches.
	found := false
	for _, line := range lines {
		if strings.Contains(line, `NAME="`+name+`"`) {
			s.stdoutLine(line)
			found = true
		}
	}
	if !found {
		return 1
	}
	return 0
}

// printSSHKeysJSON prints the JSON list that sshcommand assembles by text
// substitution, or the compact form jq prints when a name filters it.
func (s *session) printSSHKeysJSON(entries []sshKeyEntry, name string) int {
	var objects []string
	for _, entry := range entries {
		if !entry.hasPublicKey {
			continue
		}
		objects = append(objects, `{ "fingerprint": "`+entry.fingerprint+`", "name": "`+entry.name+
			`", "SSHCOMMAND_ALLOWED_KEYS": "`+entry.allowedKeys+`", "public-key": "`+entry.publicKey+`" }`)
	}
	if name == "" {
		s.stdoutLine("[" + strings.Join(objects, ",") + "]")
		return 0
	}

	type jqEntry struct {
		Fingerprint string `json:"fingerprint"`
		Name        string `json:"name"`
		AllowedKeys string `json:"SSHCOMMAND_ALLOWED_KEYS"`
		PublicKey   string `json:"public-key"`
	}
	selected := []jqEntry{}
	for _, entry := range entries {
		if entry.hasPublicKey && entry.name == name {
			selected = append(selected, jqEntry{entry.fingerprint, entry.name, entry.allowedKeys, entry.publicKey})
		}
	}
	out, _ := json.Marshal(selected)
	s.stdoutLine(string(out))
	return 0
}
