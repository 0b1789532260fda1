package main

import (
	"context"
	"database/sql"
	"log/slog"
	"strconv"
	"time"

	"github.com/marketplane/marketplane/mail"
	"github.com/marketplane/marketplane/store"
	"github.com/marketplane/marketplane/task"
)

// notificationDeliverArgs is the task that sends one message of the
// notification outbox.
type notificationDeliverArgs struct {
	NotificationID int64 `json:"notification_id"`
}

// Kind names the task.
func (notificationDeliverArgs) Kind() string { return "notification.deliver" }

// notificationSweepArgs is the periodic task that queues the delivery of
// messages that have none: those written while no mail server was set.
type notificationSweepArgs struct{}

// Kind names the task.
func (notificationSweepArgs) Kind() string { return "notification.sweep" }

// notificationAttempts and notificationBackoff pace the attempts of a
// message while its server is down or answers 4xx: 30 s after the first
// failure, doubling up to six hours, fifteen attempts (about two and a
// half days). Tests shorten the backoff.
const notificationAttempts = 15

var notificationBackoff = task.ExponentialBackoff(30*time.Second, 6*time.Hour)

// wireNotifications registers the delivery of notification email over
// sender. Without a server address nothing is registered: the store
// writes messages to the outbox and they wait there, queued, for a
// process that has one (its sweep finds them).
func (r *taskRunner) wireNotifications(db *store.DB, sender mail.Sender, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if sender.Addr == "" {
		log.Info("no --smtp-addr: notification email stays queued in the outbox")
		return
	}
	task.Handle(r.Manager, deliverNotification(db, &sender, log), task.KindOptions{Queue: task.QueueNotifications,
		MaxAttempts: notificationAttempts, Backoff: func(attempt int) time.Duration { return notificationBackoff(attempt) },
		Timeout: 2 * time.Minute})
	task.Handle(r.Manager, func(ctx context.Context, t *task.Task[notificationSweepArgs]) error {
		return r.sweepNotifications(ctx, db)
	}, task.KindOptions{Queue: task.QueueNotifications, Priority: task.PriorityBackground, MaxAttempts: 3})
	r.Periodic(task.Every(10*time.Minute), func() task.Args { return notificationSweepArgs{} }, true)
	db.OnNotification = r.enqueueNotification
}

// enqueueNotification queues the delivery of message id in tx, the
// transaction that writes it (the store's OnNotification).
func (r *taskRunner) enqueueNotification(ctx context.Context, tx *sql.Tx, id, accountID int64, path string) error {
	_, err := r.EnqueueTx(ctx, tx, notificationDeliverArgs{NotificationID: id}, task.ForAccount(accountID, path), task.UniqueByArgs())
	return err
}

// sweepNotifications queues the delivery of every queued message; a
// message whose delivery task is still waiting or retrying is not queued
// twice (unique by its arguments).
func (r *taskRunner) sweepNotifications(ctx context.Context, db *store.DB) error {
	var after int64
	for {
		ids, err := db.QueuedNotifications(ctx, after, 500)
		if err != nil || len(ids) == 0 {
			return err
		}
		for _, id := range ids {
			if _, err := r.Enqueue(ctx, notificationDeliverArgs{NotificationID: id}, task.UniqueByArgs()); err != nil {
				return err
			}
		}
		after = ids[len(ids)-1]
	}
}

// deliverNotification sends one message and records the result. It is
// idempotent: a message that is no longer queued (sent by an earlier run,
// or failed) is left alone. A permanent refusal (5xx) fails the message
// with the server's reason and ends the task; a passing fault is recorded
// and retried with backoff, and the last attempt fails the message.
func deliverNotification(db *store.DB, sender *mail.Sender, log *slog.Logger) func(ctx context.Context, t *task.Task[notificationDeliverArgs]) error {
	return func(ctx context.Context, t *task.Task[notificationDeliverArgs]) error {
		n, err := db.Notification(ctx, t.Args.NotificationID)
		if err != nil {
			return err
		}
		if n.Status != store.NotificationQueued {
			return nil
		}
		err = sender.Send(ctx, mail.Message{ID: strconv.FormatInt(n.ID, 10), To: n.To, FromName: n.FromName, ReplyTo: n.ReplyTo,
			Subject: n.Subject, HTML: n.HTML, Text: n.Text})
		if err == nil {
			_, err = db.NotificationSent(ctx, n.ID)
			return err
		}
		permanent := mail.Permanent(err) || t.Attempt >= t.MaxAttempts
		log.Warn("notification not sent", "notification", n.ID, "kind", n.Kind, "attempt", t.Attempt, "permanent", permanent, "err", err)
		if rerr := db.NotificationAttemptFailed(ctx, n.ID, err.Error(), permanent); rerr != nil {
			return rerr
		}
		if permanent {
			return nil
		}
		return err
	}
}
