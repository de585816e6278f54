package domain

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// pluginOutput returns a stream of one plugin golden file in testdata.
func pluginOutput(t *testing.T, name, stream string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "plugins", name, stream))
	if err != nil {
		t.Fatalf("read plugin output: %v", err)
	}
	return data
}

func TestParseServiceName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"lollipop", true},
		{"Lolli_Pop-2", true},
		{"_db", true},
		{strings.Repeat("a", MaxServiceNameLength), true},
		{strings.Repeat("a", MaxServiceNameLength+1), false},
		{"", false},
		{"-n", false},
		{"my.db", false},
		{"a b", false},
		{"a;id", false},
		{"dé", false},
	}
	for _, tt := range tests {
		_, err := ParseServiceName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ParseServiceName(%q) error = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestServiceCommands(t *testing.T) {
	t.Parallel()
	link, err := ServiceLinkCommand(ServicePostgres, "lollipop", "shop", true)
	if err != nil {
		t.Fatal(err)
	}
	destroy, err := ServiceDestroyCommand(ServiceRedis, "cache")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		link.String():                           "postgres:link lollipop shop --no-restart",
		destroy.String():                        "--force redis:destroy cache",
		ServiceListCommand(ServiceRedis).Name(): "redis:list",
	}
	for got, want := range tests {
		if got != want {
			t.Errorf("command = %q, want %q", got, want)
		}
	}
}

func TestParseServiceInfo(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"02", "05"} {
		info, err := ParseServiceInfo(ServicePostgres, "lollipop", pluginOutput(t, name, "stdout"))
		if err != nil {
			t.Fatalf("ParseServiceInfo(%s): %v", name, err)
		}
		if info.Status != "running" || info.Version != "postgres:18.4" || len(info.Links) != 0 || len(info.ExposedPorts) != 0 {
			t.Errorf("info %s = %+v, want running postgres:18.4 without links or ports", name, info)
		}
		if !strings.HasPrefix(info.DSN, "postgres://postgres:") || !strings.HasSuffix(info.DSN, "@dokku-postgres-lollipop:5432/lollipop") {
			t.Errorf("DSN = %q", info.DSN)
		}
		if info.Fields["config-options"] != "" || info.Fields["service-root"] != "/var/lib/dokku/services/postgres/lollipop" {
			t.Errorf("fields = %q", info.Fields)
		}
		redacted := info.Redacted()
		if want := "postgres://postgres:********@dokku-postgres-lollipop:5432/lollipop"; redacted.DSN != want || redacted.Fields["dsn"] != want {
			t.Errorf("redacted DSN = %q, field %q, want %q", redacted.DSN, redacted.Fields["dsn"], want)
		}
		if info.DSN == redacted.DSN {
			t.Errorf("Redacted changed the original")
		}
	}

	if _, err := ParseServiceInfo(ServicePostgres, "other", pluginOutput(t, "05", "stdout")); err == nil {
		t.Errorf("ParseServiceInfo of another service's report succeeded")
	}
}

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"redis://:s3cr3t@dokku-redis-cache:6379":                "redis://:********@dokku-redis-cache:6379",
		"REDIS_URL:  redis://:abc@h:6379 and postgres://u:p@h/": "REDIS_URL:  redis://:********@h:6379 and postgres://u:********@h/",
		"https://example.com/path":                              "https://example.com/path",
		"no url here":                                           "no url here",
	}
	for in, want := range tests {
		if got := RedactDSN(in); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseServiceListLinkUnlink(t *testing.T) {
	t.Parallel()
	names, err := ParseServiceList(ServiceRedis, pluginOutput(t, "22", "stdout"))
	if err != nil || !slices.Equal(names, []string{"cache", "other_cache"}) {
		t.Errorf("ParseServiceList = %q, %v", names, err)
	}
	names, err = ParseServiceList(ServicePostgres, pluginOutput(t, "19", "stdout"))
	if err != nil || len(names) != 0 {
		t.Errorf("ParseServiceList of none = %q, %v", names, err)
	}

	key, err := ParseServiceLink(ServicePostgres, pluginOutput(t, "11", "stdout"))
	if err != nil || key != "DATABASE_URL" {
		t.Errorf("ParseServiceLink = %q, %v; want DATABASE_URL", key, err)
	}
	key, err = ParseServiceLink(ServiceRedis, pluginOutput(t, "24", "stdout"))
	if err != nil || key != "DOKKU_REDIS_AQUA_URL" {
		t.Errorf("ParseServiceLink = %q, %v; want DOKKU_REDIS_AQUA_URL", key, err)
	}
	if keys := ParseServiceUnlink(pluginOutput(t, "15", "stdout")); !slices.Equal(keys, []string{"DATABASE_URL"}) {
		t.Errorf("ParseServiceUnlink = %q", keys)
	}
}

func TestParseLetsencryptReport(t *testing.T) {
	t.Parallel()
	before, err := ParseLetsencryptReport("shop", pluginOutput(t, "26", "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	if before.Active || !before.ExpireTime.IsZero() || before.Email != "" || before.Fields["computed-lego-docker-options"] != "" {
		t.Errorf("report before enable = %+v", before)
	}
	after, err := ParseLetsencryptReport("shop", pluginOutput(t, "33", "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	if !after.Active || after.Email != "ops@example.com" || !after.ExpireTime.Equal(time.Unix(1804189860, 0)) || after.Server != "https://acme-v02.api.letsencrypt.org/directory" {
		t.Errorf("report after enable = %+v", after)
	}
}

func TestParseEmail(t *testing.T) {
	t.Parallel()
	for email, ok := range map[string]bool{
		"ops@example.com":        true,
		"a.b+tag@sub.example.io": true,
		"-n@example.com":         false,
		"ops@example":            false,
		"ops@example.com;id":     false,
		"o ps@example.com":       false,
	} {
		if _, err := ParseEmail(email); (err == nil) != ok {
			t.Errorf("ParseEmail(%q) error = %v, want ok %v", email, err, ok)
		}
	}
}
