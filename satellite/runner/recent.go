package runner

import (
	"fmt"
	"sync"

	"go.uber.org/zap/zapcore"
)

// recentErrors keeps the latest error-level log lines for diagnostics.collect.
type recentErrors struct {
	mu    sync.Mutex
	lines []string
	max   int
}

func newRecentErrors(n int) *recentErrors { return &recentErrors{max: n} }

// tee wraps a logger core so error entries are also kept here.
func (r *recentErrors) tee(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, &recentCore{r: r}) }

// Lines returns the kept lines, oldest first.
func (r *recentErrors) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.lines...)
}

func (r *recentErrors) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
	if len(r.lines) > r.max {
		r.lines = r.lines[len(r.lines)-r.max:]
	}
}

type recentCore struct {
	r      *recentErrors
	fields []zapcore.Field
}

func (c *recentCore) Enabled(l zapcore.Level) bool { return l >= zapcore.ErrorLevel }
func (c *recentCore) With(fs []zapcore.Field) zapcore.Core {
	return &recentCore{r: c.r, fields: append(append([]zapcore.Field{}, c.fields...), fs...)}
}
func (c *recentCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}
func (c *recentCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field{}, c.fields...), fs...) {
		f.AddTo(enc)
	}
	line := e.Time.UTC().Format("2006-01-02T15:04:05Z") + " " + e.LoggerName + ": " + e.Message
	if errText, ok := enc.Fields["error"]; ok {
		line += fmt.Sprintf(" (%v)", errText)
	}
	c.r.add(line)
	return nil
}
func (c *recentCore) Sync() error { return nil }
