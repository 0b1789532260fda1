package provisioning

// Registering a connector, "connector deployment in a few steps": the
// provider gives a URL and a secret; Register reads the connector's
// manifest, checks the connection both ways, and makes from the manifest
// the resource types, a service template and a draft plan, ready to price
// and publish. Registering again (or Refresh) brings the catalog in line
// with a newer manifest; a dry run shows what that would change first.
//
// The two-way check: Register records a nonce with the secret in the
// database (store.StartConnectorCheck) and sends the connector a signed
// POST /ping with the nonce and the platform's callback URL; the connector
// POSTs a callback signed with its secret to that URL, where
// CallbackHandler checks the signature with the secret recorded for the
// nonce and marks the check confirmed; the connector then answers the
// ping. Register passes only when the ping answered with the nonce and the
// check was confirmed. The check lives in the database rather than in the
// memory of one process so that the callback may land on any process of
// the platform, and a command-line registration may use a running server's
// callback address.

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/account"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/store"
)

// CallbackPath is where the platform receives registration callbacks, at
// the root of its public URL: outside the API, because the callback is
// authenticated by its signature alone.
const CallbackPath = "/connector-callback"

// checkTTL bounds a two-way check: the ping waits for the callback, so a
// registration takes far less; the bound only clears the checks of
// processes that died.
const checkTTL = 2 * time.Minute

// pingTimeout bounds the ping, which waits for the connector's callback
// (the SDK gives the callback 10 seconds).
const pingTimeout = 20 * time.Second

// RegisterRequest is what Register needs.
type RegisterRequest struct {
	// Name, when set, is the name the connector must have: Refresh sets
	// it, so that a URL that now serves another connector is refused.
	Name string
	// URL is the connector's base URL; Secret the secret it was started
	// with.
	URL, Secret string
	// CallbackBase is the platform's base URL as the connector reaches it
	// ("https://cloud.example.com"); the callback goes to CallbackBase +
	// CallbackPath, which a process with CallbackHandler on the same
	// database must serve.
	CallbackBase string
	// DryRun checks everything, the connection included, and returns the
	// changes without making them.
	DryRun bool
	// Client tunes the calls to the connector (zero: the defaults).
	Client Options
}

// Registration is what a registration did or, on a dry run, would do.
type Registration struct {
	// Connector is the connector as registered, without its secret.
	Connector *store.Connector
	// Previous is the connector as it was before; nil for a new one.
	Previous *store.Connector
	DryRun   bool
	// Changes are the catalog changes, in the order made (see
	// catalog.FormatDiff).
	Changes []catalog.Change
	// Created names what was created.
	Created Created
	// Retired are resource types of the connector that its manifest no
	// longer offers: they are kept (plans may sell them) and left out of
	// the template; delete them by hand once no plan uses them.
	Retired []string
	// PlanKept is the key of the draft plan when a plan with that key
	// existed already and was left as it is.
	PlanKept string
}

// New reports whether the registration makes a connector that was not
// registered before.
func (r *Registration) New() bool { return r.Previous == nil }

// ManifestChanged reports whether the connector described itself
// differently than when it was last registered.
func (r *Registration) ManifestChanged() bool {
	if r.Previous == nil {
		return true
	}
	a, _ := json.Marshal(r.Previous.Manifest)
	b, _ := json.Marshal(r.Connector.Manifest)
	return string(a) != string(b)
}

// Created names the catalog objects a registration created.
type Created struct {
	ResourceTypes []string // keys
	Template      string   // key; "" when none was created
	Plan          string   // key; "" when none was created
	PlanID        int64    // 0 on a dry run
}

// UnreachableError is Register's error when the connector cannot be
// reached or keeps failing (connection refused, timeouts, 5xx). Its text
// names the URL and the cause and is meant for the provider's staff, who
// gave the URL. It has code EUNAVAILABLE.
type UnreachableError struct {
	URL string
	Err error
}

// Error implements error.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("the connector at %s cannot be reached: %v", e.URL, e.Err)
}

