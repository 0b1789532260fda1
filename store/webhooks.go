package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/subscription"
	"github.com/marketplane/marketplane/webhook"
)

// Webhooks are integration settings like API keys, so they go with the
// API-key privilege: whoever may make a key may make an endpoint, and
// whoever may see the keys may see the endpoints, their deliveries and the
// events sent to them.
var (
	viewWebhooks   = account.ViewAPIKeys
	manageWebhooks = account.ManageAPIKeys
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Event is something that happened to an account, as sent to endpoints.
type Event struct {
	ID        int64
	AccountID int64
	Type      string
	Payload   json.RawMessage
	CreatedAt time.Time
}

// Body is the JSON an endpoint receives: the event with its data.
func (e *Event) Body() ([]byte, error) {
	return json.Marshal(struct {
		ID        int64           `json:"id"`
		Type      string          `json:"type"`
		AccountID int64           `json:"account_id"`
		CreatedAt time.Time       `json:"created_at"`
		Data      json.RawMessage `json:"data"`
	}{e.ID, e.Type, e.AccountID, e.CreatedAt, e.Payload})
}

// WebhookDelivery is one delivery of an event to an endpoint.
type WebhookDelivery struct {
	ID           int64
	EndpointID   int64
	EventID      int64
	EventType    string
	Status       string
	Attempts     int
	ResponseCode int
	ResponseBody string
	Error        string
	NextAt       time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// QueuedDelivery is what OnEvent needs to queue a delivery's task: the
// delivery and the endpoint's account, whose task list shows it.
type QueuedDelivery struct {
	ID          int64
	AccountID   int64
	AccountPath string
}

// DeliveryJob is what a delivery attempt sends, and where.
type DeliveryJob struct {
	Delivery WebhookDelivery
	URL      string
	// Secrets sign the delivery: the endpoint's secret, then its previous
	// one while that is valid (see webhook.Endpoint.Secrets).
	Secrets []string
	Event   Event
}

const endpointColumns = `w.id, w.account_id, w.url, w.secret, w.event_types, w.active, w.created_at,
	w.previous_secret, w.previous_expires_at, w.version, w.updated_at`

func scanEndpoint(r scanner, extra ...any) (*webhook.Endpoint, error) {
	e := &webhook.Endpoint{}
	var types string
	if err := r.Scan(append([]any{&e.ID, &e.AccountID, &e.URL, &e.Secret, &types, &e.Active, ts(&e.CreatedAt),
		&e.PreviousSecret, ts(&e.PreviousExpiresAt), &e.Version, ts(&e.UpdatedAt)}, extra...)...); err != nil {
		return nil, err
	}
	return e, jsonUnmarshal(types, &e.EventTypes)
}

// hideSecrets clears what a read shows of an endpoint's secrets: nothing
// but when its previous secret stops working, while it works.
func (db *DB) hideSecrets(e *webhook.Endpoint) {
	if len(e.Secrets(db.Clock.Now())) < 2 {
		e.PreviousExpiresAt = time.Time{}
	}
	e.Secret, e.PreviousSecret = "", ""
}

// CreateWebhookEndpoint makes endpoint e of account e.AccountID with a new
// secret (e.Secret, shown once). Errors: ENOTFOUND, EFORBIDDEN, EINVALID.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, actor *account.Actor, e *webhook.Endpoint) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.authorize(ctx, tx, actor, manageWebhooks, e.AccountID)
		if err != nil {
			return err
		}
		types, err := json.Marshal(e.EventTypes)
		if err != nil {
			return err
		}
		e.Secret, e.Active, e.CreatedAt, e.Version = newWebhookSecret(), true, db.stamp(), 1
		e.UpdatedAt = e.CreatedAt
		err = tx.QueryRowContext(ctx, `INSERT INTO webhook_endpoints (account_id, url, secret, event_types, active, created_at, version, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, 1, $6) RETURNING id`, e.AccountID, e.URL, e.Secret, string(types), true, tv(e.CreatedAt)).Scan(&e.ID)
		if err != nil {
			return fmt.Errorf("insert webhook endpoint: %w", err)
		}
		return db.audit(ctx, tx, actor, e.AccountID, t.Path, "webhook.create", "webhook_endpoint", e.ID,
			map[string]any{"url": e.URL, "event_types": e.EventTypes})
	})
}

