package domain_test

import (
	"strings"
	"testing"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

func TestCheckStorable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		ok    bool
	}{
		{"plain", true},
		{"", true},
		{"it's a \"quoted\" value with $HOME and a back\\slash\nsecond line", true},
		{"7", true},
		{"007", false},
		{"+5", false},
		{`say "hi"`, false},
		{`ends with a backslash\`, false},
		{"-n", true},
		{"ünïcödé ☃", true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			err := domain.CheckStorable("KEY", tt.value)
			if tt.ok && err != nil {
				t.Fatalf("CheckStorable(%q) = %v, want nil", tt.value, err)
			}
			if !tt.ok && err == nil {
				t.Fatalf("CheckStorable(%q) = nil, want an error", tt.value)
			}
			if err != nil && tt.value != "" && strings.Contains(err.Error(), tt.value) {
				t.Errorf("error %q echoes the value", err)
			}
			if err != nil && !strings.Contains(err.Error(), `"KEY"`) {
				t.Errorf("error %q does not name the key", err)
			}
		})
	}
}
