package account

import (
	"context"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
)

func TestLoginDelay(t *testing.T) {
	pair, login := LoginLimits[ScopePair], LoginLimits[ScopeLogin]
	for _, c := range []struct {
		limit LoginLimit
		n     int
		want  time.Duration
	}{
		{pair, 0, 0}, {pair, 4, 0}, {pair, 5, time.Second}, {pair, 6, 2 * time.Second},
		{pair, 10, 32 * time.Second}, {pair, 14, 512 * time.Second}, {pair, 15, 15 * time.Minute}, {pair, 500, 15 * time.Minute},
		{login, 49, 0}, {login, 50, time.Second}, {login, 54, 16 * time.Second}, {login, 55, 30 * time.Second}, {login, 1e6, 30 * time.Second},
	} {
		if got := c.limit.Delay(c.n); got != c.want {
			t.Errorf("%+v.Delay(%d) = %v, want %v", c.limit, c.n, got, c.want)
		}
	}
}

func TestAdmitAndSettleLogin(t *testing.T) {
	now := time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)
	at := func(n int, ago time.Duration) LoginCounter { return LoginCounter{Failures: n, Last: now.Add(-ago)} }
	for _, c := range []struct {
		name string
		in   map[LoginScope]LoginCounter
		wait time.Duration
	}{
		{"nothing yet", nil, 0},
		{"pair at its free failures, just now", map[LoginScope]LoginCounter{ScopePair: at(5, 0)}, time.Second},
		{"pair waited enough", map[LoginScope]LoginCounter{ScopePair: at(5, time.Second)}, 0},
		{"the longest wait wins", map[LoginScope]LoginCounter{ScopePair: at(6, 0), ScopeAddress: at(22, time.Second)}, 3 * time.Second},
		{"forgotten after a day", map[LoginScope]LoginCounter{ScopePair: at(500, LoginForget)}, 0},
		// An attempt that read the clock, then waited for the counters'
		// lock while a later one counted a free failure, is not throttled.
		{"a free failure counted after this attempt's clock", map[LoginScope]LoginCounter{ScopePair: at(3, -time.Millisecond),
			ScopeAddress: at(3, -time.Millisecond), ScopeLogin: at(3, -time.Millisecond)}, 0},
	} {
		wait, next := AdmitLogin(c.in, now)
		if wait != c.wait {
			t.Errorf("%s: wait %v, want %v", c.name, wait, c.wait)
		}
		if wait > 0 {
			if next != nil {
				t.Errorf("%s: refused but counted", c.name)
			}
			continue
		}
		for _, s := range LoginScopes {
			want := c.in[s].current(now).Failures + 1
			if next[s].Failures != want || !next[s].Last.Equal(laterOf(now, c.in[s].Last)) {
				t.Errorf("%s: %s counter %+v, want %d failures now", c.name, s, next[s], want)
			}
		}
	}
	c := at(7, 0)
	for _, x := range []struct {
		s    LoginScope
		o    LoginOutcome
		want int
	}{
		{ScopePair, LoginFailed, 7}, {ScopePair, LoginSucceeded, 0}, {ScopeLogin, LoginSucceeded, 0},
		{ScopeAddress, LoginSucceeded, 6}, {ScopeAddress, LoginNotChecked, 6}, {ScopePair, LoginNotChecked, 6},
	} {
		if got := SettleLogin(x.s, c, x.o); got.Failures != x.want {
			t.Errorf("SettleLogin(%s, 7, %d) = %d failures, want %d", x.s, x.o, got.Failures, x.want)
		}
	}
}

// TestHashGate: a hash that finds no room within the gate's wait is refused
// with EUNAVAILABLE and a retry delay, without running.
func TestHashGate(t *testing.T) {
	g := NewHashGate(64, 20*time.Millisecond)
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- g.Run(context.Background(), 64, func() { close(holding); <-release })
	}()
	<-holding
	ran := false
	err := g.Run(context.Background(), 1, func() { ran = true })
	if after, ok := RetryAfter(err); marketplane.ErrorCode(err) != marketplane.EUNAVAILABLE || !ok || after <= 0 || ran {
		t.Errorf("full gate: %v (retry after %v, ran %v)", err, after, ran)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A hash dearer than the whole budget still runs, alone.
	if err := g.Run(context.Background(), 1<<20, func() { ran = true }); err != nil || !ran {
		t.Errorf("dear hash: %v, ran %v", err, ran)
	}
	if got := HashBudget(2); got != 64*1024 {
		t.Errorf("budget of 2 cores: %d KiB", got)
	}
	if got := HashBudget(16); got != 8*64*1024 {
		t.Errorf("budget of 16 cores: %d KiB", got)
	}
}
