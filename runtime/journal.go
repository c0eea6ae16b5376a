package runtime

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Journal is the durable default Store: the memory store's tables, with
// every write also appended to a journal on disk and flushed to the disk
// (fdatasync) before it is acknowledged. One goroutine writes whatever
// has been appended since its last flush with one write and one flush, so
// a busy server's webhooks share them (group commit) and a lone webhook
// waits for one flush.
//
// The journal is a folder:
//
//	LOCK                    held (flock) by the process that has it open
//	0000000000000007.log    segments: records in the order they were applied
//	0000000000000007.snap   a snapshot: every call, version and reference
//	                        as it was when segment 7 was started, which
//	                        replaces the segments before 7
//
// Opening it loads the newest complete snapshot and replays the segments
// from its number on. A record is framed by its length and a CRC-32C
// seeded with its file's number (segments a snapshot replaced are written
// over, see startSegment), so
// the torn tail of a write that was never acknowledged (a kill -9 or a
// power loss in the middle of it) is found and cut off; a damaged record
// anywhere else stops the open with its file and offset.
//
// The segments are compacted by snapshots: once the segments written since
// the last snapshot outweigh both 64 MiB and the data the tables hold, a new
// segment is started and a snapshot of the tables is written beside it,
// in small locked steps so webhooks go on meanwhile; then the older
// segments and snapshot are removed. The folder so follows the live and
// retained data — at most about three times it, and 64 MiB — and every
// byte of the journal is written about twice: after a million calls
// expire, the next snapshot leaves them out and their segments go.
//
// A snapshot is taken while writes go on, so it is fuzzy: each call is as
// it was at the moment the snapshot read it, which may be after some of
// the new segment's records. Every record carries a log sequence number
// (LSN), every call and version keeps the LSN of its last write, and a
// replay skips the records a snapshot already holds.
//
// What it holds is also held in memory (as the memory store holds it,
// in blocks outside the Go heap): the hot state of each
// call and its retained trace. Reads never touch the disk.
type Journal struct {
	mem *Memory
	dir string
	// lock is the LOCK file, flocked while the store is open.
	lock *os.File

	mu       sync.Mutex
	buf      []byte // records applied and not yet written
	spareBuf []byte // the buffer the last write used, for reuse
	lsn      uint64 // the last LSN given
	cur      *jBatch
	flushing *jBatch // the batch being written, or nil
	closed   bool
	failed   error // set once a write or flush fails: the store stops
	wake     chan struct{}
	stopped  chan struct{} // the writer has stopped

	durable atomic.Uint64 // the LSN up to which the journal is flushed

	// segMu is held by the writer while it writes and by a snapshot while
	// it starts a new segment.
	segMu   sync.Mutex
	seg     *os.File
	segNum  uint64
	segSize int64 // bytes written to seg
	// segDropped is how much of seg has left the page cache (dropWritten).
	segDropped int64
	// ahead writes zeros ahead of the writer into seg and knows whether
	// seg holds bytes past segSize (journal_ahead.go).
	ahead segAhead
	// spares are replaced segments kept to be written over (at most
	// jSpares), renamed spare-N.tmp; recycled counts the segments started
	// in one.
	spares   []string
	recycled int
	segBytes int64 // bytes written to segments since the last snapshot
	snapping bool
	snapDone chan struct{} // closed when the last snapshot started ends
	// segmentSize and snapMin are jSegmentSize and jSnapMin (tests make
	// them small).
	segmentSize, snapMin int64
}

// jBatch is the records appended between two flushes.
type jBatch struct {
	last uint64 // the LSN of its last record
	err  error
	done chan struct{}
}

func newJBatch() *jBatch { return &jBatch{done: make(chan struct{})} }

// Record kinds in the journal.
const (
	jCreate   = 'n' // a new call (replacing any expired one with its id)
	jUpdate   = 'u' // a call's new record, with its trace entry and drop
	jVersion  = 'v' // a flow version or a reference
	jSnapCall = 's' // a call in a snapshot, with its whole trace
	jSnapEnd  = 'e' // the end of a snapshot: how many records it holds
)

