package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// DeploymentStore persists deployments. The PostgreSQL adapter implements
// it.
type DeploymentStore interface {
	// InsertDeployment stores a new deployment. When the app already has
	// a queued or running deployment it returns *DeploymentConflictError.
	InsertDeployment(ctx context.Context, d domain.Deployment) error
	UpdateDeployment(ctx context.Context, d domain.Deployment) error
	// GetDeployment returns ErrDeploymentNotFound for an id the tenant
	// does not have.
	GetDeployment(ctx context.Context, tenantID, id string) (domain.Deployment, error)
	// ListDeployments returns an app's deployments, newest first.
	ListDeployments(ctx context.Context, tenantID, hostID string, app domain.AppName, limit int) ([]domain.Deployment, error)
	// ListStaleDeployments returns every tenant's queued and running
	// deployments whose runner last proved alive before staleBefore.
	ListStaleDeployments(ctx context.Context, staleBefore time.Time) ([]domain.Deployment, error)
	// ClaimDeployment makes runner the runner of a deployment that is
	// still stale, and reports whether it did.
	ClaimDeployment(ctx context.Context, id, runner string, now, staleBefore time.Time) (bool, error)
	// Heartbeat proves runner alive for its unfinished deployments.
	Heartbeat(ctx context.Context, runner string, now time.Time) error
}

// ErrDeploymentNotFound is returned by a DeploymentStore for an unknown id.
var ErrDeploymentNotFound = errors.New("deployment not found")

// DeploymentConflictError is returned by a DeploymentStore when the app
// already has a queued or running deployment.
type DeploymentConflictError struct {
	RunningID string
}

func (e *DeploymentConflictError) Error() string {
	return "app already has deployment " + e.RunningID + " queued or running"
}

// DefaultDeploymentOutputLines is how many build output lines DokkuExec
// keeps per deployment.
const DefaultDeploymentOutputLines = 2000

// maxOutputLineBytes cuts longer build output lines.
const maxOutputLineBytes = 4096

// OutputLine is one line of a deployment's build output.
type OutputLine struct {
	// Number counts the deployment's lines from 1.
	Number int64
	Text   string
}

// deploymentRun is the live state of a deployment this process runs: its
// record, the last lines of its output, and a channel that is closed and
// replaced on every change, so watchers wait without polling.
type deploymentRun struct {
	// cancel ends the run's context; a queued run ends cancelled.
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu      sync.Mutex
	d       domain.Deployment
	version int64
	lines   []OutputLine
	limit   int
	changed chan struct{}
	// cancelRequested is set by CancelDeployment.
	cancelRequested bool
}

func newDeploymentRun(d domain.Deployment, limit int, cancel context.CancelCauseFunc) *deploymentRun {
	return &deploymentRun{d: d, limit: limit, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
}

// notify wakes the watchers. The caller holds mu.
func (r *deploymentRun) notify() {
	r.version++
	close(r.changed)
	r.changed = make(chan struct{})
}

// update applies change to the record and wakes the watchers.
func (r *deploymentRun) update(change func(d *domain.Deployment)) domain.Deployment {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(&r.d)
	r.notify()
	return r.d
}

// addLine appends one output line, dropping the oldest beyond the limit.
func (r *deploymentRun) addLine(text string) {
	if len(text) > maxOutputLineBytes {
		text = text[:maxOutputLineBytes]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.d.OutputLines++
	r.lines = append(r.lines, OutputLine{Number: r.d.OutputLines, Text: text})
	if len(r.lines) > r.limit {
		r.lines = append(r.lines[:0:0], r.lines[len(r.lines)-r.limit:]...)
	}
	if step := domain.StepOf(text); step != "" {
		r.d.Step = step
	}
	r.notify()
}

// snapshot returns the record, its version, the kept lines numbered above
// after, and the channel that the next change closes.
func (r *deploymentRun) snapshot(after int64) (domain.Deployment, int64, []OutputLine, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var lines []OutputLine
	for _, line := range r.lines {
		if line.Number > after {
			lines = append(lines, line)
		}
	}
	return r.d, r.version, lines, r.changed
}

// output returns every kept line's text.
func (r *deploymentRun) output() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	texts := make([]string, len(r.lines))
	for i, line := range r.lines {
		texts[i] = line.Text
	}
	return texts
}

// deploymentRuns are the runs of this process by deployment id. Finished
// runs stay for the service's output retention, so that their output can
// still be read.
type deploymentRuns struct {
	mu   sync.Mutex
	runs map[string]*deploymentRun
}

func (rs *deploymentRuns) get(id string) *deploymentRun {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.runs[id]
}

func (rs *deploymentRuns) add(r *deploymentRun) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.runs[r.d.ID] = r
}

func (rs *deploymentRuns) remove(id string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.runs, id)
}
