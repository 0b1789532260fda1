package rabbitvhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/marketplane/marketplane/connector"
)

// TestCreate: Create answers "provisioning" at once, the platform's polling
// reaches "ready", the tenant user connects to its own virtual host with the
// attributes given and declares a queue, and the parameters reached RabbitMQ.
// Repeating the request id, during provisioning and after, gives the same
// tenant and one virtual host.
func TestCreate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	req := connector.CreateRequest{RequestID: "sub-1-create", SubscriptionID: 1, AccountID: 7,
		Limits:     map[string]int64{ResourceConnections: 5, ResourceQueues: 20},
		Parameters: map[string]string{ParamQueueType: "quorum", ParamDescription: "Orders of ACME (prod)"}}
	first := e.create(t, req)
	again, err := e.svc.Create(ctx, req)
	if err != nil || again.ID != first.ID {
		t.Fatalf("repeated create during provisioning: %+v, %v; want tenant %s", again, err, first.ID)
	}
	tn := waitStatus(t, e.svc, first.ID, connector.StatusReady)
	again, err = e.svc.Create(ctx, req)
	if err != nil || again.ID != first.ID || again.Status != connector.StatusReady {
		t.Fatalf("repeated create after provisioning: %+v, %v; want tenant %s ready", again, err, first.ID)
	}

	name := e.cfg.NamePrefix + tn.ID
	wantAttrs := map[string]string{"host": "127.0.0.1", "port": "5672", "vhost": name, "username": name}
	for k, v := range wantAttrs {
		if tn.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, tn.Attributes[k], v)
		}
	}
	if len(tn.Attributes["password"]) < 32 {
		t.Errorf("password %q is too short", tn.Attributes["password"])
	}
	if !equalLimits(tn.Limits, 5, 20) {
		t.Errorf("limits %v", tn.Limits)
	}
	if got := e.vhosts(t); !slices.Equal(got, []string{name}) {
		t.Errorf("vhosts %v, want just %s", got, name)
	}
	if got := e.users(t); !slices.Equal(got, []string{name}) {
		t.Errorf("users %v, want just %s", got, name)
	}

	// The virtual host as RabbitMQ has it.
	var vh []struct {
		Name, Description string
		QueueType         string `json:"default_queue_type"`
	}
	if err := e.ctl.list(ctx, &vh, "list_vhosts", "name", "description", "default_queue_type"); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(vh, func(v struct {
		Name, Description string
		QueueType         string `json:"default_queue_type"`
	}) bool {
		return v.Name == name
	})
	if i < 0 || vh[i].Description != "Orders of ACME (prod)" || vh[i].QueueType != "quorum" {
		t.Errorf("vhost in RabbitMQ: %+v", vh)
	}
	if got := vhostLimits(t, e, name); got != `{"max-connections":5,"max-queues":20}` {
		t.Errorf("vhost limits %s", got)
	}

	// The customer's view: connect with the attributes, declare, publish.
	conn := mustDial(t, tn)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("orders", true, false, false, false, nil)
	if err != nil {
		t.Fatalf("declare a queue in the tenant's vhost: %v", err)
	}
	if q.Name != "orders" {
		t.Errorf("queue %q", q.Name)
	}
	// The tenant user has no rights elsewhere, such as the default vhost.
	other := tn
	other.Attributes = map[string]string{"url": fmt.Sprintf("amqp://%s:%s@127.0.0.1:5672/", name, tn.Attributes["password"])}
	if c, err := dial(other); err == nil {
		c.Close()
		t.Error("the tenant user connected to the default vhost")
	}
}

