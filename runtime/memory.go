package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Memory is a Store in this process's memory: fast, and gone when the
// process stops. For tests, development and single-process deployments
// that accept losing live calls on a restart.
//
// A call costs the garbage collector nothing: its id, state and trace
// entries are blocks of a slab (large chunks without pointers), found
// through a table of plain numbers and an index from the id's hash to
// the table. So a million calls do not make each GC cycle visit a million
// objects, and the chunks of expired calls are given back.
type Memory struct {
	mu    sync.RWMutex
	seed  maphash.Seed
	index memIndex // hash of the id → slot
	// collided holds the slots of ids whose hash another stored id has
	// (64-bit hashes: practically never).
	collided map[string]uint32
	slots    memSlots
	free     []uint32 // unused slots
	slab     slab
	versions map[string]memVersion // flow versions and refs: few
	now      func() time.Time
	// rest pauses Sweep between batches (time.Sleep of sweepRest).
	rest func()
	stop chan struct{}
	// swept is closed when the periodic sweep has stopped (Close waits
	// for it: a sweep must not read the slots once the chunks go).
	swept chan struct{}
	once  sync.Once
}

// memSlot is a stored call. It holds no pointers.
type memSlot struct {
	used    bool
	live    bool
	hash    uint64
	rev     int64
	expires int64 // unix nanoseconds
	// data holds the id's length (2 bytes), the id, then the record's data.
	data blockRef
	// trace is a table of the call's entries, memEntrySize bytes each
	// (sequence, block), ntrace of them.
	trace  blockRef
	ntrace uint32
	// lsn is the journal's number of the record's last write (0 in a
	// memory store): replaying a journal skips what a snapshot holds.
	lsn uint64
}

const memEntrySize = 16

// memSlots is the table of slots, in pages of slotPage: it grows a page
// at a time, where a slice would be copied whole at each doubling (some
// megabytes, freshly faulted in, under the store's lock: a webhook stall
// of milliseconds). Each page is a slab chunk (slab.table), outside the
// Go heap where the slab's chunks are: a million calls' slots (72 MB)
// would otherwise set the collector's pace (a cycle every 72 MB of
// garbage, each allocating on pages the heap had not used) and the
// memory reserve would not cover them.
type memSlots struct {
	pages [][]memSlot
	n     int
}

// slotPage is how many slots a page, one slab chunk, holds.
const slotPage = slabChunkSize / int(unsafe.Sizeof(memSlot{}))

// at returns slot i (i < n).
func (t *memSlots) at(i uint32) *memSlot {
	return &t.pages[i/uint32(slotPage)][i%uint32(slotPage)]
}

// add appends a slot, taking a new page from sl when the last is full,
// and returns its number. The slot holds whatever its bytes held (a
// reserved chunk's last use's): the caller sets it whole before it
// unlocks the store.
func (t *memSlots) add(sl *slab) uint32 {
	if t.n == len(t.pages)*slotPage {
		b := sl.table()
		// Not cleared: a cold chunk's 64 pages would all fault in at
		// once, under the store's lock. Slots past n are never read.
		page := unsafe.Slice((*memSlot)(unsafe.Pointer(unsafe.SliceData(b))), slotPage)
		t.pages = append(t.pages, page)
	}
	t.n++
	return uint32(t.n - 1)
}

type memVersion struct {
	src     []byte
	expires time.Time
	lsn     uint64 // as memSlot's
}

// NewMemory returns an empty memory store that sweeps expired records
// once a minute.
func NewMemory() *Memory {
	m := &Memory{seed: maphash.MakeSeed(), versions: map[string]memVersion{}, now: time.Now, rest: sweepPause, stop: make(chan struct{}), swept: make(chan struct{})}
	initSlab(&m.slab, m)
	go m.sweepEvery(time.Minute)
	return m
}

func sweepPause() { time.Sleep(sweepRest) }

// pacer makes a scan of every slot rest now and then (see Sweep).
type pacer struct {
	since time.Time
	rest  func()
}

