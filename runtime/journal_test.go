package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestJournalStoreContract(t *testing.T) {
	t.Parallel()
	testStoreContract(t, func(t *testing.T) Store {
		return openTestJournal(t, filepath.Join(t.TempDir(), "sessions"), nil, 1<<20, 0)
	})
}

// openTestJournal opens dir on a clock (nil: the real one), with the segment and snapshot
// sizes given (0: the defaults).
func openTestJournal(t *testing.T, dir string, clock *fakeClock, segment, snapMin int64) *Journal {
	t.Helper()
	m := NewMemory()
	if clock != nil {
		m.now = clock.now
	}
	if segment == 0 {
		segment = jSegmentSize
	}
	if snapMin == 0 {
		snapMin = jSnapMin
	}
	j, err := openJournal(dir, m, segment, snapMin)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// journalCall writes a call of n steps, each with a trace entry, the
// runtime's way: create, then updates on the revision read.
func journalCall(t *testing.T, st Store, id string, steps int, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	if err := st.Create(ctx, id, Record{Rev: 1, Live: true, Data: []byte(id + " step 1"), Entry: []byte(id + " entry 0")}, ttl); err != nil {
		t.Fatal(err)
	}
	for k := 2; k <= steps; k++ {
		rec := Record{Rev: k, Live: k < steps, Data: []byte(fmt.Sprintf("%s step %d", id, k)),
			Entry: []byte(fmt.Sprintf("%s entry %d", id, k-1)), Seq: k - 1}
		if err := st.Update(ctx, id, k-1, rec, ttl); err != nil {
			t.Fatal(err)
		}
	}
}

// checkJournalCall checks what journalCall wrote.
func checkJournalCall(t *testing.T, st Store, id string, steps int) {
	t.Helper()
	ctx := context.Background()
	rec, err := st.Get(ctx, id)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if want := fmt.Sprintf("%s step %d", id, steps); rec.Rev != steps || string(rec.Data) != want || rec.Live != (steps == 1) {
		t.Fatalf("%s = rev %d live %v %q, want rev %d %q", id, rec.Rev, rec.Live, rec.Data, steps, want)
	}
	tr, err := st.Trace(ctx, id)
	if err != nil || len(tr) != steps {
		t.Fatalf("%s: %d trace entries (%v), want %d", id, len(tr), err, steps)
	}
	for k, e := range tr {
		if want := fmt.Sprintf("%s entry %d", id, k); string(e) != want {
			t.Fatalf("%s: entry %d = %q, want %q", id, k, e, want)
		}
	}
}

// writeCalls writes calls of steps steps from writers goroutines at
// once, perWriter each, named name(w, i); each, unless nil, runs after
// each call. It returns a channel closed once every call is written.
func writeCalls(t *testing.T, st Store, writers, perWriter, steps int, name func(w, i int) string, each func(i int)) <-chan struct{} {
	t.Helper()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				journalCall(t, st, name(w, i), steps, time.Hour)
				if each != nil {
					each(i)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// checkCalls checks what writeCalls wrote.
func checkCalls(t *testing.T, st Store, writers, perWriter, steps int, name func(w, i int) string) {
	t.Helper()
	for w := range writers {
		for i := range perWriter {
			checkJournalCall(t, st, name(w, i), steps)
		}
	}
}

// TestJournalSurvivesReopen: calls with their traces, dropped entries,
// versions and references come back after a close, expired ones do not,
// and a second process cannot open the folder meanwhile.
func TestJournalSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "sub", "sessions")
	clock := journalClock()
	j := openTestJournal(t, dir, clock, 0, 0)
	if j.Dir() != dir {
		t.Fatalf("Dir = %s", j.Dir())
	}
	journalCall(t, j, "a", 5, time.Hour)
	journalCall(t, j, "brief", 2, time.Minute)
	// A dropped entry stays dropped.
	if err := j.Update(ctx, "a", 5, Record{Rev: 6, Data: []byte("a step 6"), Entry: []byte("a entry 5"), Seq: 5, Drop: 2}, time.Hour); err != nil {
		t.Fatal(err)
	}
	_ = j.PutVersion(ctx, "ivr", "v1", []byte("src"), time.Hour)
	_ = j.PutRef(ctx, "party", "a", time.Hour)
	_ = j.PutRef(ctx, "party", "b", time.Hour) // a reference changes
	if _, err := OpenJournal(dir); err == nil || !strings.Contains(err.Error(), "locked by another flowd process") {
		t.Fatalf("a second open of an open journal: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Create(ctx, "late", Record{Rev: 1}, time.Hour); err == nil {
		t.Fatal("a write after Close succeeded")
	}
	clock.add(2 * time.Minute)

	j = openTestJournal(t, dir, clock, 0, 0)
	defer j.Close()
	rec, err := j.Get(ctx, "a")
	if err != nil || rec.Rev != 6 || string(rec.Data) != "a step 6" {
		t.Fatalf("a after reopen: %+v %v", rec, err)
	}
	tr, _ := j.Trace(ctx, "a")
	var got []string
	for _, e := range tr {
		got = append(got, string(e))
	}
	if want := "a entry 0|a entry 1|a entry 3|a entry 4|a entry 5"; strings.Join(got, "|") != want {
		t.Fatalf("trace after reopen: %s, want %s", strings.Join(got, "|"), want)
	}
	if _, err := j.Get(ctx, "brief"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired call came back: %v", err)
	}
	if src, err := j.GetVersion(ctx, "ivr", "v1"); err != nil || string(src) != "src" {
		t.Fatalf("version after reopen: %q %v", src, err)
	}
	if v, err := j.GetRef(ctx, "party"); err != nil || v != "b" {
		t.Fatalf("reference after reopen: %q %v", v, err)
	}
	// It goes on from there.
	if err := j.Update(ctx, "a", 6, Record{Rev: 7, Data: []byte("a step 7")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, _ := j.Live(ctx); n != 0 {
		t.Fatalf("Live = %d, want 0 (a hung up)", n)
	}
}

// lastSegment returns the newest segment of a journal folder.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	return segs[len(segs)-1]
}

// TestJournalTornTail: a write cut short by a crash (never acknowledged)
// is cut off at the next open and everything before it is kept, over
// segments that turn; damage before the last segment's tail stops the
// open, naming file and offset.
func TestJournalTornTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := journalClock()
	const segment = 1 << 10
	open := func() *Journal { return openTestJournal(t, dir, clock, segment, 1<<30) }
	j := open()
	journalCall(t, j, "a", 3, time.Hour)
	j.Close()
	calls := []string{"a"}
	never := func() []byte {
		return endRecord(appendCall(beginRecordT(jUpdate, 99), "a", 9, true, 0, []byte("never")), 0)
	}
	tails := []struct {
		name string
		b    func(seg string) []byte
	}{
		{"half a header", func(string) []byte { return []byte{9, 0, 0} }},
		{"a short record", func(string) []byte { return append([]byte{200, 0, 0, 0, 1, 2, 3, 4}, "cut"...) }},
		{"a bad checksum", func(seg string) []byte {
			b := sealed(seg, never())
			b[len(b)-1] ^= 1
			return b
		}},
		{"a record of another segment", func(seg string) []byte {
			b := never()
			seal(b, fileNum(seg)+1)
			return b
		}},
		{"a header of zeros before a record", func(seg string) []byte { return append(make([]byte, 8), sealed(seg, never())...) }},
	}
	for round := 0; round < 8; round++ {
		tail := tails[round%len(tails)]
		seg := lastSegment(t, dir)
		// (The last segment may end in zeros written ahead: read as torn.)
		good, err := readRecords(seg, fileNum(seg), func([]byte) error { return nil })
		if err != nil && !errors.Is(err, errTorn) {
			t.Fatal(err)
		}
		f, _ := os.OpenFile(seg, os.O_WRONLY, 0)
		if _, err := f.WriteAt(tail.b(seg), good); err != nil {
			t.Fatal(err)
		}
		f.Close()
		j = open()
		for _, id := range calls {
			checkJournalCall(t, j, id, 3)
		}
		if fi, _ := os.Stat(seg); fi.Size() != good {
			t.Fatalf("%s: the segment is %d bytes after the open, want %d", tail.name, fi.Size(), good)
		}
		// Enough for the next segment to start.
		for k := range 8 {
			id := fmt.Sprintf("r%d-%d", round, k)
			journalCall(t, j, id, 3, time.Hour)
			calls = append(calls, id)
		}
		j.Close()
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.log")); len(segs) < 8 {
		t.Fatalf("%d segments, want several", len(segs))
	}

	// Restarts without writes do not add a segment each.
	before, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for range 3 {
		open().Close()
	}
	if after, _ := filepath.Glob(filepath.Join(dir, "*.log")); len(after) > len(before)+1 {
		t.Fatalf("three restarts took the segments from %d to %d", len(before), len(after))
	}

	// A record whose checksum holds but whose fields do not read is not
	// a torn write either, even at the end.
	seg := lastSegment(t, dir)
	f, _ := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.Write(sealed(seg, endRecord(append(beginRecordT(jUpdate, 1<<40), 0xff), 0)))
	f.Close()
	if _, err := openJournal(dir, NewMemory(), segment, 1<<30); err == nil || !strings.Contains(err.Error(), "malformed record") {
		t.Fatalf("a malformed record at the end: %v", err)
	}
	_ = os.Truncate(seg, 0)

	// Damage in a segment that is not the last is not a torn write.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	first := segs[0]
	b, _ := os.ReadFile(first)
	b[len(b)/2] ^= 0xff
	_ = os.WriteFile(first, b, 0o600)
	_, err := openJournal(dir, NewMemory(), segment, 1<<30)
	if err == nil || !strings.Contains(err.Error(), first) || !strings.Contains(err.Error(), "at offset") {
		t.Fatalf("a damaged segment: %v", err)
	}
}

// fileNum is the number of a journal file.
func fileNum(path string) uint64 {
	base, _, _ := strings.Cut(filepath.Base(path), ".")
	n, _ := strconv.ParseUint(base, 16, 64)
	return n
}

// sealed seals records for the file at path.
func sealed(path string, b []byte) []byte {
	seal(b, fileNum(path))
	return b
}

// beginRecordT is a record begun in a buffer of its own.
func beginRecordT(kind byte, lsn uint64) []byte {
	b, _ := beginRecord(nil, kind, lsn)
	return b
}

// journalSize is the bytes a journal folder holds: its snapshots, and
// its segments up to their last record.
func journalSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		switch filepath.Ext(e.Name()) {
		case ".snap":
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		case ".log":
			path := filepath.Join(dir, e.Name())
			good, _ := readRecords(path, fileNum(path), func([]byte) error { return nil })
			n += good
		}
	}
	return n
}