// TestLimits: the queue limit refuses the queue after the limit and the
// connection limit refuses the connection after it; raising them with
// Update lets one more in, at once.
func TestLimits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	tn := e.ready(t, connector.CreateRequest{RequestID: "sub-2-create", SubscriptionID: 2,
		Limits: map[string]int64{ResourceConnections: 2, ResourceQueues: 3}})

	conn := mustDial(t, tn)
	for i := range 3 {
		if err := declare(conn, fmt.Sprintf("q%d", i)); err != nil {
			t.Fatalf("queue %d of 3: %v", i+1, err)
		}
	}
	err := declare(conn, "q3")
	if err == nil {
		t.Fatal("a 4th queue was declared with max-queues 3")
	}
	if amqpCode(err) != amqp.PreconditionFailed {
		t.Errorf("4th queue: %v, want 406 PRECONDITION_FAILED", err)
	}

	mustDial(t, tn) // the second connection
	eventually(t, "3rd connection refused with max-connections 2", func() error {
		c, err := dial(tn)
		if err == nil {
			c.Close()
			return fmt.Errorf("the 3rd connection was accepted")
		}
		// The client library reports every refused connection.open as
		// ErrVhost; the two accepted before, and the one accepted after
		// raising the limit below, show that the limit is the reason.
		if !errors.Is(err, amqp.ErrVhost) {
			t.Errorf("3rd connection: %v, want %v", err, amqp.ErrVhost)
		}
		return nil
	})

	got, err := e.svc.Update(ctx, tn.ID, connector.UpdateRequest{RequestID: "sub-2-change-1",
		Limits: map[string]int64{ResourceConnections: 3, ResourceQueues: 4}})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if got.Status != connector.StatusReady || !equalLimits(got.Limits, 3, 4) {
		t.Fatalf("after update: %+v", got)
	}
	if l := vhostLimits(t, e, e.cfg.NamePrefix+tn.ID); l != `{"max-connections":3,"max-queues":4}` {
		t.Errorf("vhost limits %s", l)
	}
	if err := declare(conn, "q3"); err != nil {
		t.Errorf("4th queue after raising the limit to 4: %v", err)
	}
	if err := declare(conn, "q4"); err == nil {
		t.Error("a 5th queue was declared with max-queues 4")
	}
	mustDial(t, tn)

	// Limits left out keep their value; the same update twice is the same.
	for range 2 {
		got, err = e.svc.Update(ctx, tn.ID, connector.UpdateRequest{RequestID: "sub-2-change-2",
			Limits: map[string]int64{ResourceQueues: connector.Unlimited}})
		if err != nil || !equalLimits(got.Limits, 3, connector.Unlimited) {
			t.Fatalf("update to unlimited queues: %+v, %v", got, err)
		}
	}
	if err := declare(conn, "q4"); err != nil {
		t.Errorf("5th queue with unlimited queues: %v", err)
	}
}

// TestUsage: the readings are the number of queues and the messages ready
// in them, as gauges.
func TestUsage(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	tn := e.create(t, connector.CreateRequest{RequestID: "sub-3-create", SubscriptionID: 3})
	if r, err := e.svc.Usage(ctx, tn.ID); err != nil || len(r) != 0 {
		t.Errorf("usage while provisioning: %v, %v; want none", r, err)
	}
	tn = waitStatus(t, e.svc, tn.ID, connector.StatusReady)
	if !equalLimits(tn.Limits, defaultLimits[ResourceConnections], defaultLimits[ResourceQueues]) {
		t.Errorf("default limits: %v", tn.Limits)
	}
	checkUsage(t, e, tn.ID, 0, 0)

	conn := mustDial(t, tn)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"a", "b"} {
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	// 3 messages to a, 1 to b: 4 ready in 2 queues.
	for _, q := range []string{"a", "a", "a", "b"} {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q, false, false, amqp.Publishing{Body: []byte("hello")})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(ctx); !ok || err != nil {
			t.Fatalf("publish to %s not confirmed: %v", q, err)
		}
	}
	checkUsage(t, e, tn.ID, 2, 4)
}

// TestSuspendResume: suspending closes the user's connections and refuses
// new ones while queues and messages stay; resuming lets the user back.
// Both are idempotent.
func TestSuspendResume(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	tn := e.ready(t, connector.CreateRequest{RequestID: "sub-4-create", SubscriptionID: 4})
	conn := mustDial(t, tn)
	if err := declare(conn, "kept"); err != nil {
		t.Fatal(err)
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))

	for range 2 {
		got, err := e.svc.Suspend(ctx, tn.ID)
		if err != nil || got.Status != connector.StatusSuspended {
			t.Fatalf("suspend: %+v, %v", got, err)
		}
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Error("the open connection was not closed by the suspension")
	}
	c, err := dial(tn)
	if err == nil {
		c.Close()
		t.Fatal("a suspended user connected")
	}
	if !errors.Is(err, amqp.ErrVhost) {
		t.Errorf("suspended user: %v, want %v", err, amqp.ErrVhost)
	}
	checkUsage(t, e, tn.ID, 1, 0) // still measured: the queues cost while suspended

	for range 2 {
		got, err := e.svc.Resume(ctx, tn.ID)
		if err != nil || got.Status != connector.StatusReady {
			t.Fatalf("resume: %+v, %v", got, err)
		}
	}
	conn = mustDial(t, tn)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclarePassive("kept", true, false, false, false, nil); err != nil {
		t.Errorf("the queue did not survive the suspension: %v", err)
	}
}

