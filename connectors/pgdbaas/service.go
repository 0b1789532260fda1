package pgdbaas

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
)

const mb = 1 << 20

// Create provisions a tenant: a role and a database named t_<id>, with the
// requested limits, locale and extensions. It is idempotent on
// req.RequestID: a repeated request returns the tenant of the first — as it
// is now, even deleted, and whatever limits the repeat carries — and finishes
// it if the first was interrupted. Errors: connector.Invalid for bad limits
// or parameters (nothing is recorded); any other error leaves the tenant
// provisioning, with the error as its message, for a retry to finish.
func (s *Service) Create(ctx context.Context, req connector.CreateRequest) (connector.Tenant, error) {
	if req.RequestID == "" {
		return connector.Tenant{}, connector.Invalid(map[string]string{"request_id": "required"})
	}
	sp, err := s.offer.newSpec(req.Limits, req.Parameters)
	if err != nil {
		return connector.Tenant{}, err
	}
	st, err := s.insert(ctx, state{
		ID:             newTenantID(),
		RequestID:      req.RequestID,
		SubscriptionID: req.SubscriptionID,
		AccountID:      req.AccountID,
		Spec:           sp,
		Password:       newPassword(),
	})
	if err != nil {
		return connector.Tenant{}, fmt.Errorf("create tenant for request %s: %w", req.RequestID, err)
	}
	if st.Status != connector.StatusProvisioning {
		return s.tenant(st), nil
	}
	st, err = s.change(ctx, st.ID, func(c *sql.Conn, st *state) error {
		return s.finish(ctx, c, st)
	})
	if err != nil {
		return connector.Tenant{}, err
	}
	return s.tenant(st), nil
}

// finish provisions a tenant still provisioning; a no-op for any other.
func (s *Service) finish(ctx context.Context, c *sql.Conn, st *state) error {
	if st.Status != connector.StatusProvisioning {
		return nil
	}
	if err := s.provision(ctx, c, st); err != nil {
		return err
	}
	st.Status = connector.StatusReady
	return nil
}

// Get returns the tenant, after checking its storage limit (see the package
// doc). Deleted tenants are still found, with status deleted. Errors:
// connector.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (connector.Tenant, error) {
	st, err := s.load(ctx, s.db, id)
	if err != nil {
		return connector.Tenant{}, err
	}
	st, _, err = s.guardStorage(ctx, st)
	if err != nil {
		return connector.Tenant{}, err
	}
	return s.tenant(st), nil
}

// Update applies new limits and parameters; those left out keep their
// values. A new connection limit applies to new sessions; a new storage limit
// is checked at once; new extensions are installed. Errors:
// connector.ErrNotFound; a conflict (ECONFLICT) for a deleted or deleting
// tenant; connector.Invalid for a new locale, a removed extension or a bad
// value.
func (s *Service) Update(ctx context.Context, id string, req connector.UpdateRequest) (connector.Tenant, error) {
	// Validate before locking, so that bad input costs nothing and leaves no
	// trace; validated again under the lock against the state as it is then.
	st, err := s.load(ctx, s.db, id)
	if err != nil {
		return connector.Tenant{}, err
	}
	if _, err := s.offer.updated(st.Spec, req.Limits, req.Parameters); err != nil {
		return connector.Tenant{}, err
	}
	st, err = s.change(ctx, id, func(c *sql.Conn, st *state) error {
		if err := alive(st); err != nil {
			return err
		}
		sp, err := s.offer.updated(st.Spec, req.Limits, req.Parameters)
		if err != nil {
			return refusal{err}
		}
		if err := s.finish(ctx, c, st); err != nil {
			return err
		}
		if err := setConnectionLimit(ctx, c, st, sp.Connections); err != nil {
			return err
		}
		st.Spec.Connections = sp.Connections
		if err := s.installExtensions(ctx, st.name(), added(st.Spec.Extensions, sp.Extensions)); err != nil {
			return err
		}
		st.Spec.Extensions = sp.Extensions
		st.Spec.StorageMB = sp.StorageMB
		size, _, err := databaseSize(ctx, c, st.name())
		if err != nil {
			return err
		}
		return guard(ctx, c, st, size)
	})
	if err != nil {
		return connector.Tenant{}, err
	}
	return s.tenant(st), nil
}

