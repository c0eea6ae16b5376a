package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by several flowd replicas. Each session is a
// hash (step, live, data) with a TTL; advancing a call is a Lua script
// that compares the stored step and writes in one atomic step, so two
// replicas that receive the same retried callback at once advance the call
// exactly once. A sorted set of live calls, scored by expiry, answers
// Live without scanning keys; each write prunes a few of its expired
// members, so the set stays as large as the calls that were live lately,
// /metrics scraped or not.
//
// Every webhook's write is one round trip: the script, pipelined with a
// read of the versions marker on an answer (see redis_versions.go), which
// writes back the flow versions this process knows when Redis lost them.
//
// URLs are go-redis's: redis://[user:password@]host:port/db, or rediss://
// for TLS, with options such as ?dial_timeout=3s, for a single Redis
// server (or a Sentinel-managed primary behind one address); and
// redis-cluster://[user:password@]host:port[,host:port...] (rediss-cluster
// for TLS) for a Redis Cluster (see redis_cluster.go).
type Redis struct {
	c       redis.UniversalClient
	cluster bool
	// health pings for Ping over one connection of its own, without
	// retries: a Redis that is down is told in one dial, with the dial's
	// error rather than the deadline that retries run into.
	health redis.UniversalClient
	now    func() time.Time

	versions redisVersions

	stopWatch func()
	watching  sync.WaitGroup
}

func init() {
	open := func(u string) (Store, error) { return OpenRedis(u) }
	for _, scheme := range []string{"redis", "rediss", redisClusterScheme, redisClusterTLSScheme} {
		storeOpeners[scheme] = open
	}
}

const (
	redisSessionPrefix = "flowd:s:"
	redisTracePrefix   = "flowd:t:"
	redisVersionPrefix = "flowd:v:"
	redisLiveKey       = "flowd:live"
)

// redisKeys are a call's session and trace keys. The call id is a hash
// tag ({id}), so both live in one Redis Cluster slot. An id whose tag
// would be empty ("" or one starting with '}') gets keys of their own
// shape with the tag {~}, which no other id's keys have.
func redisKeys(id string) (session, trace string) {
	if id == "" || id[0] == '}' {
		return "flowd:s~{~}" + id, "flowd:t~{~}" + id
	}
	tag := "{" + id + "}"
	return redisSessionPrefix + tag, redisTracePrefix + tag
}

// callKeys are the keys a call's scripts touch: session, live set, trace,
// all in the call's slot.
func (r *Redis) callKeys(id string) []string {
	session, trace := redisKeys(id)
	live := redisLiveKey
	if r.cluster {
		live = redisLiveSlotKey(keySlot(session))
	}
	return []string{session, live, trace}
}

// OpenRedis connects to Redis, or to a Redis Cluster with a
// redis-cluster:// URL, and checks the connection.
func OpenRedis(rawURL string) (*Redis, error) {
	return openRedis(rawURL, redisWatchEvery)
}

// openRedis opens the store; watch is how often it checks the versions
// marker between writes (0: never, for tests that count commands).
func openRedis(rawURL string, watch time.Duration) (*Redis, error) {
	var (
		c, health redis.UniversalClient
		cluster   bool
		addr      string
	)
	if strings.HasPrefix(rawURL, redisClusterScheme+"://") || strings.HasPrefix(rawURL, redisClusterTLSScheme+"://") {
		opt, err := parseRedisClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
		hopt := *opt
		hopt.MaxRetries, hopt.DialerRetries, hopt.PoolSize, hopt.MinIdleConns, hopt.MaxIdleConns = -1, 1, 1, 0, 1
		c, health, cluster, addr = redis.NewClusterClient(opt), redis.NewClusterClient(&hopt), true, strings.Join(opt.Addrs, ",")
	} else {
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
		hopt := *opt
		hopt.MaxRetries, hopt.DialerRetries, hopt.PoolSize, hopt.MinIdleConns, hopt.MaxIdleConns = -1, 1, 1, 0, 1
		c, health, addr = redis.NewClient(opt), redis.NewClient(&hopt), opt.Addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		health.Close()
		return nil, fmt.Errorf("redis store %s: %w", addr, err)
	}
	if !cluster {
		// A cluster node refuses the scripts (their keys are in several
		// slots); say so now rather than at the first call.
		if info, err := c.Info(ctx, "cluster").Result(); err == nil && strings.Contains(info, "cluster_enabled:1") {
			c.Close()
			health.Close()
			return nil, fmt.Errorf("redis store %s is a Redis Cluster node: use %s://%s", addr, redisClusterScheme, addr)
		}
	}
	r := &Redis{c: c, cluster: cluster, health: health, now: time.Now}
	if err := r.initVersions(ctx); err != nil {
		c.Close()
		health.Close()
		return nil, fmt.Errorf("redis store %s: %w", addr, err)
	}
	if watch > 0 {
		r.watch(watch)
	}
	return r, nil
}

