package runtime

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is the default Store: an embedded bbolt file that survives restarts
// and needs no set-up. One process at a time may open the file; for
// several replicas use Redis.
//
// A value is a 17-byte header — expiry (unix nanoseconds), step, live —
// followed by the encoded session. Writes go through bbolt's Batch, which
// commits concurrent webhooks together in one transaction.
type Bolt struct {
	db   *bolt.DB
	now  func() time.Time
	stop chan struct{}
	done chan struct{}
}

var (
	bucketSessions = []byte("sessions")
	bucketVersions = []byte("versions")
)

const boltHeader = 17

// OpenBolt opens or creates the store file, creating its folder.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("session store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if err == bolt.ErrTimeout {
			return nil, fmt.Errorf("session store %s is locked by another flowd process; give each process its own --store, or share a redis:// store", path)
		}
		return nil, fmt.Errorf("session store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketSessions); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketVersions)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	b := &Bolt{db: db, now: time.Now, stop: make(chan struct{}), done: make(chan struct{})}
	go b.sweepEvery(time.Minute)
	return b, nil
}

// Path returns the file the store lives in.
func (b *Bolt) Path() string { return b.db.Path() }

func (b *Bolt) sweepEvery(d time.Duration) {
	defer close(b.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Sweep()
		}
	}
}

// Sweep deletes expired records.
func (b *Bolt) Sweep() error {
	now := b.now().UnixNano()
	return b.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketSessions, bucketVersions} {
			c := tx.Bucket(name).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if len(v) >= 8 && int64(binary.BigEndian.Uint64(v)) < now {
					if err := c.Delete(); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

func (b *Bolt) encode(rec Record, ttl time.Duration) []byte {
	v := make([]byte, boltHeader+len(rec.Data))
	binary.BigEndian.PutUint64(v, uint64(b.now().Add(ttl).UnixNano()))
	binary.BigEndian.PutUint64(v[8:], uint64(rec.Step))
	if rec.Live {
		v[16] = 1
	}
	copy(v[boltHeader:], rec.Data)
	return v
}

// decode reads a stored value; ok is false when it expired.
func (b *Bolt) decode(v []byte) (Record, bool) {
	if len(v) < boltHeader || int64(binary.BigEndian.Uint64(v)) < b.now().UnixNano() {
		return Record{}, false
	}
	data := make([]byte, len(v)-boltHeader)
	copy(data, v[boltHeader:])
	return Record{Step: int(binary.BigEndian.Uint64(v[8:])), Live: v[16] == 1, Data: data}, true
}

// Get implements Store.
func (b *Bolt) Get(_ context.Context, id string) (Record, error) {
	var rec Record
	ok := false
	err := b.db.View(func(tx *bolt.Tx) error {
		rec, ok = b.decode(tx.Bucket(bucketSessions).Get([]byte(id)))
		return nil
	})
	if err != nil {
		return Record{}, err
	}
	if !ok {
		return Record{}, ErrNotFound
	}
	return rec, nil
}

// Create implements Store.
func (b *Bolt) Create(_ context.Context, id string, rec Record, ttl time.Duration) error {
	v := b.encode(rec, ttl)
	return b.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketSessions)
		if _, ok := b.decode(bk.Get([]byte(id))); ok {
			return ErrExists
		}
		return bk.Put([]byte(id), v)
	})
}

// Update implements Store.
func (b *Bolt) Update(_ context.Context, id string, prevStep int, rec Record, ttl time.Duration) error {
	v := b.encode(rec, ttl)
	return b.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketSessions)
		old := bk.Get([]byte(id))
		if len(old) < boltHeader || int64(binary.BigEndian.Uint64(old)) < b.now().UnixNano() {
			return ErrNotFound
		}
		if int(binary.BigEndian.Uint64(old[8:])) != prevStep {
			return ErrConflict
		}
		return bk.Put([]byte(id), v)
	})
}

// PutVersion implements Store.
func (b *Bolt) PutVersion(_ context.Context, flowName, version string, src []byte, ttl time.Duration) error {
	v := b.encode(Record{Data: src}, ttl)
	return b.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVersions).Put([]byte(flowName+"@"+version), v)
	})
}

// GetVersion implements Store.
func (b *Bolt) GetVersion(_ context.Context, flowName, version string) ([]byte, error) {
	var rec Record
	ok := false
	err := b.db.View(func(tx *bolt.Tx) error {
		rec, ok = b.decode(tx.Bucket(bucketVersions).Get([]byte(flowName + "@" + version)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return rec.Data, nil
}

// Live implements Store.
func (b *Bolt) Live(context.Context) (int, error) {
	n := 0
	now := b.now().UnixNano()
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(_, v []byte) error {
			if len(v) >= boltHeader && int64(binary.BigEndian.Uint64(v)) >= now && v[16] == 1 {
				n++
			}
			return nil
		})
	})
	return n, err
}

// Close stops the sweeper and closes the file.
func (b *Bolt) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
		<-b.done
	}
	return b.db.Close()
}
