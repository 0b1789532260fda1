package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/web"
)

func init() {
	benchmarks["login"] = benchmark{
		about: "SCALE wrong passwords for one login at once from one address through the panels' real " +
			"handler over loopback HTTP, at the database's password hash cost (--password-hash-memory), " +
			"then the owner's right password from another address; answers as shares of SCALE " +
			"(unauthorized_ratio, throttled_ratio, unavailable_ratio), owner_sign_in_ms, peak_rss_mb",
		defaultScale: 200,
		minScale:     1,
		run:          runLogin,
	}
}

// loginOwnerDeadline is how long the owner may take to get in, retrying
// after each Retry-After, before the benchmark fails.
const loginOwnerDeadline = time.Minute

// runLogin is the sign-in attack of issue #11 measured: a new user (made
// with the database's hash costs, so the default is argon2id at 64 MiB),
// SCALE parallel POST /login with a wrong password from 127.0.0.1, then the
// right one from 127.0.0.2. peak_rss_mb (read by Run) is this process's
// high-water mark, server and clients together.
func runLogin(ctx context.Context, r *runner) error {
	setup := time.Now()
	prov, err := ensureProvider(ctx, r.db)
	if err != nil {
		return err
	}
	admin, err := r.db.RoleByKey(ctx, account.RoleAdmin)
	if err != nil {
		return err
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	login := "bench-login-" + hex.EncodeToString(suffix)
	password := "the owner's password " + login
	u := &account.User{AccountID: prov.ID, Login: login, RoleIDs: []int64{admin.ID}}
	if err := r.db.CreateUser(ctx, account.SystemActor(), u, password); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	w, err := web.New(web.Config{DB: r.db, Version: "bench"})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(w)
	defer srv.Close()
	r.set("setup_s", time.Since(setup).Seconds())
	if rss, err := currentRSSMB(); err == nil {
		r.set("rss_before_mb", rss)
	}

	attacker := loopbackClient("127.0.0.1")
	var mu sync.Mutex
	answers := map[int]int{}
	var firstErr error
	start := time.Now()
	var wg sync.WaitGroup
	for range r.scale {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, err := postLogin(ctx, attacker, srv.URL, login, "a wrong guess")
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			answers[status]++
		}()
	}
	wg.Wait()
	r.set("attack_s", time.Since(start).Seconds())
	if firstErr != nil {
		return fmt.Errorf("attack: %w", firstErr)
	}
	n := float64(r.scale)
	r.set("unauthorized_ratio", float64(answers[http.StatusUnauthorized])/n)
	r.set("throttled_ratio", float64(answers[http.StatusTooManyRequests])/n)
	r.set("unavailable_ratio", float64(answers[http.StatusServiceUnavailable])/n)
	if other := r.scale - answers[401] - answers[429] - answers[503]; other > 0 {
		return fmt.Errorf("attack: %d answers other than 401, 429 and 503: %v", other, answers)
	}
	r.log.Info("attack", "answers", answers)

	owner := loopbackClient("127.0.0.2")
	start = time.Now()
	for {
		status, after, err := postLogin(ctx, owner, srv.URL, login, password)
		if err != nil {
			return fmt.Errorf("owner: %w", err)
		}
		if status == http.StatusSeeOther {
			break
		}
		if after <= 0 || time.Since(start)+after > loginOwnerDeadline {
			return fmt.Errorf("owner from another address: %d (Retry-After %v)", status, after)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(after):
		}
	}
	r.set("owner_sign_in_ms", ms(time.Since(start)))
	return nil
}

// loopbackClient is an HTTP client whose connections come from the loopback
// address local, so that the server sees a client of that address.
func loopbackClient(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 256},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       2 * time.Minute,
	}
}

// postLogin posts the sign-in form and returns the status and Retry-After.
func postLogin(ctx context.Context, c *http.Client, base, login, password string) (int, time.Duration, error) {
	form := url.Values{"login": {login}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	resp.Body.Close()
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, time.Duration(secs) * time.Second, nil
}

// currentRSSMB reads the resident set size of this process (VmRSS) from
// /proc/self/status, in MiB.
func currentRSSMB() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			// parseVmHWM reads the same "N kB" form.
			return parseVmHWM(strings.NewReader("VmHWM:" + rest))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}
