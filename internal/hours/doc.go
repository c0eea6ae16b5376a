// Package hours parses business-hours specs, such as
// "Mon-Fri 09:00-17:00; Sat 10:00-13:00", into schedules that say in
// constant time whether a moment is open: what the flow expression
// hours(spec, tz) evaluates. Parse's documentation gives the grammar.
package hours
