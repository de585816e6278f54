package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"dokkumcp.dev/secrets/internal/domain"
)

// Rotation states of a managed-key record. Each step does at most one
// thing on the host and then moves the record on with one check-and-set
// write, so a crash between the two repeats the host action, which is
// idempotent, and never skips one.
const (
	// RotationIdle: only Current exists; the next rotation starts when
	// Current is older than the rotation interval.
	RotationIdle = ""
	// RotationPending: Pending is stored; the next step adds it to the
	// host, logged in with Current.
	RotationPending = "pending"
	// RotationAdded: Pending is on the host; the next step logs in with it
	// as the dokku user.
	RotationAdded = "added"
	// RotationVerified: Pending logged in; the next step makes it Current
	// and keeps the old key as Retired.
	RotationVerified = "verified"
	// RotationPromoted: Secrets issues the new key; the next step removes
	// Retired from the host, logged in with the new Current.
	RotationPromoted = "promoted"
)

// HostKeys changes the managed keys installed on a Dokku host. Dokku runs
// ssh-keys:add and ssh-keys:remove only as root, so Add and Remove log in
// as the host's key admin user; Verify logs in as dokku.
type HostKeys interface {
	// Add installs public under name, logged in with login. A name that
	// already holds the same key is success; one that holds another key
	// is an error.
	Add(ctx context.Context, host HostAccess, login ManagedKey, name, public string) error
	// Verify logs in as dokku with key and runs `version`.
	Verify(ctx context.Context, host HostAccess, key ManagedKey) error
	// Remove deletes every key filed under name, logged in with login. A
	// name that is not there is success.
	Remove(ctx context.Context, host HostAccess, login ManagedKey, name string) error
}

// Rotator replaces each managed key once it is older than Interval.
type Rotator struct {
	Keys     ManagedKeyStore
	Host     HostKeys
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
	// Steps, if set, counts rotation steps by the state they start from
	// (step) and their outcome: ok, conflict (another replica moved the
	// record first) or error.
	Steps metric.Int64Counter
	// FakeStepHook, when set, is called after each step's host action
	// ("<state>/acted") and after its write ("<state>/saved"). An error
	// from it stops the rotation there, as a crash would. Only tests set
	// it.
	FakeStepHook func(point string) error
}

// ErrRotationBlocked is a rotation that cannot go on without an operator,
// such as a record without the host's address.
var ErrRotationBlocked = errors.New("managed key rotation blocked")

// Due reports whether record needs a step: a rotation is under way, or the
// current key is older than the interval.
func (r *Rotator) Due(record *ManagedKeyRecord) bool {
	if record.State != RotationIdle {
		return true
	}
	return r.Interval > 0 && !r.Now().Before(record.RotateTime.Add(r.Interval))
}

// Rotate runs the target's rotation to its end, or does nothing when none
// is due. It returns ErrManagedKeyConflict when another rotator moved the
// record first; that one carries on.
func (r *Rotator) Rotate(ctx context.Context, target domain.Target) error {
	for {
		record, version, err := r.Keys.Load(ctx, target)
		if err != nil {
			return err
		}
		if !r.Due(record) {
			return nil
		}
		if record.Host == nil {
			return fmt.Errorf("%w: host %s of tenant %s has no address on record; call GetHostTrust in managed-key mode with the host's address, port and host key",
				ErrRotationBlocked, target.HostID, target.TenantID)
		}
		err = r.step(ctx, target, record, version)
		r.countStep(ctx, record.State, err)
		if err != nil {
			return err
		}
	}
}

// countStep adds one step to r.Steps.
func (r *Rotator) countStep(ctx context.Context, state string, err error) {
	if r.Steps == nil {
		return
	}
	outcome := "ok"
	switch {
	case errors.Is(err, ErrManagedKeyConflict):
		outcome = "conflict"
	case err != nil:
		outcome = "error"
	}
	r.Steps.Add(ctx, 1, metric.WithAttributes(attribute.String("step", stateName(state)), attribute.String("outcome", outcome)))
}

