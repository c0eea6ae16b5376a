package hours

import (
	"fmt"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones work even where the host has no zoneinfo
	"unicode"
	"unicode/utf8"
)

// minutesPerDay and minutesPerWeek size the schedule bitmap.
const (
	minutesPerDay  = 24 * 60
	minutesPerWeek = 7 * minutesPerDay
)

// Schedule is a parsed business-hours spec: for each weekday, the minute
// ranges that are open.
//
// It is stored as a bitmap with one bit per minute of the week (local wall
// clock, indexed by time.Weekday*1440 + minute of day), so Open is a constant
// time lookup that does not allocate. A Schedule is immutable after
// Parse and safe for concurrent use.
type Schedule struct {
	bits [(minutesPerWeek + 63) / 64]uint64
}

func (s *Schedule) set(minute int) {
	s.bits[minute>>6] |= 1 << (uint(minute) & 63)
}

func (s *Schedule) has(minute int) bool {
	return s.bits[minute>>6]&(1<<(uint(minute)&63)) != 0
}

// Open reports whether t, seen in loc, falls inside the schedule.
//
// The schedule is read as local wall-clock time in loc: t is converted to loc
// and its weekday, hour and minute are looked up (seconds are ignored, so for
// 09:00-17:00, 16:59:59 is open and 17:00:00 is closed). On a daylight-saving
// change this means a skipped wall-clock hour is simply never observed and a
// repeated hour is open (or closed) both times it occurs.
//
// A nil loc means t's own location. A nil Schedule is never open.
func (s *Schedule) Open(t time.Time, loc *time.Location) bool {
	if s == nil {
		return false
	}
	if loc != nil {
		t = t.In(loc)
	}
	h, m, _ := t.Clock()
	return s.has(int(t.Weekday())*minutesPerDay + h*60 + m)
}

// SyntaxError is returned by Parse. Offset is the byte offset in the spec
// where the problem was found.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("hours spec: %s at offset %d", e.Msg, e.Offset)
}

// Parse parses a business-hours spec such as
//
//	Mon-Fri 09:00-17:00; Sat 10:00-13:00
//
// Rules:
//
//   - A spec is one or more parts separated by ";". Each part is a day set,
//     whitespace, then one or more time ranges separated by ",".
//   - Day names are case-insensitive, as three-letter abbreviations or full
//     names. "Mon-Fri" is an inclusive range of days; ranges wrap around the
//     end of the week ("Fri-Mon" is Fri, Sat, Sun, Mon; "Mon-Mon" is just
//     Mon). Day items are combined with "," ("Mon,Wed,Fri-Sat"); a "," is read
//     as part of the day set when a day name follows it and as a separator of
//     time ranges when it follows a time. "daily" means every day and stands
//     alone.
//   - Times use the 24-hour clock, exactly two digits for the hour (00-23)
//     and two for the minute (00-59). "24:00" is allowed as the end of a range
//     only. The start is inclusive and the end exclusive: 09:00-17:00 is open
//     at 09:00 and closed at 17:00.
//   - A range whose end is before its start runs overnight and belongs to its
//     start day: "Fri 22:00-06:00" is open from Friday 22:00 to Saturday
//     06:00, and "Sun 22:00-02:00" runs into Monday. A range whose start
//     equals its end is an error.
//   - Whitespace (spaces, tabs, newlines) is free around ";", "," and "-",
//     but at least one whitespace character must separate the day set from
//     the first time range.
//   - Parts, days and ranges may overlap; the schedule is their union.
//   - An empty spec, an empty part (including a trailing ";"), an unknown
//     day or a malformed time is an error. Errors are *SyntaxError values
//     that give the byte offset of the problem.
//
// The grammar, in EBNF (day names and "daily" are case-insensitive):
//
//	spec      = part { ";" part }
//	part      = days WS ranges
//	days      = "daily" | dayitem { "," dayitem }
//	dayitem   = day [ "-" day ]
//	day       = "Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun"
//	          | "Monday" | "Tuesday" | "Wednesday" | "Thursday" | "Friday" | "Saturday" | "Sunday"
//	ranges    = range { "," range }
//	range     = time "-" time
//	time      = digit digit ":" digit digit
//
// Times are local wall-clock times in the zone passed to Open.
func Parse(spec string) (*Schedule, error) {
	p := &schedParser{src: spec}
	p.next()
	if p.tok.kind == tokEOF {
		return nil, p.errAt(0, "empty spec")
	}
	s := new(Schedule)
	for {
		if err := p.part(s); err != nil {
			return nil, err
		}
		switch p.tok.kind {
		case tokEOF:
			return s, nil
		case tokSemi:
			p.next()
		default:
			return nil, p.unexpected("';', ',' or end of spec")
		}
	}
}

