package main

import (
	"context"

	"github.com/procwire/procwire-go"
)

// Thumbnail is the request and the response of thumbnail and
// thumbnailStrict: a request that does not decode into it is answered
// with the error procwire.CodeBadRequest (see README.md).
type Thumbnail struct {
	Width  int            `msgpack:"width"`
	Height uint8          `msgpack:"height"`
	Format string         `msgpack:"format"`
	Items  []ThumbItem    `msgpack:"items"`
	Meta   map[string]int `msgpack:"meta"`
}

// ThumbItem is an element of Thumbnail.Items.
type ThumbItem struct {
	Width int `msgpack:"width"`
}

// registerRequests registers the methods of the request-decoding contract:
// the same handler, lenient (unknown fields are dropped) and strict
// (unknown fields are refused).
func registerRequests(w *procwire.Worker) {
	echo := func(ctx context.Context, in Thumbnail) (Thumbnail, error) { return in, nil }
	procwire.Handle(w, "thumbnail", echo)
	procwire.Handle(w, "thumbnailStrict", echo, procwire.MethodOptions{Strict: true})
}

// registerRequestInfo registers requestInfo: the handler answers with the
// metadata procwire.RequestInfoFromContext gives it.
func registerRequestInfo(w *procwire.Worker) {
	procwire.Handle(w, "requestInfo", func(ctx context.Context, _ any) (map[string]any, error) {
		ri, ok := procwire.RequestInfoFromContext(ctx)
		if !ok {
			return nil, procwire.Errorf("E_NO_INFO", "no request metadata in the handler's context")
		}
		return map[string]any{"module": ri.Module, "method": ri.Method, "methodId": ri.MethodID, "id": ri.ID}, nil
	})
}
