package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// page is the shape of every list the API returns.
type page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

// apiOutput makes v's call and prints what it returns: the JSON indented,
// or a table. With all, it follows next_cursor page by page, printing each
// page before asking for the next, so that it never holds more than one.
func apiOutput(ctx context.Context, v *apiVerb, call apiCall, req apiRequest, table, all bool) error {
	out := req.stdout
	var tw *tableWriter
	if table {
		tw = &tableWriter{w: out}
	}
	items := 0 // printed so far, with --all in JSON
	for first := true; ; first = false {
		res, err := call(ctx, req)
		if err != nil {
			return err
		}
		if err := problemOf(res); err != nil {
			return err
		}
		body := res.GetBody()
		if len(body) == 0 {
			return nil
		}
		if !all && !table {
			return writeIndented(out, body, "")
		}
		var p page
		if v.paged || v.verb == "list" {
			if err := json.Unmarshal(body, &p); err != nil {
				return fmt.Errorf("read the page: %w", err)
			}
		} else {
			p.Items = []json.RawMessage{body} // one thing: a table of one row
		}
		if table && first {
			tw.add(strings.Split(strings.ToUpper(strings.Join(v.columns, "\t")), "\t"))
		}
		for _, it := range p.Items {
			if table {
				if err := tw.addItem(v.columns, it); err != nil {
					return err
				}
				continue
			}
			sep := ",\n  "
			if items == 0 {
				sep = "[\n  "
			}
			if _, err := io.WriteString(out, sep); err != nil {
				return err
			}
			if err := writeIndented(out, it, "  "); err != nil {
				return err
			}
			items++
		}
		if table {
			if err := tw.flush(); err != nil {
				return err
			}
		}
		if !all || p.NextCursor == nil || *p.NextCursor == "" {
			break
		}
		req.cursor = p.NextCursor
	}
	if all && !table {
		end := "\n]\n"
		if items == 0 {
			end = "[]\n"
		}
		_, err := io.WriteString(out, end)
		return err
	}
	return nil
}

// writeIndented writes JSON indented by two spaces after prefix; a body that
// is not JSON is written as it is.
func writeIndented(w io.Writer, body []byte, prefix string) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, prefix, "  "); err != nil {
		buf.Reset()
		buf.Write(body)
	}
	if prefix == "" {
		buf.WriteByte('\n')
	}
	_, err := buf.WriteTo(w)
	return err
}

// tableWriter prints aligned columns a page at a time. Unlike
// text/tabwriter, which aligns only what it holds until Flush, it remembers
// the widths of the pages already printed, so that with --all the columns
// of later pages line up with the first while only one page is held.
type tableWriter struct {
	w      io.Writer
	widths []int
	rows   [][]string
}

func (t *tableWriter) add(cells []string) {
	for i, c := range cells {
		if i == len(t.widths) {
			t.widths = append(t.widths, 0)
		}
		t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c))
	}
	t.rows = append(t.rows, cells)
}

// addItem adds the columns of one JSON object as a row.
func (t *tableWriter) addItem(columns []string, item json.RawMessage) error {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(item))
	d.UseNumber() // ids and amounts print as the API wrote them
	if err := d.Decode(&m); err != nil {
		return fmt.Errorf("read an item: %w", err)
	}
	cells := make([]string, len(columns))
	for i, c := range columns {
		cells[i] = cell(m[c])
	}
	t.add(cells)
	return nil
}

// flush prints the rows held, two spaces between columns.
func (t *tableWriter) flush() error {
	var b strings.Builder
	for _, row := range t.rows {
		for i, c := range row {
			b.WriteString(c)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", t.widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	t.rows = t.rows[:0]
	_, err := io.WriteString(t.w, b.String())
	return err
}

// cell is a value as a table shows it: "-" for nothing, nested values as
// compact JSON.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if v == "" {
			return "-"
		}
		return strings.NewReplacer("\t", " ", "\n", " ").Replace(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
