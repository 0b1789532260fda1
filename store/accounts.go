package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/subscription"
)

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

const accountColumns = `id, COALESCE(parent_id, 0), path, depth, kind, name,
	contact_name, contact_email, contact_phone,
	address_line1, address_line2, address_city, address_region, address_postal_code, country,
	locale, currency, time_zone, status, credit_limit, payment_terms_days, COALESCE(external_id, ''),
	vat_id, selling, version, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanAccount(r scanner) (*account.Account, error) {
	a := &account.Account{}
	var credit int64
	var selling string
	err := r.Scan(&a.ID, &a.ParentID, &a.Path, &a.Depth, &a.Kind, &a.Name,
		&a.Contact.Name, &a.Contact.Email, &a.Contact.Phone,
		&a.Address.Line1, &a.Address.Line2, &a.Address.City, &a.Address.Region, &a.Address.PostalCode, &a.Address.Country,
		&a.Locale, &a.Currency, &a.TimeZone, &a.Status, &credit, &a.PaymentTermsDays, &a.ExternalID,
		&a.VATID, &selling, &a.Version, ts(&a.CreatedAt), ts(&a.UpdatedAt))
	if err != nil {
		return a, err
	}
	a.CreditLimit = money.Micros(credit)
	if err := json.Unmarshal([]byte(selling), &a.Selling); err != nil {
		return a, fmt.Errorf("account %d selling settings: %w", a.ID, err)
	}
	return a, nil
}

func loadAccount(ctx context.Context, q querier, id int64) (*account.Account, error) {
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "account")
	}
	return a, nil
}

// authorize loads the path of account id and asks account.Authorize. A
// missing account and one outside the actor's reach give the same
// ENOTFOUND, so ids of others cannot be probed.
func (db *DB) authorize(ctx context.Context, q querier, actor *account.Actor, act account.Action, id int64) (account.Target, error) {
	t := account.Target{AccountID: id}
	err := q.QueryRowContext(ctx, `SELECT path FROM accounts WHERE id = $1`, id).Scan(&t.Path)
	if errors.Is(err, sql.ErrNoRows) {
		if actor != nil && actor.System {
			return t, marketplane.Errorf(marketplane.ENOTFOUND, "account %d not found", id)
		}
		return t, marketplane.Errorf(marketplane.ENOTFOUND, "account not found")
	}
	if err != nil {
		return t, fmt.Errorf("account %d: %w", id, err)
	}
	return t, account.Authorize(actor, act, t)
}

// Authorize answers "may actor do act on account id" with one indexed
// lookup of the account's path.
func (db *DB) Authorize(ctx context.Context, actor *account.Actor, act account.Action, id int64) error {
	_, err := db.authorize(ctx, db.Read, actor, act, id)
	return err
}

// Provider returns the root account, or ENOTFOUND before the first start.
func (db *DB) Provider(ctx context.Context) (*account.Account, error) {
	a, err := scanAccount(db.Read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE kind = 'provider'`))
	if err != nil {
		return nil, notFound(err, "provider")
	}
	return a, nil
}

