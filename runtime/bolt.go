package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bolt is the default Store: an embedded bbolt file that survives restarts
// and needs no set-up. One process at a time may open the file; for
// several replicas use Redis.
//
// A value is a 17-byte header — expiry (unix nanoseconds), step, live —
// followed by the encoded session. Writes are group-committed: one
// goroutine commits whatever writes are waiting in one transaction, and
// the writes that arrive during that commit's fsync go together in the
// next. A lone webhook waits for one commit, a busy server's webhooks
// share them. (bbolt's Batch instead waits up to 10 ms for company before
// committing, which bounded throughput at connections / 10 ms.)
type Bolt struct {
	db   *bolt.DB
	now  func() time.Time
	stop chan struct{}
	done chan struct{}

	mu        sync.Mutex
	queue     []*boltWrite // waiting for the next commit
	closed    bool
	wake      chan struct{} // a write was queued
	committed chan struct{} // the committer has stopped
}

// boltWrite is one store write waiting to be committed. fn changes
// nothing when it returns an error, so one write's error (ErrExists,
// ErrConflict) fails only that write.
type boltWrite struct {
	fn       func(*bolt.Tx) error
	err      error
	panicked any // what fn panicked with, panicked again in the writer
	done     chan struct{}
}

// errPanicked rolls back a transaction in which a write panicked.
var errPanicked = errors.New("session store: a write panicked")

// run calls fn, catching a panic: the committer must survive it.
func (w *boltWrite) run(tx *bolt.Tx) error {
	defer func() {
		if p := recover(); p != nil {
			w.panicked, w.err = p, errPanicked
		}
	}()
	w.err = w.fn(tx)
	return nil
}

// maxGroup bounds the writes committed in one transaction.
const maxGroup = 1000

// The buckets. A call's keys outside its own record begin with the time
// the call was stored (its "created", in the record's header): a
// commit's new trace entries and index entries then land at the end of
// their trees, on a few pages, instead of one random page each.
var (
	bucketSessions = []byte("calls")    // call id → header, encoded call state
	bucketVersions = []byte("versions") // flow@version → header, source
	bucketTrace    = []byte("traces")   // created, call id, 0, sequence → entry
	// bucketExpiry indexes the calls by when they expire, rounded up to
	// the minute, then created and id, so a sweep reads only what
	// expired; the rounding spares a call's webhooks within one minute
	// from moving its entry.
	bucketExpiry = []byte("expiries")
	// bucketFormat marks a file of this layout (it holds nothing).
	bucketFormat = []byte("layout-2")
	// oldBuckets are those of an earlier layout, dropped at open.
	oldBuckets = [][]byte{[]byte("sessions"), []byte("trace"), []byte("expiry")}
)

// expiryRound is the granularity of the expiry index.
const expiryRound = int64(time.Minute)

// created returns the creation time in a stored value's header.
func created(v []byte) uint64 { return binary.BigEndian.Uint64(v[17:]) }

// expiryKey is a call's key in the expiry index, for a stored value.
func expiryKey(id string, v []byte) []byte {
	exp := int64(binary.BigEndian.Uint64(v))
	exp = (exp + expiryRound - 1) / expiryRound * expiryRound
	k := make([]byte, 16+len(id))
	binary.BigEndian.PutUint64(k, uint64(exp))
	binary.BigEndian.PutUint64(k[8:], created(v))
	copy(k[16:], id)
	return k
}

// putCall writes a call's value and moves its expiry index entry from
// the old value's expiry (old nil: none) to the new one's.
func putCall(tx *bolt.Tx, id string, old, v []byte) error {
	ix := tx.Bucket(bucketExpiry)
	nk := expiryKey(id, v)
	if len(old) >= boltHeader {
		if ok := expiryKey(id, old); !bytes.Equal(ok, nk) {
			if err := ix.Delete(ok); err != nil {
				return err
			}
			if err := ix.Put(nk, nil); err != nil {
				return err
			}
		}
	} else if err := ix.Put(nk, nil); err != nil {
		return err
	}
	return tx.Bucket(bucketSessions).Put([]byte(id), v)
}

