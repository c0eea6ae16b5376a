package runtime

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store in this process's memory: fast, and gone when the
// process stops. For tests, development and single-process deployments
// that accept losing live calls on a restart.
type Memory struct {
	mu       sync.RWMutex
	sessions map[string]*memRecord
	versions map[string]memVersion
	now      func() time.Time
	stop     chan struct{}
	once     sync.Once
}

type memRecord struct {
	rec     Record
	expires time.Time
}

type memVersion struct {
	src     []byte
	expires time.Time
}

// NewMemory returns an empty memory store that sweeps expired records
// once a minute.
func NewMemory() *Memory {
	m := &Memory{sessions: map[string]*memRecord{}, versions: map[string]memVersion{}, now: time.Now, stop: make(chan struct{})}
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
	m.mu.RLock()
	r, ok := m.sessions[id]
	m.mu.RUnlock()
	if !ok || m.now().After(r.expires) {
		return Record{}, ErrNotFound
	}
	return r.rec, nil
}

// Create implements Store.
func (m *Memory) Create(_ context.Context, id string, rec Record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.sessions[id]; ok && !m.now().After(r.expires) {
		return ErrExists
	}
	m.sessions[id] = &memRecord{rec: rec, expires: m.now().Add(ttl)}
	return nil
}

// Update implements Store.
func (m *Memory) Update(_ context.Context, id string, prevStep int, rec Record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.sessions[id]
	if !ok || m.now().After(r.expires) {
		return ErrNotFound
	}
	if r.rec.Step != prevStep {
		return ErrConflict
	}
	r.rec, r.expires = rec, m.now().Add(ttl)
	return nil
}

// PutVersion implements Store.
func (m *Memory) PutVersion(_ context.Context, flowName, version string, src []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.versions[flowName+"@"+version] = memVersion{src: src, expires: m.now().Add(ttl)}
	return nil
}

// GetVersion implements Store.
func (m *Memory) GetVersion(_ context.Context, flowName, version string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.versions[flowName+"@"+version]
	if !ok {
		return nil, ErrNotFound
	}
	return v.src, nil
}

// Live implements Store.
func (m *Memory) Live(context.Context) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	for _, r := range m.sessions {
		if r.rec.Live {
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