const (
	jHeader      = 8       // a record's length (4 bytes) and CRC-32C (4 bytes)
	jMaxRecord   = 1 << 30 // larger is damage, not a record
	jSegmentSize = 64 << 20
	// jSnapMin is how many bytes of segments a snapshot waits for.
	jSnapMin = 64 << 20
	// jSnapStep is how many calls a snapshot reads under one lock.
	jSnapStep = 256
	// jSnapSync is the piece of a snapshot written out at a time.
	jSnapSync = 256 << 10
	// jSnapPace is how long a snapshot waits after writing out a piece,
	// in times the piece took.
	jSnapPace = 2
	// jSpares is how many replaced segments are kept for reuse.
	jSpares = 2
	// jDropStep is how much of a segment, written and flushed, leaves the
	// page cache at a time (dropWritten).
	jDropStep = 1 << 20
)

var jCRC = crc32.MakeTable(crc32.Castagnoli)

// fileSeed starts the checksums of the records of file n (a segment's or
// a snapshot's number): a record is valid only in the file it was
// written for, so what a recycled segment held before reads as the end
// of what it holds now.
func fileSeed(n uint64) uint32 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	return crc32.Checksum(b[:], jCRC)
}

// seal fills in the checksums of the records in b for file n.
func seal(b []byte, n uint64) {
	seed := fileSeed(n)
	for off := 0; off+jHeader <= len(b); {
		size := int(binary.LittleEndian.Uint32(b[off:]))
		body := b[off+jHeader : off+jHeader+size]
		binary.LittleEndian.PutUint32(b[off+4:], crc32.Update(seed, jCRC, body))
		off += jHeader + size
	}
}

// OpenJournal opens or creates the journal folder dir.
func OpenJournal(dir string) (*Journal, error) {
	return openJournal(dir, NewMemory(), jSegmentSize, jSnapMin)
}

func openJournal(dir string, mem *Memory, segmentSize, snapMin int64) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		mem.Close()
		return nil, fmt.Errorf("session store: %w", err)
	}
	lock, err := lockFile(filepath.Join(dir, "LOCK"))
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("session store %s: %w", dir, err)
	}
	j := &Journal{mem: mem, dir: dir, lock: lock, cur: newJBatch(), wake: make(chan struct{}, 1),
		stopped: make(chan struct{}), segmentSize: segmentSize, snapMin: snapMin}
	if err := j.recover(); err != nil {
		unlockFile(lock)
		mem.Close()
		return nil, fmt.Errorf("session store %s: %w", dir, err)
	}
	j.durable.Store(j.lsn)
	go j.writeLoop()
	return j, nil
}

// Dir returns the folder the store lives in.
func (j *Journal) Dir() string { return j.dir }

// files lists the journal's segments and snapshots by number, oldest
// first, and removes the temporary files of a snapshot that never
// finished.
func (j *Journal) files() (segs, snaps []uint64, err error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(j.dir, name))
			continue
		}
		base, ext, ok := strings.Cut(name, ".")
		if !ok || len(base) != 16 {
			continue
		}
		n, err := strconv.ParseUint(base, 16, 64)
		if err != nil {
			continue
		}
		switch ext {
		case "log":
			segs = append(segs, n)
		case "snap":
			snaps = append(snaps, n)
		}
	}
	slices.Sort(segs)
	slices.Sort(snaps)
	return segs, snaps, nil
}

func (j *Journal) path(n uint64, ext string) string {
	return filepath.Join(j.dir, fmt.Sprintf("%016x.%s", n, ext))
}

// recover loads the newest complete snapshot, replays the segments after
// it, cuts a torn tail off the last one, removes what the snapshot
// replaced, and starts a new segment.
func (j *Journal) recover() error {
	segs, snaps, err := j.files()
	if err != nil {
		return err
	}
	base := uint64(0)
	if len(snaps) > 0 {
		// Only the newest: a snapshot is renamed into place once flushed,
		// and the segments an older one needs are gone by then. A damaged
		// one is damage to report, not a crash to recover from.
		base = snaps[len(snaps)-1]
		if err := j.loadSnapshot(base); err != nil {
			return err
		}
	}
	var replay []uint64
	for _, n := range segs {
		if n >= base {
			replay = append(replay, n)
		}
	}
	for k, n := range replay {
		size, err := j.replaySegment(n, k == len(replay)-1)
		if err != nil {
			return err
		}
		j.segBytes += size
	}
	j.segNum = base
	if n := len(replay); n > 0 {
		j.segNum = replay[n-1] + 1
		if fi, err := os.Stat(j.path(replay[n-1], "log")); err == nil && fi.Size() == 0 {
			j.segNum-- // empty: started again rather than one more file per restart
		}
	} else if len(segs) > 0 {
		j.segNum = max(base, segs[len(segs)-1]+1)
	}
	if err := j.startSegment(); err != nil {
		return err
	}
	for _, path := range j.replaced(base, false) {
		_ = os.Remove(path)
	}
	return nil
}