// LoadLocation is time.LoadLocation with a cache: the runtime calls it for
// every webhook, and time.LoadLocation reads and parses zone data each time.
// Unknown zones give an error naming the zone; failures are not cached.
// As with time.LoadLocation, "" and "UTC" mean UTC and "Local" the host zone.
func LoadLocation(name string) (*time.Location, error) {
	if v, ok := locCache.Load(name); ok {
		return v.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA zone name such as \"America/New_York\")", name)
	}
	v, _ := locCache.LoadOrStore(name, loc)
	return v.(*time.Location), nil
}

// locCache maps zone names to loaded locations. Only zones that loaded are
// stored, and those are bounded by the IANA database, so it needs no eviction.
var locCache sync.Map

// ---- parser ----

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokTime
	tokDash
	tokComma
	tokSemi
	tokBad
)

type schedTok struct {
	kind       tokKind
	off        int    // byte offset of the token in the spec
	text       string // the token's source text
	spaceAfter bool   // whitespace separates this token from the next one
}

func (t schedTok) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of spec"
	case tokSemi, tokComma, tokDash:
		return "'" + t.text + "'"
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

type schedParser struct {
	src  string
	pos  int
	tok  schedTok
	prev schedTok
}

func (p *schedParser) errAt(off int, msg string) error {
	return &SyntaxError{Offset: off, Msg: msg}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isLetter(c byte) bool { return 'A' <= c&^0x20 && c&^0x20 <= 'Z' }

// wordRuneLen returns the byte length of the letter at the start of s, or 0
// if s does not start with a letter.
func wordRuneLen(s string) int {
	if s == "" {
		return 0
	}
	if c := s[0]; c < utf8.RuneSelf {
		if isLetter(c) {
			return 1
		}
		return 0
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || !unicode.IsLetter(r) {
		return 0
	}
	return n
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// next advances to the next token.
func (p *schedParser) next() {
	src := p.src
	for p.pos < len(src) && isSpace(src[p.pos]) {
		p.pos++
	}
	p.prev = p.tok
	start := p.pos
	if start >= len(src) {
		p.tok = schedTok{kind: tokEOF, off: len(src)}
		return
	}
	var kind tokKind
	switch c := src[start]; {
	case c == ';':
		kind, p.pos = tokSemi, start+1
	case c == ',':
		kind, p.pos = tokComma, start+1
	case c == '-':
		kind, p.pos = tokDash, start+1
	case wordRuneLen(src[start:]) > 0:
		// Non-ASCII letters are part of words so that "Mön" is reported
		// as an unknown day rather than as a stray character.
		kind = tokWord
		for n := wordRuneLen(src[p.pos:]); n > 0; n = wordRuneLen(src[p.pos:]) {
			p.pos += n
		}
	case isDigit(c) || c == ':':
		kind = tokTime
		for p.pos < len(src) && (isDigit(src[p.pos]) || src[p.pos] == ':') {
			p.pos++
		}
	default:
		kind = tokBad
		_, n := utf8.DecodeRuneInString(src[start:])
		p.pos = start + n
	}
	p.tok = schedTok{
		kind:       kind,
		off:        start,
		text:       src[start:p.pos],
		spaceAfter: p.pos < len(src) && isSpace(src[p.pos]),
	}
}

// unexpected builds the error for a token that does not fit where it is.
func (p *schedParser) unexpected(want string) error {
	if p.tok.kind == tokBad {
		r, n := utf8.DecodeRuneInString(p.tok.text)
		if r == utf8.RuneError && n == 1 {
			return p.errAt(p.tok.off, fmt.Sprintf("invalid UTF-8 byte 0x%02x", p.tok.text[0]))
		}
		return p.errAt(p.tok.off, fmt.Sprintf("unexpected character %q", r))
	}
	return p.errAt(p.tok.off, "expected "+want+", found "+p.tok.describe())
}

// part parses one "days ranges" part into s.
func (p *schedParser) part(s *Schedule) error {
	if p.tok.kind == tokSemi || p.tok.kind == tokEOF {
		return p.errAt(p.tok.off, "empty part")
	}
	days, err := p.days()
	if err != nil {
		return err
	}
	if p.tok.kind != tokTime {
		return p.unexpected("time range (HH:MM-HH:MM) after days")
	}
	if !p.prev.spaceAfter {
		return p.errAt(p.tok.off, "missing whitespace between days and time range")
	}
	for {
		if err := p.timeRange(s, days); err != nil {
			return err
		}
		if p.tok.kind != tokComma {
			return nil
		}
		p.next()
		switch p.tok.kind {
		case tokTime:
		case tokWord:
			return p.errAt(p.tok.off, "expected time range after ',', found "+p.tok.describe()+" (separate day groups with ';')")
		default:
			return p.unexpected("time range after ','")
		}
	}
}

// days parses a day set and returns it as a bit mask indexed by time.Weekday.
func (p *schedParser) days() (uint8, error) {
	if p.tok.kind == tokWord && strings.EqualFold(p.tok.text, "daily") {
		p.next()
		if p.tok.kind == tokComma || p.tok.kind == tokDash {
			return 0, p.errAt(p.tok.off, "\"daily\" cannot be combined with other days")
		}
		return 0x7f, nil
	}
	var mask uint8
	for {
		from, err := p.day()
		if err != nil {
			return 0, err
		}
		to := from
		if p.tok.kind == tokDash {
			p.next()
			if to, err = p.day(); err != nil {
				return 0, err
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			mask |= 1 << d
			if d == to {
				break
			}
		}
		if p.tok.kind != tokComma {
			return mask, nil
		}
		p.next()
		if p.tok.kind != tokWord {
			return 0, p.unexpected("day after ','")
		}
	}
}

var dayNames = [...]struct {
	short, long string
	day         time.Weekday
}{
	{"mon", "monday", time.Monday},
	{"tue", "tuesday", time.Tuesday},
	{"wed", "wednesday", time.Wednesday},
	{"thu", "thursday", time.Thursday},
	{"fri", "friday", time.Friday},
	{"sat", "saturday", time.Saturday},
	{"sun", "sunday", time.Sunday},
}

// day parses one day name.
func (p *schedParser) day() (time.Weekday, error) {
	if p.tok.kind != tokWord {
		return 0, p.unexpected("day (Mon..Sun or daily)")
	}
	for _, n := range dayNames {
		if strings.EqualFold(p.tok.text, n.short) || strings.EqualFold(p.tok.text, n.long) {
			p.next()
			return n.day, nil
		}
	}
	if strings.EqualFold(p.tok.text, "daily") {
		return 0, p.errAt(p.tok.off, "\"daily\" cannot be combined with other days")
	}
	return 0, p.errAt(p.tok.off, fmt.Sprintf("unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat, Sun, a full day name, or daily)", p.tok.text))
}

// timeRange parses "HH:MM-HH:MM" and marks it open on each day in days.
func (p *schedParser) timeRange(s *Schedule, days uint8) error {
	startTok := p.tok
	start, err := p.clock()
	if err != nil {
		return err
	}
	if start == minutesPerDay {
		return p.errAt(startTok.off, "24:00 is only allowed as the end of a range")
	}
	if p.tok.kind != tokDash {
		return p.unexpected("'-' after start time " + startTok.text)
	}
	p.next()
	if p.tok.kind != tokTime {
		return p.unexpected("end time (HH:MM)")
	}
	end, err := p.clock()
	if err != nil {
		return err
	}
	if end == start {
		return p.errAt(startTok.off, "empty time range: start equals end")
	}
	if end < start {
		end += minutesPerDay // overnight: runs into the next day
	}
	for d := 0; d < 7; d++ {
		if days&(1<<d) == 0 {
			continue
		}
		base := d * minutesPerDay
		for m := start; m < end; m++ {
			s.set((base + m) % minutesPerWeek)
		}
	}
	return nil
}

// clock parses the current time token as HH:MM and returns minutes since
// midnight; 24:00 gives 1440.
func (p *schedParser) clock() (int, error) {
	t := p.tok
	x := t.text
	if len(x) != 5 || !isDigit(x[0]) || !isDigit(x[1]) || x[2] != ':' || !isDigit(x[3]) || !isDigit(x[4]) {
		return 0, p.errAt(t.off, fmt.Sprintf("bad time %q (want HH:MM with two-digit hour and minute)", x))
	}
	h := int(x[0]-'0')*10 + int(x[1]-'0')
	m := int(x[3]-'0')*10 + int(x[4]-'0')
	switch {
	case h == 24 && m == 0:
	case h > 23:
		return 0, p.errAt(t.off, fmt.Sprintf("hour %02d out of range in %q (want 00-23, or 24:00 as an end)", h, x))
	case m > 59:
		return 0, p.errAt(t.off+3, fmt.Sprintf("minute %02d out of range in %q (want 00-59)", m, x))
	}
	p.next()
	return h*60 + m, nil
}
