package domain

import (
	"os/exec"
	"testing"
)

func TestShellQuoteSurvivesShell(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip(err)
	}
	for _, value := range []string{"plain", "it's", `principals="a,b"`, "`id` $HOME \\ ;|&", "''", ""} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(value)).Output()
		if err != nil {
			t.Fatalf("sh with %q: %v", value, err)
		}
		if string(out) != value {
			t.Errorf("shell read %q, want %q", out, value)
		}
	}
}

func TestTargetPrincipalAndKeyID(t *testing.T) {
	t.Parallel()
	target, err := NewTarget("t-k3xq7a2mzd", "h-p4w2ndr6ta")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := target.Principal(), "t-k3xq7a2mzd-h-p4w2ndr6ta"; got != want {
		t.Errorf("Principal() = %q, want %q", got, want)
	}
	if got, want := target.KeyID("0123abcd"), "tenant=t-k3xq7a2mzd host=h-p4w2ndr6ta request=0123abcd"; got != want {
		t.Errorf("KeyID() = %q, want %q", got, want)
	}
}
