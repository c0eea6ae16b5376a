package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowd-dev/flowd/internal/testenv"
)

// redisCluster is a Redis Cluster of three masters (no replicas) the
// test started on free loopback ports, with append-only files, stopped
// by PID when the test ends.
type redisCluster struct {
	URL   string // redis-cluster://...
	nodes []*redisServer
}

// startRedisCluster starts three cluster-enabled redis-servers, joins
// them with redis-cli --cluster create and waits until every node says
// cluster_state:ok. It skips (fails under CI=true) without redis-server
// or redis-cli.
func startRedisCluster(t *testing.T) *redisCluster {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server", "Debian: apt-get install redis-server")
	cli := testenv.LookPath(t, "redis-cli", "Debian: apt-get install redis-tools (redis-server depends on it)")
	tmp := t.TempDir()
	rc := &redisCluster{}
	var addrs []string
	for range 3 {
		port := freeClusterPort(t)
		dir := filepath.Join(tmp, strconv.Itoa(port))
		s := &redisServer{Port: port, Dir: dir, URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), args: []string{bin,
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
			"--appendonly", "yes", "--appendfsync", "always", "--logfile", filepath.Join(dir, "redis.log")}}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s.Start(t)
		t.Cleanup(s.Stop)
		rc.nodes = append(rc.nodes, s)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	rc.waitOK(t)
	rc.URL = "redis-cluster://" + strings.Join(addrs, ",")
	return rc
}

// freeClusterPort is a free port whose cluster bus port (+10000) is free
// too.
func freeClusterPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := freePort(t)
		if port+10000 > 65535 {
			continue
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000)); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// node is a plain client of one node.
func (rc *redisCluster) node(t *testing.T, i int) *redis.Client {
	return redisClient(t, rc.nodes[i].URL)
}

