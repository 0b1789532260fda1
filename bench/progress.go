package bench

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows one phase of a benchmark as a line redrawn in place (\r)
// on a terminal. On anything else it shows nothing, so logs and pipes stay
// clean; its methods are safe to call on a nil *progress.
type progress struct {
	bar *progressbar.ProgressBar
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// phase starts a progress line for a phase of total steps, each one unit
// ("accounts", "calls"); nil when there is no terminal to draw on.
func (r *runner) phase(desc, unit string, total int) *progress {
	if r.progress == nil || !isTerminal(r.progress) {
		return nil
	}
	return &progress{bar: progressbar.NewOptions64(int64(total),
		progressbar.OptionSetWriter(r.progress),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		// Drawn at once, so that the clock of the rate starts now.
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

// add moves the line n steps on.
func (p *progress) add(n int) {
	if p != nil && p.bar != nil {
		p.bar.Add(n)
	}
}

// done clears the line; calling it again does nothing.
func (p *progress) done() {
	if p != nil && p.bar != nil {
		p.bar.Finish()
		p.bar.Clear()
		p.bar = nil
	}
}
