package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBenchScratch: `bench accounts` without --db runs on a scratch
// database it removes, not on the database MARKETPLANE_DB names (the live
// one); --db with the default data/marketplane.db is refused before
// anything is written.
func TestBenchScratch(t *testing.T) {
	live := filepath.Join(t.TempDir(), "live.db")
	t.Setenv("MARKETPLANE_DB", live)
	ctx := context.Background()

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"bench", "accounts", "--scale", "300", "--password-hash-memory", "64"}, &stdout, &stderr); code != 0 {
		t.Fatalf("bench accounts: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(live); !os.IsNotExist(err) {
		t.Errorf("bench without --db touched the live database %s (%v)", live, err)
	}
	m := regexp.MustCompile(`on a scratch database \((\S+)\), removed at the end`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("bench does not say it runs on a scratch database:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Dir(m[1])); !os.IsNotExist(err) {
		t.Errorf("scratch database %s left behind (%v)", m[1], err)
	}
	if !strings.Contains(stdout.String(), `"bench":"accounts"`) {
		t.Errorf("no figures:\n%s", stdout.String())
	}

	// The default database, named on purpose, is refused.
	dir := t.TempDir()
	t.Chdir(dir)
	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"bench", "accounts", "--db", "data/marketplane.db"}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "live database of serve") {
		t.Errorf("bench --db data/marketplane.db: exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("refused bench created %s/data (%v)", dir, err)
	}
}
