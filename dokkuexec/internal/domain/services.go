package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ServiceKind is the Dokku plugin that provides a service. Its value is the
// plugin's name and its command prefix.
type ServiceKind string

// The service plugins DokkuExec drives.
const (
	ServicePostgres ServiceKind = "postgres"
	ServiceRedis    ServiceKind = "redis"
)

// ParseServiceKind validates a service kind.
func ParseServiceKind(kind string) (ServiceKind, error) {
	switch ServiceKind(kind) {
	case ServicePostgres, ServiceRedis:
		return ServiceKind(kind), nil
	}
	return "", &InvalidArgumentError{Field: "service kind", Value: kind, Rule: "use postgres or redis"}
}

// Plugin returns the name of the plugin that provides the kind, as
// `plugin:list` shows it.
func (k ServiceKind) Plugin() string { return string(k) }

// InstallCommand returns the command a host's administrator runs as root to
// install the kind's plugin.
func (k ServiceKind) InstallCommand() string {
	return fmt.Sprintf("sudo dokku plugin:install https://github.com/dokku/dokku-%s.git --name %s", k, k)
}

// title is the name the plugin uses in its messages (PLUGIN_SERVICE).
func (k ServiceKind) title() string {
	switch k {
	case ServicePostgres:
		return "Postgres"
	case ServiceRedis:
		return "Redis"
	}
	return string(k)
}

// ServiceName is the name of a postgres or redis service.
type ServiceName string

// MaxServiceNameLength keeps a service name within PostgreSQL's 63-byte
// limit on identifiers: dokku-postgres names the service's database after
// the service.
const MaxServiceNameLength = 63

// serviceNamePattern is the rule of the plugins' is_valid_service_name
// (dokku-postgres 1.48, dokku-redis 1.43) with one addition: the name must
// not start with a dash. The plugins read such arguments as flags, and
// /bin/echo in Dokku's xargs pass would drop a name such as "-n".
var serviceNamePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)

// ParseServiceName validates a service name.
func ParseServiceName(name string) (ServiceName, error) {
	if len(name) > MaxServiceNameLength {
		return "", &InvalidArgumentError{
			Field: "service name",
			Value: truncateForMessage(name),
			Rule:  fmt.Sprintf("use at most %d characters (this name has %d)", MaxServiceNameLength, len(name)),
		}
	}
	if !serviceNamePattern.MatchString(name) {
		return "", &InvalidArgumentError{
			Field: "service name",
			Value: name,
			Rule:  "use letters, digits, underscores and dashes, starting with a letter, digit or underscore",
		}
	}
	return ServiceName(name), nil
}

// ServiceCreateCommand returns `<kind>:create <name>`.
func ServiceCreateCommand(kind ServiceKind, name ServiceName) (Command, error) {
	return newCommand(string(kind)+":create", string(name))
}

// ServiceInfoCommand returns `<kind>:info <name>`.
func ServiceInfoCommand(kind ServiceKind, name ServiceName) (Command, error) {
	return newCommand(string(kind)+":info", string(name))
}

// ServiceListCommand returns `<kind>:list`.
func ServiceListCommand(kind ServiceKind) Command {
	return mustCommand(string(kind) + ":list")
}

// ServiceLinkCommand returns `<kind>:link <name> <app> [--no-restart]`. The
// plugins take --no-restart from Dokku's global flags, which Dokku collects
// from every word that starts with "--".
func ServiceLinkCommand(kind ServiceKind, name ServiceName, app AppName, noRestart bool) (Command, error) {
	args := []string{string(name), string(app)}
	if noRestart {
		args = append(args, "--no-restart")
	}
	return newCommand(string(kind)+":link", args...)
}

// ServiceUnlinkCommand returns `<kind>:unlink <name> <app> [--no-restart]`.
func ServiceUnlinkCommand(kind ServiceKind, name ServiceName, app AppName, noRestart bool) (Command, error) {
	args := []string{string(name), string(app)}
	if noRestart {
		args = append(args, "--no-restart")
	}
	return newCommand(string(kind)+":unlink", args...)
}

// ServiceDestroyCommand returns `--force <kind>:destroy <name>`. Without
// --force the plugin reads a confirmation from stdin, which is empty.
func ServiceDestroyCommand(kind ServiceKind, name ServiceName) (Command, error) {
	return newCommand("--force", string(kind)+":destroy", string(name))
}

// ServiceInfo is the report of `<kind>:info` on one service.
type ServiceInfo struct {
	Kind ServiceKind
	Name string
	// Status is the container's state as Docker names it, or "missing".
	Status string
	// Version is the container's image, such as "postgres:18.4".
	Version string
	// DSN is the URL apps connect with. It holds the service's password.
	DSN string
	// Links lists the linked apps, sorted.
	Links []string
	// ExposedPorts lists "<container port>-><host port>" pairs.
	ExposedPorts []string
	// Fields holds every report line by its label, lower-cased with
	// dashes.
	Fields map[string]string
}

// serviceInfoHeader returns the header line `<kind>:info` prints before
// the report lines.
func serviceInfoHeader(kind ServiceKind, name ServiceName) string {
	return fmt.Sprintf("=====> %s %s service information", name, kind)
}

