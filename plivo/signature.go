package plivo

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/flowd-dev/flowd/internal/hexdigit"
)

// Header names Plivo uses for webhook signatures. The Ma ("main account")
// headers are computed with the main account's auth token, the others with
// the token of the account or sub-account that owns the application.
const (
	// HeaderSignatureV3 carries one or more comma-separated V3 signatures.
	HeaderSignatureV3 = "X-Plivo-Signature-V3"
	// HeaderSignatureMaV3 carries V3 signatures made with the main account's token.
	HeaderSignatureMaV3 = "X-Plivo-Signature-Ma-V3"
	// HeaderNonceV3 carries the nonce signed into the V3 signatures.
	HeaderNonceV3 = "X-Plivo-Signature-V3-Nonce"
	// HeaderSignatureV2 carries the (older) V2 signature.
	HeaderSignatureV2 = "X-Plivo-Signature-V2"
	// HeaderSignatureMaV2 carries the V2 signature made with the main account's token.
	HeaderSignatureMaV2 = "X-Plivo-Signature-Ma-V2"
	// HeaderNonceV2 carries the nonce signed into the V2 signatures.
	HeaderNonceV2 = "X-Plivo-Signature-V2-Nonce"
)

// Errors returned by VerifyRequest; test for them with errors.Is.
var (
	// ErrNoSignature means the request carries neither X-Plivo-Signature-V3
	// nor X-Plivo-Signature-Ma-V3.
	ErrNoSignature = errors.New("plivo: request has no " + HeaderSignatureV3 + " or " + HeaderSignatureMaV3 + " header")
	// ErrNoNonce means the request carries a signature but no X-Plivo-Signature-V3-Nonce.
	ErrNoNonce = errors.New("plivo: request has no " + HeaderNonceV3 + " header")
	// ErrSignatureMismatch means no signature in the headers matches the request.
	ErrSignatureMismatch = errors.New("plivo: webhook signature does not match the request")
)

// sigLen is the length of a base64 (padded) HMAC-SHA256.
const sigLen = 44 // base64.StdEncoding.EncodedLen(sha256.Size)

// SignatureV3 returns the base64 HMAC-SHA256 signature Plivo sends in
// X-Plivo-Signature-V3 for a request.
//
// method is "GET" or "POST" (exactly; anything else is an error). rawURL is
// the full URL Plivo requested, including its own query string. params are
// the request parameters: the form values of a POST, or for a GET extra
// parameters merged with the query of rawURL (pass either the full URL and
// nil, or the URL without Plivo's parameters and the parameters, not both:
// a key present in both places is signed twice). The error reports a bad
// method or an unparsable URL.
func SignatureV3(method, rawURL string, params url.Values, nonce, authToken string) (string, error) {
	msg, err := appendStringToSignV3(nil, method, rawURL, params, nonce)
	if err != nil {
		return "", err
	}
	var sig [sigLen]byte
	macBase64(&sig, authToken, msg)
	return string(sig[:]), nil
}

// ValidSignatureV3 reports whether header (one or more comma-separated
// signatures, as in X-Plivo-Signature-V3 or X-Plivo-Signature-Ma-V3) holds
// the signature of the request; it compares in constant time. The
// arguments are those of SignatureV3; a request SignatureV3 rejects is
// never valid.
func ValidSignatureV3(method, rawURL string, params url.Values, nonce, authToken, header string) bool {
	msg, err := appendStringToSignV3(nil, method, rawURL, params, nonce)
	if err != nil {
		return false
	}
	var sig [sigLen]byte
	macBase64(&sig, authToken, msg)
	return headerHolds(header, sig[:]) == 1
}

// SignatureV2 returns the base64 HMAC-SHA256 signature Plivo sends in
// X-Plivo-Signature-V2: it signs scheme://host[:port]/path of rawURL (query
// and fragment dropped) directly followed by nonce. It returns "" when
// rawURL cannot be parsed.
func SignatureV2(rawURL, nonce, authToken string) string {
	msg, err := appendStringToSignV2(nil, rawURL, nonce)
	if err != nil {
		return ""
	}
	var sig [sigLen]byte
	macBase64(&sig, authToken, msg)
	return string(sig[:])
}

// ValidSignatureV2 reports whether header (X-Plivo-Signature-V2, or
// X-Plivo-Signature-Ma-V2 with the main account's token) is the V2
// signature of rawURL and nonce; it compares in constant time. Like Plivo's
// SDKs it compares the whole header: V2 headers are not comma-split.
func ValidSignatureV2(rawURL, nonce, authToken, header string) bool {
	sig := SignatureV2(rawURL, nonce, authToken)
	return sig != "" && constantTimeEqual(header, []byte(sig)) == 1
}

