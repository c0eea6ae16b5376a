package runtime

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/hexdigit"
)

// limitBody caps a webhook's body: Plivo's are a few hundred bytes. A
// request served in a context of RequestContext's has its body capped by
// that context's bodyLimit, reused; any other by http.MaxBytesReader.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().(*requestCtx); ok && c.server != nil {
			c.limit = bodyLimit{r: r.Body, n: s.cfg.MaxBody, i: s.cfg.MaxBody}
			r.Body = &c.limit
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// bodyLimit reads a body as http.MaxBytesReader's reader does, for the
// requests of an HTTP server that reuses their contexts (RequestContext),
// where it is a field of the context, not a new reader per webhook:
// past i bytes, it reads as *http.MaxBytesError. (MaxBytesReader's also
// tells net/http's response to close the connection; such a server is
// not net/http.)
type bodyLimit struct {
	r   io.ReadCloser
	n   int64 // the bytes left to read
	i   int64 // the limit
	err error // sticky
}

func (l *bodyLimit) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// One byte past what is left tells whether the body goes past it.
	if int64(len(p))-1 > l.n {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	if int64(n) <= l.n {
		l.n -= int64(n)
		l.err = err
		return n, err
	}
	n, l.n = int(l.n), 0
	l.err = &http.MaxBytesError{Limit: l.i}
	return n, l.err
}

func (l *bodyLimit) Close() error { return l.r.Close() }

// parseForm reads a webhook's parameters: the form body of a POST, the
// query of a GET. A body that is too large or badly encoded is a 4xx and
// never reaches a session.
func (s *Server) parseForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.parseWebhookForm(r); err != nil {
			var tooBig *http.MaxBytesError
			s.metrics.errors.WithLabelValues(routeFlow(r).Label, "bad_request").Inc()
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "malformed request: "+err.Error(), http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// parseWebhookForm reads a webhook's parameters for params. A POST of a
// form body, with no query in its URL, to a Server that checks no
// signatures — which need the body's every value, in r.PostForm — is
// parsed straight to the one value per name params returns
// (parseFormParams), kept in the request's context: r.PostForm and
// r.Form stay unset, and nothing in flowd reads them then. Any other
// request goes through parseRequestForm. The errors are those
// r.ParseForm returns.
func (s *Server) parseWebhookForm(r *http.Request) error {
	if len(s.cfg.AuthTokens) > 0 || !plainFormPost(r) || r.URL == nil || r.URL.RawQuery != "" {
		return parseRequestForm(r)
	}
	c, ok := r.Context().Value(requestCtxKey{}).(*requestCtx)
	if !ok || c.form != nil {
		return parseRequestForm(r)
	}
	bp := formBufs.Get().(*[]byte)
	b, err := readAll(r.Body, (*bp)[:0])
	if err == nil {
		c.form, err = parseFormParams(b)
	}
	if cap(b) <= 64<<10 {
		*bp = b
		formBufs.Put(bp)
	}
	return err
}

// plainFormPost reports whether r is a POST of an
// application/x-www-form-urlencoded body, not yet parsed.
func plainFormPost(r *http.Request) bool {
	return r.PostForm == nil && r.Form == nil && r.Method == http.MethodPost && r.Body != nil &&
		r.Header.Get("Content-Type") == "application/x-www-form-urlencoded"
}

// parseRequestForm does what r.ParseForm does, in fewer allocations for
// what nearly every webhook is: a POST of an application/x-www-form-urlencoded
// body. It reads the body as ParseForm does and parses it as
// url.ParseQuery does (parseFormBody), into a map made at its size with
// the values' slices cut from one array; without a query in the URL,
// r.Form is r.PostForm itself rather than a copy of it (the same names
// and values: nothing in flowd changes either). Any other request goes
// through r.ParseForm. The body is read to its end, with no limit of its
// own: limitBody, before parseForm, made it an http.MaxBytesReader, for
// which ParseForm has none either.
func parseRequestForm(r *http.Request) error {
	if !plainFormPost(r) {
		return r.ParseForm()
	}
	bp := formBufs.Get().(*[]byte)
	b, err := readAll(r.Body, (*bp)[:0])
	if err == nil {
		r.PostForm, err = parseFormBody(b)
	}
	if cap(b) <= 64<<10 {
		*bp = b
		formBufs.Put(bp)
	}
	if r.PostForm == nil {
		// As ParseForm: no PostForm, the query in Form, the read's error.
		r.PostForm = url.Values{}
		_ = r.ParseForm()
		return err
	}
	if r.URL == nil || r.URL.RawQuery == "" {
		r.Form = r.PostForm
		return err
	}
	if e := r.ParseForm(); err == nil { // Form: the body's values, then the query's
		err = e
	}
	return err
}

var formBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// readAll reads r to its end into b, as io.ReadAll does.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
}

// fastFormParams is the most parameters parseFormBody parses itself;
// url.ParseQuery parses a body of more, under its limit (10000, or what
// GODEBUG's urlmaxqueryparams sets). Plivo sends a few dozen.
const fastFormParams = 256

