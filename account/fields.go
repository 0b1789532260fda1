package account

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/marketplane/marketplane"
)

// Owner says who may set a field of an account once the account exists.
// "May manage my account" is not "may set my own terms": the fields that
// decide what an account pays, how much it may owe and what tax it is
// charged belong to the seller above it, not to the account.
type Owner string

// Field owners.
const (
	// OwnedByAccount: the account's own staff (own_account at manage)
	// and the staff of the accounts above it that manage it.
	OwnedByAccount Owner = "account"
	// OwnedBySeller: only staff of an account above (the seller side,
	// customer_accounts at manage reaching it) and Marketplane itself
	// (CLI, billing). The provider has nobody above it: its own staff
	// hold its seller fields.
	OwnedBySeller Owner = "seller"
	// OwnedByNobody: fixed when the account is made, or changed only by
	// Marketplane's own bookkeeping (version, timestamps, the tree).
	OwnedByNobody Owner = "nobody"
)

// FieldRule is who may set one account field, and through which
// operation.
type FieldRule struct {
	// Field is the field's name in the API (JSON), dotted for nested ones.
	Field string
	Owner Owner
	// Via is the operation that changes the field.
	Via string
	// Why is the reason, for the table in docs/fields.md.
	Why string
}

// AccountFields is the one table of who may set each account field. The
// store enforces it on every update (CheckEdit), so the API, the CLI and
// the panels get the same answer; docs/fields.md quotes it.
var AccountFields = []FieldRule{
	{"name", OwnedByAccount, "PATCH /accounts/{id}", "the account's own name"},
	{"contact", OwnedByAccount, "PATCH /accounts/{id}", "the account's own people"},
	{"address.line1 … address.postal_code", OwnedByAccount, "PATCH /accounts/{id}", "the account's own postal address"},
	{"address.country", OwnedBySeller, "PATCH /accounts/{id}", "decides the tax the seller charges (tax rates are by buyer country)"},
	{"vat_id", OwnedBySeller, "PATCH /accounts/{id}", "decides reverse charge: a buyer that set its own would choose to pay no tax"},
	{"locale", OwnedByAccount, "PATCH /accounts/{id}", "the language the account reads"},
	{"time_zone", OwnedByAccount, "PATCH /accounts/{id}", "the account's own clock for panels and notices"},
	{"currency", OwnedBySeller, "PATCH /accounts/{id}", "prices, documents and the ledger are in it; fixed once the account has a subscription, document or ledger entry"},
	{"credit_limit", OwnedBySeller, "PATCH /accounts/{id}", "how far the seller lets the buyer go into debt"},
	{"payment_terms_days", OwnedBySeller, "PATCH /accounts/{id}", "net days the seller gives the buyer's invoices"},
	{"external_id", OwnedBySeller, "PATCH /accounts/{id}", "the parent's integration key for the account"},
	{"selling", OwnedByAccount, "PATCH /accounts/{id}", "how the account sells to its own buyers (proration, tax rates, invoicing, the terms it gives them)"},
	{"status", OwnedBySeller, "POST /accounts/{id}/status, credit hold routes", "holds, release and cancellation are the seller's; nobody changes its own status"},
	{"kind", OwnedBySeller, "POST /accounts/{id}/convert-to-reseller", "whether the account may sell is the seller's decision"},
	{"parent_id", OwnedBySeller, "POST /accounts/{id}/move", "who sells to the account"},
	{"terms", OwnedBySeller, "PUT /accounts/{id}/terms", "grace days, delayed charges, what a hold does"},
	{"id, path, depth, level, version, created_at, updated_at", OwnedByNobody, "—", "kept by Marketplane"},
}

// Editor is how an actor stands to an account it edits.
type Editor int

// Editors.
const (
	// EditorSelf is the account's own staff.
	EditorSelf Editor = iota
	// EditorSeller is staff of an account above it, or Marketplane itself.
	EditorSeller
)

