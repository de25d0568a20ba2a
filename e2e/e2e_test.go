// Package e2e tests Keel as people and operators meet it: the real
// binary as a process, and the pages in a headless Chromium.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// keelBin is the keel binary built once for this package's tests.
var keelBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "keel-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { _ = os.RemoveAll(dir) }()

		keelBin = filepath.Join(dir, "keel")
		build := exec.Command("go", "build", "-o", keelBin, "..")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build keel:", err)
			return 1
		}
		return m.Run()
	}())
}
