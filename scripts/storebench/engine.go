package main

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"path/filepath"
)

// Engine is the durable session store under test: the write a webhook
// makes, the reads it needs, bulk loading, and the expiry sweep.
type Engine interface {
	Name() string
	// Get returns the hot record of a call: its revision and data. ok is
	// false when there is none or it expired before now.
	Get(id []byte, now int64) (rev uint64, data []byte, ok bool, err error)
	// Write stores one webhook atomically: the hot record, compare-and-set
	// on its revision (PrevRev 0 creates it), one trace entry with sequence
	// number PrevRev, and the deletion of the entry that leaves the window.
	// It returns once the write is durable.
	Write(w *Webhook) error
	// Load stores sessions in their final state, for filling the store
	// before a measurement; it need not be durable write by write.
	Load(batch []Loaded) error
	// SweepBatch takes expiry index entries older than now, in order, and
	// in one short transaction deletes each with its session and trace
	// entries when the session expired (else the entry is stale and only
	// it goes). It takes at least one entry and stops before the records
	// it deletes would exceed maxRecords, so a transaction is bounded
	// however long the calls' traces are. It reports how many entries it
	// took (0: nothing is left to sweep) and how long it held the store's
	// writer, in nanoseconds.
	SweepBatch(now int64, maxRecords int) (n int, hold int64, err error)
	// Counts returns the number of hot records, trace entries and expiry
	// index entries, for tests.
	Counts() (hot, trace, index int, err error)
	// Traces returns the sequence numbers of a call's trace entries.
	Traces(id []byte) ([]uint32, error)
	// Dir is the folder whose files make up the store.
	Dir() string
	Close() error
}

// Webhook is one store write of a webhook.
type Webhook struct {
	ID      []byte
	PrevRev uint64 // 0: create
	Hot     []byte // the encoded session
	Trace   []byte // the trace entry of this webhook
	Expiry  int64  // unix nanoseconds
	Now     int64
}

// Loaded is a session in its final state, for Load.
type Loaded struct {
	ID     []byte
	Hot    []byte
	Traces [][]byte // entry i has sequence number i; len(Traces) is the revision
	Expiry int64
}

// Errors of Write.
var (
	ErrExists   = errors.New("session exists")
	ErrNotFound = errors.New("session not found")
	ErrConflict = errors.New("session changed concurrently")
)

// The trace window: the first keepFirst and the latest keepLast entries
// of a call are kept.
const (
	keepFirst = 50
	keepLast  = 50
)

// evicted returns the trace entry that writing entry seq pushes out of the
// window, if any.
func evicted(seq uint64) (uint32, bool) {
	if seq < keepFirst+keepLast {
		return 0, false
	}
	return uint32(seq - keepLast), true
}

// sweepCost is the number of records deleted with a session whose hot
// value is v (nil for a stale index entry alone): its trace entries, the
// hot record and the index entry.
func sweepCost(v []byte) int {
	if len(v) < hotHeader {
		return 1
	}
	return int(min(hotRev(v), keepFirst+keepLast)) + 2
}

// traceSeqs returns the sequence numbers of the trace entries of a record
// at revision rev (entries 0 … rev-1, less those evicted).
func traceSeqs(rev uint64) []uint32 {
	var s []uint32
	for i := uint64(0); i < rev && i < keepFirst; i++ {
		s = append(s, uint32(i))
	}
	for i := max(keepFirst, int64(rev)-keepLast); i < int64(rev); i++ {
		s = append(s, uint32(i))
	}
	return s
}

// expiryGranularity rounds the expiry kept in the index up, so that the
// webhooks of a call within one interval do not rewrite its index entry.
// A record whose rounded expiry passed has expired.
var expiryGranularity int64 = 60e9

func indexTime(expiry int64) int64 {
	g := expiryGranularity
	return (expiry + g - 1) / g * g
}

// A hot value is an 8-byte expiry (unix nanoseconds) and an 8-byte
// revision, both big-endian, followed by the encoded session.
const hotHeader = 16

func hotValue(expiry int64, rev uint64, data []byte) []byte {
	v := make([]byte, hotHeader+len(data))
	binary.BigEndian.PutUint64(v, uint64(expiry))
	binary.BigEndian.PutUint64(v[8:], rev)
	copy(v[hotHeader:], data)
	return v
}

func hotExpiry(v []byte) int64 { return int64(binary.BigEndian.Uint64(v)) }
func hotRev(v []byte) uint64   { return binary.BigEndian.Uint64(v[8:]) }

// traceKey is prefix + id + 0x00 + big-endian seq: a call's entries are
// one contiguous key range, in order.
func traceKey(prefix string, id []byte, seq uint32) []byte {
	k := make([]byte, 0, len(prefix)+len(id)+5)
	k = append(k, prefix...)
	k = append(k, id...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, seq)
}

// indexKey is prefix + big-endian rounded expiry + id: the index is in
// expiry order, so a sweep reads only what expired.
func indexKey(prefix string, t int64, id []byte) []byte {
	k := make([]byte, 0, len(prefix)+8+len(id))
	k = append(k, prefix...)
	k = binary.BigEndian.AppendUint64(k, uint64(t))
	return append(k, id...)
}

// checkWrite decides a webhook's write from the stored hot value (nil when
// absent): the error to return, and whether a stale expired record must
// be cleared first.
func checkWrite(w *Webhook, old []byte) (stale bool, err error) {
	live := len(old) >= hotHeader && hotExpiry(old) >= w.Now
	if w.PrevRev == 0 {
		if live {
			return false, ErrExists
		}
		return len(old) >= hotHeader, nil
	}
	if !live {
		return false, ErrNotFound
	}
	if hotRev(old) != w.PrevRev {
		return false, ErrConflict
	}
	return false, nil
}

// diskSize returns the bytes of the files under dir: apparent size and
// allocated blocks.
func diskSize(dir string) (apparent, allocated int64) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		apparent += info.Size()
		allocated += allocatedBytes(info)
		return nil
	})
	return apparent, allocated
}
