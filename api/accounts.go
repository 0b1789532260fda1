package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
)

// Account is an account of the tree as the API shows it.
type Account struct {
	ID               int64     `json:"id"`
	ParentID         int64     `json:"parent_id,omitempty" doc:"The vendor above this account; absent for the provider."`
	Kind             string    `json:"kind" enum:"provider,reseller,customer"`
	Level            string    `json:"level,omitempty" doc:"L1, L2 … for resellers; absent otherwise." example:"L1"`
	Depth            int       `json:"depth" doc:"0 for the provider, 1 for the accounts below it …"`
	Name             string    `json:"name"`
	Contact          Contact   `json:"contact"`
	Address          Address   `json:"address"`
	Locale           string    `json:"locale" example:"en-US"`
	Currency         string    `json:"currency" example:"USD"`
	TimeZone         string    `json:"time_zone" example:"Europe/Berlin"`
	Status           string    `json:"status" enum:"pending,active,credit_hold,admin_hold,cancelled"`
	CreditLimit      string    `json:"credit_limit" example:"1000.00" doc:"Decimal amount in the account's currency." price:"true"`
	PaymentTermsDays int       `json:"payment_terms_days" example:"30"`
	ExternalID       string    `json:"external_id,omitempty" doc:"A key owned by an integration, unique under the parent."`
	VATID            string    `json:"vat_id,omitempty" doc:"VAT registration, for reverse charge between businesses."`
	Selling          Selling   `json:"selling" doc:"How the account sells (providers and resellers)."`
	Version          int64     `json:"version" doc:"Grows with every change; also the ETag."`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Selling is how an account sells to its customers.
type Selling struct {
	Proration  string            `json:"proration,omitempty" enum:"prorate,prorate_invoice,none" doc:"Proration of mid-period changes: prorated charges now (prorate, the default), prorated and invoiced at once even when invoicing on a statement day (prorate_invoice), or none."`
	Downgrades string            `json:"downgrades,omitempty" enum:"now,next_billing_date" doc:"When downgrades take effect; default now."`
	TaxRates   map[string]string `json:"tax_rates,omitempty" doc:"Tax in percent charged to buyers by country, e.g. {\"DE\": \"19\"}."`
	// Expiry of subscriptions that do not renew.
	ExpiryGraceDays *int           `json:"expiry_grace_days,omitempty" minimum:"0" maximum:"365" doc:"Days a subscription that does not renew runs on (graced) after its period ends; default 7."`
	ExpiryHoldDays  *int           `json:"expiry_hold_days,omitempty" minimum:"0" maximum:"365" doc:"Days it is then suspended before it is terminated; default 14."`
	Invoicing       string         `json:"invoicing,omitempty" enum:"on_completion,statement" doc:"When charges become invoices: at once (on_completion, the default) or gathered per buyer on the statement day."`
	StatementDay    int            `json:"statement_day,omitempty" minimum:"0" maximum:"31" doc:"Day of the month of the statement (default 1; the last day of shorter months)."`
	CustomerTerms   *account.Terms `json:"customer_terms,omitempty" doc:"Payment terms of the seller's customers that have none of their own."`
	ResellerTerms   *account.Terms `json:"reseller_terms,omitempty" doc:"Payment terms of the seller's resellers that have none of their own."`
	// PaymentInstructions are printed on the seller's open invoices.
	PaymentInstructions string `json:"payment_instructions,omitempty" maxLength:"1000" example:"Bank: Example Bank\nIBAN: DE89 3704 0044 0532 0130 00\nBIC: COBADEFFXXX" doc:"How the seller's buyers pay its invoices (bank, IBAN and BIC, a payment page): a few lines of plain text, printed under Payment on every open invoice."`
}

// Contact is the person to talk to at an account.
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// Address is a postal address.
type Address struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	Region     string `json:"region"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country" example:"US" doc:"ISO 3166-1 alpha-2."`
}

