package devstack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	defaultIP        = "127.0.0.1"
	defaultNamespace = "default"
	clusterName      = "active"
	storeName        = "sqlite-default"
	// retention is the shortest the server accepts; dev data need not live longer.
	retention = 24 * time.Hour
	// probeWorkflowID names a workflow that never exists: describing it reaches
	// the frontend's namespace registry and the history shard, the two things a
	// workflow start needs, without leaving anything visible in the UI.
	probeWorkflowID = "devstack-readiness-probe"
	// silent is above every level the server logs at.
	silent = slog.LevelError + 1
)

// TemporalOptions configures StartTemporal. The zero value gives an in-memory
// server with its UI on free ports of 127.0.0.1 and the "default" namespace.
type TemporalOptions struct {
	// IP is the address the frontend and the internal services bind; default 127.0.0.1.
	IP string
	// Port is the frontend gRPC port; 0 picks a free one.
	Port int
	// UIIP is the address the Web UI binds; default IP.
	UIIP string
	// UIPort is the Web UI port; 0 picks a free one, negative disables the UI.
	UIPort int
	// DatabaseFile is the SQLite file holding all server state, created with
	// its schema when absent; "" keeps state in memory for the process's life.
	DatabaseFile string
	// Namespaces are created before the server starts (existing ones are left
	// alone); default {"default"}.
	Namespaces []string
	// DynamicConfig overrides server dynamic configuration by key, for example
	// "limit.historyCount.suggestContinueAsNew": 200.
	DynamicConfig map[string]any
	// Logger receives the server's own logs; nil discards them.
	Logger *slog.Logger
	// LogLevel is the least severe server record passed to Logger; nil means
	// slog.LevelWarn, because the server is chatty at info level.
	LogLevel slog.Leveler
	// CodecEndpoint, when set, is the remote payload codec the Web UI calls
	// from the browser (with the browser's credentials) to show decoded
	// payloads, for example "http://127.0.0.1:8080/v1/codec".
	CodecEndpoint string
	// TLS, when set, serves the frontend over mutual TLS: clients must
	// present a certificate signed by TLS.CAFile. The UI is not supported
	// with it.
	TLS *TemporalTLS
}

// TemporalTLS are the PEM files of a frontend served over mutual TLS.
type TemporalTLS struct {
	// CAFile signs the frontend's certificate and the client certificates
	// it accepts.
	CAFile string
	// CertFile and KeyFile are the frontend's certificate, valid for
	// ServerName; the server's own system worker and the readiness probe
	// present it as their client certificate too, so it must allow client
	// authentication as well.
	CertFile, KeyFile string
	// ServerName is the name clients verify the certificate against;
	// default IP.
	ServerName string
}

// clientOptions are the SDK options of the start-up probe: the same
// envconfig profile a worker builds from TEMPORAL_TLS_*.
func (t *TemporalTLS) clientOptions(address, namespace string) (client.Options, error) {
	profile := envconfig.ClientConfigProfile{Address: address, Namespace: namespace}
	if t != nil {
		profile.TLS = &envconfig.ClientConfigTLS{
			ClientCertPath: t.CertFile, ClientKeyPath: t.KeyFile,
			ServerCACertPath: t.CAFile, ServerName: t.ServerName,
		}
	}
	opts, err := profile.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal probe options: %w", err)
	}
	return opts, nil
}

// Temporal is a running embedded Temporal server and, optionally, its Web UI.
type Temporal struct {
	server    temporal.Server
	client    client.Client
	ui        *uiserver.Server
	uiDone    chan struct{}
	address   string
	uiAddress string
	// logLevel gates the server's logs; Stop raises it, because shutting the
	// services down one by one makes the others log routine errors.
	logLevel *slog.LevelVar

	stopOnce sync.Once
	stopErr  error
}

