package api

// The catalog routes: resource types and service templates (the provider's,
// readable by everyone signed in), plan and sales categories and delegation
// terms of a seller account. Plans are in catalog_plans.go. The store
// authorizes every call; see store/catalog.go for who may do what.

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/catalog"
	"github.com/marketplane/marketplane/delegation"
	"github.com/marketplane/marketplane/store"
)

// notFoundAs gives ENOTFOUND errors of a route the route's one text (the
// thing its path names), so that another's things cannot be told from
// missing ones by the message. Other errors pass.
func notFoundAs(err error, msg string) error {
	if marketplane.ErrorCode(err) == marketplane.ENOTFOUND {
		return huma.NewError(http.StatusNotFound, msg)
	}
	return err
}

// versionFor is the version an update is based on. A single entity tag of
// ours in If-Match is that version, and the store compares it in the
// transaction of the write, so no change in between is lost; without
// If-Match (or with "*" or a list) the current version is read first and the
// header checked against it.
func versionFor(ifMatch string, current func() (int64, error)) (int64, error) {
	if t := strings.TrimSpace(ifMatch); len(t) > 2 && t[0] == '"' && t[len(t)-1] == '"' {
		if v, err := strconv.ParseInt(t[1:len(t)-1], 10, 64); err == nil && v > 0 {
			return v, nil
		}
	}
	cur, err := current()
	if err != nil {
		return 0, err
	}
	return cur, checkIfMatch(ifMatch, etagOf(cur))
}

// keyInPath checks the optional key of a body against the key of the path:
// keys name things for good and do not change.
func keyInPath(f *marketplane.FieldErrors, body, path string) {
	if body != "" && body != path {
		f.Add("key", "must be the key in the path; keys do not change")
	}
}

// ----- resource types -----

