package xmlgen

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

// speakVoices holds plivo-xml.md 2.2: spot checks of each kind of fact,
// and the lists derived from it or kept beside it agree with it.
func TestSpeakVoicesTable(t *testing.T) {
	for _, c := range []struct {
		lang       string
		woman, man bool
		polly      string
	}{
		{"da-DK", true, false, "Naja,Mads"},
		{"en-US", true, true, "Joanna,Salli,Kendra,Kimberly,Ivy,Matthew,Justin,Joey"},
		{"fr-CA", true, false, "Chantal"},
		{"pt-PT", false, true, "Inês,Cristiano"},
		{"ru-RU", true, false, "Tatyana,Maxim"},
		{"sv-SE", true, false, "Astrid"},
		{"de-DE", true, true, "Vicki,Hans,Marlene"},
		{"arb", false, false, "Zeina"},
		{"en-IN", false, false, "Raveena,Aditi"},
		{"hi-IN", false, false, "Aditi"},
		{"cy-GB", false, false, "Gwyneth"},
	} {
		l := speakLanguage(c.lang)
		if l == nil {
			t.Errorf("%s: not in speakVoices", c.lang)
			continue
		}
		if l.Woman != c.woman || l.Man != c.man || strings.Join(l.Polly, ",") != c.polly {
			t.Errorf("%s: WOMAN %v MAN %v Polly %v, want %v %v %s", c.lang, l.Woman, l.Man, l.Polly, c.woman, c.man, c.polly)
		}
	}
	if len(speakVoices) != 29 {
		t.Errorf("%d languages, want 29 (16 of WOMAN/MAN, 13 Polly only)", len(speakVoices))
	}
	seen := map[string]bool{}
	var polly []string
	for _, l := range speakVoices {
		if seen[l.Language] {
			t.Errorf("%s: listed twice", l.Language)
		}
		seen[l.Language] = true
		if len(l.Polly) == 0 {
			t.Errorf("%s: no Polly voice", l.Language)
		}
		polly = append(polly, l.Language)
		for _, name := range l.Polly {
			plain := stripAccents.Replace(name)
			for _, r := range plain {
				if r > unicode.MaxASCII || !unicode.IsLetter(r) {
					t.Errorf("%s: Polly voice %q is %q without accents: add its accent to stripAccents", l.Language, name, plain)
				}
			}
		}
	}
	// Speak's languages are the table's, in its order; SSML <lang> takes
	// the same languages (every one has a Polly voice), in the order of
	// Plivo's SSML table.
	if !slices.Equal(Lookup("Speak").Attr("language").Values, speakLanguageCodes()) {
		t.Errorf("Speak language offers %v", Lookup("Speak").Attr("language").Values)
	}
	lang := slices.Sorted(slices.Values(Lookup("lang").Attr("xml:lang").Values))
	if slices.Sort(polly); !slices.Equal(lang, polly) {
		t.Errorf("lang xml:lang takes %v, speakVoices has Polly voices for %v", lang, polly)
	}
	if d := Lookup("Speak").Attr("voice").Default; d != speakDefaultVoice || speakLanguage(Lookup("Speak").Attr("language").Default) == nil {
		t.Errorf("Speak defaults: voice %q, language %q", d, Lookup("Speak").Attr("language").Default)
	}
}

// The audit's values, one attribute at a time: what is wrong and what to
// write instead.
func TestSpeakValueMessages(t *testing.T) {
	speak := Lookup("Speak")
	for _, c := range []struct{ attr, v, want string }{
		{"language", "en-us", `be "en-US" (language codes are case-sensitive)`},
		{"language", "EN-gb-wls", `be "en-GB-WLS" (language codes are case-sensitive)`},
		{"language", "xx-YY", "be one of " + orList(speakLanguages)},
		{"voice", "Polly.joanna", `be "Polly.Joanna" (Polly voice names are case-sensitive)`},
		{"voice", "polly.LÉA-Neural", `be "Polly.Léa-Neural" (Polly voice names are case-sensitive)`},
		{"voice", "Polly.Foo", "be WOMAN, MAN or a Polly voice Plivo lists (" + pollyVoiceList + ", each also with -Neural)"},
		{"voice", "Joanna", `be WOMAN, MAN or a Polly voice such as "Polly.Joanna"`},
	} {
		if got := speak.Attr(c.attr).Validate(c.v); got != c.want {
			t.Errorf("Speak %s %q: must %s\nwant: must %s", c.attr, c.v, got, c.want)
		}
	}
	for _, v := range []string{"Polly.Naja", "Polly.Mads", "Polly.Zeina", "Polly.Ines", "Polly.Gwyneth", "Polly.Aditi"} {
		if !strings.Contains(pollyVoiceList, v) {
			t.Errorf("pollyVoiceList lacks %s", v)
		}
	}
	if strings.Count(pollyVoiceList, "Polly.Aditi") != 1 {
		t.Errorf("pollyVoiceList names Aditi twice: %s", pollyVoiceList)
	}
}

