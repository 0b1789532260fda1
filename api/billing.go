package api

// The billing routes: documents (invoices, credit memos, payments …) as
// JSON, PDF and HTML; payments and top-ups a vendor's staff record for a
// buyer, a top-up optionally charged to a card through the payment
// gateway first; a buyer's credit standing, payment terms and credit hold;
// and a vendor's revenue, margin and aging reports. The store authorizes
// every call (store/ledger.go, store/credit.go, store/reports.go); these
// handlers translate: amounts are decimal strings in the document's or
// the buyer's currency, days are YYYY-MM-DD.
//
// A payment may release a credit hold and a hold suspends services, so
// payments, top-ups and holds queue the tasks that suspend or resume
// services (queueStatus) in their transaction; without
// Config.EnqueueSubscriptionStatus a change that would move a service is
// refused with 503 and nothing is stored.

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/gateway"
	"github.com/marketplane/marketplane/invoice"
	"github.com/marketplane/marketplane/money"
	"github.com/marketplane/marketplane/store"
)

// DocumentLine is one line of a billing document.
type DocumentLine struct {
	What        string `json:"what" enum:"setup,recurring,change-credit,change-charge,resource,overuse,usage,refund,tax,cancellation,payment"`
	Resource    string `json:"resource,omitempty" example:"mailbox" doc:"The rate key of a resource line."`
	Quantity    string `json:"quantity,omitempty" example:"3" doc:"Units charged on resource, overuse and usage lines."`
	From        string `json:"from,omitempty" format:"date" example:"2027-01-10" doc:"The first day the line pays for; absent on one-time lines."`
	To          string `json:"to,omitempty" format:"date" example:"2027-02-10" doc:"The day after the last day the line pays for: the line covers [from, to)."`
	Amount      string `json:"amount" example:"13.20" doc:"Rounded to the currency's minor unit, signed as the document's total." price:"true"`
	TaxRate     string `json:"tax_rate,omitempty" example:"19" doc:"Percent, on tax lines."`
	Description string `json:"description"`
}

// Document is a billing document a vendor issued to a buyer (one of its
// child accounts). Totals are signed as their effect on what the buyer
// owes: invoices and refunds positive, credit memos and payments
// negative, adjustments either way.
type Document struct {
	ID        int64  `json:"id"`
	Number    string `json:"number" example:"INV-000001" doc:"Gapless per vendor and type: INV-, CM-, PAY-, RF-, ADJ-."`
	Type      string `json:"type" enum:"invoice,credit_memo,payment,refund,adjustment"`
	Status    string `json:"status" enum:"open,paid,void,n/a" doc:"Of an invoice: open until payments and credits cover it, then paid. Other documents: n/a."`
	VendorID  int64  `json:"vendor_id" doc:"The account that issued it: the buyer's parent."`
	AccountID int64  `json:"account_id" doc:"The buyer."`
	Currency  string `json:"currency" example:"USD"`
	Total     string `json:"total" example:"19.80" price:"true"`
	Applied   string `json:"applied" example:"0.00" doc:"Of an invoice, what payments and credits covered; of a payment or credit memo, what it covered. The unapplied rest of payments is the buyer's prepaid funds." price:"true"`
	AmountDue string `json:"amount_due,omitempty" example:"19.80" doc:"Of an invoice: what is still to pay (total less applied)." price:"true"`
	IssuedOn  string `json:"issued_on" format:"date" doc:"The vendor's day it was issued."`
	DueOn     string `json:"due_on,omitempty" format:"date" doc:"The day an invoice falls due; absent when it has none (net 0)."`
	ChargeOn  string `json:"charge_on,omitempty" format:"date" doc:"Of an invoice: the first day automatic charges take prepaid funds for it."`
	// Lines are what the document bills, one per charge or credit.
	Lines          []DocumentLine `json:"lines"`
	OrderID        int64          `json:"order_id,omitempty" doc:"The order it bills."`
	SubscriptionID int64          `json:"subscription_id,omitempty" doc:"The subscription it bills."`
	Method         string         `json:"method,omitempty" example:"bank transfer" doc:"Of a payment: how the money came."`
	GatewayRef     string         `json:"gateway_ref,omitempty" example:"pi_3MtwBwLkdIwHu7ix28a3tqPa" doc:"Of a payment charged through the card gateway: the gateway's own id of the charge (a Stripe PaymentIntent), for reconciliation. A charge is recorded as one payment, however often it is retried."`
	Purpose        string         `json:"purpose,omitempty" enum:"topup" doc:"topup: a payment made as prepaid funds, taken by automatic charges as invoices fall due."`
	ReverseCharge  bool           `json:"reverse_charge" doc:"The buyer accounts for the tax (a business abroad with a VAT id): no tax line, a note on the document."`
	CreatedAt      time.Time      `json:"created_at"`
}