func accountView(a *account.Account) Account {
	return Account{
		ID: a.ID, ParentID: a.ParentID, Kind: string(a.Kind), Level: a.Level(), Depth: a.Depth, Name: a.Name,
		Contact: Contact(a.Contact), Address: Address(a.Address),
		Locale: a.Locale, Currency: a.Currency, TimeZone: a.TimeZone, Status: string(a.Status),
		CreditLimit: a.CreditLimit.String(), PaymentTermsDays: a.PaymentTermsDays, ExternalID: a.ExternalID,
		VATID: a.VATID, Selling: Selling(a.Selling), Version: a.Version, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

// ContactInput sets contact fields; absent fields are left alone.
type ContactInput struct {
	Name  *string `json:"name,omitempty" maxLength:"200"`
	Email *string `json:"email,omitempty" maxLength:"200"`
	Phone *string `json:"phone,omitempty" maxLength:"50"`
}

func (c *ContactInput) applyTo(dst *account.Contact) {
	if c == nil {
		return
	}
	set(&dst.Name, c.Name)
	set(&dst.Email, c.Email)
	set(&dst.Phone, c.Phone)
}

// AddressInput sets address fields; absent fields are left alone.
type AddressInput struct {
	Line1      *string `json:"line1,omitempty" maxLength:"200"`
	Line2      *string `json:"line2,omitempty" maxLength:"200"`
	City       *string `json:"city,omitempty" maxLength:"100"`
	Region     *string `json:"region,omitempty" maxLength:"100"`
	PostalCode *string `json:"postal_code,omitempty" maxLength:"20"`
	Country    *string `json:"country,omitempty" example:"US" doc:"ISO 3166-1 alpha-2; every account needs one."`
}

func (in *AddressInput) applyTo(dst *account.Address) {
	if in == nil {
		return
	}
	set(&dst.Line1, in.Line1)
	set(&dst.Line2, in.Line2)
	set(&dst.City, in.City)
	set(&dst.Region, in.Region)
	set(&dst.PostalCode, in.PostalCode)
	set(&dst.Country, in.Country)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// parseMoney reads an optional decimal amount into dst, recording a field
// error when it is not one.
func parseMoney(f *marketplane.FieldErrors, field string, s *string, dst *money.Micros) {
	if s == nil {
		return
	}
	m, err := money.Parse(*s)
	if err != nil {
		f.Add(field, "must be a decimal amount such as 1000.00")
		return
	}
	*dst = m
}

// withDomainErrors reports the API's own field errors together with those of
// the domain's validation (validate), so that a client sees every bad field
// at once.
func withDomainErrors(f marketplane.FieldErrors, validate error, what string) error {
	var e *marketplane.Error
	if errors.As(validate, &e) {
		for k, v := range e.Fields {
			f.Add(k, v)
		}
	}
	return f.Err(what)
}

type accountIDPath struct {
	ID int64 `path:"id" doc:"Account id."`
}

// accountListInput is an account's id and a page of one of its small
// lists (see pageLoaded).
type accountListInput struct {
	ID int64 `path:"id" doc:"Account id."`
	PageParams
}

// pageInput is a page of one of the provider's small lists.
type pageInput struct {
	PageParams
}

type accountOutput struct {
	ETag string `header:"ETag"`
	Body Account
}

func accountResponse(a *account.Account) *accountOutput {
	return &accountOutput{ETag: etagOf(a.Version), Body: accountView(a)}
}

type accountCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     Account
}

type listAccountsInput struct {
	Under       int64  `query:"under" doc:"List below this account; default: the caller's own account."`
	Descendants bool   `query:"descendants" doc:"The whole subtree instead of the direct children only."`
	Kind        string `query:"kind" enum:"reseller,customer"`
	Status      string `query:"status" enum:"pending,active,credit_hold,admin_hold,cancelled"`
	Q           string `query:"q" maxLength:"200" doc:"Part of the name, ignoring case."`
	PageParams
}

type accountPage struct {
	Body Page[Account]
}

type createAccountInput struct {
	Body struct {
		ParentID         int64         `json:"parent_id,omitempty" doc:"The vendor of the new account; default: the caller's account."`
		Kind             string        `json:"kind" enum:"reseller,customer"`
		Name             string        `json:"name" maxLength:"200"`
		Contact          *ContactInput `json:"contact,omitempty"`
		Address          AddressInput  `json:"address"`
		Locale           string        `json:"locale" example:"en-US"`
		Currency         string        `json:"currency" example:"USD"`
		TimeZone         string        `json:"time_zone" example:"Europe/Berlin"`
		CreditLimit      *string       `json:"credit_limit,omitempty" example:"1000.00" doc:"Decimal amount; default 0."`
		PaymentTermsDays int           `json:"payment_terms_days,omitempty" example:"30"`
		ExternalID       string        `json:"external_id,omitempty" maxLength:"100"`
		VATID            string        `json:"vat_id,omitempty" maxLength:"30"`
		Selling          *Selling      `json:"selling,omitempty"`
		Status           string        `json:"status,omitempty" enum:"pending,active,credit_hold,admin_hold,cancelled" doc:"Default active."`
	}
}

type updateAccountInput struct {
	ID int64 `path:"id" doc:"Account id."`
	Conditional
	Body struct {
		Name             *string       `json:"name,omitempty" maxLength:"200"`
		Contact          *ContactInput `json:"contact,omitempty"`
		Address          *AddressInput `json:"address,omitempty"`
		Locale           *string       `json:"locale,omitempty"`
		Currency         *string       `json:"currency,omitempty"`
		TimeZone         *string       `json:"time_zone,omitempty"`
		CreditLimit      *string       `json:"credit_limit,omitempty" example:"1000.00"`
		PaymentTermsDays *int          `json:"payment_terms_days,omitempty"`
		ExternalID       *string       `json:"external_id,omitempty" maxLength:"100"`
		VATID            *string       `json:"vat_id,omitempty" maxLength:"30"`
		Selling          *Selling      `json:"selling,omitempty" doc:"Replaces the selling settings as a whole."`
	}
}

type accountActionInput struct {
	ID int64 `path:"id" doc:"Account id."`
	Conditional
}

type setStatusInput struct {
	ID int64 `path:"id" doc:"Account id."`
	Conditional
	Body struct {
		Status  string `json:"status" enum:"pending,active,credit_hold,admin_hold,cancelled"`
		Cascade bool   `json:"cascade,omitempty" doc:"When cancelling, cancel the accounts below too."`
	}
}

type moveAccountInput struct {
	ID int64 `path:"id" doc:"Account id."`
	Conditional
	Body struct {
		ParentID int64 `json:"parent_id" doc:"The new parent."`
	}
}

type countOutput struct {
	Body struct {
		Count int `json:"count"`
	}
}

func (a *API) accountRoutes() {
	const tag = "Accounts"
	register(a, op{id: "get-my-account", method: http.MethodGet, path: "/accounts/me", tag: tag,
		summary: "Get the caller's own account"}, a.getMyAccount)
	register(a, op{id: "list-accounts", method: http.MethodGet, path: "/accounts", tag: tag,
		summary:     "List accounts below an account",
		description: "Direct children of `under` (default: the caller's account), or its whole subtree with `descendants`, in tree order."},
		a.listAccounts)
	register(a, op{id: "create-account", method: http.MethodPost, path: "/accounts", tag: tag,
		summary: "Create a reseller or customer", status: http.StatusCreated, errors: []int{http.StatusConflict}}, a.createAccount)
	register(a, op{id: "get-account", method: http.MethodGet, path: "/accounts/{id}", tag: tag,
		summary: "Get an account"}, a.getAccount)
	register(a, op{id: "update-account", method: http.MethodPatch, path: "/accounts/{id}", tag: tag,
		summary: "Change an account", description: "Changes the fields present in the body; the others stay.",
		errors: []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.updateAccount)
	register(a, op{id: "delete-account", method: http.MethodDelete, path: "/accounts/{id}", tag: tag,
		summary: "Delete an account", description: "Deletes the account with its users, roles and keys. An account with accounts below it cannot be deleted.",
		status: http.StatusNoContent, errors: []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.deleteAccount)
	register(a, op{id: "convert-account-to-reseller", method: http.MethodPost, path: "/accounts/{id}/convert-to-reseller", tag: tag,
		summary: "Make a customer a reseller", errors: []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.convertToReseller)
	register(a, op{id: "set-account-status", method: http.MethodPost, path: "/accounts/{id}/status", tag: tag,
		summary: "Change an account's status",
		description: "Credit hold and its release need the credit_hold privilege; other changes need account administration. Cancelling an account with open accounts below it needs `cascade`. " +
			"A credit or administrative hold suspends the account's own active subscriptions (reason credit_hold or admin_hold) and releasing it resumes them, " +
			"each with the task that suspends or resumes its service; a reseller's customers are not touched.",
		errors: []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusServiceUnavailable}}, a.setAccountStatus)
	register(a, op{id: "move-account", method: http.MethodPost, path: "/accounts/{id}/move", tag: tag,
		summary: "Move an account with its subtree below another parent",
		errors:  []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.moveAccount)
	register(a, op{id: "count-account-descendants", method: http.MethodGet, path: "/accounts/{id}/descendants/count", tag: tag,
		summary: "Count the accounts below an account"}, a.countDescendants)
}

func (a *API) getMyAccount(ctx context.Context, _ *struct{}) (*accountOutput, error) {
	actor := actorFrom(ctx)
	acct, err := a.db.Account(ctx, actor, actor.AccountID)
	if err != nil {
		return nil, err
	}
	return accountResponse(acct), nil
}

func (a *API) getAccount(ctx context.Context, in *accountIDPath) (*accountOutput, error) {
	acct, err := a.db.Account(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return accountResponse(acct), nil
}

func (a *API) listAccounts(ctx context.Context, in *listAccountsInput) (*accountPage, error) {
	after, err := decodeCursor(cursorAccounts, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.ListAccounts(ctx, actorFrom(ctx), store.AccountFilter{
		Under: in.Under, Descendants: in.Descendants, Kind: account.Kind(in.Kind), Status: account.Status(in.Status),
		Search: in.Q, After: after, Limit: in.fetchSize(),
	})
	if err != nil {
		return nil, err
	}
	return &accountPage{Body: paginate(in.PageParams, cursorAccounts, rows,
		func(a *account.Account) string { return a.Path }, accountView)}, nil
}

func (a *API) createAccount(ctx context.Context, in *createAccountInput) (*accountCreated, error) {
	actor := actorFrom(ctx)
	b := &in.Body
	acct := &account.Account{
		ParentID: b.ParentID, Kind: account.Kind(b.Kind), Name: b.Name,
		Locale: b.Locale, Currency: b.Currency, TimeZone: b.TimeZone,
		PaymentTermsDays: b.PaymentTermsDays, ExternalID: b.ExternalID, Status: account.Status(b.Status),
		VATID: b.VATID,
	}
	if b.Selling != nil {
		acct.Selling = account.Selling(*b.Selling)
	}
	if acct.ParentID == 0 {
		acct.ParentID = actor.AccountID
	}
	if acct.Status == "" {
		acct.Status = account.StatusActive
	}
	b.Contact.applyTo(&acct.Contact)
	b.Address.applyTo(&acct.Address)
	var f marketplane.FieldErrors
	parseMoney(&f, "credit_limit", b.CreditLimit, &acct.CreditLimit)
	if len(f) > 0 {
		return nil, withDomainErrors(f, acct.Validate(), "account")
	}
	if err := a.db.CreateAccount(ctx, actor, acct); err != nil {
		return nil, err
	}
	return &accountCreated{ETag: etagOf(acct.Version), Location: Prefix + "/accounts/" + strconv.FormatInt(acct.ID, 10),
		Body: accountView(acct)}, nil
}

func (a *API) updateAccount(ctx context.Context, in *updateAccountInput) (*accountOutput, error) {
	actor := actorFrom(ctx)
	acct, err := a.db.Account(ctx, actor, in.ID)
	if err != nil {
		return nil, err
	}
	// The store compares acct.Version with the row it updates, so a change
	// between this read and the update is caught there (412 as well).
	if err := checkIfMatch(in.IfMatch, etagOf(acct.Version)); err != nil {
		return nil, err
	}
	b := &in.Body
	set(&acct.Name, b.Name)
	b.Contact.applyTo(&acct.Contact)
	b.Address.applyTo(&acct.Address)
	set(&acct.Locale, b.Locale)
	set(&acct.Currency, b.Currency)
	set(&acct.TimeZone, b.TimeZone)
	set(&acct.PaymentTermsDays, b.PaymentTermsDays)
	set(&acct.ExternalID, b.ExternalID)
	set(&acct.VATID, b.VATID)
	if b.Selling != nil {
		acct.Selling = account.Selling(*b.Selling)
	}
	var f marketplane.FieldErrors
	parseMoney(&f, "credit_limit", b.CreditLimit, &acct.CreditLimit)
	if len(f) > 0 {
		return nil, withDomainErrors(f, acct.Validate(), "account")
	}
	if err := a.db.UpdateAccount(ctx, actor, acct); err != nil {
		return nil, err
	}
	return accountResponse(acct), nil
}

// checkAccountIfMatch checks If-Match for the account actions whose store
// methods take no version (status, move, convert, delete). The check and
// the change are two steps, so a change in between is not caught; a client
// that does not send If-Match gets no check at all.
func (a *API) checkAccountIfMatch(ctx context.Context, id int64, ifMatch string) error {
	if ifMatch == "" {
		return nil
	}
	acct, err := a.db.Account(ctx, actorFrom(ctx), id)
	if err != nil {
		return err
	}
	return checkIfMatch(ifMatch, etagOf(acct.Version))
}

func (a *API) deleteAccount(ctx context.Context, in *accountActionInput) (*struct{}, error) {
	if err := a.checkAccountIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	return nil, a.db.DeleteAccount(ctx, actorFrom(ctx), in.ID)
}

func (a *API) convertToReseller(ctx context.Context, in *accountActionInput) (*accountOutput, error) {
	if err := a.checkAccountIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	acct, err := a.db.ConvertToReseller(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return accountResponse(acct), nil
}

func (a *API) setAccountStatus(ctx context.Context, in *setStatusInput) (*accountOutput, error) {
	if err := a.checkAccountIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	// The account's subscriptions follow its holds, each with the task
	// that suspends or resumes its service (queueStatus).
	acct, err := a.db.SetAccountStatusWith(ctx, actorFrom(ctx), in.ID, account.Status(in.Body.Status), in.Body.Cascade,
		a.queueStatus(ctx))
	if err != nil {
		return nil, err
	}
	return accountResponse(acct), nil
}

func (a *API) moveAccount(ctx context.Context, in *moveAccountInput) (*accountOutput, error) {
	if err := a.checkAccountIfMatch(ctx, in.ID, in.IfMatch); err != nil {
		return nil, err
	}
	acct, err := a.db.MoveAccount(ctx, actorFrom(ctx), in.ID, in.Body.ParentID)
	if err != nil {
		return nil, err
	}
	return accountResponse(acct), nil
}

func (a *API) countDescendants(ctx context.Context, in *accountIDPath) (*countOutput, error) {
	n, err := a.db.CountDescendants(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	out := &countOutput{}
	out.Body.Count = n
	return out, nil
}