// Speak's voice and language from templates: checked when filled, and a
// valid pair allocates nothing.
func TestSpeakVoiceHoles(t *testing.T) {
	tm, err := Prepare(&El{Name: "Speak", Attrs: []AttrValue{av("voice", Hole(0)), av("language", Hole(1))}, Text: cv("Hej")})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	for _, good := range [][]string{{"Polly.Naja", "da-DK"}, {"WOMAN", "da-DK"}, {"Polly.Aditi", "hi-IN"}} {
		if allocs := testing.AllocsPerRun(100, func() { buf, err = tm.Append(buf[:0], good) }); allocs != 0 || err != nil {
			t.Errorf("Append %v: %v allocs, error %v", good, allocs, err)
		}
	}
	for _, c := range []struct {
		vals []string
		want string
	}{
		{[]string{"MAN", "da-DK"}, `Speak voice "MAN" must not be given with language "da-DK": language da-DK has no MAN voice; use WOMAN or a Polly voice for da-DK (Polly.Naja, Polly.Mads)`},
		{[]string{"Polly.Naja", "de-DE"}, `Speak voice "Polly.Naja" must not be given with language "de-DE": Polly.Naja speaks da-DK; use language da-DK, or another voice: WOMAN, MAN or a Polly voice for de-DE (Polly.Vicki, Polly.Hans, Polly.Marlene)`},
		// Each value is checked on its own first.
		{[]string{"MAN", "en-us"}, `Speak language "en-us" must be "en-US" (language codes are case-sensitive)`},
	} {
		if _, err := tm.Append(nil, c.vals); err == nil || err.Error() != c.want {
			t.Errorf("Append %v: %v\nwant %s", c.vals, err, c.want)
		}
	}
	// A constant language waits for the voice; a constant MAN or WOMAN
	// alone is checked against the default language at once, a Polly voice
	// alone is not checked against it.
	tm, err = Prepare(&El{Name: "Speak", Attrs: []AttrValue{av("voice", Hole(0)), av("language", Const("pt-PT"))}, Text: cv("Olá")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Append(nil, []string{"WOMAN"}); err == nil || !strings.Contains(err.Error(), "language pt-PT has no WOMAN voice") {
		t.Errorf("Append WOMAN with pt-PT: %v", err)
	}
	if _, err := Prepare(&El{Name: "Speak", Attrs: []AttrValue{av("voice", Const("Polly.Mia"))}, Text: cv("Hola")}); err != nil {
		t.Errorf("Prepare Polly.Mia without language: %v", err)
	}
}

// A rule that reads only whether an attribute is written is checked when
// the flow loads even when the value is a template, without showing it.
func TestPresenceRules(t *testing.T) {
	user := Lookup("User")
	got := user.CheckRules(func(name string) (RuleArg, bool) {
		if name == "sipAuthUsername" {
			return RuleArg{Value: "{{ params.sip_user }}", Set: true}, false
		}
		return RuleArg{}, true
	})
	if len(got) != 1 || got[0].Error() != "User must have sipAuthPassword with sipAuthUsername: Plivo takes the SIP credentials as a pair; add sipAuthPassword" {
		t.Errorf("User: CheckRules reports %v", got)
	}
	// Both from templates: kept.
	got = user.CheckRules(func(name string) (RuleArg, bool) { return RuleArg{Set: true}, false })
	if len(got) != 0 {
		t.Errorf("User with both from templates: CheckRules reports %v", got)
	}
	// The password never shows in a message.
	_, err := Prepare(wrap(&El{Name: "User", Attrs: []AttrValue{av("sipAuthPassword", Const("hunter2"))}, Text: cv("sip:a@example.com")}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Prepare User with a password alone: %v", err)
	}
	// numDigits from a template with inputType speech: refused by Prepare.
	_, err = Prepare(&El{Name: "GetInput", Attrs: []AttrValue{av("inputType", Const("speech")), av("numDigits", Hole(0))}})
	if err == nil || err.Error() != `GetInput numDigits must not be given with inputType "speech": it applies to dtmf input only; remove it, or use inputType "dtmf" or "dtmf speech"` {
		t.Errorf("Prepare GetInput: %v", err)
	}
	// inputType from a template: waits for its value.
	tm, err := Prepare(&El{Name: "GetInput", Attrs: []AttrValue{av("inputType", Hole(0)), av("numDigits", Const("4"))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Append(nil, []string{"dtmf"}); err != nil {
		t.Errorf("Append dtmf: %v", err)
	}
	if _, err := tm.Append(nil, []string{"speech"}); err == nil || !strings.HasPrefix(err.Error(), `GetInput numDigits "4" must not be given with inputType "speech"`) {
		t.Errorf("Append speech: %v", err)
	}
}
