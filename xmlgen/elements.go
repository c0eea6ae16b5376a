package xmlgen

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file is the single table of the Plivo voice XML elements flowd
// supports. Facts come from Plivo's XML reference pages, the MultiPartyCall XML
// page and the Node SDK
// (plivo@4.79.0 dist/utils/plivoxml.js, dist/rest/utils.js).
//
// Attrs are listed in the order flowd writes them: the order of Plivo's
// documentation tables, except MultiPartyCall, which follows the order the
// Node SDK emits. Defaults are Plivo's, as written in XML; "" means Plivo
// documents none. Attributes that appear only in an SDK and not in Plivo's
// documentation are left out, each named in a comment beside its element.

// Lists shared by several elements.
var (
	// ssmlAll is every SSML element Speak may contain with a Polly voice.
	ssmlAll = []string{"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w"}

	// promptChildren are the prompts GetDigits, GetInput and PreAnswer take.
	promptChildren = []string{"Speak", "Play", "Wait"}

	// pollyLanguages are the xml:lang values Plivo's SSML <lang> accepts
	// (plivo-ruby lang.rb validator; Plivo XML reference 2.2).
	pollyLanguages = []string{
		"arb", "cmn-CN", "da-DK", "nl-NL", "en-AU", "en-GB", "en-IN", "en-US", "en-GB-WLS",
		"fr-FR", "fr-CA", "de-DE", "hi-IN", "is-IS", "it-IT", "ja-JP", "ko-KR", "nb-NO",
		"pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "es-ES", "es-MX", "es-US", "sv-SE",
		"tr-TR", "cy-GB",
	}

	// speakLanguages are the languages Speak reads, in the order of
	// speakVoices.
	speakLanguages = speakLanguageCodes()

	// mpcEvents are the statusCallbackEvents names of the MultiPartyCall
	// XML page  and the Node SDK validator.
	mpcEvents = []string{
		"mpc-state-changes", "participant-state-changes", "participant-speak-events",
		"participant-digit-input-events", "add-participant-api-events",
	}
)

// speakVoice is one language Speak reads text in: whether Plivo's own
// WOMAN and MAN voices speak it, and which Amazon Polly voices do.
type speakVoice struct {
	Language   string
	Woman, Man bool
	// Polly names the Polly voices, spelt as Plivo's table spells them
	// (Léa); each is written Polly.<Name>.
	Polly []string
}

// speakVoices is Plivo's table of text-to-speech languages and voices
// (plivo-xml.md 2.2): the languages of Plivo's WOMAN and MAN voices, in
// the order of the audio-output page, then the languages only Polly
// voices speak. It is the one list of Speak's languages and voices:
// speakLanguages, chkSpeakLanguage, chkVoice and the voice rules read it.
var speakVoices = []speakVoice{
	{Language: "da-DK", Woman: true, Polly: []string{"Naja", "Mads"}},
	{Language: "nl-NL", Woman: true, Man: true, Polly: []string{"Lotte", "Ruben"}},
	{Language: "en-AU", Woman: true, Man: true, Polly: []string{"Nicole", "Russell"}},
	{Language: "en-GB", Woman: true, Man: true, Polly: []string{"Amy", "Emma", "Brian"}},
	{Language: "en-US", Woman: true, Man: true, Polly: []string{"Joanna", "Salli", "Kendra", "Kimberly", "Ivy", "Matthew", "Justin", "Joey"}},
	{Language: "fr-FR", Woman: true, Man: true, Polly: []string{"Léa", "Céline", "Mathieu"}},
	{Language: "fr-CA", Woman: true, Polly: []string{"Chantal"}},
	{Language: "de-DE", Woman: true, Man: true, Polly: []string{"Vicki", "Hans", "Marlene"}},
	{Language: "it-IT", Woman: true, Man: true, Polly: []string{"Carla", "Giorgio"}},
	{Language: "pl-PL", Woman: true, Man: true, Polly: []string{"Ewa", "Maja", "Jacek", "Jan"}},
	{Language: "pt-PT", Man: true, Polly: []string{"Inês", "Cristiano"}},
	{Language: "pt-BR", Woman: true, Man: true, Polly: []string{"Vitória", "Ricardo"}},
	{Language: "ru-RU", Woman: true, Polly: []string{"Tatyana", "Maxim"}},
	{Language: "es-ES", Woman: true, Man: true, Polly: []string{"Conchita", "Lucia", "Enrique"}},
	{Language: "es-US", Woman: true, Man: true, Polly: []string{"Penélope", "Miguel"}},
	{Language: "sv-SE", Woman: true, Polly: []string{"Astrid"}},
	{Language: "arb", Polly: []string{"Zeina"}},
	{Language: "cmn-CN", Polly: []string{"Zhiyu"}},
	{Language: "en-IN", Polly: []string{"Raveena", "Aditi"}},
	{Language: "en-GB-WLS", Polly: []string{"Geraint"}},
	{Language: "hi-IN", Polly: []string{"Aditi"}},
	{Language: "is-IS", Polly: []string{"Dóra", "Karl"}},
	{Language: "ja-JP", Polly: []string{"Mizuki", "Takumi"}},
	{Language: "ko-KR", Polly: []string{"Seoyeon"}},
	{Language: "nb-NO", Polly: []string{"Liv"}},
	{Language: "ro-RO", Polly: []string{"Carmen"}},
	{Language: "es-MX", Polly: []string{"Mia"}},
	{Language: "tr-TR", Polly: []string{"Filiz"}},
	{Language: "cy-GB", Polly: []string{"Gwyneth"}},
}