// waitSnapshot waits for a running snapshot to end.
func waitSnapshot(j *Journal) {
	j.segMu.Lock()
	done := j.snapDone
	j.segMu.Unlock()
	if done != nil {
		<-done
	}
}

// TestJournalSpaceFollowsLiveData: after a batch of calls expires, the
// next batch reuses the space (snapshots compact the segments): the
// folder peaks at the same size and, compacted, holds the live calls
// alone. A reopen finds exactly the live calls.
func TestJournalSpaceFollowsLiveData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := journalClock()
	j := openTestJournal(t, dir, clock, 16<<10, 32<<10)
	const writers, perWriter = 8, 60
	// fill writes a batch of calls and returns the folder's largest
	// size meanwhile and its size once compacted.
	fill := func(prefix string) (peak, compacted int64) {
		var mu sync.Mutex
		<-writeCalls(t, j, writers, perWriter, 5, func(w, i int) string { return fmt.Sprintf("%s-%d-%d", prefix, w, i) }, func(i int) {
			if n := journalSize(t, dir); i%10 == 0 && n > 0 {
				mu.Lock()
				peak = max(peak, n)
				mu.Unlock()
			}
		})
		j.compact()
		return peak, journalSize(t, dir)
	}
	peak1, size1 := fill("first")
	clock.add(2 * time.Hour)
	j.Sweep()
	peak2, size2 := fill("second")
	if peak2 > peak1*13/10 || size2 > size1*11/10 {
		t.Fatalf("the journal grew for as many live calls: peak %d then %d bytes, compacted %d then %d", peak1, peak2, size1, size2)
	}
	if snaps, _ := filepath.Glob(filepath.Join(dir, "*.snap")); len(snaps) != 1 {
		t.Fatalf("snapshots: %v, want one", snaps)
	}
	// Replaced segments were written over, and read back right (below).
	j.segMu.Lock()
	recycled := j.recycled
	j.segMu.Unlock()
	if recycled == 0 {
		t.Fatal("no segment was recycled")
	}
	j.Close()
	j = openTestJournal(t, dir, clock, 16<<10, 32<<10)
	defer j.Close()
	checkCalls(t, j, writers, perWriter, 5, func(w, i int) string { return fmt.Sprintf("second-%d-%d", w, i) })
	if _, err := j.Get(context.Background(), "first-0-7"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired call: %v", err)
	}
}