func documentView(d *store.Document) Document {
	out := Document{ID: d.ID, Number: d.Number, Type: string(d.Type), Status: string(d.Status), VendorID: d.VendorID,
		AccountID: d.AccountID, Currency: d.Currency, Total: d.Total.Format(d.Currency), Applied: d.Applied.Format(d.Currency),
		IssuedOn: dateOut(d.IssuedOn), DueOn: dateOut(d.DueOn), ChargeOn: dateOut(d.ChargeOn), Lines: make([]DocumentLine, len(d.Lines)),
		OrderID: d.OrderID, SubscriptionID: d.SubscriptionID, Method: d.Method, GatewayRef: d.GatewayRef, Purpose: d.Purpose,
		ReverseCharge: d.ReverseCharge, CreatedAt: d.CreatedAt}
	if d.Type == store.DocInvoice {
		out.AmountDue = (d.Total - d.Applied).Format(d.Currency)
	}
	for i, l := range d.Lines {
		out.Lines[i] = DocumentLine{What: string(l.What), Resource: l.Resource, From: dateOut(l.From), To: dateOut(l.To),
			Amount: l.Amount.Format(d.Currency), Description: l.Description}
		if !l.Quantity.IsZero() {
			out.Lines[i].Quantity = l.Quantity.String()
		}
		if !l.TaxRate.IsZero() {
			out.Lines[i].TaxRate = l.TaxRate.String()
		}
	}
	return out
}

// PaymentTerms are the payment terms a vendor gives one buyer, with the
// defaults filled in. The invoices' net days and the credit limit are the
// account's own fields (payment_terms_days, credit_limit).
type PaymentTerms struct {
	GraceDays               int    `json:"grace_days" doc:"Days after an invoice's due date before it counts as overdue and an automatic hold comes."`
	ChargeAfterDays         int    `json:"charge_after_days" doc:"Days after issue before automatic charges take prepaid funds for an invoice; 0 at once."`
	Hold                    string `json:"hold" enum:"automatic,manual" doc:"automatic: the daily run puts the buyer on hold when an invoice is overdue and a payment that clears the debt releases it; manual: only staff do."`
	OnHold                  string `json:"on_hold" enum:"block_orders,suspend_all,suspend_unpaid" doc:"What a hold does: refuse new orders only, also suspend every service, or suspend the services billed on open invoices."`
	HoldOnCreditLimit       bool   `json:"hold_on_credit_limit" doc:"Also put the buyer on hold when it owes more than its credit limit."`
	PAYGSuspensionDelayDays int    `json:"payg_suspension_delay_days" doc:"Days pay-as-you-go services keep running after the available balance no longer covers their usage."`
	SuspendCustomers        bool   `json:"suspend_customers" doc:"For a reseller: its hold also suspends the services of every customer below it."`
}

func paymentTermsView(t account.Terms) PaymentTerms {
	return PaymentTerms{GraceDays: t.GraceDays, ChargeAfterDays: t.ChargeAfterDays, Hold: string(t.Mode()), OnHold: string(t.Action()),
		HoldOnCreditLimit: t.HoldOnCreditLimit, PAYGSuspensionDelayDays: t.PAYGSuspensionDelayDays, SuspendCustomers: t.SuspendCustomers}
}

// PaymentTermsInput sets a buyer's payment terms as a whole: a field left
// out takes its default.
type PaymentTermsInput struct {
	GraceDays               int    `json:"grace_days,omitempty" minimum:"0" maximum:"365" doc:"Default 0."`
	ChargeAfterDays         int    `json:"charge_after_days,omitempty" minimum:"0" maximum:"365" doc:"At most the account's payment_terms_days when it has any. Default 0."`
	Hold                    string `json:"hold,omitempty" enum:"automatic,manual" doc:"Default automatic."`
	OnHold                  string `json:"on_hold,omitempty" enum:"block_orders,suspend_all,suspend_unpaid" doc:"Default suspend_all."`
	HoldOnCreditLimit       bool   `json:"hold_on_credit_limit,omitempty"`
	PAYGSuspensionDelayDays int    `json:"payg_suspension_delay_days,omitempty" minimum:"0" maximum:"365" doc:"Default 0."`
	SuspendCustomers        bool   `json:"suspend_customers,omitempty" doc:"For a reseller: its hold also suspends the services of every customer below it. Default false: they go on."`
}

func (in *PaymentTermsInput) terms() account.Terms {
	return account.Terms{GraceDays: in.GraceDays, ChargeAfterDays: in.ChargeAfterDays, Hold: account.HoldMode(in.Hold),
		OnHold: account.HoldAction(in.OnHold), HoldOnCreditLimit: in.HoldOnCreditLimit, PAYGSuspensionDelayDays: in.PAYGSuspensionDelayDays,
		SuspendCustomers: in.SuspendCustomers}
}

