package app

// WaitingForApp returns how many requests wait for the write lock of app on
// the host hostID of tenantID. Tests use it to see a write blocked by
// another one.
func (s *Service) WaitingForApp(tenantID, hostID, app string) int {
	return s.appLocks.waiting(appLockKey(Target{TenantID: tenantID, Host: Host{ID: hostID}}, app))
}
