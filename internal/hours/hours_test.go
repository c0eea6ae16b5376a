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

		// Dated entries.
		{"2026-02-30 closed", 0, `day 30 out of range in "2026-02-30" (February 2026 has 28 days)`},
		{"2026-02-29 closed", 0, "(February 2026 has 28 days)"},
		{"2100-02-29 closed", 0, "(February 2100 has 28 days)"},
		{"2026-04-31 closed", 0, "(April 2026 has 30 days)"},
		{"2026-12-00 closed", 0, `day 00 out of range in "2026-12-00"`},
		{"Mon-Fri 09:00-17:00; 2026-13-01 closed", 21, `month 13 out of range in "2026-13-01" (want 01-12)`},
		{"Mon 09:00-17:00;\n2026-00-10 closed", 17, "month 00 out of range"},
		{"2026-1-5 closed", 0, `bad date "2026-1-5" (want YYYY-MM-DD)`},
		{"Mon 09:00-17:00; 26-12-25 closed", 17, `bad date "26-12-25"`},
		{"2026-12-25-26 closed", 0, `bad date "2026-12-25-26"`},
		{"2026-12-2509:00-12:00", 0, `bad date "2026-12-2509"`},
		{"2026-12-25closed", 10, `missing whitespace between date and "closed"`},
		{"2026-12-25", 10, `expected "closed" or time range (HH:MM-HH:MM) after date, found end of spec`},
		{"2026-12-25 open", 11, `expected "closed" or time range (HH:MM-HH:MM) after date, found "open"`},
		{"2026-12-25 - 2026-12-31 closed", 11, `after date, found '-'`},
		{"2026-12-25 closed 09:00-12:00", 18, `expected ';' or end of spec after "closed", found "09:00"`},
		{"2026-12-25 closed, 2026-12-26 closed", 17, `expected ';' or end of spec after "closed", found ','`},
		{"2026-12-25 09:00-12:00 2026-12-26 closed", 23, `expected ';', ',' or end of spec, found "2026"`},
		{"2026-12-25 09:00-12:00, Tue 13:00-14:00", 24, "separate day groups with ';'"},
		{"2026-12-25 09:00-12:00; ;", 24, "empty part"},
		{"2026-12-25 closed;", 18, "empty part"},
		{"2026-12-25 09:00–12:00", 16, "unexpected character '–'"},
		{"2026-12-25 9:00-12:00", 11, `bad time "9:00"`},
		{"2026-12-25 09:00-12:60", 20, "minute 60 out of range"},
		{"2026-12-25 closed; 2026-12-25 09:00-12:00", 19, "2026-12-25 has hours here but an earlier entry says it is closed"},
		{"2026-12-25 09:00-12:00; 2026-12-25 CLOSED", 24, "2026-12-25 is closed here but an earlier entry gives it hours"},
		{"2026-12-25 09:00-12:00; 2026-12-26 closed; 2026-12-25 closed", 43, "is closed here but an earlier entry gives it hours"},
		{"2026-12-31 22:00-02:00", 11, "dated range 22:00-02:00 runs past midnight (a dated range ends by 24:00; give the next date its own entry)"},
		{"2026-12-31 09:00-10:00, 23:59 - 00:01", 24, "dated range 23:59-00:01 runs past midnight"},
		{"2026-12-31 24:00-02:00", 11, "24:00 is only allowed as the end of a range"},
		{"2026-12-31 10:00-10:00", 11, "start equals end"},
		{"2026-12-31 00:00-00:00", 11, "start equals end"},
		{"2026-12-31 09:00-12:00; Mon 09:00-17:00", 24, "weekly entry after a dated entry (list the weekly hours first, then the dated exceptions)"},
		{"2026-12-31 closed; daily 09:00-17:00", 19, "weekly entry after a dated entry"},
		{"2026-12-31 closed; Mnn 09:00-17:00", 19, `unknown day "Mnn"`},
		{"closed", 0, `"closed" must follow a date, as in "2026-12-25 closed"`},
		{"Mon 09:00-17:00; CLOSED", 17, `"closed" must follow a date`},
		{"Sat closed", 4, `expected time range (HH:MM-HH:MM) after days, found "closed" (leave days that are always closed out of the weekly hours)`},
		{"Mon 2026-12-25 closed", 4, `bad time "2026"`},
		{"Mon 0900-1700", 4, `bad time "0900"`},
		{"2026/12/25 closed", 0, `expected day (Mon..Sun or daily), found "2026"`},
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
		"Mon-Fri 09:00-17:00; 2026-12-25 closed; 2026-12-31 09:00-12:00",
		"2026-12-25 closed",
		"2026-12-25 CLOSED; 2026-12-25 Closed",
		"2026-12-31 09:00-12:00, 13:00-15:00; 2026-12-31 11:00-14:00",
		"2026-12-31 20:00-24:00",
		"2026-12-31 20:00-00:00",
		"2026-12-31 00:00-24:00",
		"2028-02-29 closed",
		"2000-02-29 closed",
		"Mon 09:00-17:00 ;\n\t2026-12-24 09:00 - 12:00 , 13:00-14:00 ;\n2026-12-25 closed  ",
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
			name: "dated exceptions, New York",
			spec: "Mon-Fri 09:00-17:00; 2026-12-25 closed; 2026-12-31 09:00-12:00",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2026-12-24 10:00", want: true},  // Thu, weekly
				{at: "2026-12-25 10:00", want: false}, // Fri, closed
				{at: "2026-12-25 00:00", want: false},
				{at: "2026-12-25 23:59", want: false},
				{at: "2026-12-26 10:00", want: false}, // Sat, weekly (closed)
				{at: "2026-12-28 10:00", want: true},  // Mon, weekly
				{at: "2026-12-30 16:59", want: true},  // Wed, weekly
				{at: "2026-12-31 08:59", want: false}, // Thu, dated 09:00-12:00
				{at: "2026-12-31 09:00", want: true},
				{at: "2026-12-31 11:59:59", want: true},
				{at: "2026-12-31 12:00", want: false},
				{at: "2026-12-31 16:00", want: false}, // weekly would say open
				{at: "2027-01-01 10:00", want: true},  // Fri, weekly again
				{at: "2025-12-25 10:00", want: true},  // Thu of another year
				{at: "2027-12-31 16:00", want: true},  // Fri of another year
				// 15:30 UTC on Dec 25 is 10:30 EST on Dec 25.
				{utc: "2026-12-25 15:30", want: false},
				// 02:00 UTC on Dec 26 is 21:00 EST on Dec 25: still the
				// closed date in New York.
				{utc: "2026-12-26 02:00", want: false},
				// 14:30 UTC on Dec 31 is 09:30 EST.
				{utc: "2026-12-31 14:30", want: true},
				{utc: "2026-12-31 17:00", want: false}, // 12:00 EST
			},
		},
		{
			name: "dated ranges on DST days, New York",
			spec: "Sun 10:00-11:00; 2026-03-08 01:00-04:00; 2026-11-01 01:00-02:00",
			zone: "America/New_York",
			cases: []openCase{
				// Spring forward Sun 2026-03-08: 01:59:59 EST is followed
				// by 03:00 EDT, inside 01:00-04:00.
				{utc: "2026-03-08 05:59", want: false}, // 00:59 EST
				{utc: "2026-03-08 06:00", want: true},  // 01:00 EST
				{utc: "2026-03-08 06:59:59", want: true},
				{utc: "2026-03-08 07:00", want: true},  // 03:00 EDT
				{utc: "2026-03-08 07:59", want: true},  // 03:59 EDT
				{utc: "2026-03-08 08:00", want: false}, // 04:00 EDT
				{at: "2026-03-08 10:30", want: false},  // weekly Sun replaced
				{at: "2026-03-01 10:30", want: true},   // Sun before
				{at: "2026-03-15 10:30", want: true},   // Sun after
				{at: "2026-03-01 01:30", want: false},
				{at: "2026-03-09 01:30", want: false}, // Mon after
				{at: "2026-03-07 01:30", want: false}, // Sat before
				// Fall back Sun 2026-11-01: 01:00-02:00 happens twice and
				// is open both times.
				{utc: "2026-11-01 04:59", want: false}, // 00:59 EDT
				{utc: "2026-11-01 05:00", want: true},  // 01:00 EDT
				{utc: "2026-11-01 05:59", want: true},  // 01:59 EDT
				{utc: "2026-11-01 06:00", want: true},  // 01:00 EST
				{utc: "2026-11-01 06:59", want: true},  // 01:59 EST
				{utc: "2026-11-01 07:00", want: false}, // 02:00 EST
				{at: "2026-11-01 10:30", want: false},
				{at: "2026-11-08 10:30", want: true},
			},
		},
		{
			name: "weekly overnight range and exceptions",
			spec: "Fri 22:00-06:00; 2026-12-25 closed; 2027-01-02 closed",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2026-12-25 23:00", want: false}, // excepted Fri
				// Friday's range belongs to the excepted Friday, after
				// midnight too.
				{at: "2026-12-26 00:00", want: false},
				{at: "2026-12-26 02:00", want: false},
				{at: "2027-01-01 23:00", want: true}, // Fri
				// Sat 2027-01-02 is excepted, but Friday's range is
				// Friday's: it runs to 06:00 on Saturday.
				{at: "2027-01-02 00:00", want: true},
				{at: "2027-01-02 05:59", want: true},
				{at: "2027-01-02 06:00", want: false},
				{at: "2027-01-08 23:00", want: true},
				{at: "2027-01-09 02:00", want: true},
			},
		},
		{
			name: "only dated entries, combined",
			spec: "2026-12-24 09:00-12:00, 13:00-15:00; 2026-12-24 11:00-14:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2026-12-24 08:59", want: false},
				{at: "2026-12-24 09:00", want: true},
				{at: "2026-12-24 12:30", want: true}, // union covers lunch
				{at: "2026-12-24 14:59", want: true},
				{at: "2026-12-24 15:00", want: false},
				{at: "2026-12-23 10:00", want: false},
				{at: "2026-12-25 10:00", want: false},
				{at: "2025-12-24 10:00", want: false},
				{at: "2027-12-24 10:00", want: false},
			},
		},
		{
			name: "dated range until midnight",
			spec: "daily 00:00-01:00; 2026-12-31 20:00-00:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2026-12-30 00:30", want: true},
				{at: "2026-12-31 00:30", want: false}, // replaced
				{at: "2026-12-31 19:59", want: false},
				{at: "2026-12-31 20:00", want: true},
				{at: "2026-12-31 23:59:59", want: true},
				{at: "2027-01-01 00:00", want: true}, // weekly
				{at: "2027-01-01 01:00", want: false},
			},
		},
		{
			name: "many dates, out of order",
			spec: "daily 09:00-17:00; 2026-12-31 closed; 2026-01-01 closed; 2026-06-15 closed; 2026-03-01 closed; 2025-12-31 10:00-11:00",
			zone: "UTC",
			cases: []openCase{
				{at: "2025-12-31 09:30", want: false},
				{at: "2025-12-31 10:30", want: true},
				{at: "2026-01-01 12:00", want: false},
				{at: "2026-01-02 12:00", want: true},
				{at: "2026-02-28 12:00", want: true},
				{at: "2026-03-01 12:00", want: false},
				{at: "2026-03-02 12:00", want: true},
				{at: "2026-06-14 12:00", want: true},
				{at: "2026-06-15 12:00", want: false},
				{at: "2026-06-16 12:00", want: true},
				{at: "2026-12-30 12:00", want: true},
				{at: "2026-12-31 12:00", want: false},
				{at: "2027-01-01 12:00", want: true},
				{at: "2024-01-01 12:00", want: true},
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
		t.Run(tt.name, func(t *testing.T) { checkOpen(t, tt.spec, tt.zone, tt.cases) })
	}
}

