package rabbitvhost

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
)

// These tests need no RabbitMQ: bad requests are refused before anything is
// recorded, and nothing here starts the worker.

func TestManifestIsValid(t *testing.T) {
	svc := open(t, testConfig(t))
	if err := svc.Manifest().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestCreateInvalid: each bad request is refused with the fields at fault,
// and no tenant is recorded.
func TestCreateInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		req    connector.CreateRequest
		fields []string
	}{
		{"no request id", connector.CreateRequest{}, []string{"request_id"}},
		{"request id with spaces", connector.CreateRequest{RequestID: "sub 1"}, []string{"request_id"}},
		{"limit below -1", connector.CreateRequest{RequestID: "r", Limits: map[string]int64{ResourceQueues: -2}}, []string{"limits.queues"}},
		{"unknown resource", connector.CreateRequest{RequestID: "r", Limits: map[string]int64{"exchanges": 5}}, []string{"limits.exchanges"}},
		{"a gauge as a limit", connector.CreateRequest{RequestID: "r", Limits: map[string]int64{ResourceMessagesReady: 5}}, []string{"limits.messages_ready"}},
		{"unknown queue type", connector.CreateRequest{RequestID: "r", Parameters: map[string]string{ParamQueueType: "lazy"}}, []string{"parameters.queue_type"}},
		{"shell in the description", connector.CreateRequest{RequestID: "r", Parameters: map[string]string{ParamDescription: "x $(reboot)"}}, []string{"parameters.description"}},
		{"quote in the description", connector.CreateRequest{RequestID: "r", Parameters: map[string]string{ParamDescription: `say "hi"`}}, []string{"parameters.description"}},
		{"option-like description", connector.CreateRequest{RequestID: "r", Parameters: map[string]string{ParamDescription: "--node x"}}, []string{"parameters.description"}},
		{"long description", connector.CreateRequest{RequestID: "r", Parameters: map[string]string{ParamDescription: strings.Repeat("a", 101)}}, []string{"parameters.description"}},
		{"unknown parameter", connector.CreateRequest{RequestID: "r", Parameters: map[string]string{"colour": "red"}}, []string{"parameters.colour"}},
		{"several at once", connector.CreateRequest{RequestID: "r",
			Limits:     map[string]int64{ResourceConnections: -5, ResourceQueues: 1},
			Parameters: map[string]string{ParamQueueType: "stream"}}, []string{"limits.connections", "parameters.queue_type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := open(t, testConfig(t))
			_, err := svc.Create(context.Background(), tc.req)
			checkInvalid(t, err, tc.fields)
			if n := countTenants(t, svc); n != 0 {
				t.Errorf("%d tenants recorded", n)
			}
		})
	}
}

// TestUpdateInvalid: bad limits, and parameters that are fixed at creation,
// are refused with the fields at fault and change nothing.
func TestUpdateInvalid(t *testing.T) {
	t.Parallel()
	svc := open(t, testConfig(t))
	ctx := context.Background()
	tn, err := svc.Create(ctx, connector.CreateRequest{RequestID: "r", SubscriptionID: 1,
		Limits:     map[string]int64{ResourceQueues: 4},
		Parameters: map[string]string{ParamQueueType: "quorum"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		req    connector.UpdateRequest
		fields []string
	}{
		{"limit below -1", connector.UpdateRequest{RequestID: "u", Limits: map[string]int64{ResourceConnections: -3}}, []string{"limits.connections"}},
		{"a gauge as a limit", connector.UpdateRequest{RequestID: "u", Limits: map[string]int64{ResourceMessagesReady: 1}}, []string{"limits.messages_ready"}},
		{"queue type changed", connector.UpdateRequest{RequestID: "u", Limits: map[string]int64{ResourceQueues: 9},
			Parameters: map[string]string{ParamQueueType: "classic"}}, []string{"parameters.queue_type"}},
		{"description added", connector.UpdateRequest{RequestID: "u", Parameters: map[string]string{ParamDescription: "new"}}, []string{"parameters.description"}},
	} {
		_, err := svc.Update(ctx, tn.ID, tc.req)
		checkInvalid(t, err, tc.fields)
	}
	got, err := svc.Get(ctx, tn.ID)
	if err != nil || !equalLimits(got.Limits, 10, 4) || !maps.Equal(got.Parameters, map[string]string{ParamQueueType: "quorum"}) {
		t.Errorf("after refused updates: %+v, %v", got, err)
	}
	// Repeating a fixed parameter unchanged is fine (the worker is not
	// running, so the change waits for it).
	got, err = svc.Update(ctx, tn.ID, connector.UpdateRequest{RequestID: "u2",
		Limits: map[string]int64{ResourceQueues: 6}, Parameters: map[string]string{ParamQueueType: "quorum"}})
	if err != nil || got.Status != connector.StatusProvisioning || !equalLimits(got.Limits, 10, 6) {
		t.Errorf("update during provisioning: %+v, %v", got, err)
	}
}

// TestRequestIDReused: a create request id sent again with a different
// request is a conflict, not the old tenant and not a new one.
func TestRequestIDReused(t *testing.T) {
	t.Parallel()
	svc := open(t, testConfig(t))
	ctx := context.Background()
	req := connector.CreateRequest{RequestID: "sub-1-create", SubscriptionID: 1, Limits: map[string]int64{ResourceQueues: 4}}
	if _, err := svc.Create(ctx, req); err != nil {
		t.Fatal(err)
	}
	req.Limits = map[string]int64{ResourceQueues: 5}
	_, err := svc.Create(ctx, req)
	if marketplane.ErrorCode(err) != marketplane.ECONFLICT {
		t.Errorf("reused request id: %v, want a conflict", err)
	}
	if n := countTenants(t, svc); n != 1 {
		t.Errorf("%d tenants, want 1", n)
	}
}

// TestNotFound: unknown and malformed tenant ids are not found in every
// call.
func TestNotFound(t *testing.T) {
	t.Parallel()
	svc := open(t, testConfig(t))
	ctx := context.Background()
	for _, id := range []string{"0123456789abcdef", "", "../etc", "0123456789ABCDEF", "mp-0123456789abcdef"} {
		calls := map[string]error{}
		_, calls["get"] = svc.Get(ctx, id)
		_, calls["update"] = svc.Update(ctx, id, connector.UpdateRequest{RequestID: "u"})
		_, calls["suspend"] = svc.Suspend(ctx, id)
		_, calls["resume"] = svc.Resume(ctx, id)
		_, calls["delete"] = svc.Delete(ctx, id)
		_, calls["usage"] = svc.Usage(ctx, id)
		for call, err := range calls {
			if !errors.Is(err, connector.ErrNotFound) {
				t.Errorf("%s(%q): %v, want not found", call, id, err)
			}
		}
	}
}

// TestBackoff: waits double from RetryBackoff up to a minute.
func TestBackoff(t *testing.T) {
	s := &Service{cfg: Config{RetryBackoff: 2 * time.Second}}
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, s.backoff(n))
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute, time.Minute}
	if !slices.Equal(got, want) {
		t.Errorf("backoff %v, want %v", got, want)
	}
}

func checkInvalid(t *testing.T, err error, fields []string) {
	t.Helper()
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
		t.Fatalf("error %v, want invalid with fields %v", err, fields)
	}
	got := slices.Sorted(maps.Keys(e.Fields))
	if !slices.Equal(got, fields) {
		t.Errorf("fields %v, want %v", e.Fields, fields)
	}
}

func countTenants(t *testing.T, svc *Service) int {
	t.Helper()
	var n int
	if err := svc.state.db.QueryRow(`SELECT count(*) FROM tenants`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
