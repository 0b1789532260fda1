package store

import (
	"fmt"
	"time"
)

// timeLayout is the one text form of timestamps on SQLite: fixed width and
// UTC, so that text order is time order and SQL comparisons work. PostgreSQL
// columns are timestamptz and parse the same text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// tv turns t into a query argument: nil for the zero time.
func tv(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// timeScan scans a timestamp column of either engine into *T; NULL leaves
// the zero time.
type timeScan struct{ T *time.Time }

// Scan implements sql.Scanner.
func (s timeScan) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*s.T = time.Time{}
	case time.Time:
		*s.T = x.UTC()
	case string:
		return s.parse(x)
	case []byte:
		return s.parse(string(x))
	default:
		return fmt.Errorf("timestamp: cannot scan %T", v)
	}
	return nil
}

func (s timeScan) parse(x string) error {
	t, err := time.Parse(time.RFC3339Nano, x)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", x, err)
	}
	*s.T = t.UTC()
	return nil
}

// ts wraps a *time.Time for Scan.
func ts(t *time.Time) timeScan { return timeScan{t} }