// tracePrefix is the start of every trace key of a call.
func tracePrefix(id string, created uint64) []byte {
	k := make([]byte, 8, 8+len(id)+9)
	binary.BigEndian.PutUint64(k, created)
	k = append(k, id...)
	return append(k, 0)
}

// traceKey is the key of a call's trace entry: the call's entries are
// one range, in sequence order.
func traceKey(id string, created uint64, seq int) []byte {
	k := tracePrefix(id, created)
	return binary.BigEndian.AppendUint64(k, uint64(seq))
}

// putEntry applies a write's trace entry and drop, for a call stored with
// value v.
func putEntry(tx *bolt.Tx, id string, v []byte, rec Record) error {
	bk := tx.Bucket(bucketTrace)
	if rec.Drop > 0 {
		if err := bk.Delete(traceKey(id, created(v), rec.Drop)); err != nil {
			return err
		}
	}
	if rec.Entry == nil {
		return nil
	}
	return bk.Put(traceKey(id, created(v), rec.Seq), rec.Entry)
}

// forTrace calls fn with each trace entry of a call, in sequence order.
// (Another id may extend this one's prefix: only keys of exactly the
// prefix and a sequence are the call's.)
func forTrace(tx *bolt.Tx, id string, created uint64, fn func(k, v []byte)) {
	prefix := tracePrefix(id, created)
	c := tx.Bucket(bucketTrace).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) == len(prefix)+8 {
			fn(k, v)
		}
	}
}

// deleteTrace removes every trace entry of a call and returns how many.
func deleteTrace(tx *bolt.Tx, id string, created uint64) (int, error) {
	var keys [][]byte
	forTrace(tx, id, created, func(k, _ []byte) { keys = append(keys, append([]byte(nil), k...)) })
	bk := tx.Bucket(bucketTrace)
	for _, k := range keys {
		if err := bk.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// boltHeader is the header of a stored value: expiry (unix nanoseconds),
// revision, live, created (unix nanoseconds).
const boltHeader = 25

// OpenBolt opens or creates the store file, creating its folder.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("session store: %w", err)
	}
	// The freelist is rebuilt when the file opens rather than written by
	// every commit (as etcd runs bbolt): after a million calls expire,
	// writing it made every commit write megabytes. The map freelist finds
	// free pages in constant time.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		if err == berrors.ErrTimeout {
			return nil, fmt.Errorf("session store %s is locked by another flowd process; give each process its own --store, or share a redis:// store", path)
		}
		return nil, fmt.Errorf("session store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range oldBuckets {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
		}
		if tx.Bucket(bucketFormat) == nil && tx.Bucket(bucketVersions) != nil {
			// Versions of the earlier layout have a shorter header.
			if err := tx.DeleteBucket(bucketVersions); err != nil {
				return err
			}
		}
		for _, name := range [][]byte{bucketSessions, bucketVersions, bucketTrace, bucketExpiry, bucketFormat} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	b := &Bolt{db: db, now: time.Now, stop: make(chan struct{}), done: make(chan struct{}),
		wake: make(chan struct{}, 1), committed: make(chan struct{})}
	go b.sweepEvery(time.Minute)
	go b.commitLoop()
	return b, nil
}

var boltWrites = sync.Pool{New: func() any { return &boltWrite{done: make(chan struct{}, 1)} }}

// write runs fn in a read-write transaction shared with the writes queued
// alongside it, and returns once that transaction is durably committed.
func (b *Bolt) write(fn func(*bolt.Tx) error) error {
	w := boltWrites.Get().(*boltWrite)
	w.fn, w.err = fn, nil
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		boltWrites.Put(w)
		return berrors.ErrDatabaseNotOpen
	}
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	<-w.done
	err, p := w.err, w.panicked
	w.fn, w.err, w.panicked = nil, nil, nil
	boltWrites.Put(w)
	if p != nil {
		panic(p)
	}
	return err
}

// commitLoop commits queued writes until the store closes, then commits
// what is left.
func (b *Bolt) commitLoop() {
	defer close(b.committed)
	var group []*boltWrite
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxGroup)
		group = append(group[:0], b.queue[:n]...)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		closed := b.closed
		b.mu.Unlock()
		if n > 0 {
			b.commit(group)
			clear(group)
			continue
		}
		if closed {
			return
		}
		<-b.wake
	}
}

