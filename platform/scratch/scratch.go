// Package scratch creates temporary folders for the throwaway servers that
// tests and `make run` start (PostgreSQL, Vault), and removes the folders
// that a killed process left behind.
//
// A killed process cannot clean up after itself: the servers die with it
// (they run with a parent-death signal), but their folders stay. Each folder
// therefore names its owner process in a file; the next Dir call with the
// same prefix removes the folders whose owner has exited.
package scratch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ownerFile names the process that created a folder: its pid and its start
// time from /proc, so that a reused pid is not mistaken for the owner.
const ownerFile = ".dokkumcp-owner"

// Dir creates a folder in the system's temporary directory whose name starts
// with prefix, records this process as its owner, and first removes the
// folders with the same prefix whose owner process has exited.
func Dir(prefix string) (string, error) {
	Sweep(os.TempDir(), prefix)
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	owner, err := processID(os.Getpid())
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o600)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("record the owner of %s: %w", dir, err)
	}
	return dir, nil
}

// Sweep removes the folders in parent whose name starts with prefix, that
// this user owns, and whose owner file names a process that has exited. It
// leaves folders without an owner file alone, and reports nothing: a folder
// it cannot remove is left for the next sweep.
func Sweep(parent, prefix string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, entry := range entries {
		if !entry.IsDir() || !strings.HasPrefix(entry.Name(), prefix) {
			continue
		}
		dir := filepath.Join(parent, entry.Name())
		info, err := os.Lstat(filepath.Join(dir, ownerFile))
		if err != nil || !info.Mode().IsRegular() || !ownedByMe(info) {
			continue
		}
		recorded, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil || alive(string(recorded)) {
			continue
		}
		os.RemoveAll(dir)
	}
}

func ownedByMe(info os.FileInfo) bool {
	stat, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(stat.Uid) == os.Getuid()
}

// alive reports whether the process an owner file names still runs. An
// unreadable record counts as alive, so that nothing is removed by mistake.
func alive(recorded string) bool {
	pidText, _, ok := strings.Cut(recorded, " ")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 {
		return true
	}
	current, err := processID(pid)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	return err != nil || current == recorded
}

// processID returns "<pid> <start time>" for a running process, with the
// start time in clock ticks since boot (field 22 of /proc/<pid>/stat).
func processID(pid int) (string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name in parentheses may hold spaces; the fields after it
	// do not.
	end := strings.LastIndexByte(string(stat), ')')
	if end < 0 {
		return "", fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return "", fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return fmt.Sprintf("%d %s", pid, fields[19]), nil
}