// StartTemporal starts a Temporal server and returns once its frontend answers
// health checks, every namespace in o accepts work and the UI (when enabled)
// serves pages. It stops whatever it started and returns an error when start-up
// fails or ctx ends first. The server's own start-up ignores ctx: it takes a few
// seconds and cannot be interrupted.
func StartTemporal(ctx context.Context, o TemporalOptions) (*Temporal, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start temporal: %w", err)
	}
	o = o.withDefaults()
	if o.TLS != nil && o.UIPort >= 0 {
		return nil, errors.New("start temporal: the web UI is not served with TLS; set UIPort to -1")
	}
	ports, err := allocatePorts(o)
	if err != nil {
		return nil, err
	}
	store, err := prepareStore(o)
	if err != nil {
		return nil, err
	}
	t := &Temporal{address: hostPort(o.IP, ports.frontend), logLevel: new(slog.LevelVar)}
	t.logLevel.Set(o.LogLevel.Level())
	server, err := temporal.NewServer(serverOptions(o, ports, store, t.logLevel)...)
	if err != nil {
		return nil, fmt.Errorf("build temporal server: %w", err)
	}
	if err := server.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	t.server = server
	if err := t.ready(ctx, o, ports.ui); err != nil {
		return nil, errors.Join(err, t.Stop())
	}
	return t, nil
}

// Address returns the frontend's gRPC address, "IP:PORT".
func (t *Temporal) Address() string { return t.address }

// UIAddress returns the Web UI's address, "IP:PORT", or "" without a UI.
func (t *Temporal) UIAddress() string { return t.uiAddress }

// RegisterNamespace creates namespace name (an existing one is fine) and
// returns once workflows can start in it.
func (t *Temporal) RegisterNamespace(ctx context.Context, name string) error {
	_, err := t.client.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        name,
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %s: %w", name, err)
	}
	if err := poll(ctx, t.namespaceReady(name)); err != nil {
		return fmt.Errorf("wait for namespace %s: %w", name, err)
	}
	return nil
}

// Stop stops the UI and the server and waits for the UI's goroutine. It is
// safe to call more than once. The SQLite connection stays open in the
// process (the server's driver pools it for the process's life), so an
// in-memory server's data is only freed when the process exits.
func (t *Temporal) Stop() error {
	t.stopOnce.Do(func() {
		if t.client != nil {
			t.client.Close()
		}
		if t.ui != nil {
			t.ui.Stop()
			<-t.uiDone
		}
		t.logLevel.Set(silent)
		if t.server == nil {
			// Connected to a server someone else runs.
			return
		}
		if err := t.server.Stop(); err != nil {
			t.stopErr = fmt.Errorf("stop temporal server: %w", err)
		}
	})
	return t.stopErr
}

