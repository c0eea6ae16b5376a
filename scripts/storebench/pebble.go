package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// pebbleEngine keeps the same three kinds of record in one pebble key
// space, told apart by a prefix byte: "h"+id (hot), "t"+id+0x00+seq
// (trace), "x"+expiry+id (expiry index).
//
// A webhook's write is one pebble.Batch committed with pebble.Sync;
// pebble's WAL writer syncs the batches that queue up during one fsync
// together (group commit). Pebble has no conditional write, so the
// compare-and-set is made in the process: the writer of a call holds one
// of pebbleStripes mutexes, picked by a hash of the call id, from reading
// the revision until its batch is durable. That is correct because one
// process owns the store's folder (pebble locks it), and cheap because
// two webhooks of different calls share a stripe rarely.
type pebbleEngine struct {
	db       *pebble.DB
	cache    interface{ Unref() }
	dir      string
	seed     maphash.Seed
	stripes  [pebbleStripes]stripe
	rangeDel bool

	sweepMu   sync.Mutex
	sweepFrom []byte // index entries below this were swept

	stalls     atomic.Int64 // write stalls: too many memtables or L0 files
	stalledNs  atomic.Int64
	stallStart atomic.Int64
}

const pebbleStripes = 4096

// stripe serializes the writers of the calls that hash to it. writes
// counts the batches committed under it, so the sweep can tell, without
// waiting for the lock, that nothing was written since it read.
type stripe struct {
	sync.Mutex
	writes atomic.Uint64
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Errorf(string, ...any)     {}
func (quietLogger) Fatalf(f string, a ...any) { pebble.DefaultLogger.Fatalf(f, a...) }

// openPebble opens a store in dir. cacheMB sizes pebble's block cache;
// rangeDel makes the sweep drop a call's trace entries with one range
// deletion instead of one point deletion per entry.
func openPebble(dir string, cacheMB int, rangeDel bool) (*pebbleEngine, error) {
	cache := pebble.NewCache(int64(cacheMB) << 20)
	e := &pebbleEngine{cache: cache, dir: dir, seed: maphash.MakeSeed(), rangeDel: rangeDel}
	opts := &pebble.Options{
		Cache:              cache,
		FormatMajorVersion: pebble.FormatNewest,
		MemTableSize:       64 << 20,
		Logger:             quietLogger{},
		EventListener: &pebble.EventListener{
			WriteStallBegin: func(pebble.WriteStallBeginInfo) {
				e.stalls.Add(1)
				e.stallStart.Store(time.Now().UnixNano())
			},
			WriteStallEnd: func() { e.stalledNs.Add(time.Now().UnixNano() - e.stallStart.Load()) },
		},
	}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		cache.Unref()
		return nil, err
	}
	e.db = db
	return e, nil
}

func (e *pebbleEngine) Name() string { return "pebble" }
func (e *pebbleEngine) Dir() string  { return e.dir }

func (e *pebbleEngine) stripe(id []byte) int {
	return int(maphash.Bytes(e.seed, id) % pebbleStripes)
}

func hotKey(id []byte) []byte { return append([]byte{'h'}, id...) }

// get returns a copy of the value of key, or nil.
func (e *pebbleEngine) get(key []byte) ([]byte, error) {
	v, closer, err := e.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v = bytes.Clone(v)
	return v, closer.Close()
}

func (e *pebbleEngine) Get(id []byte, now int64) (uint64, []byte, bool, error) {
	v, err := e.get(hotKey(id))
	if err != nil || len(v) < hotHeader || hotExpiry(v) < now {
		return 0, nil, false, err
	}
	return hotRev(v), v[hotHeader:], true, nil
}

func (e *pebbleEngine) Write(w *Webhook) error {
	st := &e.stripes[e.stripe(w.ID)]
	st.Lock()
	defer st.Unlock()
	hk := hotKey(w.ID)
	old, err := e.get(hk)
	if err != nil {
		return err
	}
	stale, err := checkWrite(w, old)
	if err != nil {
		return err
	}
	b := e.db.NewBatch()
	defer b.Close()
	oldIndex := int64(-1)
	if stale {
		e.deleteSession(b, w.ID, old)
	} else if old != nil {
		oldIndex = indexTime(hotExpiry(old))
	}
	b.Set(hk, hotValue(w.Expiry, w.PrevRev+1, w.Hot), nil)
	b.Set(traceKey("t", w.ID, uint32(w.PrevRev)), w.Trace, nil)
	if seq, ok := evicted(w.PrevRev); ok {
		b.Delete(traceKey("t", w.ID, seq), nil)
	}
	if t := indexTime(w.Expiry); t != oldIndex {
		if oldIndex >= 0 {
			b.Delete(indexKey("x", oldIndex, w.ID), nil)
		}
		b.Set(indexKey("x", t, w.ID), nil, nil)
	}
	err = b.Commit(pebble.Sync)
	st.writes.Add(1)
	return err
}

// deleteSession adds to b the deletion of a session whose hot value is v.
func (e *pebbleEngine) deleteSession(b *pebble.Batch, id, v []byte) {
	if e.rangeDel {
		b.DeleteRange(traceKey("t", id, 0), append(append([]byte{'t'}, id...), 1), nil)
	} else {
		for _, s := range traceSeqs(hotRev(v)) {
			b.Delete(traceKey("t", id, s), nil)
		}
	}
	b.Delete(indexKey("x", indexTime(hotExpiry(v)), id), nil)
	b.Delete(hotKey(id), nil)
}