// Unwrap returns the cause and an EUNAVAILABLE *marketplane.Error.
func (e *UnreachableError) Unwrap() []error {
	return []error{e.Err, &marketplane.Error{Code: marketplane.EUNAVAILABLE, Message: e.Error()}}
}

// checkFailed is an error of the connection check, for the connector's
// status: the connector answered, but not as it should.
type checkFailed struct{ err *marketplane.Error }

func (e checkFailed) Error() string { return e.err.Error() }
func (e checkFailed) Unwrap() error { return e.err }

// Register registers the connector at req.URL with req.Secret, or
// registers it again: it reads the manifest, checks the connection both
// ways, and in one transaction stores the connector and creates or updates
// its resource types ("<name>.<resource key>") and service template
// ("<name>"), and for a new connector creates a draft plan
// ("<name>-starter"). See DesiredCatalog for what is made of a manifest.
//
// Only the provider's catalog managers may; the actor is checked before
// anything is sent. Errors:
//   - EFORBIDDEN: the actor may not;
//   - EINVALID: a bad URL, secret or callback base; the connector refused
//     our signature (field "secret": check the secret); what answers is not
//     a connector; its manifest is invalid (fields "manifest.…");
//   - EUNAVAILABLE (*UnreachableError): the connector cannot be reached;
//   - EUNAUTHORIZED: the two-way check failed: the callback never came, or
//     came signed with another secret;
//   - ECONFLICT: the name is registered at another URL, or (Refresh) the
//     URL serves another connector now;
//   - the store's errors of RegisterConnector.
func Register(ctx context.Context, db *store.DB, actor *account.Actor, req RegisterRequest) (*Registration, error) {
	if err := db.MayManageConnectors(ctx, actor); err != nil {
		return nil, err
	}
	return register(ctx, db, actor, req)
}

// Refresh registers connector req.Name again with its stored URL and
// secret (req.URL and req.Secret are ignored): the manifest is read again,
// the connection checked, and the catalog brought in line, or with
// req.DryRun only shown. When the check fails (not on a dry run), the
// connector's status says so: unreachable, or refused with the reason.
// Errors: those of Register, and ENOTFOUND.
func Refresh(ctx context.Context, db *store.DB, actor *account.Actor, req RegisterRequest) (*Registration, error) {
	if err := db.MayManageConnectors(ctx, actor); err != nil {
		return nil, err
	}
	c, err := db.Connector(ctx, actor, req.Name)
	if err != nil {
		return nil, err
	}
	secret, err := db.ConnectorSecret(ctx, c.Name)
	if err != nil {
		return nil, err
	}
	req.URL, req.Secret = c.URL, secret
	reg, err := register(ctx, db, actor, req)
	if err != nil && !req.DryRun {
		var un *UnreachableError
		var cf checkFailed
		status, why := "", ""
		switch {
		case errors.As(err, &un):
			status, why = store.ConnectorUnreachable, un.Error()
		case errors.As(err, &cf):
			status, why = store.ConnectorRefused, cf.err.Message
		}
		if status != "" {
			if serr := db.SetConnectorStatus(context.WithoutCancel(ctx), actor, c.Name, status, why); serr != nil {
				return nil, errors.Join(err, serr)
			}
		}
	}
	return reg, err
}