// TestJournalSnapshotWhileWriting: a snapshot taken while calls change
// (it reads some calls before and some after writes that the new segment
// also holds) replays to exactly what was acknowledged.
func TestJournalSnapshotWhileWriting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := journalClock()
	j := openTestJournal(t, dir, clock, 32<<10, 32<<10)
	const writers, perWriter, steps = 8, 60, 7
	written := writeCalls(t, j, writers, perWriter, steps, callName, nil)
	// Snapshots, one after the other, until the writers are done.
	stop := make(chan struct{})
	snaps := 0
	go func() {
		defer close(stop)
		for {
			select {
			case <-written:
				return
			default:
			}
			j.compact()
			snaps++
		}
	}()
	<-stop
	if snaps < 2 {
		t.Fatalf("%d snapshots taken while writing", snaps)
	}
	j.Close()
	j = openTestJournal(t, dir, clock, 32<<10, 32<<10)
	defer j.Close()
	checkCalls(t, j, writers, perWriter, steps, callName)
}

// callName names writeCalls' calls w0-0, w0-1, ….
func callName(w, i int) string { return fmt.Sprintf("w%d-%d", w, i) }

// TestJournalWriteFails: when a write to the journal fails, the write
// waiting for it fails, and so does everything after it (the tables may
// hold what the disk does not): the store stops, and Ping says why.
func TestJournalWriteFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTestJournal(t, t.TempDir(), nil, 0, 0)
	journalCall(t, j, "a", 2, time.Hour)
	j.segMu.Lock()
	j.seg.Close() // the next write fails
	j.segMu.Unlock()
	if err := j.Update(ctx, "a", 2, Record{Rev: 3, Data: []byte("lost")}, time.Hour); err == nil {
		t.Fatal("a write whose journal write failed succeeded")
	}
	if err := j.Ping(ctx); err == nil || !strings.Contains(err.Error(), "session store") {
		t.Fatalf("Ping after a failed write: %v", err)
	}
	if _, err := j.Get(ctx, "a"); err == nil {
		t.Fatal("a read after a failed write succeeded")
	}
	if err := j.Create(ctx, "b", Record{Rev: 1}, time.Hour); err == nil {
		t.Fatal("a write after a failed write succeeded")
	}
	if err := j.Close(); err == nil {
		t.Fatal("Close after a failed write reported nothing")
	}
}