var elements = []Element{
	{
		Name:     "Response",
		Doc:      "The root of every Plivo XML document; its children run top to bottom.",
		Text:     NoText,
		Children: []string{"Speak", "Play", "Wait", "DTMF", "GetDigits", "GetInput", "Dial", "Conference", "MultiPartyCall", "Record", "Redirect", "Hangup", "PreAnswer", "Stream", "Message"},
	},
	{
		// Excluded: legs (Java SDK only, not in Plivo's docs).
		// Choice: voice accepts WOMAN and MAN only in capitals, as the docs
		// write them and the Node SDK checks them.
		// Choice: voice and language are held to speakVoices (plivo-xml.md
		// 2.2): a language of the table, written as the table writes it;
		// WOMAN or MAN only for a language that has that voice; a Polly
		// voice of the table, spelt as there or without accents (Polly.Lea:
		// the Go and Java SDKs strip them), and with a -Neural suffix
		// (Neural variants are not listed there, UNCONFIRMED, not refused).
		// Choice: a Polly voice must speak the language, written or the
		// default en-US (Polly.Naja needs language da-DK): the table is
		// Plivo's Go and Java SDKs' validator, which refuses any other
		// pairing; the Node SDK checks only the Polly.X shape.
		Name: "Speak",
		Doc:  "Reads text to the caller with text to speech.",
		Text: RequiredText,
		Attrs: []Attr{
			{Name: "voice", Kind: String, Default: speakDefaultVoice, Values: []string{"WOMAN", "MAN"}, Check: chkVoice,
				Doc: "Voice: WOMAN, MAN, or an Amazon Polly voice such as Polly.Joanna (needed for SSML)."},
			{Name: "language", Kind: String, Default: speakDefaultLanguage, Values: speakLanguages, Check: chkSpeakLanguage,
				Doc: "Language and accent of the voice, e.g. en-US."},
			{Name: "loop", Kind: Int, Default: "1", Min: 0, HasMin: true,
				Doc: "Times to speak the text; 0 repeats until the call ends."},
		},
		Children:     ssmlAll,
		ChildrenNeed: "voice",
		ChildrenWhen: func(v string) bool { return strings.HasPrefix(v, "Polly.") },
		ChildrenWhy:  "SSML needs a Polly voice (voice=\"Polly.Joanna\")",
		Rules: []Rule{
			{Attrs: []string{"voice", "language"}, About: "voice", Check: ruleVoiceSpeaksLanguage,
				Doc: "voice speaks language (en-US when not written): WOMAN and MAN only where Plivo has them, a Polly voice only in its own language."},
			{Attrs: []string{"language", "voice"}, About: "language", Check: ruleLanguageHasWoman,
				Doc: "Without voice, language has Plivo's WOMAN voice, the default."},
		},
	},

	// SSML elements, allowed inside Speak with a Polly voice. Attributes and
	// values follow the Ruby/PHP SDK validators; children follow the Node SDK
	// nestables (Plivo XML reference 2.2).
	{
		Name: "break",
		Doc:  "SSML: a pause in speech.",
		Text: NoText,
		Attrs: []Attr{
			{Name: "strength", Kind: Enum, Values: []string{"none", "x-weak", "weak", "medium", "strong", "x-strong"},
				Doc: "Length of the pause by strength."},
			{Name: "time", Kind: String, Check: chkBreakTime,
				Doc: "Length of the pause: <n>ms up to 10000ms or <n>s up to 10s."},
		},
	},
	{
		Name: "emphasis",
		Doc:  "SSML: speaks the enclosed text with emphasis.",
		Text: OptionalText,
		Attrs: []Attr{
			{Name: "level", Kind: Enum, Values: []string{"strong", "moderate", "reduced"},
				Doc: "Degree of emphasis."},
		},
		Children: []string{"break", "emphasis", "lang", "phoneme", "prosody", "say-as", "sub", "w"},
	},
	{
		Name: "lang",
		Doc:  "SSML: speaks the enclosed text in another language.",
		Text: OptionalText,
		Attrs: []Attr{
			{Name: "xml:lang", Required: true, Kind: Enum, Values: pollyLanguages,
				Doc: "Language of the enclosed text (required)."},
		},
		Children: ssmlAll,
	},
	{
		// Choice: p also allows phoneme: the Ruby and PHP SDKs and Polly's SSML
		// allow it and s (a sentence) takes it; the Node list omits it.
		Name:     "p",
		Doc:      "SSML: a paragraph, with a pause after it.",
		Text:     OptionalText,
		Children: []string{"break", "emphasis", "lang", "phoneme", "prosody", "s", "say-as", "sub", "w"},
	},
	{
		Name: "phoneme",
		Doc:  "SSML: pronounces the enclosed text phonetically.",
		Text: OptionalText,
		Attrs: []Attr{
			{Name: "alphabet", Kind: Enum, Values: []string{"ipa", "x-sampa", "x-amazon-pinyin"},
				Doc: "Phonetic alphabet of ph."},
			{Name: "ph", Required: true, Kind: String,
				Doc: "The phonetic pronunciation (required)."},
		},
	},
	{
		// Choice: at least one attribute is required, as the Ruby SDK
		// validator and Polly's SSML reference require; the Node SDK
		// writes an empty prosody.
		Name: "prosody",
		Doc:  "SSML: changes volume, rate or pitch of the enclosed text (give at least one).",
		Text: OptionalText,
		Attrs: []Attr{
			{Name: "volume", Kind: String, Values: []string{"default", "silent", "x-soft", "soft", "medium", "loud", "x-loud"}, Check: chkVolume,
				Doc: "Volume: a keyword or a change in decibels such as +6dB."},
			{Name: "rate", Kind: String, Values: []string{"x-slow", "slow", "medium", "fast", "x-fast"}, Check: chkRate,
				Doc: "Speaking rate: a keyword or a percentage such as 80%."},
			{Name: "pitch", Kind: String, Values: []string{"default", "x-low", "low", "medium", "high", "x-high"}, Check: chkPitch,
				Doc: "Pitch: a keyword or a relative change such as +10%."},
		},
		Children: ssmlAll,
		Rules: []Rule{
			{Attrs: []string{"volume", "rate", "pitch"}, Check: ruleProsodyAttr,
				Doc: "At least one of volume, rate or pitch."},
		},
	},
	{
		Name:     "s",
		Doc:      "SSML: a sentence, with a pause after it.",
		Text:     OptionalText,
		Children: []string{"break", "emphasis", "lang", "phoneme", "prosody", "say-as", "sub", "w"},
	},
	{
		// Choice: interpret-as uses Polly's spelling "characters"; the Ruby
		// SDK validator spells it "character".
		// Choice: format is refused unless interpret-as="date" (the Ruby/PHP
		// SDK validators and Polly's reference); the Node SDK writes it
		// with any interpret-as.
		Name: "say-as",
		Doc:  "SSML: says the enclosed text as a kind of value (digits, date, ...).",
		Text: OptionalText,
		Attrs: []Attr{
			{Name: "interpret-as", Required: true, Kind: Enum, Values: []string{"characters", "spell-out", "cardinal", "number", "ordinal", "digits", "fraction", "unit", "date", "time", "address", "expletive", "telephone"},
				Doc: "How to interpret the enclosed text (required)."},
			{Name: "format", Kind: Enum, Values: []string{"mdy", "dmy", "ymd", "md", "dm", "ym", "my", "d", "m", "y", "yyyymmdd"}, Needs: "interpret-as",
				Doc: "Date format, only with interpret-as=\"date\"."},
		},
		Rules: []Rule{
			{Attrs: []string{"format", "interpret-as"}, About: "format", Check: ruleFormatOnlyDate,
				Doc: "format only with interpret-as=\"date\"."},
		},
	},
	{
		Name: "sub",
		Doc:  "SSML: speaks alias in place of the enclosed text.",
		Text: OptionalText,
		Attrs: []Attr{
			{Name: "alias", Required: true, Kind: String,
				Doc: "The text spoken instead (required)."},
		},
	},
	{
		Name: "w",
		Doc:  "SSML: a word with its part of speech, to pick a pronunciation.",
		Text: OptionalText,
		Attrs: []Attr{
			{Name: "role", Kind: Enum, Values: []string{"amazon:VB", "amazon:VBD", "amazon:SENSE_1"},
				Doc: "Part of speech or sense of the word."},
		},
		Children: []string{"break", "emphasis", "phoneme", "prosody", "say-as", "sub"},
	},

	{
		Name:     "Play",
		Doc:      "Plays an MP3 or WAV file from a URL.",
		Text:     RequiredText,
		TextKind: URL,
		Attrs: []Attr{
			{Name: "loop", Kind: Int, Default: "1", Min: 0, HasMin: true,
				Doc: "Times to play the file; 0 repeats until the call ends."},
		},
	},
	{
		// Excluded: min_silence (the Node SDK accepts this alias of
		// minSilence; Plivo documents only minSilence).
		// Choice: minSilence is checked against length only with
		// silence="true", the only case Plivo uses it, and only when
		// written: Plivo's own defaults (length 1 s, minSilence 2000 ms)
		// break the rule, so a flow that leaves minSilence out is not
		// refused for Plivo's default. A length left out counts as its
		// default, 1 s.
		// Choice: beep="true" is refused with silence="true" and with a
		// written minSilence, the two ways Plivo's page says silence
		// detection is "in use".
		Name: "Wait",
		Doc:  "Waits silently; as the first element of an inbound call it delays the answer.",
		Text: NoText,
		Attrs: []Attr{
			{Name: "length", Kind: Int, Default: "1", Min: 1, HasMin: true,
				Doc: "Seconds to wait."},
			{Name: "silence", Kind: Bool, Default: "false",
				Doc: "End the wait early once minSilence ms of silence are heard."},
			{Name: "minSilence", Kind: Int, Default: "2000", Min: 1, HasMin: true, Needs: "silence",
				Doc: "Milliseconds of silence that end the wait when silence=\"true\"; less than length."},
			{Name: "beep", Kind: Bool, Default: "false",
				Doc: "Wait for a voicemail beep (not with silence)."},
		},
		Rules: []Rule{
			{Attrs: []string{"minSilence", "length", "silence"}, About: "minSilence", Check: ruleMinSilenceBelowLength,
				Doc: "With silence=\"true\", minSilence (milliseconds) must be below length (seconds)."},
			{Attrs: []string{"beep", "silence", "minSilence"}, About: "beep", Check: ruleBeepWithoutSilence,
				Doc: "beep=\"true\" only when silence and minSilence are not in use."},
		},
	},
	{
		// Excluded: digits (the Node SDK lists it as an attribute; Plivo
		// documents the digits as the element's text).
		// Choice: the text takes w and W pauses as well as 0-9 * #: Plivo
		// documents them for sending digits (Call API, Number sendDigits).
		// Choice: async defaults to true: Plivo's page describes it without a
		// legible default and a clone of that page says true.
		Name:      "DTMF",
		Doc:       "Sends DTMF digits on the live call; w pauses 0.5 s, W 1 s.",
		Text:      RequiredText,
		TextCheck: chkDTMFDigits,
		Attrs: []Attr{
			{Name: "async", Kind: Bool, Default: "true",
				Doc: "Go on to the next element once the first digit is sent."},
		},
	},
	{
		// Choice: GetDigits and GetInput take Wait as well as Speak and Play:
		// the Node, Python, Ruby and PHP SDKs accept it and the docs, which
		// name Speak and Play, do not forbid it.
		Name: "GetDigits",
		Doc:  "Collects DTMF digits while its prompts play (GetInput is the newer element).",
		Text: NoText,
		Attrs: []Attr{
			{Name: "action", Kind: URL,
				Doc: "URL that receives the digits."},
			{Name: "method", Kind: Method, Default: "POST", Needs: "action",
				Doc: "HTTP method for action."},
			{Name: "timeout", Kind: Int, Default: "5", Min: 1, HasMin: true,
				Doc: "Seconds to wait for the first digit."},
			{Name: "digitTimeout", Kind: Int, Default: "2", Min: 1, HasMin: true,
				Doc: "Seconds allowed between digits."},
			{Name: "finishOnKey", Kind: String, Default: "#", Check: chkFinishOnKey,
				Doc: "Key that submits the digits; \"\" or none disables it."},
			{Name: "numDigits", Kind: Int, Default: "99", Min: 1, HasMin: true,
				Doc: "Most digits to collect."},
			{Name: "retries", Kind: Int, Default: "1", Min: 1, HasMin: true,
				Doc: "Attempts when no digit is entered."},
			{Name: "redirect", Kind: Bool, Default: "true",
				Doc: "Run the XML returned by action (true) or only notify it and go on (false)."},
			{Name: "playBeep", Kind: Bool, Default: "false",
				Doc: "Beep once the prompts have played."},
			{Name: "validDigits", Kind: String, Default: "1234567890*#", Check: chkValidDigits,
				Doc: "Keys the caller may press."},
			{Name: "invalidDigitsSound", Kind: URL,
				Doc: "MP3 or WAV played when an invalid key is pressed."},
			{Name: "log", Kind: Bool, Default: "true",
				Doc: "Log the digits; false for PINs and other secrets."},
		},
		Children: promptChildren,
	},
	{
		// Choice: numDigits is 1–32 with no default: the stored Plivo pages
		// do not show its range; 1–32 comes from a copy of the page (which
		// also says default 32, unconfirmed).
		// Choice: digitEndTimeout, finishOnKey and numDigits are refused
		// with inputType="speech", speechEndTimeout with inputType="dtmf":
		// the page gives them for DTMF or speech input only. With no
		// inputType (its default is not documented) all are taken.
		// Choice: the defaults Plivo does not confirm (language en-US,
		// interimSpeechResultsCallbackMethod POST, log true, redirect true,
		// profanityFilter false) are kept, as GetDigits and every other
		// element document the same; inputType and speechModel get none.
		Name: "GetInput",
		Doc:  "Collects speech and/or DTMF input while its prompts play.",
		Text: NoText,
		Attrs: []Attr{
			{Name: "action", Kind: URL,
				Doc: "URL that receives the input."},
			{Name: "method", Kind: Method, Default: "POST", Needs: "action",
				Doc: "HTTP method for action."},
			{Name: "inputType", Kind: Enum, Values: []string{"dtmf", "speech", "dtmf speech"},
				Doc: "Input to detect; with \"dtmf speech\" the first detected wins."},
			{Name: "executionTimeout", Kind: Int, Default: "15", Min: 5, Max: 60, HasMin: true, HasMax: true,
				Doc: "Seconds to wait for input, counted after the prompts end."},
			{Name: "digitEndTimeout", Kind: String, Default: "auto", Values: []string{"auto"}, Check: chkEndTimeout,
				Doc: "Seconds allowed between digits (2 to 10) or auto."},
			{Name: "speechEndTimeout", Kind: String, Default: "auto", Values: []string{"auto"}, Check: chkEndTimeout,
				Doc: "Seconds of silence that end speech (2 to 10) or auto."},
			{Name: "finishOnKey", Kind: String, Default: "#", Check: chkFinishOnKey,
				Doc: "Key that submits the digits; \"\" or none disables it."},
			{Name: "numDigits", Kind: Int, Min: 1, Max: 32, HasMin: true, HasMax: true,
				Doc: "Most digits to collect."},
			{Name: "speechModel", Kind: String, Values: []string{"default", "command_and_search", "phone_call"},
				Doc: "Speech recognition model."},
			{Name: "hints", Kind: String,
				Doc: "Comma-separated phrases likely to be said."},
			{Name: "language", Kind: String, Default: "en-US",
				Doc: "Language of the speech to recognise."},
			{Name: "interimSpeechResultsCallback", Kind: URL,
				Doc: "URL that receives partial transcripts while the caller speaks."},
			{Name: "interimSpeechResultsCallbackMethod", Kind: Method, Default: "POST", Needs: "interimSpeechResultsCallback",
				Doc: "HTTP method for interimSpeechResultsCallback."},
			{Name: "log", Kind: Bool, Default: "true",
				Doc: "Log the input; false for secrets."},
			{Name: "redirect", Kind: Bool, Default: "true",
				Doc: "Run the XML returned by action (true) or only notify it and go on (false)."},
			{Name: "profanityFilter", Kind: Bool, Default: "false",
				Doc: "Mask profanity in transcripts."},
		},
		Children: promptChildren,
		Rules: []Rule{
			{Attrs: []string{"digitEndTimeout", "inputType"}, About: "digitEndTimeout", Presence: []string{"digitEndTimeout"}, Check: ruleForInput("dtmf"),
				Doc: "digitEndTimeout only when inputType takes dtmf."},
			{Attrs: []string{"finishOnKey", "inputType"}, About: "finishOnKey", Presence: []string{"finishOnKey"}, Check: ruleForInput("dtmf"),
				Doc: "finishOnKey only when inputType takes dtmf."},
			{Attrs: []string{"numDigits", "inputType"}, About: "numDigits", Presence: []string{"numDigits"}, Check: ruleForInput("dtmf"),
				Doc: "numDigits only when inputType takes dtmf."},
			{Attrs: []string{"speechEndTimeout", "inputType"}, About: "speechEndTimeout", Presence: []string{"speechEndTimeout"}, Check: ruleForInput("speech"),
				Doc: "speechEndTimeout only when inputType takes speech."},
		},
	},
	{
		// Excluded: machineDetection (Go SDK only, not in Plivo's docs).
		// Choice: dialMusic is an Enum of "real" with OrURL rather than a
		// String with a Check: same rule, and editors are offered "real".
		// Choice: timeout has no default: the full Dial page and the routing
		// summary give none; only the voice-agents summary says 30.
		// Choice: confirmTimeout is an integer of seconds, default 120.
		Name: "Dial",
		Doc:  "Calls one or more numbers or SIP users and connects the first to answer.",
		Text: NoText,
		Attrs: []Attr{
			{Name: "action", Kind: URL,
				Doc: "URL requested when the dial ends."},
			{Name: "method", Kind: Method, Default: "POST", Needs: "action",
				Doc: "HTTP method for action."},
			{Name: "hangupOnStar", Kind: Bool, Default: "false",
				Doc: "Let the caller hang up the called party by pressing *."},
			{Name: "timeLimit", Kind: Int, Default: "14400", Min: 1, HasMin: true,
				Doc: "Most seconds the call may last; 86400 or more is cut at 24 hours."},
			{Name: "timeout", Kind: Int, Min: 1, HasMin: true,
				Doc: "Seconds the called party has to answer."},
			{Name: "callerId", Kind: String,
				Doc: "Caller ID shown to the called party; defaults to the caller's."},
			{Name: "callerName", Kind: String, MaxLen: 50,
				Doc: "Caller name shown to the called party, at most 50 characters."},
			{Name: "confirmSound", Kind: URL,
				Doc: "URL of XML (Play, Speak, Wait) played to the called party on answer."},
			{Name: "confirmKey", Kind: String, Check: chkConfirmKey,
				Doc: "Key the called party must press to accept the call."},
			{Name: "confirmTimeout", Kind: Int, Default: "120", Min: 1, HasMin: true, Needs: "confirmKey",
				Doc: "Seconds the called party has to press confirmKey."},
			{Name: "dialMusic", Kind: Enum, Values: []string{"real"}, OrURL: true,
				Doc: "URL of XML (Play, Speak, Wait) played while ringing, or real for the real ringback."},
			{Name: "callbackUrl", Kind: URL,
				Doc: "URL that receives dial events as they happen."},
			{Name: "callbackMethod", Kind: Method, Default: "POST", Needs: "callbackUrl",
				Doc: "HTTP method for callbackUrl."},
			{Name: "redirect", Kind: Bool, Default: "true",
				Doc: "Run the XML returned by action (true) or only notify it and go on (false)."},
			{Name: "digitsMatch", Kind: String,
				Doc: "Comma-separated DTMF patterns on the caller's leg reported to callbackUrl."},
			{Name: "digitsMatchBLeg", Kind: String,
				Doc: "Comma-separated DTMF patterns on the called party's leg reported to callbackUrl."},
			{Name: "sipHeaders", Kind: String, Check: chkSIPHeaders,
				Doc: "Headers key=value,key2=value2 sent as X-PH-key; letters and digits only."},
		},
		Children:    []string{"Number", "User"},
		MinChildren: 1,
	},
	{
		// Choice: callerId and callerName are included: Plivo's Node SDK
		// changelog (v4.74.0, 2025) announces them for Number and User in
		// Dial XML, though the stored docs pages predate it.
		// Excluded: sendDigitsMode (Node/Python/PHP SDKs accept it, but Plivo
		// documents neither it nor its values).
		Name: "Number",
		Doc:  "A phone number, with country code, for Dial to call.",
		Text: RequiredText,
		Attrs: []Attr{
			{Name: "sendDigits", Kind: String, Check: chkDTMFDigits,
				Doc: "DTMF digits sent when the call is answered; w pauses 0.5 s."},
			{Name: "sendOnPreanswer", Kind: Bool, Default: "false",
				Doc: "Send sendDigits during early media."},
			{Name: "callerId", Kind: String,
				Doc: "Caller ID for this number, overriding Dial's."},
			{Name: "callerName", Kind: String, MaxLen: 50,
				Doc: "Caller name for this number, at most 50 characters."},
		},
	},
	{
		// Choice: callerId and callerName are included (see Number).
		// sipAuthUsername and sipAuthPassword are documented (voice-agents
		// page) though no SDK has them; one is refused without the other
		// (the page: "pair required").
		Name:      "User",
		Doc:       "A SIP URI, such as sip:alice@phone.plivo.com, for Dial to call.",
		Text:      RequiredText,
		TextCheck: chkSIPURI,
		Attrs: []Attr{
			{Name: "sendDigits", Kind: String, Check: chkDTMFDigits,
				Doc: "DTMF digits sent when the call is answered; w pauses 0.5 s."},
			{Name: "sendOnPreanswer", Kind: Bool, Default: "false",
				Doc: "Send sendDigits during early media."},
			{Name: "sipHeaders", Kind: String, Check: chkSIPHeaders,
				Doc: "Headers key=value,key2=value2 sent as X-PH-key; letters and digits only."},
			{Name: "callerId", Kind: String,
				Doc: "Caller ID for this user, overriding Dial's."},
			{Name: "callerName", Kind: String, MaxLen: 50,
				Doc: "Caller name for this user, at most 50 characters."},
			{Name: "sipAuthUsername", Kind: String, Needs: "sipAuthPassword",
				Doc: "SIP digest user name for a remote SIP server (with sipAuthPassword)."},
			{Name: "sipAuthPassword", Kind: String, Needs: "sipAuthUsername",
				Doc: "SIP digest password for a remote SIP server (with sipAuthUsername)."},
		},
		Rules: []Rule{
			// About the element, so that no message shows the password.
			{Attrs: []string{"sipAuthUsername", "sipAuthPassword"}, Presence: []string{"sipAuthUsername", "sipAuthPassword"}, Check: ruleSIPAuthPair,
				Doc: "sipAuthUsername and sipAuthPassword both or neither."},
		},
	},
	{
		// Excluded: beep (Node/Ruby/PHP SDKs only, legacy), sendDigits (Python
		// SDK only): neither is in Plivo's docs.
		// Choice: recordWhenAlone is excluded: SDKs accept it but no Plivo page
		// documents it, its type or its meaning.
		// Choice: enterSound and exitSound accept "" (the documented default,
		// no sound) but not "none", which only MultiPartyCall documents.
		// Choice: maxMembers is 1–20, default 20 (current docs; older pages
		// said 100, 200 or unlimited).
		// Choice: transcriptionType takes auto, hybrid and manual (current docs).
		Name: "Conference",
		Doc:  "Joins the caller to a conference room named by the text.",
		Text: RequiredText,
		Attrs: []Attr{
			{Name: "muted", Kind: Bool, Default: "false",
				Doc: "Join muted; the member can still listen."},
			{Name: "enterSound", Kind: Enum, Values: []string{"", "beep:1", "beep:2"}, OrURL: true,
				Doc: "Sound when a member enters: beep:1, beep:2, or a URL of XML (Play, Speak, Wait)."},
			{Name: "exitSound", Kind: Enum, Values: []string{"", "beep:1", "beep:2"}, OrURL: true,
				Doc: "Sound when a member leaves: beep:1, beep:2, or a URL of XML (Play, Speak, Wait)."},
			{Name: "startConferenceOnEnter", Kind: Bool, Default: "true",
				Doc: "Start the conference when this member joins; false waits, muted, for a starter."},
			{Name: "endConferenceOnExit", Kind: Bool, Default: "false",
				Doc: "End the conference when this member leaves."},
			{Name: "stayAlone", Kind: Bool, Default: "true",
				Doc: "Keep the conference going when only one member is left."},
			{Name: "waitSound", Kind: URL,
				Doc: "URL of XML (Play, Speak, Wait) looped while waiting for the conference to start."},
			{Name: "maxMembers", Kind: Int, Default: "20", Min: 1, Max: 20, HasMin: true, HasMax: true,
				Doc: "Most members; set by the first member to join."},
			{Name: "timeLimit", Kind: Int, Default: "86400", Min: 1, HasMin: true,
				Doc: "Most seconds the conference may last."},
			{Name: "hangupOnStar", Kind: Bool, Default: "false",
				Doc: "Let the member leave by pressing *."},
			{Name: "record", Kind: Bool, Default: "false",
				Doc: "Record the conference."},
			{Name: "recordFileFormat", Kind: Enum, Default: "mp3", Values: []string{"mp3", "wav"},
				Doc: "Format of the recording."},
			{Name: "transcriptionType", Kind: Enum, Values: []string{"auto", "hybrid", "manual"},
				Doc: "Transcribe the recording."},
			{Name: "transcriptionUrl", Kind: URL,
				Doc: "URL that receives the transcription."},
			{Name: "transcriptionMethod", Kind: Method, Default: "POST", Needs: "transcriptionUrl",
				Doc: "HTTP method for transcriptionUrl."},
			{Name: "action", Kind: URL,
				Doc: "URL requested when the member leaves."},
			{Name: "method", Kind: Method, Default: "POST", Needs: "action",
				Doc: "HTTP method for action."},
			{Name: "callbackUrl", Kind: URL,
				Doc: "URL that receives conference events."},
			{Name: "callbackMethod", Kind: Method, Default: "POST", Needs: "callbackUrl",
				Doc: "HTTP method for callbackUrl."},
			{Name: "redirect", Kind: Bool, Default: "true",
				Doc: "Run the XML returned by action (true) or only notify it and go on (false)."},
			{Name: "digitsMatch", Kind: String,
				Doc: "Comma-separated DTMF patterns reported to callbackUrl."},
			{Name: "floorEvent", Kind: Bool, Default: "false",
				Doc: "Report to callbackUrl when this member gets the floor."},
			{Name: "relayDTMF", Kind: Bool, Default: "true",
				Doc: "Pass this member's DTMF to the other members."},
		},
	},
	{
		// Order: the Node SDK's (plivo-xml.md section 7), then the
		// documented-only waitForAgent and recordCoachVoice at the end.
		// Excluded: waitTime, transcript, transcriptionUrl (Python/Go SDKs
		// only, not in Plivo's docs); the ai-agent role and its stream
		// attributes (not on the MultiPartyCall XML page).
		// Choice: recordingCallbackMethod defaults to POST: the only explicit
		// default Plivo writes is "Defaults to POST" (Add Participant API,
		// the Add Participant API page, same MPC property); the XML page states none and its
		// GET sample is Node SDK output (Node/Ruby GET, Python/Java POST).
		// Choice: statusCallbackEvents takes the five events of the XML page;
		// participant-audio-events appears only on the REST page.
		Name: "MultiPartyCall",
		Doc:  "Adds the caller to a multiparty call named by the text, starting it if needed.",
		Text: RequiredText,
		Attrs: []Attr{
			{Name: "role", Required: true, Kind: Enum, Values: []string{"Agent", "Supervisor", "Customer"}, Fold: true,
				Doc: "Role of the participant: Agent, Supervisor or Customer, any case (required)."},
			{Name: "maxDuration", MPC: true, Kind: Int, Default: "14400", Min: 300, Max: 28800, HasMin: true, HasMax: true,
				Doc: "Seconds the MPC may last, from call initiation."},
			{Name: "maxParticipants", MPC: true, Kind: Int, Default: "10", Min: 2, Max: 10, HasMin: true, HasMax: true,
				Doc: "Most participants in the MPC."},
			{Name: "recordMinMemberCount", MPC: true, Kind: Int, Default: "1", Min: 1, Max: 2, HasMin: true, HasMax: true,
				Doc: "Members present before recording starts, with record=\"true\"."},
			{Name: "waitMusicUrl", MPC: true, Kind: URL,
				Doc: "URL of XML (Play, Speak, Wait) looped while waiting for the MPC to start."},
			{Name: "waitMusicMethod", MPC: true, Kind: Method, Default: "GET", Needs: "waitMusicUrl",
				Doc: "HTTP method for waitMusicUrl."},
			{Name: "agentHoldMusicUrl", MPC: true, Kind: URL,
				Doc: "URL of XML (Play, Speak, Wait) played to agents on hold."},
			{Name: "agentHoldMusicMethod", MPC: true, Kind: Method, Default: "GET", Needs: "agentHoldMusicUrl",
				Doc: "HTTP method for agentHoldMusicUrl."},
			{Name: "customerHoldMusicUrl", MPC: true, Kind: URL,
				Doc: "URL of XML (Play, Speak, Wait) played to customers on hold."},
			{Name: "customerHoldMusicMethod", MPC: true, Kind: Method, Default: "GET", Needs: "customerHoldMusicUrl",
				Doc: "HTTP method for customerHoldMusicUrl."},
			{Name: "record", MPC: true, Kind: Bool, Default: "false",
				Doc: "Record the MPC; started by the first participant who joins with true."},
			{Name: "recordFileFormat", MPC: true, Kind: Enum, Default: "mp3", Values: []string{"mp3", "wav"},
				Doc: "Format of the recording."},
			{Name: "recordingCallbackUrl", MPC: true, Kind: URL,
				Doc: "URL that receives recording events."},
			{Name: "recordingCallbackMethod", MPC: true, Kind: Method, Default: "POST", Needs: "recordingCallbackUrl",
				Doc: "HTTP method for recordingCallbackUrl."},
			{Name: "statusCallbackEvents", MPC: true, Kind: List, Default: "mpc-state-changes,participant-state-changes", Values: mpcEvents,
				Doc: "Comma-separated event groups sent to statusCallbackUrl."},
			{Name: "statusCallbackUrl", MPC: true, Kind: URL,
				Doc: "URL that receives MPC status events."},
			{Name: "statusCallbackMethod", MPC: true, Kind: Method, Default: "POST", Needs: "statusCallbackUrl",
				Doc: "HTTP method for statusCallbackUrl."},
			{Name: "stayAlone", MPC: true, Kind: Bool, Default: "false",
				Doc: "Keep the participant in the call when they are the only one left."},
			{Name: "coachMode", Kind: Bool, Default: "true",
				Doc: "Supervisor only: coach the agent without the customer hearing."},
			{Name: "mute", Kind: Bool, Default: "false",
				Doc: "Join muted."},
			{Name: "hold", Kind: Bool, Default: "false",
				Doc: "Join on hold."},
			{Name: "startMpcOnEnter", Kind: Bool, Default: "true",
				Doc: "Start the MPC, if not started, when this participant joins."},
			{Name: "endMpcOnExit", Kind: Bool, Default: "false",
				Doc: "End the MPC when this participant leaves."},
			{Name: "enterSound", Kind: Enum, Default: "beep:1", Values: []string{"none", "beep:1", "beep:2"}, OrURL: true,
				Doc: "Sound when the participant enters: none, beep:1, beep:2, or a URL of XML (Play, Speak, Wait)."},
			{Name: "enterSoundMethod", Kind: Method, Default: "GET", Needs: "enterSound",
				Doc: "HTTP method for an enterSound URL."},
			{Name: "exitSound", Kind: Enum, Default: "beep:2", Values: []string{"none", "beep:1", "beep:2"}, OrURL: true,
				Doc: "Sound when the participant leaves: none, beep:1, beep:2, or a URL of XML (Play, Speak, Wait)."},
			{Name: "exitSoundMethod", Kind: Method, Default: "GET", Needs: "exitSound",
				Doc: "HTTP method for an exitSound URL."},
			{Name: "onExitActionUrl", Kind: URL,
				Doc: "URL whose XML continues the call when the participant leaves the MPC."},
			{Name: "onExitActionMethod", Kind: Method, Default: "POST", Needs: "onExitActionUrl",
				Doc: "HTTP method for onExitActionUrl."},
			{Name: "relayDTMFInputs", Kind: Bool, Default: "false",
				Doc: "Pass this participant's DTMF to the other participants."},
			{Name: "startRecordingAudio", MPC: true, Kind: URL,
				Doc: "URL of XML (Play, Speak, Wait) played when recording starts."},
			{Name: "startRecordingAudioMethod", MPC: true, Kind: Method, Default: "GET", Needs: "startRecordingAudio",
				Doc: "HTTP method for startRecordingAudio."},
			{Name: "stopRecordingAudio", MPC: true, Kind: URL,
				Doc: "URL of XML (Play, Speak, Wait) played when recording stops."},
			{Name: "stopRecordingAudioMethod", MPC: true, Kind: Method, Default: "GET", Needs: "stopRecordingAudio",
				Doc: "HTTP method for stopRecordingAudio."},
			{Name: "recordParticipantTrack", Kind: Bool, Default: "false",
				Doc: "Also record this participant's own audio track."},
			{Name: "waitForAgent", MPC: true, Kind: Bool, Default: "false",
				Doc: "Hold the MPC until an agent joins."},
			{Name: "recordCoachVoice", MPC: true, Kind: Bool,
				Doc: "Include the coaching supervisor's voice in the recording."},
		},
	},
	{
		// Excluded: transcriptionReportType (Python SDK only, not in Plivo's docs).
		// Choice: finishOnKey defaults to # (current docs; legacy said
		// 1234567890*#) and takes one key of 0-9, * or #, or none (the
		// current page; the legacy page has no none). Unlike GetDigits and
		// GetInput, "" is refused: neither Record page lists it.
		// Choice: recordChannelType defaults to stereo (the Record XML page;
		// the Record API says mono).
		// Choice: transcriptionType takes auto and hybrid (legacy docs list
		// hybrid; the current page describes auto only).
		// Choice: transcriptionMethod is kept (five SDKs accept it; the
		// Conference docs document the same attribute); no default is given.
		Name: "Record",
		Doc:  "Records the caller, or the whole call in the background.",
		Text: NoText,
		Attrs: []Attr{
			{Name: "action", Kind: URL,
				Doc: "URL that receives the recording."},
			{Name: "method", Kind: Method, Default: "POST", Needs: "action",
				Doc: "HTTP method for action."},
			{Name: "fileFormat", Kind: Enum, Default: "mp3", Values: []string{"mp3", "wav"},
				Doc: "Format of the recording."},
			{Name: "redirect", Kind: Bool, Default: "true",
				Doc: "Run the XML returned by action (true) or only notify it and go on (false)."},
			{Name: "timeout", Kind: Int, Default: "15", Min: 1, HasMin: true,
				Doc: "Seconds of silence that end the recording."},
			{Name: "maxLength", Kind: Int, Default: "60", Min: 2, HasMin: true,
				Doc: "Most seconds to record (more than 1)."},
			{Name: "playBeep", Kind: Bool, Default: "true",
				Doc: "Beep before recording."},
			{Name: "finishOnKey", Kind: String, Default: "#", Check: chkRecordFinishOnKey,
				Doc: "Key that stops the recording; none disables it."},
			{Name: "recordSession", Kind: Bool, Default: "false",
				Doc: "Record the whole call in the background, without a beep."},
			{Name: "startOnDialAnswer", Kind: Bool, Default: "false",
				Doc: "Start recording when the Dial's called party answers."},
			{Name: "recordChannelType", Kind: Enum, Default: "stereo", Values: []string{"mono", "stereo"},
				Doc: "Record both parties on one channel (mono) or one each (stereo)."},
			{Name: "transcriptionType", Kind: Enum, Values: []string{"auto", "hybrid"},
				Doc: "Transcribe the recording (English only)."},
			{Name: "transcriptionUrl", Kind: URL,
				Doc: "URL that receives the transcription."},
			{Name: "transcriptionMethod", Kind: Method, Needs: "transcriptionUrl",
				Doc: "HTTP method for transcriptionUrl."},
			{Name: "callbackUrl", Kind: URL,
				Doc: "URL notified when the recording file is ready."},
			{Name: "callbackMethod", Kind: Method, Default: "POST", Needs: "callbackUrl",
				Doc: "HTTP method for callbackUrl."},
		},
	},
	{
		Name:     "Redirect",
		Doc:      "Continues the call with the XML at a URL; later elements never run.",
		Text:     RequiredText,
		TextKind: URL,
		Attrs: []Attr{
			{Name: "method", Kind: Method, Default: "POST",
				Doc: "HTTP method for the URL."},
		},
	},
	{
		Name: "Hangup",
		Doc:  "Ends the call, or schedules its end.",
		Text: NoText,
		Attrs: []Attr{
			{Name: "reason", Kind: Enum, Values: []string{"rejected", "busy"},
				Doc: "Reject an unanswered call as rejected or busy."},
			{Name: "schedule", Kind: Int, Min: 1, HasMin: true,
				Doc: "Hang up after this many seconds while later elements run."},
		},
	},
	{
		// Choice: children are Speak, Play and Wait only: the SDK-only cells
		// (GetDigits, Redirect, Message, DTMF) are not in Plivo's docs and the
		// Java SDK refuses them.
		Name:     "PreAnswer",
		Doc:      "Plays early media before the call is answered.",
		Text:     NoText,
		Children: promptChildren,
	},
	{
		// Choice: the text may be ws:// or wss:// (Plivo's examples use wss).
		// Choice: audioTrack must be inbound when bidirectional is true
		// (Plivo's page and the Python/Ruby SDK validators; Node writes
		// any audioTrack).
		Name:      "Stream",
		Doc:       "Streams the call's audio to a WebSocket URL.",
		Text:      RequiredText,
		TextKind:  String,
		TextCheck: chkStreamURL,
		Attrs: []Attr{
			{Name: "bidirectional", Kind: Bool, Default: "false",
				Doc: "Let the WebSocket server send audio back (needs audioTrack=\"inbound\")."},
			{Name: "audioTrack", Kind: Enum, Default: "inbound", Values: []string{"inbound", "outbound", "both"},
				Doc: "Which audio to stream."},
			{Name: "streamTimeout", Kind: Int, Default: "86400", Min: 1, HasMin: true,
				Doc: "Seconds after which the stream stops; the call goes on."},
			{Name: "statusCallbackUrl", Kind: URL,
				Doc: "URL that receives stream start, stop and failure events."},
			{Name: "statusCallbackMethod", Kind: Method, Default: "POST", Needs: "statusCallbackUrl",
				Doc: "HTTP method for statusCallbackUrl."},
			{Name: "contentType", Kind: Enum, Default: "audio/x-l16;rate=8000", Values: []string{"audio/x-l16;rate=8000", "audio/x-l16;rate=16000", "audio/x-mulaw;rate=8000"},
				Doc: "Audio codec and sample rate of the stream."},
			{Name: "extraHeaders", Kind: String, MaxLen: 512, Check: chkSIPHeaders,
				Doc: "Headers key=value,key2=value2 sent to the WebSocket server; letters and digits only."},
			{Name: "keepCallAlive", Kind: Bool, Default: "false",
				Doc: "Run later elements only after the stream ends."},
		},
		Rules: []Rule{
			{Attrs: []string{"audioTrack", "bidirectional"}, About: "audioTrack", Check: ruleInboundWhenBidirectional,
				Doc: "audioTrack must be inbound when bidirectional=\"true\"."},
		},
	},
	{
		Name: "Message",
		Doc:  "Sends an SMS during the call.",
		Text: RequiredText,
		Attrs: []Attr{
			{Name: "src", Kind: String,
				Doc: "Plivo number the SMS is sent from."},
			{Name: "dst", Kind: String, Check: chkDst,
				Doc: "Number to send to; several are joined by <."},
			{Name: "type", Kind: Enum, Values: []string{"sms"},
				Doc: "Message type."},
			{Name: "callbackUrl", Kind: URL,
				Doc: "URL that receives delivery reports."},
			{Name: "callbackMethod", Kind: Method, Default: "POST", Needs: "callbackUrl",
				Doc: "HTTP method for callbackUrl."},
		},
	},
}

