package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/notify"
)

// Notification statuses of the outbox.
const (
	NotificationQueued  = "queued"
	NotificationSent    = "sent"
	NotificationFailed  = "failed"
	NotificationBounced = "bounced"
)

// Notification is a rendered message of the outbox.
type Notification struct {
	ID        int64
	AccountID int64 // the recipient's account
	UserID    int64 // the recipient user; 0 for the account's contact
	SellerID  int64 // the account that sends it (the recipient's seller)
	Kind      notify.Kind
	Locale    string // the template's language
	To        string
	FromName  string // the seller's name
	ReplyTo   string // the seller's contact address
	notify.Message
	Status    string
	Attempts  int
	LastError string
	CreatedAt time.Time
	SentAt    time.Time
}

const notificationColumns = `id, account_id, COALESCE(user_id, 0), seller_id, kind, locale, to_addr, from_name, reply_to,
	subject, html, text, status, attempts, last_error, created_at, sent_at`

func scanNotification(r scanner) (*Notification, error) {
	n := &Notification{}
	err := r.Scan(&n.ID, &n.AccountID, &n.UserID, &n.SellerID, &n.Kind, &n.Locale, &n.To, &n.FromName, &n.ReplyTo,
		&n.Subject, &n.HTML, &n.Text, &n.Status, &n.Attempts, &n.LastError, ts(&n.CreatedAt), ts(&n.SentAt))
	return n, err
}

