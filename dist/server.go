package dist

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configures the embedded queue server (wit queue serve).
type ServerOptions struct {
	Listen   string // client address, host:port ("127.0.0.1:4222"; port 0 = any free port)
	StoreDir string // JetStream file store: streams, consumers and buckets survive restarts here
	Name     string // server name (unique within a cluster; default: the host name and port)

	// Cluster: Routes lists the other servers' cluster addresses (nats-route://host:6222, comma
	// separated); ClusterListen is this server's cluster address. Three servers make a
	// fault-tolerant JetStream cluster (streams are created with Replicas 1 unless Replicas says).
	ClusterName   string
	ClusterListen string
	Routes        string

	// Auth: at most one of Token or User/Password. Clients put them into their --queue URL.
	Token    string
	User     string
	Password string
	// TLS: a certificate and key turn TLS on (clients connect with tls://host:port).
	TLSCert, TLSKey string

	MaxPayload int32 // largest message in bytes (default 8 MiB)
	Logger     *slog.Logger
}

// Server is a running embedded NATS server with JetStream.
type Server struct {
	ns   *server.Server
	once sync.Once
}

// StartServer starts a NATS server with JetStream on a file store and waits until it accepts
// clients.
func StartServer(o ServerOptions) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("queue server: no store directory")
	}
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("queue server: --listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("queue server: --listen %q: bad port", o.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if err := os.MkdirAll(o.StoreDir, 0o755); err != nil {
		return nil, fmt.Errorf("queue server: %w", err)
	}
	opts := &server.Options{
		ServerName:         o.Name,
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		MaxPayload:         o.MaxPayload,
		NoSigs:             true,
		Authorization:      o.Token,
		Username:           o.User,
		Password:           o.Password,
		JetStreamMaxMemory: 256 << 20,
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 8 << 20
	}
	if o.TLSCert != "" || o.TLSKey != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLSCert, KeyFile: o.TLSKey})
		if err != nil {
			return nil, fmt.Errorf("queue server: tls: %w", err)
		}
		opts.TLSConfig = tc
		opts.TLS = true
	}
	if o.ClusterListen != "" || o.Routes != "" {
		if o.ClusterListen == "" {
			return nil, errors.New("queue server: --routes needs --cluster-listen")
		}
		ch, cp, err := net.SplitHostPort(o.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("queue server: --cluster-listen %q: %w", o.ClusterListen, err)
		}
		cport, err := strconv.Atoi(cp)
		if err != nil {
			return nil, fmt.Errorf("queue server: --cluster-listen %q: bad port", o.ClusterListen)
		}
		opts.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: ch, Port: cport}
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "wit"
		}
		if o.Routes != "" {
			opts.Routes = server.RoutesFromStr(o.Routes)
		}
		if opts.ServerName == "" {
			h, _ := os.Hostname()
			opts.ServerName = h + "-" + cp
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("queue server: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	ns.SetLoggerV2(natsLogger{log}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("queue server: not ready after 30s")
	}
	return &Server{ns: ns}, nil
}

// ClientURL is the nats:// URL clients connect to (without credentials).
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Shutdown stops the server; JetStream's file store is flushed, so a server started again on the
// same StoreDir continues with every stream, consumer and bucket.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	})
}

// natsLogger sends the server's log to slog: notices at info, debug and trace at debug.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(format string, v ...any) { n.l.Debug("nats: " + fmtTrim(format, v)) }
func (n natsLogger) Warnf(format string, v ...any)   { n.l.Warn("nats: " + fmtTrim(format, v)) }
func (n natsLogger) Fatalf(format string, v ...any)  { n.l.Error("nats: " + fmtTrim(format, v)) }
func (n natsLogger) Errorf(format string, v ...any)  { n.l.Error("nats: " + fmtTrim(format, v)) }
func (n natsLogger) Debugf(format string, v ...any)  { n.l.Debug("nats: " + fmtTrim(format, v)) }
func (n natsLogger) Tracef(format string, v ...any)  { n.l.Debug("nats: " + fmtTrim(format, v)) }

func fmtTrim(format string, v []any) string {
	return strings.TrimSpace(fmt.Sprintf(format, v...))
}
