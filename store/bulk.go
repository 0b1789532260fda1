package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
)

// bulkAccountColumns are the columns CreateAccountsBulk fills, in the order
// of bulkAccountRow.
var bulkAccountColumns = []string{"id", "parent_id", "path", "depth", "kind", "name",
	"contact_name", "contact_email", "contact_phone",
	"address_line1", "address_line2", "address_city", "address_region", "address_postal_code", "country",
	"locale", "currency", "time_zone", "status", "credit_limit", "payment_terms_days", "external_id",
	"version", "created_at", "updated_at"}

// CreateAccountsBulk creates many resellers and customers at once, as
// Marketplane itself (data generators, imports, the demo loader): no actor
// is checked, and one audit entry ("account.bulk_create") records the whole
// batch. Use CreateAccount for anything a user asks for.
//
// Every account needs its ParentID. A parent is either an existing account
// or an account earlier in accts: give that one a negative placeholder ID
// (-1, -2, …, unique in the batch) and use the placeholder as its children's
// ParentID. On success every account has its real ID, ParentID, Path, Depth,
// Version and timestamps; Status defaults to active.
//
// The batch is one transaction: ids are reserved first so that paths can be
// computed before inserting, then rows go in with the engine's fast path
// (COPY on PostgreSQL, multi-row INSERT on SQLite). Any bad account fails the
// whole batch and nothing is created. Errors: EINVALID naming the account's
// index (validation, unknown or unfit parent), ECONFLICT (an external id
// taken under the same parent).
func (db *DB) CreateAccountsBulk(ctx context.Context, accts []*account.Account) error {
	if len(accts) == 0 {
		return nil
	}
	// Check everything that needs no database first.
	placeholder := make(map[int64]int) // placeholder id → index in accts
	type extKey struct {
		parent int64
		ext    string
	}
	exts := make(map[extKey]int)
	for i, a := range accts {
		if a == nil {
			return bulkErr(i, "account", "is missing")
		}
		if a.Status == "" {
			a.Status = account.StatusActive
		}
		if a.Kind == account.Provider {
			return bulkErr(i, "kind", "only resellers and customers can be created; the provider exists once")
		}
		if err := a.Validate(); err != nil {
			return fmt.Errorf("account %d of the batch: %w", i, err)
		}
		if a.ParentID < 0 {
			j, ok := placeholder[a.ParentID]
			if !ok {
				return bulkErr(i, "parent_id", fmt.Sprintf("placeholder %d names no earlier account of the batch", a.ParentID))
			}
			if !accts[j].CanHaveChildren() {
				return bulkErr(i, "parent_id", "a customer cannot have child accounts")
			}
		}
		switch {
		case a.ID < 0:
			if _, dup := placeholder[a.ID]; dup {
				return bulkErr(i, "id", fmt.Sprintf("placeholder %d is used twice", a.ID))
			}
			placeholder[a.ID] = i
		case a.ID > 0:
			return bulkErr(i, "id", "must be 0 or a negative placeholder; ids are given by the database")
		}
		if a.ExternalID != "" {
			k := extKey{a.ParentID, a.ExternalID}
			if j, dup := exts[k]; dup {
				return marketplane.Errorf(marketplane.ECONFLICT,
					"accounts %d and %d of the batch have the same external id %q under the same parent", j, i, a.ExternalID)
			}
			exts[k] = i
		}
	}

	// One connection carries the transaction, so that PostgreSQL's COPY
	// (which needs the driver's own connection) runs inside it.
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("bulk create accounts: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bulk create accounts: begin: %w", err)
	}
	defer tx.Rollback()

	parents, err := bulkParents(ctx, tx, accts)
	if err != nil {
		return err
	}
	ids, err := db.dialect.reserveIDs(ctx, tx, "accounts", len(accts))
	if err != nil {
		return err
	}
	if len(ids) != len(accts) {
		return fmt.Errorf("bulk create accounts: reserved %d ids for %d accounts", len(ids), len(accts))
	}
	// Real parent id and path of every account; paths of the batch are
	// known before any row is written because the ids are.
	parentIDs := make([]int64, len(accts))
	paths := make([]string, len(accts))
	for i, a := range accts {
		var pp string
		if a.ParentID < 0 {
			j := placeholder[a.ParentID]
			parentIDs[i], pp = ids[j], paths[j]
		} else {
			parentIDs[i], pp = a.ParentID, parents[a.ParentID]
		}
		paths[i] = account.ChildPath(pp, ids[i])
	}
	// Both engines keep microseconds; the accounts handed back carry the
	// time as stored.
	now := db.Clock.Now().Truncate(time.Microsecond)
	row := func(i int) ([]any, error) {
		a := accts[i]
		var ext any
		if a.ExternalID != "" {
			ext = a.ExternalID
		}
		return []any{ids[i], parentIDs[i], paths[i], account.Depth(paths[i]), string(a.Kind), strings.TrimSpace(a.Name),
			a.Contact.Name, a.Contact.Email, a.Contact.Phone,
			a.Address.Line1, a.Address.Line2, a.Address.City, a.Address.Region, a.Address.PostalCode, a.Address.Country,
			a.Locale, a.Currency, a.TimeZone, string(a.Status), int64(a.CreditLimit), a.PaymentTermsDays, ext,
			int64(1), now, now}, nil
	}
	if err := db.bulk().insertRows(ctx, conn, tx, "accounts", bulkAccountColumns, len(accts), row); err != nil {
		if isUniqueViolation(err) {
			return marketplane.Errorf(marketplane.ECONFLICT, "an external id of the batch is taken under its parent: %v", err)
		}
		return fmt.Errorf("bulk create accounts: %w", err)
	}
	// The entry belongs to the deepest account above every parent of the
	// batch, so that the reseller whose subtree received the accounts sees
	// it in its audit log.
	top := commonAncestor(paths)
	var topID int64
	if anc := account.IDs(top); len(anc) > 0 {
		topID = anc[len(anc)-1]
	}
	if err := db.audit(ctx, tx, account.SystemActor(), topID, top, "account.bulk_create", "account", 0,
		map[string]any{"count": len(accts)}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bulk create accounts: commit: %w", err)
	}
	for i, a := range accts {
		a.ID, a.ParentID, a.Path, a.Depth = ids[i], parentIDs[i], paths[i], account.Depth(paths[i])
		a.Version, a.CreatedAt, a.UpdatedAt = 1, now, now
	}
	return nil
}

