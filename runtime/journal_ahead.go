package runtime

import (
	"os"
	"sync"
)

// Zeros written ahead of the journal's writer.
//
// A flush of a segment that grows must also commit the file's new size
// and blocks: on ext4, a journal transaction and a second cache flush
// for every batch of webhooks. A flush of blocks the file already has
// writes the data alone. A new segment is given its blocks ahead of the
// writer: once the writer has written jFillFrom bytes of it (a store
// that is busy, not an idle server's), a goroutine writes zeros past the
// writer's end, jFillChunk at a time, and flushes them, keeping up to
// jAhead bytes ahead, until the segment's size. So every batch but those
// of each segment's first MiB is flushed over blocks it already has. A
// recycled segment (startSegment) has its blocks but not its pages: it
// is filled from its start (see start). Smaller segments, a test's, fill
// in proportion. On the load script's answer webhook, six rounds
// alternated by hand with the journal that appends: 0.4–6.6 % more
// webhooks a second (median 3 %; docs/store-engines.md). (In a trial with whole segments filled
// beforehand, the average flush under that load fell from 1.26–1.32 ms
// to 1.03 ms.)
//
// Zeros read as the end of a segment's records (no record is 0 bytes
// long), as what a recycled segment held before does: a segment is cut
// to what was written before the next one starts (startSegment), so only
// the last may end in them, and opening the journal cuts them off there
// as a torn write.
//
// The writer and a fill never write the same bytes: the writer claims
// each write's end before making it (claim), a fill starts past that
// end, and a write that would reach into a fill in progress waits for
// it (the writer outruns a fill only when it writes jAhead bytes while
// one chunk is written and flushed).
const (
	jFillFrom  = 1 << 20
	jFillChunk = 1 << 20
	jAhead     = 4 << 20
)

// zeroChunk is what a fill writes. Never written to, it takes no memory.
var zeroChunk [jFillChunk]byte

// segAhead is the state of the segment being written and of its fill.
type segAhead struct {
	mu    sync.Mutex
	ended sync.Cond // a fill ended
	f     *os.File  // the segment; nil once it turned or the store closed
	size  int64     // the end of its last fill: where its bytes are known to be zeros, and cached
	pos   int64     // the end of the writer's last (or current) write
	limit int64     // how far to fill: the segment size
	// fillFrom, chunk and ahead are jFillFrom, jFillChunk and jAhead, or
	// less for a small segment.
	fillFrom, chunk, ahead int64
	// long reports that f may hold bytes past pos (a recycled segment,
	// or zeros written ahead), to cut off before the next segment starts.
	long    bool
	filling bool
	from    int64 // where the fill in progress starts
	fills   int   // fills that ended well, for tests
}

// start begins a segment that turns at limit bytes; recycled, it holds
// an earlier segment's bytes. With no fill running (stop was called).
//
// A recycled segment is filled too, from its start: its blocks are
// there, but its pages left the page cache in its first life
// (Journal.dropWritten), and a write that ends inside a page the cache
// does not hold reads that page from the disk first, once a flush.
// Zeros written ahead, whole pages at a time, put the pages back without
// reading them.
func (a *segAhead) start(f *os.File, recycled bool, limit int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended.L == nil {
		a.ended.L = &a.mu
	}
	a.f, a.size, a.pos, a.limit, a.long = f, 0, 0, limit, recycled
	a.fillFrom, a.chunk = min(jFillFrom, limit/8), min(jFillChunk, limit/16)
	if recycled {
		a.fillFrom = 0
	}
	a.ahead = a.chunk * (jAhead / jFillChunk)
}

// claim is called by the writer before it writes up to end: it waits for
// a fill that would write into those bytes.
func (a *segAhead) claim(end int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.filling && end > a.from {
		a.ended.Wait()
	}
	a.pos = end
}

// more starts a fill when the writer is fillFrom into the segment and
// less than ahead/2 from the end of its blocks.
func (a *segAhead) more() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.filling || a.f == nil || a.chunk == 0 || a.pos < a.fillFrom || a.size-a.pos >= a.ahead/2 {
		return
	}
	// Whole pages: the one the writer is in is the cache's already.
	page := int64(os.Getpagesize())
	from := (max(a.size, a.pos) + page - 1) &^ (page - 1)
	if from+a.chunk > a.limit {
		return
	}
	a.filling, a.from, a.long = true, from, true
	go a.fill(a.f, from, a.chunk)
}

// fill writes n zeros at from and flushes them. A failed fill
// (a full disk) ends the fills of the segment: the writer appends to it
// as it would without them.
func (a *segAhead) fill(f *os.File, from, n int64) {
	_, err := f.WriteAt(zeroChunk[:n], from)
	if err == nil {
		err = fdatasync(f)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.filling = false
	if a.f == f {
		if err != nil {
			a.f = nil
		} else {
			a.size = max(a.size, from+n)
			a.fills++
		}
	}
	a.ended.Broadcast()
}

// stop waits for a fill in progress and ends the fills of the segment;
// it reports whether the segment may hold bytes past the writer's end.
func (a *segAhead) stop() (long bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.filling {
		a.ended.Wait()
	}
	a.f = nil
	return a.long
}
