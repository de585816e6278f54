package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Step lines of `config:unset`, after the "-----> " prefix (Dokku 0.38 config
// plugin).
const (
	unsettingPrefix = "Unsetting "
	skippingSuffix  = ", it is not set in the environment"
	stepPrefix      = "-----> "
)

// ConfigUnsetOutcome lists what `config:unset` did with each requested key.
type ConfigUnsetOutcome struct {
	// Unset lists the keys that were removed, sorted.
	Unset []string
	// Skipped lists the keys that were not set, sorted.
	Skipped []string
}

// ParseConfigUnset reads the output of `config:unset`, which prints
// "-----> Unsetting KEY" for each removed key and "-----> Skipping KEY, it
// is not set in the environment" for each key that was not set. Other lines,
// such as those of a restart, are ignored. Every key in keys must appear in
// one of the two forms, because a key that is missing means the output was
// not understood.
func ParseConfigUnset(keys []ConfigKey, stdout []byte) (ConfigUnsetOutcome, error) {
	outcome := ConfigUnsetOutcome{Unset: []string{}, Skipped: []string{}}
	for _, line := range strings.Split(string(stdout), "\n") {
		step, ok := strings.CutPrefix(line, stepPrefix)
		if !ok {
			continue
		}
		if key, ok := strings.CutPrefix(step, unsettingPrefix); ok {
			outcome.Unset = append(outcome.Unset, key)
			continue
		}
		if rest, ok := strings.CutPrefix(step, "Skipping "); ok {
			if key, ok := strings.CutSuffix(rest, skippingSuffix); ok {
				outcome.Skipped = append(outcome.Skipped, key)
			}
		}
	}

	for _, key := range keys {
		if !slices.Contains(outcome.Unset, string(key)) && !slices.Contains(outcome.Skipped, string(key)) {
			return ConfigUnsetOutcome{}, fmt.Errorf("parse config:unset output: key %q is neither unset nor skipped", key)
		}
	}
	slices.Sort(outcome.Unset)
	slices.Sort(outcome.Skipped)
	return outcome, nil
}

// ParseConfigExportJSON reads `config:export --format json <app>`: one JSON
// object that maps each key to its value.
func ParseConfigExportJSON(stdout []byte) (map[string]string, error) {
	var vars map[string]string
	if err := json.Unmarshal(stdout, &vars); err != nil {
		return nil, fmt.Errorf("parse config:export JSON output: %w", err)
	}
	if vars == nil {
		return nil, fmt.Errorf("parse config:export JSON output: expected an object, got null")
	}
	return vars, nil
}