func register(ctx context.Context, db *store.DB, actor *account.Actor, req RegisterRequest) (*Registration, error) {
	callbackURL, err := checkRequest(req)
	if err != nil {
		return nil, err
	}
	c, err := New(req.URL, req.Secret, req.Client)
	if err != nil {
		return nil, err
	}
	m, err := fetchManifest(ctx, c)
	if err != nil {
		return nil, err
	}
	if req.Name != "" && m.Name != req.Name {
		return nil, checkFailed{marketplane.Errorf(marketplane.ECONFLICT,
			"the connector at %s calls itself %q now, not %q; register it under its new name", c.BaseURL(), m.Name, req.Name)}
	}
	// A name taken by another URL is refused before the connector is
	// pinged (and again in the transaction, against races).
	if stored, err := db.Connector(ctx, actor, m.Name); err == nil && stored.URL != c.BaseURL() {
		return nil, &marketplane.Error{Code: marketplane.ECONFLICT,
			Message: fmt.Sprintf("a connector named %q is registered at %s; a connector's name is its own", m.Name, stored.URL),
			Fields:  map[string]string{"url": fmt.Sprintf("connector %q is registered at another URL", m.Name)}}
	} else if err != nil && marketplane.ErrorCode(err) != marketplane.ENOTFOUND {
		return nil, err
	}
	if err := twoWayCheck(ctx, db, req, m, callbackURL); err != nil {
		return nil, err
	}
	res, err := db.RegisterConnector(ctx, actor, store.ConnectorSetup{
		Connector: store.Connector{Name: m.Name, URL: c.BaseURL(), Secret: req.Secret, Manifest: m},
		Desired: func(stored *store.Connector, cur *store.ConnectorCatalog) (*store.ConnectorCatalog, error) {
			return DesiredCatalog(m, cur, stored == nil), nil
		},
		DryRun: req.DryRun,
	})
	if err != nil {
		return nil, err
	}
	reg := &Registration{Connector: res.Connector, Previous: res.Previous, DryRun: req.DryRun, Changes: res.Changes,
		Retired: res.Retired, PlanKept: res.PlanKept}
	for _, ch := range res.Changes {
		if ch.Action != catalog.Create {
			continue
		}
		switch ch.Kind {
		case catalog.KindResourceType:
			reg.Created.ResourceTypes = append(reg.Created.ResourceTypes, ch.Key)
		case catalog.KindTemplate:
			reg.Created.Template = ch.Key
		case catalog.KindPlan:
			reg.Created.Plan, reg.Created.PlanID = ch.Key, res.PlanID
		}
	}
	return reg, nil
}

// checkRequest checks the fields of req that the client does not, and
// returns the callback URL.
func checkRequest(req RegisterRequest) (string, error) {
	var f marketplane.FieldErrors
	if req.URL == "" {
		f.Add("url", "is required")
	}
	if req.Secret == "" {
		f.Add("secret", "is required: the secret the connector was started with")
	}
	base := strings.TrimSuffix(req.CallbackBase, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		f.Add("callback_base", "must be the platform's public base URL (absolute http or https, no query), which the connector can reach")
	}
	return base + CallbackPath, f.Err("connector registration")
}

// fetchManifest reads the manifest without the client's validation, so
// that its mistakes come back field by field, and explains the failures
// of the call.
func fetchManifest(ctx context.Context, c *Client) (connector.Manifest, error) {
	var m connector.Manifest
	rep, err := c.call(ctx, http.MethodGet, "/manifest", readID("manifest"), nil, c.opt.Retries)
	if err == nil {
		err = rep.decode(&m, http.StatusOK)
	}
	if err != nil {
		return m, callError(c.BaseURL(), "GET /manifest", err)
	}
	var f marketplane.FieldErrors
	if err := fieldsOf(&f, "manifest.", m.Validate()); err != nil {
		return m, err
	}
	checkKeys(&f, m)
	if err := f.Err("manifest"); err != nil {
		e := err.(*marketplane.Error)
		e.Message = "the connector's manifest is invalid; fix the connector"
		return m, checkFailed{e}
	}
	return m, nil
}

// checkKeys checks that the keys made of the manifest are catalog keys:
// the name is the template's key, and "<name>.<resource key>" and
// "<name>-starter" fit in 63 characters.
func checkKeys(f *marketplane.FieldErrors, m connector.Manifest) {
	if !catalog.ValidKey(m.Name) {
		f.Add("manifest.name", "must be 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit: it becomes the key of the service template")
		return
	}
	if !catalog.ValidKey(StarterPlanKey(m.Name)) {
		f.Add("manifest.name", fmt.Sprintf("is too long: the draft plan's key %q must fit in 63 characters", StarterPlanKey(m.Name)))
	}
	for i, r := range m.Resources {
		if k := ResourceTypeKey(m.Name, r.Key); !catalog.ValidKey(k) {
			f.Add(fmt.Sprintf("manifest.resources[%d].key", i), fmt.Sprintf("makes the resource type key %q, longer than 63 characters", k))
		}
	}
}

