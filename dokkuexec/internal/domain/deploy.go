package domain

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// BuildsSince is the first release with the builds plugin: build records
// with a status, `builds:list --format json` and `builds:cancel`.
var BuildsSince = Version{Major: 0, Minor: 38, Patch: 0}

// Limits of deployment sources.
const (
	MaxGitRepositoryLength = 1024
	MaxGitRefLength        = 255
	MaxImageLength         = 1024
)

// Deployment sources travel to Dokku's git commands, which split the
// command only on whitespace, after the forced command's bash has split it
// and expanded glob patterns. The patterns therefore allow only bytes that
// checkArgument accepts as well.
var (
	// schemeURLPattern is scheme://[user@]host[:port]/path.
	schemeURLPattern = regexp.MustCompile(`^(https|http|ssh|git)://([A-Za-z0-9._%+:-]+@)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._%+,@=:/-]*)?$`)
	// scpPattern is git's scp-like form user@host:path.
	scpPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[A-Za-z0-9._%+,@=/-]+$`)
	// gitRefPattern follows git check-ref-format loosely: no leading dash
	// or dot, no "..", no "//", no ending in "/", "." or ".lock".
	gitRefPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/-]*$`)
	// imagePattern is a container image reference:
	// [registry[:port]/]path[:tag][@sha256:digest], with lower-case path
	// components as the distribution spec requires.
	imagePattern = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:[0-9]{1,5})?/)?[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
)

// GitRepository is a git remote that `git:sync` clones.
type GitRepository string

// ParseGitRepository validates a git remote URL. A password in the URL is
// refused, because the URL is stored with the deployment and audited.
func ParseGitRepository(url string) (GitRepository, error) {
	rule := "use an https://, http://, ssh:// or git:// URL, or user@host:path, made of letters, digits and ._%+,@=:/- only"
	switch {
	case url == "":
		return "", &InvalidArgumentError{Field: "git repository", Value: url, Rule: rule}
	case len(url) > MaxGitRepositoryLength:
		return "", &InvalidArgumentError{Field: "git repository", Value: truncateForMessage(url),
			Rule: fmt.Sprintf("use at most %d characters (this URL has %d)", MaxGitRepositoryLength, len(url))}
	case strings.HasPrefix(url, "-"):
		return "", &InvalidArgumentError{Field: "git repository", Value: url, Rule: "do not start with '-'"}
	}
	if m := schemeURLPattern.FindStringSubmatch(url); m != nil {
		scheme, user := m[1], strings.TrimSuffix(m[2], "@")
		switch {
		case user == "":
		case scheme == "ssh" && !strings.ContainsAny(user, ":%"):
			// ssh://git@host names the login; the key authenticates it.
		case strings.Contains(user, ":") || scheme == "ssh":
			return "", &InvalidArgumentError{Field: "git repository", Redact: true,
				Rule: "remove the password from the URL; give the host a deploy key instead"}
		default:
			// Over http(s) and git:// a user name alone is a credential too:
			// forges accept access tokens there. The URL is stored with the
			// deployment and audited, so it must carry none.
			return "", &InvalidArgumentError{Field: "git repository", Redact: true,
				Rule: "remove the credentials before the host name; use a public repository or an ssh:// or user@host:path URL with a deploy key on the host"}
		}
		return GitRepository(url), nil
	}
	if scpPattern.MatchString(url) {
		return GitRepository(url), nil
	}
	return "", &InvalidArgumentError{Field: "git repository", Value: truncateForMessage(RedactGitRepository(url)), Rule: rule}
}

// RedactGitRepository returns url with anything between "://" and the last
// "@" of the authority replaced by "REDACTED", so that a URL refused for
// any reason can be named in messages and the audit ledger without the
// credential it may carry. Other URLs are returned as they are.
func RedactGitRepository(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	authority, path, hasPath := strings.Cut(rest, "/")
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return url
	}
	redacted := scheme + "://REDACTED" + authority[at:]
	if hasPath {
		redacted += "/" + path
	}
	return redacted
}

// GitRef is a branch, tag or commit of a git repository.
type GitRef string