// ParseServiceInfo reads the report that `<kind>:info <name>` prints, and
// that `<kind>:create` prints after its progress lines. The report is a
// "=====> <name> <kind> service information" header and one line per field.
// Each line has a 7-space indent, the label and colon padded to 20 columns,
// and the value padded to 25 (dokku-postgres 1.48 service_info). Lines
// before the header are progress messages and are skipped.
func ParseServiceInfo(kind ServiceKind, name ServiceName, stdout []byte) (ServiceInfo, error) {
	header := serviceInfoHeader(kind, name)
	lines := strings.Split(string(stdout), "\n")
	start := slices.IndexFunc(lines, func(line string) bool { return strings.TrimRight(line, " ") == header })
	if start < 0 {
		return ServiceInfo{}, fmt.Errorf("parse %s:info output: no %q header", kind, header)
	}

	fields := map[string]string{}
	for _, line := range lines[start+1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "=====> ") {
			break
		}
		label, value, ok := cutReportLine(line)
		if !ok {
			return ServiceInfo{}, fmt.Errorf("parse %s:info output: line %q has no label", kind, truncate(line, 80))
		}
		fields[strings.ReplaceAll(strings.ToLower(label), " ", "-")] = value
	}
	if _, ok := fields["dsn"]; !ok {
		return ServiceInfo{}, fmt.Errorf("parse %s:info output: no Dsn line", kind)
	}

	return ServiceInfo{
		Kind:         kind,
		Name:         string(name),
		Status:       fields["status"],
		Version:      fields["version"],
		DSN:          fields["dsn"],
		Links:        dashList(fields["links"]),
		ExposedPorts: dashList(fields["exposed-ports"]),
		Fields:       fields,
	}, nil
}

// dashList splits a space-separated info value, which the plugins print as
// "-" when it is empty.
func dashList(value string) []string {
	if value == "-" || strings.TrimSpace(value) == "" {
		return []string{}
	}
	list := strings.Fields(value)
	slices.Sort(list)
	return list
}

// RedactedPassword replaces a password in a redacted DSN.
const RedactedPassword = "********"

// dsnPassword matches the password in the user information of a URL:
// "scheme://user:password@" or "scheme://:password@".
var dsnPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^:@/\s]*:)[^@\s]*@`)

// RedactDSN replaces the password of every URL in text with
// RedactedPassword. It applies to a DSN and to messages that may quote one.
func RedactDSN(text string) string {
	return dsnPassword.ReplaceAllString(text, "${1}"+RedactedPassword+"@")
}

// Redacted returns a copy of info whose DSN carries no password.
func (info ServiceInfo) Redacted() ServiceInfo {
	out := info
	out.DSN = RedactDSN(info.DSN)
	out.Fields = make(map[string]string, len(info.Fields))
	for key, value := range info.Fields {
		out.Fields[key] = RedactDSN(value)
	}
	return out
}

// ParseServiceList reads `<kind>:list`: a "=====> <Kind> services" header and
// one name per line. A host without services prints only a stderr warning.
//
// NOTE: older plugin releases printed a table with more columns. This reads
// only the one-name-per-line form of dokku-postgres 1.48 and dokku-redis
// 1.43, so it fails on such a table.
func ParseServiceList(kind ServiceKind, stdout []byte) ([]string, error) {
	names := []string{}
	for _, line := range strings.Split(string(stdout), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "=====> ") {
			continue
		}
		if _, err := ParseServiceName(line); err != nil {
			return nil, fmt.Errorf("parse %s:list output: line %q is not a service name", kind, truncate(line, 80))
		}
		names = append(names, line)
	}
	return names, nil
}

// linkedConfigKey matches the config var line that `config:set` prints
// inside `<kind>:link`: 7 spaces, the key, a colon.
var linkedConfigKey = regexp.MustCompile(`^\s+([A-Za-z_][A-Za-z0-9_]*):\s`)

// ParseServiceLink returns the config var that `<kind>:link` set, from the
// "-----> Setting config vars" block it prints.
func ParseServiceLink(kind ServiceKind, stdout []byte) (string, error) {
	inBlock := false
	for _, line := range strings.Split(string(stdout), "\n") {
		if strings.HasPrefix(line, "-----> Setting config vars") {
			inBlock = true
			continue
		}
		if !inBlock {
			continue
		}
		if m := linkedConfigKey.FindStringSubmatch(line); m != nil && strings.HasSuffix(m[1], "_URL") {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("parse %s:link output: no config var in a \"Setting config vars\" block", kind)
}

// ParseServiceUnlink returns the config vars that `<kind>:unlink` removed,
// from its "-----> Unsetting <KEY>" lines.
func ParseServiceUnlink(stdout []byte) []string {
	keys := []string{}
	for _, line := range strings.Split(string(stdout), "\n") {
		if key, ok := strings.CutPrefix(line, "-----> Unsetting "); ok {
			keys = append(keys, strings.TrimSpace(key))
		}
	}
	slices.Sort(keys)
	return keys
}

// ServiceMissingMessage is the plugins' failure for a service that does not
// exist (verify_service_name).
func ServiceMissingMessage(kind ServiceKind, name ServiceName) string {
	return fmt.Sprintf("%s service %s does not exist", kind.title(), name)
}

// ServiceExistsMessage is the plugins' failure for `<kind>:create` of a
// name that is taken.
func ServiceExistsMessage(kind ServiceKind, name ServiceName) string {
	return fmt.Sprintf("%s service %s already exists", kind.title(), name)
}

// Messages of the service plugins that DokkuExec maps to error codes.
const (
	ServiceLinkedMessage    = "Cannot delete linked service"
	ServiceNotLinkedPrefix  = "Not linked to app "
	ServiceAlreadyLinkedTag = "Already linked as "
)