// VerifyRequest checks an incoming *http.Request: publicURL is the URL
// Plivo called (scheme, host, path and query as Plivo saw it, not the
// internal address); params are the parsed form values for POST
// (r.PostForm) or nil for GET (the query is inside publicURL). It accepts
// X-Plivo-Signature-V3 with tokens[0] or X-Plivo-Signature-Ma-V3 with any
// token in tokens (account and main-account token), using
// X-Plivo-Signature-V3-Nonce. Returns nil or an error saying what is
// missing or wrong (no header, no nonce, mismatch).
//
// Empty tokens are ignored (an HMAC keyed with "" proves nothing); with no
// non-empty token every request is rejected. The errors wrap ErrNoSignature,
// ErrNoNonce or ErrSignatureMismatch where those apply.
func VerifyRequest(r *http.Request, publicURL string, params url.Values, tokens ...string) error {
	if !slices.ContainsFunc(tokens, func(t string) bool { return t != "" }) {
		return errors.New("plivo: no auth token to verify the webhook signature with")
	}
	v3 := nonEmpty(r.Header.Values(HeaderSignatureV3))
	ma := nonEmpty(r.Header.Values(HeaderSignatureMaV3))
	if len(v3) == 0 && len(ma) == 0 {
		return ErrNoSignature
	}
	nonce := r.Header.Get(HeaderNonceV3)
	if nonce == "" {
		return ErrNoNonce
	}
	msg, err := appendStringToSignV3(nil, r.Method, publicURL, params, nonce)
	if err != nil {
		return fmt.Errorf("plivo: cannot verify the webhook signature: %w", err)
	}
	var sig [sigLen]byte
	ok := 0
	if len(v3) > 0 && tokens[0] != "" {
		macBase64(&sig, tokens[0], msg)
		for _, h := range v3 {
			ok |= headerHolds(h, sig[:])
		}
	}
	if len(ma) > 0 {
		for _, tok := range tokens {
			if tok == "" {
				continue
			}
			macBase64(&sig, tok, msg)
			for _, h := range ma {
				ok |= headerHolds(h, sig[:])
			}
		}
	}
	if ok != 1 {
		return ErrSignatureMismatch
	}
	return nil
}

// nonEmpty drops empty header values, so that a header sent empty counts
// as absent.
func nonEmpty(vs []string) []string {
	if !slices.Contains(vs, "") {
		return vs
	}
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// stringToSignV3 returns the message SignatureV3 feeds to HMAC-SHA256
// (without the key), for tests.
func stringToSignV3(method, rawURL string, params url.Values, nonce string) (string, error) {
	msg, err := appendStringToSignV3(nil, method, rawURL, params, nonce)
	return string(msg), err
}

// appendStringToSignV2 appends the V2 message to dst: scheme://host[:port]/path
// of rawURL directly followed by nonce (no separator).
func appendStringToSignV2(dst []byte, rawURL, nonce string) ([]byte, error) {
	u, err := splitURL(rawURL)
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, len(u.scheme)+3+len(u.host)+len(u.path)+len(nonce))
	dst = u.appendBase(dst)
	return append(dst, nonce...), nil
}

// kv is one decoded key=value pair.
type kv struct{ k, v string }

func compareKV(a, b kv) int {
	if c := strings.Compare(a.k, b.k); c != 0 {
		return c
	}
	return strings.Compare(a.v, b.v)
}