// TestJournalKill9 kills a process that writes calls to a journal (with
// small segments and snapshots, so it turns segments and takes snapshots
// all the time) with SIGKILL, and checks that every write it had
// acknowledged is in the journal when it is opened again.
func TestJournalKill9(t *testing.T) {
	if inWriterProcess(t, "FLOWD_JOURNAL_WRITER", journalWriter) {
		return
	}
	t.Parallel()
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestJournalKill9$")
		cmd.Env = append(os.Environ(), "FLOWD_JOURNAL_WRITER="+dir, fmt.Sprintf("FLOWD_JOURNAL_ROUND=%d", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Acknowledged: "id rev" per line, printed once the write returned.
		acked := map[string]int{}
		sc := bufio.NewScanner(out)
		deadline := time.Now().Add(700 * time.Millisecond)
		for sc.Scan() {
			id, rev, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue
			}
			n, _ := strconv.Atoi(rev)
			acked[id] = max(acked[id], n)
			if time.Now().After(deadline) {
				break
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if len(acked) < 50 {
			t.Fatalf("round %d: the writer acknowledged only %d calls", round, len(acked))
		}
		j, err := openJournal(dir, NewMemory(), 64<<10, 256<<10)
		if err != nil {
			t.Fatalf("round %d: open after kill -9: %v", round, err)
		}
		ctx := context.Background()
		for id, rev := range acked {
			rec, err := j.Get(ctx, id)
			if err != nil || rec.Rev < rev || string(rec.Data) != fmt.Sprintf("%s step %d", id, rec.Rev) {
				t.Fatalf("round %d: %s was acknowledged at rev %d; after kill -9: %+v %v", round, id, rev, rec, err)
			}
			tr, _ := j.Trace(ctx, id)
			if len(tr) != rec.Rev {
				t.Fatalf("round %d: %s at rev %d has %d trace entries", round, id, rec.Rev, len(tr))
			}
		}
		j.Close()
	}
	// The kills came while segments turned and snapshots were taken.
	segs, snaps, _ := (&Journal{dir: dir}).files()
	if len(snaps) == 0 || segs[len(segs)-1] < 10 {
		t.Fatalf("segments %v and snapshots %v: the writer did not turn segments and take snapshots", segs, snaps)
	}
}

// inWriterProcess runs child with the folder in env and reports true
// when the test runs as the writer process a test started (env set);
// else the test goes on to start it, unless -short skips it.
func inWriterProcess(t *testing.T, env string, child func(dir string)) bool {
	if dir := os.Getenv(env); dir != "" {
		child(dir)
		return true
	}
	if testing.Short() {
		t.Skip("runs a writer process; skipped with -short")
	}
	return false
}

// journalWriter writes calls of several steps from 8 goroutines until it
// is killed, printing each acknowledged write.
func journalWriter(dir string) {
	j, err := openJournal(dir, NewMemory(), 64<<10, 256<<10)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	var mu sync.Mutex
	round := os.Getenv("FLOWD_JOURNAL_ROUND")
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				for k := 1; k <= 6; k++ {
					rec := Record{Rev: k, Live: true, Data: []byte(fmt.Sprintf("%s step %d", id, k)),
						Entry: []byte(fmt.Sprintf("%s entry %d", id, k-1)), Seq: k - 1}
					var err error
					if k == 1 {
						err = j.Create(ctx, id, rec, time.Hour)
					} else {
						err = j.Update(ctx, id, k-1, rec, time.Hour)
					}
					if err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(1)
					}
					mu.Lock()
					fmt.Printf("%s %d\n", id, k)
					mu.Unlock()
				}
			}
		}()
	}
	select {}
}

