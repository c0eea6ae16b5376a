package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestJournalDropsWritten: the part of a segment written and flushed
// leaves the page cache (dropWritten): the journal never reads it while
// open, and a million calls' segments would otherwise hold gigabytes of
// it.
func TestJournalDropsWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openTestJournal(t, dir, journalClock(), 64<<20, 1<<30)
	defer j.Close()
	// 4 MiB of big entries, in a few hundred flushes.
	for i := range 256 {
		rec := Record{Rev: 1, Live: true, Data: []byte(fmt.Sprintf("call %d", i)), Entry: make([]byte, 16<<10)}
		if err := j.Create(t.Context(), fmt.Sprintf("c%d", i), rec, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	j.segMu.Lock()
	defer j.segMu.Unlock()
	if j.segDropped < 2*jDropStep {
		t.Fatalf("%d bytes of the segment's %d left the page cache", j.segDropped, j.segSize)
	}
	f, err := os.Open(j.seg.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, int(j.segDropped), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	page := os.Getpagesize()
	vec := make([]byte, (len(mem)+page-1)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	cached := 0
	for _, v := range vec {
		cached += int(v & 1)
	}
	if cached > len(vec)/10 {
		t.Fatalf("%d of the %d pages written and flushed are still in the page cache", cached, len(vec))
	}
}

// TestJournalRecycledNoReads: writing into a recycled segment, whose
// pages left the page cache in its first life (dropWritten), reads
// nothing back from the disk: zeros are written ahead of the writer over
// what it held (journal_ahead.go), whole pages at a time. A write that
// ends inside a page the cache no longer holds would otherwise read that
// page first, once a flush. It runs in a process of its own, whose
// /proc/PID/io counts its reads alone.
func TestJournalRecycledNoReads(t *testing.T) {
	if inWriterProcess(t, "FLOWD_JOURNAL_RECYCLER", journalRecycler) {
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestJournalRecycledNoReads$")
	cmd.Env = append(os.Environ(), "FLOWD_JOURNAL_RECYCLER="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var recycled, read int64
	if _, err := fmt.Sscanf(lineOf(string(out), "recycled "), "recycled %d read %d", &recycled, &read); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if recycled < 2 {
		t.Fatalf("%d segments recycled: the writer did not reach them", recycled)
	}
	if read > 64<<10 {
		t.Fatalf("writing %d recycled segments read %d bytes from the disk", recycled, read)
	}
}

// journalRecycler writes calls until segments are recycled, then prints
// how many were and what writing into them read from the disk.
func journalRecycler(dir string) {
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(1)
	}
	j, err := openJournal(dir, NewMemory(), 4<<20, 1<<40)
	if err != nil {
		fail(err)
	}
	n := 0
	write := func(mib int) {
		for range mib * 64 {
			rec := Record{Rev: 1, Live: true, Data: []byte(fmt.Sprintf("call %d", n)), Entry: make([]byte, 16<<10-100)}
			if err := j.Create(context.Background(), fmt.Sprintf("c%d", n), rec, time.Hour); err != nil {
				fail(err)
			}
			n++
		}
	}
	write(20)
	j.compact() // the segments it replaces become spares
	write(4)    // to the end of the snapshot's segment
	before, err := readBytes()
	if err != nil {
		fail(err)
	}
	write(12) // into recycled segments
	after, err := readBytes()
	if err != nil {
		fail(err)
	}
	read := after - before
	j.segMu.Lock()
	recycled := j.recycled
	j.segMu.Unlock()
	if err := j.Close(); err != nil {
		fail(err)
	}
	fmt.Printf("recycled %d read %d\n", recycled, read)
}

// readBytes is what the process has read from storage (/proc/self/io).
func readBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, err
	}
	if v, ok := strings.CutPrefix(lineOf(string(b), "read_bytes: "), "read_bytes: "); ok {
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("/proc/self/io has no read_bytes:\n%s", b)
}

// lineOf returns the first line of s that starts with prefix.
func lineOf(s, prefix string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

// TestJournalUnlocksAtClose: a closed journal's folder opens again at
// once even while another copy of its lock's file descriptor is open —
// what a process that forks holds until its child execs (the parallel
// tests that start writer processes fork so). Closing the file alone
// left the lock held by that copy.
func TestJournalUnlocksAtClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openTestJournal(t, dir, journalClock(), 0, 0)
	dup, err := unix.Dup(int(j.lock.Fd())) // the forked child's copy
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, err = openJournal(dir, NewMemory(), jSegmentSize, jSnapMin)
	if err != nil {
		t.Fatalf("opened again after Close: %v", err)
	}
	j.Close()
}
