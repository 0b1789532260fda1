package api

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

// TestPageLoaded pages a loaded list two at a time, and refuses the cursor
// of another list and one whose item was deleted between pages.
func TestPageLoaded(t *testing.T) {
	rows := []string{"a", "b", "c", "d", "e"}
	key := func(s string) string { return s }
	view := strings.ToUpper
	var got []string
	p := PageParams{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := pageLoaded(p, cursorRoles, rows, key, view)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	if want := []string{"A", "B", "C", "D", "E"}; !slices.Equal(got, want) {
		t.Errorf("pages gave %v, want %v", got, want)
	}
	// A page that holds exactly the rest has no next cursor.
	last, err := pageLoaded(PageParams{Limit: 5}, cursorRoles, rows, key, view)
	if err != nil || last.NextCursor != "" || len(last.Items) != 5 {
		t.Errorf("a page of all: %+v, %v", last, err)
	}
	first, _ := pageLoaded(PageParams{Limit: 2}, cursorRoles, rows, key, view)
	for name, c := range map[string]struct {
		cursor string
		rows   []string
	}{
		"another list's cursor": {encodeCursor(cursorTemplates, "b"), rows},
		"garbage":               {"%%%", rows},
		"deleted item":          {first.NextCursor, []string{"a", "c", "d"}},
	} {
		_, err := pageLoaded(PageParams{Limit: 2, Cursor: c.cursor}, cursorRoles, c.rows, key, view)
		var em *huma.ErrorModel
		if !errors.As(err, &em) || em.Status != 400 || len(em.Errors) != 1 || em.Errors[0].Location != "query.cursor" {
			t.Errorf("%s: %v, want a 400 on query.cursor", name, err)
		}
	}
}