// replaced lists the segments and snapshots a snapshot numbered base
// replaced, for removePaced. With recycle (and segMu held), it first
// keeps the latest segments, up to jSpares, to be written over.
func (j *Journal) replaced(base uint64, recycle bool) (remove []string) {
	segs, snaps, err := j.files()
	if err != nil {
		return nil
	}
	for k := len(segs) - 1; k >= 0; k-- {
		n := segs[k]
		if n >= base {
			continue
		}
		path := j.path(n, "log")
		if fi, err := os.Stat(path); recycle && err == nil && len(j.spares) < jSpares && fi.Size() >= j.segmentSize/2 {
			spare := filepath.Join(j.dir, fmt.Sprintf("spare-%016x.tmp", n))
			if os.Rename(path, spare) == nil {
				j.spares = append(j.spares, spare)
				continue
			}
		}
		remove = append(remove, path)
	}
	for _, n := range snaps {
		if n < base {
			remove = append(remove, j.path(n, "snap"))
		}
	}
	return remove
}

// removePaced removes a file, shrinking a large one a few MiB at a time
// first, with pauses as long as each step took: freeing a gigabyte at once
// (and discarding its blocks, on a disk mounted so) holds up the
// webhooks' flushes for as long as it takes.
func removePaced(path string) {
	const step = 8 << 20
	if fi, err := os.Stat(path); err == nil {
		for size := fi.Size() - step; size > 0; size -= step {
			t0 := time.Now()
			if os.Truncate(path, size) != nil {
				break
			}
			time.Sleep(time.Since(t0))
		}
	}
	_ = os.Remove(path)
}

// startSegment starts segment segNum, in a recycled segment when there
// is one, and makes its name durable. With segMu held.
//
// A flush into a file that grows also writes its inode; into blocks the
// file already has, only the data: here 216–284 µs against 363–431 µs,
// and a third less CPU. So segments a snapshot replaced are kept (up to
// jSpares) and written over. What they held before does not read as
// records of their new number (fileSeed), and a recycled segment is cut
// to what was written before the next starts, so only the last segment
// may end in anything but its last record. A new segment is given its
// blocks ahead of the writer instead (journal_ahead.go).
func (j *Journal) startSegment() error {
	if j.seg != nil && j.ahead.stop() {
		if err := cutSynced(j.seg, j.segSize); err != nil {
			return err
		}
	}
	name := j.path(j.segNum, "log")
	var f *os.File
	recycled := false
	for f == nil && len(j.spares) > 0 {
		spare := j.spares[len(j.spares)-1]
		j.spares = j.spares[:len(j.spares)-1]
		if err := os.Rename(spare, name); err != nil {
			_ = os.Remove(spare)
			continue
		}
		if g, err := os.OpenFile(name, os.O_WRONLY, 0o600); err == nil {
			f, recycled = g, true
			j.recycled++
		}
	}
	if f == nil {
		var err error
		if f, err = os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err != nil {
			return err
		}
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return err
	}
	if j.seg != nil {
		j.seg.Close()
	}
	j.seg, j.segSize, j.segDropped = f, 0, 0
	j.ahead.start(f, recycled, j.segmentSize)
	return nil
}

// dropWritten lets the pages of the segment written and flushed leave the
// page cache, jDropStep at a time, with segMu held. The journal is read
// only when it opens: kept in the cache, a million calls' segments held
// about 2 GB of memory the tables then had to find elsewhere. On a
// virtual machine where memory never touched before costs the host a
// page fault too (docs/store-engines.md), a journal loaded to a million
// calls fell to 0.13 of the Go floor; dropping what it wrote, it held
// 0.34–0.37. Only whole pages behind the writer go: the page it writes
// into, and the zeros ahead of it (journal_ahead.go), stay, so no write
// reads a page back from the disk.
func (j *Journal) dropWritten() {
	if j.segSize-j.segDropped < jDropStep {
		return
	}
	upto := j.segSize &^ int64(os.Getpagesize()-1)
	// A file system that refuses the advice keeps its pages, as the page
	// cache would without it: asked again, it would refuse on every flush.
	_ = dropCached(j.seg, j.segDropped, upto-j.segDropped)
	j.segDropped = upto
}

