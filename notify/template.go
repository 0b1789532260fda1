package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/marketplane/marketplane"
)

// Template is one version of a message: its subject, HTML body and text
// body, as html/template and text/template sources over Data, in one
// language.
type Template struct {
	Kind    Kind
	Locale  string
	Subject string
	HTML    string
	Text    string
}

// Validate checks that t names a kind and a language and that its three
// parts parse, with a field error for each part that does not.
func (t Template) Validate() error {
	f := marketplane.FieldErrors{}
	if !t.Kind.Valid() {
		f["kind"] = fmt.Sprintf("unknown kind %q", t.Kind)
	}
	if _, ok := Language(t.Locale); !ok {
		f["locale"] = fmt.Sprintf("no language serves %q", t.Locale)
	}
	if strings.TrimSpace(t.Subject) == "" {
		f["subject"] = "required"
	} else if strings.ContainsAny(t.Subject, "\r\n") {
		f["subject"] = "must be one line"
	}
	if strings.TrimSpace(t.Text) == "" {
		f["text"] = "required"
	}
	if strings.TrimSpace(t.HTML) == "" {
		f["html"] = "required"
	}
	if len(f) == 0 {
		// Parse with sample data, so that a field the kind lacks is
		// caught when the template is saved, not when it is sent.
		if _, err := t.Render(t.Locale, Sample(t.Kind)); err != nil {
			var e *PartError
			if errors.As(err, &e) {
				f[e.Part] = e.Err.Error()
			} else {
				return err
			}
		}
	}
	return f.Err("template")
}

// PartError is a part of a template that does not parse or render.
type PartError struct {
	Part string // "subject", "html" or "text"
	Err  error
}

func (e *PartError) Error() string { return e.Part + ": " + e.Err.Error() }
func (e *PartError) Unwrap() error { return e.Err }

// Message is a rendered message.
type Message struct {
	Subject, HTML, Text string
}

// Render renders t with d, amounts and days written for locale (the
// recipient's). Values are escaped in the HTML body; a missing field is
// an error rather than "<no value>".
func (t Template) Render(locale string, d Data) (Message, error) {
	f := formatterFor(locale)
	funcs := map[string]any{
		"money": func(a any) string {
			switch a := a.(type) {
			case Amount:
				return f.Money(a)
			case *Amount:
				if a != nil {
					return f.Money(*a)
				}
			}
			return ""
		},
		"date": f.Date,
	}
	var m Message
	run := func(part, src string, out *string) error {
		var b bytes.Buffer
		var err error
		if part == "html" {
			var tp *htmltemplate.Template
			if tp, err = htmltemplate.New(part).Funcs(funcs).Option("missingkey=error").Parse(src); err == nil {
				err = tp.Execute(&b, d)
			}
		} else {
			var tp *texttemplate.Template
			if tp, err = texttemplate.New(part).Funcs(funcs).Option("missingkey=error").Parse(src); err == nil {
				err = tp.Execute(&b, d)
			}
		}
		if err != nil {
			return &PartError{Part: part, Err: err}
		}
		*out = b.String()
		return nil
	}
	if err := run("subject", t.Subject, &m.Subject); err != nil {
		return Message{}, err
	}
	// A value cannot break the subject into header lines.
	// (Not strings.Fields: it would also take the no-break spaces that
	// keep an amount with its symbol.)
	m.Subject = strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ", "\t", " ").Replace(m.Subject))
	if err := run("html", t.HTML, &m.HTML); err != nil {
		return Message{}, err
	}
	if err := run("text", t.Text, &m.Text); err != nil {
		return Message{}, err
	}
	return m, nil
}

//go:embed templates/*.txt
var templateFiles embed.FS

// defaults are the provider's templates by language and kind.
var defaults = loadDefaults()

// Default returns the provider's template of kind k in language lang (one
// of Languages), and false when there is none.
func Default(k Kind, lang string) (Template, bool) {
	t, ok := defaults[lang][k]
	return t, ok
}

// loadDefaults reads templates/LANG.txt: for each kind, a line "== KIND",
// the subject, a line "--", and the text body up to the next "==". The
// HTML body is the text's paragraphs in a layout that sets the language
// and its direction.
func loadDefaults() map[string]map[Kind]Template {
	out := map[string]map[Kind]Template{}
	for _, lang := range Languages {
		b, err := templateFiles.ReadFile("templates/" + lang + ".txt")
		if err != nil {
			panic(err)
		}
		out[lang] = map[Kind]Template{}
		for _, block := range strings.Split(string(b), "== ")[1:] {
			head, body, ok := strings.Cut(block, "\n--\n")
			if !ok {
				panic(fmt.Sprintf("notify: templates/%s.txt: block without --: %q", lang, block))
			}
			kind, subject, _ := strings.Cut(head, "\n")
			text := strings.TrimSpace(body) + "\n"
			out[lang][Kind(kind)] = Template{Kind: Kind(kind), Locale: lang, Subject: strings.TrimSpace(subject), Text: text, HTML: htmlOf(lang, text)}
		}
	}
	return out
}

// htmlOf is the HTML body of a default template whose text is text: each
// paragraph a <p>, its lines apart by <br>. The text holds no markup, so
// it is a valid html/template source as it is.
func htmlOf(lang, text string) string {
	dir := "ltr"
	if lang == "ar" || lang == "he" {
		dir = "rtl"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"%s\" dir=\"%s\">\n<body style=\"font-family: sans-serif; line-height: 1.5\">\n", lang, dir)
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		b.WriteString("<p>" + strings.ReplaceAll(p, "\n", "<br>\n") + "</p>\n")
	}
	b.WriteString("</body>\n</html>\n")
	return b.String()
}
