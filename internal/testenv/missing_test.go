package testenv

import "testing"

// recorder is a testing.TB that records Skip and Fatalf instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Name() string                   { return "TestX" }
func (r *recorder) Skip(args ...any)               { r.skipped = args[0].(string) }
func (r *recorder) Fatalf(format string, _ ...any) { r.failed = format }

func TestMissingFailsInCI(t *testing.T) {
	const reason = "nosuch-program is not installed"
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	Missing(r, reason)
	if r.failed == "" || r.skipped != "" {
		t.Errorf("CI=true: failed %q, skipped %q; want a failure", r.failed, r.skipped)
	}
	t.Setenv("CI", "")
	r = &recorder{TB: t}
	Missing(r, reason)
	if r.skipped != reason || r.failed != "" {
		t.Errorf("CI unset: failed %q, skipped %q; want a skip", r.failed, r.skipped)
	}
	skipMu.Lock()
	defer skipMu.Unlock()
	if got := skips[reason]; len(got) != 1 || got[0] != "TestX" {
		t.Errorf("the summary lists %q for the skip, want [TestX]", got)
	}
	delete(skips, reason) // not a real skip: keep it out of the summary line
}
