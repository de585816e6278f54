package app

import (
	"encoding/base64"
	"strings"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// redactedText replaces config values in Dokku's messages.
const redactedText = "[redacted]"

// redact returns result with every config value, and its base64 form, cut
// from stdout and stderr.
func redact(result domain.Result, vars []domain.ConfigVar) domain.Result {
	var secrets []string
	for _, v := range vars {
		if v.Value == "" {
			continue
		}
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(v.Value)), v.Value)
	}

	out := result
	out.Stdout = []byte(replaceAll(string(result.Stdout), secrets))
	out.Stderr = []byte(replaceAll(string(result.Stderr), secrets))
	return out
}

func replaceAll(s string, secrets []string) string {
	for _, secret := range secrets {
		s = strings.ReplaceAll(s, secret, redactedText)
	}
	return s
}

// joinMessages joins Dokku's messages into one line for an error.
func joinMessages(messages []string) string {
	return strings.Join(messages, "; ")
}
