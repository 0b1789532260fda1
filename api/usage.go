package api

// The usage routes: the readings connectors report for a subscription (the
// usage collector stores them, store/usage.go), for gauges in panels and
// pay-as-you-go and overuse billing; and the readings a vendor's staff
// report themselves, for services they meter without a connector. The
// store authorizes both (a customer lists its usage but does not report
// it).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/money"
	httpstatus "github.com/marketplane/marketplane/problem"
	"github.com/marketplane/marketplane/store"
)

// UsageRecord is one reading of a resource of a subscription.
type UsageRecord struct {
	Resource    string    `json:"resource" example:"pgdbaas.storage_mb" doc:"The connector's resource key."`
	Value       string    `json:"value" example:"13.4" doc:"The amount in the resource's unit, a decimal with up to six places."`
	Additive    bool      `json:"additive" doc:"true: consumed since the previous reading (a counter); false: the current value (a gauge)."`
	At          time.Time `json:"at" doc:"When the connector measured it."`
	CollectedAt time.Time `json:"collected_at" doc:"When Marketplane stored it."`
}

type usageInput struct {
	ID       int64  `path:"id" doc:"Subscription id."`
	Resource string `query:"resource" doc:"Only this resource; absent: all."`
	From     string `query:"from" example:"2027-01-01" doc:"Start of the range (included): a date (midnight UTC) or an RFC 3339 time. Default: 30 days before to."`
	To       string `query:"to" example:"2027-02-01" doc:"End of the range (excluded), as from. Default: now."`
	PageParams
}

type usageOutput struct {
	Body Page[UsageRecord]
}

// UsageReadingInput is one reading a vendor reports.
type UsageReadingInput struct {
	Resource string    `json:"resource" minLength:"1" maxLength:"200" example:"storage" doc:"The key of a rate of the subscription's plan."`
	Value    string    `json:"value" minLength:"1" maxLength:"40" example:"13.4" doc:"The amount in the resource's unit: a plain decimal, not negative, with up to six places (13.4 GB)."`
	Additive bool      `json:"additive,omitempty" doc:"true: consumed since the previous reading (a counter); false, the default: the current value (a gauge)."`
	At       time.Time `json:"at,omitzero" doc:"When it was measured, not in the future; absent: now. A reading of the same resource at the same time is stored once."`
}

// UsageReport is readings of one subscription a vendor reports at once.
type UsageReport struct {
	Readings []UsageReadingInput `json:"readings" minItems:"1" maxItems:"1000"`
}

type recordUsageInput struct {
	ID   int64 `path:"id" doc:"Subscription id."`
	Body UsageReport
}

type usageRecorded struct {
	Body Page[UsageRecord]
}

// defaultUsageDays is the range of a usage request that names no start.
const defaultUsageDays = 30

// timeParam reads query parameter name: a date (midnight UTC) or an RFC
// 3339 time; def when absent.
func timeParam(name, s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		return time.Time{}, badParam("query."+name, "must be a date such as 2027-01-31 or an RFC 3339 time such as 2027-01-31T12:00:00Z")
	}
	// PostgreSQL has no year 0 (1 BC): such a time fails the query.
	if t = t.UTC(); t.Year() < 1 {
		return time.Time{}, badParam("query."+name, "must be in year 1 or later")
	}
	return t, nil
}

// queryInvalid locates the field errors of an EINVALID error in the query
// (problemOf puts them in the body, where most fields are). Other errors
// pass.
func queryInvalid(err error) error {
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID {
		return err
	}
	return huma.NewError(http.StatusBadRequest, httpstatus.Words(e.Message), fieldDetails("query", e.Fields)...)
}

func (a *API) listUsage(ctx context.Context, in *usageInput) (*usageOutput, error) {
	to, err := timeParam("to", in.To, a.db.Clock.Now())
	if err != nil {
		return nil, err
	}
	from, err := timeParam("from", in.From, to.AddDate(0, 0, -defaultUsageDays))
	if err != nil {
		return nil, err
	}
	after, err := usageCursor(in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.UsagePage(ctx, actorFrom(ctx), in.ID, in.Resource, from, to, after, in.fetchSize())
	if err != nil {
		return nil, queryInvalid(err)
	}
	return &usageOutput{Body: paginate(in.PageParams, cursorUsage, rows,
		func(u store.UsageRecord) string { return u.At.UTC().Format(time.RFC3339Nano) + " " + u.Resource }, usageView)}, nil
}

// usageCursor reads the key of a page of readings: the time and resource
// of the last reading of the page before.
func usageCursor(cursor string) (store.UsageKey, error) {
	key, err := decodeCursor(cursorUsage, cursor)
	if err != nil || key == "" {
		return store.UsageKey{}, err
	}
	at, resource, ok := strings.Cut(key, " ")
	t, perr := time.Parse(time.RFC3339Nano, at)
	if !ok || perr != nil || resource == "" {
		return store.UsageKey{}, badParam("query.cursor", "is not a cursor of this list")
	}
	return store.UsageKey{At: t, Resource: resource}, nil
}

func usageView(u store.UsageRecord) UsageRecord {
	return UsageRecord{Resource: u.Resource, Value: u.Amount().String(), Additive: u.Additive, At: u.At, CollectedAt: u.CollectedAt}
}

// recordUsage stores the readings a vendor's staff report; the store
// authorizes them and checks them against the subscription's plan.
func (a *API) recordUsage(ctx context.Context, in *recordUsageInput) (*usageRecorded, error) {
	readings := make([]store.UsageReading, len(in.Body.Readings))
	var f marketplane.FieldErrors
	for i, r := range in.Body.Readings {
		readings[i] = store.UsageReading{Resource: r.Resource, Additive: r.Additive, At: r.At}
		at := fmt.Sprintf("readings[%d].value", i)
		d, err := money.ParseDecimal(r.Value)
		if err != nil {
			f.Add(at, "must be a decimal number such as 13.4")
			continue
		}
		v, frac, ok := store.UsageValue(d)
		if !ok {
			f.Add(at, "must have at most six decimal places and be below 9,000,000,000,000")
			continue
		}
		// A negative value goes on to the store, which refuses it with
		// the other field errors of the reading.
		readings[i].Value, readings[i].Fraction = v, frac
	}
	if err := f.Err("usage"); err != nil {
		return nil, err
	}
	rows, err := a.db.ReportUsage(ctx, actorFrom(ctx), in.ID, readings)
	if err != nil {
		return nil, err
	}
	out := &usageRecorded{Body: Page[UsageRecord]{Items: make([]UsageRecord, len(rows))}}
	for i, u := range rows {
		out.Body.Items[i] = usageView(u)
	}
	return out, nil
}