// fastFormOK reports whether url.ParseQuery takes fastFormParams
// parameters, so parseFormBody may parse up to that many itself: it
// does, unless GODEBUG sets urlmaxqueryparams below that.
var fastFormOK = sync.OnceValue(func() bool {
	_, err := url.ParseQuery(strings.Repeat("&", fastFormParams-1))
	return err == nil
})

// errSemicolon is url.ParseQuery's error for a ';' in a parameter.
var errSemicolon = errors.New("invalid semicolon separator in query")

// parseFormBody parses a form body as url.ParseQuery does, to the same
// values and the same first error, in fewer allocations. It decodes
// each name and value in place, in b (a decoded one is never longer), and
// takes them all from one string of b; the map is made at its size, and
// each name's slice of values is cut, at capacity one, from one array (a
// name given twice gets a slice of its own, as an append makes it).
func parseFormBody(b []byte) (url.Values, error) {
	var arr [32]formPair
	pairs, ok, err := scanFormBody(b, arr[:0])
	if !ok {
		return url.ParseQuery(string(b))
	}
	body := string(b)
	m := make(url.Values, len(pairs))
	vals := make([]string, len(pairs))
	used := 0
	for _, p := range pairs {
		key, value := body[p.k0:p.k1], body[p.v0:p.v1]
		if old := m[key]; old != nil {
			m[key] = append(old, value)
			continue
		}
		vals[used] = value
		m[key] = vals[used : used+1 : used+1]
		used++
	}
	return m, err
}

// parseFormParams parses a form body to what params makes of the values
// url.ParseQuery parses it to: each name's first value; and to
// url.ParseQuery's first error. It makes that map alone, from the body's
// names and values, without the url.Values between.
func parseFormParams(b []byte) (map[string]string, error) {
	var arr [32]formPair
	pairs, ok, err := scanFormBody(b, arr[:0])
	if !ok {
		v, err := url.ParseQuery(string(b))
		return firstValues(v), err
	}
	// The names Plivo sends, and the values of its enumerations, are
	// strings made once (formNames, formValues); what is left of the
	// body, moved together to its front, is one string: an answer's 310
	// bytes of it became about 170.
	var arrStrs [32]formStrings
	strs := arrStrs[:]
	if len(pairs) > len(strs) {
		strs = make([]formStrings, len(pairs))
	}
	w := 0
	keep := func(i, j int) (int, int) {
		n := copy(b[w:], b[i:j])
		w += n
		return w - n, w
	}
	for i, p := range pairs {
		st := &strs[i]
		name, known := formNames[string(b[p.k0:p.k1])]
		if known {
			st.k = name.name
		} else {
			p.k0, p.k1 = keep(p.k0, p.k1)
		}
		if known && name.enum {
			st.v = formValues[string(b[p.v0:p.v1])]
		}
		if st.v == "" && p.v1 > p.v0 {
			p.v0, p.v1 = keep(p.v0, p.v1)
		}
		pairs[i] = p
	}
	body := string(b[:w])
	m, _ := formMaps.Get().(map[string]string)
	if m == nil {
		m = make(map[string]string, len(pairs))
	}
	// Last to first, each value over any later one: a name given twice
	// ends with its first value, with one map operation per pair rather
	// than a lookup before each assignment.
	for i := len(pairs) - 1; i >= 0; i-- {
		p, st := pairs[i], strs[i]
		k, v := st.k, st.v
		if k == "" {
			k = body[p.k0:p.k1]
		}
		if v == "" && p.v1 > p.v0 {
			v = body[p.v0:p.v1]
		}
		m[k] = v
	}
	return m, err
}

// formStrings are a form pair's name and value when they are interned
// strings (formNames, formValues); "" when they are the body's.
type formStrings struct{ k, v string }

// formName is a parameter name Plivo sends; enum says its values are
// among formValues.
type formName struct {
	name string
	enum bool
}

// formNames are the parameters Plivo sends with a call's requests: the
// standard ones and those of every callback a node kind takes, and of
// the hangup.
var formNames = func() map[string]formName {
	m := map[string]formName{}
	add := func(names ...string) {
		for _, n := range names {
			m[n] = formName{name: n}
		}
	}
	add(flow.StandardParams...)
	for _, k := range flow.Kinds() {
		for _, cb := range k.Callbacks {
			add(cb.Params...)
			if cb.Param != "" {
				add(cb.Param)
			}
		}
	}
	add("HangupCause", "HangupCauseCode", "HangupCauseName", "HangupSource",
		"Duration", "BillDuration", "TotalCost", "StartTime", "AnswerTime", "EndTime")
	for _, n := range []string{"Direction", "CallStatus", "Event", "STIRAttestation", "STIRVerification", "DialStatus"} {
		m[n] = formName{name: n, enum: true}
	}
	return m
}()

