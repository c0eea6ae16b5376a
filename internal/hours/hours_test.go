package hours

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		spec    string
		offset  int
		msgPart string
	}{
		{"", 0, "empty spec"},
		{"   \t ", 0, "empty spec"},
		{"Mnn 09:00-17:00", 0, `unknown day "Mnn"`},
		{"Mon-Fro 09:00-17:00", 4, `unknown day "Fro"`},
		{"Mon,Wed,Frid 09:00-17:00", 8, `unknown day "Frid"`},
		{"Mon 25:00-26:00", 4, "hour 25 out of range"},
		{"Mon 09:00-25:00", 10, "hour 25 out of range"},
		{"Mon 09:60-17:00", 7, "minute 60 out of range"},
		{"Mon 24:00-06:00", 4, "24:00 is only allowed as the end"},
		{"Mon 09:00-24:30", 10, "hour 24 out of range"},
		{"Mon 09:00-09:00", 4, "start equals end"},
		{"Mon 00:00-00:00", 4, "start equals end"},
		{"09:00-09:00", 0, `expected day (Mon..Sun or daily), found "09:00"`},
		{"Mon", 3, "expected time range (HH:MM-HH:MM) after days, found end of spec"},
		{"Mon-Fri", 7, "expected time range"},
		{"Mon 9:00-17:00", 4, `bad time "9:00"`},
		{"Mon 09:0-17:00", 4, `bad time "09:0"`},
		{"Mon 0900-1700", 4, `bad time "0900"`},
		{"Mon 09:00:00-17:00", 4, `bad time "09:00:00"`},
		{"Mon 09:00", 9, "expected '-' after start time 09:00, found end of spec"},
		{"Mon 09:00-", 10, "expected end time"},
		{"Mon 09:00 17:00", 10, "expected '-'"},
		{"Mon09:00-17:00", 3, "missing whitespace between days and time range"},
		{"Mon 09:00-17:00;", 16, "empty part"},
		{"Mon 09:00-17:00;;Tue 09:00-17:00", 16, "empty part"},
		{"; Mon 09:00-17:00", 0, "empty part"},
		{"Mon 09:00-17:00; ; Tue 10:00-11:00", 17, "empty part"},
		{"Mon 09:00-12:00, Tue 13:00-17:00", 17, "separate day groups with ';'"},
		{"Mon, 09:00-17:00", 5, "expected day after ','"},
		{"Mon Tue 09:00-17:00", 4, `found "Tue"`},
		{"Mon 09:00-17:00 Tue 09:00-17:00", 16, "expected ';', ',' or end of spec"},
		{"daily,Mon 09:00-17:00", 5, `"daily" cannot be combined`},
		{"Mon,daily 09:00-17:00", 4, `"daily" cannot be combined`},
		{"Mon 09:00-17:00 # comment", 16, "unexpected character '#'"},
		{"Mön 09:00-17:00", 0, `unknown day "Mön"`},
		{"Mon 09:00-17:00 ☎", 16, "unexpected character '☎'"},
		{"Mon 09:00-17:00;\xff", 16, "invalid UTF-8 byte 0xff"},
		{"Mon 09:00–17:00", 9, "unexpected character '–'"}, // en dash
		{"Mon - 09:00-17:00", 6, "expected day"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", tt.spec, s)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			if se.Offset != tt.offset {
				t.Errorf("offset = %d, want %d (%v)", se.Offset, tt.offset, err)
			}
			if !strings.Contains(se.Msg, tt.msgPart) {
				t.Errorf("msg = %q, want it to contain %q", se.Msg, tt.msgPart)
			}
			if !strings.HasPrefix(err.Error(), "hours spec: ") || !strings.HasSuffix(err.Error(), " at offset "+strconv.Itoa(tt.offset)) {
				t.Errorf("Error() = %q, want \"hours spec: ... at offset %d\"", err.Error(), tt.offset)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, spec := range []string{
		"Mon-Fri 09:00-17:00; Sat 10:00-13:00",
		"mon-fri 09:00-17:00",
		"MONDAY-friday 09:00-17:00",
		"Mon,Wed,Fri-Sat 09:00-12:00,13:00-17:00",
		"Mon , Wed , Fri - Sat\t09:00 - 12:00 , 13:00 - 17:00 ;\n Sun 10:00-11:00",
		"daily 00:00-24:00",
		"DAILY 22:00-06:00",
		"Fri-Mon 10:00-11:00",
		"Mon-Mon 10:00-11:00",
		"Sun 22:00-00:00",
		"  Mon 09:00-17:00  ",
		"Mon 09:00-17:00; Mon 12:00-18:00",
	} {
		if _, err := Parse(spec); err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
		}
	}
}