// Checks. Each returns a message that completes "must ...", or "".

// chkFinishOnKey accepts one key of 0-9, * or #, or "" or "none" to disable.
func chkFinishOnKey(v string) string {
	if v == "" || v == "none" || isDTMFKey(v) {
		return ""
	}
	return `be one key of 0-9, * or #, or "" or "none"`
}

// chkRecordFinishOnKey accepts one key of 0-9, * or #, or "none" to
// disable: Record, unlike GetDigits and GetInput, does not take "".
func chkRecordFinishOnKey(v string) string {
	if v == "none" || isDTMFKey(v) {
		return ""
	}
	return `be one key of 0-9, * or #, or "none"`
}

// chkConfirmKey accepts one key of 0-9, # or *.
func chkConfirmKey(v string) string {
	if isDTMFKey(v) {
		return ""
	}
	return "be one key of 0-9, # or *"
}

func isDTMFKey(v string) bool {
	return len(v) == 1 && strings.ContainsRune("0123456789*#", rune(v[0]))
}

// chkValidDigits accepts one or more of the keys 0-9, * and #.
func chkValidDigits(v string) string {
	if v != "" && strings.Trim(v, "0123456789*#") == "" {
		return ""
	}
	return "be one or more of the keys 0-9, * and #"
}

// chkDTMFDigits accepts DTMF digits 0-9, * and #, with w (0.5 s) and W (1 s) pauses.
func chkDTMFDigits(v string) string {
	if v != "" && strings.Trim(v, "0123456789*#wW") == "" {
		return ""
	}
	return "be digits 0-9, * and #, with w or W for pauses"
}