// livePruneLua removes up to 10 members of the live set KEYS[2] whose
// sessions expired before ARGV[12] (ms): each write removes more than
// it adds, so expired members never pile up, whether Live runs or not.
const livePruneLua = `
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[12], 'LIMIT', 0, 10)
if #gone > 0 then redis.call('ZREM', KEYS[2], unpack(gone)) end
`

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
// ttl ms, expiry ms, id, the trace arguments, now ms. Returns 0 when the
// session exists.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[1], 'step', ARGV[2], 'live', ARGV[3], 'data', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
` + livePruneLua + `
if ARGV[3] == '1' then redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7]) end
` + traceLua + `
return 1
`)

// updateScript: KEYS session, live set, trace; ARGV prev step, step,
// live, data, ttl ms, expiry ms, id, the trace arguments, now ms. Returns
// -1 when missing, 0 on conflict.
var updateScript = redis.NewScript(`
local s = redis.call('HGET', KEYS[1], 'step')
if not s then return -1 end
if s ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'step', ARGV[2], 'live', ARGV[3], 'data', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
` + livePruneLua + `
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])
else
  redis.call('ZREM', KEYS[2], ARGV[7])
end
` + traceLua + `
return 1
`)

// scriptArgs are the arguments of createScript and updateScript.
func (r *Redis) scriptArgs(prevRev int, rec Record, ttl time.Duration, id string) []any {
	now := r.now()
	return []any{prevRev, rec.Rev, boolArg(rec.Live), rec.Data, ttl.Milliseconds(), now.Add(ttl).UnixMilli(), id,
		boolArg(rec.Entry != nil), rec.Entry, rec.Seq, rec.Drop, now.UnixMilli()}
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// isNoScript reports whether a script's EVALSHA found Redis without it
// (after a restart or SCRIPT FLUSH).
func isNoScript(err error) bool {
	return errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")
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

// Create implements Store. The script goes with a read of the versions
// marker, in the same round trip: when Redis lost its data since this
// process last looked, the flow versions it knows are written back
// before Create returns, so the new call's version is there for any
// replica.
func (r *Redis) Create(ctx context.Context, id string, rec Record, ttl time.Duration) error {
	keys, args := r.callKeys(id), r.scriptArgs(0, rec, ttl, id)
	var run *redis.Cmd
	var marker *redis.StringCmd
	_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		run = createScript.EvalSha(ctx, p, keys, args...)
		marker = p.Get(ctx, redisMarkerKey)
		return nil
	})
	if isNoScript(run.Err()) {
		run = createScript.Eval(ctx, r.c, keys, args...)
	}
	n, err := run.Int()
	if err != nil {
		return err
	}
	r.checkMarker(ctx, marker)
	if n == 0 {
		return ErrExists
	}
	return nil
}

// Update implements Store.
func (r *Redis) Update(ctx context.Context, id string, prevRev int, rec Record, ttl time.Duration) error {
	n, err := updateScript.Run(ctx, r.c, r.callKeys(id), r.scriptArgs(prevRev, rec, ttl, id)...).Int()
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

// Live implements Store: the members of the live sets whose sessions
// have not expired. It only reads; writes prune the sets.
func (r *Redis) Live(ctx context.Context) (int, error) {
	after := "(" + strconv.FormatInt(r.now().UnixMilli(), 10)
	if !r.cluster {
		n, err := r.c.ZCount(ctx, redisLiveKey, after, "+inf").Result()
		return int(n), err
	}
	// One live set per slot: one pipeline, which go-redis sends to each
	// master as one batch.
	cmds := make([]*redis.IntCmd, redisSlots)
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for s := range cmds {
			cmds[s] = p.ZCount(ctx, redisLiveSlotKey(s), after, "+inf")
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := int64(0)
	for _, c := range cmds {
		n += c.Val()
	}
	return int(n), nil
}

// Ping implements Store: a PING, to the server or to every master of a
// cluster, over the store's health connection, within ctx's deadline (a
// second when it has none).
func (r *Redis) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	if cc, ok := r.health.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			if err := c.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("%s: %w", c.Options().Addr, err)
			}
			// A master restarted empty answers PING while the cluster
			// is still taking it back, and CLUSTERDOWN to everything else.
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return fmt.Errorf("%s: %w", c.Options().Addr, err)
			}
			if state := clusterState(info); state != "ok" {
				return fmt.Errorf("%s: cluster_state:%s", c.Options().Addr, state)
			}
			return nil
		})
	}
	return r.health.Ping(ctx).Err()
}

// clusterState reads cluster_state from CLUSTER INFO's answer: ok or
// fail ("" when it is missing).
func clusterState(info string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			return v
		}
	}
	return ""
}

// Close stops the marker watch and closes the connections.
func (r *Redis) Close() error {
	if r.stopWatch != nil {
		r.stopWatch()
		r.watching.Wait()
	}
	_ = r.health.Close()
	return r.c.Close()
}
