package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by several flowd replicas. Each session is a
// hash (step, live, data) with a TTL; advancing a call is a Lua script
// that compares the stored step and writes in one atomic step, so two
// replicas that receive the same retried callback at once advance the call
// exactly once. A sorted set of live calls, scored by expiry, answers
// Live without scanning keys.
//
// The URL is go-redis's: redis://[user:password@]host:port/db, or
// rediss:// for TLS, with options such as ?dial_timeout=3s. A single
// Redis server (or a Sentinel-managed primary) is supported; Redis Cluster
// is not, since a script touches a session and the live set together.
type Redis struct {
	c   *redis.Client
	now func() time.Time
}

func init() {
	storeOpeners["redis"] = func(u string) (Store, error) { return OpenRedis(u) }
	storeOpeners["rediss"] = storeOpeners["redis"]
}

const (
	redisSessionPrefix = "flowd:s:"
	redisTracePrefix   = "flowd:t:"
	redisVersionPrefix = "flowd:v:"
	redisLiveKey       = "flowd:live"
)

// redisKeys are a call's session and trace keys. The call id is a hash
// tag ({id}), so both live in one Redis Cluster slot.
func redisKeys(id string) (session, trace string) {
	tag := "{" + id + "}"
	return redisSessionPrefix + tag, redisTracePrefix + tag
}

// OpenRedis connects to Redis and checks the connection.
func OpenRedis(rawURL string) (*Redis, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis store %s: %w", opt.Addr, err)
	}
	return &Redis{c: c, now: time.Now}, nil
}

// traceLua applies a write's trace entry (ARGV[8] = '1': entry ARGV[9]
// at sequence ARGV[10]) and drop (ARGV[11] > 0) to the trace hash
// KEYS[3], which expires with the session (ARGV[5] ms).
const traceLua = `
if tonumber(ARGV[11]) > 0 then redis.call('HDEL', KEYS[3], ARGV[11]) end
if ARGV[8] == '1' then
  redis.call('HSET', KEYS[3], ARGV[10], ARGV[9])
end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[5]) end
`

// createScript: KEYS session, live set, trace; ARGV -, step, live, data,
// ttl ms, expiry ms, id, then the trace arguments. Returns 0 when the
// session exists.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[1], 'step', ARGV[2], 'live', ARGV[3], 'data', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[3] == '1' then redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7]) end
` + traceLua + `
return 1
`)

// updateScript: KEYS session, live set, trace; ARGV prev step, step,
// live, data, ttl ms, expiry ms, id, then the trace arguments. Returns -1
// when missing, 0 on conflict.
var updateScript = redis.NewScript(`
local s = redis.call('HGET', KEYS[1], 'step')
if not s then return -1 end
if s ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'step', ARGV[2], 'live', ARGV[3], 'data', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])
else
  redis.call('ZREM', KEYS[2], ARGV[7])
end
` + traceLua + `
return 1
`)

// scriptArgs are the arguments of createScript and updateScript.
func scriptArgs(prevRev int, rec Record, ttl time.Duration, exp int64, id string) []any {
	return []any{prevRev, rec.Rev, boolArg(rec.Live), rec.Data, ttl.Milliseconds(), exp, id,
		boolArg(rec.Entry != nil), rec.Entry, rec.Seq, rec.Drop}
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, id string) (Record, error) {
	key, _ := redisKeys(id)
	vals, err := r.c.HMGet(ctx, key, "step", "live", "data").Result()
	if err != nil {
		return Record{}, err
	}
	step, ok1 := vals[0].(string)
	live, _ := vals[1].(string)
	data, ok2 := vals[2].(string)
	if !ok1 || !ok2 {
		return Record{}, ErrNotFound
	}
	n, err := strconv.Atoi(step)
	if err != nil {
		return Record{}, fmt.Errorf("redis store: session %s has step %q", id, step)
	}
	return Record{Rev: n, Live: live == "1", Data: []byte(data)}, nil
}

// Create implements Store.
func (r *Redis) Create(ctx context.Context, id string, rec Record, ttl time.Duration) error {
	exp := r.now().Add(ttl).UnixMilli()
	key, trace := redisKeys(id)
	n, err := createScript.Run(ctx, r.c, []string{key, redisLiveKey, trace}, scriptArgs(0, rec, ttl, exp, id)...).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrExists
	}
	return nil
}

// Update implements Store.
func (r *Redis) Update(ctx context.Context, id string, prevRev int, rec Record, ttl time.Duration) error {
	exp := r.now().Add(ttl).UnixMilli()
	key, trace := redisKeys(id)
	n, err := updateScript.Run(ctx, r.c, []string{key, redisLiveKey, trace}, scriptArgs(prevRev, rec, ttl, exp, id)...).Int()
	if err != nil {
		return err
	}
	switch n {
	case -1:
		return ErrNotFound
	case 0:
		return ErrConflict
	}
	return nil
}

// Trace implements Store.
func (r *Redis) Trace(ctx context.Context, id string) ([][]byte, error) {
	_, key := redisKeys(id)
	m, err := r.c.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	type entry struct {
		seq  int
		data string
	}
	entries := make([]entry, 0, len(m))
	for k, v := range m {
		seq, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("redis store: trace of %s has entry %q", id, k)
		}
		entries = append(entries, entry{seq, v})
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.seq - b.seq })
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = []byte(e.data)
	}
	return out, nil
}

// PutVersion implements Store.
func (r *Redis) PutVersion(ctx context.Context, flowName, version string, src []byte, ttl time.Duration) error {
	return r.c.Set(ctx, redisVersionPrefix+flowName+"@"+version, src, ttl).Err()
}

// GetVersion implements Store.
func (r *Redis) GetVersion(ctx context.Context, flowName, version string) ([]byte, error) {
	b, err := r.c.Get(ctx, redisVersionPrefix+flowName+"@"+version).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, err
}

// Live implements Store. Entries whose sessions expired are pruned here.
func (r *Redis) Live(ctx context.Context) (int, error) {
	now := strconv.FormatInt(r.now().UnixMilli(), 10)
	if err := r.c.ZRemRangeByScore(ctx, redisLiveKey, "-inf", "("+now).Err(); err != nil {
		return 0, err
	}
	n, err := r.c.ZCard(ctx, redisLiveKey).Result()
	return int(n), err
}

// Close closes the connection pool.
func (r *Redis) Close() error { return r.c.Close() }