// chkEndTimeout accepts an integer from 2 to 10 or "auto".
func chkEndTimeout(v string) string {
	if v == "auto" {
		return ""
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 2 && n <= 10 && v == strconv.Itoa(n) {
		return ""
	}
	return `be an integer from 2 to 10 or "auto"`
}

var reAlnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// chkSIPHeaders accepts key=value pairs separated by commas, keys and values
// of letters and digits only (Dial/User sipHeaders, Stream extraHeaders).
func chkSIPHeaders(v string) string {
	for _, pair := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(pair, "=")
		if !ok || !reAlnum.MatchString(k) || !reAlnum.MatchString(val) {
			return "be key=value pairs separated by commas, with letters and digits only"
		}
	}
	return ""
}

// Speak's defaults, as the table writes them. The voice rules read them
// too: a rule cannot look the table up, the table holds the rule.
const (
	speakDefaultVoice    = "WOMAN"
	speakDefaultLanguage = "en-US"
)

// speakLanguageCodes returns the languages of speakVoices, in order.
func speakLanguageCodes() []string {
	out := make([]string, len(speakVoices))
	for i, l := range speakVoices {
		out[i] = l.Language
	}
	return out
}

// stripAccents spells a Polly voice name of speakVoices without accents
// (Léa as Lea), the way the Go and Java SDKs send it and Amazon Polly
// names the voice. TestSpeakVoicesTable fails on an accent it lacks.
var stripAccents = strings.NewReplacer("é", "e", "ê", "e", "ó", "o")