// commit runs a group of writes in one transaction. A write whose fn
// returns an error is left out (it changed nothing); a transaction that
// fails as a whole, or in which a write panicked, is rolled back and each
// write retried in a transaction of its own, so one bad write cannot fail
// the others (as bbolt's Batch does).
func (b *Bolt) commit(group []*boltWrite) {
	err := b.db.Update(func(tx *bolt.Tx) error {
		for _, w := range group {
			w.run(tx)
			if w.panicked != nil {
				return errPanicked
			}
		}
		return nil
	})
	if err != nil && len(group) > 1 {
		for _, w := range group {
			w.err, w.panicked = nil, nil
			err := b.db.Update(func(tx *bolt.Tx) error {
				w.run(tx)
				if w.panicked != nil {
					return errPanicked
				}
				return nil
			})
			if err != nil && w.err == nil {
				w.err = err
			}
		}
	} else if err != nil && group[0].err == nil {
		group[0].err = err
	}
	for _, w := range group {
		w.done <- struct{}{}
	}
}

// Path returns the file the store lives in.
func (b *Bolt) Path() string { return b.db.Path() }

func (b *Bolt) sweepEvery(d time.Duration) {
	defer close(b.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Sweep()
		}
	}
}

// sweepBatchBolt is how many records (calls, their trace entries and
// index entries) one sweep write deletes at most: each batch is one write
// of the group commit, so webhooks queue behind a few hundred deletions,
// never behind a whole sweep (docs/store-engines.md measured it).
const sweepBatchBolt = 900

// Sweep deletes expired calls with their traces, and expired versions.
// Its space is used again by the next writes.
func (b *Bolt) Sweep() error {
	now := b.now().UnixNano()
	for {
		more := false
		err := b.write(func(tx *bolt.Tx) error {
			ix, sessions := tx.Bucket(bucketExpiry), tx.Bucket(bucketSessions)
			deleted := 0
			for deleted < sweepBatchBolt {
				k, _ := ix.Cursor().First()
				if len(k) < 16 || int64(binary.BigEndian.Uint64(k)) >= now {
					return nil
				}
				k = append([]byte(nil), k...)
				id := k[16:]
				if v := sessions.Get(id); len(v) >= boltHeader && int64(binary.BigEndian.Uint64(v)) < now {
					n, err := deleteTrace(tx, string(id), created(v))
					if err != nil {
						return err
					}
					if err := sessions.Delete(id); err != nil {
						return err
					}
					deleted += 1 + n
				} else if len(v) >= boltHeader {
					// Alive after all (an index entry left behind): index it
					// where it now expires.
					if err := ix.Put(expiryKey(string(id), v), nil); err != nil {
						return err
					}
				}
				if err := ix.Delete(k); err != nil {
					return err
				}
				deleted++
			}
			more = true
			return nil
		})
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return b.write(func(tx *bolt.Tx) error {
		var expired [][]byte
		c := tx.Bucket(bucketVersions).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) >= 8 && int64(binary.BigEndian.Uint64(v)) < now {
				expired = append(expired, append([]byte(nil), k...))
			}
		}
		for _, k := range expired {
			if err := tx.Bucket(bucketVersions).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *Bolt) encode(rec Record, ttl time.Duration) []byte {
	v := make([]byte, boltHeader+len(rec.Data))
	binary.BigEndian.PutUint64(v, uint64(b.now().Add(ttl).UnixNano()))
	binary.BigEndian.PutUint64(v[8:], uint64(rec.Rev))
	if rec.Live {
		v[16] = 1
	}
	binary.BigEndian.PutUint64(v[17:], uint64(b.now().UnixNano()))
	copy(v[boltHeader:], rec.Data)
	return v
}

// decode reads a stored value; ok is false when it expired.
func (b *Bolt) decode(v []byte) (Record, bool) {
	if len(v) < boltHeader || int64(binary.BigEndian.Uint64(v)) < b.now().UnixNano() {
		return Record{}, false
	}
	data := make([]byte, len(v)-boltHeader)
	copy(data, v[boltHeader:])
	return Record{Rev: int(binary.BigEndian.Uint64(v[8:])), Live: v[16] == 1, Data: data}, true
}

// Get implements Store.
func (b *Bolt) Get(_ context.Context, id string) (Record, error) {
	var rec Record
	ok := false
	err := b.db.View(func(tx *bolt.Tx) error {
		rec, ok = b.decode(tx.Bucket(bucketSessions).Get([]byte(id)))
		return nil
	})
	if err != nil {
		return Record{}, err
	}
	if !ok {
		return Record{}, ErrNotFound
	}
	return rec, nil
}

// Create implements Store.
func (b *Bolt) Create(_ context.Context, id string, rec Record, ttl time.Duration) error {
	v := b.encode(rec, ttl)
	return b.write(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketSessions)
		old := bk.Get([]byte(id))
		if len(old) >= boltHeader && int64(binary.BigEndian.Uint64(old)) >= b.now().UnixNano() {
			return ErrExists
		}
		if len(old) >= boltHeader {
			// An expired call with this id not swept yet: its trace goes.
			if _, err := deleteTrace(tx, id, created(old)); err != nil {
				return err
			}
		}
		if err := putCall(tx, id, old, v); err != nil {
			return err
		}
		return putEntry(tx, id, v, rec)
	})
}

