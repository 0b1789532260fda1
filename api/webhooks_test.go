package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestWebhookPrivateAddresses: by default the API refuses endpoints on
// internal addresses, when made and when changed; an operator who allows
// them (development) may use them.
func TestWebhookPrivateAddresses(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		hooks := "/accounts/" + id(f.L1a.ID) + "/webhooks"
		local := map[string]any{"url": "http://127.0.0.1:9/hook", "event_types": []string{"order.completed"}}
		r := f.must(t, 400, "L1a", "POST", hooks, local)
		if p := r.Problem(t); len(p.Errors) != 1 || p.Errors[0].Location != "body.url" {
			t.Errorf("refusal %s", r.Body)
		}
		var e NewWebhookEndpoint
		f.must(t, 201, "L1a", "POST", hooks, map[string]any{"url": "https://hooks.example.com/x", "event_types": []string{"order.completed"}}).JSON(t, &e)
		f.must(t, 400, "L1a", "PATCH", "/webhooks/"+id(e.ID), map[string]any{"url": "http://[::1]/"})

		f.api = New(Config{DB: db, Version: "test", AllowPrivateWebhooks: true})
		mux := http.NewServeMux()
		mux.Handle(Prefix+"/", f.api.Handler())
		f.srv = httptest.NewServer(mux)
		t.Cleanup(f.srv.Close)
		f.must(t, 201, "L1a", "POST", hooks, local)
		var changed WebhookEndpoint
		f.must(t, 200, "L1a", "PATCH", "/webhooks/"+id(e.ID), map[string]any{"url": "http://[::1]/"}).JSON(t, &changed)
		if changed.URL != "http://[::1]/" || changed.Version != 2 {
			t.Errorf("changed %+v", changed)
		}
	})
}