func (o TemporalOptions) withDefaults() TemporalOptions {
	if o.IP == "" {
		o.IP = defaultIP
	}
	if o.UIIP == "" {
		o.UIIP = o.IP
	}
	if len(o.Namespaces) == 0 {
		o.Namespaces = []string{defaultNamespace}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LogLevel == nil {
		o.LogLevel = slog.LevelWarn
	}
	if o.TLS != nil && o.TLS.ServerName == "" {
		tlsCopy := *o.TLS
		tlsCopy.ServerName = o.IP
		o.TLS = &tlsCopy
	}
	return o
}

// ports are the server's listening ports; ui is 0 without a UI.
type ports struct {
	frontend, frontendHTTP, history, matching, worker, ui int
}

func allocatePorts(o TemporalOptions) (ports, error) {
	p := ports{frontend: o.Port, ui: o.UIPort}
	for _, port := range []*int{&p.frontend, &p.frontendHTTP, &p.history, &p.matching, &p.worker} {
		if *port != 0 {
			continue
		}
		free, err := FreePort(o.IP)
		if err != nil {
			return ports{}, err
		}
		*port = free
	}
	switch {
	case o.UIPort < 0:
		p.ui = 0
	case o.UIPort > 0 && !portFree(o.UIIP, o.UIPort):
		return ports{}, fmt.Errorf("allocate temporal ui port: %w", uiPortInUse(o.UIIP, o.UIPort))
	case o.UIPort == 0:
		free, err := FreePort(o.UIIP)
		if err != nil {
			return ports{}, err
		}
		p.ui = free
	}
	return p, nil
}

// prepareStore returns the SQLite configuration, creating the schema in a new
// file and the namespaces that are missing.
func prepareStore(o TemporalOptions) (*config.SQL, error) {
	store := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.DatabaseFile == "" {
		// The driver shares one in-memory database per name within the process,
		// so each server needs its own name.
		store.DatabaseName = "devstack-" + rand.Text()
		store.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	} else {
		file, err := filepath.Abs(o.DatabaseFile)
		if err != nil {
			return nil, fmt.Errorf("resolve database file: %w", err)
		}
		store.DatabaseName = file
		// WAL with normal sync keeps every commit across a crash of the
		// process and spares an fsync per write, which Temporal does a lot of.
		store.ConnectAttributes = map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal"}
		_, err = os.Stat(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := sqliteschema.SetupSchema(store); err != nil {
				return nil, fmt.Errorf("create temporal schema in %s: %w", file, err)
			}
		case err != nil:
			return nil, fmt.Errorf("check database file: %w", err)
		}
	}
	namespaces := make([]*sqliteschema.NamespaceConfig, 0, len(o.Namespaces))
	for _, name := range o.Namespaces {
		ns, err := sqliteschema.NewNamespaceConfig(clusterName, name, false, nil)
		if err != nil {
			return nil, fmt.Errorf("configure namespace %s: %w", name, err)
		}
		namespaces = append(namespaces, ns)
	}
	if err := sqliteschema.CreateNamespaces(store, namespaces...); err != nil {
		return nil, fmt.Errorf("create namespaces: %w", err)
	}
	return store, nil
}

func serverOptions(o TemporalOptions, p ports, store *config.SQL, level slog.Leveler) []temporal.ServerOption {
	dc := dynamicconfig.StaticClient{
		// Namespaces registered while running become usable within a second.
		dynamicconfig.NamespaceCacheRefreshInterval.Key(): time.Second,
		// The UI and the API list workflows; the default of 10/s throttles them.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	}
	for k, v := range o.DynamicConfig {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	local := func(port int) static.Hosts { return static.SingleLocalHost(hostPort(o.IP, port)) }
	return []temporal.ServerOption{
		temporal.WithConfig(serverConfig(o, p, store)),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: local(p.frontend),
			primitives.HistoryService:  local(p.history),
			primitives.MatchingService: local(p.matching),
			primitives.WorkerService:   local(p.worker),
		}),
		temporal.WithLogger(serverLogger{l: o.Logger, min: level}),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return authorization.NewNoopClaimMapper()
		}),
		temporal.WithDynamicConfigClient(dc),
	}
}

func serverConfig(o TemporalOptions, p ports, store *config.SQL) *config.Config {
	frontend := hostPort(o.IP, p.frontend)
	service := func(port int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: o.IP}}
	}
	front := service(p.frontend)
	front.RPC.HTTPPort = p.frontendHTTP

	var c config.Config
	c.Global.Membership.MaxJoinDuration = 30 * time.Second
	c.Global.Membership.BroadcastAddress = o.IP
	c.Persistence.DefaultStore = storeName
	c.Persistence.VisibilityStore = storeName
	// One shard: a single-process server gains nothing from more, and each
	// shard costs goroutines and start-up time.
	c.Persistence.NumHistoryShards = 1
	c.Persistence.DataStores = map[string]config.DataStore{storeName: {SQL: store}}
	c.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontend,
				HTTPAddress:            hostPort(o.IP, p.frontendHTTP),
				ClusterID:              uuid.NewString(),
			},
		},
	}
	c.DCRedirectionPolicy.Policy = "noop"
	c.Services = map[string]config.Service{
		string(primitives.FrontendService): front,
		string(primitives.HistoryService):  service(p.history),
		string(primitives.MatchingService): service(p.matching),
		string(primitives.WorkerService):   service(p.worker),
	}
	c.Archival.History.State = "disabled"
	c.Archival.Visibility.State = "disabled"
	c.NamespaceDefaults.Archival.History.State = "disabled"
	c.NamespaceDefaults.Archival.Visibility.State = "disabled"
	c.PublicClient.HostPort = frontend
	if t := o.TLS; t != nil {
		client := config.ClientTLS{RootCAFiles: []string{t.CAFile}, ServerName: t.ServerName}
		c.Global.TLS = config.RootTLS{
			Frontend: config.GroupTLS{
				Server: config.ServerTLS{
					CertFile: t.CertFile, KeyFile: t.KeyFile,
					RequireClientAuth: true, ClientCAFiles: []string{t.CAFile},
				},
				Client: client,
			},
			SystemWorker: config.WorkerTLS{CertFile: t.CertFile, KeyFile: t.KeyFile, Client: client},
		}
	}
	return &c
}