// CreateProvider creates the root account. There is exactly one: a second
// call fails with ECONFLICT.
func (db *DB) CreateProvider(ctx context.Context, a *account.Account) error {
	a.Kind, a.ParentID = account.Provider, 0
	if a.Status == "" {
		a.Status = account.StatusActive
	}
	if err := a.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE kind = 'provider'`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return marketplane.Errorf(marketplane.ECONFLICT, "a provider exists already; there is exactly one")
		}
		if err := db.insertAccount(ctx, tx, a, ""); err != nil {
			return err
		}
		return db.audit(ctx, tx, account.SystemActor(), a.ID, a.Path, "account.create", "account", a.ID, accountChanges(nil, a))
	})
}

// CreateAccount creates a reseller or customer below a.ParentID. The actor
// needs to manage accounts at the parent (or be the parent, creating its own
// children). Fills a.ID, a.Path, a.Depth and the timestamps.
func (db *DB) CreateAccount(ctx context.Context, actor *account.Actor, a *account.Account) error {
	if a.Status == "" {
		a.Status = account.StatusActive
	}
	if a.Kind == account.Provider {
		return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid account",
			Fields: map[string]string{"kind": "only resellers and customers can be created; the provider exists once"}}
	}
	if err := a.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		parent, err := db.parentFor(ctx, tx, actor, a.ParentID)
		if err != nil {
			return err
		}
		if err := db.insertAccount(ctx, tx, a, parent.Path); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, a.ID, a.Path, "account.create", "account", a.ID, accountChanges(nil, a))
	})
}

// parentFor checks that the actor may create children under parentID and that
// the parent can hold them.
func (db *DB) parentFor(ctx context.Context, tx *sql.Tx, actor *account.Actor, parentID int64) (*account.Account, error) {
	parent, err := loadAccount(ctx, tx, parentID)
	if err != nil {
		return nil, fieldErr("parent_id", "no such account")
	}
	act := account.ManageAccount
	if parent.Path == actor.AccountPath {
		// Creating one's own children is managing one's customers, not
		// one's own account record.
		if !actor.System && actor.Grants.Level(account.PrivAccounts) < account.Manage {
			return nil, marketplane.Errorf(marketplane.EFORBIDDEN, "you may not create accounts")
		}
	} else if err := account.Authorize(actor, act, account.Target{AccountID: parent.ID, Path: parent.Path}); err != nil {
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			return nil, fieldErr("parent_id", "no such account")
		}
		return nil, err
	}
	if !parent.CanHaveChildren() {
		return nil, fieldErr("parent_id", "a customer cannot have child accounts; convert it to a reseller first")
	}
	if parent.Status == account.StatusCancelled {
		return nil, fieldErr("parent_id", "the parent account is cancelled")
	}
	return parent, nil
}

func fieldErr(field, msg string) error {
	return &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid account", Fields: map[string]string{field: msg}}
}

// insertAccount inserts a and sets its id and path. The path holds the id, so
// it is written in a second statement of the same transaction.
func (db *DB) insertAccount(ctx context.Context, tx *sql.Tx, a *account.Account, parentPath string) error {
	now := db.Clock.Now()
	a.CreatedAt, a.UpdatedAt, a.Version = now, now, 1
	var parent, ext any
	if a.ParentID != 0 {
		parent = a.ParentID
	}
	if a.ExternalID != "" {
		ext = a.ExternalID
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO accounts (parent_id, path, depth, kind, name,
		contact_name, contact_email, contact_phone,
		address_line1, address_line2, address_city, address_region, address_postal_code, country,
		locale, currency, time_zone, status, credit_limit, payment_terms_days, external_id, vat_id, selling, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $23, $24, 1, $22, $22)
		RETURNING id`,
		parent, "pending:"+randomToken(8), 0, a.Kind, strings.TrimSpace(a.Name),
		a.Contact.Name, a.Contact.Email, a.Contact.Phone,
		a.Address.Line1, a.Address.Line2, a.Address.City, a.Address.Region, a.Address.PostalCode, a.Address.Country,
		a.Locale, a.Currency, a.TimeZone, a.Status, int64(a.CreditLimit), a.PaymentTermsDays, ext, tv(now),
		a.VATID, sellingJSON(a.Selling)).Scan(&a.ID)
	if err != nil {
		if isUniqueViolation(err) {
			if a.Kind == account.Provider {
				return marketplane.Errorf(marketplane.ECONFLICT, "a provider exists already; there is exactly one")
			}
			return marketplane.Errorf(marketplane.ECONFLICT, "an account with external id %q exists under this parent", a.ExternalID)
		}
		return fmt.Errorf("insert account: %w", err)
	}
	if parentPath == "" {
		a.Path = account.RootPath(a.ID)
	} else {
		a.Path = account.ChildPath(parentPath, a.ID)
	}
	a.Depth = account.Depth(a.Path)
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET path = $1, depth = $2 WHERE id = $3`, a.Path, a.Depth, a.ID); err != nil {
		return fmt.Errorf("set account path: %w", err)
	}
	return nil
}

// Account returns account id if the actor may view it.
func (db *DB) Account(ctx context.Context, actor *account.Actor, id int64) (*account.Account, error) {
	a, err := loadAccount(ctx, db.Read, id)
	if err != nil {
		return nil, err
	}
	if err := account.Authorize(actor, account.ViewAccount, account.Target{AccountID: a.ID, Path: a.Path}); err != nil {
		return nil, err
	}
	return a, nil
}

// AccountByExternalID finds the child of parentID with the given external id.
func (db *DB) AccountByExternalID(ctx context.Context, actor *account.Actor, parentID int64, ext string) (*account.Account, error) {
	var id int64
	err := db.Read.QueryRowContext(ctx, `SELECT id FROM accounts WHERE parent_id = $1 AND external_id = $2`, parentID, ext).Scan(&id)
	if err != nil {
		return nil, notFound(err, "account")
	}
	return db.Account(ctx, actor, id)
}

// ChildrenByExternalID maps the external ids of the child accounts of
// parentID of the given kind to the accounts (system use: the demo loader
// and the benchmarks find what they made before, page by page).
func (db *DB) ChildrenByExternalID(ctx context.Context, parentID int64, kind account.Kind) (map[string]*account.Account, error) {
	out := map[string]*account.Account{}
	after := ""
	for {
		page, err := db.ListAccounts(ctx, account.SystemActor(), AccountFilter{Under: parentID, Kind: kind, After: after, Limit: 500})
		if err != nil {
			return nil, fmt.Errorf("children of %d: %w", parentID, err)
		}
		for _, a := range page {
			if a.ExternalID != "" {
				out[a.ExternalID] = a
			}
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].Path
	}
}

// AccountFilter selects accounts for ListAccounts.
type AccountFilter struct {
	// Under is the account whose subtree to list; 0 means the actor's own.
	Under int64
	// Descendants lists the whole subtree below Under; otherwise only its
	// direct children.
	Descendants bool
	Kind        account.Kind
	Status      account.Status
	// Search matches a part of the name, ignoring case.
	Search string
	// After is the cursor: the path of the last account of the previous
	// page. Pages are in path order: depth-first, siblings in the text order
	// of their ids ("10" before "6").
	After string
	Limit int
}

// ListAccounts lists the children or descendants of f.Under that the actor
// may see. The subtree scope is applied here, once, for every caller: the
// query is one range scan of the path index.
func (db *DB) ListAccounts(ctx context.Context, actor *account.Actor, f AccountFilter) ([]*account.Account, error) {
	under := f.Under
	if under == 0 {
		under = actor.AccountID
	}
	t, err := db.authorize(ctx, db.Read, actor, account.ViewAccount, under)
	if err != nil {
		// Listing below one's own account needs the account privilege; on
		// one's own account ViewAccount checks own_account instead.
		return nil, err
	}
	if !actor.System {
		if t.Path == actor.AccountPath && actor.Grants.Level(account.PrivAccounts) < account.View {
			return nil, marketplane.Errorf(marketplane.EFORBIDDEN, "you may not view customer accounts")
		}
	}
	depthLimit := 1 << 30
	if !f.Descendants {
		depthLimit = account.Depth(t.Path) + 1
	}
	// An actor whose reach is "children" never sees past one level below
	// its own account, whatever it asks for.
	if !actor.System && actor.Grants.Scope() != account.ScopeDescendants {
		if d := account.Depth(actor.AccountPath) + 1; d < depthLimit {
			depthLimit = d
		}
	}
	lo := t.Path
	if f.After > lo {
		lo = f.After
	}
	limit := clampLimit(f.Limit)
	search := ""
	if f.Search != "" {
		search = "%" + strings.ToLower(f.Search) + "%"
	}
	// Optional conditions are added only when set; see AuditLog.
	q := `SELECT ` + accountColumns + ` FROM accounts WHERE path > $1 AND path < $2 AND depth <= $3`
	args := []any{lo, account.SubtreeEnd(t.Path), depthLimit}
	if f.Kind != "" {
		args = append(args, string(f.Kind))
		q += fmt.Sprintf(" AND kind = $%d", len(args))
	}
	if f.Status != "" {
		args = append(args, string(f.Status))
		q += fmt.Sprintf(" AND status = $%d", len(args))
	}
	if search != "" {
		args = append(args, search)
		q += fmt.Sprintf(" AND LOWER(name) LIKE $%d", len(args))
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY path LIMIT $%d", len(args))
	rows, err := db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := make([]*account.Account, 0, limit)
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// CountDescendants counts the accounts below id (one index range count).
func (db *DB) CountDescendants(ctx context.Context, actor *account.Actor, id int64) (int, error) {
	t, err := db.authorize(ctx, db.Read, actor, account.ViewAccount, id)
	if err != nil {
		return 0, err
	}
	var n int
	err = db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE path > $1 AND path < $2`,
		t.Path, account.SubtreeEnd(t.Path)).Scan(&n)
	return n, err
}