// Credit is where a buyer stands towards its vendor today, in the buyer's
// currency.
type Credit struct {
	AccountID   int64        `json:"account_id"`
	VendorID    int64        `json:"vendor_id"`
	Currency    string       `json:"currency" example:"USD"`
	Status      string       `json:"status" enum:"pending,active,credit_hold,admin_hold,cancelled" doc:"The account's status."`
	NetDays     int          `json:"net_days" doc:"The account's payment terms days: invoices fall due this many days after issue (0: no due date)."`
	CreditLimit string       `json:"credit_limit" example:"0.00" price:"true"`
	Terms       PaymentTerms `json:"terms"`
	Balance     string       `json:"balance" example:"19.80" doc:"What the buyer owes: the sum of its ledger entries (negative: a credit in its favour)." price:"true"`
	// The parts of the balance.
	PrepaidFunds string `json:"prepaid_funds" example:"0.00" doc:"Payments not yet applied to invoices." price:"true"`
	Open         string `json:"open" example:"19.80" doc:"What open invoices still ask for." price:"true"`
	Overdue      string `json:"overdue" example:"0.00" doc:"The part of open that is overdue beyond the grace days." price:"true"`
	RatedUsage   string `json:"rated_usage" example:"0.00" doc:"Usage of the current periods rated but not yet invoiced." price:"true"`
	Unbilled     string `json:"unbilled" example:"0.00" doc:"Charges waiting for the vendor's statement day (consolidated invoicing)." price:"true"`
	Available    string `json:"available" example:"-19.80" doc:"What the buyer may still spend: credit limit less balance, rated usage and unbilled charges." price:"true"`
	HoldManual   bool   `json:"hold_manual" doc:"The hold was put by staff: a payment does not lift it."`
	// A temporary release.
	ReleasedUntil  string `json:"released_until,omitempty" format:"date" doc:"The first day after a temporary release of a hold: the hold comes back then if the debt is still there."`
	ReleaseReason  string `json:"release_reason,omitempty" doc:"Why the hold was last released."`
	PAYGShortSince string `json:"payg_short_since,omitempty" format:"date" doc:"The first day the available balance no longer covered pay-as-you-go usage."`
}

func creditView(c *store.Credit) Credit {
	return Credit{AccountID: c.AccountID, VendorID: c.VendorID, Currency: c.Currency, Status: string(c.Status), NetDays: c.NetDays,
		CreditLimit: c.CreditLimit.Format(c.Currency), Terms: paymentTermsView(c.Terms), Balance: c.Balance.Format(c.Currency),
		PrepaidFunds: c.PrepaidFunds.Format(c.Currency), Open: c.Open.Format(c.Currency), Overdue: c.Overdue.Format(c.Currency),
		RatedUsage: c.RatedUsage.Format(c.Currency), Unbilled: c.Unbilled.Format(c.Currency), Available: c.Available.Format(c.Currency),
		HoldManual:    c.HoldManual,
		ReleasedUntil: dateOut(c.ReleasedUntil), ReleaseReason: c.ReleaseReason, PAYGShortSince: dateOut(c.PAYGShortSince)}
}

// RevenueRow is what a vendor billed (revenue) and was billed (cost) in
// one currency in one calendar month: invoices less credit memos, by the
// days they were issued.
type RevenueRow struct {
	Month    string `json:"month" example:"2027-01" doc:"YYYY-MM."`
	Currency string `json:"currency" example:"USD"`
	Revenue  string `json:"revenue" example:"19.80" price:"true"`
	Cost     string `json:"cost" example:"18.00" price:"true"`
	Margin   string `json:"margin" example:"1.80" doc:"Revenue less cost." price:"true"`
}

// MarginRow is the revenue, cost and margin of one reseller directly
// below the vendor, in one currency.
type MarginRow struct {
	ResellerID int64  `json:"reseller_id"`
	Name       string `json:"name"`
	Currency   string `json:"currency" example:"USD"`
	Revenue    string `json:"revenue" example:"19.80" doc:"What the reseller billed its buyers." price:"true"`
	Cost       string `json:"cost" example:"18.00" doc:"What the vendor billed the reseller." price:"true"`
	Margin     string `json:"margin" example:"1.80" price:"true"`
}

// AgingRow is what one buyer owes the vendor on its open invoices, in one
// currency, by days past due on the day asked.
type AgingRow struct {
	AccountID  int64  `json:"account_id"`
	Name       string `json:"name"`
	Currency   string `json:"currency" example:"USD"`
	Current    string `json:"current" example:"19.80" doc:"Not yet due (due on the day or later)." price:"true"`
	Days1To30  string `json:"days_1_30" example:"0.00" price:"true"`
	Days31To60 string `json:"days_31_60" example:"0.00" price:"true"`
	Days61To90 string `json:"days_61_90" example:"0.00" price:"true"`
	Over90     string `json:"over_90" example:"0.00" price:"true"`
	Total      string `json:"total" example:"19.80" price:"true"`
}

