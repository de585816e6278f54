package app

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// appLocks serializes changes to one app: a write to an app on a host waits
// until the previous write to the same app in this process has finished.
//
// NOTE: the locks live in one DokkuExec process. Replicas of DokkuExec, or
// other Dokku clients, can still change the same app concurrently.
type appLocks struct {
	mu    sync.Mutex
	locks map[string]*appLock
}

// appLock is one app's lock. A buffered channel serves as the mutex so that
// waiting for it can end with the request's context.
type appLock struct {
	held chan struct{}
	// users counts the holder and the waiters, so the entry is removed
	// when the last of them is done.
	users int
}

func newAppLocks() *appLocks {
	return &appLocks{locks: map[string]*appLock{}}
}

// appLockKey identifies an app by tenant, host id and app name.
func appLockKey(target Target, app string) string {
	return target.TenantID + "/" + target.Host.ID + "/" + app
}

// acquire takes the locks of keys in sorted order, so that two requests
// that each need several apps cannot deadlock. It returns the function that
// releases them, or the context's error if ctx ends first.
func (l *appLocks) acquire(ctx context.Context, keys ...string) (func(), error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)

	var acquired []string
	release := func() {
		for _, key := range slices.Backward(acquired) {
			l.unlock(key)
		}
	}
	for _, key := range keys {
		if err := l.lock(ctx, key); err != nil {
			release()
			return nil, err
		}
		acquired = append(acquired, key)
	}
	return release, nil
}

func (l *appLocks) lock(ctx context.Context, key string) error {
	l.mu.Lock()
	lock, ok := l.locks[key]
	if !ok {
		lock = &appLock{held: make(chan struct{}, 1)}
		l.locks[key] = lock
	}
	lock.users++
	l.mu.Unlock()

	select {
	case lock.held <- struct{}{}:
		return nil
	case <-ctx.Done():
		l.leave(key, lock)
		return ctx.Err()
	}
}

func (l *appLocks) unlock(key string) {
	l.mu.Lock()
	lock := l.locks[key]
	l.mu.Unlock()
	<-lock.held
	l.leave(key, lock)
}

// leave drops one user of lock and removes the entry after the last one.
func (l *appLocks) leave(key string, lock *appLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lock.users--
	if lock.users == 0 {
		delete(l.locks, key)
	}
}

// waiting returns how many requests wait for the lock of key.
func (l *appLocks) waiting(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	lock, ok := l.locks[key]
	if !ok {
		return 0
	}
	return lock.users - len(lock.held)
}

// lockApps takes the write locks of apps on the target's host. When ctx ends
// first, the returned Error reports that nothing was run.
func (s *Service) lockApps(ctx context.Context, target Target, apps ...string) (func(), error) {
	keys := make([]string, len(apps))
	for i, app := range apps {
		keys[i] = appLockKey(target, app)
	}
	release, err := s.appLocks.acquire(ctx, keys...)
	if err == nil {
		return release, nil
	}

	message := "timed out"
	kind := KindDeadlineExceeded
	if errors.Is(err, context.Canceled) {
		message = "was canceled"
		kind = KindCanceled
	}
	return nil, &Error{
		Kind:    kind,
		Message: "the request " + message + " while waiting for another change to app " + quote(apps[0]) + " on host " + quote(target.Host.Name) + " to finish; nothing was run",
		Err:     err,
	}
}