// UpdateAccount saves the editable fields of a (name, contact, address,
// locale, currency, time zone, credit limit, payment terms, external id,
// VAT id, selling settings). a.Version must be the version read; a
// concurrent change gives EPRECONDITION. Kind, parent and status change
// through their own methods. The fields the seller owns
// (account.AccountFields) are refused to the account's own staff with
// EFORBIDDEN naming them, and a currency change of an account that has
// subscriptions, documents or ledger entries with ECONFLICT.
func (db *DB) UpdateAccount(ctx context.Context, actor *account.Actor, a *account.Account) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		old, err := loadAccount(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		if err := account.Authorize(actor, account.ManageAccount, account.Target{AccountID: old.ID, Path: old.Path}); err != nil {
			return err
		}
		if a.Version != old.Version {
			return marketplane.Errorf(marketplane.EPRECONDITION, "account %d was changed by someone else (version %d, not %d)", a.ID, old.Version, a.Version)
		}
		a.Kind, a.ParentID, a.Path, a.Depth, a.Status = old.Kind, old.ParentID, old.Path, old.Depth, old.Status
		a.CreatedAt = old.CreatedAt
		// Managing one's own account is not setting one's own terms: the
		// seller's fields are refused to the account's own staff here, for
		// every entry point (account.AccountFields).
		if err := account.CheckEdit(account.EditorOf(actor, old.Path, old.ParentID), old, a); err != nil {
			return err
		}
		if err := a.Validate(); err != nil {
			return err
		}
		if a.Currency != old.Currency {
			inUse, err := accountInUse(ctx, tx, a.ID)
			if err != nil {
				return err
			}
			if err := account.CheckCurrencyChange(old, a, inUse); err != nil {
				return err
			}
		}
		a.UpdatedAt = db.Clock.Now()
		a.Version = old.Version + 1
		var ext any
		if a.ExternalID != "" {
			ext = a.ExternalID
		}
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET name = $1, contact_name = $2, contact_email = $3, contact_phone = $4,
			address_line1 = $5, address_line2 = $6, address_city = $7, address_region = $8, address_postal_code = $9, country = $10,
			locale = $11, currency = $12, time_zone = $13, credit_limit = $14, payment_terms_days = $15, external_id = $16,
			version = $17, updated_at = $18, vat_id = $20, selling = $21 WHERE id = $19`,
			strings.TrimSpace(a.Name), a.Contact.Name, a.Contact.Email, a.Contact.Phone,
			a.Address.Line1, a.Address.Line2, a.Address.City, a.Address.Region, a.Address.PostalCode, a.Address.Country,
			a.Locale, a.Currency, a.TimeZone, int64(a.CreditLimit), a.PaymentTermsDays, ext, a.Version, tv(a.UpdatedAt), a.ID,
			a.VATID, sellingJSON(a.Selling))
		if err != nil {
			if isUniqueViolation(err) {
				return marketplane.Errorf(marketplane.ECONFLICT, "an account with external id %q exists under this parent", a.ExternalID)
			}
			return fmt.Errorf("update account %d: %w", a.ID, err)
		}
		return db.audit(ctx, tx, actor, a.ID, a.Path, "account.update", "account", a.ID, accountChanges(old, a))
	})
}

// accountInUse reports whether account id has anything priced in its
// currency: a subscription or order it buys or sells, a document or a
// ledger entry on either side.
func accountInUse(ctx context.Context, tx *sql.Tx, id int64) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM (SELECT 1 FROM subscriptions WHERE customer_id = $1 OR vendor_id = $1 LIMIT 1) s) +
		(SELECT COUNT(*) FROM (SELECT 1 FROM orders WHERE customer_id = $1 OR vendor_id = $1 LIMIT 1) o) +
		(SELECT COUNT(*) FROM (SELECT 1 FROM documents WHERE account_id = $1 OR vendor_id = $1 LIMIT 1) d) +
		(SELECT COUNT(*) FROM (SELECT 1 FROM ledger_entries WHERE account_id = $1 OR vendor_id = $1 LIMIT 1) l)`, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("account %d in use: %w", id, err)
	}
	return n > 0, nil
}

