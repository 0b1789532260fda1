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
	"github.com/marketplane/marketplane/delegation"
)

// DelegationTerms are the terms a parent has set on one child reseller.
// A child without terms has the zero Terms, SetBy 0 and no UpdatedAt.
type DelegationTerms struct {
	ChildID   int64
	SetBy     int64 // the parent account that set them
	Terms     delegation.Terms
	UpdatedAt time.Time
}

// SetDelegationTerms sets the restrictions and the prohibit-cascade flag of
// reseller childID. They are its parent's to set: the actor needs catalog
// "manage" on the child's parent (the child itself may read them but gets
// EFORBIDDEN here). Errors: ENOTFOUND, EFORBIDDEN, EINVALID (unknown
// restrictions; the account is not a reseller).
func (db *DB) SetDelegationTerms(ctx context.Context, actor *account.Actor, childID int64, terms delegation.Terms) (*DelegationTerms, error) {
	return db.SetDelegationTermsIf(ctx, actor, childID, terms, nil)
}

// SetDelegationTermsIf is SetDelegationTerms with a precondition: ifMatch
// (nil: none) gets the terms as stored (the zero DelegationTerms of its
// child when never set), in the transaction that replaces them, once the
// actor may; its error leaves them as they were (the API's If-Match).
func (db *DB) SetDelegationTermsIf(ctx context.Context, actor *account.Actor, childID int64, terms delegation.Terms,
	ifMatch func(cur *DelegationTerms) error) (*DelegationTerms, error) {
	out := &DelegationTerms{ChildID: childID, Terms: terms}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		child, err := loadSeller(ctx, tx, actor, childID)
		if err != nil {
			return err
		}
		if child.ParentID == 0 {
			if err := account.Authorize(actor, account.ViewCatalog, child.Target); err != nil {
				return err
			}
			return &marketplane.Error{Code: marketplane.EINVALID, Message: "the provider has no parent to set delegation terms on it"}
		}
		parent := account.Target{AccountID: child.ParentID, Path: parentPath(child.Path)}
		if err := account.Authorize(actor, account.ManageCatalog, parent); err != nil {
			// The child sees its own terms: to it they are forbidden, not
			// missing.
			if marketplane.ErrorCode(err) == marketplane.ENOTFOUND && account.Authorize(actor, account.ViewCatalog, child.Target) == nil {
				return marketplane.Errorf(marketplane.EFORBIDDEN, "delegation terms are set by the parent account")
			}
			return err
		}
		if child.Kind != account.Reseller {
			return &marketplane.Error{Code: marketplane.EINVALID,
				Message: fmt.Sprintf("delegation terms are set on resellers; account %d is a %s", childID, child.Kind)}
		}
		if err := terms.Validate(); err != nil {
			return err
		}
		if terms.Restrictions == nil {
			terms.Restrictions = []delegation.Restriction{}
		}
		cur := &DelegationTerms{ChildID: childID, Terms: delegation.Terms{Restrictions: []delegation.Restriction{}}}
		var raw string
		switch err := tx.QueryRowContext(ctx, `SELECT set_by, body, updated_at FROM delegation_terms t WHERE child_account_id = $1`+
			db.lockRows("t"), childID).Scan(&cur.SetBy, &raw, ts(&cur.UpdatedAt)); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("delegation terms of %d: %w", childID, err)
		default:
			if err := json.Unmarshal([]byte(raw), &cur.Terms); err != nil {
				return fmt.Errorf("delegation terms of %d: %w", childID, err)
			}
		}
		if ifMatch != nil {
			if err := ifMatch(cur); err != nil {
				return err
			}
		}
		old := cur.Terms
		body, err := bodyOf(terms)
		if err != nil {
			return err
		}
		out.SetBy, out.UpdatedAt, out.Terms = parent.AccountID, db.stamp(), terms
		if _, err := tx.ExecContext(ctx, `INSERT INTO delegation_terms (child_account_id, set_by, body, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (child_account_id) DO UPDATE SET set_by = excluded.set_by, body = excluded.body, updated_at = excluded.updated_at`,
			childID, parent.AccountID, body, tv(out.UpdatedAt)); err != nil {
			return fmt.Errorf("delegation terms of %d: %w", childID, err)
		}
		return db.audit(ctx, tx, actor, child.AccountID, child.Path, "delegation_terms.set", "delegation_terms", childID,
			jsonChanges(old, terms))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DelegationTerms returns the terms of reseller childID: readable by the
// child itself and by the accounts above it that see its catalog.
func (db *DB) DelegationTerms(ctx context.Context, actor *account.Actor, childID int64) (*DelegationTerms, error) {
	if _, err := db.sellerFor(ctx, db.Read, actor, account.ViewCatalog, childID); err != nil {
		return nil, err
	}
	out := &DelegationTerms{ChildID: childID, Terms: delegation.Terms{Restrictions: []delegation.Restriction{}}}
	var raw string
	err := db.Read.QueryRowContext(ctx, `SELECT set_by, body, updated_at FROM delegation_terms WHERE child_account_id = $1`, childID).
		Scan(&out.SetBy, &raw, ts(&out.UpdatedAt))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return out, nil
	case err != nil:
		return nil, fmt.Errorf("delegation terms of %d: %w", childID, err)
	}
	if err := json.Unmarshal([]byte(raw), &out.Terms); err != nil {
		return nil, fmt.Errorf("delegation terms of %d: %w", childID, err)
	}
	return out, nil
}

// DelegationTermsOf loads the terms of many child resellers at once (system
// use: the sync engine, which authorized its caller at its start). Children
// without terms are left out of the map: their terms are the zero Terms.
func (db *DB) DelegationTermsOf(ctx context.Context, childIDs []int64) (map[int64]delegation.Terms, error) {
	out := make(map[int64]delegation.Terms, len(childIDs))
	if len(childIDs) == 0 {
		return out, nil
	}
	rows, err := db.Read.QueryContext(ctx, `SELECT child_account_id, body FROM delegation_terms WHERE `+
		db.anyID("child_account_id", 1), db.idsArg(childIDs))
	if err != nil {
		return nil, fmt.Errorf("delegation terms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("delegation terms: %w", err)
		}
		var t delegation.Terms
		if err := json.Unmarshal([]byte(raw), &t); err != nil {
			return nil, fmt.Errorf("delegation terms of %d: %w", id, err)
		}
		out[id] = t
	}
	return out, rows.Err()
}