func (e *pebbleEngine) Load(batch []Loaded) error {
	b := e.db.NewBatch()
	defer b.Close()
	for _, l := range batch {
		b.Set(hotKey(l.ID), hotValue(l.Expiry, uint64(len(l.Traces)), l.Hot), nil)
		for _, s := range traceSeqs(uint64(len(l.Traces))) {
			b.Set(traceKey("t", l.ID, s), l.Traces[s], nil)
		}
		b.Set(indexKey("x", indexTime(l.Expiry), l.ID), nil, nil)
	}
	return b.Commit(pebble.NoSync)
}

// SweepBatch reads expired index entries and the hot records they name
// (up to maxRecords records to delete), noting the write count of each call's stripe. It then takes
// the stripes with TryLock, never waiting for a writer (which may be in
// an fsync) while holding others, and in one batch deletes the sessions
// whose stripe it got and that nothing wrote since it read them; the rest
// wait for the next batch. The batch is committed without its own fsync:
// a lost deletion of an expired record is harmless (the next sweep
// deletes it again), and the next synced webhook batch makes it durable
// anyway. The sweep starts where the last one stopped, so it does not
// walk over the tombstones of the entries it already deleted; index
// entries are only ever added ahead of it, as a webhook's expiry is
// later than any past sweep's time.
func (e *pebbleEngine) SweepBatch(now int64, maxRecords int) (int, int64, error) {
	e.sweepMu.Lock()
	defer e.sweepMu.Unlock()
	for {
		n, skipped, hold, err := e.sweepOnce(now, maxRecords)
		if n > 0 || skipped == 0 || err != nil {
			return n, hold, err
		}
		time.Sleep(100 * time.Microsecond) // every stripe wanted was busy
	}
}

func (e *pebbleEngine) sweepOnce(now int64, maxRecords int) (n, skipped int, hold int64, err error) {
	lower := []byte("x")
	if e.sweepFrom != nil {
		lower = e.sweepFrom
	}
	upper := indexKey("x", now, nil)
	if bytes.Compare(lower, upper) >= 0 {
		return 0, 0, 0, nil
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, 0, 0, err
	}
	type entry struct {
		key, hot []byte
		stripe   int
		writes   uint64
	}
	var entries []entry
	cost := 0
	for ok := it.First(); ok; ok = it.Next() {
		en := entry{key: bytes.Clone(it.Key())}
		id := en.key[9:]
		en.stripe = e.stripe(id)
		en.writes = e.stripes[en.stripe].writes.Load()
		if en.hot, err = e.get(hotKey(id)); err != nil {
			it.Close()
			return 0, 0, 0, err
		}
		c := sweepCost(en.hot)
		if len(entries) > 0 && cost+c > maxRecords {
			break
		}
		entries = append(entries, en)
		cost += c
	}
	if err := it.Close(); err != nil {
		return 0, 0, 0, err
	}
	if len(entries) == 0 {
		return 0, 0, 0, nil
	}
	var want []int
	for _, en := range entries {
		want = append(want, en.stripe)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	start := time.Now()
	locked := map[int]bool{}
	for _, s := range want {
		if e.stripes[s].TryLock() {
			locked[s] = true
		}
	}
	defer func() {
		for s := range locked {
			e.stripes[s].Unlock()
		}
	}()
	b := e.db.NewBatch()
	defer b.Close()
	var retry []byte
	for _, en := range entries {
		if !locked[en.stripe] || e.stripes[en.stripe].writes.Load() != en.writes {
			if retry == nil {
				retry = en.key
			}
			skipped++
			continue
		}
		id, v := en.key[9:], en.hot
		if len(v) >= hotHeader && hotExpiry(v) < now && indexTime(hotExpiry(v)) == int64(binary.BigEndian.Uint64(en.key[1:])) {
			e.deleteSession(b, id, v)
		} else {
			b.Delete(en.key, nil)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, 0, 0, err
	}
	hold = int64(time.Since(start))
	if retry != nil {
		e.sweepFrom = retry
	} else {
		e.sweepFrom = append(entries[len(entries)-1].key, 0)
	}
	return len(entries) - skipped, skipped, hold, nil
}

func (e *pebbleEngine) count(prefix byte) (int, error) {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		return 0, err
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n, it.Close()
}

func (e *pebbleEngine) Counts() (h, t, x int, err error) {
	if h, err = e.count('h'); err != nil {
		return
	}
	if t, err = e.count('t'); err != nil {
		return
	}
	x, err = e.count('x')
	return
}

func (e *pebbleEngine) Traces(id []byte) ([]uint32, error) {
	prefix := append(append([]byte{'t'}, id...), 0)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: append(append([]byte{'t'}, id...), 1)})
	if err != nil {
		return nil, err
	}
	var s []uint32
	for ok := it.First(); ok; ok = it.Next() {
		s = append(s, binary.BigEndian.Uint32(it.Key()[len(prefix):]))
	}
	return s, it.Close()
}

// Stalls returns the number of write stalls so far and their total time.
func (e *pebbleEngine) Stalls() (int64, time.Duration) {
	return e.stalls.Load(), time.Duration(e.stalledNs.Load())
}

// Busy reports whether flushes or compactions are running.
func (e *pebbleEngine) Busy() bool {
	m := e.db.Metrics()
	return m.Compact.NumInProgress > 0 || m.Flush.NumInProgress > 0
}

func (e *pebbleEngine) Close() error {
	err := e.db.Close()
	e.cache.Unref()
	return err
}