// ResourceType is a sellable unit of a service, owned by the provider.
type ResourceType struct {
	Key       string            `json:"key" example:"mailbox"`
	Name      map[string]string `json:"name" doc:"Names by language tag." example:"{\"en\": \"Mailbox\"}"`
	Unit      string            `json:"unit" example:"GB"`
	Class     string            `json:"class" enum:"limit,counter,gauge,boolean" doc:"limit: a quantity bought; counter: additive usage; gauge: a usage value; boolean: on or off."`
	Category  string            `json:"category,omitempty" doc:"Resource category, for grouping in panels."`
	Connector string            `json:"connector,omitempty" doc:"The connector's name for the resource."`
	Version   int64             `json:"version" doc:"Grows with every change; also the ETag."`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// ResourceTypeInput creates or replaces a resource type.
type ResourceTypeInput struct {
	Key       string            `json:"key,omitempty" doc:"Required on create; on update, the key in the path." example:"mailbox"`
	Name      map[string]string `json:"name"`
	Unit      string            `json:"unit" example:"GB"`
	Class     string            `json:"class" enum:"limit,counter,gauge,boolean"`
	Category  string            `json:"category,omitempty"`
	Connector string            `json:"connector,omitempty"`
}

func (in *ResourceTypeInput) resourceType() catalog.ResourceType {
	return catalog.ResourceType{Key: in.Key, Name: in.Name, Unit: in.Unit, Class: catalog.Class(in.Class),
		Category: in.Category, Connector: in.Connector}
}

func resourceTypeView(r *store.ResourceType) ResourceType {
	return ResourceType{Key: r.Key, Name: textOut(r.Name), Unit: r.Unit, Class: string(r.Class), Category: r.Category,
		Connector: r.Connector, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// textOut is a text as the API shows it: never null.
func textOut(t catalog.Text) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return t
}

type keyPath struct {
	Key string `path:"key" doc:"The key."`
}

type resourceTypeOutput struct {
	ETag string `header:"ETag"`
	Body ResourceType
}

type resourceTypeCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     ResourceType
}

type resourceTypeList struct {
	Body Page[ResourceType]
}

type createResourceTypeInput struct {
	Body ResourceTypeInput
}

type updateResourceTypeInput struct {
	Key string `path:"key" doc:"The resource type's key."`
	Conditional
	Body ResourceTypeInput
}

// ----- templates -----

// Template is a service template: the resource types a service is
// provisioned from, bound to one connector.
type Template struct {
	Key       string             `json:"key" example:"office"`
	Name      map[string]string  `json:"name"`
	Connector string             `json:"connector,omitempty"`
	Resources []TemplateResource `json:"resources"`
	Version   int64              `json:"version" doc:"Grows with every change; also the ETag."`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// TemplateResource is a resource type of a template with its default limit.
type TemplateResource struct {
	Resource string `json:"resource" doc:"A resource type key."`
	Limit    int64  `json:"limit" doc:"Default limit; -1 for unlimited."`
}

// TemplateInput creates or replaces a template.
type TemplateInput struct {
	Key       string             `json:"key,omitempty" doc:"Required on create; on update, the key in the path."`
	Name      map[string]string  `json:"name"`
	Connector string             `json:"connector,omitempty"`
	Resources []TemplateResource `json:"resources,omitempty" maxItems:"500"`
}

func (in *TemplateInput) template() catalog.Template {
	t := catalog.Template{Key: in.Key, Name: in.Name, Connector: in.Connector, Resources: make([]catalog.TemplateResource, len(in.Resources))}
	for i, r := range in.Resources {
		t.Resources[i] = catalog.TemplateResource(r)
	}
	return t
}

func templateView(t *store.Template) Template {
	rs := make([]TemplateResource, len(t.Resources))
	for i, r := range t.Resources {
		rs[i] = TemplateResource(r)
	}
	return Template{Key: t.Key, Name: textOut(t.Name), Connector: t.Connector, Resources: rs,
		Version: t.Version, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

type templateOutput struct {
	ETag string `header:"ETag"`
	Body Template
}

type templateCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     Template
}

type templateList struct {
	Body Page[Template]
}

type createTemplateInput struct {
	Body TemplateInput
}

type updateTemplateInput struct {
	Key string `path:"key" doc:"The template's key."`
	Conditional
	Body TemplateInput
}

// ----- categories -----

// PlanCategory groups a seller's plans for upgrade paths and the
// unique-group rule (a customer holds one plan of a unique group).
type PlanCategory struct {
	Key         string            `json:"key"`
	Name        map[string]string `json:"name"`
	UniqueGroup bool              `json:"unique_group"`
	SourceID    int64             `json:"source_id,omitempty" doc:"The parent's category this one was copied from (an internal id)."`
	Version     int64             `json:"version" doc:"Grows with every change; also the ETag."`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// PlanCategoryInput creates or replaces a plan category.
type PlanCategoryInput struct {
	Key         string            `json:"key,omitempty" doc:"Required on create; on update, the key in the path."`
	Name        map[string]string `json:"name"`
	UniqueGroup bool              `json:"unique_group,omitempty"`
}

func planCategoryView(c *store.PlanCategory) PlanCategory {
	return PlanCategory{Key: c.Key, Name: textOut(c.Name), UniqueGroup: c.UniqueGroup, SourceID: c.SourceID,
		Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// SalesCategory is a shelf of a seller's store: a tree; a category holds
// plans or sub-categories.
type SalesCategory struct {
	Key       string            `json:"key"`
	Parent    string            `json:"parent,omitempty" doc:"Key of the parent category; absent at the top."`
	Name      map[string]string `json:"name"`
	Position  int               `json:"position" doc:"Order among its siblings."`
	Holds     string            `json:"holds" enum:"plans,categories"`
	Displayed bool              `json:"displayed" doc:"The seller's own choice; synchronization never changes it."`
	SourceID  int64             `json:"source_id,omitempty" doc:"The parent's category this one was copied from (an internal id)."`
	Version   int64             `json:"version" doc:"Grows with every change; also the ETag."`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// SalesCategoryInput creates or replaces a sales category.
type SalesCategoryInput struct {
	Key       string            `json:"key,omitempty" doc:"Required on create; on update, the key in the path."`
	Parent    string            `json:"parent,omitempty"`
	Name      map[string]string `json:"name"`
	Position  int               `json:"position,omitempty"`
	Holds     string            `json:"holds" enum:"plans,categories"`
	Displayed *bool             `json:"displayed,omitempty" doc:"On create only (default true); afterwards POST …/display changes it."`
}

func salesCategoryView(c *store.SalesCategory) SalesCategory {
	return SalesCategory{Key: c.Key, Parent: c.Parent, Name: textOut(c.Name), Position: c.Position, Holds: string(c.Holds),
		Displayed: c.Displayed, SourceID: c.SourceID, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

type planCategoryOutput struct {
	ETag string `header:"ETag"`
	Body PlanCategory
}

type planCategoryCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     PlanCategory
}

type planCategoryList struct {
	Body Page[PlanCategory]
}

type createPlanCategoryInput struct {
	ID   int64 `path:"id" doc:"Account id."`
	Body PlanCategoryInput
}

type updatePlanCategoryInput struct {
	ID  int64  `path:"id" doc:"Account id."`
	Key string `path:"key" doc:"The category's key."`
	Conditional
	Body PlanCategoryInput
}

type salesCategoryOutput struct {
	ETag string `header:"ETag"`
	Body SalesCategory
}

type salesCategoryCreated struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     SalesCategory
}

type salesCategoryList struct {
	Body Page[SalesCategory]
}

type createSalesCategoryInput struct {
	ID   int64 `path:"id" doc:"Account id."`
	Body SalesCategoryInput
}

type updateSalesCategoryInput struct {
	ID  int64  `path:"id" doc:"Account id."`
	Key string `path:"key" doc:"The category's key."`
	Conditional
	Body SalesCategoryInput
}

type displaySalesCategoryInput struct {
	ID   int64  `path:"id" doc:"Account id."`
	Key  string `path:"key" doc:"The category's key."`
	Body struct {
		Displayed bool `json:"displayed"`
	}
}

// ----- delegation terms -----

// DelegationTerms are what a parent has set on a child reseller: parts of
// the child's copies that no synchronization changes, and whether syncs stop
// at the child.
type DelegationTerms struct {
	ChildID         int64      `json:"child_id"`
	SetBy           int64      `json:"set_by,omitempty" doc:"The parent account that set them; absent when never set."`
	Restrictions    []string   `json:"restrictions" doc:"Blocked from every sync: pricing, terms, plan_categories, resource_categories, sales_categories, publication."`
	ProhibitCascade bool       `json:"prohibit_cascade" doc:"Syncs update the child's copies but not those of its children."`
	UpdatedAt       *time.Time `json:"updated_at,omitempty"`
}

func termsView(t *store.DelegationTerms) DelegationTerms {
	rs := make([]string, len(t.Terms.Restrictions))
	for i, r := range t.Terms.Restrictions {
		rs[i] = string(r)
	}
	return DelegationTerms{ChildID: t.ChildID, SetBy: t.SetBy, Restrictions: rs, ProhibitCascade: t.Terms.ProhibitCascade,
		UpdatedAt: optTime(t.UpdatedAt)}
}

type termsOutput struct {
	ETag string `header:"ETag"`
	Body DelegationTerms
}

func termsResponse(t *store.DelegationTerms) *termsOutput {
	return &termsOutput{ETag: termsETag(t), Body: termsView(t)}
}

// termsETag is the tag of terms, which have no version: "t0" for terms
// never set, else their last change and content (the time alone would not
// tell two changes within the clock's resolution apart).
func termsETag(t *store.DelegationTerms) string {
	if t.UpdatedAt.IsZero() {
		return `"t0"`
	}
	return `"t` + strconv.FormatInt(t.UpdatedAt.UnixMicro(), 10) + "-" + contentTag(struct {
		SetBy int64
		Terms delegation.Terms
	}{t.SetBy, t.Terms}, 4) + `"`
}

type setTermsInput struct {
	ID int64 `path:"id" doc:"Account id of the child reseller."`
	Conditional
	Body struct {
		Restrictions    []string `json:"restrictions,omitempty" maxItems:"20" doc:"pricing, terms, plan_categories, resource_categories, sales_categories, publication."`
		ProhibitCascade bool     `json:"prohibit_cascade,omitempty"`
	}
}

func (a *API) catalogRoutes() {
	const tag = "Catalog"
	const provider = " Resource types and templates belong to the provider: everyone signed in reads them, the provider's catalog managers change them."
	conflict := []int{http.StatusConflict}
	update := []int{http.StatusConflict, http.StatusPreconditionFailed}
	register(a, op{id: "list-resource-types", method: http.MethodGet, path: "/resource-types", tag: tag,
		summary: "List resource types", description: "In key order." + provider}, a.listResourceTypes)
	register(a, op{id: "create-resource-type", method: http.MethodPost, path: "/resource-types", tag: tag,
		summary: "Create a resource type", description: provider, status: http.StatusCreated, errors: conflict}, a.createResourceType)
	register(a, op{id: "get-resource-type", method: http.MethodGet, path: "/resource-types/{key}", tag: tag,
		summary: "Get a resource type"}, a.getResourceType)
	register(a, op{id: "update-resource-type", method: http.MethodPut, path: "/resource-types/{key}", tag: tag,
		summary: "Replace a resource type", errors: update}, a.updateResourceType)

	register(a, op{id: "list-templates", method: http.MethodGet, path: "/templates", tag: tag,
		summary: "List service templates", description: "In key order." + provider}, a.listTemplates)
	register(a, op{id: "create-template", method: http.MethodPost, path: "/templates", tag: tag,
		summary: "Create a service template", description: provider, status: http.StatusCreated, errors: conflict}, a.createTemplate)
	register(a, op{id: "get-template", method: http.MethodGet, path: "/templates/{key}", tag: tag,
		summary: "Get a service template"}, a.getTemplate)
	register(a, op{id: "update-template", method: http.MethodPut, path: "/templates/{key}", tag: tag,
		summary: "Replace a service template", errors: update}, a.updateTemplate)

	register(a, op{id: "list-plan-categories", method: http.MethodGet, path: "/accounts/{id}/plan-categories", tag: tag,
		summary: "List a seller's plan categories", description: "In key order."}, a.listPlanCategories)
	register(a, op{id: "create-plan-category", method: http.MethodPost, path: "/accounts/{id}/plan-categories", tag: tag,
		summary: "Create a plan category", status: http.StatusCreated, errors: conflict}, a.createPlanCategory)
	register(a, op{id: "update-plan-category", method: http.MethodPut, path: "/accounts/{id}/plan-categories/{key}", tag: tag,
		summary: "Replace a plan category's name and unique-group flag", errors: update}, a.updatePlanCategory)

	register(a, op{id: "list-sales-categories", method: http.MethodGet, path: "/accounts/{id}/sales-categories", tag: tag,
		summary: "List a seller's sales categories", description: "In tree order: each category followed by its sub-categories, siblings by position."},
		a.listSalesCategories)
	register(a, op{id: "create-sales-category", method: http.MethodPost, path: "/accounts/{id}/sales-categories", tag: tag,
		summary: "Create a sales category", status: http.StatusCreated, errors: conflict}, a.createSalesCategory)
	register(a, op{id: "update-sales-category", method: http.MethodPut, path: "/accounts/{id}/sales-categories/{key}", tag: tag,
		summary: "Replace a sales category", description: "Name, parent, position and what it holds. Whether it is displayed changes through POST …/display only.",
		errors: update}, a.updateSalesCategory)
	register(a, op{id: "display-sales-category", method: http.MethodPost, path: "/accounts/{id}/sales-categories/{key}/display", tag: tag,
		summary: "Show or hide a sales category", description: "The seller's own choice; synchronization never changes it."}, a.displaySalesCategory)

	register(a, op{id: "get-delegation-terms", method: http.MethodGet, path: "/accounts/{id}/delegation-terms", tag: tag,
		summary: "Get the delegation terms of a child reseller", description: "Readable by the reseller itself and the accounts above it."},
		a.getDelegationTerms)
	register(a, op{id: "set-delegation-terms", method: http.MethodPut, path: "/accounts/{id}/delegation-terms", tag: tag,
		summary: "Set the delegation terms of a child reseller", description: "Set by the reseller's parent: restrictions and prohibit-cascade.",
		errors: []int{http.StatusPreconditionFailed}}, a.setDelegationTerms)

	a.planRoutes()
}

func (a *API) listResourceTypes(ctx context.Context, in *pageInput) (*resourceTypeList, error) {
	rows, err := a.db.ResourceTypes(ctx, actorFrom(ctx))
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorResourceTypes, rows, func(r *store.ResourceType) string { return r.Key }, resourceTypeView)
	if err != nil {
		return nil, err
	}
	return &resourceTypeList{Body: page}, nil
}

func (a *API) createResourceType(ctx context.Context, in *createResourceTypeInput) (*resourceTypeCreated, error) {
	rt := &store.ResourceType{ResourceType: in.Body.resourceType()}
	if err := a.db.CreateResourceType(ctx, actorFrom(ctx), rt); err != nil {
		return nil, err
	}
	return &resourceTypeCreated{ETag: etagOf(rt.Version), Location: Prefix + "/resource-types/" + url.PathEscape(rt.Key),
		Body: resourceTypeView(rt)}, nil
}

func (a *API) getResourceType(ctx context.Context, in *keyPath) (*resourceTypeOutput, error) {
	rt, err := a.db.ResourceType(ctx, actorFrom(ctx), in.Key)
	if err != nil {
		return nil, notFoundAs(err, "resource type not found")
	}
	return &resourceTypeOutput{ETag: etagOf(rt.Version), Body: resourceTypeView(rt)}, nil
}

func (a *API) updateResourceType(ctx context.Context, in *updateResourceTypeInput) (*resourceTypeOutput, error) {
	actor := actorFrom(ctx)
	var f marketplane.FieldErrors
	keyInPath(&f, in.Body.Key, in.Key)
	if err := f.Err("resource type"); err != nil {
		return nil, err
	}
	version, err := versionFor(in.IfMatch, func() (int64, error) {
		cur, err := a.db.ResourceType(ctx, actor, in.Key)
		if err != nil {
			return 0, err
		}
		return cur.Version, nil
	})
	if err != nil {
		return nil, notFoundAs(err, "resource type not found")
	}
	in.Body.Key = in.Key
	rt := &store.ResourceType{ResourceType: in.Body.resourceType(), Meta: store.Meta{Version: version}}
	if err := a.db.UpdateResourceType(ctx, actor, rt); err != nil {
		return nil, notFoundAs(err, "resource type not found")
	}
	return &resourceTypeOutput{ETag: etagOf(rt.Version), Body: resourceTypeView(rt)}, nil
}

func (a *API) listTemplates(ctx context.Context, in *pageInput) (*templateList, error) {
	rows, err := a.db.Templates(ctx, actorFrom(ctx))
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorTemplates, rows, func(t *store.Template) string { return t.Key }, templateView)
	if err != nil {
		return nil, err
	}
	return &templateList{Body: page}, nil
}

func (a *API) createTemplate(ctx context.Context, in *createTemplateInput) (*templateCreated, error) {
	t := &store.Template{Template: in.Body.template()}
	if err := a.db.CreateTemplate(ctx, actorFrom(ctx), t); err != nil {
		return nil, err
	}
	return &templateCreated{ETag: etagOf(t.Version), Location: Prefix + "/templates/" + url.PathEscape(t.Key), Body: templateView(t)}, nil
}

func (a *API) getTemplate(ctx context.Context, in *keyPath) (*templateOutput, error) {
	t, err := a.db.Template(ctx, actorFrom(ctx), in.Key)
	if err != nil {
		return nil, notFoundAs(err, "service template not found")
	}
	return &templateOutput{ETag: etagOf(t.Version), Body: templateView(t)}, nil
}

func (a *API) updateTemplate(ctx context.Context, in *updateTemplateInput) (*templateOutput, error) {
	actor := actorFrom(ctx)
	var f marketplane.FieldErrors
	keyInPath(&f, in.Body.Key, in.Key)
	if err := f.Err("service template"); err != nil {
		return nil, err
	}
	version, err := versionFor(in.IfMatch, func() (int64, error) {
		cur, err := a.db.Template(ctx, actor, in.Key)
		if err != nil {
			return 0, err
		}
		return cur.Version, nil
	})
	if err != nil {
		return nil, notFoundAs(err, "service template not found")
	}
	in.Body.Key = in.Key
	t := &store.Template{Template: in.Body.template(), Meta: store.Meta{Version: version}}
	if err := a.db.UpdateTemplate(ctx, actor, t); err != nil {
		return nil, notFoundAs(err, "service template not found")
	}
	return &templateOutput{ETag: etagOf(t.Version), Body: templateView(t)}, nil
}

func (a *API) listPlanCategories(ctx context.Context, in *accountListInput) (*planCategoryList, error) {
	rows, err := a.db.PlanCategories(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorPlanCategories, rows, func(c *store.PlanCategory) string { return c.Key }, planCategoryView)
	if err != nil {
		return nil, err
	}
	return &planCategoryList{Body: page}, nil
}

func (a *API) createPlanCategory(ctx context.Context, in *createPlanCategoryInput) (*planCategoryCreated, error) {
	c := &store.PlanCategory{PlanCategory: catalog.PlanCategory{OwnerID: in.ID, Key: in.Body.Key, Name: in.Body.Name, UniqueGroup: in.Body.UniqueGroup}}
	if err := a.db.CreatePlanCategory(ctx, actorFrom(ctx), c); err != nil {
		return nil, err
	}
	return &planCategoryCreated{ETag: etagOf(c.Version), Body: planCategoryView(c),
		Location: Prefix + "/accounts/" + idKey(in.ID) + "/plan-categories/" + url.PathEscape(c.Key)}, nil
}

func (a *API) updatePlanCategory(ctx context.Context, in *updatePlanCategoryInput) (*planCategoryOutput, error) {
	actor := actorFrom(ctx)
	var f marketplane.FieldErrors
	keyInPath(&f, in.Body.Key, in.Key)
	if err := f.Err("plan category"); err != nil {
		return nil, err
	}
	version, err := versionFor(in.IfMatch, func() (int64, error) {
		cur, err := a.db.PlanCategory(ctx, actor, in.ID, in.Key)
		if err != nil {
			return 0, err
		}
		return cur.Version, nil
	})
	if err != nil {
		return nil, notFoundAs(err, "plan category not found")
	}
	c := &store.PlanCategory{PlanCategory: catalog.PlanCategory{OwnerID: in.ID, Key: in.Key, Name: in.Body.Name, UniqueGroup: in.Body.UniqueGroup},
		Meta: store.Meta{Version: version}}
	if err := a.db.UpdatePlanCategory(ctx, actor, c); err != nil {
		return nil, notFoundAs(err, "plan category not found")
	}
	return &planCategoryOutput{ETag: etagOf(c.Version), Body: planCategoryView(c)}, nil
}

func (a *API) listSalesCategories(ctx context.Context, in *accountListInput) (*salesCategoryList, error) {
	rows, err := a.db.SalesCategories(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	page, err := pageLoaded(in.PageParams, cursorSalesCategories, rows, func(c *store.SalesCategory) string { return c.Key }, salesCategoryView)
	if err != nil {
		return nil, err
	}
	return &salesCategoryList{Body: page}, nil
}

func (in *SalesCategoryInput) salesCategory(owner int64) catalog.SalesCategory {
	displayed := true
	if in.Displayed != nil {
		displayed = *in.Displayed
	}
	return catalog.SalesCategory{OwnerID: owner, Key: in.Key, Parent: in.Parent, Name: in.Name, Position: in.Position,
		Holds: catalog.Holds(in.Holds), Displayed: displayed}
}

func (a *API) createSalesCategory(ctx context.Context, in *createSalesCategoryInput) (*salesCategoryCreated, error) {
	c := &store.SalesCategory{SalesCategory: in.Body.salesCategory(in.ID)}
	if err := a.db.CreateSalesCategory(ctx, actorFrom(ctx), c); err != nil {
		return nil, err
	}
	return &salesCategoryCreated{ETag: etagOf(c.Version), Body: salesCategoryView(c),
		Location: Prefix + "/accounts/" + idKey(in.ID) + "/sales-categories/" + url.PathEscape(c.Key)}, nil
}

func (a *API) updateSalesCategory(ctx context.Context, in *updateSalesCategoryInput) (*salesCategoryOutput, error) {
	actor := actorFrom(ctx)
	var f marketplane.FieldErrors
	keyInPath(&f, in.Body.Key, in.Key)
	if in.Body.Displayed != nil {
		f.Add("displayed", "changes through POST …/sales-categories/{key}/display only")
	}
	if err := f.Err("sales category"); err != nil {
		return nil, err
	}
	version, err := versionFor(in.IfMatch, func() (int64, error) {
		cur, err := a.db.SalesCategory(ctx, actor, in.ID, in.Key)
		if err != nil {
			return 0, err
		}
		return cur.Version, nil
	})
	if err != nil {
		return nil, notFoundAs(err, "sales category not found")
	}
	in.Body.Key = in.Key
	c := &store.SalesCategory{SalesCategory: in.Body.salesCategory(in.ID), Meta: store.Meta{Version: version}}
	if err := a.db.UpdateSalesCategory(ctx, actor, c); err != nil {
		return nil, notFoundAs(err, "sales category not found")
	}
	return &salesCategoryOutput{ETag: etagOf(c.Version), Body: salesCategoryView(c)}, nil
}

func (a *API) displaySalesCategory(ctx context.Context, in *displaySalesCategoryInput) (*salesCategoryOutput, error) {
	c, err := a.db.SetSalesCategoryDisplayed(ctx, actorFrom(ctx), in.ID, in.Key, in.Body.Displayed)
	if err != nil {
		return nil, notFoundAs(err, "sales category not found")
	}
	return &salesCategoryOutput{ETag: etagOf(c.Version), Body: salesCategoryView(c)}, nil
}

func (a *API) getDelegationTerms(ctx context.Context, in *accountIDPath) (*termsOutput, error) {
	t, err := a.db.DelegationTerms(ctx, actorFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return termsResponse(t), nil
}

// setDelegationTerms checks If-Match before the change; terms have no
// version in the store, so the tag is their last change time and a change
// between the check and the update is not caught.
func (a *API) setDelegationTerms(ctx context.Context, in *setTermsInput) (*termsOutput, error) {
	var check func(*store.DelegationTerms) error
	if in.IfMatch != "" {
		check = func(cur *store.DelegationTerms) error { return checkIfMatch(in.IfMatch, termsETag(cur)) }
	}
	terms := delegation.Terms{ProhibitCascade: in.Body.ProhibitCascade, Restrictions: make([]delegation.Restriction, len(in.Body.Restrictions))}
	for i, r := range in.Body.Restrictions {
		terms.Restrictions[i] = delegation.Restriction(r)
	}
	t, err := a.db.SetDelegationTermsIf(ctx, actorFrom(ctx), in.ID, terms, check)
	if err != nil {
		return nil, err
	}
	return termsResponse(t), nil
}