// waitOK waits until every node says cluster_state:ok.
func (rc *redisCluster) waitOK(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for i := range rc.nodes {
		c := rc.node(t, i)
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: cluster state: %v\n%s", rc.nodes[i].Port, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// flush empties every master.
func (rc *redisCluster) flush(t *testing.T) {
	t.Helper()
	for i := range rc.nodes {
		if err := rc.node(t, i).FlushAll(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// owner is the node that serves slot.
func (rc *redisCluster) owner(t *testing.T, slot int) int {
	t.Helper()
	shards, err := rc.node(t, 0).ClusterShards(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if int(r.Start) > slot || slot > int(r.End) {
				continue
			}
			for _, m := range sh.Nodes {
				if m.Role != "master" {
					continue
				}
				for i, n := range rc.nodes {
					if int(m.Port) == n.Port {
						return i
					}
				}
			}
		}
	}
	t.Fatalf("no node serves slot %d", slot)
	return -1
}

// TestRedisCluster runs the store on a real three-master Redis Cluster:
// the store contract, the slots of its keys as Redis computes them, the
// live sets pruned per slot, versions written back after a loss, and a
// master restarted with its append-only file.
func TestRedisCluster(t *testing.T) {
	rc := startRedisCluster(t)
	ctx := context.Background()

	t.Run("Contract", func(t *testing.T) {
		testStoreContract(t, func(t *testing.T) Store {
			rc.flush(t)
			st, err := OpenStore(rc.URL)
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})

	t.Run("Slots", func(t *testing.T) {
		c := rc.node(t, 0)
		r := &Redis{cluster: true}
		for _, id := range []string{"0c5d8f0e-1c4e-4a4e-9a55-0a1b2c3d4e5f", "", "}x", "a}b", "ü", "c-42"} {
			for _, key := range r.callKeys(id) {
				slot, err := c.ClusterKeySlot(ctx, key).Result()
				if err != nil || int(slot) != keySlot(key) {
					t.Fatalf("CLUSTER KEYSLOT %q = %d, %v; keySlot says %d", key, slot, err, keySlot(key))
				}
			}
		}
		// A cluster node behind a redis:// URL is refused with a hint.
		if _, err := OpenStore(rc.nodes[0].URL); err == nil || !strings.Contains(err.Error(), "redis-cluster://") {
			t.Fatalf("redis:// to a cluster node: %v", err)
		}
	})

	t.Run("LivePrunedPerSlot", func(t *testing.T) {
		rc.flush(t)
		st, err := openRedis(rc.URL, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		clock := newFakeClock()
		st.now = clock.now
		// Ids "p}N" share the hash tag p, so one slot and one live set.
		live := redisLiveSlotKey(keySlot("p"))
		for i := range 15 {
			if err := st.Create(ctx, fmt.Sprint("p}", i), Record{Rev: 1, Live: true}, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Create(ctx, "q-long", Record{Rev: 1, Live: true}, time.Hour); err != nil {
			t.Fatal(err)
		}
		clock.add(2 * time.Minute)
		if n, _ := st.c.ZCard(ctx, live).Result(); n != 15 {
			t.Fatalf("live set of the slot: %d members, want 15", n)
		}
		for i := range 2 {
			if err := st.Create(ctx, fmt.Sprint("p}long", i), Record{Rev: 1, Live: true}, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := st.c.ZCard(ctx, live).Result(); n != 2 {
			t.Fatalf("after two writes in the slot its live set has %d members, want 2", n)
		}
		start := time.Now()
		if n, err := st.Live(ctx); err != nil || n != 3 {
			t.Fatalf("Live = %d, %v; want 3", n, err)
		}
		t.Logf("Live over the %d per-slot sets took %v", redisSlots, time.Since(start))
	})

	t.Run("VersionsAfterLoss", func(t *testing.T) {
		rc.flush(t)
		testRedisVersionsAfterLoss(t, rc.URL, rc.flush)
	})

	t.Run("MasterRestart", func(t *testing.T) {
		rc.flush(t)
		st, err := openRedis(rc.URL, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		const calls = 60
		onNode := make([]int, calls)
		for i := range calls {
			id := fmt.Sprintf("call-%d", i)
			rec := Record{Rev: 1, Live: true, Data: []byte("state " + id), Entry: []byte("entry " + id)}
			if err := st.Create(ctx, id, rec, time.Hour); err != nil {
				t.Fatal(err)
			}
			key, _ := redisKeys(id)
			onNode[i] = rc.owner(t, keySlot(key))
		}
		if err := st.PutVersion(ctx, "ivr", "v1", []byte("src"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := st.PutRef(ctx, "party", "call-0", time.Hour); err != nil {
			t.Fatal(err)
		}
		victim := onNode[0]
		moved := 0
		for _, n := range onNode {
			if n == victim {
				moved++
			}
		}
		rc.nodes[victim].Stop()
		rc.nodes[victim].Start(t)
		rc.waitOK(t)
		t.Logf("restarted the master of %d of %d calls", moved, calls)

		// The client finds the restarted node again.
		waitUntil(t, 5*time.Second, func() bool {
			_, err := st.Get(ctx, "call-0")
			return err == nil
		}, "call-0 to be readable after the restart")
		for i := range calls {
			id := fmt.Sprintf("call-%d", i)
			rec, err := st.Get(ctx, id)
			if err != nil || string(rec.Data) != "state "+id || !rec.Live {
				t.Fatalf("after the restart %s (node %d) = %+v, %v", id, onNode[i], rec, err)
			}
			if tr, err := st.Trace(ctx, id); err != nil || len(tr) != 1 || string(tr[0]) != "entry "+id {
				t.Fatalf("trace of %s after the restart: %q, %v", id, tr, err)
			}
			if err := st.Update(ctx, id, 1, Record{Rev: 2, Live: i%2 == 0, Data: []byte("after")}, time.Hour); err != nil {
				t.Fatalf("Update of %s after the restart: %v", id, err)
			}
		}
		if n, err := st.Live(ctx); err != nil || n != calls/2 {
			t.Fatalf("Live = %d, %v; want %d", n, err, calls/2)
		}
		if src, err := st.GetVersion(ctx, "ivr", "v1"); err != nil || string(src) != "src" {
			t.Fatalf("version after the restart: %q, %v", src, err)
		}
		if v, err := st.GetRef(ctx, "party"); err != nil || v != "call-0" {
			t.Fatalf("ref after the restart: %q, %v", v, err)
		}
		if _, err := st.GetRef(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown ref: %v", err)
		}
	})
}

func TestClusterState(t *testing.T) {
	for info, want := range map[string]string{
		"cluster_state:ok\r\ncluster_slots_assigned:16384\r\n":   "ok",
		"cluster_enabled:1\r\ncluster_state:fail\r\ncluster_x:1": "fail",
		"cluster_slots_ok:16384\r\n":                             "",
	} {
		if got := clusterState(info); got != want {
			t.Errorf("clusterState(%q) = %q, want %q", info, got, want)
		}
	}
}
