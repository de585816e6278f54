package domain

import (
	"fmt"
	"regexp"
)

// Dokku's own rules for names, from Dokku 0.38 (apps plugin and config
// plugin). New app names follow the stricter rule that `apps:create`
// enforces; apps created by older releases may also contain underscores.
var (
	newAppNamePattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	existingAppNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	configKeyPattern       = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// AppName is the name of an app on a Dokku host, validated so that it
// survives Dokku's command tokenizing unchanged.
type AppName string

// Length limits for app names. Dokku itself has none, but it uses the name
// as a directory (/home/dokku/<app>, and Linux limits a path component to
// 255 bytes) and as a host name label in app vhosts (RFC 1035 limits a
// label to 63 bytes), so new names are kept to 63.
const (
	MaxNewAppNameLength = 63
	MaxAppNameLength    = 255
)

// NewAppName validates the name of an app to be created.
func NewAppName(name string) (AppName, error) {
	if len(name) > MaxNewAppNameLength {
		return "", &InvalidArgumentError{
			Field: "app name",
			Value: truncateForMessage(name),
			Rule:  fmt.Sprintf("use at most %d characters (this name has %d)", MaxNewAppNameLength, len(name)),
		}
	}
	if !newAppNamePattern.MatchString(name) {
		return "", &InvalidArgumentError{
			Field: "app name",
			Value: name,
			Rule:  "use lower-case letters, digits, dots and dashes, starting with a letter or digit",
		}
	}
	return AppName(name), nil
}

// ParseAppName validates the name of an existing app. It accepts the
// underscores that apps created by older Dokku releases may contain.
func ParseAppName(name string) (AppName, error) {
	if len(name) > MaxAppNameLength {
		return "", &InvalidArgumentError{
			Field: "app name",
			Value: truncateForMessage(name),
			Rule:  fmt.Sprintf("use at most %d characters (this name has %d)", MaxAppNameLength, len(name)),
		}
	}
	if !existingAppNamePattern.MatchString(name) {
		return "", &InvalidArgumentError{
			Field: "app name",
			Value: name,
			Rule:  "use lower-case letters, digits, dots, dashes and underscores, starting with a letter or digit",
		}
	}
	return AppName(name), nil
}

// truncateForMessage shortens a rejected value so an error message stays
// readable.
func truncateForMessage(value string) string {
	if len(value) <= 40 {
		return value
	}
	return value[:40] + "..."
}

// ConfigKey is the name of an app's config var (environment variable).
type ConfigKey string

// ParseConfigKey validates a config var name.
func ParseConfigKey(key string) (ConfigKey, error) {
	if !configKeyPattern.MatchString(key) {
		return "", &InvalidArgumentError{
			Field: "config key",
			Value: key,
			Rule:  "use letters, digits and underscores, starting with a letter or underscore",
		}
	}
	return ConfigKey(key), nil
}