// pollyVoices maps each Polly voice name of speakVoices, as spelt there
// and without accents, to the languages it speaks (Aditi speaks two).
var pollyVoices = func() map[string][]string {
	m := map[string][]string{}
	for _, l := range speakVoices {
		for _, name := range l.Polly {
			m[name] = append(m[name], l.Language)
			if plain := stripAccents.Replace(name); plain != name {
				m[plain] = append(m[plain], l.Language)
			}
		}
	}
	return m
}()

// pollyVoiceList names every Polly voice of speakVoices, for messages.
var pollyVoiceList = func() string {
	var names []string
	for _, l := range speakVoices {
		for _, name := range l.Polly {
			if v := "Polly." + stripAccents.Replace(name); !slices.Contains(names, v) {
				names = append(names, v)
			}
		}
	}
	return strings.Join(names, ", ")
}()

// speakLanguage returns the speakVoices entry of a language, or nil.
func speakLanguage(code string) *speakVoice {
	for i := range speakVoices {
		if speakVoices[i].Language == code {
			return &speakVoices[i]
		}
	}
	return nil
}

// pollyVoiceLanguages returns the languages the Polly voice v speaks
// (Polly.<Name>, optionally -Neural), or nil when speakVoices has no such
// voice.
func pollyVoiceLanguages(v string) []string {
	name, ok := strings.CutPrefix(v, "Polly.")
	if !ok {
		return nil
	}
	return pollyVoices[strings.TrimSuffix(name, "-Neural")]
}

