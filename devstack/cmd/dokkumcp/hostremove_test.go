package main

import (
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

func TestHostRemoveErrorNamesForceFlag(t *testing.T) {
	refused := connect.NewError(connect.CodeFailedPrecondition, errors.New(`host "main" of tenant t-a has 2 apps recorded: destroy them first, or set force to remove the host with their records`))
	if got := hostRemoveError(refused, false).Error(); !strings.Contains(got, "--force") {
		t.Errorf("hostRemoveError = %q, want it to name --force", got)
	}
	other := connect.NewError(connect.CodeNotFound, errors.New(`host "main" not found`))
	if got := hostRemoveError(other, false).Error(); strings.Contains(got, "--force") {
		t.Errorf("hostRemoveError(not found) = %q, want no --force advice", got)
	}
}
