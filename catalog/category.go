package catalog

import (
	"github.com/marketplane/marketplane"
)

// PlanCategory groups plans for upgrade paths and the unique-group rule: a
// customer may hold only one plan of a unique group.
type PlanCategory struct {
	ID          int64  `json:"-"`
	OwnerID     int64  `json:"-"`
	SourceID    int64  `json:"-"`
	Key         string `json:"key"`
	Name        Text   `json:"name"`
	UniqueGroup bool   `json:"unique_group,omitempty"`
}

// Validate checks the plan category.
func (c *PlanCategory) Validate() error {
	var f marketplane.FieldErrors
	checkKey(&f, "key", c.Key)
	checkName(&f, "name", c.Name)
	return f.Err("plan category")
}

// Holds says what a sales category contains: plans or sub-categories, never
// both.
type Holds string

// What sales categories hold.
const (
	HoldsPlans      Holds = "plans"
	HoldsCategories Holds = "categories"
)

// SalesCategory is a shelf of the store: a tree per seller. Displayed is the
// seller's own choice and is never overwritten by a sync.
type SalesCategory struct {
	ID        int64  `json:"-"`
	OwnerID   int64  `json:"-"`
	SourceID  int64  `json:"-"`
	Key       string `json:"key"`
	Parent    string `json:"parent,omitempty"` // key of the parent category; empty at the top
	Name      Text   `json:"name"`
	Position  int    `json:"position"`
	Holds     Holds  `json:"holds"`
	Displayed bool   `json:"displayed"`
}

// Validate checks the category; holdsOf tells what an existing parent holds.
func (c *SalesCategory) Validate(holdsOf func(key string) (Holds, bool)) error {
	var f marketplane.FieldErrors
	checkKey(&f, "key", c.Key)
	checkName(&f, "name", c.Name)
	switch c.Holds {
	case HoldsPlans, HoldsCategories:
	default:
		f.Add("holds", "must be plans or categories")
	}
	if c.Parent == c.Key && c.Key != "" {
		f.Add("parent", "a category is not its own parent")
	} else if c.Parent != "" && holdsOf != nil {
		h, ok := holdsOf(c.Parent)
		switch {
		case !ok:
			f.Add("parent", "no such category")
		case h != HoldsCategories:
			f.Add("parent", "the parent holds plans, not categories")
		}
	}
	return f.Err("sales category")
}