// WebhookEndpoints lists the endpoints of account id, oldest first,
// without their secrets.
func (db *DB) WebhookEndpoints(ctx context.Context, actor *account.Actor, id int64) ([]*webhook.Endpoint, error) {
	if _, err := db.authorize(ctx, db.Read, actor, viewWebhooks, id); err != nil {
		return nil, err
	}
	rows, err := queryAll(ctx, db.Read, func(s scanner) (*webhook.Endpoint, error) { return scanEndpoint(s) },
		`SELECT `+endpointColumns+` FROM webhook_endpoints w WHERE w.account_id = $1 ORDER BY w.id`, id)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints: %w", err)
	}
	for _, e := range rows {
		db.hideSecrets(e)
	}
	return rows, nil
}

// webhookEndpoint loads endpoint id and checks act on its account; another
// account's endpoint is not found, like a missing one.
// lock, when given, is the row lock of a change (db.lockRows).
func (db *DB) webhookEndpoint(ctx context.Context, q querier, actor *account.Actor, act account.Action, id int64, lock ...string) (*webhook.Endpoint, string, error) {
	e, err := scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints w WHERE w.id = $1`+strings.Join(lock, ""), id))
	if err != nil {
		return nil, "", notFound(err, "webhook endpoint")
	}
	t, err := db.authorize(ctx, q, actor, act, e.AccountID)
	if err != nil {
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			return nil, "", marketplane.Errorf(marketplane.ENOTFOUND, "webhook endpoint not found")
		}
		return nil, "", err
	}
	return e, t.Path, nil
}

// WebhookEndpoint returns endpoint id without its secret.
func (db *DB) WebhookEndpoint(ctx context.Context, actor *account.Actor, id int64) (*webhook.Endpoint, error) {
	e, _, err := db.webhookEndpoint(ctx, db.Read, actor, viewWebhooks, id)
	if err != nil {
		return nil, err
	}
	db.hideSecrets(e)
	return e, nil
}

// newWebhookSecret is a new signing secret.
func newWebhookSecret() string { return "whsec_" + randomToken(24) }

// WebhookChange is a change of an endpoint: the fields set change, the
// others stay.
type WebhookChange struct {
	URL        *string
	EventTypes []string
	Active     *bool
	// Version, when not 0, is the version the change was based on: another
	// makes the change fail with EPRECONDITION.
	Version int64
}

// UpdateWebhookEndpoint changes endpoint id and returns it, without its
// secrets. Errors: ENOTFOUND, EFORBIDDEN, EINVALID, EPRECONDITION.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, actor *account.Actor, id int64, c WebhookChange) (*webhook.Endpoint, error) {
	var e *webhook.Endpoint
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var path string
		var err error
		e, path, err = db.webhookEndpoint(ctx, tx, actor, manageWebhooks, id, db.lockRows("w"))
		if err != nil {
			return err
		}
		if c.Version != 0 && c.Version != e.Version {
			return marketplane.Errorf(marketplane.EPRECONDITION,
				"webhook endpoint %d was changed by someone else (version %d, not %d); read it again", id, e.Version, c.Version)
		}
		changed := map[string]any{}
		if c.URL != nil && *c.URL != e.URL {
			e.URL, changed["url"] = *c.URL, []string{e.URL, *c.URL}
		}
		if c.EventTypes != nil && !slices.Equal(c.EventTypes, e.EventTypes) {
			e.EventTypes, changed["event_types"] = c.EventTypes, [][]string{e.EventTypes, c.EventTypes}
		}
		if c.Active != nil && *c.Active != e.Active {
			e.Active, changed["active"] = *c.Active, []bool{e.Active, *c.Active}
		}
		if err := e.Validate(); err != nil {
			return err
		}
		if len(changed) == 0 {
			return nil
		}
		types, err := json.Marshal(e.EventTypes)
		if err != nil {
			return err
		}
		e.Version, e.UpdatedAt = e.Version+1, db.stamp()
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $1, event_types = $2, active = $3, version = $4, updated_at = $5
			WHERE id = $6`, e.URL, string(types), e.Active, e.Version, tv(e.UpdatedAt), id); err != nil {
			return fmt.Errorf("update webhook endpoint %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, e.AccountID, path, "webhook.update", "webhook_endpoint", id, changed)
	})
	if err != nil {
		return nil, err
	}
	db.hideSecrets(e)
	return e, nil
}