// bulkParents loads the paths of the existing parents of accts and checks
// that each may hold children, like CreateAccount does.
func bulkParents(ctx context.Context, q querier, accts []*account.Account) (map[int64]string, error) {
	first := make(map[int64]int) // parent id → first account index naming it
	var want []int64
	for i, a := range accts {
		if a.ParentID > 0 {
			if _, ok := first[a.ParentID]; !ok {
				first[a.ParentID] = i
				want = append(want, a.ParentID)
			}
		}
	}
	type parent struct {
		path   string
		kind   account.Kind
		status account.Status
	}
	found := make(map[int64]parent, len(want))
	// IN lists of bounded size work alike on both engines.
	const chunk = 500
	for start := 0; start < len(want); start += chunk {
		part := want[start:min(start+chunk, len(want))]
		args := make([]any, len(part))
		marks := make([]string, len(part))
		for i, id := range part {
			args[i] = id
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		rows, err := q.QueryContext(ctx, `SELECT id, path, kind, status FROM accounts WHERE id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("bulk create accounts: parents: %w", err)
		}
		for rows.Next() {
			var id int64
			var p parent
			if err := rows.Scan(&id, &p.path, &p.kind, &p.status); err != nil {
				rows.Close()
				return nil, fmt.Errorf("bulk create accounts: parents: %w", err)
			}
			found[id] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("bulk create accounts: parents: %w", err)
		}
	}
	paths := make(map[int64]string, len(found))
	for _, id := range want {
		p, ok := found[id]
		i := first[id]
		switch {
		case !ok:
			return nil, bulkErr(i, "parent_id", "no such account")
		case p.kind == account.Customer:
			return nil, bulkErr(i, "parent_id", "a customer cannot have child accounts; convert it to a reseller first")
		case p.status == account.StatusCancelled:
			return nil, bulkErr(i, "parent_id", "the parent account is cancelled")
		}
		paths[id] = p.path
	}
	return paths, nil
}

// commonAncestor is the path of the deepest account above all of paths.
func commonAncestor(paths []string) string {
	prefix := parentPath(paths[0])
	for _, p := range paths[1:] {
		for !strings.HasPrefix(p, prefix) {
			prefix = parentPath(prefix)
		}
	}
	return prefix
}

// parentPath cuts the last id off path: "/1/7/42/" → "/1/7/".
func parentPath(path string) string {
	t := strings.TrimSuffix(path, "/")
	return t[:strings.LastIndexByte(t, '/')+1]
}

// bulkErr is an EINVALID error about one field of account i of a batch.
func bulkErr(i int, field, msg string) error {
	return &marketplane.Error{Code: marketplane.EINVALID, Message: fmt.Sprintf("invalid account %d of the batch", i),
		Fields: map[string]string{field: msg}}
}