// TestOpenNightAndDatedEntries checks that an overnight range belongs to
// the date it starts on when dated entries are about: a dated entry
// replaces its own date's night, after midnight too, and leaves alone the
// night before it, which runs into the excepted date.
func TestOpenNightAndDatedEntries(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		zone  string
		cases []openCase
	}{
		{
			name: "a closed date has no night, and the night before runs into it",
			spec: "Mon-Sun 22:00-02:00; 2026-12-25 closed",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2026-12-24 23:00", want: true},
				{at: "2026-12-25 00:00", want: true}, // Dec 24's night
				{at: "2026-12-25 01:00", want: true},
				{at: "2026-12-25 01:59:59", want: true},
				{at: "2026-12-25 02:00", want: false},
				{at: "2026-12-25 12:00", want: false},
				{at: "2026-12-25 22:00", want: false}, // Dec 25's night, closed
				{at: "2026-12-25 23:59", want: false},
				{at: "2026-12-26 00:00", want: false},
				{at: "2026-12-26 01:00", want: false},
				{utc: "2026-12-26 06:00", want: false}, // 01:00 EST
				{at: "2026-12-26 21:59", want: false},
				{at: "2026-12-26 22:00", want: true},
				{at: "2026-12-27 01:00", want: true},
			},
		},
		{
			name: "dated ranges replace their date's night, not the night before",
			spec: "daily 22:00-02:00; 2026-12-25 10:00-14:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2026-12-25 00:30", want: true}, // Dec 24's night
				{at: "2026-12-25 02:00", want: false},
				{at: "2026-12-25 09:59", want: false},
				{at: "2026-12-25 10:00", want: true},
				{at: "2026-12-25 13:59", want: true},
				{at: "2026-12-25 14:00", want: false},
				{at: "2026-12-25 22:00", want: false},
				{at: "2026-12-26 00:30", want: false}, // Dec 25's night, replaced
				{at: "2026-12-26 22:00", want: true},
			},
		},
		{
			name: "dates excepted in a row",
			spec: "daily 22:00-02:00; 2026-12-24 closed; 2026-12-25 18:00-23:00",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2026-12-24 01:00", want: true}, // Dec 23's night
				{at: "2026-12-24 22:00", want: false},
				{at: "2026-12-25 01:00", want: false}, // Dec 24 has no night
				{at: "2026-12-25 18:00", want: true},
				{at: "2026-12-25 22:59", want: true},
				{at: "2026-12-25 23:00", want: false},
				{at: "2026-12-26 00:30", want: false}, // Dec 25's hours end at 23:00
				{at: "2026-12-26 22:30", want: true},
			},
		},
		{
			name: "a dated range until midnight ends its date's night",
			spec: "daily 22:00-02:00; 2026-12-31 20:00-24:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2026-12-31 00:30", want: true}, // Dec 30's night
				{at: "2026-12-31 19:59", want: false},
				{at: "2026-12-31 20:00", want: true},
				{at: "2026-12-31 23:59:59", want: true},
				{at: "2027-01-01 00:00", want: false},
				{at: "2027-01-01 01:00", want: false},
				{at: "2027-01-01 22:00", want: true},
				{at: "2027-01-02 01:00", want: true},
			},
		},
		{
			name: "hours past midnight are the next date's own entry",
			spec: "daily 22:00-02:00; 2026-12-31 20:00-00:00; 2027-01-01 00:00-03:00",
			zone: "Europe/Berlin",
			cases: []openCase{
				{at: "2026-12-31 23:00", want: true},
				{at: "2027-01-01 00:00", want: true},
				{at: "2027-01-01 02:59", want: true},
				{at: "2027-01-01 03:00", want: false},
				{at: "2027-01-01 22:00", want: false}, // Jan 1's night, replaced
				{at: "2027-01-02 01:00", want: false},
				{at: "2027-01-02 22:00", want: true},
			},
		},
		{
			name: "Sunday night into Monday, Sunday excepted",
			spec: "Sun 22:00-02:00; 2026-12-27 closed",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2026-12-27 22:00", want: false},
				{at: "2026-12-28 01:00", want: false},
				{at: "2026-12-21 01:00", want: true}, // the Monday before
				{at: "2027-01-04 01:00", want: true}, // the Monday after
			},
		},
		{
			name: "Sunday night into Monday, Monday excepted",
			spec: "Sun 22:00-02:00; 2026-12-28 closed",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2026-12-27 22:00", want: true},
				{at: "2026-12-28 01:00", want: true},
				{at: "2026-12-28 02:00", want: false},
			},
		},
		{
			name: "the date before, across month and year ends and a leap day",
			spec: "daily 22:00-02:00; 2026-02-28 closed; 2028-02-29 closed; 2026-12-31 closed",
			zone: "UTC",
			cases: []openCase{
				{at: "2026-02-28 01:00", want: true},
				{at: "2026-03-01 01:00", want: false},
				{at: "2026-03-02 01:00", want: true},
				{at: "2028-02-29 01:00", want: true},
				{at: "2028-03-01 01:00", want: false},
				{at: "2026-12-31 01:00", want: true},
				{at: "2027-01-01 01:00", want: false},
				{at: "2027-01-02 01:00", want: true},
			},
		},
		// DST: America/New_York springs forward 2026-03-08 02:00 EST to
		// 03:00 EDT and falls back 2026-11-01 02:00 EDT to 01:00 EST;
		// America/Havana springs forward 2026-03-08 00:00 CST to 01:00 CDT
		// (that date has no midnight); America/Santiago falls back
		// 2026-04-05 00:00 -03 to 2026-04-04 23:00 -04.
		{
			name: "spring forward on the excepted date, New York",
			spec: "daily 22:00-02:00; 2026-03-08 closed",
			zone: "America/New_York",
			cases: []openCase{
				{utc: "2026-03-08 06:30", want: true},  // 01:30 EST, Mar 7's night
				{utc: "2026-03-08 06:59", want: true},  // 01:59 EST
				{utc: "2026-03-08 07:00", want: false}, // 03:00 EDT
				{at: "2026-03-08 22:30", want: false},
				// 00:30 EDT on Mar 9 is only 23 hours after 00:30 EST on
				// Mar 8: the night it belongs to is Mar 8's, not Mar 7's.
				{utc: "2026-03-09 04:30", want: false},
				{at: "2026-03-09 01:59", want: false},
				{at: "2026-03-09 22:00", want: true},
				{at: "2026-03-10 01:00", want: true},
			},
		},
		{
			name: "spring forward on the date after the excepted one, New York",
			spec: "daily 22:00-02:00; 2026-03-07 closed",
			zone: "America/New_York",
			cases: []openCase{
				{utc: "2026-03-08 06:30", want: false}, // 01:30 EST, Mar 7's night
				{utc: "2026-03-08 07:00", want: false}, // 03:00 EDT
				{at: "2026-03-08 22:00", want: true},
				{utc: "2026-03-09 04:30", want: true}, // 00:30 EDT, Mar 8's night
			},
		},
		{
			name: "fall back on the excepted date, New York",
			spec: "daily 22:00-02:00; 2026-11-01 closed",
			zone: "America/New_York",
			cases: []openCase{
				// 01:00-02:00 happens twice, both times in Oct 31's night.
				{utc: "2026-11-01 04:30", want: true},  // 00:30 EDT
				{utc: "2026-11-01 05:30", want: true},  // 01:30 EDT
				{utc: "2026-11-01 06:30", want: true},  // 01:30 EST
				{utc: "2026-11-01 06:59", want: true},  // 01:59 EST
				{utc: "2026-11-01 07:00", want: false}, // 02:00 EST
				{at: "2026-11-01 22:00", want: false},
				{at: "2026-11-02 01:00", want: false},
				{at: "2026-11-02 22:00", want: true},
			},
		},
		{
			name: "fall back on the date after the excepted one, New York",
			spec: "daily 22:00-02:00; 2026-10-31 closed",
			zone: "America/New_York",
			cases: []openCase{
				{at: "2026-10-31 01:00", want: true}, // Oct 30's night
				{at: "2026-10-31 22:00", want: false},
				{utc: "2026-11-01 05:30", want: false}, // 01:30 EDT
				{utc: "2026-11-01 06:30", want: false}, // 01:30 EST
				{at: "2026-11-01 22:00", want: true},
				{utc: "2026-11-02 06:30", want: true}, // 01:30 EST
			},
		},
		{
			name: "an excepted date without a midnight, Havana",
			spec: "daily 22:00-02:00; 2026-03-08 closed",
			zone: "America/Havana",
			cases: []openCase{
				{utc: "2026-03-08 04:59", want: true},  // Mar 7 23:59 CST
				{utc: "2026-03-08 05:00", want: true},  // Mar 8 01:00 CDT, Mar 7's night
				{utc: "2026-03-08 05:59", want: true},  // 01:59 CDT
				{utc: "2026-03-08 06:00", want: false}, // 02:00 CDT
				{at: "2026-03-08 22:00", want: false},
				{utc: "2026-03-09 04:30", want: false}, // Mar 9 00:30 CDT, Mar 8's night
				{at: "2026-03-09 22:00", want: true},
			},
		},
		{
			name: "a repeated hour before midnight, Santiago",
			spec: "daily 22:00-02:00; 2026-04-05 closed",
			zone: "America/Santiago",
			cases: []openCase{
				{utc: "2026-04-05 02:30", want: true}, // Apr 4 23:30 -03
				{utc: "2026-04-05 03:30", want: true}, // Apr 4 23:30 -04
				{utc: "2026-04-05 04:30", want: true}, // Apr 5 00:30 -04, Apr 4's night
				{utc: "2026-04-05 06:00", want: false},
				{at: "2026-04-05 22:00", want: false},
				{at: "2026-04-06 01:00", want: false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkOpen(t, tt.spec, tt.zone, tt.cases) })
	}
}

