package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestCatalogCommands runs `marketplane catalog` as a person would, step
// by step on one database: each step's output is what the next expects.
func TestCatalogCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "catalog.db")
	demoYAML, err := os.ReadFile("../../catalog/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	demoJSON, err := os.ReadFile("../../catalog/testdata/demo.json")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The demo with a new price and without the plan domain-registration.
	doc := strings.Replace(string(demoYAML),
		`recurring: {amount: "4.00", max_retail: "8.00", suggested_retail: "5.00"}`,
		`recurring: {amount: "5.00", max_retail: "8.00", suggested_retail: "5.00"}`, 1)
	doc = doc[:strings.Index(doc, "  - key: domain-registration\n")] + doc[strings.Index(doc, "  - key: office-basic\n"):]
	edited := write("edited.yaml", doc)
	jsonOut := filepath.Join(dir, "out.json")

	steps := []struct {
		name   string
		args   []string
		code   int
		want   []string // in stdout+stderr
		stdout string   // the whole of stdout, when set
	}{
		{name: "no action", args: []string{"catalog"}, code: 2, want: []string{"say export or import"}},
		{name: "unknown action", args: []string{"catalog", "frobnicate"}, code: 2, want: []string{`unknown action "frobnicate"`}},
		{name: "import without a file", args: []string{"catalog", "import", "--db", dbPath}, code: 2, want: []string{"give one FILE"}},
		{name: "bad format", args: []string{"catalog", "export", "--format", "xml", "--db", dbPath}, code: 2, want: []string{`"xml" is not yaml or json`}},
		{name: "export without a provider", args: []string{"catalog", "export", "--db", dbPath}, code: 1, want: []string{"no provider yet"}},
		{name: "export an empty catalog", args: []string{"catalog", "export", "--db", dbPath}, code: 0,
			stdout: "{version: 1, owner: Marketplane Demo Provider}\n"},
		{name: "unknown account", args: []string{"catalog", "export", "--account", "999", "--db", dbPath}, code: 1, want: []string{"not found"}},
		{name: "bad file path", args: []string{"catalog", "import", filepath.Join(dir, "nope.yaml"), "--db", dbPath}, code: 1,
			want: []string{"nope.yaml: no such file"}},
		{name: "bad YAML", args: []string{"catalog", "import", write("bad.yaml", "version: 1\nplans: [\n"), "--db", dbPath}, code: 1,
			want: []string{"bad.yaml: ", "invalid"}},
		{name: "unknown field", args: []string{"catalog", "import", write("typo.yaml", "version: 1\nplanz: []\n"), "--db", dbPath}, code: 1,
			want: []string{"typo.yaml: invalid catalog document", "planz"}},
		{name: "invalid document", args: []string{"catalog", "import", write("invalid.yaml",
			"version: 1\nresource_types:\n  - {key: disk, name: {en: Disk}, unit: GB, class: weird}\n"), "--db", dbPath}, code: 1,
			want: []string{"invalid.yaml: invalid catalog document\n  resource_types[disk].class: must be limit, counter, gauge or boolean"}},
		{name: "dry run", args: []string{"catalog", "import", "../../catalog/demo.yaml", "--dry-run", "--db", dbPath}, code: 0,
			want: []string{"Dry run", "nothing was changed", "+ resource_type mailbox", "+ plan office-basic", "35 to create, 0 to update, 0 to delete"}},
		{name: "the dry run changed nothing", args: []string{"catalog", "export", "--db", dbPath}, code: 0,
			stdout: "{version: 1, owner: Marketplane Demo Provider}\n"},
		{name: "import", args: []string{"catalog", "import", "../../catalog/demo.yaml", "--db", dbPath}, code: 0,
			want: []string{"Imported ../../catalog/demo.yaml into the catalog of Marketplane Demo Provider", "35 to create, 0 to update, 0 to delete"}},
		{name: "export", args: []string{"catalog", "export", "--db", dbPath}, code: 0, stdout: string(demoYAML)},
		{name: "export JSON to a file", args: []string{"catalog", "export", "--format", "json", "--out", jsonOut, "--db", dbPath}, code: 0,
			want: []string{"to " + jsonOut + ": 14 resource types, 4 templates, 3 plan categories, 6 sales categories, 8 plans."}},
		{name: "import again", args: []string{"catalog", "import", "../../catalog/demo.yaml", "--db", dbPath}, code: 0,
			want: []string{"No changes."}},
		{name: "import the JSON export", args: []string{"catalog", "import", jsonOut, "--db", dbPath}, code: 0,
			want: []string{"No changes."}},
		{name: "dry run of an edit", args: []string{"catalog", "import", edited, "--dry-run", "--db", dbPath}, code: 0,
			want: []string{"~ plan office-basic: periods[1m].recurring.amount 4.00 → 5.00", "0 to create, 1 to update, 0 to delete",
				"1 objects of the catalog are not in " + edited + " and are kept"}},
		{name: "import the edit", args: []string{"catalog", "import", edited, "--delete", "--db", dbPath}, code: 0,
			want: []string{"~ plan office-basic: periods[1m].recurring.amount 4.00 → 5.00", "- plan domain-registration",
				"0 to create, 1 to update, 1 to delete"}},
		{name: "import the edit again", args: []string{"catalog", "import", edited, "--delete", "--db", dbPath}, code: 0,
			want: []string{"No changes."}},
	}
	for i, s := range steps {
		if s.name == "export an empty catalog" {
			db := storetest.OpenURL(t, dbPath)
			p := &account.Account{Name: "Marketplane Demo Provider", Address: account.Address{Country: "US"},
				Locale: "en-US", Currency: "USD", TimeZone: "UTC"}
			if err := db.CreateProvider(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		var stdout, stderr bytes.Buffer
		code := run(ctx, s.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		ok := code == s.code && (s.stdout == "" || stdout.String() == s.stdout)
		for _, w := range s.want {
			ok = ok && strings.Contains(all, w)
		}
		if !ok {
			t.Fatalf("step %d, %s: exit %d, want %d; output:\n%.3000s", i, s.name, code, s.code, all)
		}
	}
	got, err := os.ReadFile(jsonOut)
	if err != nil || !bytes.Equal(got, demoJSON) {
		t.Errorf("the JSON export differs from catalog/testdata/demo.json (%v):\n%s", err, got)
	}
}
