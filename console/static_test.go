package console_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/console"
)

// TestFilesSelfContained: the page loads only files the binary holds —
// no address of another site in any of them — and the script never turns
// data into markup.
func TestFilesSelfContained(t *testing.T) {
	files := map[string]string{}
	err := fs.WalkDir(console.Files, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(console.Files, path)
		files[strings.TrimPrefix(path, "static/")] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"index.html", "console.js", "console.css"} {
		if _, ok := files[want]; !ok {
			t.Errorf("static/%s is missing", want)
		}
	}
	// Every file index.html names is embedded.
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(files["index.html"], -1) {
		if _, ok := files[m[1]]; !ok {
			t.Errorf("index.html names %s, which is not in static/", m[1])
		}
	}
	// The SVG namespace is a name, not an address the browser fetches.
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(\s*['"]?[^#'")\s]`)
	for name, text := range files {
		text = strings.ReplaceAll(text, `"http://www.w3.org/2000/svg"`, "")
		if m := external.FindString(text); m != "" {
			t.Errorf("static/%s refers to %q: the console must need nothing from outside the binary", name, m)
		}
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(files["console.js"], sink) {
			t.Errorf("console.js uses %s: data must reach the page as text", sink)
		}
	}
}
