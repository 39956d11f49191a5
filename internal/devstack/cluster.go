package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
)

// ClusterServices are the Temporal services a cluster runs, each as a
// process of its own: the names RunClusterService accepts.
var ClusterServices = []string{
	string(primitives.FrontendService),
	string(primitives.HistoryService),
	string(primitives.MatchingService),
	string(primitives.WorkerService),
}

// ClusterPorts are the gRPC ports of a cluster's services on its IP.
type ClusterPorts struct {
	Frontend     int `json:"frontend"`
	FrontendHTTP int `json:"frontend_http"`
	History      int `json:"history"`
	Matching     int `json:"matching"`
	Worker       int `json:"worker"`
}

// ClusterSpec is everything one service process of a Temporal cluster on
// PostgreSQL needs; every process of the cluster reads the same one (see
// WriteClusterSpec), so the services find each other on fixed loopback
// ports: membership is static, one host per service.
type ClusterSpec struct {
	// DatabaseURL is postgres://…/name; visibility lives in name_visibility.
	DatabaseURL string `json:"database_url"`
	// IP is the address every service binds and advertises.
	IP    string       `json:"ip"`
	Ports ClusterPorts `json:"ports"`
	// HistoryShards is fixed when the cluster's database is first used; a
	// later, different value is ignored by the server with a warning.
	HistoryShards int32 `json:"history_shards"`
	// DynamicConfig overrides server dynamic configuration by key.
	DynamicConfig map[string]any `json:"dynamic_config,omitempty"`
}

// NewClusterSpec returns a spec for a cluster on databaseURL with free ports
// on ip and the given number of history shards.
func NewClusterSpec(databaseURL, ip string, frontendPort int, shards int32) (ClusterSpec, error) {
	if _, err := ParsePostgresURL(databaseURL); err != nil {
		return ClusterSpec{}, err
	}
	if shards < 1 {
		return ClusterSpec{}, fmt.Errorf("history shards %d: want at least 1", shards)
	}
	s := ClusterSpec{DatabaseURL: databaseURL, IP: ip, HistoryShards: shards, Ports: ClusterPorts{Frontend: frontendPort}}
	for _, port := range []*int{&s.Ports.Frontend, &s.Ports.FrontendHTTP, &s.Ports.History, &s.Ports.Matching, &s.Ports.Worker} {
		if *port != 0 {
			continue
		}
		free, err := FreePort(ip)
		if err != nil {
			return ClusterSpec{}, err
		}
		*port = free
	}
	return s, nil
}

// FrontendAddress is the address clients dial.
func (s ClusterSpec) FrontendAddress() string { return hostPort(s.IP, s.Ports.Frontend) }

// WriteClusterSpec saves s to path, readable by its owner only since the
// database URL may hold a password.
func WriteClusterSpec(path string, s ClusterSpec) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cluster spec: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write cluster spec: %w", err)
	}
	return nil
}

// ReadClusterSpec loads a spec saved by WriteClusterSpec.
func ReadClusterSpec(path string) (ClusterSpec, error) {
	var s ClusterSpec
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read cluster spec: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode cluster spec %s: %w", path, err)
	}
	return s, nil
}

// RunClusterService runs one service of the cluster s describes until ctx
// ends, then stops it. The schema must be set up (SetupPostgres).
func RunClusterService(ctx context.Context, s ClusterSpec, service string, logger *slog.Logger, level slog.Leveler) error {
	if !slices.Contains(ClusterServices, service) {
		return fmt.Errorf("run temporal service: unknown service %q, want one of %v", service, ClusterServices)
	}
	dbs, err := ParsePostgresURL(s.DatabaseURL)
	if err != nil {
		return err
	}
	dc := dynamicconfig.StaticClient{
		// Namespaces registered while running become usable within a second.
		dynamicconfig.NamespaceCacheRefreshInterval.Key(): time.Second,
		// The UI and the API list workflows; the default of 10/s throttles them.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	}
	for k, v := range s.DynamicConfig {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, port := range map[primitives.ServiceName]int{
		primitives.FrontendService: s.Ports.Frontend,
		primitives.HistoryService:  s.Ports.History,
		primitives.MatchingService: s.Ports.Matching,
		primitives.WorkerService:   s.Ports.Worker,
	} {
		h := static.Hosts{All: []string{hostPort(s.IP, port)}}
		if string(name) == service {
			h.Self = h.All[0]
		}
		hosts[name] = h
	}
	server, err := temporal.NewServer(
		temporal.WithConfig(clusterConfig(s, dbs)),
		temporal.ForServices([]string{service}),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(serverLogger{l: logger, min: level}),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return authorization.NewNoopClaimMapper()
		}),
		temporal.WithDynamicConfigClient(dc),
	)
	if err != nil {
		return fmt.Errorf("build temporal %s: %w", service, err)
	}
	if err := server.Start(); err != nil {
		return fmt.Errorf("start temporal %s: %w", service, err)
	}
	logger.InfoContext(ctx, "temporal service started", "service", service, "pid", os.Getpid())
	<-ctx.Done()
	if err := server.Stop(); err != nil {
		return fmt.Errorf("stop temporal %s: %w", service, err)
	}
	return nil
}

