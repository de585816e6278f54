package emulator

import (
	"fmt"
	"strings"
)

// Deploy output is synthetic: no recording covers a successful build, so
// these steps follow the messages in Dokku's builder and scheduler plugins
// without the output of docker itself.
//
// TODO: replace with recordings of a real deploy once a host with a Docker
// engine records one.

// withDeployLock runs deploy while holding the app's deploy lock, failing at
// once when another deploy holds it, as acquire_app_deploy_lock does with
// the "exclusive" lock type. It finalizes the session's build record.
func (s *session) withDeployLock(a *app, deploy func() int) int {
	if a.deploying {
		s.warn(fmt.Sprintf("%s currently has a deploy lock in place. Exiting...", a.name))
		code := s.fail("Run 'apps:unlock' to release the existing deploy lock")
		return code
	}
	a.deploying = true
	code := deploy()
	a.deploying = false
	if s.killed {
		// The process died; its build record stays "running" and
		// shows as abandoned.
		return code
	}
	// Releasing the deploy lock deletes the lock file that apps:lock
	// creates as well.
	a.locked = false
	s.finishBuild(code)
	return code
}

// buildAndDeploy builds the app's code with builder and deploys it.
func (s *session) buildAndDeploy(a *app, builder string) int {
	s.info1("Cleaning up...")
	s.info1(fmt.Sprintf("Building %s from %s", a.name, builder))
	if code, done := s.waitAtGate(a); done {
		return code
	}
	s.releaseAndDeploy(a)
	return 0
}

// releaseAndDeploy starts containers for every process type and rebuilds
// the proxy configuration.
func (s *session) releaseAndDeploy(a *app) {
	s.info1(fmt.Sprintf("Releasing %s...", a.name))
	s.info1("Checking for predeploy task")
	s.verbose("No predeploy task found, skipping")
	s.info1("Checking for release task")
	s.verbose("No release task found, skipping")
	s.stdoutLine("=====> Processing deployment checks")
	a.deployed = true
	a.stopped = false
	for _, f := range a.sortedScale() {
		if f.Quantity > 0 {
			s.deployProcess(a, f)
		}
	}
	s.buildProxyConfig(a)
	s.stdoutLine("=====> Application deployed:")
	for _, url := range a.urls() {
		s.verbose(url)
	}
}

// deployProcess starts the containers of one process type.
func (s *session) deployProcess(a *app, f formation) {
	s.info1(fmt.Sprintf("Deploying %s (count=%d)", f.ProcessType, f.Quantity))
}

// urls returns the app's URLs: one per domain while domains are enabled,
// otherwise the host address with the app's proxy port.
func (a *app) urls() []string {
	if a.vhostEnabled() && len(a.domains) > 0 {
		urls := make([]string, len(a.domains))
		for i, domain := range a.domains {
			urls[i] = "http://" + domain
		}
		return urls
	}
	return []string{fmt.Sprintf("http://127.0.0.1:%d", a.port)}
}

func cmdGitSync(s *session, args []string) int {
	var flag string
	var rest []string
	for _, arg := range args {
		switch arg {
		case "--build", "--build-if-changes":
			flag = arg
		case "--skip-deploy-branch":
		default:
			rest = append(rest, arg)
		}
	}
	appName, remote, ref := argAt(rest, 0), argAt(rest, 1), argAt(rest, 2)

	a, code, ok := s.verifyAppBash(appName)
	if !ok {
		return code
	}
	if remote == "" {
		return s.fail("Missing GIT_REMOTE parameter")
	}

	s.captureBuild(a.name, "git:sync")
	if !a.hasCode {
		s.info1Quiet(fmt.Sprintf("Cloning %s from %s#%s", a.name, remote, ref))
	} else {
		s.verbose(fmt.Sprintf("Fetching remote code for %s from %s#%s", a.name, remote, ref))
	}
	changed := a.gitSource != remote+"#"+ref || !a.hasCode
	a.hasCode = true
	a.gitSource = remote + "#" + ref
	a.builder = "herokuish"

	if flag == "" {
		return 0
	}
	if flag == "--build-if-changes" && !changed {
		s.verbose("Skipping build as no changes were detected")
		return 0
	}
	code = s.withDeployLock(a, func() int {
		return s.buildAndDeploy(a, a.builder)
	})
	if code == 0 {
		a.deploySource = "git-sync"
		a.deploySourceMetadata = remote + "#" + ref
	}
	return code
}

func cmdGitFromImage(s *session, args []string) int {
	var rest []string
	skip := false
	for _, arg := range args {
		switch {
		case arg == "--build-dir":
			skip = true
		case arg == "--force":
		case skip:
			skip = false
		default:
			rest = append(rest, arg)
		}
	}
	appName, image := argAt(rest, 0), argAt(rest, 1)

	a, code, ok := s.verifyAppBash(appName)
	if !ok {
		return code
	}
	if image == "" {
		return s.fail("Please specify a docker image")
	}

	s.captureBuild(a.name, "git:from-image")
	s.info1("Generating build context")
	if s.e.pulledImages[image] {
		s.info1("Image exists on host, skipping pull")
	} else {
		s.info1("Pulling image")
		s.e.pulledImages[image] = true
	}
	s.info1("Updating git repository with specified build context")

	// The generated Dockerfile only names the image, so the same image
	// again leaves the repository unchanged and the trigger fails.
	if a.hasCode && a.sourceImage == image {
		s.warn("No changes detected, skipping git commit")
		s.warn("Call 'ps:rebuild' on app to rebuild the app from existing source")
		return 1
	}

	a.hasCode = true
	a.sourceImage = image
	a.builder = "Dockerfile"
	code = s.withDeployLock(a, func() int {
		return s.buildAndDeploy(a, a.builder)
	})
	if code == 0 {
		a.deploySource = "docker-image"
		a.deploySourceMetadata = image
	}
	return code
}

// argAt returns args[i], or "" when args is shorter, like an unset bash
// positional parameter.
func argAt(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// logLine formats one runtime log line the way Dokku's docker-local
// scheduler prints them: a colour escape, the RFC 3339 timestamp, the
// container name and the message.
func logLine(color int, timestamp, container, message string) string {
	return fmt.Sprintf("\x1b[%dm%s app[%s]:\x1b[0m %s", color, timestamp, container, message)
}

// logColors are the colours assigned to containers in turn.
var logColors = []int{36, 33, 32, 35, 31}

// sanitizeContainer turns "web-1" into the "web.1" form used in log lines.
func sanitizeContainer(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	return name[:i] + "." + name[i+1:]
}