// ConvertToReseller makes customer id a reseller, so that it may have
// children of its own.
func (db *DB) ConvertToReseller(ctx context.Context, actor *account.Actor, id int64) (*account.Account, error) {
	var a *account.Account
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = loadAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := account.Authorize(actor, account.AdminAccount, account.Target{AccountID: a.ID, Path: a.Path}); err != nil {
			return err
		}
		if a.Kind != account.Customer {
			return marketplane.Errorf(marketplane.ECONFLICT, "account %d is a %s, not a customer", id, a.Kind)
		}
		a.Kind, a.Version, a.UpdatedAt = account.Reseller, a.Version+1, db.Clock.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET kind = 'reseller', version = $1, updated_at = $2 WHERE id = $3`,
			a.Version, tv(a.UpdatedAt), id); err != nil {
			return fmt.Errorf("convert account %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, a.ID, a.Path, "account.convert_to_reseller", "account", a.ID,
			map[string]any{"kind": []string{"customer", "reseller"}})
	})
	return a, err
}

// SetAccountStatus changes the status of account id, as
// SetAccountStatusWith without queueing the status tasks of the
// subscriptions it suspends or resumes.
func (db *DB) SetAccountStatus(ctx context.Context, actor *account.Actor, id int64, status account.Status, cascade bool) (*account.Account, error) {
	return db.SetAccountStatusWith(ctx, actor, id, status, cascade, nil)
}

// SetAccountStatusWith changes the status of account id. Credit hold and
// its release need the credit hold privilege; other changes need account
// administration. Cancelling an account with accounts below it that are not
// cancelled is refused unless cascade is set, which cancels the subtree.
//
// The account's own subscriptions follow its holds in the same
// transaction (followAccountHold): a credit or administrative hold
// suspends the active ones (reason credit_hold or admin_hold), the
// release resumes those the hold suspended. onSubscription runs there per
// changed subscription: the task that suspends or resumes its service at
// the connector; its error rolls everything back. A reseller's hold leaves
// its customers' subscriptions alone: their services go on. Errors:
// ENOTFOUND, EFORBIDDEN, EINVALID (status), ECONFLICT.
func (db *DB) SetAccountStatusWith(ctx context.Context, actor *account.Actor, id int64, status account.Status, cascade bool,
	onSubscription func(tx *sql.Tx, s *subscription.Subscription) error) (*account.Account, error) {
	if !status.Valid() {
		return nil, &marketplane.Error{Code: marketplane.EINVALID, Message: "invalid status",
			Fields: map[string]string{"status": "must be one of pending, active, credit_hold, admin_hold, cancelled"}}
	}
	var a *account.Account
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = loadAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		act := account.AdminAccount
		switch {
		case status == account.StatusCreditHold:
			act = account.PutCreditHold
		case a.Status == account.StatusCreditHold && status == account.StatusActive:
			act = account.ReleaseCredit
		}
		target := account.Target{AccountID: a.ID, Path: a.Path}
		if err := account.Authorize(actor, act, target); err != nil {
			return err
		}
		if act != account.AdminAccount && account.Relate(actor.AccountPath, a.Path) == account.Self && !actor.System {
			return marketplane.Errorf(marketplane.EFORBIDDEN, "you may not change the credit hold of your own account")
		}
		if a.Kind == account.Provider {
			return marketplane.Errorf(marketplane.ECONFLICT, "the provider's status cannot change")
		}
		if a.Status == status {
			return nil
		}
		if a.Status == account.StatusCancelled {
			return marketplane.Errorf(marketplane.ECONFLICT, "account %d is cancelled; a cancelled account does not come back", id)
		}
		now := db.Clock.Now()
		if status == account.StatusCancelled {
			var open int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE path > $1 AND path < $2 AND status <> 'cancelled'`,
				a.Path, account.SubtreeEnd(a.Path)).Scan(&open); err != nil {
				return err
			}
			if open > 0 && !cascade {
				return marketplane.Errorf(marketplane.ECONFLICT,
					"account %d has %d accounts below it that are not cancelled; cancel them first or ask for a cascade", id, open)
			}
			if open > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE accounts SET status = 'cancelled', version = version + 1, updated_at = $1
					WHERE path > $2 AND path < $3 AND status <> 'cancelled'`, tv(now), a.Path, account.SubtreeEnd(a.Path)); err != nil {
					return fmt.Errorf("cancel subtree of %d: %w", id, err)
				}
			}
		}
		old := a.Status
		a.Status, a.Version, a.UpdatedAt = status, a.Version+1, now
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET status = $1, version = $2, updated_at = $3 WHERE id = $4`,
			status, a.Version, tv(now), id); err != nil {
			return fmt.Errorf("set status of %d: %w", id, err)
		}
		suspended, resumed, err := db.followAccountHold(ctx, tx, a.ID, old, status, onSubscription)
		if err != nil {
			return fmt.Errorf("account %d: %w", id, err)
		}
		changes := map[string]any{"status": []account.Status{old, status}, "cascade": cascade}
		if suspended > 0 {
			changes["subscriptions_suspended"] = suspended
		}
		if resumed > 0 {
			changes["subscriptions_resumed"] = resumed
		}
		return db.audit(ctx, tx, actor, a.ID, a.Path, "account.status", "account", a.ID, changes)
	})
	return a, err
}