// Suspend locks the customer out of its database and ends its sessions; the
// data stays. Idempotent. Errors: connector.ErrNotFound, a conflict
// (ECONFLICT) for a deleted or deleting tenant.
func (s *Service) Suspend(ctx context.Context, id string) (connector.Tenant, error) {
	st, err := s.change(ctx, id, func(c *sql.Conn, st *state) error {
		if err := alive(st); err != nil {
			return err
		}
		if err := s.finish(ctx, c, st); err != nil {
			return err
		}
		if err := suspend(ctx, c, st); err != nil {
			return err
		}
		st.Status = connector.StatusSuspended
		return nil
	})
	if err != nil {
		return connector.Tenant{}, err
	}
	return s.tenant(st), nil
}

// Resume lets the customer in again. Idempotent. Errors:
// connector.ErrNotFound, a conflict (ECONFLICT) for a deleted or deleting
// tenant.
func (s *Service) Resume(ctx context.Context, id string) (connector.Tenant, error) {
	st, err := s.change(ctx, id, func(c *sql.Conn, st *state) error {
		if err := alive(st); err != nil {
			return err
		}
		if err := s.finish(ctx, c, st); err != nil {
			return err
		}
		if err := resume(ctx, c, st); err != nil {
			return err
		}
		st.Status = connector.StatusReady
		return nil
	})
	if err != nil {
		return connector.Tenant{}, err
	}
	return s.tenant(st), nil
}

// Delete drops the tenant's database and role, for good, ending the sessions
// still open. The tenant stays in the state table with status deleted and its
// password erased, so that Get, a repeated Delete and a repeated Create
// answer consistently. Errors: connector.ErrNotFound for a tenant that never
// existed; any other error leaves the tenant deleting, for a retry to finish.
func (s *Service) Delete(ctx context.Context, id string) (connector.Tenant, error) {
	st, err := s.change(ctx, id, func(c *sql.Conn, st *state) error {
		if st.Status == connector.StatusDeleted {
			return nil
		}
		// Recorded before the first drop, so that a deletion cut short is
		// reported as such (and refuses other calls) until a retried
		// Delete finishes it, rather than as a ready tenant without a
		// database.
		if st.Status != connector.StatusDeleting {
			st.Status = connector.StatusDeleting
			if err := s.save(ctx, c, st); err != nil {
				return err
			}
		}
		if err := drop(ctx, c, st); err != nil {
			return err
		}
		st.Status = connector.StatusDeleted
		st.Password = ""
		st.ReadOnly = false
		return nil
	})
	if err != nil {
		return connector.Tenant{}, err
	}
	return s.tenant(st), nil
}

