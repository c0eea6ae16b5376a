package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis logs through one process-wide logger (a dial that fails, a
// connection pool in trouble), by default straight to stderr as plain
// text. SetRedisLogger sends it through flowd's slog handler instead.

var (
	redisLog     atomic.Pointer[slog.Logger]
	redisLogOnce sync.Once
)

// SetRedisLogger makes go-redis log through l: each message a Warn record
// with "component":"redis". nil sends them to slog.Default() (the
// same). It changes a process-wide setting: flowd serve calls it with
// its logger when it starts and with nil when it stops.
func SetRedisLogger(l *slog.Logger) {
	redisLog.Store(l)
	redisLogOnce.Do(func() { redis.SetLogger(redisSlog{}) })
}

// redisSlog is go-redis's internal.Logging: Printf(ctx, format, v...).
type redisSlog struct{}

func (redisSlog) Printf(ctx context.Context, format string, v ...any) {
	l := redisLog.Load()
	if l == nil {
		l = slog.Default()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.Enabled(ctx, slog.LevelWarn) {
		return
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	msg = strings.TrimPrefix(msg, "redis: ")
	l.Log(ctx, slog.LevelWarn, msg, "component", "redis")
}
