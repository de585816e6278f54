package scratch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestSweepExitedOwners(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	const prefix = "dokkumcp-scratch-test-"

	// A process that has exited: its pid and start time no longer match a
	// running process.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run true: %v", err)
	}
	exitedPID := cmd.Process.Pid

	me, err := processID(os.Getpid())
	if err != nil {
		t.Fatalf("processID(self): %v", err)
	}
	folders := map[string]string{
		prefix + "exited":     fmtOwner(exitedPID, "1"),
		prefix + "reused-pid": fmtOwner(os.Getpid(), "1"), // same pid, other start time
		prefix + "alive":      me,
		prefix + "no-owner":   "",
		prefix + "garbled":    "not a record",
		"other-prefix-exited": fmtOwner(exitedPID, "1"),
	}
	for name, owner := range folders {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	Sweep(parent, prefix)

	want := map[string]bool{
		prefix + "exited":     false,
		prefix + "reused-pid": false,
		prefix + "alive":      true,
		prefix + "no-owner":   true,
		prefix + "garbled":    true,
		"other-prefix-exited": true,
	}
	for name, wantExists := range want {
		_, err := os.Stat(filepath.Join(parent, name))
		if exists := err == nil; exists != wantExists {
			t.Errorf("%s: exists = %v after the sweep, want %v", name, exists, wantExists)
		}
	}
}

func TestDirRecordsOwner(t *testing.T) {
	t.Parallel()
	dir, err := Dir("dokkumcp-scratch-dir-test-")
	if err != nil {
		t.Fatalf("Dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	recorded, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		t.Fatalf("read owner file: %v", err)
	}
	if !alive(string(recorded)) {
		t.Errorf("owner %q of a folder this process created counts as exited", recorded)
	}
	// A sweep by this live process keeps it.
	Sweep(filepath.Dir(dir), "dokkumcp-scratch-dir-test-")
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the sweep removed a live process's folder: %v", err)
	}
}

func fmtOwner(pid int, start string) string {
	return strconv.Itoa(pid) + " " + start
}