// TestJournalCloseStopsSnapshot: Close does not wait for a snapshot of
// every call to be written (it is abandoned, its temporary file removed),
// and the journal opens again whole.
func TestJournalCloseStopsSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openTestJournal(t, dir, nil, 0, 0)
	// Many calls, fast: through the writes' own path without waiting.
	var last *jBatch
	m := j.mem
	for i := range 20000 {
		id := fmt.Sprintf("c%d", i)
		rec := Record{Rev: 1, Live: true, Data: bytes.Repeat([]byte("s"), 900)}
		m.mu.Lock()
		s, err := m.create(id, rec, m.now().Add(time.Hour).UnixNano())
		if err != nil {
			t.Fatal(err)
		}
		last = j.logCall(jCreate, s, id, rec)
		m.mu.Unlock()
	}
	if err := j.wait(last); err != nil {
		t.Fatal(err)
	}
	j.segMu.Lock()
	j.snapping = true
	j.snapDone = make(chan struct{})
	go j.snapshot(j.snapDone)
	j.segMu.Unlock()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) != 0 {
		t.Fatalf("left behind: %v", tmp)
	}
	j = openTestJournal(t, dir, nil, 0, 0)
	defer j.Close()
	if n, _ := j.Live(context.Background()); n != 20000 {
		t.Fatalf("%d calls after the reopen, want 20000", n)
	}
}

