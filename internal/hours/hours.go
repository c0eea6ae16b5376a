package hours

import (
	"cmp"
	"fmt"
	"slices"
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
// ranges that are open, and for each excepted calendar date, the minute
// ranges open on that date instead.
//
// The weekly hours are stored as two bitmaps with one bit per minute of the
// week (local wall clock, indexed by time.Weekday*1440 + minute of day):
// bits holds each day's ranges up to midnight, and night the part of its
// overnight ranges after midnight, indexed by the day the range starts on,
// so that an excepted date can drop its own night and keep the night
// before. Each excepted date is a bitmap of its 1440 minutes, kept sorted
// by date. Open is a constant-time lookup (plus binary searches over the
// excepted dates, if there are any) that does not allocate. A Schedule is
// immutable after Parse and safe for concurrent use.
type Schedule struct {
	bits  [(minutesPerWeek + 63) / 64]uint64
	night [(minutesPerWeek + 63) / 64]uint64
	dates []dateHours // sorted by key, one per date
}

// dateHours is the open minutes of one excepted calendar date.
type dateHours struct {
	key  int // year*10000 + month*100 + day: ordered like the dates
	bits [(minutesPerDay + 63) / 64]uint64
}

func dateKey(year int, month time.Month, day int) int {
	return year*10000 + int(month)*100 + day
}

func (s *Schedule) set(minute int) {
	s.bits[minute>>6] |= 1 << (uint(minute) & 63)
}

func (s *Schedule) has(minute int) bool {
	return s.bits[minute>>6]&(1<<(uint(minute)&63)) != 0
}

func (s *Schedule) setNight(minute int) {
	s.night[minute>>6] |= 1 << (uint(minute) & 63)
}

func (s *Schedule) hasNight(minute int) bool {
	return s.night[minute>>6]&(1<<(uint(minute)&63)) != 0
}

func (d *dateHours) set(minute int) {
	d.bits[minute>>6] |= 1 << (uint(minute) & 63)
}

func (d *dateHours) has(minute int) bool {
	return d.bits[minute>>6]&(1<<(uint(minute)&63)) != 0
}

// date returns the hours of the excepted date with the given key, or nil.
func (s *Schedule) date(key int) *dateHours {
	lo, hi := 0, len(s.dates)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch k := s.dates[mid].key; {
		case k == key:
			return &s.dates[mid]
		case k < key:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return nil
}

// Open reports whether t, seen in loc, falls inside the schedule.
//
// The schedule is read as local wall-clock time in loc: t is converted to loc
// and its calendar date, weekday, hour and minute are looked up (seconds are
// ignored, so for 09:00-17:00, 16:59:59 is open and 17:00:00 is closed).
// Every range belongs to the date it starts on, an overnight one too, and
// each date's ranges are its dated entry's if the spec has one for that date
// in loc, and the weekly hours' otherwise. So t is open when a range of its
// own date covers it, or when the previous date has no dated entry and one
// of its weekly overnight ranges runs past midnight to t. On a
// daylight-saving change this means a skipped wall-clock hour is simply
// never observed and a repeated hour is open (or closed) both times it
// occurs.
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
	minute := h*60 + m
	day := int(t.Weekday())
	year, month, mday := t.Date()
	if d := s.dated(year, month, mday); d != nil {
		if d.has(minute) {
			return true
		}
	} else if s.has(day*minutesPerDay + minute) {
		return true
	}
	// The tail of the previous date's night. The previous date is counted
	// on the calendar, not as t less 24 hours, which on the day after a
	// daylight-saving change can land two dates back.
	if !s.hasNight((day+6)%7*minutesPerDay + minute) {
		return false
	}
	year, month, mday = time.Date(year, month, mday-1, 12, 0, 0, 0, time.UTC).Date()
	return s.dated(year, month, mday) == nil // a dated range ends by midnight
}

// dated returns the hours of the date if the spec has an entry for it, or nil.
func (s *Schedule) dated(year int, month time.Month, day int) *dateHours {
	if len(s.dates) == 0 {
		return nil
	}
	return s.date(dateKey(year, month, day))
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
//	Mon-Fri 09:00-17:00; Sat 10:00-13:00; 2026-12-25 closed; 2026-12-31 09:00-12:00
//
// that is, weekly hours followed by dated exceptions.
//
// Rules:
//
//   - A spec is one or more entries separated by ";": first the weekly
//     entries, then the dated entries. Either list may be empty, but a
//     weekly entry after a dated one is an error.
//   - A weekly entry is a day set, whitespace, then one or more time ranges
//     separated by ",".
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
//   - A weekly range whose end is before its start runs overnight and belongs
//     to its start day: "Fri 22:00-06:00" is open from Friday 22:00 to
//     Saturday 06:00, and "Sun 22:00-02:00" runs into Monday. A range whose
//     start equals its end is an error.
//   - A dated entry is a calendar date written YYYY-MM-DD, whitespace, then
//     either "closed" (case-insensitive) or time ranges as in a weekly entry.
//     The date must exist (2026-02-30 is an error). On that date, in the zone
//     passed to Open, the dated entry replaces the weekly hours entirely: its
//     ranges are the date's only ranges, and "closed" means it has none (the
//     night before can still run into it, as below). Other dates keep the
//     weekly hours.
//   - A dated range cannot run past midnight: its end must be after its
//     start, where "24:00" and "00:00" as an end both mean the end of the
//     date ("2026-12-31 20:00-00:00" is open until midnight). For hours that
//     run into the next date, give that date its own entry.
//   - A weekly overnight range belongs to its start date, after midnight
//     too, so a dated entry for that date replaces it whole, and one for the
//     next date leaves it alone: with "Fri 22:00-06:00; 2026-12-25 closed",
//     Friday 2026-12-25 has no night and Saturday 2026-12-26 is closed at
//     02:00; with "Fri 22:00-06:00; 2026-12-26 closed", Saturday 2026-12-26
//     is open at 02:00, until 06:00. A dated range never runs past midnight,
//     so with "daily 22:00-02:00; 2026-12-31 20:00-24:00" the first hours of
//     2027-01-01 are closed.
//   - Several dated entries for the same date combine: their ranges form a
//     union. "closed" together with ranges for the same date is an error,
//     reported at the later entry.
//   - A spec with only dated entries is valid: it is closed on every other
//     date.
//   - Whitespace (spaces, tabs, newlines) is free around ";", "," and "-"
//     (except inside a date), but at least one whitespace character must
//     separate the day set or date from what follows it.
//   - Weekly entries, days and ranges may overlap; the weekly hours are their
//     union.
//   - An empty spec, an empty entry (including a trailing ";"), an unknown
//     day, a malformed time or date, or a date that does not exist is an
//     error. Errors are *SyntaxError values that give the byte offset of the
//     problem.
//
// The grammar, in EBNF (day names, "daily" and "closed" are
// case-insensitive):
//
//	spec      = weeklies | [ weeklies ";" ] dateds
//	weeklies  = weekly { ";" weekly }
//	dateds    = dated { ";" dated }
//	weekly    = days WS ranges
//	dated     = date WS ( "closed" | ranges )
//	days      = "daily" | dayitem { "," dayitem }
//	dayitem   = day [ "-" day ]
//	day       = "Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun"
//	          | "Monday" | "Tuesday" | "Wednesday" | "Thursday" | "Friday" | "Saturday" | "Sunday"
//	date      = digit digit digit digit "-" digit digit "-" digit digit
//	ranges    = range { "," range }
//	range     = time "-" time
//	time      = digit digit ":" digit digit
//
// Times and dates are local wall-clock times and calendar dates in the zone
// passed to Open.
func Parse(spec string) (*Schedule, error) {
	p := &schedParser{src: spec}
	p.next()
	if p.tok.kind == tokEOF {
		return nil, p.errAt(0, "empty spec")
	}
	s := new(Schedule)
	for {
		if err := p.entry(s); err != nil {
			return nil, err
		}
		switch p.tok.kind {
		case tokEOF:
			slices.SortFunc(s.dates, func(a, b dateHours) int { return cmp.Compare(a.key, b.key) })
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
	tokDate
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
	src     string
	pos     int
	tok     schedTok
	prev    schedTok
	started bool // next has read a token

	// dates maps the key of each date that has a dated entry to its index
	// in the Schedule's dates and whether an entry marked it closed.
	dates map[int]dateEntry
}

type dateEntry struct {
	index  int
	closed bool
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
	entryStart := !p.started || p.prev.kind == tokSemi
	p.started = true
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
	case entryStart && isDigit(c) && dateAhead(src[start:]):
		// Only where an entry starts: elsewhere digits and '-' are the
		// times of a range, as in "0900-1700", reported as a bad time.
		kind = tokDate
		for p.pos < len(src) && (isDigit(src[p.pos]) || src[p.pos] == '-') {
			p.pos++
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

// dateAhead reports whether s starts with digits followed by '-', the start
// of a date (well formed or not).
func dateAhead(s string) bool {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i > 0 && i < len(s) && s[i] == '-'
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

// entry parses one weekly or dated entry into s.
func (p *schedParser) entry(s *Schedule) error {
	switch {
	case p.tok.kind == tokSemi || p.tok.kind == tokEOF:
		return p.errAt(p.tok.off, "empty part")
	case p.tok.kind == tokDate:
		return p.dated(s)
	case p.tok.kind == tokWord && strings.EqualFold(p.tok.text, "closed"):
		return p.errAt(p.tok.off, `"closed" must follow a date, as in "2026-12-25 closed"`)
	case p.tok.kind == tokWord && p.dates != nil && isDayWord(p.tok.text):
		return p.errAt(p.tok.off, "weekly entry after a dated entry (list the weekly hours first, then the dated exceptions)")
	}
	return p.part(s)
}

// part parses one weekly "days ranges" entry into s.
func (p *schedParser) part(s *Schedule) error {
	days, err := p.days()
	if err != nil {
		return err
	}
	if p.tok.kind != tokTime {
		if p.tok.kind == tokWord && strings.EqualFold(p.tok.text, "closed") {
			return p.errAt(p.tok.off, `expected time range (HH:MM-HH:MM) after days, found "closed" (leave days that are always closed out of the weekly hours)`)
		}
		return p.unexpected("time range (HH:MM-HH:MM) after days")
	}
	if !p.prev.spaceAfter {
		return p.errAt(p.tok.off, "missing whitespace between days and time range")
	}
	return p.ranges(func(start, end, _ int) error {
		if end < start {
			end += minutesPerDay // overnight: runs into the next day
		}
		for d := 0; d < 7; d++ {
			if days&(1<<d) == 0 {
				continue
			}
			base := d * minutesPerDay
			for m := start; m < end; m++ {
				if m < minutesPerDay {
					s.set(base + m)
				} else {
					s.setNight(base + m - minutesPerDay) // kept with its start day
				}
			}
		}
		return nil
	})
}

// dated parses one "date closed" or "date ranges" entry into s.
func (p *schedParser) dated(s *Schedule) error {
	dateTok := p.tok
	key, err := p.date()
	if err != nil {
		return err
	}
	closed := p.tok.kind == tokWord && strings.EqualFold(p.tok.text, "closed")
	if !closed && p.tok.kind != tokTime {
		return p.unexpected(`"closed" or time range (HH:MM-HH:MM) after date`)
	}
	if !p.prev.spaceAfter {
		what := "time range"
		if closed {
			what = `"closed"`
		}
		return p.errAt(p.tok.off, "missing whitespace between date and "+what)
	}
	if p.dates == nil {
		p.dates = make(map[int]dateEntry)
	}
	e, seen := p.dates[key]
	if !seen {
		e.index = len(s.dates)
		s.dates = append(s.dates, dateHours{key: key})
	}
	if closed {
		if seen && !e.closed {
			return p.errAt(dateTok.off, fmt.Sprintf("%s is closed here but an earlier entry gives it hours", dateTok.text))
		}
		e.closed = true
		p.dates[key] = e
		p.next()
		if p.tok.kind != tokSemi && p.tok.kind != tokEOF {
			return p.unexpected(`';' or end of spec after "closed"`)
		}
		return nil
	}
	if e.closed {
		return p.errAt(dateTok.off, fmt.Sprintf("%s has hours here but an earlier entry says it is closed", dateTok.text))
	}
	p.dates[key] = e
	d := &s.dates[e.index]
	return p.ranges(func(start, end, off int) error {
		if end == 0 {
			end = minutesPerDay // "20:00-00:00" ends at midnight, like 24:00
		}
		if end < start {
			return p.errAt(off, fmt.Sprintf("dated range %02d:%02d-%02d:%02d runs past midnight (a dated range ends by 24:00; give the next date its own entry)",
				start/60, start%60, end/60, end%60))
		}
		for m := start; m < end; m++ {
			d.set(m)
		}
		return nil
	})
}

// date parses the current date token as YYYY-MM-DD and returns its key.
func (p *schedParser) date() (int, error) {
	t := p.tok
	x := t.text
	if len(x) != 10 || x[4] != '-' || x[7] != '-' || !allDigits(x[:4]) || !allDigits(x[5:7]) || !allDigits(x[8:]) {
		return 0, p.errAt(t.off, fmt.Sprintf("bad date %q (want YYYY-MM-DD)", x))
	}
	y := atoi(x[:4])
	m := time.Month(atoi(x[5:7]))
	d := atoi(x[8:])
	if m < time.January || m > time.December {
		return 0, p.errAt(t.off, fmt.Sprintf("month %02d out of range in %q (want 01-12)", int(m), x))
	}
	if n := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); d < 1 || d > n {
		return 0, p.errAt(t.off, fmt.Sprintf("day %02d out of range in %q (%s %04d has %d days)", d, x, m, y, n))
	}
	p.next()
	return dateKey(y, m, d), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// atoi converts a string of ASCII digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// ranges parses one or more time ranges separated by "," and passes each
// to add with the offset of its start time.
func (p *schedParser) ranges(add func(start, end, off int) error) error {
	for {
		off := p.tok.off
		start, end, err := p.timeRange()
		if err != nil {
			return err
		}
		if err := add(start, end, off); err != nil {
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

// isDayWord reports whether w is a day name or "daily".
func isDayWord(w string) bool {
	if strings.EqualFold(w, "daily") {
		return true
	}
	for _, n := range dayNames {
		if strings.EqualFold(w, n.short) || strings.EqualFold(w, n.long) {
			return true
		}
	}
	return false
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

// timeRange parses "HH:MM-HH:MM" and returns its start and end in minutes
// since midnight. The end (0 to 1440) is never equal to the start but may be
// before it, for a range that runs overnight: the caller decides what that
// means.
func (p *schedParser) timeRange() (start, end int, err error) {
	startTok := p.tok
	if start, err = p.clock(); err != nil {
		return 0, 0, err
	}
	if start == minutesPerDay {
		return 0, 0, p.errAt(startTok.off, "24:00 is only allowed as the end of a range")
	}
	if p.tok.kind != tokDash {
		return 0, 0, p.unexpected("'-' after start time " + startTok.text)
	}
	p.next()
	if p.tok.kind != tokTime {
		return 0, 0, p.unexpected("end time (HH:MM)")
	}
	if end, err = p.clock(); err != nil {
		return 0, 0, err
	}
	if end == start {
		return 0, 0, p.errAt(startTok.off, "empty time range: start equals end")
	}
	return start, end, nil
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