// Reference dates: 2025-01-06 is a Monday, so 2025-01-06..12 is Mon..Sun.
// DST: America/New_York springs forward 2025-03-09 02:00 and falls back
// 2025-11-02 02:00; Europe/Berlin springs forward 2025-03-30 02:00 and falls
// back 2025-10-26 03:00.

type openCase struct {
	at   string // local wall time in the test's zone, "2006-01-02 15:04[:05]"
	utc  string // or an instant in UTC (for times that are ambiguous locally)
	want bool
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		zone  string
		cases []openCase
	}{
		{
			name: "weekdays and Saturday, New York",
			spec: "Mon-Fri 09:00-17:00; Sat 10:00-13:00",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2025-01-06 08:59:59", want: false}, // Mon
				{at: "2025-01-06 09:00", want: true},     // start is inclusive
				{at: "2025-01-06 12:30", want: true},
				{at: "2025-01-06 16:59:59", want: true},
				{at: "2025-01-06 17:00", want: false}, // end is exclusive
				{at: "2025-01-07 10:00", want: true},  // Tue
				{at: "2025-01-08 10:00", want: true},  // Wed
				{at: "2025-01-09 10:00", want: true},  // Thu
				{at: "2025-01-10 16:00", want: true},  // Fri
				{at: "2025-01-10 17:00", want: false}, // Fri
				{at: "2025-01-11 09:30", want: false}, // Sat before open
				{at: "2025-01-11 10:00", want: true},  // Sat
				{at: "2025-01-11 12:59", want: true},
				{at: "2025-01-11 13:00", want: false},
				{at: "2025-01-12 12:00", want: false}, // Sun
				// Same instant, different answer depending on the zone
				// offset: 14:00 UTC is 09:00 EST in January.
				{utc: "2025-01-06 14:00", want: true},
				{utc: "2025-01-06 13:59", want: false},
				{utc: "2025-01-06 21:59", want: true}, // 16:59 EST
				{utc: "2025-01-06 22:00", want: false},
			},
		},
		{
			name: "DST change, New York",
			spec: "Mon-Fri 09:00-17:00; Sun 01:00-03:00",
			zone: "America/New_York",
			cases: []openCase{
				// 13:00 UTC is 08:00 EST on the Monday before the change
				// and 09:00 EDT on the Monday after it.
				{utc: "2025-03-03 13:00", want: false},
				{utc: "2025-03-10 13:00", want: true},
				{utc: "2025-03-10 12:59", want: false},
				{utc: "2025-03-10 20:59", want: true},  // 16:59 EDT
				{utc: "2025-03-10 21:00", want: false}, // 17:00 EDT
				// Spring forward on Sun 2025-03-09: 01:59:59 EST is
				// followed by 03:00:00 EDT, which is outside 01:00-03:00.
				{at: "2025-03-09 01:00", want: true},
				{utc: "2025-03-09 06:59:59", want: true},  // 01:59:59 EST
				{utc: "2025-03-09 07:00:00", want: false}, // 03:00 EDT
				{at: "2025-03-09 00:59", want: false},
				// Fall back on Sun 2025-11-02: 01:00-02:00 happens twice
				// and is open both times (wall-clock semantics).
				{utc: "2025-11-02 05:30", want: true},  // 01:30 EDT
				{utc: "2025-11-02 06:30", want: true},  // 01:30 EST
				{utc: "2025-11-02 07:30", want: true},  // 02:30 EST
				{utc: "2025-11-02 08:00", want: false}, // 03:00 EST
				{utc: "2025-11-02 04:59", want: false}, // 00:59 EDT
			},
		},
		{
			name: "DST change, Berlin",
			spec: "Mon-Fri 08:00-18:00; Sun 02:00-04:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				// 07:30 UTC is 08:30 CET before the change, 09:30 CEST after.
				{utc: "2025-03-28 06:59", want: false}, // Fri 07:59 CET
				{utc: "2025-03-28 07:00", want: true},  // Fri 08:00 CET
				{utc: "2025-03-31 06:00", want: true},  // Mon 08:00 CEST
				{utc: "2025-03-31 05:59", want: false}, // Mon 07:59 CEST
				{utc: "2025-03-31 16:00", want: false}, // Mon 18:00 CEST
				{utc: "2025-03-31 15:59", want: true},
				// Spring forward Sun 2025-03-30: 02:00-03:00 does not exist;
				// 01:59 CET -> 03:00 CEST, which is inside 02:00-04:00.
				{utc: "2025-03-30 00:59", want: false}, // 01:59 CET
				{utc: "2025-03-30 01:00", want: true},  // 03:00 CEST
				{utc: "2025-03-30 01:59", want: true},  // 03:59 CEST
				{utc: "2025-03-30 02:00", want: false}, // 04:00 CEST
				// Fall back Sun 2025-10-26: 02:00-03:00 happens twice.
				{utc: "2025-10-26 00:00", want: true},  // 02:00 CEST
				{utc: "2025-10-26 00:59", want: true},  // 02:59 CEST
				{utc: "2025-10-26 01:00", want: true},  // 02:00 CET
				{utc: "2025-10-26 02:59", want: true},  // 03:59 CET
				{utc: "2025-10-26 03:00", want: false}, // 04:00 CET
				{utc: "2025-10-25 23:59", want: false}, // 01:59 CEST
			},
		},
		{
			name: "overnight range crossing midnight",
			spec: "Fri 22:00-06:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2025-01-10 21:59", want: false}, // Fri
				{at: "2025-01-10 22:00", want: true},
				{at: "2025-01-10 23:59:59", want: true},
				{at: "2025-01-11 00:00", want: true}, // Sat
				{at: "2025-01-11 05:59", want: true},
				{at: "2025-01-11 06:00", want: false},
				{at: "2025-01-11 22:30", want: false}, // Sat night is not Fri
				{at: "2025-01-10 03:00", want: false}, // Fri early morning (Thu not listed)
				{at: "2025-01-09 23:00", want: false}, // Thu
			},
		},
		{
			name: "overnight range crossing Sun to Mon",
			spec: "Sun 22:00-02:00",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2025-01-12 21:59", want: false}, // Sun
				{at: "2025-01-12 22:00", want: true},
				{at: "2025-01-13 00:00", want: true}, // Mon
				{at: "2025-01-13 01:59", want: true},
				{at: "2025-01-13 02:00", want: false},
				{at: "2025-01-06 01:00", want: true}, // any Monday
				{at: "2025-01-07 01:00", want: false},
				{at: "2025-01-11 23:00", want: false}, // Sat
			},
		},
		{
			name: "overnight every night",
			spec: "daily 22:00-06:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2025-01-06 03:00", want: true}, // Mon morning, from Sun night
				{at: "2025-01-12 23:00", want: true},
				{at: "2025-01-08 12:00", want: false},
				{at: "2025-01-08 06:00", want: false},
				{at: "2025-01-08 05:59", want: true},
			},
		},
		{
			name: "wrapping day range",
			spec: "Fri-Mon 10:00-11:00",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2025-01-10 10:30", want: true},  // Fri
				{at: "2025-01-11 10:30", want: true},  // Sat
				{at: "2025-01-12 10:30", want: true},  // Sun
				{at: "2025-01-13 10:30", want: true},  // Mon
				{at: "2025-01-07 10:30", want: false}, // Tue
				{at: "2025-01-08 10:30", want: false}, // Wed
				{at: "2025-01-09 10:30", want: false}, // Thu
				{at: "2025-01-10 11:00", want: false},
			},
		},
		{
			name: "day list and several ranges",
			spec: "mon, WED ,Fri-Saturday 09:00-12:00 , 13:00-17:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2025-01-06 09:00", want: true},  // Mon
				{at: "2025-01-06 12:00", want: false}, // lunch
				{at: "2025-01-06 12:59", want: false},
				{at: "2025-01-06 13:00", want: true},
				{at: "2025-01-07 10:00", want: false}, // Tue
				{at: "2025-01-08 10:00", want: true},  // Wed
				{at: "2025-01-09 10:00", want: false}, // Thu
				{at: "2025-01-10 16:59", want: true},  // Fri
				{at: "2025-01-11 16:59", want: true},  // Sat
				{at: "2025-01-12 10:00", want: false}, // Sun
			},
		},
		{
			name: "24:00 end",
			spec: "Sat 18:00-24:00; Sun 00:00-24:00",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2025-01-11 17:59", want: false},
				{at: "2025-01-11 18:00", want: true},
				{at: "2025-01-11 23:59:59", want: true},
				{at: "2025-01-12 00:00", want: true}, // Sun
				{at: "2025-01-12 23:59:59", want: true},
				{at: "2025-01-13 00:00", want: false}, // Mon
			},
		},
		{
			name: "end 24:00 does not spill into the next day",
			spec: "Mon 20:00-24:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2025-01-06 23:59", want: true},
				{at: "2025-01-07 00:00", want: false},
			},
		},
		{
			name: "end 00:00 is overnight to midnight",
			spec: "Mon 20:00-00:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2025-01-06 19:59", want: false},
				{at: "2025-01-06 23:59", want: true},
				{at: "2025-01-07 00:00", want: false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := LoadLocation(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.cases {
				var at time.Time
				if c.utc != "" {
					at = parseTestTime(t, c.utc, time.UTC)
				} else {
					at = parseTestTime(t, c.at, loc)
				}
				if got := s.Open(at, loc); got != c.want {
					t.Errorf("Open(%s = %s) = %v, want %v",
						at.UTC().Format("2006-01-02 15:04:05Z"), at.In(loc).Format("Mon 15:04:05 MST"), got, c.want)
				}
				// The answer depends only on the instant, not on the
				// location the time value happens to carry.
				if got := s.Open(at.In(time.FixedZone("X", 5*3600+1800)), loc); got != c.want {
					t.Errorf("Open(%v in other zone) = %v, want %v", at, got, c.want)
				}
			}
		})
	}
}