// speaks reports whether voice (WOMAN, MAN or a Polly voice) speaks l.
func (l *speakVoice) speaks(voice string) bool {
	switch voice {
	case "WOMAN":
		return l.Woman
	case "MAN":
		return l.Man
	}
	return slices.Contains(pollyVoiceLanguages(voice), l.Language)
}

// others says which voices speak l, but except: "WOMAN or a Polly voice
// for da-DK (Polly.Naja, Polly.Mads)".
func (l *speakVoice) others(except string) string {
	var vs []string
	for _, v := range []string{"WOMAN", "MAN"} {
		if v != except && l.speaks(v) {
			vs = append(vs, v)
		}
	}
	polly := make([]string, len(l.Polly))
	for i, name := range l.Polly {
		polly[i] = "Polly." + stripAccents.Replace(name)
	}
	vs = append(vs, fmt.Sprintf("a Polly voice for %s (%s)", l.Language, strings.Join(polly, ", ")))
	return joinWith(vs, "or")
}

// joinWith joins "a, b and c" (or "or").
func joinWith(vs []string, last string) string {
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " " + last + " " + vs[len(vs)-1]
}

// chkSpeakLanguage accepts a language of speakVoices, in its letter case.
func chkSpeakLanguage(v string) string {
	if speakLanguage(v) != nil {
		return ""
	}
	for _, l := range speakVoices {
		if strings.EqualFold(v, l.Language) {
			return fmt.Sprintf("be %q (language codes are case-sensitive)", l.Language)
		}
	}
	return "be one of " + orList(speakLanguages)
}