// DeleteAccount removes account id with its users, roles and keys. An
// account with accounts below it is refused: delete or move them first.
func (db *DB) DeleteAccount(ctx context.Context, actor *account.Actor, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		a, err := loadAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := account.Authorize(actor, account.AdminAccount, account.Target{AccountID: a.ID, Path: a.Path}); err != nil {
			return err
		}
		if a.Kind == account.Provider {
			return marketplane.Errorf(marketplane.ECONFLICT, "the provider cannot be deleted")
		}
		var children int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE parent_id = $1`, id).Scan(&children); err != nil {
			return err
		}
		if children > 0 {
			return marketplane.Errorf(marketplane.ECONFLICT, "account %d has %d child accounts; a reseller with children cannot be deleted", id, children)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, id); err != nil {
			if isForeignKeyViolation(err) {
				return marketplane.Errorf(marketplane.ECONFLICT, "account %d is still referenced: %v", id, err)
			}
			return fmt.Errorf("delete account %d: %w", id, err)
		}
		return db.audit(ctx, tx, actor, a.ParentID, strings.TrimSuffix(a.Path, fmt.Sprintf("%d/", a.ID)),
			"account.delete", "account", a.ID, map[string]any{"name": a.Name, "kind": a.Kind})
	})
}

// MoveAccount moves account id with its whole subtree below newParentID. The
// actor must administer the account and manage the new parent. Moving an
// account below itself (a cycle), below a customer, or the provider is
// refused.
func (db *DB) MoveAccount(ctx context.Context, actor *account.Actor, id, newParentID int64) (*account.Account, error) {
	var a *account.Account
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = loadAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := account.Authorize(actor, account.AdminAccount, account.Target{AccountID: a.ID, Path: a.Path}); err != nil {
			return err
		}
		if a.Kind == account.Provider {
			return marketplane.Errorf(marketplane.ECONFLICT, "the provider cannot be moved")
		}
		parent, err := db.parentFor(ctx, tx, actor, newParentID)
		if err != nil {
			return err
		}
		if strings.HasPrefix(parent.Path, a.Path) {
			return fieldErr("parent_id", "an account cannot move below itself or its own descendants")
		}
		if parent.ID == a.ParentID {
			return nil
		}
		oldPath := a.Path
		newPath := account.ChildPath(parent.Path, a.ID)
		delta := account.Depth(newPath) - a.Depth
		now := db.Clock.Now()
		// One statement rewrites the prefix of every path in the subtree.
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET path = $1 || SUBSTR(path, $2), depth = depth + $3,
			version = version + 1, updated_at = $4 WHERE path >= $5 AND path < $6`,
			newPath, len(oldPath)+1, delta, tv(now), oldPath, account.SubtreeEnd(oldPath)); err != nil {
			return fmt.Errorf("move subtree of %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET parent_id = $1 WHERE id = $2`, parent.ID, id); err != nil {
			return fmt.Errorf("move account %d: %w", id, err)
		}
		a, err = loadAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, a.ID, a.Path, "account.move", "account", a.ID,
			map[string]any{"parent_id": []int64{parent.ID}, "path": []string{oldPath, a.Path}})
	})
	return a, err
}

