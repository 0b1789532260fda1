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
	// Template is the key of the connector's service template.
	Template string
	// Bindings say which resource type sells each resource of the
	// manifest, in its order: an existing one, kept or updated (see
	// Changes), or one created.
	Bindings []Binding
	// Retired are resource types of the connector that its manifest no
	// longer offers and no plan of its template prices: they are kept and
	// left out of the template; delete them by hand once unused.
	Retired []string
	// Unoffered are resource types that the manifest no longer offers but
	// plans price: they stay in the template (see Unoffered).
	Unoffered []Unoffered
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
// its resource types and service template, and for a new connector
// without plans creates a draft plan ("<name>-starter"). Resource types
// and the template that exist are found by their connector binding and
// keep their keys; new ones are "<name>.<resource key>" and "<name>". A
// resource type that plans price never leaves the template. See
// DesiredCatalog for what is made of a manifest.
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
//     URL serves another connector now; the manifest changes the class of
//     a resource type that plans price;
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
	var desired *Desired
	res, err := db.RegisterConnector(ctx, actor, store.ConnectorSetup{
		Connector: store.Connector{Name: m.Name, URL: c.BaseURL(), Secret: req.Secret, Manifest: m},
		Desired: func(stored *store.Connector, cur *store.ConnectorCatalog) (*store.ConnectorCatalog, error) {
			d, err := DesiredCatalog(m, cur, stored == nil)
			if err != nil {
				return nil, err
			}
			desired = d
			return d.Catalog, nil
		},
		DryRun: req.DryRun,
	})
	if err != nil {
		return nil, err
	}
	reg := &Registration{Connector: res.Connector, Previous: res.Previous, DryRun: req.DryRun, Changes: res.Changes,
		Retired: res.Retired, PlanKept: res.PlanKept, Template: desired.Catalog.Template.Key, Bindings: desired.Bindings,
		Unoffered: desired.Unoffered}
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

// Binding says which resource type sells one resource of a manifest.
type Binding struct {
	// Resource is the manifest's resource key; ResourceType the key of
	// the resource type bound to it (its Connector field is Resource).
	Resource, ResourceType string
	// Existing is true when the resource type existed (the registration
	// keeps or updates it), false when the registration creates it.
	Existing bool
}

// Unoffered is a resource type of the connector's template that the
// manifest no longer offers but plans still price: it stays in the
// template, so that the plans stay valid, and orders for it reach a
// connector that no longer knows it until the plans stop selling it.
type Unoffered struct {
	ResourceType string
	Plans        []string
}

// Desired is what a registration makes of a manifest: the connector's part
// of the catalog, and how the manifest's resources map onto it.
type Desired struct {
	Catalog *store.ConnectorCatalog
	// Bindings are the manifest's resources in its order.
	Bindings  []Binding
	Unoffered []Unoffered
}

