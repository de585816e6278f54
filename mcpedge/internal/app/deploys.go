package app

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/mcpedge/internal/domain"
)

// ProgressInterval is the longest time deploy_create with wait lets pass
// without a progress notification while the deployment runs.
const ProgressInterval = 10 * time.Second

// outputTailLines is how many of the last output lines a waited-for
// deployment's result carries.
const outputTailLines = 20

// DeployCreateArgs starts a deployment.
type DeployCreateArgs struct {
	Host       string `json:"host,omitempty"`
	App        string `json:"app"`
	Source     string `json:"source"`
	Repository string `json:"repository,omitempty"`
	Ref        string `json:"ref,omitempty"`
	Image      string `json:"image,omitempty"`
	Wait       bool   `json:"wait,omitempty"`
}

// DeploymentArgs names a deployment.
type DeploymentArgs struct {
	ID string `json:"id"`
}

// DeployListArgs names an app whose deployments to list.
type DeployListArgs struct {
	Host     string `json:"host,omitempty"`
	App      string `json:"app"`
	PageSize int    `json:"page_size,omitempty"`
}

// DeployLogsArgs selects output lines of a deployment.
type DeployLogsArgs struct {
	ID        string `json:"id"`
	AfterLine int64  `json:"after_line,omitempty"`
	MaxLines  int    `json:"max_lines,omitempty"`
}

// DeployCancelArgs cancels a deployment; Confirm repeats the app's name.
type DeployCancelArgs struct {
	ID      string `json:"id"`
	App     string `json:"app"`
	Confirm string `json:"confirm"`
}

// Deployment is the state of a deployment, and the result of
// deploy_create, deploy_status and deploy_cancel.
type Deployment struct {
	ID          string `json:"id"`
	Host        string `json:"host"`
	App         string `json:"app"`
	Source      string `json:"source"`
	Repository  string `json:"repository,omitempty"`
	Ref         string `json:"ref,omitempty"`
	Image       string `json:"image,omitempty"`
	Status      string `json:"status"`
	Message     string `json:"message,omitempty"`
	Step        string `json:"step,omitempty"`
	BuildID     string `json:"build_id,omitempty"`
	ExitCode    *int   `json:"exit_code,omitempty"`
	OutputLines int64  `json:"output_lines"`
	CreatedAt   string `json:"created_at"`
	StartedAt   string `json:"started_at,omitempty"`
	EndedAt     string `json:"ended_at,omitempty"`
	// OutputTail holds the last output lines of a deployment that
	// deploy_create waited for.
	OutputTail []string `json:"output_tail,omitempty"`
	// Hint is the next step the model should take.
	Hint string `json:"hint"`
}

// DeploymentList is the result of deploy_list.
type DeploymentList struct {
	Deployments []Deployment `json:"deployments"`
}

// DeployOutputLine is one line of build output.
type DeployOutputLine struct {
	Number int64  `json:"number"`
	Text   string `json:"text"`
}

// DeployLogs is the result of deploy_logs.
type DeployLogs struct {
	ID     string             `json:"id"`
	Status string             `json:"status"`
	Lines  []DeployOutputLine `json:"lines"`
	// NextAfterLine is the after_line that continues where these lines end.
	NextAfterLine int64  `json:"next_after_line"`
	More          bool   `json:"more"`
	Hint          string `json:"hint"`
}

// Progress reports a long call's progress to the client. The message
// describes the current step.
type Progress func(message string)

