package web_test

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/demo"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
	"github.com/marketplane/marketplane/web"
)

// screenshots is where TestScreenshots writes the panels' pictures:
//
//	MARKETPLANE_TEST_BROWSER=/usr/bin/chromium go test ./web -run TestScreenshots -screenshots ../docs/screenshots
var screenshots = flag.String("screenshots", "", "write desktop and phone screenshots of the panels into this directory")

// TestScreenshots renders Home, a subscription and the 404 page of the
// demo's first customer, in English and Arabic, at desktop (1280×800) and
// phone (390×844) sizes. It only runs when asked with -screenshots.
func TestScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("pass -screenshots DIR to write the panels' screenshots")
	}
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite)
	sum, err := demo.Load(ctx, db, nil)
	if err != nil || sum.Try == nil {
		t.Fatalf("demo: %v", err)
	}
	try := sum.Try
	sys := account.SystemActor()
	o, err := db.PlaceOrder(ctx, sys, store.OrderRequest{CustomerID: try.Customer.ID, PlanID: try.Plan.ID, Period: try.Period,
		Resources: try.Resources, ConfirmZero: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompleteOrder(ctx, o.ID, store.TenantInfo{Status: "ready"}); err != nil {
		t.Fatal(err)
	}
	subID := o.SubscriptionID
	if _, err := db.RecordUsage(ctx, subID, []store.UsageReading{{Resource: "mailbox", Value: 2}}); err != nil {
		t.Fatalf("usage: %v", err)
	}
	admin, _ := db.RoleByKey(ctx, account.RoleAdmin)
	for _, lang := range []string{"en", "ar"} {
		u := &account.User{AccountID: try.Customer.ID, Login: "screens-" + lang + "@example.com", Locale: lang, RoleIDs: []int64{admin.ID}}
		if err := db.CreateUser(ctx, sys, u, customerPassword); err != nil {
			t.Fatal(err)
		}
	}
	w, err := web.New(web.Config{DB: db, Version: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	defer srv.Close()
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	sizes := []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}}
	pages := []struct{ name, path, wait string }{
		{"home", "/", "#account-name"},
		{"subscription", fmt.Sprintf("/subscriptions/%d", subID), "#subscription"},
		{"404", "/no/such/page", "#not-found"},
		{"billing", "/billing", "#standing"},
		{"users", "/users", "#api-keys"},
	}
	for _, lang := range []string{"en", "ar"} {
		ctx, base := tab(t, srv)
		browserSignIn(t, ctx, base, "screens-"+lang+"@example.com")
		for _, size := range sizes {
			opts := []chromedp.EmulateViewportOption{}
			if size.mobile {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
			}
			for _, p := range pages {
				var png []byte
				err := chromedp.Run(ctx,
					chromedp.EmulateViewport(size.width, size.height, opts...),
					chromedp.Navigate(base+p.path),
					chromedp.WaitVisible(p.wait, chromedp.ByQuery),
					chromedp.CaptureScreenshot(&png))
				if err != nil {
					t.Fatalf("%s %s %s: %v", lang, size.name, p.name, err)
				}
				name := filepath.Join(*screenshots, fmt.Sprintf("%s-%s-%s.png", p.name, lang, size.name))
				if err := os.WriteFile(name, png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