// EditorOf is how actor stands to the account at path: the system actor
// and staff of an ancestor are the seller; the account's own staff are
// itself, except on the provider (parentID 0), whose seller fields have
// nobody else to set them.
func EditorOf(actor *Actor, path string, parentID int64) Editor {
	if actor.System || parentID == 0 || Relate(actor.AccountPath, path) != Self {
		return EditorSeller
	}
	return EditorSelf
}

// ChangedFields names the fields of AccountFields that differ between old
// and a (the editable ones: not status, kind, parent, which have their own
// operations, nor Marketplane's bookkeeping).
func ChangedFields(old, a *Account) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("name", strings.TrimSpace(old.Name) != strings.TrimSpace(a.Name))
	add("contact", old.Contact != a.Contact)
	add("address.line1", old.Address.Line1 != a.Address.Line1)
	add("address.line2", old.Address.Line2 != a.Address.Line2)
	add("address.city", old.Address.City != a.Address.City)
	add("address.region", old.Address.Region != a.Address.Region)
	add("address.postal_code", old.Address.PostalCode != a.Address.PostalCode)
	add("address.country", old.Address.Country != a.Address.Country)
	add("vat_id", old.VATID != a.VATID)
	add("locale", old.Locale != a.Locale)
	add("time_zone", old.TimeZone != a.TimeZone)
	add("currency", old.Currency != a.Currency)
	add("credit_limit", old.CreditLimit != a.CreditLimit)
	add("payment_terms_days", old.PaymentTermsDays != a.PaymentTermsDays)
	add("external_id", old.ExternalID != a.ExternalID)
	add("selling", !sameSelling(old.Selling, a.Selling))
	add("status", old.Status != a.Status)
	add("kind", old.Kind != a.Kind)
	add("parent_id", old.ParentID != a.ParentID)
	return out
}

// OwnerOf is the owner of field (a name ChangedFields returns).
func OwnerOf(field string) Owner {
	if strings.HasPrefix(field, "address.") && field != "address.country" {
		return OwnedByAccount
	}
	for _, r := range AccountFields {
		if r.Field == field {
			return r.Owner
		}
	}
	// A field the table does not know is nobody's to edit: adding a
	// field means deciding its owner here.
	return OwnedByNobody
}

// CheckEdit decides whether editor may change old into a. It returns nil,
// or an EFORBIDDEN *marketplane.Error naming every field the editor may
// not set. Status, kind and parent change through their own operations,
// never through an edit, whoever edits.
func CheckEdit(editor Editor, old, a *Account) error {
	var f marketplane.FieldErrors
	for _, name := range ChangedFields(old, a) {
		switch owner := OwnerOf(name); {
		case name == "status" || name == "kind" || name == "parent_id":
			f.Add(name, "changes through its own operation, not an edit")
		case owner == OwnedByNobody:
			f.Add(name, "cannot be changed")
		case owner == OwnedBySeller && editor != EditorSeller:
			f.Add(name, "is set by the seller above this account; its own users may not change it")
		}
	}
	if len(f) == 0 {
		return nil
	}
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	slices.Sort(names)
	return &marketplane.Error{Code: marketplane.EFORBIDDEN,
		Message: fmt.Sprintf("you may not change %s of this account", strings.Join(names, ", ")), Fields: f}
}

// CheckCurrencyChange refuses a change of currency on an account that
// holds subscriptions, documents or ledger entries (inUse): their amounts
// are in the old currency, and no exchange turns them into the new one.
// Nobody may do it, the seller included.
func CheckCurrencyChange(old, a *Account, inUse bool) error {
	if old.Currency == a.Currency || !inUse {
		return nil
	}
	return &marketplane.Error{Code: marketplane.ECONFLICT,
		Message: fmt.Sprintf("account %d has subscriptions, documents or ledger entries in %s; its currency cannot change", old.ID, old.Currency),
		Fields:  map[string]string{"currency": "cannot change once the account has a subscription, document or payment"}}
}

// sameSelling compares two settings as they are stored (JSON: map keys
// in order, empty maps and nil pointers left out).
func sameSelling(a, b Selling) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