// DesiredCatalog is what the catalog should hold for a connector with
// manifest m, given what it holds (cur: the connector's part of the
// catalog as stored, see store.ConnectorCatalog; empty for a new
// connector). The rules:
//
//   - each resource of the manifest is sold by one resource type bound to
//     it (the type's Connector is the resource's key). An existing one is
//     taken first: among the connector's types bound to the key, the one
//     the most plans of its template price, then one its template lists,
//     then the one a registration made ("<name>.<key>"); so a catalog
//     built before the connector came (catalog import, the demo: "mailbox"
//     bound to "mailboxes" in the template bound to "office") keeps its
//     keys. Only when there is none is a type "<name>.<key>" made;
//   - a type that a registration made follows the manifest: its unit,
//     class and names (plus the languages the provider added that the
//     manifest lacks); a type the provider made keeps its unit and names,
//     the manifest adding only the languages it lacks. Its category is
//     the provider's. A type whose class the manifest changes is refused
//     while plans price it (a limit billed as a counter is another price);
//   - the template is the connector's template with its key, name and
//     order: what it lists stays, with the limits the provider set, except
//     the types bound to a resource the manifest no longer offers that no
//     plan prices, which leave it (retired, never deleted); a type still
//     priced stays (Unoffered names it with its plans). The resources it
//     lacks are appended in the manifest's order with limit -1
//     (unlimited), or 0 (off) for a boolean, which a connector accepts
//     only as 0 or 1. A new template is "<name>", bound to the connector;
//   - for a new connector whose template no plan is made of, a draft plan
//     "<name>-starter": unpublished, one monthly period priced 0 (shown as
//     free), and a rate for each limit resource, included 0, min 0, max
//     unlimited, priced 0. The provider prices and publishes it; a
//     registration never changes a plan.
func DesiredCatalog(m connector.Manifest, cur *store.ConnectorCatalog, isNew bool) (*Desired, error) {
	if cur == nil {
		cur = &store.ConnectorCatalog{}
	}
	byKey := map[string]catalog.ResourceType{}
	for _, rt := range cur.ResourceTypes {
		byKey[rt.Key] = rt
	}
	listed := map[string]bool{}
	if cur.Template != nil {
		for _, r := range cur.Template.Resources {
			listed[r.Resource] = true
		}
	}

	out := &Desired{Catalog: &store.ConnectorCatalog{}}
	want := map[string]catalog.ResourceType{} // by key: the types the catalog keeps or makes
	offered := map[string]bool{}              // the manifest's resource keys
	var conflicts marketplane.FieldErrors
	for i, r := range m.Resources {
		offered[r.Key] = true
		rt, existing := bindingFor(m.Name, r.Key, cur, listed)
		own := rt.Key == ResourceTypeKey(m.Name, r.Key)
		if !existing {
			rt = catalog.ResourceType{Key: ResourceTypeKey(m.Name, r.Key)}
		}
		if existing && rt.Class != catalog.Class(r.Class) && len(cur.PricedBy[rt.Key]) > 0 {
			conflicts.Add(fmt.Sprintf("manifest.resources[%d].class", i), fmt.Sprintf(
				"is %s, but resource type %s, bound to %q and priced by plans %s, is a %s: change the plans or the connector",
				r.Class, rt.Key, r.Key, strings.Join(cur.PricedBy[rt.Key], ", "), rt.Class))
		}
		names := rt.Name.Clone()
		if names == nil {
			names = catalog.Text{}
		}
		for lang, name := range r.Name {
			if _, ok := names[lang]; !ok || !existing || own {
				names[lang] = name
			}
		}
		rt.Name = names
		if !existing || own {
			rt.Unit = r.Unit
		}
		rt.Class, rt.Connector = catalog.Class(r.Class), r.Key
		want[rt.Key] = rt
		out.Bindings = append(out.Bindings, Binding{Resource: r.Key, ResourceType: rt.Key, Existing: existing})
	}
	if err := conflicts.Err("connector registration"); err != nil {
		e := err.(*marketplane.Error)
		e.Code = marketplane.ECONFLICT
		e.Message = "the connector's manifest changes the class of resource types that plans price"
		return nil, e
	}

	tpl := &catalog.Template{Key: m.Name, Name: catalog.Text{"en": m.Name}, Connector: m.Name, Resources: []catalog.TemplateResource{}}
	if cur.Template != nil {
		tpl = &catalog.Template{Key: cur.Template.Key, Name: cur.Template.Name.Clone(), Connector: m.Name,
			Resources: []catalog.TemplateResource{}}
		for _, r := range cur.Template.Resources {
			rt, known := byKey[r.Resource]
			_, bound := want[r.Resource]
			switch {
			case bound, !known, rt.Connector == "":
				// Sold through the manifest, or no connector's business
				// (a type no connector provisions): stays as it is.
			case len(cur.PricedBy[r.Resource]) > 0:
				if !offered[rt.Connector] {
					out.Unoffered = append(out.Unoffered, Unoffered{ResourceType: r.Resource, Plans: cur.PricedBy[r.Resource]})
				}
			default:
				continue // retired
			}
			if _, ok := want[r.Resource]; !ok && known {
				want[r.Resource] = rt
			}
			tpl.Resources = append(tpl.Resources, r)
		}
	}
	// What the template lacks: the manifest's types, and types plans
	// price that an earlier registration took out.
	inTemplate := func(key string) bool {
		return slices.ContainsFunc(tpl.Resources, func(x catalog.TemplateResource) bool { return x.Resource == key })
	}
	for _, b := range out.Bindings {
		if inTemplate(b.ResourceType) {
			continue
		}
		limit := catalog.Unlimited
		if want[b.ResourceType].Class == catalog.ClassBoolean {
			limit = 0
		}
		tpl.Resources = append(tpl.Resources, catalog.TemplateResource{Resource: b.ResourceType, Limit: limit})
	}
	for _, key := range slices.Sorted(maps.Keys(cur.PricedBy)) {
		rt, known := byKey[key]
		if !known || inTemplate(key) {
			continue
		}
		if _, ok := want[key]; !ok {
			want[key] = rt
		}
		if rt.Connector != "" && !offered[rt.Connector] {
			out.Unoffered = append(out.Unoffered, Unoffered{ResourceType: key, Plans: cur.PricedBy[key]})
		}
		tpl.Resources = append(tpl.Resources, catalog.TemplateResource{Resource: key, Limit: catalog.Unlimited})
	}
	out.Catalog.Template = tpl
	for _, key := range slices.Sorted(maps.Keys(want)) {
		out.Catalog.ResourceTypes = append(out.Catalog.ResourceTypes, want[key])
	}
	if isNew && len(cur.Plans) == 0 {
		out.Catalog.Plan = starterPlan(m, tpl.Key, out.Bindings)
	}
	return out, nil
}

// bindingFor finds the existing resource type that sells resource key of
// connector name (see DesiredCatalog); existing is false when there is
// none.
func bindingFor(name, key string, cur *store.ConnectorCatalog, listed map[string]bool) (rt catalog.ResourceType, existing bool) {
	best, score := -1, -1
	for i, x := range cur.ResourceTypes {
		s := -1
		switch {
		case x.Connector == key && len(cur.PricedBy[x.Key]) > 0:
			s = 3_000_000 + len(cur.PricedBy[x.Key])
		case x.Connector == key && listed[x.Key]:
			s = 2_000_000
		case x.Key == ResourceTypeKey(name, key):
			s = 1_000_000
		}
		if s > score {
			best, score = i, s
		}
	}
	if best < 0 {
		return catalog.ResourceType{}, false
	}
	return cur.ResourceTypes[best], true
}

// starterPlan is the draft plan of a new connector, made of template tpl,
// with a rate for each limit resource by the resource type bound to it.
func starterPlan(m connector.Manifest, tpl string, bindings []Binding) *catalog.Plan {
	p := &catalog.Plan{
		Key:      StarterPlanKey(m.Name),
		Template: tpl,
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
	for i, r := range m.Resources {
		if r.Class != connector.ClassLimit {
			continue
		}
		key := bindings[i].ResourceType
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
