package runtime

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Redis Cluster support: the key slot arithmetic the live count needs,
// and the redis-cluster:// URL.
//
// How a call's live entry stays in its call's slot. In a cluster a Lua
// script may only touch keys of one slot, and the script that writes a
// call touches its session and trace keys, which share the call id's hash
// tag ({id}). One global live set cannot be written by that script, and a
// live set outside the script (a second command after it, or a counter
// bumped in the same pipeline) would no longer be atomic with the
// compare-and-set. So a cluster keeps one live set per slot: the script
// of a call whose keys are in slot s writes flowd:live:{T(s)}, where T(s)
// is a fixed short string that hashes to slot s (slotTags). The write
// stays one script in one slot, one round trip; the set moves with its
// calls when a slot is resharded; each write prunes its own set. Live
// sums the 16384 sets in one pipeline (one batch per master), which is
// what a /metrics scrape costs. A single Redis server keeps the one
// global set flowd:live, as before.
//
// T(s) is part of the data format: every replica must compute the same
// tags, so slotTags must never change.

const redisSlots = 16384

// crc16Table is CRC-16/XMODEM (polynomial 0x1021), the checksum Redis
// Cluster maps keys to slots with.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crc16Table[byte(c>>8)^s[i]]
	}
	return c
}

// keySlot is the Redis Cluster slot of a key: of its hash tag, the part
// between the first '{' and the next '}' when that is not empty, else of
// the whole key.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key)) % redisSlots
}

// slotTags maps each slot to the smallest decimal number (as a string)
// whose slot it is: about 170,000 checksums of short strings, once, in
// a few milliseconds.
var slotTags = sync.OnceValue(func() *[redisSlots]string {
	tags := new([redisSlots]string)
	left := redisSlots
	for i := 0; left > 0; i++ {
		s := strconv.Itoa(i)
		if slot := crc16(s) % redisSlots; tags[slot] == "" {
			tags[slot] = s
			left--
		}
	}
	return tags
})

// redisLivePrefix starts the names of a cluster's per-slot live sets.
const redisLivePrefix = "flowd:live:"

// redisLiveSlotKey is the live set of the calls whose keys are in slot.
func redisLiveSlotKey(slot int) string {
	return redisLivePrefix + "{" + slotTags()[slot] + "}"
}

// Cluster URLs name every node flowd may start from (it learns the rest
// from the cluster) and take go-redis's cluster options:
//
//	redis-cluster://[user:password@]host:port[,host:port...][?option=value...]
//	rediss-cluster://... for TLS
//
// A cluster has a single database, so the path, if any, is / or /0.
const (
	redisClusterScheme    = "redis-cluster"
	redisClusterTLSScheme = "rediss-cluster"
)

// parseRedisClusterURL reads a redis-cluster:// URL into go-redis's
// cluster options: the first node as the URL's host, the others as its
// addr options, for redis.ParseClusterURL.
func parseRedisClusterURL(raw string) (*redis.ClusterOptions, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || (scheme != redisClusterScheme && scheme != redisClusterTLSScheme) {
		return nil, fmt.Errorf("want %s://host:port[,host:port...]", redisClusterScheme)
	}
	rest, query, _ := strings.Cut(rest, "?")
	rest, path, _ := strings.Cut(rest, "/")
	if path != "" && path != "0" {
		return nil, fmt.Errorf("a Redis Cluster has database 0 only, not /%s", path)
	}
	user := ""
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		user, rest = rest[:i+1], rest[i+1:]
	}
	hosts := strings.Split(rest, ",")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	for i, h := range hosts {
		if host, port, err := net.SplitHostPort(h); err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("node %q: want host:port", h)
		}
		if i > 0 {
			q.Add("addr", h)
		}
	}
	u := strings.TrimSuffix(scheme, "-cluster") + "://" + user + hosts[0]
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return redis.ParseClusterURL(u)
}