// Update implements Store.
func (b *Bolt) Update(_ context.Context, id string, prevRev int, rec Record, ttl time.Duration) error {
	v := b.encode(rec, ttl)
	return b.write(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketSessions)
		old := bk.Get([]byte(id))
		if len(old) < boltHeader || int64(binary.BigEndian.Uint64(old)) < b.now().UnixNano() {
			return ErrNotFound
		}
		if int(binary.BigEndian.Uint64(old[8:])) != prevRev {
			return ErrConflict
		}
		binary.BigEndian.PutUint64(v[17:], created(old)) // a call keeps its creation time
		if err := putCall(tx, id, old, v); err != nil {
			return err
		}
		return putEntry(tx, id, v, rec)
	})
}

// Trace implements Store.
func (b *Bolt) Trace(_ context.Context, id string) ([][]byte, error) {
	var out [][]byte
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(id))
		if _, ok := b.decode(v); !ok {
			return nil
		}
		forTrace(tx, id, created(v), func(_, e []byte) { out = append(out, append([]byte(nil), e...)) })
		return nil
	})
	return out, err
}

// PutVersion implements Store.
func (b *Bolt) PutVersion(_ context.Context, flowName, version string, src []byte, ttl time.Duration) error {
	v := b.encode(Record{Data: src}, ttl)
	return b.write(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVersions).Put([]byte(flowName+"@"+version), v)
	})
}

// GetVersion implements Store.
func (b *Bolt) GetVersion(_ context.Context, flowName, version string) ([]byte, error) {
	var rec Record
	ok := false
	err := b.db.View(func(tx *bolt.Tx) error {
		rec, ok = b.decode(tx.Bucket(bucketVersions).Get([]byte(flowName + "@" + version)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return rec.Data, nil
}

// Live implements Store.
func (b *Bolt) Live(context.Context) (int, error) {
	n := 0
	now := b.now().UnixNano()
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(_, v []byte) error {
			if len(v) >= boltHeader && int64(binary.BigEndian.Uint64(v)) >= now && v[16] == 1 {
				n++
			}
			return nil
		})
	})
	return n, err
}

// Ping implements Store: a read transaction that finds the store's
// buckets, so a closed or unusable file is reported; and a store closed
// for writes says so.
func (b *Bolt) Ping(context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return fmt.Errorf("%s: %w", b.db.Path(), berrors.ErrDatabaseNotOpen)
	}
	err := b.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSessions) == nil {
			return errors.New("the sessions bucket is missing")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", b.db.Path(), err)
	}
	return nil
}

// Close stops the sweeper, commits the writes already queued, refuses
// new ones and closes the file.
func (b *Bolt) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
		<-b.done
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		select {
		case b.wake <- struct{}{}:
		default:
		}
		<-b.committed
	}
	return b.db.Close()
}