func (m *Memory) pacer() pacer { return pacer{since: time.Now(), rest: m.rest} }

// pace rests if the scan has worked for sweepWork since it last did.
func (p *pacer) pace() {
	if time.Since(p.since) >= sweepWork {
		p.rest()
		p.since = time.Now()
	}
}

func (m *Memory) sweepEvery(d time.Duration) {
	defer close(m.swept)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.Sweep()
		}
	}
}

// Sweep works in batches under the store's lock: at most sweepBatch
// slots looked at, or sweepRemoves calls removed (a removal gives back a
// call's blocks, about a microsecond; the chunks they empty go back to
// the system after the unlock, slab.deferred), so no webhook waits long
// for the lock. Between batches it rests for sweepRest once it has worked for
// sweepWork (a pacer), and so does Live, which reads every slot too.
// The rest matters where flowd serve runs, on one processor: a goroutine
// that only unlocks keeps the processor until the runtime preempts it
// (10 ms), and one that yields goes back on the run queue ahead of the
// network poller, so webhooks whose requests arrived meanwhile wait
// either way; while it sleeps, the scheduler polls the network and runs
// them. When its sleep ends it runs next, ahead of the webhooks queued,
// so it rests as long as it works: on a busy server a sweep then takes
// at most half the processor. Sweeping a million calls on one processor (BenchmarkSweep), the
// longest another goroutine waited for it went from 5.4 to 1.7 ms with
// none expired and from 22 to 6 ms with all expired.
const (
	sweepBatch   = 4096
	sweepRemoves = 128
	sweepWork    = 500 * time.Microsecond
	sweepRest    = 500 * time.Microsecond
)

