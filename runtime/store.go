package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Store keeps sessions between webhooks and the flow versions live calls
// are pinned to. Several flowd processes sharing one store can serve any
// webhook of any call, so every write is a compare-and-set on the
// record's revision.
//
// A store copies what it keeps: once Create, Update, PutVersion or PutRef
// returns, the caller reuses the bytes it passed (the runtime encodes
// them in pooled buffers). TestStoresCopyWhatTheyKeep holds every store to
// it.
type Store interface {
	// Get returns the record of a call, or ErrNotFound.
	Get(ctx context.Context, callUUID string) (Record, error)
	// Create stores a new call's record unless one exists (ErrExists):
	// Plivo retries the answer webhook.
	Create(ctx context.Context, callUUID string, rec Record, ttl time.Duration) error
	// Update replaces the record if its stored revision is still
	// prevRev, else returns ErrConflict: something else wrote it first.
	// ErrNotFound when the record expired meanwhile.
	Update(ctx context.Context, callUUID string, prevRev int, rec Record, ttl time.Duration) error
	// PutVersion keeps a flow version's source so any process can rebuild
	// the graph a call is pinned to, until ttl passes.
	PutVersion(ctx context.Context, flowName, version string, source []byte, ttl time.Duration) error
	// GetVersion returns a kept flow source, or ErrNotFound.
	GetVersion(ctx context.Context, flowName, version string) ([]byte, error)
	// PutRef keeps a small named reference until ttl passes; the trigger
	// API finds a live call from a party's number this way.
	PutRef(ctx context.Context, key, value string, ttl time.Duration) error
	// Trace returns the entries of a call's trace that are kept, in the
	// order they were written (none when the call is unknown).
	Trace(ctx context.Context, callUUID string) ([][]byte, error)
	// GetRef returns a reference, or ErrNotFound.
	GetRef(ctx context.Context, key string) (string, error)
	// Live counts the records of calls that have not hung up.
	Live(ctx context.Context) (int, error)
	// Ping reports whether the store can be reached and used now: nil,
	// or why not. It is cheap (one round trip at most) and honours ctx's
	// deadline; /healthz calls it.
	Ping(ctx context.Context) error
	Close() error
}

// Record is a stored session: the encoded session with the two facts a
// store needs without decoding it.
type Record struct {
	// Rev counts the writes of the record: every write sets prevRev+1,
	// so a compare-and-set fails whenever anything else wrote between a
	// read and a write — another replica's callback, a hangup, an event.
	Rev  int
	Live bool   // the call has not hung up
	Data []byte // the encoded Session

	// Entry, when not nil, is appended to the call's trace by the same
	// atomic write as the record, at sequence Seq (0 for the first
	// entry). Drop > 0 removes the entry at that sequence in the same
	// write: the runtime keeps the first and the latest entries of a long
	// call, so its trace stays bounded. Get leaves these zero.
	Entry []byte
	Seq   int
	Drop  int
}

// Store errors.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("session exists")
	ErrConflict = errors.New("session changed concurrently")
)

// DefaultStorePath is the folder of the embedded journal when --store
// is not given: $XDG_STATE_HOME/flowd/sessions, else
// ~/.local/state/flowd/sessions.
func DefaultStorePath() string { return filepath.Join(stateDir(), "sessions") }

// LegacyStorePath is the bbolt file earlier versions of flowd kept by
// default. A server that finds it, and no journal, goes on with it, so an
// upgrade loses no live call.
func LegacyStorePath() string { return filepath.Join(stateDir(), "sessions.db") }

// stateDir is flowd's folder for what it keeps: $XDG_STATE_HOME/flowd,
// else ~/.local/state/flowd, else flowd-state in the working folder.
func stateDir() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "flowd-state"
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "flowd")
}

// OpenStore opens a store from a URL: "" for the embedded default (the
// journal at DefaultStorePath, or the bbolt file at LegacyStorePath when
// only that exists), "journal:DIR", "bolt:PATH", "memory:", or
// "redis://..." when a Redis opener is registered.
func OpenStore(raw string) (Store, error) {
	switch {
	case raw == "":
		if _, err := os.Stat(DefaultStorePath()); errors.Is(err, fs.ErrNotExist) {
			if fi, err := os.Stat(LegacyStorePath()); err == nil && fi.Mode().IsRegular() {
				return OpenBolt(LegacyStorePath())
			}
		}
		return OpenJournal(DefaultStorePath())
	case raw == "memory:" || raw == "memory":
		return NewMemory(), nil
	case strings.HasPrefix(raw, "journal:"):
		return OpenJournal(strings.TrimPrefix(raw, "journal:"))
	case strings.HasPrefix(raw, "bolt:"):
		p := strings.TrimPrefix(raw, "bolt:")
		if u, err := url.Parse(raw); err == nil && u.Path != "" && strings.HasPrefix(raw, "bolt://") {
			p = u.Host + u.Path
		}
		return OpenBolt(p)
	}
	scheme, _, _ := strings.Cut(raw, ":")
	if open, ok := storeOpeners[scheme]; ok {
		return open(raw)
	}
	return nil, fmt.Errorf("unknown store %q: want journal:DIR, bolt:PATH, memory:, redis://HOST:PORT/DB or redis-cluster://HOST:PORT,HOST:PORT", raw)
}

// storeOpeners lets other stores (Redis) register their URL scheme.
var storeOpeners = map[string]func(string) (Store, error){}