// appendStringToSignV3 appends the V3 message to dst, built as the Node
// SDK's validateV3Signature builds it:
//
//	GET:  base[?k=v&k=v…]                          pairs of the URL query and params, sorted
//	POST: base?q=v&q=v….kvkv…  or  base?kvkv…       URL-query pairs sorted, then params sorted
//	      base?q=v&q=v…  or  base                   (without params)
//
// followed by "." and the nonce, where base is scheme://host[:port]/path.
// Keys and values are not URL-encoded; keys sort by bytes, and the values
// of one key sort by bytes too.
func appendStringToSignV3(dst []byte, method, rawURL string, params url.Values, nonce string) ([]byte, error) {
	get := method == http.MethodGet
	if !get && method != http.MethodPost {
		return dst, fmt.Errorf("plivo: V3 signatures are defined for GET and POST requests only, not %q", method)
	}
	u, err := splitURL(rawURL)
	if err != nil {
		return dst, err
	}

	// Size everything up front: one allocation for the pairs, one for
	// the message (decoding never makes the query longer, and each pair
	// gains at most the "=" of a bare key).
	nq := 0
	if u.query != "" {
		nq = strings.Count(u.query, "&") + 1
	}
	np, plen := 0, 0
	for k, vs := range params {
		np += len(vs)
		plen += len(vs) * (len(k) + 2)
		for _, v := range vs {
			plen += len(v)
		}
	}
	dst = slices.Grow(dst, len(u.scheme)+3+len(u.host)+len(u.path)+2+len(u.query)+nq+plen+1+len(nonce))
	pairs := make([]kv, 0, nq+np)

	pairs = appendQueryPairs(pairs, u.query)
	nq = len(pairs)
	for k, vs := range params {
		for _, v := range vs {
			pairs = append(pairs, kv{k, v})
		}
	}

	dst = u.appendBase(dst)
	if get {
		// The Node SDK merges the URL query and params (values of a key
		// present in both are concatenated) and signs them as one query.
		slices.SortFunc(pairs, compareKV)
		dst = appendQuery(dst, pairs, '?')
	} else {
		q, p := pairs[:nq], pairs[nq:]
		slices.SortFunc(q, compareKV)
		slices.SortFunc(p, compareKV)
		// "Non-empty params" is about keys, as lodash isEmpty sees it: a
		// key with no values still adds the "?".
		hasParams := len(params) > 0
		if len(q) > 0 || hasParams {
			dst = append(dst, '?')
		}
		dst = appendQuery(dst, q, 0)
		if len(q) > 0 && hasParams {
			dst = append(dst, '.')
		}
		for _, e := range p {
			dst = append(dst, e.k...)
			dst = append(dst, e.v...)
		}
	}
	dst = append(dst, '.')
	dst = append(dst, nonce...)
	return dst, nil
}

// appendQuery appends pairs as k=v joined by "&", preceded by lead when
// lead is not 0 and there are pairs.
func appendQuery(dst []byte, pairs []kv, lead byte) []byte {
	for i, e := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		} else if lead != 0 {
			dst = append(dst, lead)
		}
		dst = append(dst, e.k...)
		dst = append(dst, '=')
		dst = append(dst, e.v...)
	}
	return dst
}

// signedURL holds the parts of a URL that go into a signature, verbatim.
type signedURL struct {
	scheme, host, path, query string
}

func (u *signedURL) appendBase(dst []byte) []byte {
	dst = append(dst, u.scheme...)
	dst = append(dst, "://"...)
	dst = append(dst, u.host...)
	return append(dst, u.path...)
}

// splitURL picks rawURL apart as the Node SDK does (uri-parser, then
// scheme + "://" + host + (":" + port) + path): the scheme as written
// ("http" when missing), the host and port as written (userinfo dropped, an
// empty port dropped with its ":"), the path as written (not decoded, not
// re-encoded), the raw query; the fragment is dropped.
//
// The URL must parse with net/url and have a host. Unlike the Node SDK's
// regular expression, a raw "@" in the path or query does not move the
// host (the SDK would read "https://h/p?mail=a@b" as host "b"), and an IPv6
// literal host keeps its brackets.
func splitURL(rawURL string) (signedURL, error) {
	u, err := url.Parse(rawURL)
	if (err != nil || u.Host == "") && !hasSchemeSlashes(rawURL) {
		// "example.com/answer", "example.com:8080/answer": no scheme,
		// and the SDK reads the first segment as the host.
		rawURL = "http://" + rawURL
		u, err = url.Parse(rawURL)
	}
	if err != nil {
		return signedURL{}, fmt.Errorf("plivo: cannot sign URL: %w", err)
	}
	if u.Host == "" {
		return signedURL{}, fmt.Errorf("plivo: cannot sign URL %q: it has no host", rawURL)
	}
	s := signedURL{scheme: "http", query: u.RawQuery}
	// url.Parse lower-cases the scheme; the SDK signs it as written, and
	// it is the prefix of rawURL (before ":").
	authority := rawURL
	if u.Scheme != "" {
		s.scheme = rawURL[:len(u.Scheme)]
		authority = rawURL[len(u.Scheme)+1:]
	}
	// url.Parse found a host, so the authority follows "//" and ends at
	// the first "/", "?" or "#"; the host follows the last "@". Sliced
	// from rawURL it stays as written (u.Host would be unescaped).
	if !strings.HasPrefix(authority, "//") {
		return signedURL{}, fmt.Errorf("plivo: cannot sign URL %q: no \"//\" before its host", rawURL)
	}
	authority = authority[2:]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	s.host = strings.TrimSuffix(authority, ":") // "host:" has no port
	// RawPath, when set, is the path exactly as written; when it is not,
	// EscapedPath is (it re-encodes Path to the original text).
	s.path = u.RawPath
	if s.path == "" {
		s.path = u.EscapedPath()
	}
	return s, nil
}

