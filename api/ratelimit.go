package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/time/rate"

	"github.com/marketplane/marketplane/account"
)

// The rate limit of a principal (an API key or a panel user) the serve
// command sets; Config's zero value sets none (tests and benchmarks run
// unthrottled).
const (
	DefaultRateLimit = 50  // requests per second, sustained
	DefaultRateBurst = 100 // requests at once
)

// maxLimiters bounds the principals whose buckets are kept. Buckets idle
// long enough to have refilled are dropped first (a new bucket is full, so
// nothing is lost); beyond that, arbitrary ones are, which gives their
// principals a fresh budget rather than growing without bound.
const maxLimiters = 10_000

// rateLimiter keeps a token bucket per principal in process memory. With
// several serve processes behind a load balancer each keeps its own
// buckets, so a principal's budget is the limit times the processes it
// reaches.
type rateLimiter struct {
	limit rate.Limit
	burst int
	// refilled is how long an idle bucket takes to fill up again.
	refilled time.Duration
	now      func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	limiter *rate.Limiter
	used    time.Time
}

// newRateLimiter returns the limiter of perSecond requests with bursts of
// burst (0: DefaultRateBurst); perSecond 0 (or less) turns limiting off
// (nil).
func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = DefaultRateBurst
	}
	return &rateLimiter{
		limit:    rate.Limit(perSecond),
		burst:    burst,
		refilled: time.Duration(float64(burst) / perSecond * float64(time.Second)),
		now:      time.Now,
		buckets:  map[string]*bucket{},
	}
}

// wait takes a token of principal's bucket. It returns 0 when the request
// may go on, or else how long until it would be allowed.
func (l *rateLimiter) wait(principal string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[principal]
	if b == nil {
		l.sweep(now)
		b = &bucket{limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[principal] = b
	}
	b.used = now
	r := b.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		// Refused requests do not spend tokens: a client that retries
		// after Retry-After gets through.
		r.CancelAt(now)
		return d
	}
	return 0
}

// sweep drops idle buckets once the map is full or a minute has passed.
func (l *rateLimiter) sweep(now time.Time) {
	if len(l.buckets) < maxLimiters && now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for p, b := range l.buckets {
		if now.Sub(b.used) >= l.refilled {
			delete(l.buckets, p)
		}
	}
	for p := range l.buckets {
		if len(l.buckets) < maxLimiters {
			break
		}
		delete(l.buckets, p)
	}
}

// principal names who sends a request, for rate limits and idempotency
// keys: the API key, or the user of a panel session.
func principal(actor *account.Actor) string {
	if actor.KeyID != 0 {
		return "key:" + strconv.FormatInt(actor.KeyID, 10)
	}
	return "user:" + strconv.FormatInt(actor.UserID, 10)
}

// limitRate is the huma middleware that answers 429 with Retry-After (whole
// seconds, rounded up) to a principal over its rate. It runs after
// authenticateRequest: requests without credentials are refused there
// without spending anyone's budget.
func (a *API) limitRate(ctx huma.Context, next func(huma.Context)) {
	actor := actorFrom(ctx.Context())
	if a.limiter == nil || actor == nil {
		next(ctx)
		return
	}
	if d := a.limiter.wait(principal(actor)); d > 0 {
		ctx.SetHeader("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
		writeProblemTo(ctx, huma.NewError(http.StatusTooManyRequests, "rate limit exceeded; retry after the time in Retry-After"))
		return
	}
	next(ctx)
}

// documentRateLimit adds the 429 answer to an authenticated operation in
// the OpenAPI document, whether or not this server limits: the document is
// the same for every configuration (the openapi command sets none).
func documentRateLimit(o *huma.Operation, problem *huma.Response) {
	if len(o.Security) == 0 || problem == nil {
		return
	}
	if _, ok := o.Responses["429"]; ok {
		return
	}
	r := *problem
	r.Description = "Too Many Requests: the API key or user is over its rate limit."
	r.Headers = map[string]*huma.Param{"Retry-After": {
		Description: "Seconds to wait before the request would be allowed.",
		Schema:      &huma.Schema{Type: "integer", Minimum: ptr(1.0)},
	}}
	o.Responses["429"] = &r
}

func ptr[T any](v T) *T { return &v }