type listDocumentsInput struct {
	AccountID int64  `query:"account_id" doc:"Only the documents of this buyer."`
	VendorID  int64  `query:"vendor_id" doc:"Only the documents this vendor issued."`
	Type      string `query:"type" enum:"invoice,credit_memo,payment,refund,adjustment"`
	PageParams
}

type documentPage struct {
	Body Page[Document]
}

type documentIDPath struct {
	ID int64 `path:"id" doc:"Document id."`
}

type documentOutput struct {
	Body Document
}

type documentCreated struct {
	Location string `header:"Location"`
	Body     Document
}

func documentCreatedResponse(d *store.Document) *documentCreated {
	return &documentCreated{Location: Prefix + "/documents/" + idKey(d.ID), Body: documentView(d)}
}

// pdfOutput and htmlOutput are renderings: their bodies are written as
// they are, with the media type documented at registration (op.media).
type pdfOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	CacheControl       string `header:"Cache-Control"`
	Body               []byte
}

type htmlOutput struct {
	ContentType           string `header:"Content-Type"`
	ContentSecurityPolicy string `header:"Content-Security-Policy"`
	CacheControl          string `header:"Cache-Control"`
	Body                  []byte
}

// renderingCache: a document's status and what was applied to it change
// with payments, so a copy is checked before use, and kept by the client
// only.
const renderingCache = "private, no-cache"

// PaymentInput is money a vendor's staff received from a buyer.
type PaymentInput struct {
	Amount string `json:"amount" example:"19.80" doc:"Positive, in the buyer's currency, rounded to its minor unit."`
	Method string `json:"method" minLength:"1" maxLength:"200" example:"bank transfer" doc:"How the money came."`
}

type recordPaymentInput struct {
	ID   int64 `path:"id" doc:"Account id: the buyer."`
	Body PaymentInput
}

// TopUpInput adds prepaid funds to a buyer's account, paid by other means
// or charged to a card through the payment gateway.
type TopUpInput struct {
	Amount string `json:"amount" example:"50.00" doc:"Positive, in the buyer's currency, rounded to its minor unit."`
	Method string `json:"method,omitempty" maxLength:"200" example:"bank transfer" doc:"How the money came; required without source, absent with it."`
	Source string `json:"source,omitempty" maxLength:"200" example:"pm_card_visa" doc:"A payment source of the card gateway (with Stripe, a PaymentMethod such as pm_card_visa or a card token such as tok_visa): the top-up charges it first and records the payment as \"card <brand and last digits>\" with the charge's id as its gateway_ref. An installation without a card gateway refuses it (400 on source) and records nothing."`
}

type topUpInput struct {
	ID             int64  `path:"id" doc:"Account id: the buyer."`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"With source: names the charge, so that a retried request (from any server process, before or after a restart) charges the card once and records the payment once."`
	Body           TopUpInput
}

type creditOutput struct {
	ETag string `header:"ETag" doc:"Tag of the buyer's own terms: the part PUT /accounts/{id}/terms replaces."`
	Body Credit
}

// creditResponse is a credit standing with the tag of its own terms.
func creditResponse(c *store.Credit) *creditOutput {
	return &creditOutput{ETag: paymentTermsETag(c.OwnTerms), Body: creditView(c)}
}

// paymentTermsETag tags payment terms by their content: they have no version of their
// own, and equal terms are the same representation.
func paymentTermsETag(t account.Terms) string {
	return `"terms-` + contentTag(t, 8) + `"`
}

type setPaymentTermsInput struct {
	ID int64 `path:"id" doc:"Account id: the buyer."`
	Conditional
	Body PaymentTermsInput
}

type creditHoldInput struct {
	ID   int64 `path:"id" doc:"Account id: the buyer."`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"500" doc:"Why, for the audit log."`
	}
}

type releaseCreditHoldInput struct {
	ID   int64 `path:"id" doc:"Account id: the buyer."`
	Body struct {
		Days   int    `json:"days,omitempty" minimum:"0" maximum:"365" doc:"0 (the default): release for good (an automatic hold whose debt is still there comes back at the next daily run); more: a temporary release for that many days, after which the hold comes back if the debt is still there."`
		Reason string `json:"reason" minLength:"1" maxLength:"500" doc:"Why, for the audit log."`
	}
}

type reportRangeInput struct {
	ID   int64  `path:"id" doc:"Vendor (account) id."`
	From string `query:"from" format:"date" example:"2027-01-01" doc:"The first day (included), by the documents' issue days. Default: the first day of the month of the last day of the range."`
	To   string `query:"to" format:"date" example:"2027-02-01" doc:"The day after the last (excluded). Default: tomorrow in the vendor's time zone, so that the range ends with today."`
	PageParams
}