func parseTestTime(t *testing.T, s string, loc *time.Location) time.Time {
	t.Helper()
	layout := "2006-01-02 15:04"
	if len(s) > len(layout) {
		layout += ":05"
	}
	at, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestOpenNil(t *testing.T) {
	var s *Schedule
	if s.Open(time.Now(), time.UTC) {
		t.Error("nil schedule is open")
	}
	s, err := Parse("daily 09:00-17:00")
	if err != nil {
		t.Fatal(err)
	}
	// nil location: t's own location is used.
	at := time.Date(2025, 1, 6, 9, 0, 0, 0, time.FixedZone("Z", -3*3600))
	if !s.Open(at, nil) {
		t.Error("Open(09:00 in own zone, nil) = false, want true")
	}
	if s.Open(at.Add(8*time.Hour), nil) {
		t.Error("Open(17:00 in own zone, nil) = true, want false")
	}
}

func TestLoadLocation(t *testing.T) {
	for _, name := range []string{"America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC"} {
		a, err := LoadLocation(name)
		if err != nil {
			t.Fatalf("LoadLocation(%q): %v", name, err)
		}
		b, err := LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("LoadLocation(%q) not cached: %p != %p", name, a, b)
		}
		if a.String() != name {
			t.Errorf("LoadLocation(%q).String() = %q", name, a.String())
		}
	}
	for _, name := range []string{"Mars/Olympus_Mons", "America/NewYork", "../etc/passwd", "EST5EDT,M3"} {
		loc, err := LoadLocation(name)
		if err == nil {
			t.Errorf("LoadLocation(%q) = %v, want error", name, loc)
			continue
		}
		if !strings.Contains(err.Error(), "unknown time zone") || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("LoadLocation(%q) error = %q, want it to name the zone", name, err)
		}
		if _, ok := locCache.Load(name); ok {
			t.Errorf("failed zone %q was cached", name)
		}
	}
}