// chkVoice accepts WOMAN, MAN or a Polly voice of speakVoices, optionally
// with -Neural.
func chkVoice(v string) string {
	if v == "WOMAN" || v == "MAN" || pollyVoiceLanguages(v) != nil {
		return ""
	}
	if len(v) < len("Polly.") || !strings.EqualFold(v[:len("Polly.")], "Polly.") {
		return `be WOMAN, MAN or a Polly voice such as "Polly.Joanna"`
	}
	name, neural := strings.CutSuffix(v[len("Polly."):], "-Neural")
	for _, l := range speakVoices {
		for _, known := range l.Polly {
			for _, spelt := range []string{known, stripAccents.Replace(known)} {
				if strings.EqualFold(name, spelt) {
					if neural {
						spelt += "-Neural"
					}
					return fmt.Sprintf("be %q (Polly voice names are case-sensitive)", "Polly."+spelt)
				}
			}
		}
	}
	return "be WOMAN, MAN or a Polly voice Plivo lists (" + pollyVoiceList + ", each also with -Neural)"
}

var reBreakTime = regexp.MustCompile(`^([0-9]+)(ms|s)$`)

// chkBreakTime accepts <n>ms with 0<n≤10000 or <n>s with 0<n≤10.
func chkBreakTime(v string) string {
	if m := reBreakTime.FindStringSubmatch(v); m != nil {
		n, err := strconv.Atoi(m[1])
		limit := 10000
		if m[2] == "s" {
			limit = 10
		}
		if err == nil && n > 0 && n <= limit {
			return ""
		}
	}
	return `be a time of 1ms to 10000ms or 1s to 10s, such as "500ms"`
}