// syncDir flushes a folder's entries (a file's creation or rename).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readRecords calls fn with each record of a journal file and returns
// the offset after the last good one, and the error that stopped the
// read (nil at a clean end, errTorn at a damaged or incomplete record).
func readRecords(path string, n uint64, fn func(rec []byte) error) (good int64, err error) {
	seed := fileSeed(n)
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	var head [jHeader]byte
	var rec []byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if err == io.EOF {
				return good, nil
			}
			return good, errTorn
		}
		n := binary.LittleEndian.Uint32(head[:])
		if n == 0 || n > jMaxRecord || good+jHeader+int64(n) > size {
			// (A length past the end is a torn write, or what a recycled
			// segment held before: not a record to make room for.)
			return good, errTorn
		}
		rec = slices.Grow(rec[:0], int(n))[:n]
		if _, err := io.ReadFull(r, rec); err != nil {
			return good, errTorn
		}
		if crc32.Update(seed, jCRC, rec) != binary.LittleEndian.Uint32(head[4:]) {
			return good, errTorn
		}
		if err := fn(rec); err != nil {
			return good, err
		}
		good += int64(jHeader + n)
	}
}

var errTorn = errors.New("damaged or incomplete record")

// loadSnapshot applies a snapshot to the (empty) tables; an error when
// it is not complete.
func (j *Journal) loadSnapshot(n uint64) error {
	path := j.path(n, "snap")
	count, ended := 0, false
	_, err := readRecords(path, n, func(rec []byte) error {
		if ended {
			return errTorn
		}
		if rec[0] == jSnapEnd {
			d := jDecoder{b: rec[1:]}
			if n := d.uint(); d.err != nil || int(n) != count {
				return fmt.Errorf("snapshot ends after %d records, says %d", count, n)
			}
			ended = true
			return nil
		}
		count++
		return j.apply(rec)
	})
	if err == nil && !ended {
		err = errTorn
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// replaySegment applies a segment's records. The last segment may end in
// a torn record, never acknowledged: it is cut off there.
func (j *Journal) replaySegment(n uint64, last bool) (int64, error) {
	path := j.path(n, "log")
	good, err := readRecords(path, n, j.apply)
	if errors.Is(err, errTorn) && last {
		// Cut off a torn write (or zeros written ahead), durably: the
		// next segment starts after it, and only the last may end so.
		if err := truncateSynced(path, good); err != nil {
			return 0, err
		}
		return good, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s at offset %d: %w", path, good, err)
	}
	return good, nil
}

// truncateSynced cuts the file at path to size and flushes that.
func truncateSynced(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = cutSynced(f, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// cutSynced cuts f to size and flushes that.
func cutSynced(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	return fdatasync(f)
}

// apply replays one record onto the tables, unless they already hold its
// write or a later one.
func (j *Journal) apply(rec []byte) error {
	d := jDecoder{b: rec[1:]}
	kind := rec[0]
	lsn := d.uint()
	j.lsn = max(j.lsn, lsn)
	m := j.mem
	switch kind {
	case jCreate, jUpdate, jSnapCall:
		// Decoded whole before anything is applied.
		id := string(d.bytes())
		r := Record{Rev: int(d.uint()), Live: d.byte() == 1}
		expires := d.int()
		r.Data = d.bytes()
		var entries []Record // a snapshot's trace, or a write's entry and drop
		if kind == jSnapCall {
			for n := d.uint(); n > 0 && d.err == nil; n-- {
				seq := int(d.uint())
				entries = append(entries, Record{Entry: d.bytes(), Seq: seq})
			}
		} else if d.byte() == 1 {
			e := Record{Seq: int(d.uint()), Drop: int(d.uint())}
			if d.byte() == 1 {
				e.Entry = d.bytes()
			}
			entries = append(entries, e)
		}
		if d.err != nil {
			return d.err
		}
		i, found := m.find(id)
		if found && m.slots.at(i).lsn >= lsn {
			return nil
		}
		var s *memSlot
		switch {
		case kind == jUpdate && found:
			s = m.slots.at(i)
			m.update(s, id, r, expires)
		default:
			if found {
				m.remove(i)
			}
			s, _ = m.create(id, r, expires)
		}
		s.lsn = lsn
		for _, e := range entries {
			m.appendEntry(s, e)
		}
	case jVersion:
		key := string(d.bytes())
		src := d.bytes()
		expires := d.int()
		if d.err != nil {
			return d.err
		}
		if v, ok := m.versions[key]; ok && v.lsn >= lsn {
			return nil
		}
		m.versions[key] = memVersion{src: slices.Clone(src), expires: time.Unix(0, expires), lsn: lsn}
	default:
		return fmt.Errorf("unknown record kind %q", kind)
	}
	return d.err
}

// jDecoder reads a record's fields; the first error sticks.
type jDecoder struct {
	b   []byte
	err error
}

func (d *jDecoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *jDecoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *jDecoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// bytes returns a length-prefixed field (sharing the record's memory).
func (d *jDecoder) bytes() []byte {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *jDecoder) fail() {
	if d.err == nil {
		d.err = errMalformed
	}
	d.b = nil
}

// errMalformed is a record whose checksum holds but whose fields do not
// read: not a torn write, damage (or a journal of another format).
var errMalformed = errors.New("malformed record")

// beginRecord appends a record's header (filled in by endRecord), kind
// and LSN to b and returns b and the record's start.
func beginRecord(b []byte, kind byte, lsn uint64) ([]byte, int) {
	start := len(b)
	b = append(b, make([]byte, jHeader)...)
	b = append(b, kind)
	return binary.AppendUvarint(b, lsn), start
}

// endRecord fills in the length of the record that starts at start; its
// checksum is filled in by seal, once the file it goes to is known.
func endRecord(b []byte, start int) []byte {
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start-jHeader))
	return b
}

func appendField(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// appendCall appends a call record's common fields.
func appendCall(b []byte, id string, rev int, live bool, expires int64, data []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendUvarint(b, uint64(rev))
	if live {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, expires)
	return appendField(b, data)
}

// logCall appends a create or update to the journal, with j.mem.mu held
// (so records are in the order their writes were applied), and returns
// the batch that will carry it.
func (j *Journal) logCall(kind byte, s *memSlot, id string, rec Record) *jBatch {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.checkLocked(); err != nil {
		// Closed or failed since the write was checked: the writer has
		// stopped, and nothing of this store is read again.
		return &jBatch{err: err, done: closedChan}
	}
	j.lsn++
	s.lsn = j.lsn
	b, start := beginRecord(j.buf, kind, j.lsn)
	b = appendCall(b, id, rec.Rev, rec.Live, s.expires, rec.Data)
	if rec.Entry == nil && rec.Drop == 0 {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(rec.Seq))
		b = binary.AppendUvarint(b, uint64(rec.Drop))
		if rec.Entry != nil {
			b = appendField(append(b, 1), rec.Entry)
		} else {
			b = append(b, 0)
		}
	}
	j.buf = endRecord(b, start)
	return j.queued()
}

// queued marks the current batch as holding the LSN just given, wakes the
// writer and returns the batch (with j.mu held).
func (j *Journal) queued() *jBatch {
	j.cur.last = j.lsn
	select {
	case j.wake <- struct{}{}:
	default:
	}
	return j.cur
}

// check returns why the store cannot take writes, with j.mu not held.
func (j *Journal) check() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.checkLocked()
}

func (j *Journal) checkLocked() error {
	if j.failed != nil {
		return j.failed
	}
	if j.closed {
		return errJournalClosed
	}
	return nil
}

var errJournalClosed = errors.New("session store is closed")

// wait returns once b is flushed, with its error.
func (j *Journal) wait(b *jBatch) error {
	<-b.done
	return b.err
}

// waitDurable returns once the record of LSN lsn is flushed: a read never
// answers with a write that a crash could still lose.
func (j *Journal) waitDurable(lsn uint64) error {
	if lsn <= j.durable.Load() {
		return nil
	}
	j.mu.Lock()
	b := j.cur
	if j.flushing != nil && lsn <= j.flushing.last {
		b = j.flushing
	}
	j.mu.Unlock()
	if lsn <= j.durable.Load() {
		return nil
	}
	return j.wait(b)
}

// writeLoop writes and flushes what was appended, until the store closes.
func (j *Journal) writeLoop() {
	defer close(j.stopped)
	for {
		j.mu.Lock()
		for len(j.buf) == 0 && !j.closed && j.failed == nil {
			j.mu.Unlock()
			<-j.wake
			j.mu.Lock()
		}
		if len(j.buf) == 0 || j.failed != nil {
			j.mu.Unlock()
			return
		}
		buf, b := j.buf, j.cur
		j.buf, j.spareBuf = j.spareBuf[:0], nil
		j.cur, j.flushing = newJBatch(), b
		j.mu.Unlock()

		j.segMu.Lock()
		seal(buf, j.segNum)
		j.ahead.claim(j.segSize + int64(len(buf)))
		_, err := j.seg.Write(buf)
		if err == nil {
			err = fdatasync(j.seg)
		}
		j.segSize += int64(len(buf))
		j.segBytes += int64(len(buf))
		if err == nil {
			j.dropWritten()
		}
		// The batch is durable (or failed); what follows may fail the
		// store for the next writes, not for this batch.
		var later error
		if err == nil && j.segSize >= j.segmentSize {
			j.segNum++
			later = j.startSegment()
		} else if err == nil {
			j.ahead.more()
		}
		if err == nil && later == nil && j.segBytes > max(j.snapMin, j.mem.slab.held.Load()) && !j.snapping {
			j.snapping = true
			j.snapDone = make(chan struct{})
			go j.snapshot(j.snapDone)
		}
		j.segMu.Unlock()

		if err != nil {
			err = fmt.Errorf("session store %s: %w", j.dir, err)
		}
		stop := err
		if later != nil {
			stop = fmt.Errorf("session store %s: %w", j.dir, later)
		}
		j.mu.Lock()
		if err == nil {
			// Before flushing is cleared: a reader that finds neither
			// this batch flushing nor its LSN durable would wait for the
			// next batch, which may never come.
			j.durable.Store(b.last)
		}
		if stop != nil && j.failed == nil {
			j.failed = stop
			// Every write waiting in the next batch fails with it.
			j.cur.err = stop
			close(j.cur.done)
			j.cur = &jBatch{err: stop, done: closedChan}
		}
		j.flushing = nil
		if cap(buf) <= 4<<20 {
			j.spareBuf = buf[:0]
		}
		j.mu.Unlock()
		if stop != nil {
			slog.Default().Error("the session store stopped: a write to its journal failed", "err", stop)
		}
		b.err = err
		close(b.done)
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// snapshot starts a new segment and writes a snapshot beside it, then
// removes what it replaced. A failed snapshot is logged and left: the
// segments are still all there.
func (j *Journal) snapshot(done chan struct{}) {
	defer close(done)
	defer func() {
		j.segMu.Lock()
		j.snapping = false
		j.segMu.Unlock()
	}()
	j.segMu.Lock()
	j.segNum++
	err := j.startSegment()
	base := j.segNum
	j.segMu.Unlock()
	if err != nil {
		j.fail(err)
		return
	}
	if err := j.writeSnapshot(base); errors.Is(err, errJournalClosed) {
		return
	} else if err != nil {
		slog.Default().Warn("the session store could not write a snapshot; its journal keeps growing until one succeeds", "dir", j.dir, "err", err)
		return
	}
	j.segMu.Lock()
	// What was written since base started stays to be compacted; when
	// a segment turned meanwhile, count it generously.
	j.segBytes = j.segSize + int64(j.segNum-base)*j.segmentSize
	j.segMu.Unlock()
	j.segMu.Lock()
	remove := j.replaced(base, true)
	j.segMu.Unlock()
	for _, path := range remove {
		removePaced(path)
	}
}

// compact takes a snapshot now (after any running one) and waits for it.
func (j *Journal) compact() {
	j.segMu.Lock()
	for j.snapping {
		done := j.snapDone
		j.segMu.Unlock()
		<-done
		j.segMu.Lock()
	}
	j.snapping = true
	j.snapDone = make(chan struct{})
	done := j.snapDone
	go j.snapshot(done)
	j.segMu.Unlock()
	<-done
}

// fail stops the store after an error of its files.
func (j *Journal) fail(err error) {
	err = fmt.Errorf("session store %s: %w", j.dir, err)
	slog.Default().Error("the session store stopped: a write to its journal failed", "err", err)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failed == nil {
		j.failed = err
	}
}

// writeSnapshot writes snapshot base: every call and version, read in
// small locked steps.
func (j *Journal) writeSnapshot(base uint64) error {
	final := j.path(base, "snap")
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	m := j.mem
	var b []byte
	count, unsynced := 0, 0
	var written int64 // the file's bytes before the piece being written
	for start := 0; ; start += jSnapStep {
		if j.check() != nil {
			// Closing (or failed): a snapshot is never needed to open
			// the journal again, so Close does not wait for it to end.
			return errJournalClosed
		}
		b = b[:0]
		m.mu.RLock()
		if start >= m.slots.n {
			m.mu.RUnlock()
			break
		}
		now := m.now().UnixNano()
		for i := start; i < min(start+jSnapStep, m.slots.n); i++ {
			s := m.slots.at(uint32(i))
			if !s.used || now > s.expires {
				continue
			}
			var rs int
			b, rs = beginRecord(b, jSnapCall, s.lsn)
			b = appendCall(b, m.id(s), int(s.rev), s.live, s.expires, m.record(s))
			b = binary.AppendUvarint(b, uint64(s.ntrace))
			if s.ntrace > 0 {
				tab := m.slab.bytes(s.trace)
				for k := range int(s.ntrace) {
					b = binary.AppendUvarint(b, uint64(readEntrySeq(tab[k*memEntrySize:])))
					b = appendField(b, m.slab.bytes(readEntryRef(tab[k*memEntrySize:])))
				}
			}
			b = endRecord(b, rs)
			count++
		}
		m.mu.RUnlock()
		seal(b, base)
		for rest := b; len(rest) > 0; {
			n := min(len(rest), jSnapSync-unsynced)
			if _, err := w.Write(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
			if unsynced += n; unsynced < jSnapSync {
				continue
			}
			// Written out as it goes, a piece at a time: one flush of the
			// whole snapshot at the end would hold the disk, and the
			// webhooks' flushes queued behind it, for as long as it takes
			// to write it all. A piece is small, so that a webhook's flush
			// that comes while it is written waits little (256 KiB is 2.5
			// ms at 100 MB/s), and written out without its metadata
			// (writeOut): an fdatasync of each piece also wrote the blocks
			// given to the file, which cost 20–30 ms a piece on a busy disk
			// and made a 1 GiB snapshot take 65–95 s instead of 14–28 s.
			t0 := time.Now()
			if err := w.Flush(); err != nil {
				return err
			}
			if err := writeOut(f, written, int64(unsynced)); err != nil {
				return err
			}
			// Read only when the journal opens, the piece leaves the page
			// cache (as segments do: dropWritten).
			_ = dropCached(f, written, int64(unsynced))
			written, unsynced = written+int64(unsynced), 0
			// And paced: the snapshot has a third of the disk's time, the
			// webhooks the rest.
			time.Sleep(jSnapPace * time.Since(t0))
		}
	}
	b = b[:0]
	m.mu.RLock()
	now := m.now()
	for key, v := range m.versions {
		if now.After(v.expires) {
			continue
		}
		var rs int
		b, rs = beginRecord(b, jVersion, v.lsn)
		b = appendField(b, []byte(key))
		b = appendField(b, v.src)
		b = binary.AppendVarint(b, v.expires.UnixNano())
		b = endRecord(b, rs)
		count++
	}
	m.mu.RUnlock()
	rs := len(b)
	b = append(b, make([]byte, jHeader)...)
	b = binary.AppendUvarint(append(b, jSnapEnd), uint64(count))
	b = endRecord(b, rs)
	seal(b, base)
	if _, err := w.Write(b); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(j.dir)
}

// Get implements Store.
func (j *Journal) Get(ctx context.Context, id string) (Record, error) {
	if err := j.check(); err != nil {
		return Record{}, err
	}
	m := j.mem
	m.mu.RLock()
	s, ok := m.get(id)
	if !ok {
		m.mu.RUnlock()
		return Record{}, ErrNotFound
	}
	rec := Record{Rev: int(s.rev), Live: s.live, Data: append([]byte(nil), m.record(s)...)}
	lsn := s.lsn
	m.mu.RUnlock()
	return rec, j.waitDurable(lsn)
}

// Create implements Store.
func (j *Journal) Create(_ context.Context, id string, rec Record, ttl time.Duration) error {
	m := j.mem
	m.mu.Lock()
	if err := j.check(); err != nil {
		m.mu.Unlock()
		return err
	}
	s, err := m.create(id, rec, m.now().Add(ttl).UnixNano())
	if err != nil {
		m.mu.Unlock()
		return err
	}
	b := j.logCall(jCreate, s, id, rec)
	m.mu.Unlock()
	return j.wait(b)
}

// Update implements Store.
func (j *Journal) Update(_ context.Context, id string, prevRev int, rec Record, ttl time.Duration) error {
	m := j.mem
	m.mu.Lock()
	if err := j.check(); err != nil {
		m.mu.Unlock()
		return err
	}
	s, ok := m.get(id)
	if !ok {
		m.mu.Unlock()
		return ErrNotFound
	}
	if int(s.rev) != prevRev {
		m.mu.Unlock()
		return ErrConflict
	}
	m.update(s, id, rec, m.now().Add(ttl).UnixNano())
	b := j.logCall(jUpdate, s, id, rec)
	m.mu.Unlock()
	return j.wait(b)
}

// Trace implements Store.
func (j *Journal) Trace(ctx context.Context, id string) ([][]byte, error) {
	if err := j.check(); err != nil {
		return nil, err
	}
	m := j.mem
	m.mu.RLock()
	var lsn uint64
	if s, ok := m.get(id); ok {
		lsn = s.lsn
	}
	m.mu.RUnlock()
	if err := j.waitDurable(lsn); err != nil {
		return nil, err
	}
	return m.Trace(ctx, id)
}

// PutVersion implements Store.
func (j *Journal) PutVersion(_ context.Context, flowName, version string, src []byte, ttl time.Duration) error {
	m := j.mem
	key := flowName + "@" + version
	m.mu.Lock()
	if err := j.check(); err != nil {
		m.mu.Unlock()
		return err
	}
	v := memVersion{src: slices.Clone(src), expires: m.now().Add(ttl)}
	j.mu.Lock()
	if err := j.checkLocked(); err != nil {
		j.mu.Unlock()
		m.mu.Unlock()
		return err
	}
	j.lsn++
	v.lsn = j.lsn
	b, start := beginRecord(j.buf, jVersion, j.lsn)
	b = appendField(b, []byte(key))
	b = appendField(b, src)
	b = binary.AppendVarint(b, v.expires.UnixNano())
	j.buf = endRecord(b, start)
	batch := j.queued()
	j.mu.Unlock()
	m.versions[key] = v
	m.mu.Unlock()
	return j.wait(batch)
}

// GetVersion implements Store.
func (j *Journal) GetVersion(ctx context.Context, flowName, version string) ([]byte, error) {
	if err := j.check(); err != nil {
		return nil, err
	}
	m := j.mem
	m.mu.RLock()
	lsn := m.versions[flowName+"@"+version].lsn
	m.mu.RUnlock()
	if err := j.waitDurable(lsn); err != nil {
		return nil, err
	}
	return m.GetVersion(ctx, flowName, version)
}

// PutRef implements Store.
func (j *Journal) PutRef(ctx context.Context, key, value string, ttl time.Duration) error {
	return j.PutVersion(ctx, refPrefix, key, []byte(value), ttl)
}

// GetRef implements Store.
func (j *Journal) GetRef(ctx context.Context, key string) (string, error) {
	b, err := j.GetVersion(ctx, refPrefix, key)
	return string(b), err
}

// Live implements Store.
func (j *Journal) Live(ctx context.Context) (int, error) {
	if err := j.check(); err != nil {
		return 0, err
	}
	return j.mem.Live(ctx)
}

// Ping implements Store: the journal's last write failed, or it is
// closed.
func (j *Journal) Ping(context.Context) error { return j.check() }

// Sweep removes expired calls and versions from the tables. The journal
// records nothing: a replay finds them expired, and the next snapshot
// leaves them out.
func (j *Journal) Sweep() { j.mem.Sweep() }

// Close writes what is waiting, stops the writer, waits for a running
// snapshot and releases the folder.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	<-j.stopped
	j.segMu.Lock()
	done := j.snapDone
	j.segMu.Unlock()
	if done != nil {
		<-done
	}
	j.mem.Close()
	j.ahead.stop()
	err := j.seg.Close()
	if cerr := unlockFile(j.lock); err == nil {
		err = cerr
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failed != nil {
		return j.failed
	}
	return err
}

var errJournalLocked = errors.New("locked by another flowd process; give each process its own --store, or share a redis:// store")
