package api

// The connector routes: register a connector by URL and secret, list and
// read the registered ones, refresh one (register it again with its stored
// URL and secret). Registering talks to the connector and checks the
// connection both ways (provisioning.Register); the connector's callback
// comes to provisioning.CallbackPath at the server's root, outside the API,
// authenticated by its signature alone. Connectors are the provider's: only
// its users see them, only its catalog managers register them. A
// connector's secret goes in with the registration and never comes out.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/provisioning"
	"github.com/marketplane/marketplane/store"
)

// Connector is a registered connector. Its secret is never shown.
type Connector struct {
	Name            string             `json:"name" example:"pgdbaas" doc:"The connector's name, from its manifest: the key of its service template and the prefix of its resource types' keys."`
	URL             string             `json:"url" example:"https://pgdbaas.example.com"`
	ManifestVersion string             `json:"manifest_version" example:"1.2.0" doc:"The connector's version, from its manifest."`
	Status          string             `json:"status" enum:"registered,unreachable,refused" doc:"The outcome of the last check: registered (passed), unreachable, or refused (it answered, but the check failed; see status_message)."`
	StatusMessage   string             `json:"status_message,omitempty" doc:"Why the last check failed."`
	LastCheckedAt   *time.Time         `json:"last_checked_at,omitempty"`
	Manifest        connector.Manifest `json:"manifest" doc:"What the connector said of itself at its last registration (GET /manifest of the connector protocol)."`
	Version         int64              `json:"version" doc:"Grows with every change of URL, secret or manifest; also the ETag."`
	CreatedAt       time.Time          `json:"created_at"`
	UpdatedAt       time.Time          `json:"updated_at"`
}

