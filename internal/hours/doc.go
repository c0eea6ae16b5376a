// Package hours parses business-hours specs, such as
// "Mon-Fri 09:00-17:00; Sat 10:00-13:00; 2026-12-25 closed", into schedules
// that say in constant time whether a moment is open: what the flow
// expression hours(spec, tz) evaluates. A spec gives weekly hours and then
// dated exceptions, each of which replaces the weekly hours on its date.
// Parse's documentation gives the grammar.
package hours
