package api

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// wantOperations are the operations of this version of the API. A route
// added without updating this list fails the test, so that the list stays
// a readable inventory.
var wantOperations = []string{
	"get-my-account", "list-accounts", "create-account", "get-account", "update-account", "delete-account",
	"convert-account-to-reseller", "set-account-status", "move-account", "count-account-descendants",
	"list-account-users", "create-user", "get-user", "update-user", "set-user-roles", "set-user-password", "delete-user",
	"list-account-roles", "create-role", "get-role", "update-role", "delete-role", "list-privileges",
	"list-api-keys", "create-api-key", "get-api-key", "revoke-api-key",
	"list-audit-log",
	"list-tasks", "get-task", "retry-task", "cancel-task",
	"list-resource-types", "create-resource-type", "get-resource-type", "update-resource-type",
	"list-templates", "create-template", "get-template", "update-template",
	"list-plan-categories", "create-plan-category", "update-plan-category",
	"list-sales-categories", "create-sales-category", "update-sales-category", "display-sales-category",
	"get-delegation-terms", "set-delegation-terms",
	"list-account-plans", "create-plan", "get-plan", "update-plan", "patch-plan", "delete-plan", "list-plan-copies", "list-plan-changes",
	"delegate-plan", "preview-plan-sync", "sync-plan", "list-plan-sync-runs", "get-sync-run",
	"list-connectors", "register-connector", "get-connector", "refresh-connector",
	"quote-order", "place-order", "list-orders", "get-order", "retry-order", "cancel-order",
	"list-subscriptions", "get-subscription", "change-subscription", "quote-subscription-change", "cancel-subscription", "set-subscription-auto-renew",
	"suspend-subscription", "resume-subscription", "restore-subscription", "list-subscription-usage",
	"record-subscription-usage",
	"list-documents", "get-document", "get-document-pdf", "get-document-html",
	"record-payment", "top-up-account", "get-account-credit", "set-account-terms",
	"put-account-on-credit-hold", "release-account-credit-hold",
	"get-revenue-report", "get-margins-report", "get-aging-report",
	"list-webhooks", "create-webhook", "get-webhook", "update-webhook", "rotate-webhook-secret", "delete-webhook", "list-webhook-deliveries", "redeliver-webhook", "list-events",
	"list-offers", "get-offer", "list-offer-categories", "list-subscription-offers",
	"get-test-clock", "set-test-clock", "advance-test-clock",
}

func TestOpenAPIDocument(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		// The document is public: clients read it before they have a key.
		r := f.must(t, 200, "", "GET", "/openapi.json", nil)
		if ct := r.Header.Get("Content-Type"); ct != "application/openapi+json" {
			t.Errorf("content type %q", ct)
		}
		var doc struct {
			OpenAPI string `json:"openapi"`
			Info    struct {
				Title   string `json:"title"`
				Version string `json:"version"`
			} `json:"info"`
			Servers []struct {
				URL string `json:"url"`
			} `json:"servers"`
			Paths      map[string]map[string]json.RawMessage `json:"paths"`
			Components struct {
				SecuritySchemes map[string]struct {
					Type   string `json:"type"`
					Scheme string `json:"scheme"`
				} `json:"securitySchemes"`
			} `json:"components"`
		}
		r.JSON(t, &doc)
		if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
			t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
		}
		if doc.Info.Title != "Marketplane API" || doc.Info.Version != "test" {
			t.Errorf("info %+v", doc.Info)
		}
		if len(doc.Servers) != 1 || doc.Servers[0].URL != Prefix {
			t.Errorf("servers %+v", doc.Servers)
		}
		if s := doc.Components.SecuritySchemes[bearerScheme]; s.Type != "http" || s.Scheme != "bearer" {
			t.Errorf("bearer scheme %+v", s)
		}

		var registered []string
		pathParam := regexp.MustCompile(`\{(\w+)\}`)
		for _, o := range f.api.operations {
			registered = append(registered, o.OperationID)
			raw, ok := doc.Paths[o.Path][strings.ToLower(o.Method)]
			if !ok {
				t.Errorf("%s %s (%s) is not in the document", o.Method, o.Path, o.OperationID)
				continue
			}
			var got struct {
				OperationID string                     `json:"operationId"`
				Tags        []string                   `json:"tags"`
				Security    []map[string][]string      `json:"security"`
				Responses   map[string]json.RawMessage `json:"responses"`
				Parameters  []struct {
					Name string `json:"name"`
					In   string `json:"in"`
				} `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if got.OperationID != o.OperationID || len(got.Tags) != 1 {
				t.Errorf("%s %s: operationId %q, tags %v", o.Method, o.Path, got.OperationID, got.Tags)
			}
			if len(got.Security) != 1 || got.Security[0][bearerScheme] == nil {
				t.Errorf("%s: security %v", o.OperationID, got.Security)
			}
			for _, status := range []string{"400", "401", "403", "404", "500"} {
				if got.Responses[status] == nil {
					t.Errorf("%s: no %s response", o.OperationID, status)
				}
			}
			if got.Responses["422"] != nil {
				t.Errorf("%s documents 422; schema failures are 400", o.OperationID)
			}
			for _, m := range pathParam.FindAllStringSubmatch(o.Path, -1) {
				if !slices.ContainsFunc(got.Parameters, func(p struct {
					Name string `json:"name"`
					In   string `json:"in"`
				}) bool {
					return p.Name == m[1] && p.In == "path"
				}) {
					t.Errorf("%s: path parameter %s is not documented", o.OperationID, m[1])
				}
			}
		}
		slices.Sort(registered)
		want := slices.Clone(wantOperations)
		slices.Sort(want)
		if !slices.Equal(registered, want) {
			t.Errorf("registered operations\n%v\nwant\n%v", registered, want)
		}
	})
}