// ParseGitRef validates a git ref. The empty ref means the repository's
// default branch.
func ParseGitRef(ref string) (GitRef, error) {
	rule := "use a branch, tag or commit: letters, digits and ._/- only, not starting with '-' or '.', without '..', '//' or a trailing '/', '.' or '.lock'"
	if len(ref) > MaxGitRefLength {
		return "", &InvalidArgumentError{Field: "git ref", Value: truncateForMessage(ref),
			Rule: fmt.Sprintf("use at most %d characters (this ref has %d)", MaxGitRefLength, len(ref))}
	}
	if ref == "" {
		return "", nil
	}
	if !gitRefPattern.MatchString(ref) || strings.Contains(ref, "..") || strings.Contains(ref, "//") ||
		strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".") || strings.HasSuffix(ref, ".lock") || isEchoOption(ref) {
		return "", &InvalidArgumentError{Field: "git ref", Value: ref, Rule: rule}
	}
	return GitRef(ref), nil
}

// ImageReference names a container image for `git:from-image`.
type ImageReference string

// ParseImageReference validates a container image reference.
func ParseImageReference(image string) (ImageReference, error) {
	if len(image) > MaxImageLength {
		return "", &InvalidArgumentError{Field: "image", Value: truncateForMessage(image),
			Rule: fmt.Sprintf("use at most %d characters (this reference has %d)", MaxImageLength, len(image))}
	}
	if !imagePattern.MatchString(image) {
		return "", &InvalidArgumentError{Field: "image", Value: truncateForMessage(image),
			Rule: "use [registry[:port]/]name[:tag][@sha256:digest] with a lower-case name, for example nginx:1.27 or ghcr.io/acme/shop:v2"}
	}
	return ImageReference(image), nil
}

// GitSyncBuildCommand returns `git:sync --build <app> <repository> [<ref>]`.
func GitSyncBuildCommand(app AppName, repository GitRepository, ref GitRef) (Command, error) {
	args := []string{"--build", string(app), string(repository)}
	if ref != "" {
		args = append(args, string(ref))
	}
	return newCommand("git:sync", args...)
}

// GitFromImageCommand returns `git:from-image <app> <image>`.
func GitFromImageCommand(app AppName, image ImageReference) (Command, error) {
	return newCommand("git:from-image", string(app), string(image))
}

// PsRebuildCommand returns `ps:rebuild <app>`.
func PsRebuildCommand(app AppName) (Command, error) {
	return newCommand("ps:rebuild", string(app))
}

// BuildsListJSONCommand returns `builds:list <app> --format json`.
func BuildsListJSONCommand(app AppName) (Command, error) {
	return newCommand("builds:list", string(app), "--format", "json")
}

// BuildsCancelCommand returns `builds:cancel <app>`, which stops the app's
// running build.
func BuildsCancelCommand(app AppName) (Command, error) {
	return newCommand("builds:cancel", string(app))
}

// DeployLockMessage is the warning with which Dokku refuses to deploy an app
// that another deploy holds the deploy lock of (Dokku 0.38,
// acquire_app_deploy_lock).
func DeployLockMessage(app AppName) string {
	return string(app) + " currently has a deploy lock in place. Exiting..."
}

// DeploymentStatus is the stage of a deployment.
type DeploymentStatus string

const (
	DeploymentQueued    DeploymentStatus = "queued"
	DeploymentRunning   DeploymentStatus = "running"
	DeploymentSucceeded DeploymentStatus = "succeeded"
	DeploymentFailed    DeploymentStatus = "failed"
	DeploymentCancelled DeploymentStatus = "cancelled"
	// DeploymentUnknown is the status of a deployment whose outcome no
	// one can tell any more.
	DeploymentUnknown DeploymentStatus = "unknown"
)

// Ended reports whether the status is final.
func (s DeploymentStatus) Ended() bool {
	return s != DeploymentQueued && s != DeploymentRunning
}

// SourceKind is the kind of source a deployment deploys: git, image or rebuild.
type SourceKind string

const (
	SourceGit     SourceKind = "git"
	SourceImage   SourceKind = "image"
	SourceRebuild SourceKind = "rebuild"
)

// DeploymentSource is a validated deployment source.
type DeploymentSource struct {
	Kind       SourceKind
	Repository GitRepository
	Ref        GitRef
	Image      ImageReference
}

// Command returns the Dokku command that deploys app from the source.
func (s DeploymentSource) Command(app AppName) (Command, error) {
	switch s.Kind {
	case SourceGit:
		return GitSyncBuildCommand(app, s.Repository, s.Ref)
	case SourceImage:
		return GitFromImageCommand(app, s.Image)
	case SourceRebuild:
		return PsRebuildCommand(app)
	}
	return Command{}, &InvalidArgumentError{Field: "deployment source", Value: string(s.Kind), Rule: "give a git repository, an image or a rebuild"}
}