func TestOpenAllocs(t *testing.T) {
	s, err := Parse("Mon-Fri 09:00-17:00; Sat 10:00-13:00; Sun 22:00-02:00")
	if err != nil {
		t.Fatal(err)
	}
	loc, err := LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 10, 14, 0, 0, 0, time.UTC)
	allocs := testing.AllocsPerRun(1000, func() {
		s.Open(at, loc)
		at = at.Add(37 * time.Minute)
	})
	if allocs != 0 {
		t.Errorf("Open allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkOpen(b *testing.B) {
	s, err := Parse("Mon-Fri 09:00-17:00; Sat 10:00-13:00; Sun 22:00-02:00")
	if err != nil {
		b.Fatal(err)
	}
	loc, err := LoadLocation("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2025, 3, 10, 14, 0, 0, 0, time.UTC)
	open := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s.Open(at.Add(time.Duration(i%10080)*time.Minute), loc) {
			open++
		}
	}
	if open < 0 {
		b.Fatal(open)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"Mon-Fri 09:00-17:00; Sat 10:00-13:00",
		"Mon,Wed,Fri-Sat 09:00-12:00,13:00-17:00",
		"daily 22:00-06:00",
		"Fri-Mon 00:00-24:00",
		"Sun 22:00-02:00",
		"Mnn 09:00-17:00",
		"Mon 25:00-26:00",
		"Mon 9:00-17:00",
		"Mon 09:00-09:00",
		"Mon;;",
		"Mon 09:00-12:00, Tue 13:00-17:00",
		"Mön 09:00–17:00",
		"\xff\xfe",
	} {
		f.Add(seed)
	}
	times := []time.Time{
		time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 9, 7, 0, 0, 0, time.UTC),
		time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC),
	}
	loc, err := LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", spec, err)
			}
			if se.Offset < 0 || se.Offset > len(spec) {
				t.Fatalf("Parse(%q): offset %d outside spec of length %d", spec, se.Offset, len(spec))
			}
			if s != nil {
				t.Fatalf("Parse(%q) returned a schedule and an error", spec)
			}
			return
		}
		if s == nil {
			t.Fatalf("Parse(%q) = nil, nil", spec)
		}
		for _, at := range times {
			s.Open(at, loc)
		}
	})
}