// fieldsOf adds the field errors of err to f with prefix; any other error
// is returned.
func fieldsOf(f *marketplane.FieldErrors, prefix string, err error) error {
	if err == nil {
		return nil
	}
	var e *marketplane.Error
	if !errors.As(err, &e) || e.Code != marketplane.EINVALID || len(e.Fields) == 0 {
		return err
	}
	for k, v := range e.Fields {
		f.Add(prefix+k, v)
	}
	return nil
}

// callError explains a failed call to the connector at base.
func callError(base, op string, err error) error {
	var un *UnavailableError
	var rej *RejectedError
	var rep *ReplyError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &un):
		return err
	case errors.As(err, &un):
		return &UnreachableError{URL: base, Err: err}
	case errors.As(err, &rej) && rej.StatusCode == http.StatusUnauthorized:
		return badSecret(rej.Message)
	case errors.As(err, &rej):
		return notAConnector(fmt.Sprintf("%s was refused with HTTP %d: %s", op, rej.StatusCode, rej.Message))
	case marketplane.ErrorCode(err) == marketplane.ENOTFOUND:
		return notAConnector(op + " answered 404: no connector answers at this URL (check the path)")
	case errors.As(err, &rep):
		return notAConnector(fmt.Sprintf("%s: %s", op, rep.Problem))
	}
	return notAConnector(fmt.Sprintf("%s: %s", op, marketplane.ErrorMessage(err)))
}

func badSecret(reason string) error {
	msg := "the connector refused our signature: check the secret"
	if strings.Contains(reason, "stale") {
		msg = "the connector refused our signature as stale: check the clocks of both machines"
	}
	if reason != "" {
		msg += " (the connector says: " + strings.TrimPrefix(reason, marketplane.EUNAUTHORIZED+": ") + ")"
	}
	return checkFailed{&marketplane.Error{Code: marketplane.EINVALID, Message: msg,
		Fields: map[string]string{"secret": "the connector refused our signature: check the secret"}}}
}

func notAConnector(why string) error {
	return checkFailed{&marketplane.Error{Code: marketplane.EINVALID, Message: "what answers at this URL is not a Marketplane connector: " + why,
		Fields: map[string]string{"url": "does not answer as a connector: " + why}}}
}

// twoWayCheck pings the connector with a fresh nonce and checks that its
// callback came, signed with req.Secret.
func twoWayCheck(ctx context.Context, db *store.DB, req RegisterRequest, m connector.Manifest, callbackURL string) error {
	nonce := cryptorand.Text()
	if err := db.StartConnectorCheck(ctx, nonce, req.Secret, checkTTL); err != nil {
		return err
	}
	defer db.EndConnectorCheck(context.WithoutCancel(ctx), nonce)
	opt := req.Client
	opt.Timeout = max(opt.Timeout, pingTimeout)
	c, err := New(req.URL, req.Secret, opt)
	if err != nil {
		return err
	}
	pingErr := c.Ping(ctx, callbackURL, nonce)
	if ctx.Err() != nil {
		return fmt.Errorf("connector registration: %w", context.Cause(ctx))
	}
	chk, err := db.ConnectorCheck(ctx, nonce)
	if err != nil {
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			return twoWayFailed("the check expired before the connector answered")
		}
		return err
	}
	var un *UnavailableError
	var rej *RejectedError
	switch {
	case chk.Status == store.CheckRefused:
		return twoWayFailed(fmt.Sprintf("a callback came to %s but was not signed with the secret given (%s): "+
			"whatever answers at %s does not hold this secret", callbackURL, chk.Detail, c.BaseURL()))
	case errors.As(pingErr, &rej) && rej.StatusCode == http.StatusUnauthorized:
		return badSecret(rej.Message)
	case errors.As(pingErr, &un) && un.StatusCode == http.StatusBadGateway:
		return twoWayFailed(fmt.Sprintf("the connector could not call the platform back at %s: %v; "+
			"the connector must reach the platform's public URL", callbackURL, un.Err))
	case errors.As(pingErr, &un) && un.StatusCode == 0:
		return &UnreachableError{URL: c.BaseURL(), Err: pingErr}
	case pingErr != nil:
		return twoWayFailed(fmt.Sprintf("POST /ping: %v", pingErr))
	case chk.Status != store.CheckConfirmed:
		return twoWayFailed(fmt.Sprintf("the connector answered the ping, but no signed callback reached %s", callbackURL))
	case chk.CallbackName != m.Name:
		return twoWayFailed(fmt.Sprintf("the callback came from connector %q, but the manifest is %q's", chk.CallbackName, m.Name))
	}
	return nil
}