const (
	persistenceStore = "postgres-default"
	visibilityStore  = "postgres-visibility"
)

func clusterConfig(s ClusterSpec, dbs PostgresDatabases) *config.Config {
	service := func(port int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: s.IP}}
	}
	front := service(s.Ports.Frontend)
	front.RPC.HTTPPort = s.Ports.FrontendHTTP

	var c config.Config
	c.Global.Membership.MaxJoinDuration = 30 * time.Second
	c.Global.Membership.BroadcastAddress = s.IP
	c.Persistence.DefaultStore = persistenceStore
	c.Persistence.VisibilityStore = visibilityStore
	c.Persistence.NumHistoryShards = s.HistoryShards
	c.Persistence.DataStores = map[string]config.DataStore{
		persistenceStore: {SQL: dbs.Persistence},
		visibilityStore:  {SQL: dbs.Visibility},
	}
	c.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             s.FrontendAddress(),
				HTTPAddress:            hostPort(s.IP, s.Ports.FrontendHTTP),
				// Derived from the database, so every process, and every
				// restart, names the same cluster.
				ClusterID: uuid.NewSHA1(uuid.NameSpaceURL, []byte(dbs.Persistence.ConnectAddr+"/"+dbs.Persistence.DatabaseName)).String(),
			},
		},
	}
	c.DCRedirectionPolicy.Policy = "noop"
	c.Services = map[string]config.Service{
		string(primitives.FrontendService): front,
		string(primitives.HistoryService):  service(s.Ports.History),
		string(primitives.MatchingService): service(s.Ports.Matching),
		string(primitives.WorkerService):   service(s.Ports.Worker),
	}
	c.Archival.History.State = "disabled"
	c.Archival.Visibility.State = "disabled"
	c.NamespaceDefaults.Archival.History.State = "disabled"
	c.NamespaceDefaults.Archival.Visibility.State = "disabled"
	c.PublicClient.HostPort = s.FrontendAddress()
	return &c
}

// ConnectOptions configures ConnectTemporal.
type ConnectOptions struct {
	// Address is the frontend's gRPC address.
	Address string
	// Namespaces are registered (existing ones are left alone); default
	// {"default"}.
	Namespaces []string
	// UIIP and UIPort place the Web UI as in TemporalOptions; UIPort 0 picks
	// a free port, negative disables the UI.
	UIIP   string
	UIPort int
	// CodecEndpoint is the remote payload codec the Web UI calls, as in
	// TemporalOptions.
	CodecEndpoint string
}

// ConnectTemporal waits for a Temporal server it did not start (a cluster's
// frontend), registers the namespaces, returns once each accepts work, and
// serves the Web UI against it. Stop stops only the UI and the client.
func ConnectTemporal(ctx context.Context, o ConnectOptions) (*Temporal, error) {
	if len(o.Namespaces) == 0 {
		o.Namespaces = []string{defaultNamespace}
	}
	if o.UIIP == "" {
		o.UIIP = defaultIP
	}
	t := &Temporal{address: o.Address, logLevel: new(slog.LevelVar)}
	if err := t.connect(ctx, o.Namespaces[0], nil); err != nil {
		return nil, errors.Join(err, t.Stop())
	}
	for _, ns := range o.Namespaces {
		if err := t.RegisterNamespace(ctx, ns); err != nil {
			return nil, errors.Join(err, t.Stop())
		}
	}
	if o.UIPort < 0 {
		return t, nil
	}
	port := o.UIPort
	if port == 0 {
		free, err := FreePort(o.UIIP)
		if err != nil {
			return nil, errors.Join(err, t.Stop())
		}
		port = free
	}
	if err := t.startUI(ctx, o.UIIP, port, o.CodecEndpoint); err != nil {
		return nil, errors.Join(err, t.Stop())
	}
	return t, nil
}
