package domain

import (
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

// NewAppName validates the name of an app to be created.
func NewAppName(name string) (AppName, error) {
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
	if !existingAppNamePattern.MatchString(name) {
		return "", &InvalidArgumentError{
			Field: "app name",
			Value: name,
			Rule:  "use lower-case letters, digits, dots, dashes and underscores, starting with a letter or digit",
		}
	}
	return AppName(name), nil
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
