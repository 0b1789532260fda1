package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/store/storetest"
)

// The browser tests drive Debian's chromium (MARKETPLANE_TEST_BROWSER is
// its path) through chromedp: one browser for the test binary, a tab per
// test. Outside CI they skip when no browser is set; in CI (CI=true) that
// is a failure, not a skip.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// tab opens a new tab of the shared browser for t and returns it with the
// address of srv under a host name of the tab's own. Cookies are kept per
// host, not per port: tabs of parallel tests reaching their servers all
// as 127.0.0.1 would overwrite each other's session cookies. Chromium
// resolves every *.localhost name to the loopback address itself.
func tab(t *testing.T, srv *httptest.Server) (context.Context, string) {
	t.Helper()
	path := os.Getenv("MARKETPLANE_TEST_BROWSER")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("MARKETPLANE_TEST_BROWSER is not set: CI must run the browser tests")
		}
		t.Skip("set MARKETPLANE_TEST_BROWSER to a chromium binary to run the browser tests")
	}
	browser.once.Do(func() {
		dir, err := os.MkdirTemp("", "marketplane-chromium-")
		if err != nil {
			panic(err)
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.Flag("headless", true),
			chromedp.Flag("no-sandbox", true),
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("no-first-run", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(dir),
			chromedp.WindowSize(1280, 800),
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Run(bctx); err != nil {
			panic(fmt.Sprintf("start chromium: %v", err))
		}
		browser.ctx = bctx
		browser.cancel = func() { bcancel(); acancel(); os.RemoveAll(dir) }
	})
	ctx, cancel := chromedp.NewContext(browser.ctx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx, strings.Replace(srv.URL, "127.0.0.1", fmt.Sprintf("tab%d.localhost", tabs.Add(1)), 1)
}

var tabs atomic.Int64

// browserSignIn signs in through the sign-in form.
func browserSignIn(t *testing.T, ctx context.Context, base, login string) {
	t.Helper()
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`#login`, chromedp.ByID),
		chromedp.SendKeys(`#login`, login, chromedp.ByID),
		chromedp.SendKeys(`#password`, customerPassword, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.WaitVisible(`#account-name`, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", login, err)
	}
}

func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	var s string
	if err := chromedp.Run(ctx, chromedp.Text(`body`, &s, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBrowserCustomerPanel(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		c := f.addCustomer(t, "Browser Customer", "en", true, 2, nil)
		other := f.addCustomer(t, "Someone Else", "en", true, 1, nil)
		ctx, base := tab(t, f.srv)
		browserSignIn(t, ctx, base, c.login)

		// Home lists the customer's subscriptions.
		for _, id := range c.subs {
			if err := chromedp.Run(ctx, chromedp.WaitVisible(fmt.Sprintf(`#subscription-%d`, id), chromedp.ByID)); err != nil {
				t.Fatalf("subscription %d on Home: %v", id, err)
			}
		}
		// A subscription opens from Home.
		err := chromedp.Run(ctx,
			chromedp.Click(fmt.Sprintf(`#subscription-%d a`, c.subs[0]), chromedp.ByQuery),
			chromedp.WaitVisible(`#subscription`, chromedp.ByID))
		if err != nil {
			t.Fatalf("open a subscription from Home: %v", err)
		}
		// Another customer's subscription by URL is the 404 page.
		err = chromedp.Run(ctx,
			chromedp.Navigate(fmt.Sprintf("%s/subscriptions/%d", base, other.subs[0])),
			chromedp.WaitVisible(`#not-found`, chromedp.ByID))
		if err != nil {
			t.Fatalf("another customer's subscription: %v", err)
		}

		// A forged form on another site posting to the panel is refused,
		// and the session survives it.
		evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(rw, `<form id="f" method="post" action="%s/logout"></form><script>document.getElementById("f").submit()</script>`, base)
		}))
		defer evil.Close()
		evilURL := strings.Replace(evil.URL, "127.0.0.1", "elsewhere.localhost", 1)
		var loc string
		err = chromedp.Run(ctx,
			chromedp.Navigate(evilURL),
			chromedp.WaitReady(`body`, chromedp.ByQuery),
			chromedp.Poll(fmt.Sprintf(`location.host === %q && document.readyState === "complete"`, strings.TrimPrefix(base, "http://")), nil),
			chromedp.Location(&loc))
		if err != nil {
			t.Fatalf("forged post: %v", err)
		}
		if text := bodyText(t, ctx); !strings.HasSuffix(loc, "/logout") || !strings.Contains(strings.ToLower(text), "cross-origin") {
			t.Fatalf("the forged post was not refused: at %s, %q", loc, text)
		}
		if err := chromedp.Run(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#account-name`, chromedp.ByID)); err != nil {
			t.Fatalf("the forged post signed the customer out: %v", err)
		}
	})
}

func TestBrowserLanguagesAndPrices(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		f := setup(t, e)
		de := f.addCustomer(t, "Kundin", "de-DE", true, 1, nil)
		ar := f.addCustomer(t, "Arab Customer", "ar", true, 1, nil)
		en := f.addCustomer(t, "Plain Customer", "en", true, 1, nil)
		clerk := f.addCustomer(t, "No Prices", "en", false, 1, []int64{12_500_000})

		ctx, base := tab(t, f.srv)
		browserSignIn(t, ctx, base, de.login)
		if text := bodyText(t, ctx); !strings.Contains(text, "Abonnement") || strings.Contains(text, "Vertrag") {
			t.Errorf("German Home: %q", text)
		}

		// The brand starts the bar: left in English, right in Arabic.
		brandX := func(login string) (x, width float64) {
			ctx, base := tab(t, f.srv)
			browserSignIn(t, ctx, base, login)
			var rect map[string]float64
			if err := chromedp.Run(ctx,
				chromedp.Evaluate(`(() => { const r = document.querySelector(".brand").getBoundingClientRect(); return {x: r.x, w: window.innerWidth, navx: document.getElementById("nav").getBoundingClientRect().x}; })()`, &rect)); err != nil {
				t.Fatal(err)
			}
			return rect["x"], rect["w"]
		}
		if x, w := brandX(en.login); x > w/2 {
			t.Errorf("English: the brand is at x=%v of %v", x, w)
		}
		if x, w := brandX(ar.login); x < w/2 {
			t.Errorf("Arabic: the brand is at x=%v of %v, not mirrored to the right", x, w)
		}

		ctx, base = tab(t, f.srv)
		browserSignIn(t, ctx, base, clerk.login)
		text := bodyText(t, ctx)
		if !strings.Contains(text, "waiting for payment") {
			t.Fatalf("the clerk's Home: %q", text)
		}
		if strings.Contains(text, "12.50") || strings.Contains(text, "12,50") {
			t.Errorf("a user without show prices sees an amount: %q", text)
		}
	})
}
