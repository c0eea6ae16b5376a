package runtime

import (
	"sync"
	"time"
)

// nodeCounts are the console's per-node counts: how many times the walk
// reached each node and how many calls ended there, since the process
// started and over the last hour. They count what flowd_node_visits_total
// and flowd_node_exits_total count, fed from the same place
// (metrics.walked, metrics.exited), keyed by the strings those get: the
// flow's name and the node ids of the walk's path.
//
// The last hour is a ring of one-minute buckets, read and advanced with
// the Server's clock (Config.Now). Only flows the registry serves are
// counted, and at most maxCountedNodes node ids per flow: node ids come
// from compiled graphs, never from a request, so the bound is only a
// guard.
type nodeCounts struct {
	mu     sync.Mutex
	now    func() time.Time
	served func(flow string) bool
	flows  map[string]map[string]*nodeWindow
}

const (
	countBuckets    = 60 // one a minute: the last hour
	maxCountedNodes = 4096
)

// nodeWindow holds one node's counts.
type nodeWindow struct {
	visits, exits uint64
	buckets       [countBuckets]countBucket
}

// countBucket is one minute of a node's counts; minute is Unix minutes,
// so a bucket left from an earlier hour is told apart and reset.
type countBucket struct {
	minute        int64
	visits, exits uint32
}

// NodeCount is a node's counts as the console reads them.
type NodeCount struct {
	Visits     uint64 `json:"visits"`      // since start
	Exits      uint64 `json:"exits"`       // since start
	VisitsHour uint64 `json:"visits_hour"` // the last 60 minutes
	ExitsHour  uint64 `json:"exits_hour"`
}

func newNodeCounts(now func() time.Time, served func(string) bool) *nodeCounts {
	return &nodeCounts{now: now, served: served, flows: map[string]map[string]*nodeWindow{}}
}

// add counts a walk's path (visits) and, when exit is set, an end at it.
func (c *nodeCounts) add(flowName string, path []string, exit string) {
	if c == nil || (len(path) == 0 && exit == "") {
		return
	}
	minute := c.now().Unix() / 60
	c.mu.Lock()
	defer c.mu.Unlock()
	nodes := c.flows[flowName]
	if nodes == nil {
		if !c.served(flowName) {
			return
		}
		nodes = map[string]*nodeWindow{}
		c.flows[flowName] = nodes
	}
	for _, id := range path {
		if w := window(nodes, id); w != nil {
			w.visits++
			w.bucket(minute).visits++
		}
	}
	if exit != "" {
		if w := window(nodes, exit); w != nil {
			w.exits++
			w.bucket(minute).exits++
		}
	}
}

func window(nodes map[string]*nodeWindow, id string) *nodeWindow {
	w := nodes[id]
	if w == nil && len(nodes) < maxCountedNodes {
		w = new(nodeWindow)
		nodes[id] = w
	}
	return w
}

// bucket returns the minute's bucket, emptied if it held an older minute.
func (w *nodeWindow) bucket(minute int64) *countBucket {
	b := &w.buckets[minute%countBuckets]
	if b.minute != minute {
		*b = countBucket{minute: minute}
	}
	return b
}

// flow returns the counts of a flow's nodes, by node id.
func (c *nodeCounts) flow(flowName string) map[string]NodeCount {
	minute := c.now().Unix() / 60
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]NodeCount, len(c.flows[flowName]))
	for id, w := range c.flows[flowName] {
		n := NodeCount{Visits: w.visits, Exits: w.exits}
		for _, b := range w.buckets {
			if b.minute > minute-countBuckets && b.minute <= minute {
				n.VisitsHour += uint64(b.visits)
				n.ExitsHour += uint64(b.exits)
			}
		}
		out[id] = n
	}
	return out
}
