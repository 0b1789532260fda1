//go:build ignore

// This program writes the API's OpenAPI document to openapi.json, the input
// of oapi-codegen (go generate ./client).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/marketplane/marketplane/client/internal/clientgen"
)

func main() {
	doc, err := clientgen.Document(context.Background())
	if err == nil {
		err = os.WriteFile("openapi.json", doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate openapi.json:", err)
		os.Exit(1)
	}
}