// MaxSecretOverlap is the longest a previous secret may stay valid after
// a rotation.
const MaxSecretOverlap = 7 * 24 * time.Hour

// RotateWebhookSecret gives endpoint id a new secret and keeps its current
// one signing deliveries beside it for keep (0: not at all; at most
// MaxSecretOverlap). A secret kept from an earlier rotation is dropped:
// only one previous secret is valid at a time. It returns the endpoint
// with its new secret, shown once. Errors: ENOTFOUND, EFORBIDDEN,
// EINVALID (keep out of range).
func (db *DB) RotateWebhookSecret(ctx context.Context, actor *account.Actor, id int64, keep time.Duration) (*webhook.Endpoint, error) {
	if keep < 0 || keep > MaxSecretOverlap {
		var f marketplane.FieldErrors
		f.Add("expire_previous_in_hours", fmt.Sprintf("must be between 0 and %d", int(MaxSecretOverlap.Hours())))
		return nil, f.Err("secret rotation")
	}
	var e *webhook.Endpoint
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var path string
		var err error
		e, path, err = db.webhookEndpoint(ctx, tx, actor, manageWebhooks, id, db.lockRows("w"))
		if err != nil {
			return err
		}
		now := db.stamp()
		e.PreviousSecret, e.PreviousExpiresAt = e.Secret, now.Add(keep)
		if keep == 0 {
			e.PreviousSecret, e.PreviousExpiresAt = "", time.Time{}
		}
		e.Secret, e.Version, e.UpdatedAt = newWebhookSecret(), e.Version+1, now
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET secret = $1, previous_secret = $2, previous_expires_at = $3,
			version = $4, updated_at = $5 WHERE id = $6`,
			e.Secret, e.PreviousSecret, tv(e.PreviousExpiresAt), e.Version, tv(now), id); err != nil {
			return fmt.Errorf("rotate the secret of webhook endpoint %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, e.AccountID, path, "webhook.rotate_secret", "webhook_endpoint", id,
			map[string]any{"previous_expires_at": tv(e.PreviousExpiresAt)})
	})
	if err != nil {
		return nil, err
	}
	e.PreviousSecret = ""
	return e, nil
}

// DeleteWebhookEndpoint deletes endpoint id with its delivery log; its
// pending deliveries are dropped (their tasks find nothing to do).
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, actor *account.Actor, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		e, path, err := db.webhookEndpoint(ctx, tx, actor, manageWebhooks, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete webhook endpoint %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, e.AccountID, path, "webhook.delete", "webhook_endpoint", id, map[string]any{"url": e.URL})
	})
}

const deliveryColumns = `d.id, d.endpoint_id, d.event_id, ev.type, d.status, d.attempts, d.response_code, d.response_body,
	d.error, d.next_at, d.created_at, d.updated_at`

func scanDelivery(r scanner, extra ...any) (*WebhookDelivery, error) {
	d := &WebhookDelivery{}
	err := r.Scan(append([]any{&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &d.Attempts, &d.ResponseCode,
		&d.ResponseBody, &d.Error, ts(&d.NextAt), ts(&d.CreatedAt), ts(&d.UpdatedAt)}, extra...)...)
	return d, err
}

// WebhookDeliveries lists the deliveries of endpoint id, newest first,
// those with ids below afterID (a cursor; 0 for the first page).
func (db *DB) WebhookDeliveries(ctx context.Context, actor *account.Actor, id, afterID int64, limit int) ([]*WebhookDelivery, error) {
	if _, _, err := db.webhookEndpoint(ctx, db.Read, actor, viewWebhooks, id); err != nil {
		return nil, err
	}
	q := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries d JOIN events ev ON ev.id = d.event_id WHERE d.endpoint_id = $1`
	args := []any{id}
	if afterID != 0 {
		args = append(args, afterID)
		q += ` AND d.id < $2`
	}
	args = append(args, clampLimit(limit))
	q += fmt.Sprintf(` ORDER BY d.id DESC LIMIT $%d`, len(args))
	rows, err := queryAll(ctx, db.Read, func(s scanner) (*WebhookDelivery, error) { return scanDelivery(s) }, q, args...)
	if err != nil {
		return nil, fmt.Errorf("webhook deliveries: %w", err)
	}
	return rows, nil
}