// Usage reports the database's size in MB, rounded up, and the tenant's open
// sessions, both current values (gauges), and checks the storage limit on the
// way. A tenant that is deleted or not yet provisioned has no readings.
// Errors: connector.ErrNotFound.
func (s *Service) Usage(ctx context.Context, id string) ([]connector.UsageReading, error) {
	st, err := s.load(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if st.Status != connector.StatusReady && st.Status != connector.StatusSuspended {
		return nil, nil
	}
	at := s.now().UTC()
	var sessions int64
	err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = $1`,
		st.name()).Scan(&sessions)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: sessions: %w", id, err)
	}
	_, size, err := s.guardStorage(ctx, st)
	if err != nil {
		return nil, err
	}
	return []connector.UsageReading{
		{Resource: ResourceStorage, Value: connector.Units((size + mb - 1) / mb), At: at},
		{Resource: ResourceConnections, Value: connector.Units(sessions), At: at},
	}, nil
}

// CheckStorage checks the storage limit of every live tenant, in one query
// for all the sizes, and switches the read-only guard where it is due. The
// connector program runs it periodically, so that the guard does not wait
// for the platform's next Get or Usage.
func (s *Service) CheckStorage(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT t.id, pg_database_size(d.oid), t.storage_mb, t.read_only
		FROM `+s.table+` t JOIN pg_database d ON d.datname = 't_' || t.id
		WHERE t.status IN ($1, $2)`, connector.StatusReady, connector.StatusSuspended)
	if err != nil {
		return fmt.Errorf("check storage: %w", err)
	}
	var due []string
	for rows.Next() {
		var id string
		var size, limit int64
		var readOnly bool
		if err := rows.Scan(&id, &size, &limit, &readOnly); err != nil {
			rows.Close()
			return fmt.Errorf("check storage: %w", err)
		}
		if (spec{StorageMB: limit}).over(size) != readOnly {
			due = append(due, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check storage: %w", err)
	}
	var errs []error
	for _, id := range due {
		st, err := s.load(ctx, s.db, id)
		if err == nil {
			_, _, err = s.guardStorage(ctx, st)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// guardStorage measures a live tenant's database and, when the read-only
// guard does not match the measure, switches it under the tenant's lock. It
// returns the tenant as it is afterwards and the size in bytes.
func (s *Service) guardStorage(ctx context.Context, st state) (state, int64, error) {
	if st.Status != connector.StatusReady && st.Status != connector.StatusSuspended {
		return st, 0, nil
	}
	size, ok, err := databaseSize(ctx, s.db, st.name())
	if err != nil || !ok {
		return st, 0, err
	}
	if st.Spec.over(size) == st.ReadOnly {
		return st, size, nil
	}
	st, err = s.change(ctx, st.ID, func(c *sql.Conn, st *state) error {
		if st.Status != connector.StatusReady && st.Status != connector.StatusSuspended {
			return nil
		}
		// Measure again: the limit or the data may have changed while we
		// waited for the lock.
		size, _, err = databaseSize(ctx, c, st.name())
		if err != nil {
			return err
		}
		return guard(ctx, c, st, size)
	})
	return st, size, err
}

// guard switches the read-only guard on when size exceeds the storage limit
// and off when it does not.
func guard(ctx context.Context, c *sql.Conn, st *state, size int64) error {
	over := st.Spec.over(size)
	if over == st.ReadOnly {
		return nil
	}
	return setReadOnly(ctx, c, st, over)
}

// tenant is what the platform sees. Attributes are the connection details
// the platform shows the customer (the customer panel shows them for as long
// as the subscription lives, hence the password every time); a tenant not yet
// provisioned or deleted has none.
func (s *Service) tenant(st state) connector.Tenant {
	t := connector.Tenant{
		ID:     st.ID,
		Status: st.Status,
		Limits: map[string]int64{
			ResourceStorage:     st.Spec.StorageMB,
			ResourceConnections: st.Spec.Connections,
		},
		Parameters: map[string]string{
			ParamLocale:     st.Spec.Locale,
			ParamExtensions: strings.Join(st.Spec.Extensions, ","),
		},
	}
	var msg []string
	if st.ReadOnly && st.Spec.StorageMB != connector.Unlimited {
		msg = append(msg, fmt.Sprintf("The database is larger than its storage limit of %d MB: new sessions are read-only "+
			"until the limit is raised or data is removed.", st.Spec.StorageMB))
	}
	if st.Message != "" {
		msg = append(msg, st.Message)
	}
	t.Message = strings.Join(msg, " ")
	if st.Status == connector.StatusReady || st.Status == connector.StatusSuspended {
		port := strconv.Itoa(s.port)
		u := url.URL{
			Scheme: "postgres",
			User:   url.UserPassword(st.name(), st.Password),
			Host:   net.JoinHostPort(s.host, port),
			Path:   "/" + st.name(),
		}
		t.Attributes = map[string]string{
			"host":     s.host,
			"port":     port,
			"database": st.name(),
			"user":     st.name(),
			"password": st.Password,
			"uri":      u.String(),
		}
	}
	return t
}

// alive refuses operations on a deleted tenant, or one being deleted: a
// state that forbids the call (409), which the platform does not retry.
func alive(st *state) error {
	if st.Status == connector.StatusDeleted || st.Status == connector.StatusDeleting {
		return refusal{marketplane.Errorf(marketplane.ECONFLICT, "tenant %s is %s", st.ID, st.Status)}
	}
	return nil
}

// added returns the elements of next missing from cur.
func added(cur, next []string) []string {
	var out []string
	for _, e := range next {
		if !slices.Contains(cur, e) {
			out = append(out, e)
		}
	}
	return out
}

// refusal wraps an error that refuses a request before anything happened;
// change returns the inner error without recording it on the tenant.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }
