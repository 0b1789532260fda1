package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/marketplane/marketplane"
)

// jsonListHas is the dialect's condition "the JSON array at key of the JSON
// column col holds the text given as parameter $n": jsonb containment on
// PostgreSQL, json_each on SQLite. A missing key is false on both.
func (db *DB) jsonListHas(col, key string, n int) string {
	p := "$" + strconv.Itoa(n)
	if db.Engine == Postgres {
		return "(" + col + "->'" + key + "') @> jsonb_build_array(" + p + "::text)"
	}
	return "EXISTS (SELECT 1 FROM json_each(" + col + ", '$." + key + "') WHERE value = " + p + ")"
}

// anyText is anyID for a list of texts given as one argument (textsArg).
func (db *DB) anyText(col string, n int) string { return db.anyID(col, n) }

// textsArg is the argument that goes with anyText: a text array on
// PostgreSQL, a JSON array on SQLite.
func (db *DB) textsArg(s []string) any {
	if db.Engine == Postgres {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// updateCopies writes rows, each only if its version is still oldVersion.
// PostgreSQL takes the whole batch in one statement over arrays; SQLite,
// in-process, runs one prepared statement per row.
func (db *DB) updateCopies(ctx context.Context, tx *sql.Tx, rows []copyRow, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	if db.Engine == Postgres {
		n := len(rows)
		ids, versions := make([]int64, n), make([]int64, n)
		keys, templates, currencies, cats, bodies := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		pub, conf, chg := make([]bool, n), make([]bool, n), make([]bool, n)
		for i, r := range rows {
			ids[i], versions[i], keys[i], templates[i], currencies[i], cats[i], bodies[i] = r.id, r.oldVersion, r.key, r.template, r.currency, r.planCat, r.body
			pub[i], conf[i], chg[i] = r.published, r.needsConfirmation, r.change
		}
		res, err := tx.ExecContext(ctx, `UPDATE plans AS p SET key = v.key, template_key = v.template_key, currency = v.currency,
			plan_category = v.plan_category, published = v.published, needs_confirmation = v.needs_confirmation,
			changed_upstream = v.changed_upstream, body = v.body::jsonb, version = p.version + 1, updated_at = $11
			FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::bool[], $9::bool[], $10::text[])
				AS v(id, version, key, template_key, currency, plan_category, published, needs_confirmation, changed_upstream, body)
			WHERE p.id = v.id AND p.version = v.version AND p.source_id IS NOT NULL`,
			ids, versions, keys, templates, currencies, cats, pub, conf, chg, bodies, tv(now))
		if err != nil {
			if isUniqueViolation(err) {
				return marketplane.Errorf(marketplane.ECONFLICT, "a copy of the batch takes a plan key its owner uses already")
			}
			return fmt.Errorf("save copies: %w", err)
		}
		if got, _ := res.RowsAffected(); got != int64(n) {
			return marketplane.Errorf(marketplane.EPRECONDITION, "%d copies of the batch were changed meanwhile", int64(n)-got)
		}
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE plans SET key = $1, template_key = $2, currency = $3, plan_category = $4,
		published = $5, needs_confirmation = $6, changed_upstream = $7, body = $8, version = version + 1, updated_at = $9
		WHERE id = $10 AND version = $11 AND source_id IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("save copies: %w", err)
	}
	defer stmt.Close()
	t := tv(now)
	for _, r := range rows {
		res, err := stmt.ExecContext(ctx, r.key, r.template, r.currency, r.planCat, r.published, r.needsConfirmation, r.change,
			r.body, t, r.id, r.oldVersion)
		if err != nil {
			if isUniqueViolation(err) {
				return marketplane.Errorf(marketplane.ECONFLICT, "copy %d takes the key %q its owner uses already", r.id, r.key)
			}
			return fmt.Errorf("save copy %d: %w", r.id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return marketplane.Errorf(marketplane.EPRECONDITION, "plan %d was changed meanwhile", r.id)
		}
	}
	return nil
}
