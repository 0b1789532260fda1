package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sync/semaphore"

	"github.com/marketplane/marketplane"
)

// HashParams are the argon2id costs. Production uses DefaultHashParams;
// tests lower them to keep the suite fast.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultHashParams follow the RFC 9106 second recommendation (64 MiB, t=3).
var DefaultHashParams = HashParams{Memory: 64 * 1024, Time: 3, Threads: 2}

// HashPassword returns an argon2id hash in the PHC string form
// "$argon2id$v=19$m=65536,t=3,p=2$salt$hash", which carries its own costs so
// they can change without invalidating stored hashes. It waits for room in
// the process's hash budget (see HashGate) and fails with EUNAVAILABLE when
// none comes in time.
func HashPassword(pw string, p HashParams) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	var key []byte
	if err := Hashes.Run(context.Background(), p.Memory, func() {
		key = argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, 32)
	}); err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword is CheckPassword inside the process's hash budget: it
// waits for room (at most Hashes.Wait, or until ctx ends) and returns an
// EUNAVAILABLE *RetryLater when none comes, without computing anything.
// Servers call this one; CheckPassword is the bare computation.
func VerifyPassword(ctx context.Context, hash, pw string) (bool, error) {
	p, ok := hashParamsOf(hash)
	if !ok {
		return false, nil
	}
	var match bool
	err := Hashes.Run(ctx, p.Memory, func() { match = CheckPassword(hash, pw) })
	return match, err
}

// CheckPassword reports whether pw matches the stored hash. A malformed hash
// never matches.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	p, ok := hashParamsOf(hash)
	if !ok {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// hashParamsOf reads the costs of a PHC argon2id hash; false when the hash
// is malformed.
func hashParamsOf(hash string) (HashParams, bool) {
	var p HashParams
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, false
	}
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return p, false
	}
	return p, true
}

// HashGate bounds the memory that password hashes hold at once in one
// process. Each argon2id computation holds its whole memory cost (64 MiB
// by default) until it ends, so without a bound N parallel sign-ins hold
// N × 64 MiB: 40 wrong passwords in parallel took a server from 232 MB to
// 2.6 GB. A hash takes its memory cost from the budget (capped at the
// whole budget, so an expensive hash still runs, alone) and waits, first
// come first served, at most Wait; a request that finds no room in time
// is refused with EUNAVAILABLE and a retry delay rather than queueing
// without end.
//
// After a large hash (8 MiB or more) the gate runs the garbage collector
// before giving its room back: the hash's buffer is garbage at once, and
// left to the pacer the heap may grow to twice its live size before it is
// collected, so the next hash would take fresh pages instead of reusing
// those. Measured with 64 MiB hashes one at a time, 20 in a row: a peak
// of 194 MB without the collection, 69 MB with it, for about the same
// throughput (argon2id with p=2 keeps two cores busy on its own).
type HashGate struct {
	// Budget is the memory, in KiB, that hashes may hold at once.
	Budget uint32
	// Wait is how long a hash waits for room before it is refused.
	Wait time.Duration
	sem  *semaphore.Weighted
}

// NewHashGate returns a gate of budget KiB whose hashes wait at most wait.
func NewHashGate(budget uint32, wait time.Duration) *HashGate {
	budget = max(budget, 1)
	return &HashGate{Budget: budget, Wait: wait, sem: semaphore.NewWeighted(int64(budget))}
}

// HashBudget is the default budget of a process with procs usable cores:
// room for one default-cost hash per DefaultHashParams.Threads cores,
// at least one. argon2id runs Threads lanes in parallel, so more hashes
// than that at once only take memory and add no throughput (on two cores:
// one 64 MiB hash at a time).
func HashBudget(procs int) uint32 {
	n := max(1, procs/int(max(DefaultHashParams.Threads, 1)))
	return uint32(n) * DefaultHashParams.Memory
}

// DefaultHashWait is how long a hash waits for room by default: a few
// default-cost hashes' time, so that a burst of honest sign-ins gets
// through, while a flood is refused early.
const DefaultHashWait = 3 * time.Second

// Hashes is the process's gate, used by HashPassword and VerifyPassword.
var Hashes = NewHashGate(HashBudget(runtime.GOMAXPROCS(0)), DefaultHashWait)

// gcAfterKiB is the hash size from which the gate collects garbage after
// the hash (see HashGate).
const gcAfterKiB = 8 * 1024

// Run runs fn, a hash of memory KiB, when the budget has room for it.
func (g *HashGate) Run(ctx context.Context, memory uint32, fn func()) error {
	w := int64(min(max(memory, 1), g.Budget))
	wctx, cancel := context.WithTimeout(ctx, g.Wait)
	defer cancel()
	if err := g.sem.Acquire(wctx, w); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &RetryLater{After: time.Second, Err: marketplane.Errorf(marketplane.EUNAVAILABLE,
			"too many sign-ins at once; try again in a moment")}
	}
	defer g.sem.Release(w)
	fn()
	if memory >= gcAfterKiB {
		runtime.GC()
	}
	return nil
}

// RetryLater is a refusal that says when to try again: a throttled sign-in
// (ETHROTTLED) or a full hash budget (EUNAVAILABLE). Transports send After
// as Retry-After.
type RetryLater struct {
	After time.Duration
	Err   *marketplane.Error
}

// Error implements error.
func (e *RetryLater) Error() string { return e.Err.Error() }

// Unwrap gives the coded error, so marketplane.ErrorCode sees its code.
func (e *RetryLater) Unwrap() error { return e.Err }

// RetryAfter returns the delay of the first *RetryLater in err's chain,
// false when there is none.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RetryLater
	if errors.As(err, &r) {
		return r.After, true
	}
	return 0, false
}