// Redeliver sends the event of delivery id to its endpoint again, as a new
// delivery (the log keeps the old one as it ended). Errors: ENOTFOUND,
// EFORBIDDEN, ECONFLICT (the endpoint is not active).
func (db *DB) Redeliver(ctx context.Context, actor *account.Actor, id int64) (*WebhookDelivery, error) {
	var d *WebhookDelivery
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var endpointID int64
		err := tx.QueryRowContext(ctx, `SELECT endpoint_id FROM webhook_deliveries WHERE id = $1`, id).Scan(&endpointID)
		if err != nil {
			return notFound(err, "webhook delivery")
		}
		e, path, err := db.webhookEndpoint(ctx, tx, actor, manageWebhooks, endpointID)
		if err != nil {
			if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
				return marketplane.Errorf(marketplane.ENOTFOUND, "webhook delivery not found")
			}
			return err
		}
		if !e.Active {
			return marketplane.Errorf(marketplane.ECONFLICT, "webhook endpoint %d is not active", e.ID)
		}
		now := db.stamp()
		var newID int64
		err = tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, next_at, created_at, updated_at)
			SELECT endpoint_id, event_id, $2, $2, $2 FROM webhook_deliveries WHERE id = $1 RETURNING id`, id, tv(now)).Scan(&newID)
		if err != nil {
			return fmt.Errorf("redeliver %d: %w", id, err)
		}
		if db.OnEvent != nil {
			if err := db.OnEvent(ctx, tx, []QueuedDelivery{{ID: newID, AccountID: e.AccountID, AccountPath: path}}); err != nil {
				return fmt.Errorf("queue webhook delivery %d: %w", newID, err)
			}
		}
		if err := db.audit(ctx, tx, actor, e.AccountID, path, "webhook.redeliver", "webhook_delivery", newID,
			map[string]any{"of": id}); err != nil {
			return err
		}
		d, err = scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryColumns+`
			FROM webhook_deliveries d JOIN events ev ON ev.id = d.event_id WHERE d.id = $1`, newID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// EventFilter selects events.
type EventFilter struct {
	AccountID int64 // the account whose subtree's events to list; 0 = the actor's own
	Type      string
	AfterID   int64 // cursor: events with a smaller id (newest first)
	Limit     int
}

// Events lists the events recorded about an account and its subtree,
// newest first. Events are recorded when some endpoint is to receive them.
func (db *DB) Events(ctx context.Context, actor *account.Actor, f EventFilter) ([]*Event, error) {
	acctID := f.AccountID
	if acctID == 0 {
		acctID = actor.AccountID
	}
	t, err := db.authorize(ctx, db.Read, actor, viewWebhooks, acctID)
	if err != nil {
		return nil, err
	}
	q := `SELECT id, account_id, type, payload, created_at FROM events WHERE account_path >= $1 AND account_path < $2`
	args := []any{t.Path, account.SubtreeEnd(t.Path)}
	if f.Type != "" {
		args = append(args, f.Type)
		q += fmt.Sprintf(" AND type = $%d", len(args))
	}
	if f.AfterID != 0 {
		args = append(args, f.AfterID)
		q += fmt.Sprintf(" AND id < $%d", len(args))
	}
	args = append(args, clampLimit(f.Limit))
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := queryAll(ctx, db.Read, scanEvent, q, args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return rows, nil
}

func scanEvent(s scanner) (*Event, error) {
	e := &Event{}
	var payload string
	err := s.Scan(&e.ID, &e.AccountID, &e.Type, &payload, ts(&e.CreatedAt))
	e.Payload = json.RawMessage(payload)
	return e, err
}

// WebhookDeliveryJob returns what delivery id sends and where (system use:
// the delivery task). Errors: ENOTFOUND (the delivery or its endpoint was
// deleted).
func (db *DB) WebhookDeliveryJob(ctx context.Context, id int64) (*DeliveryJob, error) {
	j := &DeliveryJob{}
	var e webhook.Endpoint
	d, err := scanDelivery(db.Read.QueryRowContext(ctx, `SELECT `+deliveryColumns+`, w.url, w.secret, w.previous_secret, w.previous_expires_at,
		ev.account_id, ev.payload, ev.created_at
		FROM webhook_deliveries d JOIN events ev ON ev.id = d.event_id JOIN webhook_endpoints w ON w.id = d.endpoint_id
		WHERE d.id = $1`, id), &j.URL, &e.Secret, &e.PreviousSecret, ts(&e.PreviousExpiresAt),
		&j.Event.AccountID, (*rawText)(&j.Event.Payload), ts(&j.Event.CreatedAt))
	if err != nil {
		return nil, notFound(err, "webhook delivery")
	}
	j.Delivery, j.Secrets = *d, e.Secrets(db.Clock.Now())
	j.Event.ID, j.Event.Type = d.EventID, d.EventType
	return j, nil
}

// rawText scans a JSON text column into a json.RawMessage.
type rawText json.RawMessage

// Scan implements sql.Scanner.
func (r *rawText) Scan(v any) error {
	switch x := v.(type) {
	case string:
		*r = rawText(x)
	case []byte:
		*r = rawText(slices.Clone(x))
	default:
		return fmt.Errorf("json text: cannot scan %T", v)
	}
	return nil
}

// RecordWebhookAttempt records attempt of delivery id and what it got:
// succeeded on a 2xx, failed when last and not, otherwise pending with
// the next attempt due at next. A finished delivery is left as it is, so
// that a task run twice does not undo its result.
func (db *DB) RecordWebhookAttempt(ctx context.Context, id int64, attempt int, res webhook.Result, last bool, next time.Time) error {
	status := DeliveryPending
	switch {
	case res.OK():
		status, next = DeliverySucceeded, time.Time{}
	case last:
		status, next = DeliveryFailed, time.Time{}
	}
	var errText string
	if res.Err != nil {
		errText = res.Err.Error()
	}
	_, err := db.Write.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $1, attempts = $2, response_code = $3,
		response_body = $4, error = $5, next_at = $6, updated_at = $7 WHERE id = $8 AND status = 'pending'`,
		status, attempt, res.Code, res.Excerpt, errText, tv(next), tv(db.stamp()), id)
	if err != nil {
		return fmt.Errorf("record webhook delivery %d: %w", id, err)
	}
	return nil
}