// BuildSource is the source a Dokku build record names for the command of
// a deployment of this kind.
func (s DeploymentSource) BuildSource() string {
	switch s.Kind {
	case SourceGit:
		return "git:sync"
	case SourceImage:
		return "git:from-image"
	}
	return "ps:rebuild"
}

// Deployment is one deployment of an app.
type Deployment struct {
	ID       string
	TenantID string
	HostID   string
	HostName string
	App      AppName
	Source   DeploymentSource
	Status   DeploymentStatus
	// Message explains a failed, cancelled or unknown outcome.
	Message string
	// Step is the last step line Dokku printed, without its arrow.
	Step        string
	BuildID     string
	ExitCode    *int
	OutputLines int64
	CreateTime  time.Time
	StartTime   *time.Time
	EndTime     *time.Time
	// Runner names the DokkuExec process that runs the deployment.
	Runner string
}

// NewDeploymentID returns a fresh deployment id: "d-" and 10 lower-case
// base32 characters, like Tenancy's ids.
func NewDeploymentID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "d-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:10]
}

var deploymentIDPattern = regexp.MustCompile(`^d-[a-z2-7]{10}$`)

// ParseDeploymentID validates a deployment id.
func ParseDeploymentID(id string) (string, error) {
	if !deploymentIDPattern.MatchString(id) {
		return "", &InvalidArgumentError{Field: "deployment id", Value: truncateForMessage(id), Rule: "use the id CreateDeployment returned: d- followed by 10 characters a-z and 2-7"}
	}
	return id, nil
}

// StepOf returns the step a build output line announces, for lines with
// Dokku's "-----> " arrow, or "".
func StepOf(line string) string {
	if rest, ok := strings.CutPrefix(line, "-----> "); ok {
		return strings.TrimSpace(rest)
	}
	if rest, ok := strings.CutPrefix(line, "=====> "); ok {
		return strings.TrimSpace(rest)
	}
	return ""
}

// BuildRecord is one record of `builds:list --format json` (Dokku 0.38).
type BuildRecord struct {
	ID        string    `json:"id"`
	App       string    `json:"app"`
	Kind      string    `json:"kind"`
	Source    string    `json:"source"`
	StartedAt time.Time `json:"started_at"`
	// Status is the stored status; DisplayStatus shows a running record
	// whose process is gone as "abandoned".
	Status        string `json:"status"`
	DisplayStatus string `json:"display_status"`
	ExitCode      *int   `json:"exit_code"`
}

// ParseBuildsJSON parses the output of `builds:list --format json`.
func ParseBuildsJSON(stdout []byte) ([]BuildRecord, error) {
	var records []BuildRecord
	if err := json.Unmarshal(stdout, &records); err != nil {
		return nil, fmt.Errorf("parse builds:list JSON: %w", err)
	}
	for i, r := range records {
		if r.DisplayStatus == "" {
			records[i].DisplayStatus = r.Status
		}
	}
	return records, nil
}

// MatchBuild returns the build record of a deployment: the one with
// buildID when it is known. Otherwise it is the newest record of the
// deployment's source that started at most a minute before the deployment
// did. The minute allows for clock skew between DokkuExec and the host.
func MatchBuild(records []BuildRecord, buildID, source string, started time.Time) (BuildRecord, bool) {
	var best BuildRecord
	found := false
	for _, r := range records {
		if buildID != "" {
			if r.ID == buildID {
				return r, true
			}
			continue
		}
		if r.Source != source || r.StartedAt.Before(started.Add(-time.Minute)) {
			continue
		}
		if !found || r.StartedAt.After(best.StartedAt) {
			best, found = r, true
		}
	}
	return best, found
}

// StatusOfBuild maps a build record's display status to a deployment
// status; running stays running.
func StatusOfBuild(r BuildRecord) (DeploymentStatus, string) {
	switch r.DisplayStatus {
	case "running":
		return DeploymentRunning, ""
	case "succeeded":
		return DeploymentSucceeded, ""
	case "canceled":
		return DeploymentCancelled, "the build was cancelled on the host"
	case "abandoned":
		return DeploymentFailed, "the build's process on the host ended without a result, most likely because its SSH session closed when DokkuExec stopped; create a new deployment"
	}
	return DeploymentFailed, "the build failed on the host; read its output with WatchDeployment or `builds:output`"
}