type agingInput struct {
	ID int64  `path:"id" doc:"Vendor (account) id."`
	On string `query:"on" format:"date" example:"2027-03-01" doc:"The day the invoices are aged on. Default: today in the vendor's time zone."`
	PageParams
}

type revenueOutput struct {
	Body Page[RevenueRow]
}

type marginsOutput struct {
	Body Page[MarginRow]
}

type agingOutput struct {
	Body Page[AgingRow]
}

const cursorDocuments = "doc"

func (a *API) billingRoutes() {
	const docs, credit, reports = "Documents", "Credit", "Reports"
	register(a, op{id: "list-documents", method: http.MethodGet, path: "/documents", tag: docs,
		summary: "List billing documents",
		description: "Newest first. Without account_id or vendor_id, the documents of every buyer in the caller's reach: " +
			"those it received and those issued below it."}, a.listDocuments)
	register(a, op{id: "get-document", method: http.MethodGet, path: "/documents/{id}", tag: docs,
		summary: "Get a billing document"}, a.getDocument)
	register(a, op{id: "get-document-pdf", method: http.MethodGet, path: "/documents/{id}/pdf", tag: docs,
		summary: "Get a billing document as PDF",
		description: "A4: number, days and parties, the lines with the days they pay for, tax and total, " +
			"the reverse charge note when it applies. Amounts are formatted for the buyer's locale. " +
			"Refused (403) to users and keys without the show_prices privilege: the document is its amounts.",
		needsPrices: true, media: "application/pdf"}, a.getDocumentPDF)
	register(a, op{id: "get-document-html", method: http.MethodGet, path: "/documents/{id}/html", tag: docs,
		summary: "Get a billing document as an HTML page",
		description: "The PDF's content as one self-contained page (styles inline, nothing to fetch, no scripts), " +
			"laid out for printing. Refused (403) to users and keys without the show_prices privilege.",
		needsPrices: true, media: "text/html"}, a.getDocumentHTML)
	register(a, op{id: "record-payment", method: http.MethodPost, path: "/accounts/{id}/payments", tag: credit,
		summary: "Record a payment received from a buyer",
		description: "The vendor's staff record money received: a payment document that pays the buyer's open invoices, " +
			"oldest first; the rest becomes prepaid funds. A payment that clears an automatic credit hold releases it " +
			"and resumes the services it suspended.",
		status: http.StatusCreated, errors: []int{http.StatusConflict, http.StatusServiceUnavailable}}, a.recordPayment)
	register(a, op{id: "top-up-account", method: http.MethodPost, path: "/accounts/{id}/top-ups", tag: credit,
		summary: "Add prepaid funds to a buyer's account",
		description: "A payment kept as prepaid funds, which automatic charges take as invoices fall due. With source, " +
			"the card is charged through the payment gateway first; a declined card answers 409 and records nothing. " +
			"Send an Idempotency-Key to make a retry safe: the same key charges once and answers the same payment.",
		status: http.StatusCreated, errors: []int{http.StatusConflict, http.StatusServiceUnavailable}}, a.topUp)
	register(a, op{id: "get-account-credit", method: http.MethodGet, path: "/accounts/{id}/credit", tag: credit,
		summary: "Get where a buyer stands towards its vendor",
		description: "Balance, prepaid funds, open and overdue invoices, rated usage, what it may still spend, " +
			"its payment terms and the state of its credit hold, today.",
		errors: []int{http.StatusConflict}}, a.getCredit)
	register(a, op{id: "set-account-terms", method: http.MethodPut, path: "/accounts/{id}/terms", tag: credit,
		summary:     "Set a buyer's payment terms",
		description: "The vendor's staff set the terms as a whole; answers the buyer's credit standing with them.",
		errors:      []int{http.StatusConflict, http.StatusPreconditionFailed}}, a.setPaymentTerms)
	register(a, op{id: "put-account-on-credit-hold", method: http.MethodPost, path: "/accounts/{id}/credit-hold", tag: credit,
		summary: "Put a buyer on credit hold",
		description: "By hand: a payment does not lift it, staff release it. What the hold does to the buyer's services " +
			"follows its terms (on_hold), each service suspended by a task queued with the change.",
		errors: []int{http.StatusConflict, http.StatusServiceUnavailable}}, a.putOnCreditHold)
	register(a, op{id: "release-account-credit-hold", method: http.MethodPost, path: "/accounts/{id}/credit-hold/release", tag: credit,
		summary: "Release a buyer from credit hold",
		description: "Resumes the services the hold suspended. With days, the release is temporary: when the days are over " +
			"and the debt is still there, the daily run puts the hold back. The reason is audited.",
		errors: []int{http.StatusConflict, http.StatusServiceUnavailable}}, a.releaseCreditHold)
	register(a, op{id: "get-revenue-report", method: http.MethodGet, path: "/vendors/{id}/reports/revenue", tag: reports,
		summary: "Revenue, cost and margin of a vendor by month",
		description: "Invoices less credit memos the vendor issued (revenue) and received (cost) over [from, to), " +
			"per calendar month of their issue days and per currency; months without documents have no row."},
		a.revenueReport)
	register(a, op{id: "get-margins-report", method: http.MethodGet, path: "/vendors/{id}/reports/margins", tag: reports,
		summary: "Margins of the resellers directly below a vendor",
		description: "Per reseller and currency over [from, to): what it billed its buyers, what the vendor billed it, " +
			"and the difference. Resellers whose documents the caller may not view are left out."}, a.marginsReport)
	register(a, op{id: "get-aging-report", method: http.MethodGet, path: "/vendors/{id}/reports/aging", tag: reports,
		summary: "What a vendor's buyers owe it, by days past due",
		description: "Per buyer and currency, the open invoices issued on or before the day, less what covered them, " +
			"bucketed by days past due on that day. Prepaid funds are not netted off."}, a.agingReport)
}

