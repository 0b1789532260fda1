package account

import (
	"strings"
	"testing"

	"github.com/marketplane/marketplane"
)

// TestCheckEdit is the table of who may change which account field: the
// account's own staff its own fields, the seller side (staff above, the
// system) also the seller's; status, kind and parent never by an edit.
func TestCheckEdit(t *testing.T) {
	t.Parallel()
	base := func() *Account {
		return &Account{ID: 5, ParentID: 4, Path: pathC, Kind: Customer, Name: "C", Locale: "en-US", Currency: "USD",
			TimeZone: "UTC", Status: StatusActive, CreditLimit: 100_000_000, PaymentTermsDays: 14,
			Address: Address{City: "Boston", Country: "US"}}
	}
	cases := []struct {
		field string
		edit  func(a *Account)
		self  bool // may the account's own staff change it
		any   bool // may anybody change it by an edit
	}{
		{"name", func(a *Account) { a.Name = "C Inc." }, true, true},
		{"contact", func(a *Account) { a.Contact.Email = "x@c.example" }, true, true},
		{"address.city", func(a *Account) { a.Address.City = "Salem" }, true, true},
		{"locale", func(a *Account) { a.Locale = "de-DE" }, true, true},
		{"time_zone", func(a *Account) { a.TimeZone = "Europe/Berlin" }, true, true},
		{"selling", func(a *Account) { a.Selling.Proration = ProrateNone }, true, true},
		{"credit_limit", func(a *Account) { a.CreditLimit = 99_999_999_000_000 }, false, true},
		{"payment_terms_days", func(a *Account) { a.PaymentTermsDays = 365 }, false, true},
		{"currency", func(a *Account) { a.Currency = "EUR" }, false, true},
		{"vat_id", func(a *Account) { a.VATID = "DE123" }, false, true},
		{"address.country", func(a *Account) { a.Address.Country = "DE" }, false, true},
		{"external_id", func(a *Account) { a.ExternalID = "x" }, false, true},
		{"status", func(a *Account) { a.Status = StatusActive + "x" }, false, false},
		{"kind", func(a *Account) { a.Kind = Reseller }, false, false},
		{"parent_id", func(a *Account) { a.ParentID = 2 }, false, false},
	}
	for _, c := range cases {
		for _, ed := range []struct {
			name   string
			editor Editor
			want   bool
		}{{"self", EditorSelf, c.self}, {"seller", EditorSeller, c.any}} {
			a := base()
			c.edit(a)
			err := CheckEdit(ed.editor, base(), a)
			if ed.want && err != nil {
				t.Errorf("%s changing %s: %v, want allowed", ed.name, c.field, err)
			}
			if !ed.want {
				var e *marketplane.Error
				if !errorsAs(err, &e) || e.Code != marketplane.EFORBIDDEN || e.Fields[c.field] == "" {
					t.Errorf("%s changing %s: %v, want EFORBIDDEN naming %s", ed.name, c.field, err, c.field)
				}
			}
		}
	}
	// Nothing changed: nothing to refuse.
	if err := CheckEdit(EditorSelf, base(), base()); err != nil {
		t.Errorf("no change: %v", err)
	}
	// Every field ChangedFields can name has an owner in the table.
	for _, c := range cases {
		if OwnerOf(c.field) == OwnedByNobody && c.any {
			t.Errorf("%s has no owner in AccountFields", c.field)
		}
	}
}

func TestEditorOf(t *testing.T) {
	t.Parallel()
	admin := roleGrants(t, RoleAdmin)
	cases := []struct {
		name     string
		actor    *Actor
		path     string
		parentID int64
		want     Editor
	}{
		{"customer's own staff", actorAt(pathC, admin), pathC, 4, EditorSelf},
		{"L2 reseller's own staff", actorAt(pathA1, admin), pathA1, 2, EditorSelf},
		{"the customer's vendor", actorAt(pathA1, admin), pathC, 4, EditorSeller},
		{"an L1 above", actorAt(pathA, admin), pathC, 4, EditorSeller},
		{"the provider's own staff on the provider", actorAt(pathP, admin), pathP, 0, EditorSeller},
		{"Marketplane itself", SystemActor(), pathC, 4, EditorSeller},
	}
	for _, c := range cases {
		if got := EditorOf(c.actor, c.path, c.parentID); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCheckCurrencyChange(t *testing.T) {
	t.Parallel()
	old := &Account{ID: 5, Currency: "USD"}
	for _, c := range []struct {
		to    string
		inUse bool
		code  string
	}{{"USD", true, ""}, {"EUR", false, ""}, {"EUR", true, marketplane.ECONFLICT}} {
		err := CheckCurrencyChange(old, &Account{ID: 5, Currency: c.to}, c.inUse)
		if got := marketplane.ErrorCode(err); got != c.code {
			t.Errorf("USD→%s in use %v: %q (%v), want %q", c.to, c.inUse, got, err, c.code)
		}
	}
}

// TestValidateRefusesUnrealInput: a currency that is not a circulating
// ISO 4217 one, a name with nothing visible or a bidi override, a tax
// rate in exponent form.
func TestValidateRefusesUnrealInput(t *testing.T) {
	t.Parallel()
	good := func() *Account {
		return &Account{ID: 5, ParentID: 4, Kind: Customer, Name: "C", Locale: "en-US", Currency: "USD",
			TimeZone: "UTC", Status: StatusActive, Address: Address{Country: "US"}}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("good account: %v", err)
	}
	withInstructions := good()
	withInstructions.Selling.PaymentInstructions = "Bank: Example\r\n\tIBAN: DE89 3704 0044 0532 0130 00\n\nBIC: COBADEFFXXX"
	if err := withInstructions.Validate(); err != nil {
		t.Fatalf("payment instructions of a few lines: %v", err)
	}
	cases := []struct {
		field string
		edit  func(a *Account)
	}{
		{"currency", func(a *Account) { a.Currency = "ZZZ" }},
		{"currency", func(a *Account) { a.Currency = "XXX" }},
		{"currency", func(a *Account) { a.Currency = "BTC" }},
		{"name", func(a *Account) { a.Name = "\u200b" }},
		{"name", func(a *Account) { a.Name = "\u202e" }},
		{"name", func(a *Account) { a.Name = "Acme\u202egpj.exe" }},
		{"contact.name", func(a *Account) { a.Contact.Name = "\ufeff" }},
		{"selling.tax_rates.DE", func(a *Account) { a.Selling.TaxRates = map[string]string{"DE": "1.9e1"} }},
		{"selling.payment_instructions", func(a *Account) { a.Selling.PaymentInstructions = "IBAN: DE89\n\u202eXXX" }},
		{"selling.payment_instructions", func(a *Account) { a.Selling.PaymentInstructions = "IBAN\x00" }},
		{"selling.payment_instructions", func(a *Account) { a.Selling.PaymentInstructions = strings.Repeat("x", 1001) }},
	}
	for _, c := range cases {
		a := good()
		c.edit(a)
		var e *marketplane.Error
		if err := a.Validate(); !errorsAs(err, &e) || e.Fields[c.field] == "" {
			t.Errorf("%s: %v, want a field error on %s", c.field, err, c.field)
		}
	}
	u := &User{Login: "ann\u200b"}
	if err := u.Validate(); err == nil {
		t.Errorf("login with a zero-width space accepted")
	}
	r := &Role{Name: "\u2066\u2069", Grants: []Grant{{PrivOrders, "view", ""}}}
	if err := r.Validate(); err == nil {
		t.Errorf("role named with isolates only accepted")
	}
}
