package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Flow versions in Redis, and how they come back when Redis loses them.
//
// A call is pinned to its flow version, whose source is kept in Redis so a
// replica that never compiled it can serve the call. Server.pin writes a
// version when it starts serving new calls and again at half its TTL;
// between those writes Redis may lose it: a restart without persistence,
// FLUSHALL, a failover to an empty replica. Then new calls would be
// pinned to a version no other replica can read.
//
// So each process remembers the sources of the versions it wrote or read
// until their stored copies expire, and a marker key holds a random value
// written once: when the marker is gone, or holds another value than the
// one this process last saw, Redis lost data (or a replica asked for a
// missing version, below), and the process writes back every version it
// remembers — a version already there keeps the longer of its TTLs — and
// then remembers the marker's value, writing a new one when there was
// none. It reads the marker
//
//   - in the same round trip as every Create (an answer), pipelined with
//     the script: the answer webhook stays one round trip, and the first
//     answer after a loss writes its version back before it answers;
//   - every redisWatchEvery, one GET, so a process that answers nothing
//     writes back too.
//
// A replica that finds a version missing (Registry.Version) changes the
// marker and waits up to redisRecoverWait for a replica that knows the
// version to write it back, instead of answering the apology at once.
// That covers the losses the marker does not see: in a cluster the
// marker is on one master and a version may be on another that failed
// over to an empty replica; an evicted key (flowd wants noeviction).

const (
	// redisMarkerKey holds the versions marker.
	redisMarkerKey = "flowd:vmark"
	// redisWatchEvery is how often each process reads the marker.
	redisWatchEvery = 500 * time.Millisecond
	// redisRecoverWait is how long a webhook waits for a missing version.
	redisRecoverWait = 2 * time.Second
)

// redisVersions is what a Redis store remembers of flow versions.
type redisVersions struct {
	mu     sync.Mutex             // serializes write-backs; guards known
	known  map[string]keptVersion // version key → source
	marker atomic.Pointer[string] // the marker's value when the versions were last all stored
	bumped atomic.Int64           // when this process last changed the marker for a missing version (unix ns)
}

// keptVersion is a version's source and when its stored copy expires.
type keptVersion struct {
	src   []byte
	until time.Time
}

func redisVersionKey(flowName, version string) string {
	return redisVersionPrefix + flowName + "@" + version
}

// keepScript writes a version back: KEYS version; ARGV source, ttl ms.
// A version that is there keeps its source and the longer TTL.
var keepScript = redis.NewScript(`
local t = redis.call('PTTL', KEYS[1])
if t == -2 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if t >= 0 and t < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// markerScript returns the marker, writing ARGV[1] when there is none.
var markerScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`)

func (r *Redis) initVersions(ctx context.Context) error {
	r.versions.known = map[string]keptVersion{}
	v, err := markerScript.Run(ctx, r.c, []string{redisMarkerKey}, rand.Text()).Text()
	if err != nil {
		return err
	}
	r.versions.marker.Store(&v)
	return nil
}

// remember keeps a version's source until its stored copy expires.
func (r *Redis) remember(key string, src []byte, until time.Time) {
	r.versions.mu.Lock()
	defer r.versions.mu.Unlock()
	now := r.now()
	for k, v := range r.versions.known {
		if !v.until.After(now) {
			delete(r.versions.known, k)
		}
	}
	r.versions.known[key] = keptVersion{src: bytes.Clone(src), until: until}
}

// PutVersion implements Store.
func (r *Redis) PutVersion(ctx context.Context, flowName, version string, src []byte, ttl time.Duration) error {
	key := redisVersionKey(flowName, version)
	until := r.now().Add(ttl)
	if err := r.c.Set(ctx, key, src, ttl).Err(); err != nil {
		return err
	}
	r.remember(key, src, until)
	return nil
}

// GetVersion implements Store. The source and its TTL come in one round
// trip; this process then writes the version back too if Redis loses it.
func (r *Redis) GetVersion(ctx context.Context, flowName, version string) ([]byte, error) {
	key := redisVersionKey(flowName, version)
	now := r.now()
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, key)
		ttl = p.PTTL(ctx, key)
		return nil
	})
	b, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if d, err := ttl.Result(); err == nil && d > 0 {
		r.remember(key, b, now.Add(d))
	}
	return b, nil
}

// checkMarker writes the versions back when the marker read by cmd says
// Redis lost them. It never fails the write it came with: the watch
// tries again.
func (r *Redis) checkMarker(ctx context.Context, cmd *redis.StringCmd) {
	v, err := cmd.Result()
	switch {
	case errors.Is(err, redis.Nil):
		v = ""
	case err != nil:
		return
	case v == *r.versions.marker.Load():
		return
	}
	_ = r.writeBack(ctx, v)
}

// writeBack writes every remembered version back, then records the
// marker seen (writing a new one when there was none).
func (r *Redis) writeBack(ctx context.Context, seen string) error {
	r.versions.mu.Lock()
	defer r.versions.mu.Unlock()
	if seen != "" && seen == *r.versions.marker.Load() {
		return nil // another write found it first
	}
	now := r.now()
	var cmds []*redis.Cmd
	_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, v := range r.versions.known {
			left := v.until.Sub(now).Milliseconds()
			if left <= 0 {
				delete(r.versions.known, k)
				continue
			}
			// EVAL, not EVALSHA: Redis that lost its data has usually
			// lost its scripts too.
			cmds = append(cmds, keepScript.Eval(ctx, p, []string{k}, v.src, left))
		}
		return nil
	})
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	if seen == "" {
		v, err := markerScript.Run(ctx, r.c, []string{redisMarkerKey}, rand.Text()).Text()
		if err != nil {
			return err
		}
		seen = v
	}
	r.versions.marker.Store(&seen)
	return nil
}

// watch reads the marker every interval until Close.
func (r *Redis) watch(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	r.stopWatch = cancel
	r.watching.Add(1)
	go func() {
		defer r.watching.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cctx, done := context.WithTimeout(ctx, 5*time.Second)
			r.checkMarker(cctx, r.c.Get(cctx, redisMarkerKey))
			done()
		}
	}()
}

// RecoverVersion is called when a flow version a call is pinned to is
// missing from Redis. When this process remembers it, it writes it back
// itself; otherwise it changes the marker, so every process that
// remembers it writes it back at its next look, and waits for it up to
// redisRecoverWait. ErrNotFound when none did.
func (r *Redis) RecoverVersion(ctx context.Context, flowName, version string) ([]byte, error) {
	key := redisVersionKey(flowName, version)
	r.versions.mu.Lock()
	kv, ok := r.versions.known[key]
	r.versions.mu.Unlock()
	if left := kv.until.Sub(r.now()).Milliseconds(); ok && left > 0 {
		if err := keepScript.Run(ctx, r.c, []string{key}, kv.src, left).Err(); err != nil {
			return nil, err
		}
		return bytes.Clone(kv.src), nil
	}
	// One marker change per process at a time is enough: every process
	// that remembers versions writes all of them back.
	if last := r.versions.bumped.Load(); time.Since(time.Unix(0, last)) > 250*time.Millisecond &&
		r.versions.bumped.CompareAndSwap(last, time.Now().UnixNano()) {
		if err := r.c.Set(ctx, redisMarkerKey, rand.Text(), 0).Err(); err != nil {
			return nil, err
		}
	}
	deadline := time.NewTimer(redisRecoverWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, ErrNotFound
		case <-tick.C:
		}
		src, err := r.GetVersion(ctx, flowName, version)
		if !errors.Is(err, ErrNotFound) {
			return src, err
		}
	}
}