// formValues are the values of the enumerations among formNames: Dial's
// outcomes (flow.DialStatuses, which CallStatus shares) and the rest.
var formValues = func() map[string]string {
	m := map[string]string{}
	for _, vs := range [][]string{flow.DialStatuses, {"inbound", "outbound", "ringing", "in-progress", "cancel", "canceled",
		"StartApp", "Redirect", "Hangup", "A", "B", "C", "Verified", "Not Verified", "Not Applicable"}} {
		for _, v := range vs {
			m[v] = v
		}
	}
	return m
}()

// formPair is a form parameter's name and value, as offsets into the
// body once decoded.
type formPair struct{ k0, k1, v0, v1 int }

// scanFormBody finds a form body's names and values, as url.ParseQuery
// does, decoding them in place in b, and appends them to pairs; err is
// url.ParseQuery's first error. ok false: the body has too many
// parameters to parse here (fastFormParams), and b is as it was.
func scanFormBody(b []byte, pairs []formPair) (_ []formPair, ok bool, err error) {
	n := bytes.Count(b, []byte{'&'}) + 1
	if n > fastFormParams || !fastFormOK() {
		return pairs, false, nil
	}
	for i := 0; i < len(b); {
		start, eq, escaped, semicolon := i, -1, false, false
	scan:
		for ; i < len(b); i++ {
			if !formPlain[b[i]] {
				switch b[i] {
				case '&':
					break scan
				case ';':
					semicolon = true
				case '=':
					if eq < 0 {
						eq = i
					}
				default: // '%', '+'
					escaped = true
				}
			}
		}
		end := i
		i++ // past the '&'
		switch {
		case semicolon:
			err = errSemicolon
			continue
		case start == end:
			continue
		}
		k1, v0 := end, end
		if eq >= 0 {
			k1, v0 = eq, eq+1
		}
		p := formPair{start, k1, v0, end}
		if escaped {
			var err1 error
			if p.k1, err1 = unescapeInPlace(b, start, k1); err1 == nil {
				p.v1, err1 = unescapeInPlace(b, v0, end)
			}
			if err1 != nil {
				if err == nil {
					err = err1
				}
				continue
			}
		}
		pairs = append(pairs, p)
	}
	return pairs, true, err
}

// formPlain marks the bytes a form body's names and values hold as they
// are: all but '&', ';', '=', '%' and '+'.
var formPlain = func() (t [256]bool) {
	for c := range t {
		t[c] = !strings.ContainsRune("&;=%+", rune(c))
	}
	return t
}()

// unescapeInPlace decodes b[i:j] as url.QueryUnescape does, into b from
// i on, and returns where the decoded text ends; or, leaving b as it
// is, url.QueryUnescape's error.
func unescapeInPlace(b []byte, i, j int) (int, error) {
	for k := i; k < j; k++ {
		if b[k] == '%' {
			if k+2 >= j || !hexdigit.Is(b[k+1]) || !hexdigit.Is(b[k+2]) {
				_, err := url.QueryUnescape(string(b[i:j]))
				return 0, err
			}
			k += 2
		}
	}
	w := i
	for k := i; k < j; w++ {
		switch c := b[k]; c {
		case '%':
			b[w] = hexdigit.Value(b[k+1])<<4 | hexdigit.Value(b[k+2])
			k += 3
		case '+':
			b[w] = ' '
			k++
		default:
			b[w] = c
			k++
		}
	}
	return w, nil
}

// params returns a webhook's parameters, one value per name. For POST
// only the body counts (the callback URL's own path carries flowd's
// routing; Plivo puts nothing in a POST's query). Each call returns a
// map of its own: the first, the one parseForm made (parseWebhookForm).
func params(r *http.Request) map[string]string {
	if r.Method == http.MethodPost && r.PostForm == nil {
		if c, ok := r.Context().Value(requestCtxKey{}).(*requestCtx); ok && c.form != nil {
			if c.formTaken {
				return maps.Clone(c.form)
			}
			c.formTaken = true
			return c.form
		}
	}
	src := r.Form
	if r.Method == http.MethodPost {
		src = r.PostForm
	}
	return firstValues(src)
}

// firstValues returns each name's first value.
func firstValues(src url.Values) map[string]string {
	out := make(map[string]string, len(src))
	for k, v := range src {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// chiFlow returns the flow named in a webhook's URL, as a metrics label,
// for the recoverer: it runs before flowCtx and sees only chi's route
// context.
func chiFlow(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		return flowLabel(rc.URLParam("flow"))
	}
	return ""
}

// flowLabel returns a flow name taken from a URL as a metrics label: the
// name when it is one (flow names match ^[a-z0-9][a-z0-9_-]*$), else
// "invalid". Anyone can put anything in a URL, and a label that is not
// valid UTF-8 makes Prometheus panic.
func flowLabel(name string) string {
	if name == "" || len(name) > 128 {
		return "invalid"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '_' || c == '-')) {
			return "invalid"
		}
	}
	return name
}