// emission is an event to emit: about which account (path: its path, ""
// to look it up), of what type, with what data.
type emission struct {
	accountID int64
	path      string
	typ       string
	payload   any
}

// emit records an event about account accountID (path: its path, or ""
// to look it up) in tx, with a delivery to every active endpoint of the
// account or an account above it that subscribes to typ, and queues each
// delivery (OnEvent). With no endpoint to receive it, nothing is recorded.
func (db *DB) emit(ctx context.Context, tx *sql.Tx, accountID int64, path, typ string, payload any) error {
	return db.emitAll(ctx, tx, []emission{{accountID: accountID, path: path, typ: typ, payload: payload}})
}

// emitAll is emit for many events at once (the billing run's invoices):
// with no active endpoint anywhere it costs one probe of a small index,
// and otherwise two queries before the events' own inserts.
func (db *DB) emitAll(ctx context.Context, tx *sql.Tx, evs []emission) error {
	if len(evs) == 0 {
		return nil
	}
	var active int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM webhook_endpoints WHERE active LIMIT 1) x`).Scan(&active); err != nil {
		return fmt.Errorf("webhook endpoints: %w", err)
	}
	if active == 0 {
		return nil
	}
	var unknown []int64
	for _, ev := range evs {
		if ev.path == "" {
			unknown = append(unknown, ev.accountID)
		}
	}
	paths := map[int64]string{}
	if len(unknown) > 0 {
		type idPath struct {
			id   int64
			path string
		}
		rows, err := queryAll(ctx, tx, func(s scanner) (idPath, error) {
			var x idPath
			return x, s.Scan(&x.id, &x.path)
		}, `SELECT id, path FROM accounts WHERE `+db.anyID("id", 1), db.idsArg(sortedIDs(unknown)))
		if err != nil {
			return fmt.Errorf("accounts of events: %w", err)
		}
		for _, x := range rows {
			paths[x.id] = x.path
		}
	}
	var ancestors []int64
	seen := map[int64]bool{}
	for i := range evs {
		if evs[i].path == "" {
			evs[i].path = paths[evs[i].accountID]
		}
		for _, id := range account.IDs(evs[i].path) {
			if !seen[id] {
				seen[id] = true
				ancestors = append(ancestors, id)
			}
		}
	}
	type target struct {
		e    *webhook.Endpoint
		path string
	}
	endpoints, err := queryAll(ctx, tx, func(s scanner) (target, error) {
		var t target
		var err error
		t.e, err = scanEndpoint(s, &t.path)
		return t, err
	}, `SELECT `+endpointColumns+`, a.path FROM webhook_endpoints w JOIN accounts a ON a.id = w.account_id
		WHERE w.active AND `+db.anyID("w.account_id", 1)+` ORDER BY w.id`, db.idsArg(sortedIDs(ancestors)))
	if err != nil {
		return fmt.Errorf("webhook endpoints: %w", err)
	}
	// The events and their deliveries are inserted many rows a statement:
	// the billing run emits a batch's events at once.
	now := db.stamp()
	var eventRows [][]any
	var receivers [][]target
	for _, ev := range evs {
		above := account.IDs(ev.path)
		var to []target
		for _, t := range endpoints {
			if t.e.Wants(ev.typ) && slices.Contains(above, t.e.AccountID) {
				to = append(to, t)
			}
		}
		if len(to) == 0 {
			continue
		}
		payload, err := json.Marshal(ev.payload)
		if err != nil {
			return fmt.Errorf("event %s: %w", ev.typ, err)
		}
		eventRows = append(eventRows, []any{ev.accountID, ev.path, ev.typ, string(payload), tv(now)})
		receivers = append(receivers, to)
	}
	eventIDs, err := insertReturningIDs(ctx, tx, "events", []string{"account_id", "account_path", "type", "payload", "created_at"}, eventRows)
	if err != nil {
		return err
	}
	var deliveryRows [][]any
	var deliveredTo []target
	for i, to := range receivers {
		for _, t := range to {
			deliveryRows = append(deliveryRows, []any{t.e.ID, eventIDs[i], tv(now), tv(now), tv(now)})
			deliveredTo = append(deliveredTo, t)
		}
	}
	deliveryIDs, err := insertReturningIDs(ctx, tx, "webhook_deliveries",
		[]string{"endpoint_id", "event_id", "next_at", "created_at", "updated_at"}, deliveryRows)
	if err != nil {
		return err
	}
	if db.OnEvent != nil && len(deliveryIDs) > 0 {
		queued := make([]QueuedDelivery, len(deliveryIDs))
		for i, id := range deliveryIDs {
			t := deliveredTo[i]
			queued[i] = QueuedDelivery{ID: id, AccountID: t.e.AccountID, AccountPath: t.path}
		}
		if err := db.OnEvent(ctx, tx, queued); err != nil {
			return fmt.Errorf("queue %d webhook deliveries: %w", len(queued), err)
		}
	}
	return nil
}

// emitRowsPerInsert bounds the rows of one multi-row insert of emitAll,
// well within both engines' limits on parameters.
const emitRowsPerInsert = 500

// insertReturningIDs inserts rows into table, many a statement, and
// returns their ids in the order of rows. Both engines number the rows of
// one INSERT ... VALUES in the order of its values (SQLite's single
// writer, PostgreSQL's sequence taken row by row), and RETURNING's order
// is not promised, so each statement's ids are sorted.
func insertReturningIDs(ctx context.Context, tx *sql.Tx, table string, columns []string, rows [][]any) ([]int64, error) {
	ids := make([]int64, 0, len(rows))
	for start := 0; start < len(rows); start += emitRowsPerInsert {
		chunk := rows[start:min(start+emitRowsPerInsert, len(rows))]
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
		args := make([]any, 0, len(chunk)*len(columns))
		for i, row := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for j, v := range row {
				if j > 0 {
					q.WriteString(", ")
				}
				args = append(args, v)
				fmt.Fprintf(&q, "$%d", len(args))
			}
			q.WriteByte(')')
		}
		q.WriteString(" RETURNING id")
		got, err := queryAll(ctx, tx, func(s scanner) (int64, error) {
			var id int64
			return id, s.Scan(&id)
		}, q.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("insert %s: %w", table, err)
		}
		if len(got) != len(chunk) {
			return nil, fmt.Errorf("insert %s: %d ids for %d rows", table, len(got), len(chunk))
		}
		ids = append(ids, sortedIDs(got)...)
	}
	return ids, nil
}

// The events' data. Amounts are decimal text in the document's currency,
// as the API shows them; ids name what the API serves at /orders/{id},
// /documents/{id} and /subscriptions/{id}.

// emitOrderCompleted emits order.completed for o, of the customer at path,
// and queues its email to the customer.
func (db *DB) emitOrderCompleted(ctx context.Context, tx *sql.Tx, o *Order, path string) error {
	if err := db.notifyOrderCompleted(ctx, tx, o); err != nil {
		return err
	}
	return db.emit(ctx, tx, o.CustomerID, path, webhook.OrderCompleted, map[string]any{
		"order_id": o.ID, "number": o.Number, "type": o.Type, "vendor_id": o.VendorID, "customer_id": o.CustomerID,
		"subscription_id": o.SubscriptionID, "plan_id": o.PlanID, "total": o.Total.String(), "currency": o.Currency})
}

// documentData is the data of a document's event.
func documentData(d *Document) map[string]any {
	m := map[string]any{"document_id": d.ID, "type": d.Type, "number": d.Number, "vendor_id": d.VendorID,
		"account_id": d.AccountID, "total": d.Total.String(), "currency": d.Currency,
		"issued_on": d.IssuedOn.Format(time.DateOnly)}
	if !d.DueOn.IsZero() {
		m["due_on"] = d.DueOn.Format(time.DateOnly)
	}
	if d.OrderID != 0 {
		m["order_id"] = d.OrderID
	}
	if d.SubscriptionID != 0 {
		m["subscription_id"] = d.SubscriptionID
	}
	if d.Method != "" {
		m["method"] = d.Method
	}
	return m
}

// emitInvoices emits invoice.issued for the invoices among docs (other
// documents are skipped), all at once, and queues their emails to the
// buyers.
func (db *DB) emitInvoices(ctx context.Context, tx *sql.Tx, docs ...*Document) error {
	if err := db.notifyInvoices(ctx, tx, docs...); err != nil {
		return err
	}
	var evs []emission
	for _, d := range docs {
		if d.Type == DocInvoice {
			evs = append(evs, emission{accountID: d.AccountID, typ: webhook.InvoiceIssued, payload: documentData(d)})
		}
	}
	return db.emitAll(ctx, tx, evs)
}

// emitPayment emits payment.received for payment d.
func (db *DB) emitPayment(ctx context.Context, tx *sql.Tx, d *Document, path string) error {
	return db.emit(ctx, tx, d.AccountID, path, webhook.PaymentReceived, documentData(d))
}

// emitStatus emits subscription.status_changed for s, which moved from
// status from; path is its customer's ("" to look it up). A subscription
// that did not move emits nothing.
func (db *DB) emitStatus(ctx context.Context, tx *sql.Tx, s *subscription.Subscription, from subscription.Status, path string) error {
	if s.Status == from {
		return nil
	}
	return db.emit(ctx, tx, s.CustomerID, path, webhook.SubscriptionStatusChanged, map[string]any{
		"subscription_id": s.ID, "customer_id": s.CustomerID, "status": s.Status, "previous_status": from,
		"reason": s.StatusReason, "version": s.Version})
}

// emitStatuses is emitStatus for subs, which all moved from status from,
// at once.
func (db *DB) emitStatuses(ctx context.Context, tx *sql.Tx, subs []*subscription.Subscription, from subscription.Status) error {
	evs := make([]emission, 0, len(subs))
	for _, s := range subs {
		if s.Status != from {
			evs = append(evs, emission{accountID: s.CustomerID, typ: webhook.SubscriptionStatusChanged, payload: map[string]any{
				"subscription_id": s.ID, "customer_id": s.CustomerID, "status": s.Status, "previous_status": from,
				"reason": s.StatusReason, "version": s.Version}})
		}
	}
	return db.emitAll(ctx, tx, evs)
}