func twoWayFailed(why string) error {
	return checkFailed{marketplane.Errorf(marketplane.EUNAUTHORIZED,
		"the two-way check failed (platform → connector → signed callback → platform): %s", why)}
}

// ResourceTypeKey is the key of the resource type made of a connector's
// resource: "<connector>.<resource key>", so that connectors never collide.
func ResourceTypeKey(connectorName, resourceKey string) string {
	return connectorName + "." + resourceKey
}

// StarterPlanKey is the key of the draft plan made with a new connector.
func StarterPlanKey(connectorName string) string { return connectorName + "-starter" }

// DesiredCatalog is what the catalog should hold for a connector with
// manifest m, given what it holds (cur: the connector's resource types and
// template as stored; empty for a new connector). The rules:
//
//   - a resource type per resource of the manifest, key
//     ResourceTypeKey(name, key), bound to the resource by its Connector
//     field, with the manifest's unit and class; its names are the
//     manifest's, plus the languages the provider added that the manifest
//     lacks; its category is the provider's;
//   - the template "<name>", bound to the connector, listing the
//     manifest's resources in its order; a resource keeps the default limit
//     the provider set, a new one gets -1 (unlimited), or 0 (off) for a
//     boolean, which a connector accepts only as 0 or 1; its name is the
//     provider's once made;
//   - for a new connector, a draft plan "<name>-starter": unpublished, one
//     monthly period priced 0 (shown as free), and a rate for each limit
//     resource, included 0, min 0, max unlimited, priced 0. The provider
//     prices and publishes it; a registration never changes a plan again.
//
// Resource types the manifest no longer offers drop out of the template
// but are never deleted: plans may still sell them.
func DesiredCatalog(m connector.Manifest, cur *store.ConnectorCatalog, isNew bool) *store.ConnectorCatalog {
	if cur == nil {
		cur = &store.ConnectorCatalog{}
	}
	out := &store.ConnectorCatalog{}
	tpl := &catalog.Template{Key: m.Name, Name: catalog.Text{"en": m.Name}}
	limits := map[string]int64{}
	if cur.Template != nil {
		tpl.Name = cur.Template.Name.Clone()
		for _, r := range cur.Template.Resources {
			limits[r.Resource] = r.Limit
		}
	}
	tpl.Connector = m.Name
	tpl.Resources = []catalog.TemplateResource{}
	for _, r := range m.Resources {
		key := ResourceTypeKey(m.Name, r.Key)
		rt := catalog.ResourceType{Key: key, Name: catalog.Text{}}
		if i := slices.IndexFunc(cur.ResourceTypes, func(x catalog.ResourceType) bool { return x.Key == key }); i >= 0 {
			rt.Name = cur.ResourceTypes[i].Name.Clone()
			rt.Category = cur.ResourceTypes[i].Category
		}
		if rt.Name == nil {
			rt.Name = catalog.Text{}
		}
		maps.Copy(rt.Name, r.Name)
		rt.Unit, rt.Class, rt.Connector = r.Unit, catalog.Class(r.Class), r.Key
		out.ResourceTypes = append(out.ResourceTypes, rt)

		limit, ok := limits[key]
		if !ok {
			limit = catalog.Unlimited
			if r.Class == connector.ClassBoolean {
				limit = 0
			}
		}
		tpl.Resources = append(tpl.Resources, catalog.TemplateResource{Resource: key, Limit: limit})
	}
	out.Template = tpl
	if isNew {
		out.Plan = starterPlan(m)
	}
	return out
}