// CreateDeployment starts a deployment. With wait, it follows the deployment
// to its end and reports progress at each change of state and at least every
// ProgressInterval. If ctx ends first, because the client went away or the
// call timed out, the watch stops but the deployment goes on.
func (t *Tools) CreateDeployment(ctx context.Context, args DeployCreateArgs, progress Progress) (*Deployment, error) {
	req := &dokkuexecv1.CreateDeploymentRequest{Host: args.Host, App: args.App}
	switch args.Source {
	case "git":
		if args.Repository == "" || args.Image != "" {
			return nil, &ToolError{Message: "source git needs repository (and optionally ref), and no image"}
		}
		req.Source = &dokkuexecv1.CreateDeploymentRequest_Git{Git: &dokkuexecv1.GitSource{Repository: args.Repository, Ref: args.Ref}}
	case "image":
		if args.Image == "" || args.Repository != "" || args.Ref != "" {
			return nil, &ToolError{Message: "source image needs image, and no repository or ref"}
		}
		req.Source = &dokkuexecv1.CreateDeploymentRequest_Image{Image: &dokkuexecv1.ImageSource{Image: args.Image}}
	case "rebuild":
		if args.Image != "" || args.Repository != "" || args.Ref != "" {
			return nil, &ToolError{Message: "source rebuild takes no repository, ref or image: it rebuilds the app's current source"}
		}
		req.Source = &dokkuexecv1.CreateDeploymentRequest_Rebuild{Rebuild: &dokkuexecv1.RebuildSource{}}
	default:
		return nil, &ToolError{Message: fmt.Sprintf("unknown source %q: use git, image or rebuild", args.Source)}
	}

	resp, err := t.DokkuExec.CreateDeployment(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolDeployCreate, err)
	}
	created := resp.Msg.GetDeployment()
	if !args.Wait {
		out := deploymentResult(created)
		out.Hint = "The deployment runs in the background. Check it with deploy_status, read its output with deploy_logs, or call deploy_create with wait=true next time to wait for the end."
		return out, nil
	}
	return t.waitForDeployment(ctx, created, progress)
}

