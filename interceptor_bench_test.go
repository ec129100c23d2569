package procwire

import (
	"context"
	"strconv"
	"testing"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/wire"
)

// BenchmarkDispatchIntercepted is BenchmarkDispatch's sequential echo with
// n interceptors that wrap the handler and the send and only call next,
// and a handler that reads its RequestInfo: the cost of the machinery
// itself (BenchmarkDispatch is the same without it).
func BenchmarkDispatchIntercepted(b *testing.B) {
	pass := Interceptor(passThrough{})
	for _, n := range []int{0, 1, 3} {
		b.Run("interceptors="+strconv.Itoa(n), func(b *testing.B) {
			var ics []Interceptor
			for range n {
				ics = append(ics, pass)
			}
			nc := benchWorker(b, Options{Interceptors: ics}, func(w *Worker) {
				Handle(w, "echo", func(ctx context.Context, in smallObject) (smallObject, error) {
					if _, ok := RequestInfoFromContext(ctx); !ok {
						b.Error("no RequestInfo")
					}
					return in, nil
				})
			})
			payload, _ := codec.MsgPack.Marshal(small)
			frame := append(wire.Header{Method: 1, Length: uint32(len(payload))}.Append(nil), payload...)
			r := wire.NewReader(nc, 0, 0)
			var scratch []byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				wire.Header{Method: 1, RequestID: uint32(i + 1), Length: uint32(len(payload))}.Put(frame)
				if _, err := nc.Write(frame); err != nil {
					b.Fatal(err)
				}
				var err error
				if _, _, scratch, err = r.Next(scratch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type passThrough struct{}

func (passThrough) WrapHandler(next HandlerFunc) HandlerFunc {
	return func(ctx context.Context, req *Request, rw *ResponseWriter) error { return next(ctx, req, rw) }
}

func (passThrough) WrapSend(next SendFunc) SendFunc {
	return func(ctx context.Context, msg Message) error { return next(ctx, msg) }
}