var (
	reVolumeDB     = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?dB$`)
	reRatePercent  = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?%$`)
	rePitchPercent = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?%$`)
)

// chkVolume accepts a prosody volume keyword or a change in decibels (+6dB).
func chkVolume(v string) string {
	return chkKeywordOr(v, []string{"default", "silent", "x-soft", "soft", "medium", "loud", "x-loud"}, reVolumeDB, `a change in decibels such as "+6dB"`)
}

// chkRate accepts a prosody rate keyword or a non-negative percentage (80%).
func chkRate(v string) string {
	return chkKeywordOr(v, []string{"x-slow", "slow", "medium", "fast", "x-fast"}, reRatePercent, `a percentage such as "80%"`)
}

// chkPitch accepts a prosody pitch keyword or a relative percentage (+10%).
func chkPitch(v string) string {
	return chkKeywordOr(v, []string{"default", "x-low", "low", "medium", "high", "x-high"}, rePitchPercent, `a relative percentage such as "+10%"`)
}

func chkKeywordOr(v string, keywords []string, re *regexp.Regexp, form string) string {
	for _, k := range keywords {
		if v == k {
			return ""
		}
	}
	if re.MatchString(v) {
		return ""
	}
	return fmt.Sprintf("be one of %s, or %s", orList(keywords), form)
}

// chkStreamURL accepts a ws:// or wss:// URL with a host.
func chkStreamURL(v string) string {
	rest, ok := strings.CutPrefix(v, "wss://")
	if !ok {
		rest, ok = strings.CutPrefix(v, "ws://")
	}
	if ok {
		host, _, _ := strings.Cut(rest, "/")
		if host != "" && !strings.ContainsAny(v, " \t\r\n") {
			return ""
		}
	}
	return `be a WebSocket URL such as "wss://example.com/audio"`
}

var rePhoneNumber = regexp.MustCompile(`^\+?[0-9]+$`)

// reSIPURI is one SIP URI (RFC 3261, section 19.1), as Dial's User calls:
// sip: or sips:, a user part of unreserved, escaped and user-unreserved
// characters (no "@"), one "@", a host name, IPv4 or [IPv6] address, an
// optional port and ;name[=value] URI parameters. A value built from
// caller input cannot smuggle in a second host: sip:{{ input.Digits
// }}@phone.plivo.com filled with "attacker@evil.example;x=" has two "@".
var reSIPURI = regexp.MustCompile(`^(?i:sips?):` +
	`[A-Za-z0-9\-_.!~*'()&=+$,;?/]+(?:%[0-9A-Fa-f]{2}[A-Za-z0-9\-_.!~*'()&=+$,;?/]*)*` +
	`@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])` +
	`(?::[0-9]{1,5})?` +
	`(?:;[A-Za-z0-9\-_.!~*'()%]+(?:=[A-Za-z0-9\-_.!~*'()%\[\]/:&+$]+)?)*$`)

// chkSIPURI accepts one well-formed SIP URI: a User from a template
// filled with caller input must not reach another host.
func chkSIPURI(v string) string {
	if !reSIPURI.MatchString(strings.TrimSpace(v)) {
		return "be one SIP URI such as sip:alice@phone.plivo.com"
	}
	return ""
}

// chkDst accepts one phone number or several joined by "<".
func chkDst(v string) string {
	for _, n := range strings.Split(v, "<") {
		if !rePhoneNumber.MatchString(n) {
			return `be a phone number, or several joined by "<"`
		}
	}
	return ""
}

// Rules between attributes. Each gets the values of its Rule's Attrs, in
// order, and returns a message that completes "<element> <About> must
// ...", or "".

// waitDefaultLength is the Default of Wait length in the table, in seconds.
// (A rule cannot look the table up: the table holds the rule.)
const waitDefaultLength = 1

// ruleMinSilenceBelowLength: minSilence, length, silence. With
// silence="true", a written minSilence (milliseconds) must be below length
// (seconds, default 1).
func ruleMinSilenceBelowLength(a RuleArgs) string {
	minSilence, length, silence := a[0], a[1], a[2]
	if !minSilence.Set || silence.Value != "true" {
		return ""
	}
	secs := int64(waitDefaultLength)
	if length.Set {
		n, err := strconv.ParseInt(length.Value, 10, 64)
		if err != nil {
			return ""
		}
		secs = n
	}
	ms, err := strconv.ParseInt(minSilence.Value, 10, 64)
	if err != nil || secs > math.MaxInt64/1000 || ms < secs*1000 {
		return ""
	}
	if !length.Set {
		return fmt.Sprintf("be below length in milliseconds (below %d for the default length of %d second)", secs*1000, secs)
	}
	return fmt.Sprintf("be below length in milliseconds (below %d for length %d)", secs*1000, secs)
}

// ruleBeepWithoutSilence: beep, silence, minSilence. beep="true" only when
// silence detection is not in use.
func ruleBeepWithoutSilence(a RuleArgs) string {
	beep, silence, minSilence := a[0], a[1], a[2]
	switch {
	case beep.Value != "true":
		return ""
	case silence.Value == "true":
		return "not be true when silence is true"
	case minSilence.Set:
		return "not be true when minSilence is given"
	}
	return ""
}

// ruleProsodyAttr: volume, rate, pitch. At least one is written.
func ruleProsodyAttr(a RuleArgs) string {
	if a[0].Set || a[1].Set || a[2].Set {
		return ""
	}
	return "have at least one of volume, rate or pitch"
}

// ruleFormatOnlyDate: format, interpret-as. format only with
// interpret-as="date". A missing interpret-as is reported as required.
func ruleFormatOnlyDate(a RuleArgs) string {
	format, interpretAs := a[0], a[1]
	if !format.Set || !interpretAs.Set || interpretAs.Value == "date" {
		return ""
	}
	return fmt.Sprintf(`not be given with interpret-as %q: format goes only with interpret-as "date"`, interpretAs.Value)
}

// ruleInboundWhenBidirectional: audioTrack, bidirectional. A bidirectional
// stream takes the inbound track only (the default).
func ruleInboundWhenBidirectional(a RuleArgs) string {
	audioTrack, bidirectional := a[0], a[1]
	if bidirectional.Value == "true" && audioTrack.Set && audioTrack.Value != "inbound" {
		return "be inbound when bidirectional is true"
	}
	return ""
}

// ruleVoiceSpeaksLanguage: voice, language. A written voice speaks the
// language, written or the default: WOMAN and MAN only where speakVoices
// has them, a Polly voice only in its own languages.
func ruleVoiceSpeaksLanguage(a RuleArgs) string {
	voice, language := a[0], a[1]
	if !voice.Set {
		return ""
	}
	lang := speakDefaultLanguage
	if language.Set {
		lang = language.Value
	}
	l := speakLanguage(lang)
	if l == nil || l.speaks(voice.Value) {
		return ""
	}
	where := fmt.Sprintf("with language %q", lang)
	if !language.Set {
		where = fmt.Sprintf("without language (%s by default)", lang)
	}
	if voice.Value == "WOMAN" || voice.Value == "MAN" {
		return fmt.Sprintf("not be given %s: language %s has no %s voice; use %s", where, lang, voice.Value, l.others(voice.Value))
	}
	langs := pollyVoiceLanguages(voice.Value)
	if langs == nil {
		return "" // not a voice: reported on its own
	}
	if !language.Set {
		// A Polly voice without language: the Go and Java SDKs refuse it
		// unless it speaks en-US, but the Node SDK (the oracle) writes it,
		// and nothing says Plivo refuses it, so a flow that relies on the
		// voice alone is left to run. A language written against the voice
		// is a contradiction, refused below.
		return ""
	}
	return fmt.Sprintf("not be given %s: %s speaks %s; use language %s, or another voice: %s", where, voice.Value, joinWith(langs, "and"), joinWith(langs, "or"), l.others(""))
}

// ruleLanguageHasWoman: language, voice. Without voice, the language
// has the default voice.
func ruleLanguageHasWoman(a RuleArgs) string {
	language, voice := a[0], a[1]
	if !language.Set || voice.Set {
		return ""
	}
	l := speakLanguage(language.Value)
	if l == nil || l.speaks(speakDefaultVoice) {
		return ""
	}
	return fmt.Sprintf("not be given without voice (%s by default): language %s has no %s voice; set voice to %s", speakDefaultVoice, l.Language, speakDefaultVoice, l.others(speakDefaultVoice))
}

// ruleForInput returns the rule of a GetInput attribute (its first) that
// Plivo uses only for input of kind ("dtmf" or "speech"): it is refused
// when inputType (its second) is the other kind alone.
func ruleForInput(kind string) func(RuleArgs) string {
	other := map[string]string{"dtmf": "speech", "speech": "dtmf"}[kind]
	return func(a RuleArgs) string {
		attr, inputType := a[0], a[1]
		if !attr.Set || inputType.Value != other {
			return ""
		}
		return fmt.Sprintf(`not be given with inputType %q: it applies to %s input only; remove it, or use inputType %q or "dtmf speech"`, other, kind, kind)
	}
}

// ruleSIPAuthPair: sipAuthUsername, sipAuthPassword. Both or neither.
func ruleSIPAuthPair(a RuleArgs) string {
	username, password := a[0], a[1]
	switch {
	case username.Set && !password.Set:
		return "have sipAuthPassword with sipAuthUsername: Plivo takes the SIP credentials as a pair; add sipAuthPassword"
	case password.Set && !username.Set:
		return "have sipAuthUsername with sipAuthPassword: Plivo takes the SIP credentials as a pair; add sipAuthUsername"
	}
	return ""
}