// checkOpen parses spec and checks Open in zone at each case's time.
func checkOpen(t *testing.T, spec, zone string, cases []openCase) {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		var at time.Time
		if c.utc != "" {
			at = parseTestTime(t, c.utc, time.UTC)
		} else {
			at = parseTestTime(t, c.at, loc)
		}
		if got := s.Open(at, loc); got != c.want {
			t.Errorf("Open(%s = %s) = %v, want %v",
				at.UTC().Format("2006-01-02 15:04:05Z"), at.In(loc).Format("Mon 2006-01-02 15:04:05 MST"), got, c.want)
		}
		// The answer depends only on the instant, not on the
		// location the time value happens to carry.
		if got := s.Open(at.In(time.FixedZone("X", 5*3600+1800)), loc); got != c.want {
			t.Errorf("Open(%v in other zone) = %v, want %v", at, got, c.want)
		}
	}
}

// TestOpenDateInZone checks that a dated entry applies to the calendar date
// of t in the zone passed to Open, not to the date in UTC or in t's own zone.
func TestOpenDateInZone(t *testing.T) {
	s, err := Parse("daily 00:00-24:00; 2026-12-25 closed")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		utc  string
		zone string
		want bool
	}{
		// 03:00 UTC on Dec 25 is 22:00 on Dec 24 in New York and 12:00 on
		// Dec 25 in Tokyo.
		{"2026-12-25 03:00", "UTC", false},
		{"2026-12-25 03:00", "America/New_York", true},
		{"2026-12-25 03:00", "Asia/Tokyo", false},
		// 23:00 UTC on Dec 25 is 18:00 on Dec 25 in New York and 08:00 on
		// Dec 26 in Tokyo.
		{"2026-12-25 23:00", "UTC", false},
		{"2026-12-25 23:00", "America/New_York", false},
		{"2026-12-25 23:00", "Asia/Tokyo", true},
		// The edges of the date in New York (EST, UTC-5).
		{"2026-12-25 04:59", "America/New_York", true},
		{"2026-12-25 05:00", "America/New_York", false},
		{"2026-12-26 04:59", "America/New_York", false},
		{"2026-12-26 05:00", "America/New_York", true},
		// Kiritimati is UTC+14: its Dec 25 starts at 10:00 UTC on Dec 24.
		{"2026-12-24 09:59", "Pacific/Kiritimati", true},
		{"2026-12-24 10:00", "Pacific/Kiritimati", false},
		{"2026-12-25 09:59", "Pacific/Kiritimati", false},
		{"2026-12-25 10:00", "Pacific/Kiritimati", true},
	}
	for _, tt := range tests {
		loc, err := LoadLocation(tt.zone)
		if err != nil {
			t.Fatal(err)
		}
		at := parseTestTime(t, tt.utc, time.UTC)
		if got := s.Open(at, loc); got != tt.want {
			t.Errorf("Open(%s UTC, %s) = %v, want %v (local %s)", tt.utc, tt.zone, got, tt.want, at.In(loc).Format("2006-01-02 15:04 MST"))
		}
		// A nil location reads t in its own zone.
		if got := s.Open(at.In(loc), nil); got != tt.want {
			t.Errorf("Open(%s UTC in %s, nil) = %v, want %v", tt.utc, tt.zone, got, tt.want)
		}
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
	if s.Open(time.Date(2025, 1, 6, 12, 0, 0, 0, time.UTC), time.UTC) {
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
	loc, err := LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{
		"Mon-Fri 09:00-17:00; Sat 10:00-13:00; Sun 22:00-02:00",
		"Mon-Fri 09:00-17:00; 2025-03-10 closed; 2025-03-11 10:00-12:00, 13:00-14:00; 2025-03-12 closed",
	} {
		s, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2025, 3, 10, 14, 0, 0, 0, time.UTC)
		allocs := testing.AllocsPerRun(1000, func() {
			s.Open(at, loc)
			at = at.Add(37 * time.Minute)
		})
		if allocs != 0 {
			t.Errorf("%q: Open allocates %v times per call, want 0", spec, allocs)
		}
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

func BenchmarkOpenDated(b *testing.B) {
	s, err := Parse("Mon-Fri 09:00-17:00; 2025-01-01 closed; 2025-04-18 closed; 2025-05-26 closed; 2025-07-04 closed; 2025-09-01 closed; 2025-11-27 closed; 2025-12-24 09:00-12:00; 2025-12-25 closed; 2025-12-31 09:00-12:00")
	if err != nil {
		b.Fatal(err)
	}
	loc, err := LoadLocation("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2025, 12, 20, 14, 0, 0, 0, time.UTC)
	open := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s.Open(at.Add(time.Duration(i%20160)*time.Minute), loc) {
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
		"Mon-Fri 09:00-17:00; 2026-12-25 closed; 2026-12-31 09:00-12:00",
		"2026-12-25 closed",
		"2026-02-30 closed",
		"2026-12-25 closed; 2026-12-25 09:00-10:00",
		"2026-12-31 22:00-02:00",
		"2026-12-31 20:00-00:00, 09:00-10:00; 2026-12-31 11:00-12:00",
		"2026-12-25 closed; Mon 09:00-17:00",
		"2026-1-5 closed",
	} {
		f.Add(seed)
	}
	times := []time.Time{
		time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 9, 7, 0, 0, 0, time.UTC),
		time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC),
		time.Date(2026, 12, 25, 15, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC),
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
		for i := 1; i < len(s.dates); i++ {
			if s.dates[i-1].key >= s.dates[i].key {
				t.Fatalf("Parse(%q): dates not sorted and distinct: %d before %d", spec, s.dates[i-1].key, s.dates[i].key)
			}
		}
		for _, at := range times {
			s.Open(at, loc)
		}
	})
}
