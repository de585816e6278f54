package domain_test

import (
	"slices"
	"strings"
	"testing"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

func TestParseProcessReportRecording(t *testing.T) {
	t.Parallel()
	prefixedOnly := []byte(`{"ps-deployed":"true","ps-processes":"2","ps-running":"mixed","ps-computed-restart-policy":"always","ps-status-web-1":"running (CID: abc)"}`)
	tests := []struct {
		name      string
		stdout    []byte
		deployed  bool
		processes int
		running   domain.RunningState
		policy    string
	}{
		{"both key shapes", recording(t, "08-02", "stdout"), false, 0, domain.Stopped, "on-failure:10"},
		{"prefixed keys only", prefixedOnly, true, 2, domain.RunningMixed, "always"},
		{"unprefixed keys only", []byte(`{"deployed":"true","processes":"1","running":"true","restart-policy":"no"}`), true, 1, domain.Running, "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			report, err := domain.ParseProcessReportJSON("shop", tt.stdout)
			if err != nil {
				t.Fatalf("ParseProcessReportJSON: %v", err)
			}
			if report.App != "shop" || report.Deployed != tt.deployed || report.Processes != tt.processes || report.Running != tt.running || report.RestartPolicy != tt.policy {
				t.Errorf("report = %+v", report)
			}
		})
	}
	if _, err := domain.ParseProcessReportJSON("shop", []byte(`{"processes":"many"}`)); err == nil {
		t.Error("ParseProcessReportJSON with a non-numeric process count: nil error")
	}
}

func TestParseScaleRecordings(t *testing.T) {
	t.Parallel()
	one, err := domain.ParseScaleJSON(recording(t, "08-04", "stdout"))
	if err != nil || !slices.Equal(one, []domain.ProcessScale{{ProcessType: "web", Quantity: 1}}) {
		t.Errorf("08-04 = %v, %v", one, err)
	}
	two, err := domain.ParseScaleJSON(recording(t, "08-07", "stdout"))
	if err != nil || !slices.Equal(two, []domain.ProcessScale{{ProcessType: "web", Quantity: 2}, {ProcessType: "worker", Quantity: 1}}) {
		t.Errorf("08-07 = %v, %v", two, err)
	}
}

func TestProcessCommandsMatchRecordings(t *testing.T) {
	t.Parallel()
	report, _ := domain.PsReportCommand("shop")
	scale, _ := domain.PsScaleJSONCommand("shop")
	set, err := domain.PsScaleCommand("shop", []domain.ProcessScale{{ProcessType: "worker", Quantity: 1}, {ProcessType: "web", Quantity: 2}}, true)
	if err != nil {
		t.Fatalf("PsScaleCommand: %v", err)
	}
	stop, _ := domain.PsStopCommand("shop")
	restart, _ := domain.PsRestartCommand("shop")
	tests := map[string]domain.Command{"08-02": report, "08-04": scale, "08-05": set, "08-08": stop, "08-09": restart}
	for name, cmd := range tests {
		if want := string(recording(t, name, "cmd.txt")); cmd.String() != want {
			t.Errorf("%s: command = %q, want %q", name, cmd.String(), want)
		}
	}
}

func TestNotDeployedNoOpRecordings(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"08-08", "08-09"} {
		result := domain.Result{Stdout: recording(t, name, "stdout"), Stderr: recording(t, name, "stderr")}
		if !domain.NotDeployedNoOp("shop", result) {
			t.Errorf("%s: NotDeployedNoOp = false, want true", name)
		}
		if domain.NotDeployedNoOp("shop2", result) {
			t.Errorf("%s: NotDeployedNoOp for another app = true, want false", name)
		}
		result.ExitStatus = 1
		if domain.NotDeployedNoOp("shop", result) {
			t.Errorf("%s: NotDeployedNoOp with exit status 1 = true, want false", name)
		}
	}
}

func TestParseProcessType(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"web", "worker", "release-task", "cron_2", "Web"} {
		if _, err := domain.ParseProcessType(ok); err != nil {
			t.Errorf("ParseProcessType(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-n", "--help", "web=1", "a b", "a.b", "_x", "ü"} {
		if _, err := domain.ParseProcessType(bad); err == nil {
			t.Errorf("ParseProcessType(%q) = nil error", bad)
		}
	}
}

func TestParseDomainsReportRecordings(t *testing.T) {
	t.Parallel()
	empty, err := domain.ParseDomainsReportJSON("shop", recording(t, "07-02", "stdout"))
	if err != nil || empty.Enabled || len(empty.Domains) != 0 {
		t.Errorf("07-02 = %+v, %v", empty, err)
	}
	added, err := domain.ParseDomainsReportJSON("shop", recording(t, "07-05", "stdout"))
	if err != nil || !added.Enabled || !slices.Equal(added.Domains, []string{"Example.COM", "www.example.com"}) {
		t.Errorf("07-05 = %+v, %v", added, err)
	}
	prefixed, err := domain.ParseDomainsReportJSON("shop", []byte(`{"domains-app-enabled":"true","domains-app-vhosts":"a.com b.com","domains-global-enabled":"true","domains-global-vhosts":"g.com"}`))
	if err != nil || !prefixed.Enabled || !slices.Equal(prefixed.Domains, []string{"a.com", "b.com"}) || !prefixed.GlobalEnabled || !slices.Equal(prefixed.GlobalDomains, []string{"g.com"}) {
		t.Errorf("prefixed = %+v, %v", prefixed, err)
	}
}

func TestDomainCommandsMatchRecordings(t *testing.T) {
	t.Parallel()
	report, _ := domain.DomainsReportCommand("shop")
	remove, _ := domain.DomainsRemoveCommand("shop", []domain.Domain{"www.example.com"})
	set, _ := domain.DomainsSetCommand("shop", []domain.Domain{"a.example.com", "b.example.com"})
	tests := map[string]domain.Command{"07-02": report, "07-06": remove, "07-07": set}
	for name, cmd := range tests {
		if want := string(recording(t, name, "cmd.txt")); cmd.String() != want {
			t.Errorf("%s: command = %q, want %q", name, cmd.String(), want)
		}
	}
}

func TestParseDomain(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"example.com", "Example.COM", "a-b.c0", "localhost", "xn--bcher-kva.example"} {
		if _, err := domain.ParseDomain(ok); err != nil {
			t.Errorf("ParseDomain(%q) = %v", ok, err)
		}
	}
	long := strings.Repeat("a.", 127) + "a"
	for _, bad := range []string{"", "-a.com", "a-.com", ".a.com", "a.com.", "a..b", "*.a.com", "a[b].com", "a+.com", "ä.com", long} {
		if _, err := domain.ParseDomain(bad); err == nil {
			t.Errorf("ParseDomain(%q) = nil error", bad)
		}
	}
}

func TestRemovalCollateral(t *testing.T) {
	t.Parallel()
	current := []string{"a.example.com", "abexample.com", "a.example.co", "b.example.com"}
	if got := domain.RemovalCollateral(current, []domain.Domain{"a.example.com"}); !slices.Equal(got, []string{"abexample.com"}) {
		t.Errorf("collateral = %q, want abexample.com", got)
	}
	if got := domain.RemovalCollateral(current, []domain.Domain{"a.example.com", "abexample.com"}); len(got) != 0 {
		t.Errorf("collateral when removing both = %q, want none", got)
	}
	if got := domain.RemovalCollateral(current, []domain.Domain{"b.example.com"}); len(got) != 0 {
		t.Errorf("collateral = %q, want none", got)
	}
}