// notifyAccount renders a message of kind k, with the data that data
// gives for the recipient (its locale names a plan), to the contact of
// account accountID with the template that applies to it (notify.Resolve), in its
// language and with its seller's name and reply-to address, and writes it
// to the outbox in tx, the transaction of the event that causes it; then
// OnNotification queues its delivery in tx. An account without a contact
// address gets nothing.
func (db *DB) notifyAccount(ctx context.Context, tx *sql.Tx, accountID int64, k notify.Kind, data func(to *account.Account) (notify.Data, error)) error {
	to, err := loadAccount(ctx, tx, accountID)
	if err != nil {
		return fmt.Errorf("notify %s: %w", k, err)
	}
	if to.Contact.Email == "" || to.ParentID == 0 {
		return nil
	}
	seller, err := loadAccount(ctx, tx, to.ParentID)
	if err != nil {
		return fmt.Errorf("notify %s: seller: %w", k, err)
	}
	chain := account.IDs(seller.Path)
	overrides, err := db.templateOverrides(ctx, tx, k, chain)
	if err != nil {
		return err
	}
	c, err := notify.Resolve(k, chain, overrides, to.Locale, seller.Locale)
	if err != nil {
		return err
	}
	d, err := data(to)
	if err != nil {
		return fmt.Errorf("notify %s to account %d: %w", k, accountID, err)
	}
	d.Recipient = notify.Party{Name: to.Name, Email: to.Contact.Email}
	d.Seller = notify.Party{Name: seller.Name, Email: seller.Contact.Email}
	// Amounts and days in the recipient's own locale when the message is
	// in its language ("de-AT"), else in the message's language.
	locale := c.Locale
	if lang, _ := notify.Language(to.Locale); lang == c.Locale {
		locale = to.Locale
	}
	m, err := c.Render(locale, d)
	if err != nil {
		return fmt.Errorf("notify %s to account %d: %w", k, accountID, err)
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO notification_outbox (account_id, seller_id, kind, locale, to_addr, from_name, reply_to,
		subject, html, text, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11) RETURNING id`,
		to.ID, seller.ID, string(k), c.Locale, to.Contact.Email, seller.Name, seller.Contact.Email,
		m.Subject, m.HTML, m.Text, tv(db.stamp())).Scan(&id)
	if err != nil {
		return fmt.Errorf("notify %s: insert: %w", k, err)
	}
	if db.OnNotification != nil {
		return db.OnNotification(ctx, tx, id, to.ID, to.Path)
	}
	return nil
}

// templateOverrides are the overrides of kind k that the accounts of chain
// hold, in every language.
func (db *DB) templateOverrides(ctx context.Context, q querier, k notify.Kind, chain []int64) ([]notify.Override, error) {
	if len(chain) == 0 {
		return nil, nil
	}
	out, err := queryAll(ctx, q, func(s scanner) (notify.Override, error) {
		var o notify.Override
		err := s.Scan(&o.Owner, &o.Kind, &o.Locale, &o.Subject, &o.HTML, &o.Text, &o.Version)
		return o, err
	}, `SELECT owner_id, kind, locale, subject, html, text, version FROM notification_templates
		WHERE kind = $1 AND `+db.anyID("owner_id", 2), string(k), db.idsArg(chain))
	if err != nil {
		return nil, fmt.Errorf("templates of %s: %w", k, err)
	}
	return out, nil
}

// NotificationTemplate is a template as a seller sees it: the version its
// subtree uses, whether it is the seller's own (overridden) or inherited,
// and for an override the parent's current version and the diff against
// it.
type NotificationTemplate struct {
	notify.Choice
	Overridden bool
	// Parent is the version the seller would inherit without its
	// override; Diff compares the override with it ("" when inherited).
	Parent notify.Choice
	Diff   string
}

// NotificationTemplate returns the template of kind k in language locale
// as seller ownerID sees it. Errors: ENOTFOUND, EFORBIDDEN, ECONFLICT (a customer), EINVALID.
func (db *DB) NotificationTemplate(ctx context.Context, actor *account.Actor, ownerID int64, k notify.Kind, locale string) (*NotificationTemplate, error) {
	lang, ok := notify.Language(locale)
	if !k.Valid() || !ok {
		return nil, marketplane.Errorf(marketplane.ENOTFOUND, "template not found")
	}
	sel, err := db.sellerFor(ctx, db.Read, actor, account.ViewAccount, ownerID)
	if err != nil {
		return nil, err
	}
	if sel.Kind == account.Customer {
		return nil, marketplane.Errorf(marketplane.ECONFLICT, "account %d is a customer; customers have no notification templates", ownerID)
	}
	chain := account.IDs(sel.Path)
	overrides, err := db.templateOverrides(ctx, db.Read, k, chain)
	if err != nil {
		return nil, err
	}
	cur, _ := notify.Inherited(k, lang, chain, overrides)
	parent, _ := notify.Inherited(k, lang, chain[:len(chain)-1], overrides)
	t := &NotificationTemplate{Choice: cur, Overridden: cur.Owner == ownerID, Parent: parent}
	if t.Overridden {
		t.Diff = notify.Diff(parent.Template, cur.Template)
	}
	return t, nil
}

// SetNotificationTemplate saves seller ownerID's override of template t
// (its kind and language), which its subtree then uses. Errors:
// ENOTFOUND, EFORBIDDEN, EINVALID (with a field error for a part that
// does not parse or names data its kind lacks).
func (db *DB) SetNotificationTemplate(ctx context.Context, actor *account.Actor, ownerID int64, t notify.Template) (*notify.Override, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t.Locale, _ = notify.Language(t.Locale)
	o := &notify.Override{Owner: ownerID, Template: t}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		sel, err := db.sellerFor(ctx, tx, actor, account.ManageAccount, ownerID)
		if err != nil {
			return err
		}
		now := tv(db.stamp())
		err = tx.QueryRowContext(ctx, `UPDATE notification_templates SET subject = $4, html = $5, text = $6, version = version + 1, updated_at = $7
			WHERE owner_id = $1 AND kind = $2 AND locale = $3 RETURNING version`, ownerID, string(t.Kind), t.Locale, t.Subject, t.HTML, t.Text, now).Scan(&o.Version)
		if errors.Is(err, sql.ErrNoRows) {
			o.Version = 1
			_, err = tx.ExecContext(ctx, `INSERT INTO notification_templates (owner_id, kind, locale, subject, html, text, version, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, 1, $7)`, ownerID, string(t.Kind), t.Locale, t.Subject, t.HTML, t.Text, now)
		}
		if err != nil {
			return fmt.Errorf("save template %s/%s of account %d: %w", t.Kind, t.Locale, ownerID, err)
		}
		return db.audit(ctx, tx, actor, ownerID, sel.Path, "notification_template.set", "notification_template", 0,
			map[string]any{"kind": t.Kind, "locale": t.Locale, "version": o.Version})
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// ResetNotificationTemplate deletes seller ownerID's override of kind k in
// language locale, so that its subtree inherits its parent's current
// version again. Resetting a template that is not overridden changes
// nothing. Errors: ENOTFOUND, EFORBIDDEN, ECONFLICT (a customer), EINVALID.
func (db *DB) ResetNotificationTemplate(ctx context.Context, actor *account.Actor, ownerID int64, k notify.Kind, locale string) error {
	lang, ok := notify.Language(locale)
	if !k.Valid() || !ok {
		return marketplane.Errorf(marketplane.ENOTFOUND, "template not found")
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		sel, err := db.sellerFor(ctx, tx, actor, account.ManageAccount, ownerID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM notification_templates WHERE owner_id = $1 AND kind = $2 AND locale = $3`, ownerID, string(k), lang)
		if err != nil {
			return fmt.Errorf("reset template %s/%s of account %d: %w", k, lang, ownerID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return db.audit(ctx, tx, actor, ownerID, sel.Path, "notification_template.reset", "notification_template", 0,
			map[string]any{"kind": k, "locale": lang})
	})
}

