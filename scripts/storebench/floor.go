package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"os"
	"path/filepath"
	"sync"
)

// floorEngine is the cost of durability alone: the hot records live in a
// map, and each write appends the bytes an engine would write (hot value,
// trace key and entry) to a log, one write and one fdatasync per group of
// concurrent writers, grouped as boltEngine groups them. It has no index,
// no sweep and no space reuse.
//
// The "append" floor appends to a plain file, so every fdatasync also
// commits the file's new size to the file system's journal. The "floor"
// floor writes in place, round a file filled with zeros and synced when
// opened, so an fdatasync flushes data blocks only: what a database log
// that recycles its files (as pebble's WAL does) pays.
type floorEngine struct {
	name    string
	f       *os.File
	dir     string
	seed    maphash.Seed
	ring    int64 // size of the in-place file; 0 appends
	written int64

	stripes [pebbleStripes]struct {
		sync.Mutex
		hot map[string][]byte
	}

	mu        sync.Mutex
	queue     []*floorWrite
	closed    bool
	wake      chan struct{}
	committed chan struct{}
}

type floorWrite struct {
	buf  []byte
	err  error
	done chan struct{}
}

const floorRing = 64 << 20

func openFloor(dir string, inPlace bool) (*floorEngine, error) {
	flags, name, ring := os.O_CREATE|os.O_WRONLY|os.O_APPEND, "append", int64(0)
	if inPlace {
		flags, name, ring = os.O_CREATE|os.O_WRONLY, "floor", floorRing
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".log"), flags, 0o600)
	if err != nil {
		return nil, err
	}
	if inPlace {
		zeros := make([]byte, 1<<20)
		for range ring >> 20 {
			if _, err := f.Write(zeros); err == nil {
				continue
			}
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	e := &floorEngine{name: name, f: f, dir: dir, ring: ring, seed: maphash.MakeSeed(), wake: make(chan struct{}, 1), committed: make(chan struct{})}
	for i := range e.stripes {
		e.stripes[i].hot = map[string][]byte{}
	}
	go e.commitLoop()
	return e, nil
}

func (e *floorEngine) Name() string { return e.name }
func (e *floorEngine) Dir() string  { return e.dir }

func (e *floorEngine) append(buf []byte) error {
	w := &floorWrite{buf: buf, done: make(chan struct{}, 1)}
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
	return w.err
}

func (e *floorEngine) commitLoop() {
	defer close(e.committed)
	var group []*floorWrite
	var buf []byte
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
			buf = buf[:0]
			for _, w := range group {
				buf = append(buf, w.buf...)
			}
			err := e.log(buf)
			if err == nil {
				err = datasync(e.f)
			}
			for _, w := range group {
				w.err = err
				w.done <- struct{}{}
			}
			clear(group)
			continue
		}
		if closed {
			return
		}
		<-e.wake
	}
}

// log writes buf at the end of the file, or in place.
func (e *floorEngine) log(buf []byte) error {
	if e.ring == 0 {
		_, err := e.f.Write(buf)
		return err
	}
	for len(buf) > 0 {
		off := e.written % e.ring
		n := min(int64(len(buf)), e.ring-off)
		if _, err := e.f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		buf, e.written = buf[n:], e.written+n
	}
	return nil
}

func (e *floorEngine) Get(id []byte, now int64) (uint64, []byte, bool, error) {
	s := &e.stripes[maphash.Bytes(e.seed, id)%pebbleStripes]
	s.Lock()
	v := s.hot[string(id)]
	s.Unlock()
	if len(v) < hotHeader || hotExpiry(v) < now {
		return 0, nil, false, nil
	}
	return hotRev(v), bytes.Clone(v[hotHeader:]), true, nil
}

func (e *floorEngine) Write(w *Webhook) error {
	s := &e.stripes[maphash.Bytes(e.seed, w.ID)%pebbleStripes]
	s.Lock()
	defer s.Unlock()
	if _, err := checkWrite(w, s.hot[string(w.ID)]); err != nil {
		return err
	}
	v := hotValue(w.Expiry, w.PrevRev+1, w.Hot)
	tk := traceKey("", w.ID, uint32(w.PrevRev))
	buf := make([]byte, 0, 12+len(w.ID)+len(v)+len(tk)+len(w.Trace))
	for _, p := range [][]byte{w.ID, v, tk} {
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(w.Trace)))
	buf = append(buf, w.Trace...)
	if err := e.append(buf); err != nil {
		return err
	}
	s.hot[string(w.ID)] = v
	return nil
}

func (e *floorEngine) Load([]Loaded) error                       { return nil }
func (e *floorEngine) SweepBatch(int64, int) (int, int64, error) { return 0, 0, nil }
func (e *floorEngine) Counts() (int, int, int, error)            { return 0, 0, 0, nil }
func (e *floorEngine) Traces([]byte) ([]uint32, error)           { return nil, nil }

func (e *floorEngine) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	<-e.committed
	return e.f.Close()
}
