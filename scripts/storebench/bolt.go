package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltEngine keeps hot records, trace entries and the expiry index in
// three buckets of one bbolt file. Writes are group-committed as in
// runtime/bolt.go: one goroutine runs every write waiting in one Update
// transaction (one commit, one fsync pair), and the writes that arrive
// meanwhile go in the next. The compare-and-set reads the revision inside
// that transaction, so two writers of one call cannot both win.
type boltEngine struct {
	db  *bolt.DB
	dir string

	mu        sync.Mutex
	queue     []*boltWrite
	closed    bool
	wake      chan struct{}
	committed chan struct{}
}

type boltWrite struct {
	fn   func(*bolt.Tx) error
	err  error
	done chan struct{}
}

const boltMaxGroup = 1000

var (
	bucketHot   = []byte("hot")
	bucketTrace = []byte("trace")
	bucketIndex = []byte("expiry")
)

// boltOptions are the options runtime/bolt.go opens its file with.
// noFreelistSync and the map freelist are what etcd runs with: the
// freelist is not written on every commit but rebuilt by a scan on open.
func openBolt(dir string, noFreelistSync bool) (*boltEngine, error) {
	opts := &bolt.Options{Timeout: 2 * time.Second}
	if noFreelistSync {
		opts.NoFreelistSync = true
		opts.FreelistType = bolt.FreelistMapType
	}
	db, err := bolt.Open(filepath.Join(dir, "sessions.db"), 0o600, opts)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketHot, bucketTrace, bucketIndex} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	e := &boltEngine{db: db, dir: dir, wake: make(chan struct{}, 1), committed: make(chan struct{})}
	go e.commitLoop()
	return e, nil
}

func (e *boltEngine) Name() string { return "bolt" }
func (e *boltEngine) Dir() string  { return e.dir }

var boltWrites = sync.Pool{New: func() any { return &boltWrite{done: make(chan struct{}, 1)} }}

// write runs fn in a transaction shared with the writes queued alongside
// it and returns once that transaction is committed. fn must change
// nothing when it returns an error.
func (e *boltEngine) write(fn func(*bolt.Tx) error) error {
	w := boltWrites.Get().(*boltWrite)
	w.fn, w.err = fn, nil
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errors.New("store closed")
	}
	e.queue = append(e.queue, w)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	<-w.done
	err := w.err
	w.fn, w.err = nil, nil
	boltWrites.Put(w)
	return err
}

func (e *boltEngine) commitLoop() {
	defer close(e.committed)
	var group []*boltWrite
	for {
		e.mu.Lock()
		n := min(len(e.queue), boltMaxGroup)
		group = append(group[:0], e.queue[:n]...)
		rest := copy(e.queue, e.queue[n:])
		clear(e.queue[rest:])
		e.queue = e.queue[:rest]
		closed := e.closed
		e.mu.Unlock()
		if n > 0 {
			e.commit(group)
			clear(group)
			continue
		}
		if closed {
			return
		}
		<-e.wake
	}
}