// TestSuspendDuringProvisioning: a suspension that arrives before the
// worker has finished is applied by it: the tenant ends suspended and its
// user never had access.
func TestSuspendDuringProvisioning(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	tn := e.create(t, connector.CreateRequest{RequestID: "sub-5-create", SubscriptionID: 5})
	got, err := e.svc.Suspend(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != connector.StatusProvisioning && got.Status != connector.StatusSuspended {
		t.Fatalf("suspend during provisioning: status %q", got.Status)
	}
	tn = waitStatus(t, e.svc, tn.ID, connector.StatusSuspended)
	if c, err := dial(tn); err == nil {
		c.Close()
		t.Fatal("a tenant suspended during provisioning could connect")
	}
	if _, err := e.svc.Resume(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	mustDial(t, tn)
}

// TestDelete: Delete answers "deleting", the worker removes the virtual host
// (queues and all) and the user, and the tenant stays "deleted": deleting,
// creating, suspending or updating it again changes nothing.
func TestDelete(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	req := connector.CreateRequest{RequestID: "sub-6-create", SubscriptionID: 6}
	tn := e.ready(t, req)
	conn := mustDial(t, tn)
	if err := declare(conn, "doomed"); err != nil {
		t.Fatal(err)
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))

	got, err := e.svc.Delete(ctx, tn.ID)
	if err != nil || got.Status != connector.StatusDeleting {
		t.Fatalf("delete: %+v, %v; want deleting", got, err)
	}
	got = waitStatus(t, e.svc, tn.ID, connector.StatusDeleted)
	if len(got.Attributes) != 0 {
		t.Errorf("a deleted tenant shows attributes %v", got.Attributes)
	}
	if v, u := e.vhosts(t), e.users(t); len(v) != 0 || len(u) != 0 {
		t.Errorf("after delete: vhosts %v, users %v", v, u)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Error("the open connection outlived its vhost")
	}
	if c, err := dial(tn); err == nil {
		c.Close()
		t.Error("connected to a deleted tenant")
	}

	for name, call := range map[string]func() (connector.Tenant, error){
		"delete":  func() (connector.Tenant, error) { return e.svc.Delete(ctx, tn.ID) },
		"create":  func() (connector.Tenant, error) { return e.svc.Create(ctx, req) },
		"suspend": func() (connector.Tenant, error) { return e.svc.Suspend(ctx, tn.ID) },
		"resume":  func() (connector.Tenant, error) { return e.svc.Resume(ctx, tn.ID) },
		"update": func() (connector.Tenant, error) {
			return e.svc.Update(ctx, tn.ID, connector.UpdateRequest{RequestID: "x", Limits: map[string]int64{ResourceQueues: 1}})
		},
	} {
		got, err := call()
		if err != nil || got.ID != tn.ID || got.Status != connector.StatusDeleted {
			t.Errorf("%s after delete: %+v, %v; want the deleted tenant", name, got, err)
		}
	}
	if r, err := e.svc.Usage(ctx, tn.ID); err != nil || len(r) != 0 {
		t.Errorf("usage of a deleted tenant: %v, %v", r, err)
	}
	// The worker touches RabbitMQ only for tenants the state file holds
	// pending, due now or after a backoff: with none, no wake-up can make
	// it act for the deleted tenant again.
	if due, err := e.svc.state.due(ctx, e.svc.cfg.Clock.Now().Add(24*time.Hour), 10); err != nil || len(due) != 0 {
		t.Errorf("work left for the worker after the repeats: %v, %v", due, err)
	}
	if v, u := e.vhosts(t), e.users(t); len(v) != 0 || len(u) != 0 {
		t.Errorf("after the repeats: vhosts %v, users %v", v, u)
	}
}

// TestCrash: the process dies after the request was recorded — before the
// worker ran, or after any step of its work — and a new process on the same
// state file finishes the tenant: one virtual host, one user, with the
// recorded password, and the steps done before the crash are not done again.
func TestCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		crashAfter string   // "" : the worker never ran
		notAgain   []string // steps the second process must not repeat
		again      []string // steps it must do
	}{
		{"", nil, []string{"add_vhost", "add_user", "set_vhost_limits", "set_permissions"}},
		{"add_vhost", []string{"add_vhost"}, []string{"add_user", "set_vhost_limits", "set_permissions"}},
		{"add_user", []string{"add_vhost", "add_user"}, []string{"change_password", "set_vhost_limits", "set_permissions"}},
		{"set_permissions", []string{"add_vhost", "add_user"}, []string{"change_password", "set_vhost_limits", "set_permissions"}},
	} {
		t.Run("after "+cmp(tc.crashAfter, "recording"), func(t *testing.T) {
			t.Parallel()
			needRabbitMQ(t)
			cfg := testConfig(t)
			ctl := &rabbitmqctl{path: "rabbitmqctl", timeout: 30 * time.Second}
			t.Cleanup(func() { sweep(t, ctl, cfg.NamePrefix) })
			e := &env{cfg: cfg, ctl: ctl}
			req := connector.CreateRequest{RequestID: "sub-8-create", SubscriptionID: 8,
				Limits: map[string]int64{ResourceConnections: 1, ResourceQueues: 1}}

			first := open(t, cfg)
			var before stepLog
			crashed := make(chan struct{})
			first.afterStep = func(ctx context.Context, _, step string) {
				before.add(step)
				if step == tc.crashAfter {
					// The process dies here: Close abandons the work.
					go func() { first.Close(); close(crashed) }()
					<-ctx.Done()
				}
			}
			if tc.crashAfter != "" {
				first.Start()
			}
			tn, err := first.Create(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if tc.crashAfter != "" {
				select {
				case <-crashed:
				case <-time.After(time.Minute):
					t.Fatalf("no crash after %s; steps: %v", tc.crashAfter, before.list())
				}
			} else {
				first.Close()
			}

			second := open(t, cfg)
			var after stepLog
			second.afterStep = func(_ context.Context, _, step string) { after.add(step) }
			second.Start()
			got := waitStatus(t, second, tn.ID, connector.StatusReady)
			for _, s := range tc.notAgain {
				if slices.Contains(after.list(), s) {
					t.Errorf("%s was done again: before %v, after %v", s, before.list(), after.list())
				}
			}
			for _, s := range tc.again {
				if !slices.Contains(after.list(), s) {
					t.Errorf("%s was not done: before %v, after %v", s, before.list(), after.list())
				}
			}
			name := cfg.NamePrefix + tn.ID
			if v, u := e.vhosts(t), e.users(t); !slices.Equal(v, []string{name}) || !slices.Equal(u, []string{name}) {
				t.Errorf("vhosts %v, users %v; want one of each", v, u)
			}
			if again, err := second.Create(context.Background(), req); err != nil || again.ID != tn.ID {
				t.Errorf("the request after the restart: %+v, %v", again, err)
			}
			conn := mustDial(t, got)
			if err := declare(conn, "one"); err != nil {
				t.Fatal(err)
			}
			if err := declare(conn, "two"); err == nil {
				t.Error("the queue limit was lost in the crash")
			}
		})
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestFailedThenRetried: when RabbitMQ cannot be driven, provisioning ends
// "failed" with the reason after MaxAttempts; repeating the create request
// (as staff retrying the order do) starts it again.
func TestFailedThenRetried(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	cfg := testConfig(t)
	ctl := &rabbitmqctl{path: "rabbitmqctl", timeout: 30 * time.Second}
	t.Cleanup(func() { sweep(t, ctl, cfg.NamePrefix) })
	broken := cfg
	broken.Rabbitmqctl = "/nonexistent/rabbitmqctl"
	svc := open(t, broken)
	svc.Start()
	req := connector.CreateRequest{RequestID: "sub-9-create", SubscriptionID: 9}
	tn, err := svc.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, svc, tn.ID, connector.StatusFailed)
	if want := "gave up after 3 attempts: rabbitmqctl list_vhosts"; len(got.Message) < len(want) || got.Message[:len(want)] != want {
		t.Errorf("message %q, want it to start with %q", got.Message, want)
	}
	svc.Close()

	fixed := open(t, cfg)
	fixed.Start()
	again, err := fixed.Create(context.Background(), req)
	if err != nil || again.ID != tn.ID || again.Status != connector.StatusProvisioning {
		t.Fatalf("retried create: %+v, %v; want tenant %s provisioning", again, err, tn.ID)
	}
	mustDial(t, waitStatus(t, fixed, tn.ID, connector.StatusReady))
}

// TestManyTenants: tenants provisioned side by side by the worker's
// goroutines each end ready with their own vhost.
func TestManyTenants(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var ids []string
	for i := range 6 {
		tn := e.create(t, connector.CreateRequest{RequestID: fmt.Sprintf("sub-%d-create", 100+i), SubscriptionID: int64(100 + i)})
		ids = append(ids, tn.ID)
	}
	for _, id := range ids {
		waitStatus(t, e.svc, id, connector.StatusReady)
	}
	if v := e.vhosts(t); len(v) != len(ids) {
		t.Errorf("vhosts %v, want %d", v, len(ids))
	}
}

func equalLimits(l map[string]int64, connections, queues int64) bool {
	return len(l) == 2 && l[ResourceConnections] == connections && l[ResourceQueues] == queues
}

// vhostLimits is the limit document RabbitMQ holds for the vhost.
func vhostLimits(t *testing.T, e *env, vhost string) string {
	t.Helper()
	out, err := e.ctl.run(context.Background(), "", "list_vhost_limits", "-p", vhost, "--formatter", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Value string }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	return v.Value
}

// checkUsage waits for the readings to say queues and ready (queue
// statistics trail by a moment).
func checkUsage(t *testing.T, e *env, id string, queues, ready int64) {
	t.Helper()
	eventually(t, "usage", func() error {
		r, err := e.svc.Usage(context.Background(), id)
		if err != nil {
			return err
		}
		want := []connector.UsageReading{{Resource: ResourceQueues, Value: connector.Units(queues)}, {Resource: ResourceMessagesReady, Value: connector.Units(ready)}}
		if len(r) != 2 {
			return fmt.Errorf("readings %+v", r)
		}
		for i := range r {
			if r[i].At.IsZero() || r[i].Additive {
				return fmt.Errorf("reading %+v: want a gauge with a time", r[i])
			}
			r[i].At = time.Time{}
		}
		if !slices.Equal(r, want) {
			return fmt.Errorf("readings %+v, want %+v", r, want)
		}
		return nil
	})
}

// TestDeleteDuringProvisioning: a delete that arrives while the worker is
// still creating the tenant wins: the tenant ends deleted and nothing of it
// is left in RabbitMQ.
func TestDeleteDuringProvisioning(t *testing.T) {
	t.Parallel()
	e := setupStopped(t)
	// The worker pauses once it has made the tenant's virtual host and user,
	// before its limits and permissions, until the delete is in.
	midway, deleted := make(chan struct{}, 1), make(chan struct{})
	e.svc.afterStep = func(ctx context.Context, _, step string) {
		if step != "add_user" {
			return
		}
		select {
		case midway <- struct{}{}:
		default:
		}
		select {
		case <-deleted:
		case <-ctx.Done():
		}
	}
	e.svc.Start()
	tn := e.create(t, connector.CreateRequest{RequestID: "sub-7-create", SubscriptionID: 7})
	select {
	case <-midway:
	case <-time.After(time.Minute):
		t.Fatal("the worker did not make the tenant's user in a minute")
	}
	if got, err := e.svc.Get(context.Background(), tn.ID); err != nil || got.Status != connector.StatusProvisioning {
		t.Fatalf("tenant while the worker is at it: %+v, %v; want provisioning", got, err)
	}
	got, err := e.svc.Delete(context.Background(), tn.ID)
	close(deleted)
	if err != nil || got.Status != connector.StatusDeleting {
		t.Fatalf("delete during provisioning: %+v, %v", got, err)
	}
	waitStatus(t, e.svc, tn.ID, connector.StatusDeleted)
	if v, u := e.vhosts(t), e.users(t); len(v) != 0 || len(u) != 0 {
		t.Errorf("after delete: vhosts %v, users %v", v, u)
	}
}
