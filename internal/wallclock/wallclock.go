// Package wallclock is where flowd reads the time of day when nothing more
// specific is given: the clock that flows see through hours() and now() in
// `flowd serve` and `flowd render` without --clock, and the runtime's clock
// when its Config names none.
//
// It is one variable so that a test binary can replace it once, before any
// test runs (internal/testenv does): then no test can read the real time
// of day by forgetting to inject a clock, and the whole suite can be run
// with the clock forced inside and outside business hours.
package wallclock

import "time"

// Now returns the current time. Only test set-up changes it.
var Now = time.Now

// Offset returns a clock that reads start at the moment Offset is called
// and then advances as Now did then, as `flowd serve --clock` does.
func Offset(start time.Time) func() time.Time {
	now := Now // the clock of this moment: Offset's result may become Now
	base := now()
	return func() time.Time { return start.Add(now().Sub(base)) }
}
