package domain

import (
	"fmt"

	"github.com/joho/godotenv"
)

// CheckStorable rejects a config value that Dokku would store changed.
// Dokku writes an app's env file with github.com/joho/godotenv and reads it
// back with the same library, and that round trip is not lossless: an
// integer-looking value such as "007" or "+5" is written in canonical form
// and reads back as "7" or "5", and a value ending in a double quote or a
// backslash reads back altered or not at all. Rejecting such a value is
// better than reporting it set and returning something else later.
//
// NOTE: the check runs godotenv 1.5.1, the version the test host emulates;
// which version a given Dokku release links is not confirmed, so a host may
// be stricter or more lenient than this check.
func CheckStorable(key ConfigKey, value string) error {
	env := map[string]string{string(key): value}
	content, err := godotenv.Marshal(env)
	if err == nil {
		var stored map[string]string
		stored, err = godotenv.Unmarshal(content + "\n")
		if err == nil && stored[string(key)] == value {
			return nil
		}
	}
	return &InvalidArgumentError{
		Field:  fmt.Sprintf("config value of %q", string(key)),
		Redact: true,
		Rule: "Dokku would store it changed, because its env files rewrite integers written with leading zeros or a plus sign " +
			"and alter values that end in a double quote or a backslash; store the value in another form, for example base64-encoded",
	}
}
