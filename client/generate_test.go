package client_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/marketplane/marketplane/client/internal/clientgen"
)

// TestClientIsGenerated makes the document and the client again, as go
// generate would, into a temporary directory and compares them with the
// committed files, so that the client never drifts from the API: after a
// change of the API, run go generate ./client.
func TestClientIsGenerated(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to run oapi-codegen with")
	}
	dir := t.TempDir()
	doc, err := clientgen.Document(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	same(t, "openapi.json", doc)

	// The generator runs on the document just made, so that a stale
	// openapi.json cannot hide a stale client.
	docPath, codePath := filepath.Join(dir, "openapi.json"), filepath.Join(dir, "client.gen.go")
	if err := os.WriteFile(docPath, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", "oapi-codegen.yaml", "-o", codePath, docPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, out)
	}
	code, err := os.ReadFile(codePath)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "client.gen.go", code)
}

// same reports whether the committed file name holds want.
func same(t *testing.T, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("client/%s is not what the API and oapi-codegen make now: run go generate ./client", name)
	}
}
