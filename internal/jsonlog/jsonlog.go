// Package jsonlog is a slog.Handler that writes what
// slog.NewJSONHandler(w, nil) writes, byte for byte, in about a quarter
// of the time for the lines flowd writes most: a webhook's line, whose
// attributes are strings, numbers and a list of node names.
//
// A record whose attributes are all strings, integers, booleans,
// durations, times or []string, logged through a handler with no group,
// is written here; any other record (an error, a float, a group, a
// LogValuer, an empty key) is handed to slog's own JSON handler, which
// writes to the same writer under the same lock.
package jsonlog

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/flowd-dev/flowd/internal/jsonstr"
)

// Handler writes records as JSON lines, one Write each.
type Handler struct {
	w     *lockedWriter
	slow  slog.Handler // slog's JSON handler, with the same attrs and groups
	pre   []byte       // the attrs WithAttrs added, written: `,"k":v`...
	fast  bool         // false once a group or an attr only slow writes is added
	flush func()       // NewFlushing's, or nil
}

// New returns a handler that writes to w as slog.NewJSONHandler(w, nil)
// does: records at Info and above.
func New(w io.Writer) *Handler {
	return NewFlushing(w, nil)
}

// NewFlushing returns a handler that writes as New's does, and calls
// flush, when not nil, once it has written a line at Warn or above: for a
// writer that holds lines back (flowd serve's), as a warning or an error
// is what an operator looks for after a crash.
func NewFlushing(w io.Writer, flush func()) *Handler {
	lw := &lockedWriter{w: w}
	return &Handler{w: lw, slow: slog.NewJSONHandler(lw, nil), fast: true, flush: flush}
}

// lockedWriter makes the fast path's writes and slog's one sequence, as
// slog's own handlers derived from one another share a lock.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if h.flush != nil && r.Level >= slog.LevelWarn {
		defer h.flush()
	}
	if !h.fast {
		return h.slow.Handle(ctx, r)
	}
	bp := bufs.Get().(*[]byte)
	defer putBuf(bp)
	b, ok := h.head((*bp)[:0], r.Time, r.Level, r.Message)
	if ok {
		r.Attrs(func(a slog.Attr) bool {
			b, ok = appendAttr(b, a)
			return ok
		})
	}
	*bp = b
	if !ok {
		return h.slow.Handle(ctx, r)
	}
	return h.end(bp)
}

// HandleAttrs writes what Handle writes of the record
// slog.NewRecord(t, level, msg, pc) with attrs added, without making the
// record: a record holds five attributes and allocates for more, so a
// line of more would be garbage on every call. It does not keep attrs.
func (h *Handler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, pc uintptr, attrs []slog.Attr) error {
	if h.flush != nil && level >= slog.LevelWarn {
		defer h.flush()
	}
	if h.fast {
		bp := bufs.Get().(*[]byte)
		defer putBuf(bp)
		b, ok := h.head((*bp)[:0], t, level, msg)
		for i := 0; ok && i < len(attrs); i++ {
			b, ok = appendAttr(b, attrs[i])
		}
		*bp = b
		if ok {
			return h.end(bp)
		}
	}
	r := slog.NewRecord(t, level, msg, pc)
	r.AddAttrs(attrs...)
	return h.slow.Handle(ctx, r)
}

// head appends a line's start, `{"time":…,"level":…,"msg":…` and the
// attrs WithAttrs added, or reports that slog's handler must write it.
func (h *Handler) head(b []byte, t time.Time, level slog.Level, msg string) ([]byte, bool) {
	b = append(b, '{')
	if !t.IsZero() {
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false // slog writes an error in its place
		}
		b = append(b, `"time":"`...)
		b = t.Round(0).AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = jsonstr.AppendSlog(b, level.String())
	b = append(b, `,"msg":`...)
	b = jsonstr.AppendSlog(b, msg)
	return append(b, h.pre...), true
}

// end ends the line in *bp and writes it.
func (h *Handler) end(bp *[]byte) error {
	*bp = append(*bp, '}', '\n')
	_, err := h.w.Write(*bp)
	return err
}

// putBuf gives a line's buffer back, unless a long line grew it.
func putBuf(bp *[]byte) {
	if cap(*bp) <= 16<<10 {
		bufs.Put(bp)
	}
}

// appendAttr appends `,"key":value`, or reports that slog's handler
// must write the record.
func appendAttr(b []byte, a slog.Attr) ([]byte, bool) {
	if a.Key == "" {
		return b, false // slog leaves out an empty attr, writes "" otherwise
	}
	b = append(b, ',')
	b = jsonstr.AppendSlog(b, a.Key)
	b = append(b, ':')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		b = jsonstr.AppendSlog(b, v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		b = strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		t := v.Time()
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	case slog.KindAny:
		list, isList := v.Any().([]string)
		if !isList {
			return b, false
		}
		// As json.Marshal writes a []string: slog marshals an Any.
		if list == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, s := range list {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, s)
		}
		b = append(b, ']')
	default:
		return b, false
	}
	return b, true
}

func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	n := &Handler{w: h.w, slow: h.slow.WithAttrs(attrs), fast: h.fast, flush: h.flush}
	if !n.fast {
		return n
	}
	pre := append([]byte(nil), h.pre...)
	for _, a := range attrs {
		var ok bool
		if pre, ok = appendAttr(pre, a); !ok {
			n.fast = false
			return n
		}
	}
	n.pre = pre
	return n
}

func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &Handler{w: h.w, slow: h.slow.WithGroup(name), flush: h.flush}
}