// ready waits for the frontend and the namespaces, then starts the UI.
func (t *Temporal) ready(ctx context.Context, o TemporalOptions, uiPort int) error {
	if err := t.connect(ctx, o.Namespaces[0], o.TLS); err != nil {
		return err
	}
	for _, name := range o.Namespaces {
		if err := poll(ctx, t.namespaceReady(name)); err != nil {
			return fmt.Errorf("wait for namespace %s: %w", name, err)
		}
	}
	if uiPort == 0 {
		return nil
	}
	return t.startUI(ctx, o.UIIP, uiPort, o.CodecEndpoint)
}

// connect dials the frontend and waits until it reports healthy.
func (t *Temporal) connect(ctx context.Context, namespace string, tlsOpts *TemporalTLS) error {
	opts, err := tlsOpts.clientOptions(t.address, namespace)
	if err != nil {
		return err
	}
	// The SDK client only probes; its retries and warnings are noise here.
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	err = poll(ctx, func(ctx context.Context) error {
		c, err := client.DialContext(ctx, opts)
		if err != nil {
			return fmt.Errorf("dial temporal: %w", err)
		}
		t.client = c
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for temporal frontend: %w", err)
	}
	err = poll(ctx, func(ctx context.Context) error {
		_, err := t.client.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	})
	if err != nil {
		return fmt.Errorf("wait for temporal health: %w", err)
	}
	return nil
}

// namespaceReady is a probe that succeeds once the frontend resolves the
// namespace and the history shard answers for it.
func (t *Temporal) namespaceReady(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := t.client.WorkflowService().DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
			Namespace: name,
			Execution: &commonpb.WorkflowExecution{WorkflowId: probeWorkflowID},
		})
		var notFound *serviceerror.NotFound
		if err == nil || errors.As(err, &notFound) {
			return nil
		}
		return fmt.Errorf("describe probe workflow: %w", err)
	}
}

func (t *Temporal) startUI(ctx context.Context, ip string, port int, codecEndpoint string) error {
	// The UI server exits the whole process when it cannot bind, so refuse a
	// taken port here, where it is still an ordinary error.
	if !portFree(ip, port) {
		return fmt.Errorf("start temporal ui: %w", uiPortInUse(ip, port))
	}
	t.uiAddress = hostPort(ip, port)
	t.ui = uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		Host:                ip,
		Port:                port,
		TemporalGRPCAddress: t.address,
		EnableUI:            true,
		DefaultNamespace:    defaultNamespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		DisableNewsFetch:    true,
		Codec:               uiconfig.Codec{Endpoint: codecEndpoint, IncludeCredentials: codecEndpoint != ""},
	}))
	t.uiDone = make(chan struct{})
	go func() {
		defer close(t.uiDone)
		// Start blocks until Stop; it returns nil on a clean close.
		_ = t.ui.Start()
	}()
	if err := poll(ctx, getOK("http://"+t.uiAddress+"/healthz")); err != nil {
		return fmt.Errorf("wait for temporal ui: %w", err)
	}
	return nil
}

func uiPortInUse(ip string, port int) error {
	return fmt.Errorf("port %d on %s is in use", port, ip)
}

func hostPort(ip string, port int) string {
	return net.JoinHostPort(ip, strconv.Itoa(port))
}
