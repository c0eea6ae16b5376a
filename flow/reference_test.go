package flow

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

// TestReferenceCommitted fails when docs/reference.md no longer matches
// the tables it is generated from.
func TestReferenceCommitted(t *testing.T) {
	const path = "../docs/reference.md"
	got := Reference()
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/reference.md is stale: run go test ./flow -run Reference -update")
	}
}