func connectorView(c *store.Connector) Connector {
	m := c.Manifest
	if m.Resources == nil {
		m.Resources = []connector.ResourceSpec{}
	}
	return Connector{Name: c.Name, URL: c.URL, ManifestVersion: c.Manifest.Version, Status: c.Status, StatusMessage: c.StatusMessage,
		LastCheckedAt: optTime(c.LastCheckedAt), Manifest: m, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// CatalogChange is one change to the catalog that a registration makes,
// or would make.
type CatalogChange struct {
	Action string        `json:"action" enum:"create,update"`
	Kind   string        `json:"kind" enum:"resource_type,template,plan"`
	Key    string        `json:"key"`
	Fields []FieldChange `json:"fields,omitempty" doc:"The fields an update changes."`
}

// FieldChange is one changed field of an update.
type FieldChange struct {
	Path string `json:"path" example:"resources[pgdbaas.replicas]" doc:"The field, with objects in lists named by key."`
	Old  string `json:"old" doc:"Compact JSON; empty when the field (or list item) is added."`
	New  string `json:"new" doc:"Compact JSON; empty when it is removed."`
}

// ConnectorCreated names what a registration created.
type ConnectorCreated struct {
	ResourceTypes []string    `json:"resource_types" doc:"Keys of the resource types created."`
	Template      string      `json:"template,omitempty" doc:"Key of the service template, when it was created."`
	Plan          *CreatedRef `json:"plan,omitempty" doc:"The draft plan, when it was created: unpublished, priced 0, ready to price and publish."`
}

// CreatedRef names a created object.
type CreatedRef struct {
	ID  int64  `json:"id,omitempty" doc:"Absent on a dry run."`
	Key string `json:"key"`
}

// ConnectorRegistration is what a registration did or, on a dry run,
// would do.
type ConnectorRegistration struct {
	Connector               Connector        `json:"connector" doc:"The connector as registered (as it would be, on a dry run)."`
	DryRun                  bool             `json:"dry_run"`
	New                     bool             `json:"new" doc:"The connector was not registered before."`
	PreviousManifestVersion string           `json:"previous_manifest_version,omitempty" doc:"The manifest version of the registration before."`
	ManifestChanged         bool             `json:"manifest_changed" doc:"The connector describes itself differently than at its last registration."`
	Changes                 []CatalogChange  `json:"changes" doc:"The catalog changes, in order. Nothing is deleted; plans are never changed."`
	Created                 ConnectorCreated `json:"created"`
	Retired                 []string         `json:"retired,omitempty" doc:"Resource types the connector no longer offers: kept (plans may sell them), out of the template."`
	PlanKept                string           `json:"plan_kept,omitempty" doc:"A plan with the draft plan's key existed and was left as it is."`
}

func registrationView(r *provisioning.Registration) ConnectorRegistration {
	out := ConnectorRegistration{Connector: connectorView(r.Connector), DryRun: r.DryRun, New: r.New(), ManifestChanged: r.ManifestChanged(),
		Changes: make([]CatalogChange, len(r.Changes)), Retired: r.Retired, PlanKept: r.PlanKept,
		Created: ConnectorCreated{ResourceTypes: r.Created.ResourceTypes, Template: r.Created.Template}}
	if r.Previous != nil {
		out.PreviousManifestVersion = r.Previous.Manifest.Version
	}
	if out.Created.ResourceTypes == nil {
		out.Created.ResourceTypes = []string{}
	}
	if r.Created.Plan != "" {
		out.Created.Plan = &CreatedRef{ID: r.Created.PlanID, Key: r.Created.Plan}
	}
	for i, c := range r.Changes {
		out.Changes[i] = catalogChangeView(c)
	}
	return out
}

func catalogChangeView(c catalog.Change) CatalogChange {
	out := CatalogChange{Action: string(c.Action), Kind: string(c.Kind), Key: c.Key}
	for _, f := range c.Fields {
		out.Fields = append(out.Fields, FieldChange(f))
	}
	return out
}

type connectorNamePath struct {
	Name string `path:"name" maxLength:"63" doc:"The connector's name."`
}

type connectorOutput struct {
	ETag string `header:"ETag"`
	Body Connector
}

type connectorList struct {
	Body Page[Connector]
}

type registerConnectorInput struct {
	Body struct {
		URL    string `json:"url" maxLength:"2000" example:"https://pgdbaas.example.com" doc:"The connector's base URL."`
		Secret string `json:"secret" maxLength:"1000" doc:"The secret the connector was started with. Stored to sign requests to it; never shown again."`
		DryRun bool   `json:"dry_run,omitempty" doc:"Check everything, the connection included, and answer what would change, changing nothing."`
	}
}

type refreshConnectorInput struct {
	Name string `path:"name" maxLength:"63" doc:"The connector's name."`
	Body *struct {
		DryRun bool `json:"dry_run,omitempty" doc:"Check everything and answer what would change, changing nothing."`
	}
}

type registrationOutput struct {
	Status   int
	Location string `header:"Location"`
	Body     ConnectorRegistration
}

func (a *API) connectorRoutes() {
	const tag = "Connectors"
	const who = " Connectors are the provider's: only its users see them, only its catalog managers register them."
	const check = " The server reads the connector's manifest, then checks the connection both ways: it pings the connector, " +
		"which must call the server back at its public URL (path /connector-callback), signed with the secret. " +
		"Errors say which step failed: 400 for a refused signature (field secret), a URL that is not a connector or an invalid manifest; " +
		"401 when the callback never came or was not signed with the secret; 503 when the connector cannot be reached; " +
		"409 when the name is registered at another URL."
	register(a, op{id: "list-connectors", method: http.MethodGet, path: "/connectors", tag: tag,
		summary: "List the registered connectors", description: "By name." + who}, a.listConnectors)
	register(a, op{id: "register-connector", method: http.MethodPost, path: "/connectors", tag: tag, status: http.StatusCreated,
		summary: "Register a connector",
		description: "Registers the connector at `url` with `secret` and creates from its manifest its resource types " +
			"(keys `<name>.<resource>`), a service template (`<name>`) and a draft plan (`<name>-starter`), ready to price and publish: 201. " +
			"Registering a connector again (same name and URL) brings its resource types and template in line with its manifest " +
			"and answers 200 with the changes; `dry_run` answers 200 with what would change and changes nothing." + check + who,
		errors: []int{http.StatusConflict, http.StatusServiceUnavailable}}, a.registerConnector)
	register(a, op{id: "get-connector", method: http.MethodGet, path: "/connectors/{name}", tag: tag,
		summary: "Get a connector", description: "Never its secret." + who}, a.getConnector)
	register(a, op{id: "refresh-connector", method: http.MethodPost, path: "/connectors/{name}/refresh", tag: tag,
		summary: "Register a connector again with its stored URL and secret",
		description: "Reads the manifest again, checks the connection and brings the catalog in line (or, with `dry_run`, " +
			"answers what would change). A failed check (not on a dry run) shows in the connector's status." + check + who,
		errors: []int{http.StatusConflict, http.StatusServiceUnavailable}}, a.refreshConnector)

	// A registration answers 201 when it made a new connector, 200 for a
	// dry run or a connector registered before: document both.
	for _, o := range a.operations {
		if o.OperationID == "register-connector" {
			if created := o.Responses["201"]; created != nil {
				o.Responses["200"] = &huma.Response{Description: "A dry run, or a connector registered before: what changes.",
					Content: created.Content}
			}
		}
	}
}

func (a *API) listConnectors(ctx context.Context, in *pageInput) (*connectorList, error) {
	rows, err := a.db.Connectors(ctx, actorFrom(ctx))
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorConnectors, rows, func(c *store.Connector) string { return c.Name }, connectorView)
	if err != nil {
		return nil, err
	}
	return &connectorList{Body: page}, nil
}

func (a *API) getConnector(ctx context.Context, in *connectorNamePath) (*connectorOutput, error) {
	c, err := a.db.Connector(ctx, actorFrom(ctx), in.Name)
	if err != nil {
		return nil, err
	}
	return &connectorOutput{ETag: etagOf(c.Version), Body: connectorView(c)}, nil
}

func (a *API) registerConnector(ctx context.Context, in *registerConnectorInput) (*registrationOutput, error) {
	actor := actorFrom(ctx)
	// Authorized before anything else: nobody else may make the server
	// call out.
	if err := a.db.MayManageConnectors(ctx, actor); err != nil {
		return nil, err
	}
	base, err := a.connectorCallbackBase()
	if err != nil {
		return nil, err
	}
	reg, err := provisioning.Register(ctx, a.db, actor, provisioning.RegisterRequest{URL: strings.TrimSpace(in.Body.URL),
		Secret: in.Body.Secret, CallbackBase: base, DryRun: in.Body.DryRun, Client: a.connectorClient})
	if err != nil {
		return nil, connectorProblem(err)
	}
	return registrationResponse(reg), nil
}

func (a *API) refreshConnector(ctx context.Context, in *refreshConnectorInput) (*registrationOutput, error) {
	actor := actorFrom(ctx)
	if err := a.db.MayManageConnectors(ctx, actor); err != nil {
		return nil, err
	}
	base, err := a.connectorCallbackBase()
	if err != nil {
		return nil, err
	}
	dry := in.Body != nil && in.Body.DryRun
	reg, err := provisioning.Refresh(ctx, a.db, actor, provisioning.RegisterRequest{Name: in.Name, CallbackBase: base,
		DryRun: dry, Client: a.connectorClient})
	if err != nil {
		return nil, connectorProblem(err)
	}
	return registrationResponse(reg), nil
}

func registrationResponse(reg *provisioning.Registration) *registrationOutput {
	out := &registrationOutput{Status: http.StatusOK, Body: registrationView(reg)}
	if reg.New() && !reg.DryRun {
		out.Status, out.Location = http.StatusCreated, Prefix+"/connectors/"+url.PathEscape(reg.Connector.Name)
	}
	return out
}

// connectorCallbackBase is the server's base URL as connectors reach it.
func (a *API) connectorCallbackBase() (string, error) {
	base := ""
	if a.callbackBase != nil {
		base = a.callbackBase()
	}
	if base == "" {
		return "", huma.NewError(http.StatusServiceUnavailable,
			"the server does not know its public URL, which a connector calls back when it is registered: start it with --base-url")
	}
	return base, nil
}

// connectorProblem keeps the cause of an unreachable connector: the
// provider's staff gave its URL and need to know what failed, where the
// other 503s of the API hide their cause.
func connectorProblem(err error) error {
	var un *provisioning.UnreachableError
	if errors.As(err, &un) && marketplane.ErrorCode(err) == marketplane.EUNAVAILABLE {
		return huma.NewError(http.StatusServiceUnavailable, un.Error())
	}
	return err
}