// hasSchemeSlashes reports whether s starts with "//" or with a scheme
// followed by "://".
func hasSchemeSlashes(s string) bool {
	if strings.HasPrefix(s, "//") {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case c == ':' && i > 0:
			return strings.HasPrefix(s[i+1:], "//")
		default:
			return false
		}
	}
	return false
}

// appendQueryPairs appends the pairs of a raw query string decoded as
// Node's querystring.parse decodes them: split on "&" (empty segments
// skipped, ";" is not a separator), key and value split at the first "=",
// a bare key has value "", "+" is a space, %XX is decoded (a "%" not
// followed by two hex digits stays as written), and bytes that are not
// UTF-8 become U+FFFD.
//
// Node's parser stops after 1000 pairs and the SDK then loses a
// "__proto__" key; both would leave parameters unsigned, so here every pair
// is signed.
func appendQueryPairs(pairs []kv, query string) []kv {
	for query != "" {
		var seg string
		seg, query, _ = strings.Cut(query, "&")
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		pairs = append(pairs, kv{unescapeQuery(k), unescapeQuery(v)})
	}
	return pairs
}

// unescapeQuery decodes one query key or value; see appendQueryPairs.
func unescapeQuery(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		if utf8.ValidString(s) {
			return s
		}
		return toValidUTF8([]byte(s))
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && hexdigit.Is(s[i+1]) && hexdigit.Is(s[i+2]):
			b = append(b, hexdigit.Value(s[i+1])<<4|hexdigit.Value(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return toValidUTF8(b)
}

// toValidUTF8 replaces each maximal ill-formed subsequence of b with
// U+FFFD, as the WHATWG (and Node's Buffer.toString) UTF-8 decoder does.
// strings.ToValidUTF8 differs: it merges adjacent bad bytes into one
// U+FFFD.
func toValidUTF8(b []byte) string {
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		if r, n := utf8.DecodeRune(b[i:]); r != utf8.RuneError || n > 1 {
			out = append(out, b[i:i+n]...)
			i += n
			continue
		}
		i += maximalSubpart(b[i:])
		out = append(out, "\uFFFD"...)
	}
	return string(out)
}

// maximalSubpart returns the length of the ill-formed sequence that
// starts b: the longest prefix of a well-formed sequence, or 1.
func maximalSubpart(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	var n int                        // continuation bytes the lead byte wants
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		n = 1
	case c == 0xE0:
		n, lo = 2, 0xA0
	case c == 0xED:
		n, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		n = 2
	case c == 0xF0:
		n, lo = 3, 0x90
	case c == 0xF4:
		n, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		n = 3
	default:
		return 1
	}
	i := 1
	for ; i <= n && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

// macBase64 writes the padded standard base64 of HMAC-SHA256(key, msg) to sig.
func macBase64(sig *[sigLen]byte, key string, msg []byte) {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(msg)
	var sum [sha256.Size]byte
	base64.StdEncoding.Encode(sig[:], mac.Sum(sum[:0]))
}

// headerHolds returns 1 if one of the comma-separated elements of header
// equals sig, else 0. Every element is compared in full (no whitespace
// trimming, as in Plivo's SDKs), so the time taken depends only on the
// header's shape, not on where or whether it matches.
func headerHolds(header string, sig []byte) int {
	ok := 0
	for {
		elem, rest, more := strings.Cut(header, ",")
		ok |= constantTimeEqual(elem, sig)
		if !more {
			return ok
		}
		header = rest
	}
}

// constantTimeEqual returns 1 if a equals b, else 0, in time that depends
// only on the lengths.
func constantTimeEqual(a string, b []byte) int {
	if len(a) != len(b) {
		return 0
	}
	var v byte
	for i := range len(b) {
		v |= a[i] ^ b[i]
	}
	return subtle.ConstantTimeByteEq(v, 0)
}
