package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/order"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// TestBrowserWizardOrderCompletesAtDemoConnector: on a server running the
// demo and its connectors, the demo's first customer buys Office Basic
// through the panel's purchase wizard in headless Chromium
// (MARKETPLANE_TEST_BROWSER), and the order completes at the demo office
// connector: Home shows the subscription active.
func TestBrowserWizardOrderCompletesAtDemoConnector(t *testing.T) {
	t.Parallel()
	path := os.Getenv("MARKETPLANE_TEST_BROWSER")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("MARKETPLANE_TEST_BROWSER is not set: CI must run the browser tests")
		}
		t.Skip("set MARKETPLANE_TEST_BROWSER to a chromium binary to run the browser tests")
	}
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		c := testConfig(storetest.URL(t, e))
		c.Demo = true
		m, _ := start(t, c)
		ctx := context.Background()
		sys := account.SystemActor()
		u, err := m.DB.Login(ctx, "customer-1", "demo-customer-1-pw", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		cust, err := m.DB.Account(ctx, sys, u.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := m.DB.PlanByKey(ctx, sys, cust.ParentID, "office-basic")
		if err != nil {
			t.Fatal(err)
		}

		// The profile is removed by hand, errors ignored: Chromium's last
		// helper processes may still write into it for a moment after
		// the allocator is cancelled, which t.TempDir would report as a
		// failed test.
		profile, err := os.MkdirTemp("", "marketplane-chromium-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(profile) })
		actx, acancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(path), chromedp.Flag("headless", true),
			chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true), chromedp.Flag("no-first-run", true),
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 800))
		defer acancel()
		bctx, bcancel := chromedp.NewContext(actx)
		defer bcancel()
		bctx, cancel := context.WithTimeout(bctx, 60*time.Second)
		defer cancel()
		base := m.URL()
		err = chromedp.Run(bctx,
			chromedp.Navigate(base+"/login"),
			chromedp.WaitVisible(`#login`, chromedp.ByID),
			chromedp.SendKeys(`#login`, "customer-1", chromedp.ByID),
			chromedp.SendKeys(`#password`, "demo-customer-1-pw", chromedp.ByID),
			chromedp.Submit(`#password`, chromedp.ByID),
			chromedp.WaitVisible(`#account-name`, chromedp.ByID),
			chromedp.Click(`#nav-marketplace`, chromedp.ByID),
			chromedp.WaitVisible(fmt.Sprintf(`#plan-%d`, plan.ID), chromedp.ByID),
			chromedp.Click(fmt.Sprintf(`#plan-%d a.button`, plan.ID), chromedp.ByQuery),
			chromedp.WaitVisible(`#total`, chromedp.ByID),
			chromedp.Click(`#place`, chromedp.ByID),
			chromedp.WaitVisible(`#account-name`, chromedp.ByID))
		if err != nil {
			t.Fatalf("buy through the wizard: %v", err)
		}
		orders, err := m.DB.Orders(ctx, sys, store.OrderFilter{CustomerID: cust.ID, Limit: 10})
		if err != nil || len(orders) != 1 {
			t.Fatalf("orders: %v %+v", err, orders)
		}
		o := orders[0]
		// The order completes when the demo connector reports the service
		// ready; Home then shows the subscription active.
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := m.DB.Order(ctx, sys, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status == order.StatusCompleted {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %d is still %s (%s)", o.ID, got.Status, got.Message)
			}
			time.Sleep(100 * time.Millisecond)
		}
		var class string
		err = chromedp.Run(bctx,
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(fmt.Sprintf(`#subscription-%d`, o.SubscriptionID), chromedp.ByID),
			chromedp.AttributeValue(fmt.Sprintf(`#subscription-%d .status`, o.SubscriptionID), "class", &class, nil, chromedp.ByQuery))
		if err != nil {
			t.Fatalf("Home after the order: %v", err)
		}
		if !strings.Contains(class, "status-active") {
			t.Errorf("the subscription on Home is %q, want active", class)
		}
	})
}
