package dist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is a connection to the queue: NATS plus its JetStream context, with the streams,
// consumers and buckets of the task protocol created on first use.
type Conn struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	log *slog.Logger

	tasks    jetstream.Stream
	inbox    jetstream.Stream
	jobs     jetstream.KeyValue
	records  jetstream.KeyValue
	workers  jetstream.KeyValue
	settings Settings
	counters sync.Map // job id -> jetstream.Consumer whose pending count is the job's outcomes (countOutcomes)
}

// Settings are the protocol's timing knobs. The zero value means DefaultSettings.
type Settings struct {
	AckWait       time.Duration // a task not acked nor heartbeated for this long is redelivered
	MaxDeliver    int           // deliveries of a task before it is recorded as failed
	LeaseDeliver  int           // deliveries of a lease task (crawl partition) before it fails
	WorkerTTL     time.Duration // a worker silent for this long is no longer listed as alive
	DuplicateWait time.Duration // JetStream's message-ID de-duplication window
	Replicas      int           // stream replicas (3 on a 3-node cluster)
	// Apply changes the consumers of a queue that has them already to AckWait, MaxDeliver and
	// LeaseDeliver. Without it a client uses the queue as it is, so that one started with
	// defaults (wit jobs) does not undo another's settings; workers read the ack wait in force.
	Apply bool
}

// DefaultSettings: 30 s ack wait (workers heartbeat every ack wait / 4), 5 deliveries, 15 s
// worker liveness, 1 h de-duplication window.
func DefaultSettings() Settings {
	return Settings{AckWait: 30 * time.Second, MaxDeliver: 5, LeaseDeliver: 50, WorkerTTL: 15 * time.Second,
		DuplicateWait: time.Hour, Replicas: 1}
}

func (s Settings) withDefaults() Settings {
	d := DefaultSettings()
	if s.AckWait <= 0 {
		s.AckWait = d.AckWait
	}
	if s.MaxDeliver <= 0 {
		s.MaxDeliver = d.MaxDeliver
	}
	if s.LeaseDeliver <= 0 {
		s.LeaseDeliver = d.LeaseDeliver
	}
	if s.WorkerTTL <= 0 {
		s.WorkerTTL = d.WorkerTTL
	}
	if s.DuplicateWait <= 0 {
		s.DuplicateWait = d.DuplicateWait
	}
	if s.Replicas <= 0 {
		s.Replicas = 1
	}
	return s
}

// Connect connects to the queue named by a --queue value: one or more comma-separated URLs
// nats://[user:password@|token@]host:port or tls://... (TLS), with optional query parameters
// creds=FILE (a NATS credentials file), nkey=FILE (an nkey seed file) and ca=FILE (root CAs to
// verify the server's certificate). Reconnects are retried for ever: a restarted queue server is
// waited for, not an error.
func Connect(ctx context.Context, queueURL string, settings Settings, log *slog.Logger) (*Conn, error) {
	if log == nil {
		log = slog.Default()
	}
	servers, opts, err := parseQueueURL(queueURL)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		nats.Name("wit"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("queue: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("queue: reconnected", "server", nc.ConnectedUrlRedacted()) }),
	)
	nc, err := nats.Connect(servers, opts...)
	if err != nil {
		return nil, fmt.Errorf("queue: connect %s: %w", redactURL(queueURL), err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
		log.Debug("queue: task state not recorded", "subject", m.Subject, "err", err)
	}))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("queue: %w", err)
	}
	c := &Conn{NC: nc, JS: js, log: log, settings: settings.withDefaults()}
	if err := c.setup(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Close waits briefly for the task states still being published, then closes the connection.
func (c *Conn) Close() {
	select {
	case <-c.JS.PublishAsyncComplete():
	case <-time.After(2 * time.Second):
	}
	c.NC.Close()
}

// parseQueueURL splits a --queue value into the server list nats.Connect takes and the options
// its query parameters ask for.
func parseQueueURL(s string) (string, []nats.Option, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil, errors.New("queue: no URL (--queue nats://host:4222)")
	}
	var servers []string
	var opts []nats.Option
	seen := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "://") {
			part = "nats://" + part
		}
		u, err := url.Parse(part)
		if err != nil {
			return "", nil, fmt.Errorf("queue URL %q: %w", redactURL(part), err)
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return "", nil, fmt.Errorf("queue URL %q: scheme %q, want nats:// or tls://", redactURL(part), u.Scheme)
		}
		for k, vs := range u.Query() {
			v := vs[len(vs)-1]
			if prev, ok := seen[k]; ok && prev != v {
				return "", nil, fmt.Errorf("queue URL: %s given twice with different values", k)
			}
			if _, ok := seen[k]; ok {
				continue
			}
			seen[k] = v
			switch k {
			case "creds":
				opts = append(opts, nats.UserCredentials(v))
			case "nkey":
				o, err := nats.NkeyOptionFromSeed(v)
				if err != nil {
					return "", nil, fmt.Errorf("queue URL: nkey %s: %w", v, err)
				}
				opts = append(opts, o)
			case "ca":
				opts = append(opts, nats.RootCAs(v))
			default:
				return "", nil, fmt.Errorf("queue URL: unknown parameter %q (want creds, nkey or ca)", k)
			}
		}
		u.RawQuery = ""
		servers = append(servers, u.String())
	}
	if len(servers) == 0 {
		return "", nil, errors.New("queue: no URL")
	}
	return strings.Join(servers, ","), opts, nil
}

// redactURL hides a URL's password or token for logs and errors.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("redacted")
	return u.String()
}
