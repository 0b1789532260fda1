// Package clientgen renders the API's OpenAPI 3.1 document as package client
// commits it (client/openapi.json), the input of oapi-codegen. Both the
// go:generate program (client/generate.go) and the test that keeps the
// committed client in step with the API call it.
//
// It lives apart from package client because it imports the server (api,
// store), which a program using the client must not carry.
package clientgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/marketplane/marketplane/api"
	"github.com/marketplane/marketplane/store"
)

// documentVersion is the version written into the committed document's
// info: a fixed one, so that the client does not change with every release
// of the server.
const documentVersion = "v1"

// Document renders the API's OpenAPI 3.1 document, indented so that a change
// of the API shows as a readable diff of client/openapi.json.
func Document(ctx context.Context) ([]byte, error) {
	// The routes need a store to be built, not to be described: an empty
	// SQLite database in a temporary directory, as `marketplane openapi`
	// uses.
	dir, err := os.MkdirTemp("", "marketplane-clientgen")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, filepath.Join(dir, "openapi.db"), store.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	b, err := api.New(api.Config{DB: db, Version: documentVersion}).OpenAPI().MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("render the OpenAPI document: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
