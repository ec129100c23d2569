// Command goplugin is the hashicorp/go-plugin side of the comparison:
// go-plugin v1.8.0 in its normal mode, gRPC over a Unix socket, with the
// service generated from internal/pb/echo.proto and gRPC's message limits
// raised (both ways, client and server) so that 64 MiB payloads pass, as
// a user moving large payloads must. Run with "child" (go-plugin's magic
// cookie set) it is the plugin; else it runs one scenario (see package
// harness).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/procwire/procwire-go/bench/compare/internal/harness"
	"github.com/procwire/procwire-go/bench/compare/internal/pb"
)

// maxMsg is the gRPC message limit both ways (its default is 4 MiB to
// receive): 64 MiB of payload plus room for the framing.
const maxMsg = 64<<20 + 1<<20

var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PROCWIRE_BENCH_PLUGIN",
	MagicCookieValue: "compare",
}

// Bench is the interface the plugin provides, as a go-plugin user
// declares it.
type Bench interface {
	Echo(ctx context.Context, in *pb.Small) (*pb.Small, error)
	EchoBytes(ctx context.Context, in []byte) ([]byte, error)
	Stream(ctx context.Context, count, size uint32) (pb.Bench_StreamClient, error)
}

// benchPlugin is the plugin.GRPCPlugin of Bench.
type benchPlugin struct {
	plugin.Plugin
	impl pb.BenchServer // the child's implementation; nil in the parent
}

func (p *benchPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterBenchServer(s, p.impl)
	return nil
}

func (p *benchPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return grpcBench{pb.NewBenchClient(cc)}, nil
}

var plugins = plugin.PluginSet{"bench": &benchPlugin{}}

// grpcBench is the parent's Bench, on the generated client.
type grpcBench struct{ c pb.BenchClient }

func (b grpcBench) Echo(ctx context.Context, in *pb.Small) (*pb.Small, error) {
	return b.c.Echo(ctx, in)
}

func (b grpcBench) EchoBytes(ctx context.Context, in []byte) ([]byte, error) {
	out, err := b.c.EchoBytes(ctx, &pb.Bytes{Data: in})
	if err != nil {
		return nil, err
	}
	return out.Data, nil
}

func (b grpcBench) Stream(ctx context.Context, count, size uint32) (pb.Bench_StreamClient, error) {
	return b.c.Stream(ctx, &pb.StreamRequest{Count: count, Size: size})
}

// server is the child's implementation of the generated service.
type server struct {
	pb.UnimplementedBenchServer
}

func (server) Echo(_ context.Context, in *pb.Small) (*pb.Small, error) { return in, nil }

func (server) EchoBytes(_ context.Context, in *pb.Bytes) (*pb.Bytes, error) { return in, nil }

func (server) Stream(in *pb.StreamRequest, s pb.Bench_StreamServer) error {
	if in.Size > 64<<20 {
		return fmt.Errorf("stream: chunk size %d exceeds 64 MiB", in.Size)
	}
	buf := make([]byte, in.Size)
	for i := range in.Count {
		harness.Fill(buf, byte(i))
		if err := s.Send(&pb.Bytes{Data: buf}); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	harness.Main(harness.Impl{Name: "go-plugin", Start: start}, child)
}

func child() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         plugin.PluginSet{"bench": &benchPlugin{impl: server{}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(maxMsg), grpc.MaxSendMsgSize(maxMsg))...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr}),
	})
}

type client struct {
	c     *plugin.Client
	b     Bench
	pid   int
	once  sync.Once
	small pb.Small
}

func start() (harness.Client, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          plugins,
		Cmd:              exec.Command(self, "child"),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)),
		},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr}),
	})
	rpc, err := c.Client()
	if err != nil {
		c.Kill()
		return nil, err
	}
	raw, err := rpc.Dispense("bench")
	if err != nil {
		c.Kill()
		return nil, err
	}
	s := harness.Sample
	return &client{
		c: c, b: raw.(Bench), pid: c.ReattachConfig().Pid,
		small: pb.Small{Id: s.ID, Name: s.Name, Tags: s.Tags, Score: s.Score, Enabled: s.Enabled, Note: s.Note},
	}, nil
}

func (c *client) EchoSmall() error {
	out, err := c.b.Echo(context.Background(), &c.small)
	if err != nil {
		return err
	}
	return harness.CheckSmall(out.Id, out.Name, out.Tags, out.Score, out.Enabled, out.Note)
}

func (c *client) EchoBytes(b []byte) ([]byte, error) {
	return c.b.EchoBytes(context.Background(), b)
}

func (c *client) Stream(count, size int, fn func(int, []byte) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.b.Stream(ctx, uint32(count), uint32(size))
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		chunk, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(i, chunk.Data); err != nil {
			return err
		}
	}
}

func (c *client) ChildPID() int { return c.pid }

// Close ends the plugin the way go-plugin does: Kill asks it to exit
// (gRPC's Controller.Shutdown), then waits for the process.
func (c *client) Close() error {
	c.once.Do(c.c.Kill)
	return nil
}