// commit runs a group in one transaction; when the transaction fails as a
// whole each write is retried alone, so one cannot fail the others.
func (e *boltEngine) commit(group []*boltWrite) {
	err := e.db.Update(func(tx *bolt.Tx) error {
		for _, w := range group {
			w.err = w.fn(tx)
		}
		return nil
	})
	if err != nil && len(group) > 1 {
		for _, w := range group {
			if err := e.db.Update(func(tx *bolt.Tx) error { w.err = w.fn(tx); return nil }); err != nil && w.err == nil {
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

func (e *boltEngine) Get(id []byte, now int64) (uint64, []byte, bool, error) {
	var rev uint64
	var data []byte
	ok := false
	err := e.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketHot).Get(id)
		if len(v) < hotHeader || hotExpiry(v) < now {
			return nil
		}
		rev, data, ok = hotRev(v), bytes.Clone(v[hotHeader:]), true
		return nil
	})
	return rev, data, ok, err
}

func (e *boltEngine) Write(w *Webhook) error {
	v := hotValue(w.Expiry, w.PrevRev+1, w.Hot)
	tk := traceKey("", w.ID, uint32(w.PrevRev))
	return e.write(func(tx *bolt.Tx) error {
		hot, trace, index := tx.Bucket(bucketHot), tx.Bucket(bucketTrace), tx.Bucket(bucketIndex)
		old := hot.Get(w.ID)
		stale, err := checkWrite(w, old)
		if err != nil {
			return err
		}
		oldIndex := int64(-1)
		if stale {
			if err := boltDeleteSession(tx, w.ID, old); err != nil {
				return err
			}
		} else if old != nil {
			oldIndex = indexTime(hotExpiry(old))
		}
		if err := hot.Put(w.ID, v); err != nil {
			return err
		}
		if err := trace.Put(tk, w.Trace); err != nil {
			return err
		}
		if seq, ok := evicted(w.PrevRev); ok {
			if err := trace.Delete(traceKey("", w.ID, seq)); err != nil {
				return err
			}
		}
		if t := indexTime(w.Expiry); t != oldIndex {
			if oldIndex >= 0 {
				if err := index.Delete(indexKey("", oldIndex, w.ID)); err != nil {
					return err
				}
			}
			return index.Put(indexKey("", t, w.ID), nil)
		}
		return nil
	})
}

// boltDeleteSession deletes a session whose hot value is v, its trace
// entries and its index entry.
func boltDeleteSession(tx *bolt.Tx, id, v []byte) error {
	exp, rev := hotExpiry(v), hotRev(v)
	trace := tx.Bucket(bucketTrace)
	for _, s := range traceSeqs(rev) {
		if err := trace.Delete(traceKey("", id, s)); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketIndex).Delete(indexKey("", indexTime(exp), id)); err != nil {
		return err
	}
	return tx.Bucket(bucketHot).Delete(id)
}

func (e *boltEngine) Load(batch []Loaded) error {
	return e.write(func(tx *bolt.Tx) error {
		hot, trace, index := tx.Bucket(bucketHot), tx.Bucket(bucketTrace), tx.Bucket(bucketIndex)
		for _, l := range batch {
			if err := hot.Put(l.ID, hotValue(l.Expiry, uint64(len(l.Traces)), l.Hot)); err != nil {
				return err
			}
			for _, s := range traceSeqs(uint64(len(l.Traces))) {
				if err := trace.Put(traceKey("", l.ID, s), l.Traces[s]); err != nil {
					return err
				}
			}
			if err := index.Put(indexKey("", indexTime(l.Expiry), l.ID), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// SweepBatch deletes expired sessions in one write of the group commit: it shares a commit (and its fsync) with the webhooks
// queued beside it and holds the writer only for its own deletions.
func (e *boltEngine) SweepBatch(now int64, maxRecords int) (int, int64, error) {
	taken := 0
	var hold int64
	err := e.write(func(tx *bolt.Tx) error {
		start := time.Now()
		defer func() { hold = int64(time.Since(start)) }()
		hot, index := tx.Bucket(bucketHot), tx.Bucket(bucketIndex)
		var keys [][]byte
		defer func() { taken = len(keys) }()
		c := index.Cursor()
		cost := 0
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k)) >= now {
				break
			}
			n := sweepCost(hot.Get(k[8:]))
			if len(keys) > 0 && cost+n > maxRecords {
				break
			}
			keys = append(keys, bytes.Clone(k))
			cost += n
		}
		for _, k := range keys {
			id := k[8:]
			if v := hot.Get(id); len(v) >= hotHeader && hotExpiry(v) < now && indexTime(hotExpiry(v)) == int64(binary.BigEndian.Uint64(k)) {
				if err := boltDeleteSession(tx, id, v); err != nil {
					return err
				}
				continue
			}
			// A stale index entry: the record moved on or is gone.
			if err := index.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return taken, hold, err
}

func (e *boltEngine) Counts() (h, t, x int, err error) {
	err = e.db.View(func(tx *bolt.Tx) error {
		h = tx.Bucket(bucketHot).Stats().KeyN
		t = tx.Bucket(bucketTrace).Stats().KeyN
		x = tx.Bucket(bucketIndex).Stats().KeyN
		return nil
	})
	return
}

func (e *boltEngine) Traces(id []byte) ([]uint32, error) {
	var s []uint32
	prefix := append(bytes.Clone(id), 0)
	err := e.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTrace).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			s = append(s, binary.BigEndian.Uint32(k[len(prefix):]))
		}
		return nil
	})
	return s, err
}

// FreePages reports the file's free and pending pages.
func (e *boltEngine) FreePages() (free, pending int) {
	st := e.db.Stats()
	return st.FreePageN, st.PendingPageN
}

func (e *boltEngine) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	<-e.committed
	return e.db.Close()
}
