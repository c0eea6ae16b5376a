package runtime

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Memory is a Store in this process's memory: fast, and gone when the
// process stops. For tests, development and single-process deployments
// that accept losing live calls on a restart.
type Memory struct {
	mu       sync.RWMutex
	sessions map[string]memRecord // by value: no object per session for the GC to mark
	versions map[string]memVersion
	now      func() time.Time
	stop     chan struct{}
	once     sync.Once
}

type memRecord struct {
	rec     Record
	expires time.Time
	trace   []memEntry
}

type memEntry struct {
	seq  int
	data []byte
}

// appendEntry applies a write's trace entry and drop to r.
func (r *memRecord) appendEntry(rec Record) {
	if rec.Drop > 0 {
		for i, e := range r.trace {
			if e.seq == rec.Drop {
				r.trace = append(r.trace[:i], r.trace[i+1:]...)
				break
			}
		}
	}
	if rec.Entry != nil {
		r.trace = append(r.trace, memEntry{seq: rec.Seq, data: append([]byte(nil), rec.Entry...)})
	}
}

type memVersion struct {
	src     []byte
	expires time.Time
}

// NewMemory returns an empty memory store that sweeps expired records
// once a minute.
func NewMemory() *Memory {
	m := &Memory{sessions: map[string]memRecord{}, versions: map[string]memVersion{}, now: time.Now, stop: make(chan struct{})}
	go m.sweepEvery(time.Minute)
	return m
}

func (m *Memory) sweepEvery(d time.Duration) {
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

// Sweep removes expired records.
func (m *Memory) Sweep() {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, r := range m.sessions {
		if now.After(r.expires) {
			delete(m.sessions, k)
		}
	}
	for k, v := range m.versions {
		if now.After(v.expires) {
			delete(m.versions, k)
		}
	}
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, id string) (Record, error) {
	// Read the record under the lock: Update changes it in place.
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.sessions[id]
	if !ok || m.now().After(r.expires) {
		return Record{}, ErrNotFound
	}
	return copyRecord(r.rec), nil
}

// copyRecord returns rec with its own copy of the data: like the other
// stores, Memory holds bytes, never a slice its callers can still change.
func copyRecord(rec Record) Record {
	return Record{Rev: rec.Rev, Live: rec.Live, Data: append([]byte(nil), rec.Data...)}
}

// Create implements Store.
func (m *Memory) Create(_ context.Context, id string, rec Record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.sessions[id]; ok && !m.now().After(r.expires) {
		return ErrExists
	}
	// The id is usually a substring of the whole request body (net/url
	// parses the form without copying): keep a copy of its own, or each
	// session would pin its body.
	r := memRecord{rec: copyRecord(rec), expires: m.now().Add(ttl)}
	r.appendEntry(rec)
	m.sessions[strings.Clone(id)] = r
	return nil
}

// Update implements Store.
func (m *Memory) Update(_ context.Context, id string, prevRev int, rec Record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.sessions[id]
	if !ok || m.now().After(r.expires) {
		return ErrNotFound
	}
	if r.rec.Rev != prevRev {
		return ErrConflict
	}
	r.rec, r.expires = copyRecord(rec), m.now().Add(ttl)
	r.appendEntry(rec)
	// Assigning replaces the stored key too: keep it a copy of its own.
	m.sessions[strings.Clone(id)] = r
	return nil
}

// Trace implements Store.
func (m *Memory) Trace(_ context.Context, id string) ([][]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.sessions[id]
	if !ok || m.now().After(r.expires) {
		return nil, nil
	}
	out := make([][]byte, len(r.trace))
	for i, e := range r.trace {
		out[i] = append([]byte(nil), e.data...)
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

// Live implements Store.
func (m *Memory) Live(context.Context) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	now := m.now()
	for _, r := range m.sessions {
		if r.rec.Live && !now.After(r.expires) {
			n++
		}
	}
	return n, nil
}

// Close stops the sweeper.
func (m *Memory) Close() error {
	m.once.Do(func() { close(m.stop) })
	return nil
}