// starterPlan is the draft plan of a new connector.
func starterPlan(m connector.Manifest) *catalog.Plan {
	p := &catalog.Plan{
		Key:      StarterPlanKey(m.Name),
		Template: m.Name,
		Name:     catalog.Text{"en": m.Name + " starter"},
		Billing:  catalog.ChargeInAdvance,
		Periods: []catalog.Period{{
			Key:           "1m",
			Duration:      catalog.Duration{N: 1, Unit: catalog.Month},
			ShowZeroPrice: true,
			Refund:        catalog.Refund{After: catalog.RefundNone},
			RecurringPer:  catalog.PerPeriod,
		}},
	}
	if m.Description != "" {
		p.Description = catalog.Text{"en": m.Description}
	}
	for _, r := range m.Resources {
		if r.Class != connector.ClassLimit {
			continue
		}
		key := ResourceTypeKey(m.Name, r.Key)
		p.Rates = append(p.Rates, catalog.Rate{Key: key, Resource: key, Included: 0, Min: 0, Max: catalog.Unlimited,
			Display: catalog.Spinner, Sort: len(p.Rates)})
	}
	return p
}

// maxCallback bounds the body of a callback the handler reads.
const maxCallback = 64 << 10

// CallbackHandler serves POST CallbackPath: the registration callbacks of
// connectors (see Register). It looks up the check of the callback's nonce
// in db, verifies the signature with that check's secret and records the
// outcome, answering 200 for a good callback, 401 for a bad signature
// (recorded: the registration then says so), 404 for a nonce no
// registration waits for. Mount it outside the API's authentication: the
// signature is the callback's credential.
func CallbackHandler(db *store.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeCallbackReply(w, http.StatusMethodNotAllowed, "POST only")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxCallback+1))
		if err != nil {
			writeCallbackReply(w, http.StatusBadRequest, "reading the body: "+err.Error())
			return
		}
		if len(body) > maxCallback {
			writeCallbackReply(w, http.StatusRequestEntityTooLarge, "a callback is a small JSON object")
			return
		}
		// The nonce is read before the signature is checked, to find the
		// secret to check it with; nothing else of the body is trusted
		// until then.
		var unverified connector.Callback
		if json.Unmarshal(body, &unverified) != nil || unverified.Nonce == "" {
			writeCallbackReply(w, http.StatusBadRequest, "the body is not a callback with a nonce")
			return
		}
		chk, err := db.ConnectorCheck(r.Context(), unverified.Nonce)
		if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
			writeCallbackReply(w, http.StatusNotFound, "no registration waits for this nonce")
			return
		}
		if err != nil {
			writeCallbackReply(w, http.StatusServiceUnavailable, "cannot check the callback now")
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		cb, err := ReadCallback(r, chk.Secret, 0)
		if err != nil {
			if rerr := db.RecordConnectorCallback(r.Context(), chk.Nonce, false, refusal(err), "", ""); rerr != nil {
				writeCallbackReply(w, http.StatusServiceUnavailable, "cannot record the callback now")
				return
			}
			writeCallbackReply(w, http.StatusUnauthorized, err.Error())
			return
		}
		if err := db.RecordConnectorCallback(r.Context(), cb.Nonce, true, "", cb.Name, cb.Version); err != nil {
			writeCallbackReply(w, http.StatusServiceUnavailable, "cannot record the callback now")
			return
		}
		writeCallbackReply(w, http.StatusOK, "")
	})
}

// refusal says in a few words why a callback's signature did not hold.
func refusal(err error) string {
	switch {
	case errors.Is(err, connector.ErrStale):
		return "stale timestamp: check the clocks of both machines"
	case errors.Is(err, connector.ErrUnsigned):
		return "not signed"
	case errors.Is(err, connector.ErrBadSignature):
		return "bad signature"
	}
	return marketplane.ErrorMessage(err)
}

// writeCallbackReply answers a callback in the protocol's JSON: {"status":
// "ok"}, or {"error": why}.
func writeCallbackReply(w http.ResponseWriter, status int, why string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status == http.StatusOK {
		io.WriteString(w, `{"status":"ok"}`+"\n")
		return
	}
	b, _ := json.Marshal(connector.ErrorReply{Error: why})
	w.Write(append(b, '\n'))
}
