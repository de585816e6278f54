package domain_test

import (
	"strings"
	"testing"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

func TestParseGitRepository(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		wantErr string
	}{
		{"https://github.com/acme/shop.git", ""},
		{"http://example.com:8080/x", ""},
		{"git@github.com:acme/shop.git", ""},
		{"ssh://git@example.com:2222/srv/shop.git", ""},
		{"git://example.com/shop", ""},
		{"", "invalid git repository"},
		{"-uhttps://x", "do not start with '-'"},
		{"https://user:secret@example.com/x.git", "remove the password"},
		// A token given as the user name is a credential as well.
		{"https://ghp_secret123@github.com/acme/shop.git", "remove the credentials"},
		{"http://x-access-token@example.com/x.git", "remove the credentials"},
		{"https://user%3Asecret@example.com/x.git", "remove the credentials"},
		{"ssh://git%3Asecret@example.com/x.git", "remove the password"},
		{"git://secret@example.com/x.git", "remove the credentials"},
		{"https://token123@example.com/a b.git", `"https://REDACTED@example.com/a b.git"`},
		{"file:///etc/passwd", "use an https://"},
		{"https://example.com/a b", "use an https://"},
		{"https://example.com/$(id)", "use an https://"},
		{"https://example.com/*", "use an https://"},
		{"/srv/repo", "use an https://"},
		{"https://" + strings.Repeat("a", 1100), "at most 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			_, err := domain.ParseGitRepository(tt.url)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseGitRepository(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseGitRepository(%q) = %v, want an error containing %q", tt.url, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "token123") {
				t.Fatalf("error %q repeats the password", err)
			}
		})
	}
}

func TestParseGitRef(t *testing.T) {
	t.Parallel()
	valid := []string{"", "main", "v1.2.3", "feature/x-1", "0123456789abcdef0123456789abcdef01234567", "_tmp"}
	for _, ref := range valid {
		if _, err := domain.ParseGitRef(ref); err != nil {
			t.Errorf("ParseGitRef(%q) = %v, want nil", ref, err)
		}
	}
	invalid := []string{"-n", "-b", ".hidden", "a..b", "a//b", "a/", "a.", "a.lock", "a b", "a\nb", "a:b", "a~1", "a^", "x'y", strings.Repeat("a", 256)}
	for _, ref := range invalid {
		if _, err := domain.ParseGitRef(ref); err == nil {
			t.Errorf("ParseGitRef(%q) = nil, want an error", ref)
		}
	}
}

func TestParseImageReference(t *testing.T) {
	t.Parallel()
	valid := []string{"nginx", "nginx:1.27", "library/nginx:latest", "ghcr.io/acme/shop:v2", "localhost:5000/a/b",
		"registry.example.com/team/app@sha256:" + strings.Repeat("0", 64), "a/b_c/d__e:Tag_1.0"}
	for _, image := range valid {
		if _, err := domain.ParseImageReference(image); err != nil {
			t.Errorf("ParseImageReference(%q) = %v, want nil", image, err)
		}
	}
	invalid := []string{"", "-nginx", "Nginx", "nginx latest", "nginx:", "nginx:-x", "nginx@sha256:abc", "a;id", "a/../b", "nginx:$(id)"}
	for _, image := range invalid {
		if _, err := domain.ParseImageReference(image); err == nil {
			t.Errorf("ParseImageReference(%q) = nil, want an error", image)
		}
	}
}

func TestDeploymentSourceCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		source domain.DeploymentSource
		want   string
	}{
		{domain.DeploymentSource{Kind: domain.SourceGit, Repository: "https://example.com/x.git", Ref: "main"}, "git:sync --build shop https://example.com/x.git main"},
		{domain.DeploymentSource{Kind: domain.SourceGit, Repository: "https://example.com/x.git"}, "git:sync --build shop https://example.com/x.git"},
		{domain.DeploymentSource{Kind: domain.SourceImage, Image: "nginx:1.27"}, "git:from-image shop nginx:1.27"},
		{domain.DeploymentSource{Kind: domain.SourceRebuild}, "ps:rebuild shop"},
	}
	for _, tt := range tests {
		cmd, err := tt.source.Command("shop")
		if err != nil {
			t.Fatalf("Command(%+v): %v", tt.source, err)
		}
		if cmd.String() != tt.want {
			t.Errorf("Command(%+v) = %q, want %q", tt.source, cmd.String(), tt.want)
		}
	}
}

func TestDeploymentID(t *testing.T) {
	t.Parallel()
	id := domain.NewDeploymentID()
	if _, err := domain.ParseDeploymentID(id); err != nil {
		t.Fatalf("ParseDeploymentID(NewDeploymentID() = %q): %v", id, err)
	}
	for _, bad := range []string{"", "d-", "d-ABCDEFGHIJ", "x-abcdefghij", "d-abcdefghij1"} {
		if _, err := domain.ParseDeploymentID(bad); err == nil {
			t.Errorf("ParseDeploymentID(%q) = nil, want an error", bad)
		}
	}
}

func TestMatchBuild(t *testing.T) {
	t.Parallel()
	// Recording 09-02 (Dokku 0.38.27): a running record whose process is gone.
	records, err := domain.ParseBuildsJSON([]byte(`[{"id":"mx9eggrc7mejnb","app":"shop","kind":"deploy","pid":20396,"started_at":"2026-12-04T19:51:45.699590358Z","status":"running","source":"ps:restart","display_status":"abandoned","duration":"1s","log_path":"/var/lib/dokku/data/builds/shop/mx9eggrc7mejnb.log"}]`))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 12, 4, 19, 51, 45, 0, time.UTC)
	if _, ok := domain.MatchBuild(records, "", "ps:rebuild", started); ok {
		t.Error("MatchBuild matched a record of another source")
	}
	r, ok := domain.MatchBuild(records, "", "ps:restart", started)
	if !ok || r.ID != "mx9eggrc7mejnb" {
		t.Fatalf("MatchBuild = %+v, %v; want mx9eggrc7mejnb", r, ok)
	}
	if status, message := domain.StatusOfBuild(r); status != domain.DeploymentFailed || message == "" {
		t.Errorf("StatusOfBuild(abandoned) = %s, %q; want failed with a message", status, message)
	}
	if _, ok := domain.MatchBuild(records, "", "ps:restart", started.Add(2*time.Minute)); ok {
		t.Error("MatchBuild matched a record older than the deployment")
	}
	if r, ok := domain.MatchBuild(records, "mx9eggrc7mejnb", "git:sync", started.Add(time.Hour)); !ok || r.ID != "mx9eggrc7mejnb" {
		t.Errorf("MatchBuild by id = %+v, %v", r, ok)
	}
}