// journalClock is a clock for a journal's tables, at a fixed time.
func journalClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Unix(1_000_000, 0).UnixNano())
	return c
}

// TestJournalFillsAhead: a busy segment is given zeros ahead of the
// writer (journal_ahead.go), which never land on a record: every segment
// that turned holds its records and nothing after them, and every call
// comes back on reopen, also when the store closed with zeros past its
// last record.
func TestJournalFillsAhead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := journalClock()
	const segment, snapMin = 256 << 10, 1 << 30 // no snapshot: every segment stays
	j := openTestJournal(t, dir, clock, segment, snapMin)
	const writers, perWriter = 8, 400
	<-writeCalls(t, j, writers, perWriter, 5, callName, nil)
	// untilAhead writes more calls, one at a time, until the segment
	// being written is longer than what was written to it: zeros are
	// ahead of the writer.
	extra := 0
	untilAhead := func() {
		t.Helper()
		for n := 0; ; n++ {
			j.segMu.Lock()
			written := j.segSize
			j.segMu.Unlock()
			if fi, err := os.Stat(lastSegment(t, dir)); err == nil && fi.Size() > written {
				return
			}
			if n == 2000 {
				t.Fatal("no zeros were written ahead of the journal's writer")
			}
			journalCall(t, j, fmt.Sprintf("extra-%d", extra), 5, time.Hour)
			extra++
		}
	}
	untilAhead()
	// A segment turned before its end, as a snapshot turns one, is cut
	// to its records.
	j.segMu.Lock()
	j.segNum++
	err := j.startSegment()
	j.segMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	untilAhead()
	j.ahead.mu.Lock()
	fills := j.ahead.fills
	j.ahead.mu.Unlock()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segs) < 4 || fills < len(segs) {
		t.Fatalf("%d segments, %d fills: the test wrote too little to fill ahead in each", len(segs), fills)
	}
	j.Close()

	// A segment that turned was cut to its records; the last ends in zeros.
	for k, path := range segs {
		good, err := readRecords(path, fileNum(path), func([]byte) error { return nil })
		fi, serr := os.Stat(path)
		if serr != nil {
			t.Fatal(serr)
		}
		last := k == len(segs)-1
		switch {
		case !last && (err != nil || good != fi.Size()):
			t.Fatalf("%s: %d bytes of records (%v) in a file of %d", path, good, err, fi.Size())
		case last && (!errors.Is(err, errTorn) || good >= fi.Size()):
			t.Fatalf("%s, the last segment: %d bytes of records (%v) in a file of %d, want zeros after them", path, good, err, fi.Size())
		}
	}

	// The zeros are cut off at the open, and the journal goes on after
	// them, to be opened again whole.
	j = openTestJournal(t, dir, clock, segment, snapMin)
	checkCalls(t, j, writers, perWriter, 5, callName)
	for i := range extra {
		checkJournalCall(t, j, fmt.Sprintf("extra-%d", i), 5)
	}
	journalCall(t, j, "after", 5, time.Hour)
	j.Close()
	j = openTestJournal(t, dir, clock, segment, snapMin)
	defer j.Close()
	checkJournalCall(t, j, "w3-17", 5)
	checkJournalCall(t, j, "after", 5)
}
