package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// References live beside flow versions in each store, under a prefix no
// flow name can have.
const refPrefix = "ref\x00"

// PutRef implements Store.
func (m *Memory) PutRef(ctx context.Context, key, value string, ttl time.Duration) error {
	return m.PutVersion(ctx, refPrefix, key, []byte(value), ttl)
}

// GetRef implements Store.
func (m *Memory) GetRef(ctx context.Context, key string) (string, error) {
	b, err := m.GetVersion(ctx, refPrefix, key)
	return string(b), err
}

// PutRef implements Store.
func (b *Bolt) PutRef(ctx context.Context, key, value string, ttl time.Duration) error {
	return b.PutVersion(ctx, refPrefix, key, []byte(value), ttl)
}

// GetRef implements Store.
func (b *Bolt) GetRef(ctx context.Context, key string) (string, error) {
	v, err := b.GetVersion(ctx, refPrefix, key)
	return string(v), err
}

const redisRefPrefix = "flowd:r:"

// PutRef implements Store.
func (r *Redis) PutRef(ctx context.Context, key, value string, ttl time.Duration) error {
	return r.c.Set(ctx, redisRefPrefix+key, value, ttl).Err()
}

// GetRef implements Store.
func (r *Redis) GetRef(ctx context.Context, key string) (string, error) {
	v, err := r.c.Get(ctx, redisRefPrefix+key).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	return v, err
}