// NewRotationStepCounter creates dokkumcp_secrets_managed_key_rotation_steps_total
// on meter, for Rotator.Steps.
func NewRotationStepCounter(meter metric.Meter) (metric.Int64Counter, error) {
	return meter.Int64Counter("dokkumcp_secrets_managed_key_rotation_steps",
		metric.WithDescription("Managed key rotation steps, by the state they start from (idle, pending, added, verified, promoted) and outcome (ok, conflict, error)."))
}

// step moves record one state on.
func (r *Rotator) step(ctx context.Context, target domain.Target, record *ManagedKeyRecord, version int) error {
	state := record.State
	host := *record.Host
	next := *record
	switch state {
	case RotationIdle:
		pending, err := newManagedKey(target, record.Current.Version+1, r.Now())
		if err != nil {
			return err
		}
		next.Pending = &pending
		next.State = RotationPending
	case RotationPending:
		if err := r.Host.Add(ctx, host, record.Current, record.Pending.Name, record.Pending.PublicKey); err != nil {
			return fmt.Errorf("add key version %d to host %s: %w", record.Pending.Version, target.HostID, err)
		}
		next.State = RotationAdded
	case RotationAdded:
		if err := r.Host.Verify(ctx, host, *record.Pending); err != nil {
			return fmt.Errorf("log in to host %s with key version %d: %w", target.HostID, record.Pending.Version, err)
		}
		next.State = RotationVerified
	case RotationVerified:
		old := record.Current
		next.Retired = &RetiredKey{Version: old.Version, Name: old.Name, PublicKey: old.PublicKey}
		next.Current = *record.Pending
		next.Pending = nil
		next.RotateTime = r.Now().UTC()
		next.State = RotationPromoted
	case RotationPromoted:
		// The retired key is removed only now: the new one is on the host,
		// logged in, and is what Secrets issues.
		if record.Retired.Name != record.Current.Name {
			if err := r.Host.Remove(ctx, host, record.Current, record.Retired.Name); err != nil {
				return fmt.Errorf("remove key version %d from host %s: %w", record.Retired.Version, target.HostID, err)
			}
		}
		next.Retired = nil
		next.State = RotationIdle
	default:
		return fmt.Errorf("managed key record of host %s has unknown rotation state %q", target.HostID, state)
	}
	if err := r.fake(state + "/acted"); err != nil {
		return err
	}

	if _, err := r.Keys.Save(ctx, target, &next, version); err != nil {
		return err
	}
	r.Logger.InfoContext(ctx, "managed key rotation step done", "tenant_id", target.TenantID, "host_id", target.HostID,
		"from", stateName(state), "to", stateName(next.State), "key_version", next.Current.Version)
	return r.fake(state + "/saved")
}

func (r *Rotator) fake(point string) error {
	if r.FakeStepHook == nil {
		return nil
	}
	return r.FakeStepHook(point)
}

func stateName(state string) string {
	if state == RotationIdle {
		return "idle"
	}
	return state
}

// ManagedKeyLister lists the hosts that have managed keys.
type ManagedKeyLister interface {
	List(ctx context.Context) ([]domain.Target, error)
}

// RunRotations checks every managed-key host each checkInterval and
// rotates those that are due, until ctx ends. A failed rotation is logged
// and retried at the next check; the host keeps its working key.
func (r *Rotator) RunRotations(ctx context.Context, lister ManagedKeyLister, checkInterval time.Duration) {
	ticker := time.NewTicker(checkInterval)
	defer ticker.Stop()
	for {
		r.RotateAll(ctx, lister)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// RotateAll runs every due rotation once.
func (r *Rotator) RotateAll(ctx context.Context, lister ManagedKeyLister) {
	targets, err := lister.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.Logger.ErrorContext(ctx, "managed key list failed", "error", err)
		}
		return
	}
	for _, target := range targets {
		err := r.Rotate(ctx, target)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrManagedKeyConflict):
			r.Logger.InfoContext(ctx, "managed key rotation left to another replica", "tenant_id", target.TenantID, "host_id", target.HostID)
		default:
			r.Logger.ErrorContext(ctx, "managed key rotation step failed; the host keeps its current key", "tenant_id", target.TenantID, "host_id", target.HostID, "error", err)
		}
	}
}