// Sweep removes expired records and gives their memory back. It stops
// early once the store is closed.
func (m *Memory) Sweep() {
	t := m.now()
	now, p := t.UnixNano(), m.pacer()
	for next := 0; ; {
		select {
		case <-m.stop:
			return
		default:
		}
		m.mu.Lock()
		if next >= m.slots.n {
			m.mu.Unlock()
			break
		}
		end, removed := min(next+sweepBatch, m.slots.n), 0
		m.slab.deferred = true // chunks given back after the unlock
		for ; next < end && removed < sweepRemoves; next++ {
			if s := m.slots.at(uint32(next)); s.used && now > s.expires {
				m.remove(uint32(next))
				removed++
			}
		}
		m.slab.deferred = false
		retired := m.slab.retired
		m.slab.retired = nil
		m.mu.Unlock()
		for _, b := range retired {
			freeChunk(b)
		}
		p.pace()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.versions {
		if t.After(v.expires) {
			delete(m.versions, k)
		}
	}
}

// find returns the slot of a stored id, expired or not.
func (m *Memory) find(id string) (uint32, bool) {
	i, ok, _ := m.findHash(id, maphash.String(m.seed, id))
	return i, ok
}

// findHash is find for an id whose hash is h; indexed reports whether
// the index holds h, for this id or another.
func (m *Memory) findHash(id string, h uint64) (i uint32, ok, indexed bool) {
	if i, indexed = m.index.get(h, &m.slots); indexed && m.id(m.slots.at(i)) == id {
		return i, true, true
	}
	i, ok = m.collided[id]
	return i, ok, indexed
}

// get returns the slot of a stored, unexpired id.
func (m *Memory) get(id string) (*memSlot, bool) {
	i, ok := m.find(id)
	if !ok || m.now().UnixNano() > m.slots.at(i).expires {
		return nil, false
	}
	return m.slots.at(i), true
}

// id returns the id a slot holds (no copy: compare it, or copy it).
func (m *Memory) id(s *memSlot) string {
	b := m.slab.bytes(s.data)
	n := int(binary.LittleEndian.Uint16(b))
	return unsafe.String(unsafe.SliceData(b[2:]), n)
}

// record returns the data a slot holds.
func (m *Memory) record(s *memSlot) []byte {
	b := m.slab.bytes(s.data)
	return b[2+int(binary.LittleEndian.Uint16(b)):]
}

// putData stores an id and a record's data in one block.
func (m *Memory) putData(id string, data []byte) blockRef {
	ref := m.slab.alloc(2 + len(id) + len(data))
	b := m.slab.bytes(ref)
	binary.LittleEndian.PutUint16(b, uint16(len(id)))
	copy(b[2+copy(b[2:], id):], data)
	return ref
}

// remove frees a slot and everything it holds.
func (m *Memory) remove(i uint32) {
	s := m.slots.at(i)
	if !m.index.del(s.hash, i) {
		delete(m.collided, m.id(s)) // before the slot's bytes are freed
	}
	m.clearTrace(s)
	m.slab.free(s.data)
	*s = memSlot{}
	m.free = append(m.free, i)
}

func (m *Memory) clearTrace(s *memSlot) {
	if s.trace.n == 0 { // no table
		return
	}
	tab := m.slab.bytes(s.trace)
	for k := range int(s.ntrace) {
		m.slab.free(readEntryRef(tab[k*memEntrySize:]))
	}
	m.slab.free(s.trace)
	s.trace, s.ntrace = blockRef{}, 0
}

func writeEntry(b []byte, seq int, r blockRef) {
	binary.LittleEndian.PutUint32(b, uint32(seq))
	b[4] = r.class
	binary.LittleEndian.PutUint16(b[6:], r.block)
	binary.LittleEndian.PutUint32(b[8:], r.chunk)
	binary.LittleEndian.PutUint32(b[12:], r.n)
}

func readEntrySeq(b []byte) int { return int(binary.LittleEndian.Uint32(b)) }

func readEntryRef(b []byte) blockRef {
	return blockRef{class: b[4], block: binary.LittleEndian.Uint16(b[6:]), chunk: binary.LittleEndian.Uint32(b[8:]), n: binary.LittleEndian.Uint32(b[12:])}
}

// appendEntry applies a write's trace entry and drop to a slot.
func (m *Memory) appendEntry(s *memSlot, rec Record) {
	if rec.Drop > 0 && s.ntrace > 0 {
		tab := m.slab.bytes(s.trace)
		for k := range int(s.ntrace) {
			if readEntrySeq(tab[k*memEntrySize:]) == rec.Drop {
				m.slab.free(readEntryRef(tab[k*memEntrySize:]))
				copy(tab[k*memEntrySize:], tab[(k+1)*memEntrySize:])
				s.ntrace--
				break
			}
		}
	}
	if rec.Entry == nil {
		return
	}
	need := int(s.ntrace+1) * memEntrySize
	if s.trace.n == 0 || need > int(s.trace.n) {
		// A table twice the size: appends cost the same on average.
		grown := m.slab.alloc(max(need*2, 4*memEntrySize))
		if s.trace.n != 0 {
			copy(m.slab.bytes(grown), m.slab.bytes(s.trace)[:int(s.ntrace)*memEntrySize])
			m.slab.free(s.trace)
		}
		s.trace = grown
	}
	tab := m.slab.bytes(s.trace)
	writeEntry(tab[int(s.ntrace)*memEntrySize:], rec.Seq, m.slab.put(rec.Entry))
	s.ntrace++
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, id string) (Record, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.get(id)
	if !ok {
		return Record{}, ErrNotFound
	}
	return Record{Rev: int(s.rev), Live: s.live, Data: append([]byte(nil), m.record(s)...)}, nil
}

// Create implements Store.
func (m *Memory) Create(_ context.Context, id string, rec Record, ttl time.Duration) error {
	if len(id) > math.MaxUint16 {
		return fmt.Errorf("memory store: a call id of %d bytes", len(id))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.create(id, rec, m.now().Add(ttl).UnixNano())
	return err
}

// create stores a new call unless an unexpired one has the id, with m.mu
// held, and returns its slot.
func (m *Memory) create(id string, rec Record, expires int64) (*memSlot, error) {
	// The id is hashed, and the index searched, once: a new call's id is
	// in no slot, and what the search found says where it goes.
	h := maphash.String(m.seed, id)
	i, ok, taken := m.findHash(id, h)
	if ok {
		if m.now().UnixNano() <= m.slots.at(i).expires {
			return nil, ErrExists
		}
		m.remove(i) // an expired call with this id, not swept yet
		_, taken = m.index.get(h, &m.slots)
	}
	if n := len(m.free); n > 0 {
		i, m.free = m.free[n-1], m.free[:n-1]
	} else {
		i = m.slots.add(&m.slab)
	}
	s := m.slots.at(i)
	*s = memSlot{used: true, live: rec.Live, hash: h, rev: int64(rec.Rev), expires: expires,
		data: m.putData(id, rec.Data)}
	if taken {
		if m.collided == nil {
			m.collided = map[string]uint32{}
		}
		m.collided[strings.Clone(id)] = i
	} else {
		m.index.put(h, i, &m.slab)
	}
	m.appendEntry(s, rec)
	return s, nil
}

// Update implements Store.
func (m *Memory) Update(_ context.Context, id string, prevRev int, rec Record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.get(id)
	if !ok {
		return ErrNotFound
	}
	if int(s.rev) != prevRev {
		return ErrConflict
	}
	m.update(s, id, rec, m.now().Add(ttl).UnixNano())
	return nil
}

// update writes a stored call's new record, with m.mu held.
func (m *Memory) update(s *memSlot, id string, rec Record, expires int64) {
	head := 2 + len(id)
	if s.data.class != slabBig && cap(m.slab.bytes(s.data)) >= head+len(rec.Data) {
		// The state fits its block: write it in place.
		s.data.n = uint32(head + len(rec.Data))
		copy(m.slab.bytes(s.data)[head:], rec.Data)
	} else {
		m.slab.free(s.data)
		s.data = m.putData(id, rec.Data)
	}
	s.rev, s.live, s.expires = int64(rec.Rev), rec.Live, expires
	m.appendEntry(s, rec)
}

// Trace implements Store.
func (m *Memory) Trace(_ context.Context, id string) ([][]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.get(id)
	if !ok || s.ntrace == 0 {
		return nil, nil
	}
	tab := m.slab.bytes(s.trace)
	out := make([][]byte, s.ntrace)
	for k := range out {
		out[k] = append([]byte(nil), m.slab.bytes(readEntryRef(tab[k*memEntrySize:]))...)
	}
	return out, nil
}

// PutVersion implements Store.
func (m *Memory) PutVersion(_ context.Context, flowName, version string, src []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.versions[flowName+"@"+version] = memVersion{src: append([]byte(nil), src...), expires: m.now().Add(ttl)}
	return nil
}

// GetVersion implements Store.
func (m *Memory) GetVersion(_ context.Context, flowName, version string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.versions[flowName+"@"+version]
	if !ok || m.now().After(v.expires) {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v.src...), nil
}

// Live implements Store. It counts sweepBatch slots per read lock, so a
// /metrics scrape of a million calls never holds writes up for long, and
// rests as Sweep does.
func (m *Memory) Live(context.Context) (int, error) {
	n := 0
	now, p := m.now().UnixNano(), m.pacer()
	for start := 0; ; start += sweepBatch {
		m.mu.RLock()
		if start >= m.slots.n {
			m.mu.RUnlock()
			return n, nil
		}
		for i := start; i < min(start+sweepBatch, m.slots.n); i++ {
			if s := m.slots.at(uint32(i)); s.used && s.live && now <= s.expires {
				n++
			}
		}
		m.mu.RUnlock()
		p.pace()
	}
}

// Ping implements Store: memory is always there, until Close.
func (m *Memory) Ping(context.Context) error {
	select {
	case <-m.stop:
		return errMemoryClosed
	default:
		return nil
	}
}

var errMemoryClosed = errors.New("memory store is closed")

// Close stops the periodic sweep and waits for it to end; a sweep under
// way stops at its next batch.
func (m *Memory) Close() error {
	m.once.Do(func() { close(m.stop) })
	<-m.swept // a sweep under way stops at its next batch
	return nil
}
