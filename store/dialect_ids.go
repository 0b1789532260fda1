package store

import (
	"strconv"
	"strings"
)

// anyID is the dialect's way to match a column against a list of ids given
// as ONE query argument: "= ANY($n)" with an array on PostgreSQL, and
// "IN (SELECT value FROM json_each($n))" with JSON text on SQLite. One
// argument keeps statements cacheable and avoids SQLite's slow binding of
// thousands of numbered parameters.
func (db *DB) anyID(col string, n int) string {
	if db.Engine == Postgres {
		return col + " = ANY($" + strconv.Itoa(n) + ")"
	}
	return col + " IN (SELECT value FROM json_each($" + strconv.Itoa(n) + "))"
}

// idsArg is the argument that goes with anyID.
func (db *DB) idsArg(ids []int64) any {
	if db.Engine == Postgres {
		return ids
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// noIndex is col in a condition that must not lead the query to col's
// indexes: SQLite, which keeps no statistics here, takes an index on an
// equality or IN for selective even when nearly every row matches, and a
// unary plus keeps it to the plan the query was written for. PostgreSQL
// plans from its statistics.
func (db *DB) noIndex(col string) string {
	if db.Engine == Postgres {
		return col
	}
	return "+" + col
}