// Notification returns message id of the outbox (system use: the
// delivery task). Errors: ENOTFOUND.
func (db *DB) Notification(ctx context.Context, id int64) (*Notification, error) {
	n, err := scanNotification(db.Read.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notification_outbox WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "notification")
	}
	return n, nil
}

// Notifications returns the messages of the outbox to account accountID,
// oldest first (system use).
func (db *DB) Notifications(ctx context.Context, accountID int64) ([]*Notification, error) {
	return queryAll(ctx, db.Read, scanNotification, `SELECT `+notificationColumns+` FROM notification_outbox
		WHERE account_id = $1 ORDER BY id`, accountID)
}

// QueuedNotifications returns the ids of up to limit queued messages after
// id after, oldest first: those a process without a mail server left
// behind, for the next one that has one.
func (db *DB) QueuedNotifications(ctx context.Context, after int64, limit int) ([]int64, error) {
	return queryAll(ctx, db.Read, func(s scanner) (int64, error) {
		var id int64
		return id, s.Scan(&id)
	}, `SELECT id FROM notification_outbox WHERE status = 'queued' AND id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// NotificationSent records that message id went out. A message already
// sent stays as it was (false), so that a delivery run twice counts once.
func (db *DB) NotificationSent(ctx context.Context, id int64) (bool, error) {
	res, err := db.Write.ExecContext(ctx, `UPDATE notification_outbox SET status = 'sent', attempts = attempts + 1, last_error = '', sent_at = $2
		WHERE id = $1 AND status = 'queued'`, id, tv(db.stamp()))
	if err != nil {
		return false, fmt.Errorf("notification %d sent: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// NotificationAttemptFailed records a failed attempt to send message id
// and why; permanent (the server refused it for good) marks it failed,
// else it stays queued for the next attempt.
func (db *DB) NotificationAttemptFailed(ctx context.Context, id int64, reason string, permanent bool) error {
	status := NotificationQueued
	if permanent {
		status = NotificationFailed
	}
	_, err := db.Write.ExecContext(ctx, `UPDATE notification_outbox SET status = $2, attempts = attempts + 1, last_error = $3
		WHERE id = $1 AND status = 'queued'`, id, status, reason)
	if err != nil {
		return fmt.Errorf("notification %d failed: %w", id, err)
	}
	return nil
}

// notifyOrderCompleted queues "order completed" to the customer of o.
func (db *DB) notifyOrderCompleted(ctx context.Context, tx *sql.Tx, o *Order) error {
	return db.notifyAccount(ctx, tx, o.CustomerID, notify.OrderCompleted, func(to *account.Account) (notify.Data, error) {
		var body string
		if err := tx.QueryRowContext(ctx, `SELECT body FROM plans WHERE id = $1`, o.PlanID).Scan(&body); err != nil {
			return notify.Data{}, fmt.Errorf("plan %d: %w", o.PlanID, err)
		}
		var p struct {
			Name catalog.Text `json:"name"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			return notify.Data{}, fmt.Errorf("plan %d: %w", o.PlanID, err)
		}
		return notify.Data{Order: &notify.Order{Number: fmt.Sprintf("%s-%06d", o.Type, o.Number), Plan: p.Name.Get(to.Locale),
			Total: notify.Amount{Value: o.Total, Currency: o.Currency}}}, nil
	})
}

// notifyInvoices queues "invoice issued" to the buyer of each invoice among
// docs.
func (db *DB) notifyInvoices(ctx context.Context, tx *sql.Tx, docs ...*Document) error {
	for _, d := range docs {
		if d.Type != DocInvoice {
			continue
		}
		err := db.notifyAccount(ctx, tx, d.AccountID, notify.InvoiceIssued, func(*account.Account) (notify.Data, error) {
			return notify.Data{Document: &notify.Document{Number: d.Number, Total: notify.Amount{Value: d.Total, Currency: d.Currency}, Due: d.DueOn}}, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// notifyCreditHold queues "credit hold" to buyer.
func (db *DB) notifyCreditHold(ctx context.Context, tx *sql.Tx, buyer *account.Account) error {
	return db.notifyAccount(ctx, tx, buyer.ID, notify.CreditHold, func(*account.Account) (notify.Data, error) { return notify.Data{}, nil })
}