// waitForDeployment follows a deployment until it ends or ctx ends.
func (t *Tools) waitForDeployment(ctx context.Context, d *dokkuexecv1.Deployment, progress Progress) (*Deployment, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := t.DokkuExec.WatchDeployment(ctx, connect.NewRequest(&dokkuexecv1.WatchDeploymentRequest{Id: d.GetId(), Follow: true}))
	if err != nil {
		return t.watchFailed(ctx, d, nil, err), nil
	}

	// A goroutine receives from the stream so that the loop below can send
	// progress while no message arrives. The stream is closed only after
	// that goroutine has returned.
	events := make(chan *dokkuexecv1.WatchDeploymentResponse)
	go func() {
		defer close(events)
		for stream.Receive() {
			select {
			case events <- stream.Msg():
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range events {
		}
		_ = stream.Close()
	}()

	latest := d
	var tail []string
	ticker := t.newTicker(ProgressInterval)
	defer ticker.Stop()
	progress(describeProgress(latest))
	for {
		select {
		case event, ok := <-events:
			if !ok {
				if err := stream.Err(); err != nil && ctx.Err() == nil {
					return t.watchFailed(ctx, latest, tail, err), nil
				}
				return waitedResult(ctx, latest, tail), nil
			}
			if line := event.GetLine(); line != nil {
				tail = append(tail, line.GetText())
				if len(tail) > outputTailLines {
					tail = tail[1:]
				}
				continue
			}
			if next := event.GetDeployment(); next != nil {
				if next.GetStep() != latest.GetStep() || next.GetStatus() != latest.GetStatus() {
					latest = next
					progress(describeProgress(latest))
					ticker.Reset(ProgressInterval)
				}
				latest = next
			}
		case <-ticker.C():
			progress(describeProgress(latest) + " (still running)")
		case <-ctx.Done():
			return waitedResult(ctx, latest, tail), nil
		}
	}
}

// watchFailed is the result of a deploy_create whose watch broke, for
// example because DokkuExec stopped. The deployment exists and may go on,
// so the call returns it, with its id, rather than an error that would
// leave the model without the id.
func (t *Tools) watchFailed(ctx context.Context, d *dokkuexecv1.Deployment, tail []string, err error) *Deployment {
	t.Logger.WarnContext(ctx, "deployment watch failed", "tool", domain.ToolDeployCreate, "deployment_id", d.GetId(), "error", err)
	out := deploymentResult(d)
	out.OutputTail = orEmpty(tail)
	out.Hint = "Stopped waiting because the platform could not follow the deployment any more; it may go on in the background. Check it with deploy_status " + d.GetId() + " in a minute."
	return out
}

// waitedResult is the result of a deploy_create that waited.
func waitedResult(ctx context.Context, d *dokkuexecv1.Deployment, tail []string) *Deployment {
	out := deploymentResult(d)
	out.OutputTail = orEmpty(tail)
	switch {
	case ctx.Err() != nil && !isEnded(d.GetStatus()):
		out.Hint = "Stopped waiting before the deployment ended; it goes on in the background. Check it with deploy_status " + d.GetId() + "."
	case d.GetStatus() == dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCEEDED:
		out.Hint = "The app is deployed. Check it with ps_report or logs_get."
	default:
		out.Hint = statusHint(d)
	}
	return out
}

// describeProgress is the message of a progress notification.
func describeProgress(d *dokkuexecv1.Deployment) string {
	message := "deployment " + d.GetId() + " " + deploymentStatus(d.GetStatus())
	if d.GetStep() != "" {
		message += ": " + d.GetStep()
	}
	return message
}

// GetDeployment returns a deployment's state.
func (t *Tools) GetDeployment(ctx context.Context, args DeploymentArgs) (*Deployment, error) {
	return t.getDeployment(ctx, args, domain.ToolDeployStatus)
}

// getDeployment reads one deployment; label names the tool or resource in
// error messages.
func (t *Tools) getDeployment(ctx context.Context, args DeploymentArgs, label string) (*Deployment, error) {
	resp, err := t.DokkuExec.GetDeployment(ctx, connect.NewRequest(&dokkuexecv1.GetDeploymentRequest{Id: args.ID}))
	if err != nil {
		return nil, t.toolError(ctx, label, err)
	}
	out := deploymentResult(resp.Msg.GetDeployment())
	out.Hint = statusHint(resp.Msg.GetDeployment())
	return out, nil
}

// ListDeployments lists an app's deployments, newest first.
func (t *Tools) ListDeployments(ctx context.Context, args DeployListArgs) (*DeploymentList, error) {
	resp, err := t.DokkuExec.ListDeployments(ctx, connect.NewRequest(&dokkuexecv1.ListDeploymentsRequest{
		Host: args.Host, App: args.App, PageSize: int32(args.PageSize),
	}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolDeployList, err)
	}
	list := &DeploymentList{Deployments: []Deployment{}}
	for _, d := range resp.Msg.GetDeployments() {
		list.Deployments = append(list.Deployments, *deploymentResult(d))
	}
	return list, nil
}

// DeploymentLogs returns at most MaxLines output lines after AfterLine.
func (t *Tools) DeploymentLogs(ctx context.Context, args DeployLogsArgs) (*DeployLogs, error) {
	maxLines := args.MaxLines
	if maxLines == 0 {
		maxLines = domain.DefaultDeployLogs
	}
	if maxLines < 0 || maxLines > domain.MaxDeployLogLines || args.AfterLine < 0 {
		return nil, &ToolError{Message: fmt.Sprintf("use max_lines from 1 to %d and an after_line of 0 or more", domain.MaxDeployLogLines)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := t.DokkuExec.WatchDeployment(ctx, connect.NewRequest(&dokkuexecv1.WatchDeploymentRequest{Id: args.ID, AfterLine: args.AfterLine}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolDeployLogs, err)
	}
	defer stream.Close()

	out := &DeployLogs{ID: args.ID, Lines: []DeployOutputLine{}, NextAfterLine: args.AfterLine}
	var d *dokkuexecv1.Deployment
	for stream.Receive() {
		if next := stream.Msg().GetDeployment(); next != nil {
			d = next
			continue
		}
		if len(out.Lines) == maxLines {
			out.More = true
			break
		}
		line := stream.Msg().GetLine()
		out.Lines = append(out.Lines, DeployOutputLine{Number: line.GetNumber(), Text: line.GetText()})
		out.NextAfterLine = line.GetNumber()
	}
	if err := stream.Err(); err != nil && !out.More {
		return nil, t.toolError(ctx, domain.ToolDeployLogs, err)
	}
	if d == nil {
		return nil, &ToolError{Message: "deploy_logs received no state of deployment " + args.ID + "; retry"}
	}
	out.Status = deploymentStatus(d.GetStatus())

	switch {
	case out.More:
		out.Hint = fmt.Sprintf("More lines follow: call deploy_logs again with after_line=%d.", out.NextAfterLine)
	case !isEnded(d.GetStatus()):
		out.Hint = fmt.Sprintf("The deployment is still running: call deploy_logs again later with after_line=%d for new lines.", out.NextAfterLine)
	case d.GetOutputLines() > 0 && len(out.Lines) == 0 && args.AfterLine < d.GetOutputLines():
		out.Hint = "DokkuExec no longer holds this deployment's output (it keeps recent output in memory, for about an hour); the status and message still tell the outcome."
	default:
		out.Hint = "That is the whole output."
	}
	if len(out.Lines) > 0 && out.Lines[0].Number > args.AfterLine+1 {
		out.Hint += fmt.Sprintf(" Lines %d to %d were dropped: DokkuExec keeps only the last lines of each deployment.", args.AfterLine+1, out.Lines[0].Number-1)
	}
	return out, nil
}

// CancelDeployment cancels a running deployment after checking that it
// belongs to the confirmed app.
func (t *Tools) CancelDeployment(ctx context.Context, args DeployCancelArgs) (*Deployment, error) {
	if args.Confirm != args.App {
		return nil, &ToolError{Message: fmt.Sprintf("confirm %q does not match app %q: ask the user, then pass the app's name as confirm", args.Confirm, args.App)}
	}
	found, err := t.DokkuExec.GetDeployment(ctx, connect.NewRequest(&dokkuexecv1.GetDeploymentRequest{Id: args.ID}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolDeployCancel, err)
	}
	if found.Msg.GetDeployment().GetApp() != args.App {
		return nil, &ToolError{Message: fmt.Sprintf("deployment %s deploys app %q, not %q; check the id with deploy_list", args.ID, found.Msg.GetDeployment().GetApp(), args.App)}
	}
	resp, err := t.DokkuExec.CancelDeployment(ctx, connect.NewRequest(&dokkuexecv1.CancelDeploymentRequest{Id: args.ID}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolDeployCancel, err)
	}
	out := deploymentResult(resp.Msg.GetDeployment())
	out.Hint = statusHint(resp.Msg.GetDeployment())
	return out, nil
}

// statusHint returns the next step a deployment's status implies for the model.
func statusHint(d *dokkuexecv1.Deployment) string {
	switch d.GetStatus() {
	case dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_QUEUED:
		return "Waiting for another change to the app to finish; check again with deploy_status."
	case dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING:
		return "Still running; check again with deploy_status, or read the output so far with deploy_logs."
	case dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCEEDED:
		return "The deployment succeeded."
	case dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED:
		return "The deployment was cancelled; the app keeps running its previous release, if any."
	}
	return "Read message and the output with deploy_logs to see why, fix the cause and deploy again."
}

func isEnded(s dokkuexecv1.DeploymentStatus) bool {
	return s != dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_QUEUED && s != dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING
}

func deploymentStatus(s dokkuexecv1.DeploymentStatus) string {
	switch s {
	case dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_QUEUED:
		return "queued"
	case dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING:
		return "running"
	case dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCEEDED:
		return "succeeded"
	case dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILED:
		return "failed"
	case dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED:
		return "cancelled"
	}
	return "unknown"
}

func deploymentResult(d *dokkuexecv1.Deployment) *Deployment {
	out := &Deployment{
		ID: d.GetId(), Host: d.GetHost(), App: d.GetApp(), Status: deploymentStatus(d.GetStatus()),
		Message: rpcNamesToTools.Replace(d.GetMessage()), Step: d.GetStep(), BuildID: d.GetBuildId(), OutputLines: d.GetOutputLines(),
		CreatedAt: d.GetCreateTime().AsTime().UTC().Format(timeLayout),
	}
	switch {
	case d.GetGit() != nil:
		out.Source, out.Repository, out.Ref = "git", d.GetGit().GetRepository(), d.GetGit().GetRef()
	case d.GetImage() != nil:
		out.Source, out.Image = "image", d.GetImage().GetImage()
	default:
		out.Source = "rebuild"
	}
	if d.ExitCode != nil {
		code := int(d.GetExitCode())
		out.ExitCode = &code
	}
	if d.GetStartTime() != nil {
		out.StartedAt = d.GetStartTime().AsTime().UTC().Format(timeLayout)
	}
	if d.GetEndTime() != nil {
		out.EndedAt = d.GetEndTime().AsTime().UTC().Format(timeLayout)
	}
	return out
}
