package bench

import (
	"context"
	"fmt"
	"strconv"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/store"
)

// region is a plausible set of country, locale, currency and time zone for
// generated accounts.
type region struct {
	country, locale, currency, timeZone, city, postal string
}

var regions = []region{
	{"US", "en-US", "USD", "America/New_York", "New York", "10001"},
	{"DE", "de-DE", "EUR", "Europe/Berlin", "Berlin", "10115"},
	{"US", "en-US", "USD", "America/Los_Angeles", "San Francisco", "94105"},
	{"FR", "fr-FR", "EUR", "Europe/Paris", "Paris", "75002"},
	{"GB", "en-GB", "GBP", "Europe/London", "London", "EC1A 1BB"},
	{"NL", "nl-NL", "EUR", "Europe/Amsterdam", "Amsterdam", "1012 AB"},
	{"ES", "es-ES", "EUR", "Europe/Madrid", "Madrid", "28001"},
	{"CA", "en-CA", "CAD", "America/Toronto", "Toronto", "M5H 2N2"},
	{"AU", "en-AU", "AUD", "Australia/Sydney", "Sydney", "2000"},
	{"JP", "ja-JP", "JPY", "Asia/Tokyo", "Tokyo", "100-0001"},
}

// fillAccount overwrites a with a generated account number n of the given
// kind below parentID, named name. Reusing the same structs batch after
// batch keeps a generator's memory flat.
func fillAccount(a *account.Account, kind account.Kind, parentID int64, n int, name string) {
	rg := regions[n%len(regions)]
	num := strconv.Itoa(n)
	*a = account.Account{
		Kind:     kind,
		ParentID: parentID,
		Name:     name,
		Contact: account.Contact{
			Name:  "Admin " + num,
			Email: "admin@account" + num + ".example.com",
			Phone: "+1 555 " + fmt.Sprintf("%07d", n%10000000),
		},
		Address: account.Address{
			Line1:      strconv.Itoa(1+n%999) + " Market Street",
			City:       rg.city,
			PostalCode: rg.postal,
			Country:    rg.country,
		},
		Locale:           rg.locale,
		Currency:         rg.currency,
		TimeZone:         rg.timeZone,
		PaymentTermsDays: 30,
	}
}

// ensureProvider returns the provider, creating one when the database has
// none yet.
func ensureProvider(ctx context.Context, db *store.DB) (*account.Account, error) {
	p, err := db.Provider(ctx)
	if marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return p, err
	}
	p = &account.Account{Name: "Marketplane Bench Provider", ExternalID: "bench-provider",
		Address: account.Address{Country: "US", City: "New York"},
		Locale:  "en-US", Currency: "USD", TimeZone: "UTC"}
	if err := db.CreateProvider(ctx, p); err != nil {
		return nil, fmt.Errorf("create provider: %w", err)
	}
	return p, nil
}

// ensureResellers returns the ids of n resellers below parentID whose
// external ids are extPrefix + "0001" …, creating those that are missing
// in bulk.
func ensureResellers(ctx context.Context, db *store.DB, parentID int64, extPrefix, namePrefix string, n int) ([]int64, error) {
	have, err := db.ChildrenByExternalID(ctx, parentID, account.Reseller)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, n)
	var missing []*account.Account
	var at []int
	for i := range n {
		ext := fmt.Sprintf("%s%04d", extPrefix, i+1)
		if a, ok := have[ext]; ok {
			ids[i] = a.ID
			continue
		}
		a := &account.Account{}
		fillAccount(a, account.Reseller, parentID, i, fmt.Sprintf("%s%04d", namePrefix, i+1))
		a.ExternalID = ext
		missing = append(missing, a)
		at = append(at, i)
	}
	for start := 0; start < len(missing); start += batchSize {
		part := missing[start:min(start+batchSize, len(missing))]
		if err := db.CreateAccountsBulk(ctx, part); err != nil {
			return nil, fmt.Errorf("create resellers: %w", err)
		}
	}
	for k, a := range missing {
		ids[at[k]] = a.ID
	}
	return ids, nil
}
