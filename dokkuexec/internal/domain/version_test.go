package domain_test

import (
	"testing"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		output      string
		want        domain.Version
		jsonAppList bool
	}{
		{"dokku version 0.38.27\n", domain.Version{Major: 0, Minor: 38, Patch: 27}, true},
		{"dokku version 1:0.38.21\n", domain.Version{Major: 0, Minor: 38, Patch: 21}, true},
		{"dokku version v0.38.27-33-gabc1234\n", domain.Version{Major: 0, Minor: 38, Patch: 27}, true},
		{"dokku version ~master (abc1234)\n", domain.Version{Development: true}, true},
		{"dokku version 0.38.20", domain.Version{Major: 0, Minor: 38, Patch: 20}, false},
		{"dokku version 0.35.9\n", domain.Version{Major: 0, Minor: 35, Patch: 9}, false},
	}
	for _, tt := range tests {
		t.Run(tt.output, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseVersion(tt.output)
			if err != nil {
				t.Fatalf("ParseVersion: %v", err)
			}
			if got.Major != tt.want.Major || got.Minor != tt.want.Minor || got.Patch != tt.want.Patch || got.Development != tt.want.Development {
				t.Errorf("ParseVersion = %+v, want %+v", got, tt.want)
			}
			if got.AtLeast(domain.AppsListJSONSince) != tt.jsonAppList {
				t.Errorf("AtLeast(%v) = %v, want %v", domain.AppsListJSONSince, !tt.jsonAppList, tt.jsonAppList)
			}
		})
	}
}

func TestParseVersionRejects(t *testing.T) {
	t.Parallel()
	for _, output := range []string{"", "0.38.27", "dokku version", "dokku version banana", "dokku version x.y.z"} {
		if v, err := domain.ParseVersion(output); err == nil {
			t.Errorf("ParseVersion(%q) = %+v, want an error", output, v)
		}
	}
}
