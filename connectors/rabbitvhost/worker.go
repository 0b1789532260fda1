package rabbitvhost

import (
	"context"
	"errors"
	"time"
)

// signal wakes the worker without blocking: one pending wake-up is enough.
func (s *Service) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run is the worker: it hands due tenants to at most cfg.Workers goroutines,
// and looks again when woken, when one finishes, or every PollInterval (for
// retries whose backoff has passed).
func (s *Service) run() {
	defer s.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
		s.dispatch()
		timer.Reset(s.cfg.PollInterval)
	}
}

// dispatch starts work on due tenants while there are free slots.
func (s *Service) dispatch() {
	ids, err := s.state.due(s.ctx, s.cfg.Clock.Now(), 2*s.cfg.Workers)
	if err != nil {
		if s.ctx.Err() == nil {
			s.cfg.Logger.Error("rabbitvhost: reading due tenants", "err", err)
		}
		return
	}
	for _, id := range ids {
		s.mu.Lock()
		busy := s.inflight[id]
		s.mu.Unlock()
		if busy {
			continue
		}
		select {
		case s.slots <- struct{}{}:
		default:
			return // all workers busy; a finishing one wakes us
		}
		s.mu.Lock()
		s.inflight[id] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.inflight, id)
				s.mu.Unlock()
				<-s.slots
				s.signal()
			}()
			s.reconcile(s.ctx, id) // it logs what went wrong
		}()
	}
}

// reconcile makes RabbitMQ match the tenant's recorded state, records the
// outcome and logs it. It holds the tenant's lock, so the worker and a request
// applying a change at once never work on the same tenant together.
//
// If ctx ends during the work (shutdown, or the requester gave up), nothing
// is recorded: the row stays pending and the next attempt redoes the steps,
// each of which checks before it acts.
func (s *Service) reconcile(ctx context.Context, id string) error {
	unlock := s.locks.lock(id)
	defer unlock()
	r, err := s.state.get(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Error("rabbitvhost: reading tenant", "tenant", id, "err", err)
		}
		return err
	}
	if !r.pending() {
		return nil
	}
	stepErr := s.apply(ctx, r)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The outcome is recorded even if the requester's context ends now.
	rec := context.WithoutCancel(ctx)
	now := s.cfg.Clock.Now()
	if stepErr != nil {
		got, err := s.state.failed(rec, id, stepErr, now, s.cfg.MaxAttempts, s.backoff)
		if err != nil {
			s.cfg.Logger.Error("rabbitvhost: recording a failed attempt", "tenant", id, "err", err, "cause", stepErr)
			return errors.Join(stepErr, err)
		}
		s.cfg.Logger.Warn("rabbitvhost: attempt failed", "tenant", id, "status", got.Status, "attempt", got.Attempts, "err", stepErr)
		return stepErr
	}
	got, err := s.state.applied(rec, id, r, now)
	if err != nil {
		// RabbitMQ is right but the record is not: the next attempt
		// redoes the steps, which changes nothing there.
		s.cfg.Logger.Error("rabbitvhost: recording applied state", "tenant", id, "err", err)
		return err
	}
	s.cfg.Logger.Info("rabbitvhost: tenant reconciled", "tenant", id, "status", got.Status)
	return nil
}

// backoff is the wait before attempt n+1: RetryBackoff doubled per failed
// attempt, at most a minute.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.RetryBackoff
	for i := 1; i < n && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// apply runs the RabbitMQ steps from what was last applied to what the row
// wants. Each step is safe to repeat: creations check existence first,
// limits and permissions are set to absolute values.
func (s *Service) apply(ctx context.Context, r tenantRow) error {
	name := s.name(r.ID)
	if r.Deleted {
		return s.remove(ctx, r.ID, name)
	}
	first := r.Applied == nil
	want := r.target()
	if first {
		if err := s.ensureVHost(ctx, r, name); err != nil {
			return err
		}
		if err := s.ensureUser(ctx, r, name); err != nil {
			return err
		}
	}
	if first || r.Applied.Connections != want.Connections || r.Applied.Queues != want.Queues {
		if err := s.step(ctx, r.ID, "set_vhost_limits", func() error {
			return s.ctl.setLimits(ctx, name, want.Connections, want.Queues)
		}); err != nil {
			return err
		}
	}
	if first || r.Applied.Suspended != want.Suspended {
		if want.Suspended {
			if err := s.step(ctx, r.ID, "clear_permissions", func() error { return s.ctl.revoke(ctx, name, name) }); err != nil {
				return err
			}
			// Permissions are checked when a channel opens; connections
			// already open would go on working.
			return s.step(ctx, r.ID, "close_all_user_connections", func() error {
				return s.ctl.closeConnections(ctx, name, "subscription suspended")
			})
		}
		return s.step(ctx, r.ID, "set_permissions", func() error { return s.ctl.grant(ctx, name, name) })
	}
	return nil
}

func (s *Service) ensureVHost(ctx context.Context, r tenantRow, name string) error {
	exists, err := s.ctl.vhostExists(ctx, name)
	if err != nil || exists {
		return err
	}
	return s.step(ctx, r.ID, "add_vhost", func() error {
		return s.ctl.addVHost(ctx, name, r.Description, r.QueueType)
	})
}

func (s *Service) ensureUser(ctx context.Context, r tenantRow, name string) error {
	exists, err := s.ctl.userExists(ctx, name)
	if err != nil {
		return err
	}
	if exists {
		// An earlier attempt created the user; make sure the password is
		// the recorded one (it is, unless someone changed it by hand).
		return s.step(ctx, r.ID, "change_password", func() error { return s.ctl.changePassword(ctx, name, r.Password) })
	}
	return s.step(ctx, r.ID, "add_user", func() error { return s.ctl.addUser(ctx, name, r.Password) })
}

// remove deletes the virtual host (its queues and connections go with it)
// and the user, whichever still exist.
func (s *Service) remove(ctx context.Context, id, name string) error {
	exists, err := s.ctl.vhostExists(ctx, name)
	if err != nil {
		return err
	}
	if exists {
		if err := s.step(ctx, id, "delete_vhost", func() error { return s.ctl.deleteVHost(ctx, name) }); err != nil {
			return err
		}
	}
	exists, err = s.ctl.userExists(ctx, name)
	if err != nil {
		return err
	}
	if exists {
		return s.step(ctx, id, "delete_user", func() error { return s.ctl.deleteUser(ctx, name) })
	}
	return nil
}

// step runs one RabbitMQ change and tells the test hook about it.
func (s *Service) step(ctx context.Context, id, name string, fn func() error) error {
	if err := fn(); err != nil {
		return err
	}
	if s.afterStep != nil {
		s.afterStep(ctx, id, name)
	}
	return ctx.Err()
}
