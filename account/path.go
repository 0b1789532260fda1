package account

import (
	"strconv"
	"strings"
)

// RootPath is the path of the provider with the given id.
func RootPath(id int64) string { return "/" + strconv.FormatInt(id, 10) + "/" }

// ChildPath is the path of account id below the account at parentPath.
func ChildPath(parentPath string, id int64) string {
	return parentPath + strconv.FormatInt(id, 10) + "/"
}

// SubtreeEnd is the exclusive upper bound of the paths below path: every
// descendant's path p satisfies path < p < SubtreeEnd(path) in byte order,
// because ids are digits and '~' sorts after '/' and every digit.
func SubtreeEnd(path string) string { return path + "~" }

// Relation is how a target account stands to an actor's account.
type Relation int

// Relations. Only Self and the descendant relations give any access.
const (
	Unrelated  Relation = iota // sibling, parent, cousin …
	Self                       // the actor's own account
	Child                      // one level below
	Grandchild                 // two levels below
	Deeper                     // three or more levels below
)

// Relate says how the account at target stands to the account at actor.
// Both are materialized paths.
func Relate(actor, target string) Relation {
	if actor == target {
		return Self
	}
	if actor == "" || !strings.HasPrefix(target, actor) {
		return Unrelated
	}
	switch strings.Count(target[len(actor):], "/") {
	case 1:
		return Child
	case 2:
		return Grandchild
	default:
		return Deeper
	}
}

// Depth is the depth of the account at path: 0 for the root.
func Depth(path string) int { return strings.Count(path, "/") - 2 }

// IDs returns the ids along path from the root to the account itself.
func IDs(path string) []int64 {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	ids := make([]int64, 0, len(parts))
	for _, p := range parts {
		id, err := strconv.ParseInt(p, 10, 64)
		if err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

func itoa(n int) string { return strconv.Itoa(n) }
