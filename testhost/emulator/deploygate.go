package emulator

import (
	"errors"
	"fmt"
)

// DeployGate holds every build at its build step until the test lets it
// go, so tests control how long a deploy takes without sleeping. While a
// build waits, the emulator serves other commands, such as builds:list and
// builds:cancel, and the build's session ends the way a real one would
// when its client disconnects.
type DeployGate struct {
	waiting chan string
	release chan int
}

// NewDeployGate returns a closed gate.
func NewDeployGate() *DeployGate {
	return &DeployGate{waiting: make(chan string, 64), release: make(chan int)}
}

// Waiting receives the app name of each build that reaches the gate.
func (g *DeployGate) Waiting() <-chan string { return g.waiting }

// Finish lets one waiting build go on. With exitCode 0 it deploys;
// otherwise the build fails with that exit status. Finish blocks until a
// build takes it.
func (g *DeployGate) Finish(exitCode int) { g.release <- exitCode }

// SetDeployGate makes builds wait at g; nil lets them run straight
// through.
func (e *Emulator) SetDeployGate(g *DeployGate) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gate = g
}

// waitAtGate holds the session's build at the emulator's gate, if one is
// set, with the emulator lock released. done reports that the build ended
// there, with code as its exit status: it failed, was cancelled by
// builds:cancel, or lost its client. The caller holds the lock.
func (s *session) waitAtGate(a *app) (code int, done bool) {
	gate := s.e.gate
	if gate == nil {
		return 0, false
	}
	cancel := make(chan struct{})
	a.cancelBuild, a.runningBuild = cancel, s.build
	select {
	case gate.waiting <- a.name:
	default:
	}

	s.e.mu.Unlock()
	var released, cancelled bool
	select {
	case code = <-gate.release:
		released = true
	case <-cancel:
		cancelled = true
	case <-s.ctx.Done():
	}
	s.e.mu.Lock()
	a.cancelBuild, a.runningBuild = nil, nil

	switch {
	case released && code == 0:
		return 0, false
	case released:
		s.warn("App build failed")
		return code, true
	case cancelled:
		// builds:cancel kills the build's process group with SIGQUIT,
		// which a shell reports as status 128+3.
		return 131, true
	}
	s.killed = true
	return 137, true
}

func cmdBuildsCancel(s *session, args []string) int {
	fs := s.newFlagSet("builds:cancel")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	a, err := s.verifyApp(fs.Arg(0))
	if err != nil {
		return s.failWith(err)
	}

	if !a.deploying {
		s.info1("App not currently deploying")
		return 0
	}
	if a.cancelBuild == nil {
		// A deploy that is not waiting at the gate runs to its end
		// under the emulator lock, so only a held lock gets here.
		s.info1("No matching app deploy found")
		return 0
	}
	s.info1("Killing app deploy")
	close(a.cancelBuild)
	a.cancelBuild = nil
	if b := a.runningBuild; b != nil && b.Status == "running" {
		finished := s.e.clock().UTC()
		exitCode := -1
		b.Status, b.FinishedAt, b.ExitCode = "canceled", &finished, &exitCode
	}
	return 0
}

// HoldDeployLock makes the app look as if a deploy outside the control
// plane were running: Dokku's deploy lock is held and, where the host has
// build records, a running build is listed. Deploys of the app fail with
// Dokku's deploy lock message until release is called, which ends that
// build as succeeded.
func (e *Emulator) HoldDeployLock(appName string) (release func(), err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.apps[appName]
	if a == nil {
		return nil, fmt.Errorf("app %s does not exist", appName)
	}
	if a.deploying {
		return nil, errors.New("app " + appName + " is already deploying")
	}

	a.deploying = true
	e.nextPID++
	pid := e.nextPID
	e.livePIDs[pid] = true
	var record *build
	if e.has(featureBuilds) {
		e.nextBuild++
		now := e.clock().UTC()
		record = &build{ID: buildID(now, e.nextBuild), App: appName, Kind: "build", PID: pid, StartedAt: now, Status: "running", Source: "git-hook"}
		e.builds[appName] = append(e.builds[appName], record)
	}
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		a.deploying = false
		delete(e.livePIDs, pid)
		if record != nil {
			finished := e.clock().UTC()
			exitCode := 0
			record.Status, record.FinishedAt, record.ExitCode = "succeeded", &finished, &exitCode
		}
	}, nil
}