// accountChanges describes what changed between old and a for the audit log.
func accountChanges(old, a *account.Account) map[string]any {
	ch := map[string]any{}
	set := func(k string, o, n any) {
		if o != n {
			ch[k] = []any{o, n}
		}
	}
	if old == nil {
		old = &account.Account{}
	}
	set("name", old.Name, a.Name)
	set("kind", string(old.Kind), string(a.Kind))
	set("status", string(old.Status), string(a.Status))
	set("contact", old.Contact, a.Contact)
	set("address", old.Address, a.Address)
	set("locale", old.Locale, a.Locale)
	set("currency", old.Currency, a.Currency)
	set("time_zone", old.TimeZone, a.TimeZone)
	set("credit_limit", old.CreditLimit.String(), a.CreditLimit.String())
	set("payment_terms_days", old.PaymentTermsDays, a.PaymentTermsDays)
	set("external_id", old.ExternalID, a.ExternalID)
	set("vat_id", old.VATID, a.VATID)
	if o, n := sellingJSON(old.Selling), sellingJSON(a.Selling); o != n {
		ch["selling"] = []json.RawMessage{json.RawMessage(o), json.RawMessage(n)}
	}
	return ch
}

// sellingJSON is the stored form of a seller's settings.
func sellingJSON(s account.Selling) string {
	b, err := json.Marshal(s)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// AccountsByIDs loads many accounts at once (system use: engines that walk
// the tree in batches), keyed by id; missing ids are left out.
func (db *DB) AccountsByIDs(ctx context.Context, ids []int64) (map[int64]*account.Account, error) {
	out := make(map[int64]*account.Account, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.Read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE `+db.anyID("id", 1), db.idsArg(ids))
	if err != nil {
		return nil, fmt.Errorf("accounts by ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out[a.ID] = a
	}
	return out, rows.Err()
}
