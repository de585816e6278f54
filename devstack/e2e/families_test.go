package e2e_test

import (
	"slices"
	"testing"
)

// nodeFamilies is what families.mjs returns after calling a tool of every
// family.
type nodeFamilies struct {
	Deploy struct {
		ID, Status string
		Progress   int
	}
	DeployStatus string
	Deployments  []string
	Ps           struct {
		App      string
		Deployed bool
	}
	Domains []string
	Logs    struct {
		Lines int
		Hint  string
	}
	Run struct {
		ExitCode int
		Stdout   string
	}
	Services    []string
	Letsencrypt struct {
		App    string
		Active bool
	}
	DokkuVersion string
	Audit        []string
}

// checkNodeFamilies checks what a TypeScript client saw when it called a
// tool of every family on app, which it deployed first.
func checkNodeFamilies(t *testing.T, clientName, app string, got nodeFamilies) {
	t.Helper()
	if got.Deploy.ID == "" || got.Deploy.Status != "succeeded" || got.DeployStatus != "succeeded" {
		t.Errorf("%s: deploy_create with wait = %+v, deploy_status %q; want succeeded", clientName, got.Deploy, got.DeployStatus)
	}
	// deploy_create with wait reports progress at least once, when it
	// starts to follow the deployment.
	if got.Deploy.Progress < 1 {
		t.Errorf("%s received %d progress notifications from deploy_create with wait, want at least 1", clientName, got.Deploy.Progress)
	}
	if !slices.Equal(got.Deployments, []string{got.Deploy.ID}) {
		t.Errorf("%s: deploy_list = %v, want [%s]", clientName, got.Deployments, got.Deploy.ID)
	}

	if got.Ps.App != app || !got.Ps.Deployed {
		t.Errorf("%s: ps_report = %+v, want %s deployed", clientName, got.Ps, app)
	}
	if !slices.Contains(got.Domains, app+".example.com") {
		t.Errorf("%s: domains_add = %v, want %s.example.com among them", clientName, got.Domains, app)
	}
	if got.Logs.Hint == "" {
		t.Errorf("%s: logs_get = %+v, want a hint", clientName, got.Logs)
	}

	if got.Run.ExitCode != 0 || got.Run.Stdout != "hi\n" {
		t.Errorf("%s: run echo hi = %+v, want exit code 0 and stdout \"hi\\n\"", clientName, got.Run)
	}
	if !slices.Contains(got.Services, app+"-db") {
		t.Errorf("%s: services_list = %v, want %s-db", clientName, got.Services, app)
	}
	if got.Letsencrypt.App != app || got.Letsencrypt.Active {
		t.Errorf("%s: letsencrypt_report = %+v, want %s without a certificate", clientName, got.Letsencrypt, app)
	}

	if got.DokkuVersion == "" {
		t.Errorf("%s: host_info returned no Dokku version", clientName)
	}
	if len(got.Audit) == 0 || slices.ContainsFunc(got.Audit, func(op string) bool { return op != "mcpedge.run" }) {
		t.Errorf("%s: audit_log filtered to mcpedge.run = %v, want only mcpedge.run events", clientName, got.Audit)
	}
}
