package runtime

import (
	"fmt"
	"os"
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