func (a *API) listDocuments(ctx context.Context, in *listDocumentsInput) (*documentPage, error) {
	before, err := decodeIDCursor(cursorDocuments, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.Documents(ctx, actorFrom(ctx), store.DocumentFilter{AccountID: in.AccountID, VendorID: in.VendorID,
		Type: store.DocumentType(in.Type), BeforeID: before, Limit: in.fetchSize()})
	if err != nil {
		// The account a filter names is missing or out of reach.
		return nil, notFoundAs(err, "account not found")
	}
	return &documentPage{Body: paginate(in.PageParams, cursorDocuments, rows, func(d *store.Document) string { return idKey(d.ID) },
		documentView)}, nil
}

func (a *API) getDocument(ctx context.Context, in *documentIDPath) (*documentOutput, error) {
	d, err := a.db.Document(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &documentOutput{Body: documentView(d)}, nil
}

// documentParties reads document id, if the actor may view it, with the
// vendor and the buyer it is between. The parties are read as the system:
// whoever may read a document reads the names and addresses printed on
// it, though a customer may not read its vendor's account.
func (a *API) documentParties(ctx context.Context, id int64) (d *store.Document, vendor, buyer *account.Account, err error) {
	if d, err = a.db.Document(ctx, actorFrom(ctx), id); err != nil {
		return nil, nil, nil, err
	}
	sys := account.SystemActor()
	if vendor, err = a.db.Account(ctx, sys, d.VendorID); err != nil {
		return nil, nil, nil, err
	}
	if buyer, err = a.db.Account(ctx, sys, d.AccountID); err != nil {
		return nil, nil, nil, err
	}
	return d, vendor, buyer, nil
}

func (a *API) getDocumentPDF(ctx context.Context, in *documentIDPath) (*pdfOutput, error) {
	d, vendor, buyer, err := a.documentParties(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := invoice.PDF(&b, d, vendor, buyer); err != nil {
		return nil, err
	}
	return &pdfOutput{ContentType: "application/pdf", ContentDisposition: `inline; filename="` + d.Number + `.pdf"`,
		CacheControl: renderingCache, Body: b.Bytes()}, nil
}

func (a *API) getDocumentHTML(ctx context.Context, in *documentIDPath) (*htmlOutput, error) {
	d, vendor, buyer, err := a.documentParties(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := invoice.HTML(&b, d, vendor, buyer); err != nil {
		return nil, err
	}
	// The page needs its inline styles and nothing else: a description
	// that slipped past escaping could still load or run nothing.
	return &htmlOutput{ContentType: "text/html; charset=utf-8", ContentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'",
		CacheControl: renderingCache, Body: b.Bytes()}, nil
}

func (a *API) recordPayment(ctx context.Context, in *recordPaymentInput) (*documentCreated, error) {
	var f marketplane.FieldErrors
	var amount money.Micros
	parseMoney(&f, "amount", &in.Body.Amount, &amount)
	if err := f.Err("payment"); err != nil {
		return nil, err
	}
	d, err := a.db.ReceivePayment(ctx, actorFrom(ctx), store.Payment{AccountID: in.ID, Amount: amount, Method: in.Body.Method},
		a.queueStatus(ctx))
	if err != nil {
		return nil, err
	}
	return documentCreatedResponse(a.reread(ctx, d)), nil
}

// reread is payment d as stored once the transaction that recorded it
// applied it to invoices (ReceivePayment answers it as issued). The
// payment is recorded whatever happens here: a failed read answers what
// ReceivePayment did rather than an error that would invite a retry.
func (a *API) reread(ctx context.Context, d *store.Document) *store.Document {
	stored, err := a.db.Document(ctx, actorFrom(ctx), d.ID)
	if err != nil {
		a.log.WarnContext(ctx, "api: read a payment just recorded", "document", d.ID, "err", err)
		return d
	}
	return stored
}

func (a *API) topUp(ctx context.Context, in *topUpInput) (*documentCreated, error) {
	actor := actorFrom(ctx)
	b := &in.Body
	var f marketplane.FieldErrors
	var amount money.Micros
	parseMoney(&f, "amount", &b.Amount, &amount)
	switch {
	case b.Source != "" && b.Method != "":
		f.Add("method", "must be absent with source: the gateway's receipt names the method")
	case b.Source == "" && b.Method == "":
		f.Add("method", "required without source")
	}
	if err := f.Err("top-up"); err != nil {
		return nil, err
	}
	method, ref := b.Method, ""
	if b.Source != "" {
		receipt, err := a.charge(ctx, in, amount)
		if err != nil {
			return nil, err
		}
		// A retry that reaches the gateway again gets the same charge and
		// its id, which the ledger has recorded once (ReceivePayment).
		method, ref = cardMethod(receipt), receipt.ID
	}
	d, err := a.db.ReceivePayment(ctx, actor, store.Payment{AccountID: in.ID, Amount: amount, Method: method, TopUp: true,
		GatewayRef: ref}, a.queueStatus(ctx))
	if err != nil {
		if b.Source != "" {
			// The card was charged and the ledger does not say so: staff
			// must see it. A retry with the same Idempotency-Key records
			// it without charging again.
			a.log.ErrorContext(ctx, "api: card charged, top-up not recorded", "account", in.ID, "amount", amount.String(),
				"method", method, "gateway_ref", ref, "err", err)
		}
		return nil, err
	}
	return documentCreatedResponse(a.reread(ctx, d)), nil
}

// cardMethod is the method of a payment charged to a card, as people read
// it ("card visa 4242"); the charge's id is the payment's gateway ref.
func cardMethod(r gateway.Receipt) string {
	return "card " + r.Method
}

// charge charges the top-up's source through the gateway, after checking
// everything recording it checks that can be checked before (the buyer is
// in reach, the actor is its vendor's staff with documents to manage, the
// amount suits its currency), so that no card is charged for a top-up
// that would be refused. A retry of a top-up (the same Idempotency-Key)
// gets the gateway's first answer: the same charge, whose id the ledger
// records once.
func (a *API) charge(ctx context.Context, in *topUpInput, amount money.Micros) (receipt gateway.Receipt, err error) {
	actor := actorFrom(ctx)
	c, err := a.db.Credit(ctx, actor, in.ID)
	if err != nil {
		return receipt, err
	}
	if err := a.db.Authorize(ctx, actor, account.ManageDocuments, in.ID); err != nil {
		return receipt, err
	}
	if !actor.System && actor.AccountID == in.ID {
		return receipt, marketplane.Errorf(marketplane.EFORBIDDEN, "only the vendor's staff may record payments")
	}
	if amount <= 0 || amount.Round(c.Currency) != amount {
		return receipt, (marketplane.FieldErrors{"amount": amount.String() + " is not a positive amount in " + c.Currency}).Err("top-up")
	}
	key := in.IdempotencyKey
	if key == "" {
		// A charge of its own: without a key from the client a retry is
		// a new top-up.
		key = rand.Text()
	}
	receipt, err = a.gateway.Charge(ctx, gateway.ChargeRequest{AccountID: in.ID, Amount: amount, Currency: c.Currency,
		Source: in.Body.Source, IdempotencyKey: "account " + idKey(in.ID) + " " + key})
	if err != nil {
		// A declined card is ECONFLICT "card declined"; an unknown
		// source, or any source without a card gateway, EINVALID on the
		// field "source", as the body names it.
		return receipt, err
	}
	return receipt, nil
}

func (a *API) getCredit(ctx context.Context, in *accountIDPath) (*creditOutput, error) {
	c, err := a.db.Credit(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return creditResponse(c), nil
}

func (a *API) setPaymentTerms(ctx context.Context, in *setPaymentTermsInput) (*creditOutput, error) {
	var check func(account.Terms) error
	if in.IfMatch != "" {
		check = func(own account.Terms) error { return checkIfMatch(in.IfMatch, paymentTermsETag(own)) }
	}
	c, err := a.db.SetTermsIf(ctx, actorFrom(ctx), in.ID, in.Body.terms(), check)
	if err != nil {
		return nil, err
	}
	return creditResponse(c), nil
}

func (a *API) putOnCreditHold(ctx context.Context, in *creditHoldInput) (*creditOutput, error) {
	c, err := a.db.PutOnCreditHold(ctx, actorFrom(ctx), in.ID, in.Body.Reason, a.queueStatus(ctx))
	if err != nil {
		return nil, err
	}
	return creditResponse(c), nil
}

func (a *API) releaseCreditHold(ctx context.Context, in *releaseCreditHoldInput) (*creditOutput, error) {
	c, err := a.db.ReleaseCreditHold(ctx, actorFrom(ctx), in.ID, in.Body.Days, in.Body.Reason, a.queueStatus(ctx))
	if err != nil {
		return nil, err
	}
	return creditResponse(c), nil
}

// reportDay reads a day of a report's query. The schema checked the form
// already; this is what the handler needs of it.
func reportDay(name, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, badParam("query."+name, "must be a date such as 2027-01-31")
	}
	// PostgreSQL has no year 0 (1 BC): such a day fails the query.
	if t.Year() < 1 {
		return time.Time{}, badParam("query."+name, "must be in year 1 or later")
	}
	return t, nil
}

// reportToday is today in the time zone of vendor id, as a report's day
// (midnight UTC of that date): the default of a report's dates. A vendor
// out of the actor's reach gets UTC's today here and its refusal from the
// report itself.
func (a *API) reportToday(ctx context.Context, id int64) time.Time {
	loc := time.UTC
	if v, err := a.db.Account(ctx, actorFrom(ctx), id); err == nil && v.TimeZone != "" {
		if l, err := time.LoadLocation(v.TimeZone); err == nil {
			loc = l
		}
	}
	y, m, d := a.db.Clock.Now().In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// reportRange reads [from, to) of a report: by default the current month
// up to today in the vendor's time zone; a range given by its end alone
// is that end's month.
func (a *API) reportRange(ctx context.Context, in *reportRangeInput) (from, to time.Time, err error) {
	if in.To == "" {
		to = a.reportToday(ctx, in.ID).AddDate(0, 0, 1)
	} else if to, err = reportDay("to", in.To); err != nil {
		return from, to, err
	}
	if in.From == "" {
		last := to.AddDate(0, 0, -1)
		from = time.Date(last.Year(), last.Month(), 1, 0, 0, 0, 0, time.UTC)
	} else if from, err = reportDay("from", in.From); err != nil {
		return from, to, err
	}
	if !to.After(from) {
		return from, to, badParam("query.to", "must be after from")
	}
	return from, to, nil
}

func (a *API) revenueReport(ctx context.Context, in *reportRangeInput) (*revenueOutput, error) {
	from, to, err := a.reportRange(ctx, in)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.Revenue(ctx, actorFrom(ctx), in.ID, from, to)
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorRevenue, rows,
		func(r store.RevenueRow) string { return r.Month.Format("2006-01") + "/" + r.Currency },
		func(r store.RevenueRow) RevenueRow {
			return RevenueRow{Month: r.Month.Format("2006-01"), Currency: r.Currency,
				Revenue: r.Revenue.Format(r.Currency), Cost: r.Cost.Format(r.Currency), Margin: r.Margin.Format(r.Currency)}
		})
	if err != nil {
		return nil, err
	}
	return &revenueOutput{Body: page}, nil
}

func (a *API) marginsReport(ctx context.Context, in *reportRangeInput) (*marginsOutput, error) {
	from, to, err := a.reportRange(ctx, in)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.Margins(ctx, actorFrom(ctx), in.ID, from, to)
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorMargins, rows,
		func(r store.MarginRow) string { return idKey(r.ResellerID) + "/" + r.Currency },
		func(r store.MarginRow) MarginRow {
			return MarginRow{ResellerID: r.ResellerID, Name: r.Name, Currency: r.Currency,
				Revenue: r.Revenue.Format(r.Currency), Cost: r.Cost.Format(r.Currency), Margin: r.Margin.Format(r.Currency)}
		})
	if err != nil {
		return nil, err
	}
	return &marginsOutput{Body: page}, nil
}

func (a *API) agingReport(ctx context.Context, in *agingInput) (*agingOutput, error) {
	on := a.reportToday(ctx, in.ID)
	if in.On != "" {
		var err error
		if on, err = reportDay("on", in.On); err != nil {
			return nil, err
		}
	}
	rows, err := a.db.Aging(ctx, actorFrom(ctx), in.ID, on)
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorAging, rows,
		func(r store.AgingRow) string { return idKey(r.AccountID) + "/" + r.Currency },
		func(r store.AgingRow) AgingRow {
			c := r.Currency
			return AgingRow{AccountID: r.AccountID, Name: r.Name, Currency: c, Current: r.Current.Format(c),
				Days1To30: r.Days1To30.Format(c), Days31To60: r.Days31To60.Format(c), Days61To90: r.Days61To90.Format(c),
				Over90: r.Over90.Format(c), Total: r.Total.Format(c)}
		})
	if err != nil {
		return nil, err
	}
	return &agingOutput{Body: page}, nil
}
